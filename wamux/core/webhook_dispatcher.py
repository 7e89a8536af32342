"""Delivers the webhook outbox: in event order per instance, with retries, never losing a row.

One dispatcher follows the outbox read model by position and hands each pending row to its
instance's lane. A lane delivers one row at a time (a later event waits while an earlier
one is retried), then records the result as an event in the instance's webhook stream (the
lane is that stream's only writer). Rows stay `pending` in the durable outbox until their
result is recorded, so a crash means "deliver again" (at-least-once, same `X-Webhook-Id`).
The POSTs go through the `WebhookPoster` port (`wamux.adapters.webhook_http`: pooled clients
behind the outbound guard of §8), so this module speaks no HTTP library.

A delivery that cannot be sent (a refused address, a header or URL that cannot go on the
wire) fails that delivery; an unexpected error in the dispatcher or a lane is logged and
retried after a back-off (`wamux.core.supervision`), never ending the server.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import trio

from wamux.core.ports import BackendHandle, EventStore, WebhookPoster
from wamux.core.projection_runner import ProjectionRunner
from wamux.core.supervision import forever, until_done
from wamux.domain.catalog import WEBHOOK_TEST_EVENT
from wamux.domain.clock import Clock, iso_ms
from wamux.domain.events import DomainEvent, WebhookDelivered, WebhookFailed, WebhookRetryRequested
from wamux.logs import get_logger
from wamux.projections.outbox import DELIVERIES, body_bytes, signature, webhook_stream_id
from wamux.projections.ports import Query, ReadModelStore

T = TypeVar("T")
log = get_logger("wamux.webhooks")

BATCH = 500


@dataclass
class Attempt:
    """What the last try of a delivery gave (kept in memory while the row is pending)."""

    attempts: int = 0
    status_code: int | None = None
    error: str | None = None
    next_attempt_ms: int | None = None


@dataclass
class Lane:
    instance_id: str
    send: trio.MemorySendChannel[dict[str, Any]]
    receive: trio.MemoryReceiveChannel[dict[str, Any]]
    lock: trio.Lock = field(default_factory=trio.Lock)
    version: int | None = None


class WebhookDispatcher:
    """Follows the outbox and delivers it; also answers the retry and test routes."""

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
        self.lanes: dict[str, Lane] = {}
        self.live: dict[str, Attempt] = {}
        self._nursery: trio.Nursery | None = None
        self.seen = 0  # outbox position handed to lanes so far (kept across a supervised restart)
        self.delivered = 0
        self.failed = 0
        self.retried = 0
        self.errors = 0  # unexpected errors the supervising loops caught (dispatcher and lanes)
        self.observe_latency: Callable[[float], None] = lambda seconds: None  # set by the metrics

    # ---- following the outbox -----------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Hand every pending row to its lane, forever; the lanes live in this task's nursery."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            await forever(self._dispatch, what="webhook dispatcher", on_error=self._count_error)

    async def _dispatch(self) -> None:
        rows = await self._call(lambda rm: self._pending_after(rm, self.seen))
        for row in rows:
            self._lane(str(row["instanceId"])).send.send_nowait(row)
            self.seen = max(self.seen, int(row["position"]))
        if len(rows) < BATCH:
            await self.runner.wait_for(self.runner.position + 1, timeout=math.inf)

    def _count_error(self, exc: Exception) -> None:
        self.errors += 1

    async def _call(self, fn: Callable[[ReadModelStore], T]) -> T:
        """Run `fn` on the current read models in a worker thread, holding a lease on the backend."""
        with self.backend.lease():
            rm = self.backend.read_models
            return await trio.to_thread.run_sync(fn, rm, limiter=self.limiter)

    @staticmethod
    def _pending_after(rm: ReadModelStore, position: int) -> list[dict[str, Any]]:
        return rm.find(
            DELIVERIES,
            Query(
                where={"status": "pending"},
                ranges={"position": (position + 1, None)},
                order=(("position", False),),
                limit=BATCH,
            ),
        )

    def _lane(self, instance_id: str) -> Lane:
        lane = self.lanes.get(instance_id)
        if lane is None:
            send, receive = trio.open_memory_channel[dict[str, Any]](math.inf)
            lane = Lane(instance_id, send, receive)
            self.lanes[instance_id] = lane
            assert self._nursery is not None
            self._nursery.start_soon(self._run_lane, lane)
        return lane

    async def _run_lane(self, lane: Lane) -> None:
        # One row at a time, each until handled: a failing row is retried in place, so order is kept.
        async for row in lane.receive:
            await until_done(
                partial(self._handle, lane, row),
                what="webhook lane",
                on_error=partial(self._lane_error, lane),
                instance_id=lane.instance_id,
                delivery_id=row.get("id"),
            )

    def _lane_error(self, lane: Lane, exc: Exception) -> None:
        self.errors += 1
        lane.version = None  # read the stream's version again: a failed append may have left it stale

    async def _handle(self, lane: Lane, row: dict[str, Any]) -> None:
        if not self.is_live(lane.instance_id):
            await self._record_failure(lane, row, attempts=0, error="instance deleted")
            return
        await self._deliver(lane, row)

    # ---- delivering -----------------------------------------------------------------------

    async def _deliver(self, lane: Lane, row: dict[str, Any]) -> None:
        state = self.live.setdefault(row["id"], Attempt())
        total = 1 + int(row.get("maxRetries", 3))
        interval_s = int(row.get("retryInterval", 60000)) / 1000
        trusted = self.trusted(lane.instance_id)
        # From the state, not None: a lane that retries this row after a failed `_record` keeps the last answer.
        status_code, error = state.status_code, state.error
        while state.attempts < total:
            state.attempts += 1
            # A malformed row (stored by an older version) must reach the poster, which fails it, not stop the lane.
            headers = row.get("headers")
            if isinstance(headers, dict):
                headers = {**headers, "X-Webhook-Attempt": str(state.attempts)}
            outcome = await self.poster.post(row.get("url"), headers, row.get("body"), trusted=trusted)
            status_code, error, latency = outcome.status_code, outcome.error, outcome.latency_ms
            state.status_code, state.error = status_code, error
            if error is None:
                self.delivered += 1
                self.observe_latency(latency / 1000)
                await self._record(
                    lane,
                    WebhookDelivered(
                        instance_id=lane.instance_id,
                        delivery_id=row["id"],
                        event_type=row["event"],
                        status_code=status_code or 0,
                        attempts=state.attempts,
                        latency_ms=round(latency, 2),
                    ),
                )
                self.live.pop(row["id"], None)
                return
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
        )
        await self._record(lane, event)

    async def _record(self, lane: Lane, event: DomainEvent) -> None:
        async with lane.lock:
            stream = webhook_stream_id(lane.instance_id)
            if lane.version is None:
                lane.version = await self.store.stream_version(stream)
            (recorded,) = await self.store.append(stream, [event], lane.version)
            lane.version = recorded.version
        # Wait until the outbox shows the result, so the row is never picked up twice.
        await self.runner.wait_for(recorded.position, timeout=10)

    # ---- routes ---------------------------------------------------------------------------

    async def retry(self, instance_id: str, delivery_id: str) -> bool:
        """Queue a failed (or delivered) row again; False if there is no such row."""
        row = await self._call(lambda rm: rm.get(DELIVERIES, delivery_id))
        if row is None or row["instanceId"] != instance_id:
            return False
        if row["status"] == "pending":
            return True
        await self._record(
            self._lane(instance_id), WebhookRetryRequested(instance_id=instance_id, delivery_id=delivery_id)
        )
        return True

    async def retry_failed(self, instance_id: str) -> int:
        query = Query(where={"instanceId": instance_id, "status": "failed"}, order=(("position", False),))
        rows = await self._call(lambda rm: rm.find(DELIVERIES, query))
        for row in rows:
            await self._record(
                self._lane(instance_id), WebhookRetryRequested(instance_id=instance_id, delivery_id=row["id"])
            )
        return len(rows)

    async def test(self, instance_id: str, url: str, settings: dict[str, Any]) -> dict[str, Any]:
        """Send a `test` event now (not through the outbox) and report what the receiver said.

        The route checks `url` first (400 `url_not_allowed` before any connection); the client's
        connect-time check still applies.
        """
        now = self.clock.now_ms()
        body = body_bytes(WEBHOOK_TEST_EVENT, {"instanceId": instance_id, "message": "wamux webhook test"}, now)
        headers = {str(k): str(v) for k, v in (settings.get("headers") or {}).items()}
        headers.update(
            {
                "Content-Type": "application/json",
                "X-Webhook-Event": WEBHOOK_TEST_EVENT,
                "X-Webhook-Id": f"test-{now}",
                "X-Webhook-Attempt": "1",
            }
        )
        if settings.get("secret"):
            headers["X-Webhook-Signature"] = signature(settings["secret"], body)
        outcome = await self.poster.post(url, headers, body, trusted=self.trusted(instance_id))
        return {
            "success": outcome.error is None,
            "statusCode": outcome.status_code,
            "latencyMs": round(outcome.latency_ms, 2),
            "error": outcome.error,
            "timestamp": iso_ms(now),
        }

    def attempt_of(self, delivery_id: str) -> Attempt | None:
        return self.live.get(delivery_id)

    async def aclose(self) -> None:
        await self.poster.aclose()
