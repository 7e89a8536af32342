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
import trio.testing

from tests.unit.fake_reads import FakeGroupReads, FakeHistory, FakeSentLookup, FakeUsageReader
from tests.unit.fakes import (
    FakeMediaConverter,
    FakeMediaFetch,
    FakeOutboundCheck,
    FakeSession,
    FakeTransport,
    MemoryEventStore,
    MemoryMediaFiles,
)
from wamux.core.instance_actor import ActorDeps, ActorSettings, InstanceActor
from wamux.core.ports import IncomingMessage, MediaPayload
from wamux.core.supervisor import RestartPolicy, Supervisor
from wamux.core.usage import LimitGate, UsageMeter
from wamux.core.usecases import (
    ChatActionUseCases,
    ContactUseCases,
    GroupUseCases,
    InstanceUseCases,
    MessagingUseCases,
    PeopleUseCases,
    UsageUseCases,
    UseCases,
)
from wamux.core.user_directory import UserDirectory
from wamux.domain.users import User

PHONE = "79001234567"
JID = f"{PHONE}@s.whatsapp.net"
PEER = "79007654321@s.whatsapp.net"
GROUP = "120363025246125486@g.us"
WAIT_S = 600.0  # virtual seconds: a wait that fails still ends at once on the autojump clock
EPOCH_MS = 1_768_471_200_000  # 2026-01-15T10:00:00Z
POLICY = RestartPolicy(max_restarts=2, window_s=60.0, backoff_initial_s=0.5, backoff_max_s=1.0)


class ShiftClock:
    """The domain clock on trio's (virtual) time, plus a shift a test can add (`advance`) without waiting."""

    def __init__(self, epoch_ms: int = EPOCH_MS) -> None:
        self.epoch_ms = epoch_ms
        self.shift_ms = 0

    def now_ms(self) -> int:
        return self.epoch_ms + self.shift_ms + int(trio.current_time() * 1000)

    def advance(self, ms: int) -> None:
        self.shift_ms += ms


MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG", "image/png"),
    (b"ID3", "audio/mpeg"),
    (b"OggS", "audio/ogg"),
    (b"%PDF", "application/pdf"),
)


def sniff(data: bytes) -> str:
    """A MIME type by the first bytes, as libmagic would answer for these few kinds."""
    if data[4:8] == b"ftyp":
        return "video/mp4"
    return next((mime for magic, mime in MAGIC if data.startswith(magic)), "application/octet-stream")


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
    converter: FakeMediaConverter = field(default_factory=FakeMediaConverter)
    meter: UsageMeter = field(default_factory=UsageMeter)
    sent: FakeSentLookup = field(init=False)
    reader: FakeUsageReader = field(init=False)
    history: FakeHistory = field(init=False)
    group_reads: FakeGroupReads = field(init=False)
    supervisor: Supervisor = field(init=False)
    uc: UseCases = field(init=False)
    _scope: trio.CancelScope = field(init=False)
    _done: trio.Event = field(init=False)

    def __post_init__(self) -> None:
        self.sent = FakeSentLookup(self.store)
        self.reader = FakeUsageReader(self.store)
        self.history = FakeHistory(self.store)
        self.group_reads = FakeGroupReads(self.store)

    async def start(self, max_instances_per_user: int | None = None) -> None:
        self.supervisor = Supervisor(
            self.store,
            self.transport,
            self.clock,
            self.media,
            actor_settings=ActorSettings(),
            policy=POLICY,
            max_instances_per_user=max_instances_per_user,
            deps=ActorDeps(
                sent=self.sent,
                limits=LimitGate(self.reader, self.meter, self.clock),
                history=self.history,
                groups=self.group_reads,
            ),
        )
        messaging = MessagingUseCases(self.supervisor, self.history, self.media, self.fetcher, sniff, self.converter)
        self.uc = UseCases(
            instances=InstanceUseCases(self.supervisor, self.users, self.outbound),
            messaging=messaging,
            chats=ChatActionUseCases(self.supervisor, self.history, messaging, self.clock),
            contacts=ContactUseCases(self.supervisor),
            groups=GroupUseCases(self.supervisor, self.group_reads, self.converter),
            people=PeopleUseCases(self.supervisor, self.converter),
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
        """A new instance of `owner`, scanned and online, its groups read once connected (`joined_groups`)."""
        actor = await self.instance(owner, **body)
        await self.session(actor).link(JID)
        await reach(actor, "connected")
        await settle()
        return actor

    async def receive(
        self,
        actor: InstanceActor,
        message_id: str,
        body: str | None = "hi",
        *,
        sender: str = PEER,
        chat: str | None = None,
        message_type: str = "text",
        media: bytes | None = None,
        **fields: Any,
    ) -> None:
        """A message from `sender` arrives (in `chat`, by default the 1:1 chat with the sender)."""
        chat = chat or sender
        await self.session(actor).report(
            IncomingMessage(
                message_id=message_id,
                chat_jid=chat,
                sender_jid=sender,
                message_type=message_type,
                body=body,
                is_group=chat.endswith("@g.us"),
                media=MediaPayload(media, sniff(media)) if media is not None else None,
                **fields,
            )
        )


async def reach(actor: InstanceActor, *statuses: str) -> None:
    assert await actor.wait_status(statuses, WAIT_S), f"still {actor.status}, wanted {statuses}"


async def settle() -> None:
    """Let every task run until all wait (the work an actor does beside its mailbox is then done)."""
    await trio.testing.wait_all_tasks_blocked()


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
