"""Runs one projection: follows the event log in order and saves rows with their position.

eventsourcing's SQLite recorder cannot `subscribe()`, so the runner pulls from its tracked
position and sleeps on the store's in-process "appended" signal: no polling delay, and the
same code for every backend. Rows and position go in one transaction: a crash never skips
or double-applies an event.

A projection that fails on a batch stops there, alone: its error is logged and kept
(`ProjectionRunner.error`, the `wamux_projection_stalled` metric), and the same batch is
tried again after a capped back-off, while the other projections go on. Nothing is skipped.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager, asynccontextmanager
from typing import TypeVar

import trio

from wamux.core.ports import Backend, BackendHandle, EventStore
from wamux.core.supervision import Backoff, forever
from wamux.domain.events import RecordedEvent
from wamux.logs import get_logger
from wamux.projections.ports import Projection, ReadModelStore, ReadSession

T = TypeVar("T")
log = get_logger("wamux.projections")

BATCH = 1000


class ProjectionRunner:
    """Keeps one projection's read model up to date with the log."""

    def __init__(
        self,
        projection: Projection,
        store: EventStore,
        backend: BackendHandle,
        limiter: trio.CapacityLimiter,
    ) -> None:
        self.projection = projection
        self.store = store
        self.backend = backend  # its read models are `backend.read_models`, looked up at each use
        self.limiter = limiter
        self.position = 0
        self._advanced = trio.Event()
        self.error: str | None = None  # why the last batch failed; None while healthy
        self.failures = 0  # failed batches since start
        self.retry_at = -math.inf  # trio time before which a failed runner is not tried again
        self.backoff = Backoff(initial_s=0.5, max_s=60.0)

    @property
    def name(self) -> str:
        return self.projection.name

    def due(self, now: float) -> bool:
        """Whether this runner takes part in the next batch (healthy, or its back-off is over)."""
        return self.error is None or now >= self.retry_at

    def failed(self, exc: Exception) -> None:
        """Record a failed batch: the position stays, the batch is tried again after the back-off."""
        self.failures += 1
        self.error = f"{type(exc).__name__}: {exc}"[:500]
        delay = self.backoff.next_delay()
        self.retry_at = trio.current_time() + delay
        log.error(
            "projection failed; it stays at its position and tries again",
            projection=self.name,
            position=self.position,
            error=self.error,
            retry_in_s=round(delay, 2),
        )

    def recovered(self) -> None:
        if self.error is not None:
            log.info("projection recovered", projection=self.name, position=self.position, failures=self.failures)
            self.error = None
            self.backoff.reset()

    async def _call(self, fn: Callable[[ReadModelStore], T]) -> T:
        """Run `fn` on the current read models in a worker thread, holding a lease on the backend."""
        with self.backend.lease():
            rm = self.backend.read_models
            return await trio.to_thread.run_sync(fn, rm, limiter=self.limiter)

    async def prepare(self) -> None:
        await self._call(lambda rm: rm.ensure(self.projection.collections))
        self.position = await self._call(lambda rm: rm.position(self.name))

    async def catch_up(self, progress: object | None = None) -> int:
        """Apply every event up to the current head; returns how many were applied."""
        applied = 0
        while True:
            head = self.store.head()
            if head <= self.position:
                return applied
            events = await self.store.read_all(self.position, BATCH, self.projection.topics)
            if events:
                await self._apply(events)
                applied += len(events)
                if callable(progress):
                    progress(self.position)
            if len(events) < BATCH:
                # Nothing of interest between here and `head` (events past it wait for the next round).
                self._advance(max(self.position, head))

    async def _apply(self, events: list[RecordedEvent]) -> None:
        last = events[-1].position
        projection = self.projection

        def work(session: ReadSession) -> None:
            for event in events:
                projection.apply(session, event)

        await self._call(lambda rm: rm.apply(self.name, last, work))
        self._advance(last)

    def move_to(self, position: int) -> None:
        """Take over a position reached elsewhere (the store switch), waking readers that wait."""
        self.position = position
        self._advanced.set()
        self._advanced = trio.Event()

    def _advance(self, position: int) -> None:
        if position > self.position:
            self.position = position
            self._advanced.set()
            self._advanced = trio.Event()

    async def wait_for(self, position: int, timeout: float = 5.0) -> bool:
        """Wait until this read model reflects `position`; False on timeout (answer with what is there)."""
        with trio.move_on_after(timeout):
            while self.position < position:
                await self._advanced.wait()
            return True
        return False

    async def rebuild(self, progress: object | None = None) -> int:
        """Throw the read model away and build it again from the whole log."""
        await self._call(lambda rm: rm.reset(self.name, self.projection.collections))
        self.position = 0
        return await self.catch_up(progress)


