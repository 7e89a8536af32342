"""API-call counting and usage limits.

API calls are counted in memory per instance and flushed as `api_calls_recorded` events
every few seconds (and at shutdown), so the hot path never writes per request. Limits are
checked inside the instance actor's turn, after the stats read model caught up, so the
(N+1)th send is refused exactly, and `limit_exceeded` is recorded once per period.
"""

from __future__ import annotations

import functools
from collections import Counter
from typing import Any

from wamux.core.instance_actor import InstanceActor
from wamux.domain.errors import LimitExceeded
from wamux.domain.events import ApiCallsRecorded
from wamux.domain.events import LimitExceeded as LimitExceededEvent
from wamux.domain.users import User
from wamux.http.services import Services
from wamux.projections.periods import day_of, period_key, period_start_day
from wamux.projections.stats import OWNERS, summed, usage_rows

# An instance's own GET/PUT/DELETE stay open over its limits, so its owner can see, lift or delete them.
LIMIT_FREE_ENDPOINTS = frozenset({"instances.get_instance", "instances.update_instance", "instances.delete_instance"})


def subject_to_limits(caller: User, endpoint: str | None) -> bool:
    """Whether a call may be refused by an instance's usage limits: never for admins (API-2 §8 "Limits")."""
    return caller.role != "admin" and endpoint not in LIMIT_FREE_ENDPOINTS


class UsageMeter:
    """Counts API calls per instance and active users until the next flush."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.pending: Counter[str] = Counter()
        self.users: set[str] = set()

    def count(self, instance_id: str | None, user_id: str) -> None:
        self.users.add(user_id)
        if instance_id is not None:
            self.pending[instance_id] += 1

    async def flush(self) -> int:
        """Write the counted calls as events; returns how many calls were written."""
        pending, self.pending = self.pending, Counter()
        users, self.users = self.users, set()
        s = self.services
        written = 0
        for instance_id, count in pending.items():
            actor = s.supervisor.actors.get(instance_id)
            if actor is None or actor.instance.deleted or not actor.running:
                continue
            event = ApiCallsRecorded(instance_id=instance_id, count=count)
            await actor.ask(functools.partial(actor.record, event))
            written += count
        if users:
            await s.users.mark_active(users, day_of(s.clock.now_ms()))
        return written

    async def usage(self, actor: InstanceActor, period: str) -> dict[str, int]:
        """Messages sent and API calls of the instance in the current limit period."""
        s = self.services
        await s.read_models.synced("stats")
        now = s.clock.now_ms()
        rows = usage_rows(s.read_models.rm, since_day=period_start_day(period, now), instanceId=actor.id)
        total = summed(rows)
        return {"messagesSent": total["messagesSent"], "apiCalls": total["apiCalls"] + self.pending[actor.id]}

    async def enforce(self, actor: InstanceActor, *, sending: bool) -> None:
        """Raise LimitExceeded (and record it once per period) when the instance is over a limit.

        Runs inside the actor's turn (through `ask`), so concurrent requests are counted exactly.
        """
        limits: dict[str, Any] | None = actor.instance.limits
        if not limits:
            return
        wanted = ("maxMessagesSent", "maxApiCalls") if sending else ("maxApiCalls",)
        if not any(limits.get(k) is not None for k in wanted):
            return
        period = limits.get("period", "day")
        usage = await self.usage(actor, period)
        exceeded = []
        if sending and limits.get("maxMessagesSent") is not None and usage["messagesSent"] >= limits["maxMessagesSent"]:
            exceeded.append("maxMessagesSent")
        if limits.get("maxApiCalls") is not None and usage["apiCalls"] >= limits["maxApiCalls"]:
            exceeded.append("maxApiCalls")
        if not exceeded:
            return
        key = period_key(period, self.services.clock.now_ms())
        owner = self.services.read_models.rm.get(OWNERS, actor.id) or {}
        if key not in owner.get("limitNotified", []) and key not in actor.limit_notified:
            actor.limit_notified.add(key)
            await actor.record(
                LimitExceededEvent(
                    instance_id=actor.id, exceeded_limits=exceeded, usage=usage, limits=limits, period_key=key
                )
            )
        raise LimitExceeded(
            "usage limit reached for this period",
            details={"exceededLimits": exceeded, "usage": usage, "limits": limits, "period": key},
        )
