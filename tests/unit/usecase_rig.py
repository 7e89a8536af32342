"""The rig of the use-case tests: the real application layer, supervisor and actors over the fakes of the ports.

Everything runs in memory on trio's autojump clock (the tests request `autojump_clock`), so a test
of a whole use case takes milliseconds. `open_core` builds what `wamux.run.bootstrap.build_core`
builds, with `tests.unit.fakes` in place of the adapters.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import trio

from tests.unit.fakes import (
    FakeMediaFetch,
    FakeOutboundCheck,
    FakeSentLookup,
    FakeSession,
    FakeTransport,
    FakeUsageReader,
    MemoryEventStore,
    MemoryMediaFiles,
    ShiftClock,
    sniff,
)
from wamux.core.instance_actor import ActorDeps, ActorSettings, InstanceActor
from wamux.core.supervisor import RestartPolicy, Supervisor
from wamux.core.usage import LimitGate, UsageMeter
from wamux.core.usecases import ContactUseCases, InstanceUseCases, MessagingUseCases, UsageUseCases, UseCases
from wamux.core.user_directory import UserDirectory
from wamux.domain.users import User

PHONE = "79001234567"
JID = f"{PHONE}@s.whatsapp.net"
PEER = "79007654321@s.whatsapp.net"
WAIT_S = 600.0  # virtual seconds: a wait that fails still ends at once on the autojump clock
POLICY = RestartPolicy(max_restarts=2, window_s=60.0, backoff_initial_s=0.5, backoff_max_s=1.0)


@dataclass
class Core:
    """The fakes, the running supervisor and the use cases built on them; `restart` is a server restart."""

    nursery: trio.Nursery
    clock: ShiftClock
    store: MemoryEventStore
    users: UserDirectory
    admin: User
    alice: User
    bob: User
    transport: FakeTransport = field(default_factory=FakeTransport)
    media: MemoryMediaFiles = field(default_factory=MemoryMediaFiles)
    fetcher: FakeMediaFetch = field(default_factory=FakeMediaFetch)
    outbound: FakeOutboundCheck = field(default_factory=FakeOutboundCheck)
    meter: UsageMeter = field(default_factory=UsageMeter)
    sent: FakeSentLookup = field(init=False)
    reader: FakeUsageReader = field(init=False)
    supervisor: Supervisor = field(init=False)
    uc: UseCases = field(init=False)
    _scope: trio.CancelScope = field(init=False)
    _done: trio.Event = field(init=False)

    def __post_init__(self) -> None:
        self.sent = FakeSentLookup(self.store)
        self.reader = FakeUsageReader(self.store)

    async def start(self, max_instances_per_user: int | None = None) -> None:
        self.supervisor = Supervisor(
            self.store,
            self.transport,
            self.clock,
            self.media,
            actor_settings=ActorSettings(),
            policy=POLICY,
            max_instances_per_user=max_instances_per_user,
            deps=ActorDeps(sent=self.sent, limits=LimitGate(self.reader, self.meter, self.clock)),
        )
        self.uc = UseCases(
            instances=InstanceUseCases(self.supervisor, self.users, self.outbound),
            messaging=MessagingUseCases(self.supervisor, self.media, self.fetcher, sniff),
            contacts=ContactUseCases(self.supervisor),
            usage=UsageUseCases(self.supervisor, self.users, self.meter, self.clock),
        )
        self._scope, self._done = trio.CancelScope(), trio.Event()
        await self.nursery.start(self._run, self.supervisor, self._scope, self._done)

    @staticmethod
    async def _run(
        sup: Supervisor, scope: trio.CancelScope, done: trio.Event, task_status: trio.TaskStatus[None]
    ) -> None:
        try:
            with scope:
                await sup.run(task_status=task_status)
        finally:
            done.set()

    async def restart(self) -> None:
        """Stop the supervisor the way a killed server stops, then start a new one on the same store."""
        quota = self.supervisor.max_instances_per_user
        self._scope.cancel()
        await self._done.wait()
        await self.start(quota)

    # ---- helpers ----

    def session(self, actor: InstanceActor) -> FakeSession:
        return self.transport.sessions[actor.id]

    def types(self, actor: InstanceActor) -> list[str]:
        return self.store.types(actor.id)

    async def instance(self, owner: User, **body: Any) -> InstanceActor:
        """A new instance of `owner`, showing its first QR code."""
        actor = await self.uc.instances.create(owner, {"name": "Main", **body})
        await reach(actor, "qr")
        return actor

    async def connected(self, owner: User, **body: Any) -> InstanceActor:
        """A new instance of `owner`, scanned and online."""
        actor = await self.instance(owner, **body)
        await self.session(actor).link(JID)
        await reach(actor, "connected")
        return actor


async def reach(actor: InstanceActor, *statuses: str) -> None:
    assert await actor.wait_status(statuses, WAIT_S), f"still {actor.status}, wanted {statuses}"


@asynccontextmanager
async def open_core(max_instances_per_user: int | None = None) -> AsyncIterator[Core]:
    clock = ShiftClock()
    store = MemoryEventStore(clock)
    users = UserDirectory(store, clock=clock)
    ids = {}
    for n, (name, role) in enumerate((("admin", "admin"), ("alice", "user"), ("bob", "user")), start=1):
        ids[name] = f"00000000-0000-0000-0000-00000000000{n}"
        # Recorded as a registration records them, without hashing a password in a worker thread.
        creation = User.create(
            ids[name],
            email=f"{name}@example.com",
            password_hash="not a bcrypt hash",
            api_key_hash=f"key-of-{name}",
            first_name=name,
            last_name="Test",
            role=role,
        )
        await store.append(ids[name], creation, 0)
    await users.load()
    admin, alice, bob = (users.require(ids[name]) for name in ("admin", "alice", "bob"))
    async with trio.open_nursery() as nursery:
        core = Core(nursery, clock, store, users, admin, alice, bob)
        await core.start(max_instances_per_user)
        yield core
        nursery.cancel_scope.cancel()
