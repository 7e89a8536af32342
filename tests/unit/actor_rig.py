"""The rig of the actor and supervisor tests: a real SQLite store and simulator on trio's autojump clock.

The `rig` fixture itself is in `tests/unit/conftest.py`; this module holds what the tests call.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio
import trio.testing

from wamux.adapters.eventlog.recorder_store import RecorderEventStore
from wamux.adapters.media.files import FileMediaStore
from wamux.adapters.whatsapp.simulator import SimulatorTransport
from wamux.core.instance_actor import ActorSettings, InstanceActor
from wamux.core.supervisor import RestartPolicy, Supervisor
from wamux.domain.events import RecordedEvent

EPOCH_MS = 1_700_000_000_000
PHONE = "79001234567"
JID = f"{PHONE}@s.whatsapp.net"
FAST = ActorSettings(qr_max_attempts=3, backoff_initial_s=1.0, backoff_max_s=60.0)
WAIT = 3_600.0  # virtual seconds; generous, a failing wait still ends at once on the autojump clock


class TrioClock:
    """The domain clock on trio's (virtual) time, so event timestamps show the actor's timings."""

    def now_ms(self) -> int:
        return EPOCH_MS + int(trio.current_time() * 1000)


@dataclass
class Rig:
    """A store writer in a nursery, plus supervisors started and stopped on it."""

    data_dir: Path
    store: RecorderEventStore
    clock: TrioClock
    nursery: trio.Nursery
    scopes: list[trio.CancelScope] = field(default_factory=list)

    def transport(self, qr_interval_s: float = 20.0) -> SimulatorTransport:
        return SimulatorTransport(self.data_dir, qr_interval_s=qr_interval_s)

    async def supervisor(
        self,
        transport: SimulatorTransport | None = None,
        *,
        settings: ActorSettings = FAST,
        policy: RestartPolicy | None = None,
    ) -> Supervisor:
        sup = Supervisor(
            self.store,
            transport or self.transport(),
            self.clock,
            FileMediaStore(self.data_dir / "media"),
            actor_settings=settings,
            policy=policy or RestartPolicy(max_restarts=3, window_s=60.0, backoff_initial_s=0.5, backoff_max_s=4.0),
        )
        scope = trio.CancelScope()
        self.scopes.append(scope)

        async def run(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
            with scope:
                await sup.run(task_status=task_status)

        await self.nursery.start(run)
        return sup

    async def stop(self, sup: Supervisor) -> None:
        """Stop a supervisor the way a killed server stops: its tasks just end."""
        self.scopes.pop().cancel()
        await trio.testing.wait_all_tasks_blocked()
        assert not any(a.running for a in sup.actors.values())

    async def events(self, instance_id: str) -> list[RecordedEvent]:
        return await self.store.read_stream(instance_id)

    async def types(self, instance_id: str) -> list[str]:
        return [r.type for r in await self.events(instance_id)]

    def now_ms(self) -> int:
        return self.clock.now_ms()


async def until(predicate: Callable[[], bool], timeout: float = WAIT, step: float = 1.0) -> None:
    """Poll a condition on virtual time (cheap on the autojump clock)."""
    for _ in range(math.ceil(timeout / step)):
        if predicate():
            return
        await trio.sleep(step)
    raise AssertionError("condition not reached in time")


async def reach(actor: InstanceActor, *statuses: str) -> None:
    assert await actor.wait_status(statuses, WAIT), f"still {actor.status}, wanted {statuses}"


async def linked(rig: Rig, sup: Supervisor, name: str = "Main") -> InstanceActor:
    """A new instance scanned and connected."""
    actor = await sup.create("user-1", {"name": name})
    await reach(actor, "qr")
    transport = sup.transport
    assert isinstance(transport, SimulatorTransport)
    await transport.scan(actor.id, PHONE, "Me")
    await reach(actor, "connected")
    return actor


def sim(sup: Supervisor) -> SimulatorTransport:
    assert isinstance(sup.transport, SimulatorTransport)
    return sup.transport


def only(records: list[RecordedEvent], type_: str) -> list[Any]:
    return [r.event for r in records if r.type == type_]