class ReadModels:
    """All projection runners, and the 'wait until reads see the log's head' helper routes use."""

    def __init__(self, runners: list[ProjectionRunner], store: EventStore, backend: BackendHandle) -> None:
        self.runners = {r.name: r for r in runners}
        self.store = store
        self.backend = backend
        self._batch = trio.Lock()

    @property
    def rm(self) -> ReadModelStore:
        """The current read-model store (a store switch replaces it)."""
        return self.backend.read_models

    def lease(self) -> AbstractContextManager[Backend]:
        """Hold the current backend open while a worker thread reads it."""
        return self.backend.lease()

    async def synced(self, *names: str, timeout: float = 5.0) -> None:
        """Read-your-writes: wait until the named (or all) read models reached the current head."""
        head = self.store.head()
        for name in names or tuple(self.runners):
            runner = self.runners[name]
            if runner.error is None:  # a failing projection will not catch up in time: answer with what is there
                await runner.wait_for(head, timeout)

    def lag(self) -> dict[str, int]:
        head = self.store.head()
        return {name: max(0, head - r.position) for name, r in self.runners.items()}

    def stalled(self) -> dict[str, str]:
        """Projections whose last batch failed (name -> error); they retry on their own."""
        return {name: r.error for name, r in self.runners.items() if r.error is not None}

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Follow the log for every projection with ONE reader: each batch is read and decoded once
        and handed to every runner that wants some of it (each saves its rows in its own transaction).
        Supervised: an error (say, the store cannot be read) is logged and retried after a back-off.
        """
        for runner in self.runners.values():
            await runner.prepare()
        started = False

        def start() -> None:
            nonlocal started
            if not started:
                started = True
                task_status.started()

        async def step() -> None:
            await self.follow()
            start()
            await self._wait_for_work()

        # A catch-up that fails at start does not hold the server back: the loop keeps retrying it.
        await forever(step, what="projections", on_error=lambda exc: start())

    async def _wait_for_work(self) -> None:
        """Sleep until the log grows past a healthy runner, or a failed runner's back-off is over."""
        now = trio.current_time()
        runners = list(self.runners.values())
        retry_at = min((r.retry_at for r in runners if not r.due(now)), default=math.inf)
        with trio.move_on_at(retry_at):
            ready = [r.position for r in runners if r.due(now)]
            if ready:
                await self.store.wait_beyond(min(ready))
            else:
                await trio.sleep_forever()

    async def follow(self) -> None:
        """Bring every runner that is due up to the current head (a failing one stays where it failed)."""
        runners = list(self.runners.values())
        wanted = {r.name: frozenset(r.projection.topics) for r in runners}
        while True:
            # One batch at a time under the lock: `hold()` (the store switch) never sees a batch
            # half applied, nor a batch read from one store applied to the other's read models.
            async with self._batch:
                now = trio.current_time()
                due = [r for r in runners if r.due(now)]
                head = self.store.head()
                if not due or min(r.position for r in due) >= head:
                    return
                events = await self.store.read_all(min(r.position for r in due), BATCH)
                last = events[-1].position if events else head
                for runner in due:
                    topics = wanted[runner.name]
                    mine = [e for e in events if e.position > runner.position and (not topics or e.type in topics)]
                    try:
                        if mine:
                            await runner._apply(mine)
                    except Exception as exc:  # this runner's supervisor: only it stops, and only until the retry
                        runner.failed(exc)
                        continue
                    runner.recovered()
                    runner._advance(last)

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        """No batch is being applied while this is held (the follower waits)."""
        async with self._batch:
            yield
