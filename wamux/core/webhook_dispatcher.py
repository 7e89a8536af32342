"""Delivers the webhook outbox: in order per target, with retries, never losing a row.

One dispatcher follows the outbox by `seq` and hands each pending row to its lane, one per
(instance, target). A lane delivers one row at a time (a later event waits while an earlier one is
retried) and records the result in the target's webhook stream (it is that stream's only writer).
A dead target retries in its own lane and delays no other; all lanes share one bounded pool of
connections (the `WebhookPoster` port: this module speaks no HTTP library). Rows stay `pending`
until their result is recorded: a crash means "deliver again" (at-least-once, same `X-Webhook-Id`).

After a target's config event (URL, disabled, removed) or a replay, the use case calls `reset_lane`:
a retry wait is cancelled (a POST on the wire may finish), the lane's queue and attempts are dropped,
and it is refilled from the outbox, where the projection has moved its rows already. A delivery that
cannot be sent fails alone; an unexpected error is logged and retried after a back-off
(`wamux.core.supervision`), never ending the server.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import trio

from wamux.core.ports import BackendHandle, EventStore, WebhookPoster
from wamux.core.projection_runner import ProjectionRunner
from wamux.core.supervision import forever, until_done
from wamux.domain.catalog import WEBHOOK_TEST_EVENT
from wamux.domain.clock import Clock, iso_ms
from wamux.domain.events import DomainEvent, RecordedEvent, WebhookDelivered, WebhookFailed
from wamux.domain.webhook_targets import body_bytes, delivery_headers
from wamux.logs import get_logger
from wamux.projections.outbox import DELIVERIES, lane_filters, webhook_id_of, webhook_stream_id
from wamux.projections.ports import Query, ReadModelStore

T = TypeVar("T")
LaneKey = tuple[str, str]  # (instance id, webhook id)
log = get_logger("wamux.webhooks")

BATCH = 500


@dataclass
class Attempt:
    """What the last try of a delivery gave (kept in memory while the row is pending)."""

    attempts: int = 0
    status_code: int | None = None
    error: str | None = None
    next_attempt_ms: int | None = None
    lane: LaneKey = ("", "")


@dataclass
class Lane:
    """One target's queue, in `seq` order, and the writer state of its webhook stream."""

    instance_id: str
    webhook_id: str
    queue: deque[dict[str, Any]] = field(default_factory=deque)
    wake: trio.Event = field(default_factory=trio.Event)
    lock: trio.Lock = field(default_factory=trio.Lock)
    version: int | None = None
    scope: trio.CancelScope | None = None  # the row being handled now (None between rows)
    done: trio.Event = field(default_factory=trio.Event)  # set once the row being handled is finished with
    current: str | None = None
    posting: bool = False  # a POST is on the wire: a reset lets it finish (its answer is recorded)
    resetting: int = 0  # resets under way: the lane takes no row meanwhile

    @property
    def key(self) -> LaneKey:
        return (self.instance_id, self.webhook_id)

    @property
    def stream_id(self) -> str:
        return webhook_stream_id(self.instance_id, self.webhook_id)

    def push(self, rows: Iterable[dict[str, Any]]) -> None:
        self.queue.extend(rows)
        self.wake.set()


