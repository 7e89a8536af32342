"""Use cases of usage: count calls, refuse calls over a limit, flush the counts as events."""

from __future__ import annotations

from wamux.core import commands as c
from wamux.core.supervisor import Supervisor
from wamux.core.usage import UsageMeter
from wamux.core.user_directory import UserDirectory
from wamux.domain.clock import Clock
from wamux.domain.limits import capped
from wamux.domain.periods import day_of
from wamux.domain.users import User


class UsageUseCases:
    def __init__(self, registry: Supervisor, users: UserDirectory, meter: UsageMeter, clock: Clock) -> None:
        self.registry = registry
        self.users = users
        self.meter = meter
        self.clock = clock

    def count(self, instance_id: str | None, caller: User) -> None:
        """One API call of `caller` (on `instance_id` when the route names one)."""
        self.meter.count(instance_id, caller.id)

    async def check_calls(self, caller: User, instance_id: str) -> None:
        """429 `limit_exceeded` when the instance is over `maxApiCalls` (decided in the actor's turn).

        Not for admins; an instance the caller may not see is left to the route (it answers 404).
        """
        actor = self.registry.actors.get(instance_id)
        if actor is None or not actor.running or caller.role == "admin":
            return
        if actor.instance.user_id != caller.id or not capped(actor.instance.limits, sending=False):
            return
        await actor.execute(c.CheckLimits())

    async def flush(self) -> int:
        """Write the counted calls as `api_calls_recorded` events; answers how many calls were written."""
        pending, users = self.meter.drain()
        written = 0
        for instance_id, count in pending.items():
            actor = self.registry.actors.get(instance_id)
            if actor is None or actor.instance.deleted or not actor.running:
                continue
            await actor.execute(c.RecordApiCalls(count))
            written += count
        if users:
            await self.users.mark_active(users, day_of(self.clock.now_ms()))
        return written
