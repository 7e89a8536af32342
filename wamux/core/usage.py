"""Counting API calls, and reading usage for the limit rule (`wamux.domain.limits` decides).

API calls are counted in memory per instance and flushed as `api_calls_recorded` events every
few seconds (and at shutdown) by `wamux.core.usecases.usage`, so the hot path never writes per
request. The instance actor asks the `LimitGate` inside its turn, so the (N+1)th call is refused
exactly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from wamux.core.ports import UsageReader
from wamux.domain.clock import Clock
from wamux.domain.limits import LimitReached, Usage, capped, decide, usage_since_day


class UsageMeter:
    """API calls per instance and active users, counted until the next flush."""

    def __init__(self) -> None:
        self.pending: Counter[str] = Counter()
        self.users: set[str] = set()

    def count(self, instance_id: str | None, user_id: str) -> None:
        self.users.add(user_id)
        if instance_id is not None:
            self.pending[instance_id] += 1

    def pending_calls(self, instance_id: str) -> int:
        return self.pending[instance_id]

    def drain(self) -> tuple[Counter[str], set[str]]:
        """Take what was counted since the last drain."""
        pending, self.pending = self.pending, Counter()
        users, self.users = self.users, set()
        return pending, users


class LimitGate:
    """Reads what an instance used this period and asks the domain rule whether a call may go."""

    def __init__(self, reader: UsageReader, meter: UsageMeter, clock: Clock) -> None:
        self.reader = reader
        self.meter = meter
        self.clock = clock

    async def check(self, instance_id: str, limits: Mapping[str, Any] | None, *, sending: bool) -> LimitReached | None:
        if not limits or not capped(limits, sending=sending):
            return None  # nothing to read
        now = self.clock.now_ms()
        sent, calls = await self.reader.usage_since(instance_id, usage_since_day(limits, now))
        usage = Usage(messages_sent=sent, api_calls=calls + self.meter.pending_calls(instance_id))
        return decide(limits, usage, sending=sending, now_ms=now)

    async def announced(self, instance_id: str, period_key: str) -> bool:
        """Whether `limit_exceeded` was already recorded for this period (by any process)."""
        return period_key in await self.reader.limit_notified(instance_id)