class WebhookDispatcher:
    """Follows the outbox and delivers it; records retries and replays in a target's stream; test sends."""

    def __init__(
        self,
        store: EventStore,
        backend: BackendHandle,
        outbox_runner: ProjectionRunner,
        clock: Clock,
        *,
        is_live: Callable[[str], bool],
        poster: WebhookPoster,
        trusted: Callable[[str], bool] = lambda instance_id: False,
        limiter: trio.CapacityLimiter | None = None,
    ) -> None:
        self.store = store
        self.backend = backend
        self.runner = outbox_runner
        self.clock = clock
        self.is_live = is_live
        self.trusted = trusted  # instance id -> may its deliveries reach private addresses (owner is an admin)
        self.poster = poster
        self.limiter = limiter or trio.CapacityLimiter(8)
        self.lanes: dict[LaneKey, Lane] = {}
        self.live: dict[str, Attempt] = {}
        self._nursery: trio.Nursery | None = None
        self.opened = trio.Event()  # set once pending rows are dispatched (after the outbox caught up at start)
        # Held while rows are read and handed to lanes: a lane reset never interleaves with a handover.
        self._handover = trio.Lock()
        self._legacy_swept = False
        self.seen = 0  # outbox `seq` handed to lanes so far (kept across a supervised restart)
        self.delivered = 0
        self.failed = 0
        self.retried = 0
        self.errors = 0  # unexpected errors the supervising loops caught (dispatcher and lanes)
        self.observe_latency: Callable[[float], None] = lambda seconds: None  # set by the metrics

    # ---- following the outbox -----------------------------------------------------------

    async def run(
        self,
        *,
        opening: Callable[[], Awaitable[object]] | None = None,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Hand every pending row to its lane, forever; the lanes live in this task's nursery.

        `opening` is awaited before the first row is handed over (the outbox catching up with a big log at
        start: until then rows are pending that were delivered already). Lanes, replays and test sends work
        meanwhile; a lane reset before opening has nothing to refill (the opening reads every pending row).
        """
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            if opening is not None:
                await opening()
            self.opened.set()
            await forever(self._dispatch, what="webhook dispatcher", on_error=self._count_error)

    async def _dispatch(self) -> None:
        position = self.runner.position  # before reading: an advance during the read wakes the wait below
        async with self._handover:
            if not self._legacy_swept:
                for row in await self._call(_legacy_pending):
                    self._lane(row["instanceId"], webhook_id_of(row)).push([row])
                self._legacy_swept = True
            seen = self.seen
            rows = await self._call(lambda rm: _pending_after(rm, seen))
            for row in rows:
                self._lane(row["instanceId"], webhook_id_of(row)).push([row])
                self.seen = max(self.seen, int(row["seq"]))
        if len(rows) < BATCH:
            await self.runner.wait_for(position + 1, timeout=math.inf)

    def _count_error(self, exc: Exception) -> None:
        self.errors += 1

    async def _call(self, fn: Callable[[ReadModelStore], T]) -> T:
        """Run `fn` on the current read models in a worker thread, holding a lease on the backend."""
        with self.backend.lease():
            rm = self.backend.read_models
            return await trio.to_thread.run_sync(fn, rm, limiter=self.limiter)

    def _lane(self, instance_id: str, webhook_id: str) -> Lane:
        lane = self.lanes.get((instance_id, webhook_id))
        if lane is None:
            lane = Lane(instance_id, webhook_id)
            self.lanes[lane.key] = lane
            assert self._nursery is not None
            self._nursery.start_soon(self._run_lane, lane)
        return lane

    async def _run_lane(self, lane: Lane) -> None:
        # One row at a time, each until handled: a failing row is retried in place, so order is kept.
        while True:
            if not lane.queue or lane.resetting:
                lane.wake = trio.Event()
                await lane.wake.wait()
                continue
            row = lane.queue.popleft()
            lane.done, lane.current = trio.Event(), row["id"]
            try:
                with trio.CancelScope() as lane.scope:
                    await until_done(
                        partial(self._handle, lane, row),
                        what="webhook lane",
                        on_error=partial(self._lane_error, lane),
                        instance_id=lane.instance_id,
                        webhook_id=lane.webhook_id,
                        delivery_id=row.get("id"),
                    )
            finally:
                lane.scope, lane.current = None, None
                lane.done.set()

    def _lane_error(self, lane: Lane, exc: Exception) -> None:
        self.errors += 1
        lane.version = None  # read the stream's version again: a failed append may have left it stale

    async def _handle(self, lane: Lane, row: dict[str, Any]) -> None:
        if not self.is_live(lane.instance_id):
            await self._record_failure(lane, row, attempts=0, error="instance deleted")
            return
        await self._deliver(lane, row)

    async def reset_lane(self, instance_id: str, webhook_id: str) -> None:
        """After a target's config event (or a replay) is recorded: deliver its pending rows as they are now.

        Cancels the current try or retry wait, drops the queue and the in-memory attempts, and refills
        the lane from the outbox in `seq` order (the rows handed over later join behind them).
        """
        if not self.opened.is_set():
            return  # nothing handed over yet: the opening reads every pending row as it is then
        lane = self._lane(instance_id, webhook_id)
        lane.resetting += 1
        try:
            if lane.scope is not None:
                if not lane.posting:  # a POST on the wire finishes: a delivered row must not go twice
                    lane.scope.cancel()
                await lane.done.wait()
            async with self._handover:  # no row is handed over while the lane is read again
                for key in [k for k, a in self.live.items() if a.lane == lane.key]:
                    del self.live[key]
                # The config event, and the result the last try recorded, are in the outbox first.
                await self.runner.wait_for(self.store.head(), timeout=10)
                seen = self.seen
                rows = await self._call(lambda rm: _lane_pending(rm, instance_id, webhook_id, seen))
                lane.queue.clear()
                lane.queue.extend(rows)
        finally:
            lane.resetting -= 1
            lane.wake.set()

    # ---- delivering -----------------------------------------------------------------------

    async def _deliver(self, lane: Lane, row: dict[str, Any]) -> None:
        state = self.live.setdefault(row["id"], Attempt(lane=lane.key))
        total = 1 + int(row.get("maxRetries", 3))
        interval_s = int(row.get("retryInterval", 60000)) / 1000
        trusted = self.trusted(lane.instance_id)
        # From the state, not None: a lane that retries this row after a failed `_record` keeps the last answer.
        status_code, error = state.status_code, state.error
        while state.attempts < total:
            if lane.resetting:
                return  # a reset refills the lane with this row as the outbox has it now
            state.attempts += 1
            # A malformed row (stored by an older version) must reach the poster, which fails it, not stop the lane.
            headers = row.get("headers")
            if isinstance(headers, dict):
                headers = {**headers, "X-Webhook-Attempt": str(state.attempts)}
            lane.posting = True
            try:
                outcome = await self.poster.post(row.get("url"), headers, row.get("body"), trusted=trusted)
            finally:
                lane.posting = False
            status_code, error, latency = outcome.status_code, outcome.error, outcome.latency_ms
            state.status_code, state.error = status_code, error
            if error is None:
                self.delivered += 1
                self.observe_latency(latency / 1000)
                delivered = WebhookDelivered(
                    instance_id=lane.instance_id,
                    delivery_id=row["id"],
                    event_type=row["event"],
                    status_code=status_code or 0,
                    attempts=state.attempts,
                    latency_ms=round(latency, 2),
                    webhook_id=lane.webhook_id,
                    seq=row.get("seq"),
                )
                with trio.CancelScope(shield=True):  # once delivered, the result is recorded whatever comes
                    await self._record(lane, [delivered], until_shown=False)
                self.live.pop(row["id"], None)
                return
            if lane.resetting:
                return  # failed, and a reset is under way: the row goes again with its new config
            if outcome.final:
                break
            if state.attempts < total:
                self.retried += 1
                delay = interval_s * random.uniform(0.9, 1.1)
                state.next_attempt_ms = self.clock.now_ms() + int(delay * 1000)
                await trio.sleep(delay)
        self.failed += 1
        log.warning(
            "webhook delivery failed",
            instance_id=lane.instance_id,
            webhook_id=lane.webhook_id,
            delivery_id=row["id"],
            attempts=state.attempts,
            error=error,
        )
        await self._record_failure(lane, row, attempts=state.attempts, error=error, status_code=status_code)
        self.live.pop(row["id"], None)

    async def _record_failure(
        self, lane: Lane, row: dict[str, Any], *, attempts: int, error: str | None, status_code: int | None = None
    ) -> None:
        event = WebhookFailed(
            instance_id=lane.instance_id,
            delivery_id=row["id"],
            event_type=row["event"],
            attempts=attempts,
            status_code=status_code,
            error=error,
            webhook_id=lane.webhook_id,
            seq=row.get("seq"),
        )
        await self._record(lane, [event], until_shown=False)

    async def _record(
        self, lane: Lane, events: Sequence[DomainEvent], *, until_shown: bool = True
    ) -> list[RecordedEvent]:
        """Append to the lane's stream (in one transaction); then wait until the outbox shows it (`until_shown`).

        A lane does not wait for its own results: the dispatcher hands a row over once per `seq`, and a
        reset waits for the outbox to catch up before it refills the lane.
        """
        async with lane.lock:
            try:
                if lane.version is None:
                    lane.version = await self.store.stream_version(lane.stream_id)
                recorded = await self.store.append(lane.stream_id, events, lane.version)
            except BaseException:
                lane.version = None
                raise
            lane.version = recorded[-1].version
        if until_shown:  # a route answers with what it did
            await self.runner.wait_for(recorded[-1].position, timeout=10)
        return recorded

    # ---- routes ---------------------------------------------------------------------------

    async def record(self, instance_id: str, webhook_id: str, events: Sequence[DomainEvent]) -> list[RecordedEvent]:
        """Record events in a target's webhook stream through its lane (a replay: all in one append)."""
        return await self._record(self._lane(instance_id, webhook_id), events)

    async def test(self, instance_id: str, webhook_id: str, conf: dict[str, Any]) -> dict[str, Any]:
        """Send a `test` event to a target's URL now (not through the outbox) and report what the receiver said.

        The use case checks the URL first (400 `url_not_allowed` before any connection); the client's
        connect-time check still applies.
        """
        now = self.clock.now_ms()
        body = body_bytes(WEBHOOK_TEST_EVENT, {"instanceId": instance_id, "message": "wamux webhook test"}, now)
        headers = delivery_headers(conf, WEBHOOK_TEST_EVENT, f"test-{now}", webhook_id, body)
        headers["X-Webhook-Attempt"] = "1"
        outcome = await self.poster.post(conf.get("url"), headers, body, trusted=self.trusted(instance_id))
        return {
            "success": outcome.error is None,
            "statusCode": outcome.status_code,
            "latencyMs": round(outcome.latency_ms, 2),
            "error": outcome.error,
            "timestamp": iso_ms(now),
        }

    def attempt_of(self, delivery_id: str) -> Attempt | None:
        return self.live.get(delivery_id)

    def lane_attempt(self, instance_id: str, webhook_id: str) -> Attempt | None:
        """The attempts of the row a lane is retrying now (None while it is idle or has not failed yet)."""
        lane = self.lanes.get((instance_id, webhook_id))
        state = self.live.get(lane.current) if lane is not None and lane.current else None
        return state if state is not None and state.error is not None else None

    async def aclose(self) -> None:
        await self.poster.aclose()


def _pending_after(rm: ReadModelStore, seq: int) -> list[dict[str, Any]]:
    query = Query(where={"status": "pending"}, ranges={"seq": (seq + 1, None)}, order=(("seq", False),), limit=BATCH)
    return rm.find(DELIVERIES, query)


def _legacy_pending(rm: ReadModelStore) -> list[dict[str, Any]]:
    """Pending rows written before `seq` existed (they belong to the default target), oldest first."""
    return rm.find(DELIVERIES, Query(where={"status": "pending", "seq": None}, order=(("position", False),)))


def _lane_pending(rm: ReadModelStore, instance_id: str, webhook_id: str, seen: int) -> list[dict[str, Any]]:
    """One lane's pending rows the dispatcher has handed over so far (`seq` up to `seen`), in order."""
    legacy: list[dict[str, Any]] = []
    ordered: list[dict[str, Any]] = []
    for where in lane_filters(instance_id, webhook_id):
        pending = {**where, "status": "pending"}
        legacy += rm.find(DELIVERIES, Query(where={**pending, "seq": None}))
        ordered += rm.find(DELIVERIES, Query(where=pending, ranges={"seq": (None, seen)}, order=(("seq", False),)))
    return sorted(legacy, key=lambda r: int(r.get("position") or 0)) + sorted(ordered, key=lambda r: int(r["seq"]))
