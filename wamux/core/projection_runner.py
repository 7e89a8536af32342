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

import functools
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractContextManager, asynccontextmanager
from typing import TypedDict, TypeVar

import trio

from wamux.core.catching_up import CatchUps
from wamux.core.ports import Backend, BackendHandle, EventStore
from wamux.core.supervision import Backoff, forever
from wamux.domain.events import RecordedEvent
from wamux.logs import get_logger
from wamux.projections.ports import Projection, ReadModelStore, ReadSession

T = TypeVar("T")
log = get_logger("wamux.projections")

BATCH = 1000


class ReadModelState(TypedDict):
    """One read model as `/api/health` shows it."""

    position: int
    lag: int
    catchingUp: bool


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
        self.saved = 0  # the position last written with the read model (the shared reader writes idle ones late)
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
        self.position = self.saved = await self._call(lambda rm: rm.position(self.name))

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
        work = self._work(events)
        await self._call(lambda rm: rm.apply(self.name, last, work))
        self._advance(last)
        self.saved = last

    def _work(self, events: list[RecordedEvent]) -> Callable[[ReadSession], None]:
        """What applying `events` does to the read model, for the store to run in its transaction."""
        apply = self.projection.apply

        def work(session: ReadSession) -> None:
            for event in events:
                apply(session, event)

        return work

    def move_to(self, position: int) -> None:
        """Take over a position reached elsewhere (the store switch), waking readers that wait."""
        self.position = self.saved = position
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
        self.position = self.saved = 0
        return await self.catch_up(progress)


def _reset(projection: Projection, rm: ReadModelStore) -> None:
    rm.reset(projection.name, projection.collections)


def _nothing(session: ReadSession) -> None:
    """The work of a runner with no event in the batch: only its position is recorded."""


