"""Delivers the webhook outbox: in event order per instance, with retries, never losing a row.

One dispatcher follows the outbox read model by position and hands each pending row to its
instance's lane. A lane delivers one row at a time (a later event waits while an earlier
one is retried), then records the result as an event in the instance's webhook stream (the
lane is that stream's only writer). Rows stay `pending` in the durable outbox until their
result is recorded, so a crash means "deliver again" (at-least-once, same `X-Webhook-Id`).
All lanes share one pooled httpx client with a bounded number of connections.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import trio

from wamux import __version__
from wamux.domain.clock import Clock, iso_ms
from wamux.domain.events import DomainEvent, WebhookDelivered, WebhookFailed, WebhookRetryRequested
from wamux.domain.store import EventStore
from wamux.infra.logs import get_logger
from wamux.infra.projection_runner import ProjectionRunner
from wamux.projections.outbox import DELIVERIES, body_bytes, signature, webhook_stream_id
from wamux.projections.ports import Query, ReadModelStore

log = get_logger("wamux.webhooks")

USER_AGENT = f"wamux/{__version__} (+webhooks)"
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
        read_models: ReadModelStore,
        outbox_runner: ProjectionRunner,
        clock: Clock,
        *,
        is_live: Callable[[str], bool],
        timeout_s: float = 10.0,
        max_connections: int = 64,
        limiter: trio.CapacityLimiter | None = None,
    ) -> None:
        self.store = store
        self.rm = read_models
        self.runner = outbox_runner
        self.clock = clock
        self.is_live = is_live
        self.limiter = limiter or trio.CapacityLimiter(8)
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            headers={"User-Agent": USER_AGENT},
            follow_redirects=False,
        )
        self.lanes: dict[str, Lane] = {}
        self.live: dict[str, Attempt] = {}
        self._nursery: trio.Nursery | None = None
        self.delivered = 0
        self.failed = 0
        self.retried = 0
        self.observe_latency: Callable[[float], None] = lambda seconds: None  # set by the metrics

    # ---- following the outbox -----------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            seen = 0
            while True:
                rows = await trio.to_thread.run_sync(self._pending_after, seen, limiter=self.limiter)
                for row in rows:
                    self._lane(row["instanceId"]).send.send_nowait(row)
                    seen = max(seen, int(row["position"]))
                if len(rows) == BATCH:
                    continue
                await self.runner.wait_for(self.runner.position + 1, timeout=math.inf)

    def _pending_after(self, position: int) -> list[dict[str, Any]]:
        return self.rm.find(
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
        async for row in lane.receive:
            if not self.is_live(lane.instance_id):
                await self._record(
                    lane,
                    WebhookFailed(
                        instance_id=lane.instance_id,
                        delivery_id=row["id"],
                        event_type=row["event"],
                        attempts=0,
                        error="instance deleted",
                    ),
                )
                continue
            await self._deliver(lane, row)

    # ---- delivering -----------------------------------------------------------------------

    async def post(self, url: str, headers: dict[str, str], body: bytes) -> tuple[int | None, str | None, float]:
        """One POST; (status code, error, latency ms). Never raises for network trouble."""
        started = time.perf_counter()
        # Receivers can always tell wamux by its User-Agent, whatever custom headers say.
        headers = {k: v for k, v in headers.items() if k.lower() != "user-agent"}
        headers["User-Agent"] = USER_AGENT
        try:
            response = await self.client.post(url, content=body, headers=headers)
        except httpx.TimeoutException:
            return None, "timeout", (time.perf_counter() - started) * 1000
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"[:300], (time.perf_counter() - started) * 1000
        latency = (time.perf_counter() - started) * 1000
        await response.aclose()
        error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
        return response.status_code, error, latency

    async def _deliver(self, lane: Lane, row: dict[str, Any]) -> None:
        state = self.live.setdefault(row["id"], Attempt())
        body = row["body"].encode()
        total = 1 + int(row.get("maxRetries", 3))
        interval_s = int(row.get("retryInterval", 60000)) / 1000
        status_code: int | None = None
        error: str | None = None
        while state.attempts < total:
            state.attempts += 1
            headers = {**row["headers"], "X-Webhook-Attempt": str(state.attempts)}
            status_code, error, latency = await self.post(row["url"], headers, body)
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
        await self._record(
            lane,
            WebhookFailed(
                instance_id=lane.instance_id,
                delivery_id=row["id"],
                event_type=row["event"],
                attempts=state.attempts,
                status_code=status_code,
                error=error,
            ),
        )
        self.live.pop(row["id"], None)

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
        row = await trio.to_thread.run_sync(self.rm.get, DELIVERIES, delivery_id, limiter=self.limiter)
        if row is None or row["instanceId"] != instance_id:
            return False
        if row["status"] == "pending":
            return True
        await self._record(
            self._lane(instance_id), WebhookRetryRequested(instance_id=instance_id, delivery_id=delivery_id)
        )
        return True

    async def retry_failed(self, instance_id: str) -> int:
        rows = await trio.to_thread.run_sync(
            lambda: self.rm.find(
                DELIVERIES, Query(where={"instanceId": instance_id, "status": "failed"}, order=(("position", False),))
            ),
            limiter=self.limiter,
        )
        for row in rows:
            await self._record(
                self._lane(instance_id), WebhookRetryRequested(instance_id=instance_id, delivery_id=row["id"])
            )
        return len(rows)

    async def test(self, instance_id: str, url: str, settings: dict[str, Any]) -> dict[str, Any]:
        """Send a `test` event now (not through the outbox) and report what the receiver said."""
        now = self.clock.now_ms()
        body = body_bytes("test", {"instanceId": instance_id, "message": "wamux webhook test"}, now)
        headers = {str(k): str(v) for k, v in (settings.get("headers") or {}).items()}
        headers.update(
            {
                "Content-Type": "application/json",
                "X-Webhook-Event": "test",
                "X-Webhook-Id": f"test-{now}",
                "X-Webhook-Attempt": "1",
            }
        )
        if settings.get("secret"):
            headers["X-Webhook-Signature"] = signature(settings["secret"], body)
        status_code, error, latency = await self.post(url, headers, body)
        return {
            "success": error is None,
            "statusCode": status_code,
            "latencyMs": round(latency, 2),
            "error": error,
            "timestamp": iso_ms(now),
        }

    def attempt_of(self, delivery_id: str) -> Attempt | None:
        return self.live.get(delivery_id)

    async def aclose(self) -> None:
        await self.client.aclose()