class ReadModels:
    """All projection runners, and the 'wait until reads see the log's head' helper routes use."""

    def __init__(
        self,
        runners: list[ProjectionRunner],
        store: EventStore,
        backend: BackendHandle,
        *,
        first: Sequence[str] = (),
        catch_up_wait_s: float = 2.0,
    ) -> None:
        self.runners = {r.name: r for r in runners}
        self.store = store
        self.backend = backend
        self._batch = trio.Lock()
        # Read models of rare topics (users, instances, ...): when they start far behind, each catches up
        # first with a topic-filtered read, and is kept at the head that way while the others catch up.
        self.first = tuple(name for name in first if name in self.runners and self.runners[name].projection.topics)
        self.catch_up_wait_s = catch_up_wait_s  # how long a read waits for a model catching up, then 503
        self.catch_ups = CatchUps(threshold=BATCH)

    @property
    def rm(self) -> ReadModelStore:
        """The current read-model store (a store switch replaces it)."""
        return self.backend.read_models

    def lease(self) -> AbstractContextManager[Backend]:
        """Hold the current backend open while a worker thread reads it."""
        return self.backend.lease()

    async def synced(self, *names: str, timeout: float = 5.0) -> None:
        """Read-your-writes: wait until the named (or all) read models reached the current head.

        A model catching up (`wamux.core.catching_up`) is waited for at most `catch_up_wait_s`, then
        `CatchingUp` is raised: never rows older than the head. Otherwise a read waits up to `timeout` and
        answers with what is there (a failing projection is not waited for).
        """
        head = self.store.head()
        deadline = trio.current_time() + min(timeout, self.catch_up_wait_s)
        for name in names or tuple(self.runners):
            runner = self.runners[name]
            if self.catching_up(name):
                bound = max(0.0, deadline - trio.current_time())
                if runner.error is None and await runner.wait_for(head, bound):
                    continue
                catch_up = self.catch_ups.get(name, runner.position, trio.current_time())
                if catch_up is not None:
                    raise catch_up.behind(runner.position, head, trio.current_time())
            if runner.error is None:  # a failing projection will not catch up in time: answer with what is there
                await runner.wait_for(head, timeout)

    async def take_positions(self) -> None:
        """For a node that reads these read models while another writes them (cluster mode: the holder of
        the projections lease): learn how far the writer got, in one read, and wake the reads waiting for it."""
        any_runner = next(iter(self.runners.values()))
        positions = await any_runner._call(lambda rm: rm.positions())
        for name, runner in self.runners.items():
            runner._advance(positions.get(name, 0))

    def catching_up(self, name: str) -> bool:
        """Whether the read model started this run far behind and has not yet reached the head it saw then."""
        return self.catch_ups.get(name, self.runners[name].position, trio.current_time()) is not None

    async def caught_up(self, name: str) -> None:
        """Wait until the read model is no longer catching up (at once if it never was)."""
        catch_up = self.catch_ups.active.get(name)
        if catch_up is not None:
            await self.runners[name].wait_for(catch_up.target, timeout=math.inf)
            self.catching_up(name)  # notes that it finished

    def states(self) -> dict[str, ReadModelState]:
        """Each read model's position, lag behind the log's head and whether it is catching up."""
        head = self.store.head()
        return {
            name: {"position": r.position, "lag": max(0, head - r.position), "catchingUp": self.catching_up(name)}
            for name, r in self.runners.items()
        }

    def lag(self) -> dict[str, int]:
        return {name: state["lag"] for name, state in self.states().items()}

    def stalled(self) -> dict[str, str]:
        """Projections whose last batch failed (name -> error); they retry on their own."""
        return {name: r.error for name, r in self.runners.items() if r.error is not None}

    async def run(
        self,
        *,
        begin: Callable[[], Awaitable[object]] | None = None,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Follow the log for every projection with ONE reader: each batch is read and decoded once
        and handed to every runner that wants some of it. Supervised: an error (say, the store cannot
        be read) is logged and retried after a back-off.

        Reports started as soon as every runner read its position: a model far behind the log catches
        up in the background (the `first` ones at once, by topic-filtered reads; the others once `begin`
        returns, say when the server serves) while the server serves; reads of a model still catching
        up wait a bound, or answer `CatchingUp`.
        """
        for runner in self.runners.values():
            await runner.prepare()
        head = self.store.head()
        positions = {name: r.position for name, r in self.runners.items()}
        behind = self.catch_ups.begin(positions, head, trio.current_time())
        if behind:
            log.info("read models are catching up with the log", read_models=",".join(behind), head=head)
        else:  # a small lag (say, after a kill): caught up before serving, as a restart always did
            try:
                await self.follow()
            except Exception as exc:  # the loop below retries it; the server starts all the same
                log.error("projections could not catch up at start; retrying", error=repr(exc))
        task_status.started()

        async def step() -> None:
            await self.follow()
            await self._wait_for_work()

        async with trio.open_nursery() as nursery:
            if behind:
                await nursery.start(self._keep_first_at_head, [self.runners[name] for name in self.first])
                if begin is not None:
                    await begin()  # the big catch-up takes the event loop's time: not before the server serves
                    self.catch_ups.restart_clock(
                        {name: r.position for name, r in self.runners.items()}, trio.current_time()
                    )
            await forever(step, what="projections")

    async def _keep_first_at_head(
        self, runners: list[ProjectionRunner], *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """While any read model catches up, keep the `first` ones at the head with their own topic-filtered
        reads (the shared reader reaches new events only after the big models walked the whole log); then
        log how long each model took, and end (the shared reader keeps them all from then on)."""
        await self._bring_up(runners)
        task_status.started()
        while any(self.catching_up(name) for name in self.runners):
            now = trio.current_time()
            with trio.move_on_after(0.5):  # and look again whether the catching up is over
                ready = [r.position for r in runners if r.due(now)]
                if ready:
                    await self.store.wait_beyond(min(ready))
                else:
                    await trio.sleep_forever()
            await self._bring_up(runners)
        log.info("read models caught up with the log", **{f"{n}_s": s for n, s in self.catch_ups.finished.items()})

    async def _bring_up(self, runners: list[ProjectionRunner]) -> None:
        """Catch the due `runners` up to the head with ONE read filtered on all their topics (the topic index
        finds rare events without walking the log), a batch at a time through `_step`: the shared reader
        then sees them moved, and skips what they applied."""
        topics = sorted(frozenset().union(*(r.projection.topics for r in runners)))
        while await self._step(runners, topics) is not None:
            pass

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
        while await self._step(runners) is not None:
            pass

    async def rebuild(
        self, names: Sequence[str] | None = None, progress: Callable[[int], None] | None = None
    ) -> dict[str, int]:
        """Throw the named (or all) read models away and build them again from the whole log, together:
        each batch is read once and applied to all of them in one read-model transaction.

        `progress` gets the position reached after each batch. Returns how many events each one
        applied; a projection that fails stops the rebuild with its error (what is done stays done).
        """
        chosen = [self.runners[name] for name in (names if names is not None else list(self.runners))]
        applied = {runner.name: 0 for runner in chosen}
        for runner in chosen:
            await runner.prepare()
        async with self._batch:
            for runner in chosen:
                await runner._call(functools.partial(_reset, runner.projection))
                runner.position = runner.saved = 0
        while (step := await self._step(chosen)) is not None:
            counts, failed = step
            for name, count in counts.items():
                applied[name] += count
            if failed:
                raise next(iter(failed.values()))
            if callable(progress):
                progress(min(runner.position for runner in chosen))
        return applied

    async def _step(
        self, runners: list[ProjectionRunner], topics: Sequence[str] = ()
    ) -> tuple[dict[str, int], dict[str, Exception]] | None:
        """Read the next batch of the log once and apply it to every due runner of `runners`, all in ONE
        read-model transaction (one worker-thread hop). Answers how many events each runner applied and
        which ones failed (marked `failed`: they stay before the batch and retry after their back-off;
        the others advance), or None when no due runner is behind the head.

        With `topics` (runners of rare topics only) the batch is read through the topic index.
        """
        # One batch at a time under the lock: `hold()` (the store switch) never sees a batch
        # half applied, nor a batch read from one store applied to the other's read models.
        async with self._batch:
            now = trio.current_time()
            due = [r for r in runners if r.due(now)]
            head = self.store.head()
            if not due or min(r.position for r in due) >= head:
                return None
            events = await self.store.read_all(min(r.position for r in due), BATCH, topics, rare=bool(topics))
            if topics:  # fewer than a batch: nothing else of interest up to `head` (later ones: the next round)
                last = events[-1].position if len(events) == BATCH else max(head, events[-1].position if events else 0)
            else:  # the whole log: the last event read is where every runner is now
                last = events[-1].position if events else head
            counts: dict[str, int] = {}
            items: list[tuple[str, int, Callable[[ReadSession], None]]] = []
            for runner in due:
                wanted = frozenset(runner.projection.topics)
                mine = [e for e in events if e.position > runner.position and (not wanted or e.type in wanted)]
                counts[runner.name] = len(mine)
                # A runner with nothing in this batch records its position only once it moved a batch's worth
                # (its savepoint and position write cost as much as a small batch's rows): a restart then
                # skips at most one batch of events it does not want.
                if mine or last - runner.saved >= BATCH:
                    items.append((runner.name, last, runner._work(mine) if mine else _nothing))
            failed: dict[str, Exception] = {}
            if items:
                try:
                    failed = await due[0]._call(lambda rm: rm.apply_all(items))
                except Exception as exc:  # the transaction as a whole failed: every runner retries
                    failed = dict.fromkeys(counts, exc)
            for runner in due:
                error = failed.get(runner.name)
                if error is not None:  # this runner's supervisor: only it stops, and only until the retry
                    runner.failed(error)
                    counts[runner.name] = 0
                    continue
                runner.recovered()
                runner._advance(last)
                if any(name == runner.name for name, _, _ in items):
                    runner.saved = last
            return counts, failed

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        """No batch is being applied while this is held (the follower waits)."""
        async with self._batch:
            yield
