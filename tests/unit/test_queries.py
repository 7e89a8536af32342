"""The read-model queries, on the real SQLite read-model store filled through the real projections."""

from __future__ import annotations

import contextlib
import copy
import functools
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

from wamux.adapters.readmodels.sqlite import SQLiteReadModelStore
from wamux.core.queries import Page, ReadQueries
from wamux.domain.events import (
    ApiCallsRecorded,
    ChatRead,
    Connected,
    ContactSaved,
    DomainEvent,
    GroupJoined,
    GroupParticipantsChanged,
    GroupsSynced,
    GroupUpdated,
    IdentityLearned,
    InstanceCreated,
    LimitExceeded,
    MessageReceived,
    MessageSent,
    RecordedEvent,
    UserActive,
    UserCreated,
    WebhookFailed,
)
from wamux.domain.periods import day_of
from wamux.projections.contacts import ContactsProjection
from wamux.projections.groups import GroupsProjection
from wamux.projections.identities import IdentitiesProjection
from wamux.projections.instances import InstancesProjection
from wamux.projections.messages import MessagesProjection
from wamux.projections.outbox import OutboxProjection, webhook_stream_id
from wamux.projections.ports import Collection, Projection, Query, ReadSession
from wamux.projections.stats import StatsProjection
from wamux.projections.users import UsersProjection

PROJECTIONS: tuple[Projection, ...] = (MessagesProjection(), ContactsProjection(), InstancesProjection())
PROJECTIONS += (UsersProjection(), StatsProjection(), OutboxProjection(), GroupsProjection(), IdentitiesProjection())
A = "0190a5c2-0000-7000-8000-00000000000a"
B = "0190a5c2-0000-7000-8000-00000000000b"
ALICE = "0190a5c2-0000-7000-8000-0000000000a1"
BOB = "0190a5c2-0000-7000-8000-0000000000b0"
T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z
DAY = 86_400_000
X = "111@s.whatsapp.net"
Y = "222@s.whatsapp.net"
HOOK: dict[str, Any] = {
    "webhook_url": "https://hooks.example.com/in",
    "webhook_enabled": True,
    "webhook_settings": {"notifySent": True},
}


def open_store(path: Path) -> SQLiteReadModelStore:
    store = SQLiteReadModelStore(str(path))
    store.ensure(tuple(c for p in PROJECTIONS for c in p.collections))
    return store


class CatchingUpView:
    """The read models as the routes see them: a real store, and a `synced` that applies what the
    named projections have not seen yet (as the projection runner does), recording each wait."""

    def __init__(self, rm: SQLiteReadModelStore) -> None:
        self.rm = rm
        self.pending: list[tuple[Projection, RecordedEvent]] = []
        self.waits: list[tuple[str, ...]] = []
        self.position = 0
        self.versions: dict[str, int] = {}

    def record(self, stream_id: str, event: DomainEvent, ts: int) -> None:
        """Append an event to the 'log': the projections see it at their next catch-up."""
        self.position += 1
        self.versions[stream_id] = self.versions.get(stream_id, 0) + 1
        recorded = RecordedEvent(stream_id, self.versions[stream_id], ts, self.position, copy.deepcopy(event))
        self.pending += [(p, recorded) for p in PROJECTIONS if event.type in p.topics]

    async def synced(self, *names: str, timeout: float = 5.0) -> None:
        assert names, "a query names the projections it waits for (no names means all of them)"
        self.waits.append(names)
        for projection, recorded in [item for item in self.pending if item[0].name in names]:
            self.rm.apply(projection.name, recorded.position, functools.partial(_apply, projection, recorded))
            self.pending.remove((projection, recorded))

    def lease(self) -> contextlib.nullcontext[None]:
        return contextlib.nullcontext()


def _apply(projection: Projection, recorded: RecordedEvent, session: ReadSession) -> None:
    projection.apply(session, recorded)


@pytest.fixture
def view(tmp_path: Path) -> Iterator[CatchingUpView]:
    store = open_store(tmp_path / "rm.db")
    yield CatchingUpView(store)
    store.close()


@pytest.fixture
def queries(view: CatchingUpView) -> ReadQueries:
    return ReadQueries(view, trio.CapacityLimiter(2))


def created(instance_id: str, user_id: str, name: str, **extra: Any) -> InstanceCreated:
    fields: dict[str, Any] = {
        "description": None,
        "webhook_url": None,
        "webhook_enabled": False,
        "webhook_settings": {},
    }
    return InstanceCreated(instance_id=instance_id, user_id=user_id, name=name, **{**fields, **extra})


def sent(instance_id: str, message_id: str, to: str, **extra: Any) -> MessageSent:
    return MessageSent(instance_id=instance_id, message_id=message_id, to=to, message_type="text", body="hi", **extra)


# ---- messages --------------------------------------------------------------------------------


async def test_chats_are_paged_most_recent_first_per_instance(view: CatchingUpView, queries: ReadQueries) -> None:
    for i, jid in enumerate(("1@s.whatsapp.net", "2@s.whatsapp.net", "3@s.whatsapp.net")):
        view.record(A, sent(A, f"m{i}", jid), T0 + i)
    view.record(B, sent(B, "other", "9@s.whatsapp.net"), T0 + 9)

    first = await queries.chats(A, skip=0, limit=2)
    assert [c["chatId"] for c in first.rows] == ["3@s.whatsapp.net", "2@s.whatsapp.net"]
    assert first.total == 3
    rest = await queries.chats(A, skip=2, limit=2)
    assert rest == Page(rows=rest.rows, total=3)
    assert [c["chatId"] for c in rest.rows] == ["1@s.whatsapp.net"]
    assert view.waits == [("messages",), ("messages",)]


async def test_chat_messages_filter_by_chat_and_creation_time_newest_first(
    view: CatchingUpView, queries: ReadQueries
) -> None:
    for i in range(5):
        view.record(A, sent(A, f"x{i}", X), T0 + i * 1000)
    view.record(A, sent(A, "y0", Y), T0 + 2000)
    view.record(B, sent(B, "x-of-b", X), T0 + 2000)

    everything = await queries.chat_messages(A, X, skip=0, limit=50)
    assert [m["messageId"] for m in everything.rows] == ["x4", "x3", "x2", "x1", "x0"]
    assert everything.total == 5
    window = await queries.chat_messages(A, X, start_ms=T0 + 1000, end_ms=T0 + 3000, skip=1, limit=1)
    assert [m["messageId"] for m in window.rows] == ["x2"]
    assert window.total == 3  # the count keeps the time window, not the page
    since = await queries.chat_messages(A, X, start_ms=T0 + 3000)
    assert [m["messageId"] for m in since.rows] == ["x4", "x3"]
    until = await queries.chat_messages(A, X, end_ms=T0)
    assert [m["messageId"] for m in until.rows] == ["x0"]


async def test_one_message_by_id_and_by_idempotency_key(view: CatchingUpView, queries: ReadQueries) -> None:
    view.record(A, sent(A, "m1", X, idempotency_key="k-1"), T0)
    view.record(B, sent(B, "m2", X, idempotency_key="k-2"), T0)

    found = await queries.message_by_idempotency_key(A, "k-1")
    assert found is not None and found["messageId"] == "m1" and found["createdMs"] == T0
    assert await queries.message_by_idempotency_key(A, "k-2") is None  # another instance's key
    message = await queries.message(A, "m1")
    assert message is not None and message["remoteJid"] == X and message["mediaPath"] is None
    assert await queries.message(B, "m1") is None
    assert view.waits == [("messages",)] * 4


# ---- contacts --------------------------------------------------------------------------------


async def test_unread_incoming_are_the_chats_latest_incoming_as_many_as_unread(
    view: CatchingUpView, queries: ReadQueries
) -> None:
    def incoming(message_id: str, chat: str) -> MessageReceived:
        return MessageReceived(
            instance_id=A, message_id=message_id, chat_jid=chat, sender_jid=chat, message_type="text", body="hi"
        )

    view.record(A, incoming("old", X), T0)
    view.record(A, ChatRead(instance_id=A, chat_jid=X), T0 + 1)
    view.record(A, incoming("in-1", X), T0 + 2)
    view.record(A, sent(A, "ours", X), T0 + 3)
    view.record(A, incoming("in-2", X), T0 + 4)
    view.record(A, incoming("elsewhere", Y), T0 + 5)
    unread = await queries.unread_incoming(A, X)
    assert [m["messageId"] for m in unread] == ["in-2", "in-1"]
    assert await queries.unread_incoming(A, "nobody@s.whatsapp.net") == []


async def test_contacts_page_searches_filters_groups_and_orders_by_name(
    view: CatchingUpView, queries: ReadQueries
) -> None:
    def save(jid: str, name: str | None, *, group: bool = False) -> None:
        event = ContactSaved(instance_id=A, jid=jid, number=jid.split("@")[0], name=name, is_group=group)
        view.record(A, event, T0)

    save("300@s.whatsapp.net", "Carol")
    save("100@s.whatsapp.net", "alice")
    save("200@s.whatsapp.net", "Bob")
    save("123-456@g.us", "Book club", group=True)
    view.record(B, ContactSaved(instance_id=B, jid=X, number="111", name="Alice of B"), T0)

    every = await queries.contacts(A)
    assert [c["name"] for c in every.rows] == ["Bob", "Book club", "Carol", "alice"]  # stored order of the column
    assert every.total == 4
    found = await queries.contacts(A, search="  bo ", skip=0, limit=1)
    assert [c["name"] for c in found.rows] == ["Bob"]
    assert found.total == 2  # Bob and Book club: case-insensitive, trimmed, counted before paging
    assert (await queries.contacts(A, search="   ")).total == 4  # a blank search filters nothing
    groups = await queries.contacts(A, only_groups=True)
    assert [c["remoteJid"] for c in groups.rows] == ["123-456@g.us"] and groups.total == 1
    by_number = await queries.contacts(A, search="200")
    assert [c["name"] for c in by_number.rows] == ["Bob"]

    one = await queries.contact(A, "100@s.whatsapp.net")
    assert one is not None and one["name"] == "alice"
    assert await queries.contact(B, "100@s.whatsapp.net") is None
    assert set(view.waits) == {("contacts",)}


# ---- groups and identities -------------------------------------------------------------------

G1 = "120363000000000001@g.us"
G2 = "120363000000000002@g.us"
G3 = "120363000000000003@g.us"
ME = "79009990000@s.whatsapp.net"
CAROL_LID = "88000000000003@lid"


def member(jid: str, lid: str | None = None, admin: bool = False) -> dict[str, Any]:
    return {"jid": jid, "lid": lid, "isAdmin": admin, "isSuperAdmin": False}


async def test_groups_are_listed_by_subject_without_members(view: CatchingUpView, queries: ReadQueries) -> None:
    view.record(A, Connected(instance_id=A, jid=ME), T0)
    synced: list[dict[str, Any]] = [
        {"group_id": G1, "subject": "zebra fans", "participants": [member(ME), member(X)]},
        {"group_id": G2, "subject": "Ants", "created_at": 1_700_000_000, "participants": [member(ME)]},
    ]
    view.record(A, GroupsSynced(instance_id=A, groups=synced), T0)
    view.record(A, GroupJoined(instance_id=A, group_id=G3, subject="Bees", participants=[member(ME)]), T0)
    view.record(B, GroupJoined(instance_id=B, group_id=G1, subject="B's", participants=[member(Y)]), T0)

    listed = await queries.groups(A)
    assert [g["subject"] for g in listed] == ["Ants", "Bees", "zebra fans"]  # case does not order
    assert listed[0] == {
        "id": G2,
        "subject": "Ants",
        "description": None,
        "owner": None,
        "participantsCount": 1,
        "announce": False,
        "locked": False,
        "createdAt": "2023-11-14T22:13:20.000Z",
    }
    view.record(A, GroupUpdated(instance_id=A, group_id=G1, subject="Aardvarks"), T0 + 1)
    view.record(A, GroupParticipantsChanged(instance_id=A, group_id=G3, action="remove", participants=[ME]), T0 + 2)
    assert [g["id"] for g in await queries.groups(A)] == [G1, G2]  # renamed first; we left the bees
    assert [g["subject"] for g in await queries.groups(B)] == ["B's"]
    assert await queries.groups("nobody") == []
    assert set(view.waits) == {("groups",)}


async def test_one_group_with_members_resolved_through_identities(view: CatchingUpView, queries: ReadQueries) -> None:
    members = [member(ME, admin=True), member(X), member(CAROL_LID, lid=CAROL_LID)]
    view.record(A, GroupJoined(instance_id=A, group_id=G1, subject="Club", owner=ME, participants=members), T0)
    view.record(A, IdentityLearned(instance_id=A, lid=CAROL_LID, phone_jid="79003330000@s.whatsapp.net"), T0)
    view.record(A, IdentityLearned(instance_id=A, lid="88000000000001@lid", phone_jid=X), T0)

    group = await queries.group(A, G1)
    assert group is not None
    assert group["subject"] == "Club" and group["owner"] == ME and group["participantsCount"] == 3
    assert "instanceId" not in group and "sortSubject" not in group
    assert group["participants"] == [
        {"jid": ME, "phone": "79009990000", "lid": None, "isAdmin": True, "isSuperAdmin": False},
        {"jid": X, "phone": "111", "lid": "88000000000001@lid", "isAdmin": False, "isSuperAdmin": False},
        {
            "jid": "79003330000@s.whatsapp.net",
            "phone": "79003330000",
            "lid": CAROL_LID,
            "isAdmin": False,
            "isSuperAdmin": False,
        },
    ]
    assert await queries.group(A, G2) is None
    assert await queries.group(B, G1) is None
    assert set(view.waits) == {("groups", "identities")}


async def test_an_identity_by_lid_or_by_phone(view: CatchingUpView, queries: ReadQueries) -> None:
    view.record(A, IdentityLearned(instance_id=A, lid=CAROL_LID, phone_jid="79003330000@s.whatsapp.net"), T0)
    both = {"lid": CAROL_LID, "phoneJid": "79003330000@s.whatsapp.net"}
    assert await queries.identity(A, CAROL_LID) == both
    assert await queries.identity(A, "79003330000@s.whatsapp.net") == both
    assert await queries.identity(A, "79003330000:5@s.whatsapp.net") == both
    assert await queries.identity(B, CAROL_LID) is None
    assert await queries.identity(A, "79000000000@s.whatsapp.net") is None
    assert set(view.waits) == {("identities",)}


# ---- instances and users ---------------------------------------------------------------------


async def test_instances_of_a_user_or_everyone_oldest_first(view: CatchingUpView, queries: ReadQueries) -> None:
    view.record(B, created(B, BOB, "second"), T0 + 5)
    view.record(A, created(A, ALICE, "first"), T0)

    assert [r["name"] for r in await queries.instances(None)] == ["first", "second"]
    assert [r["id"] for r in await queries.instances(BOB)] == [B]
    assert await queries.instances("nobody") == []
    assert view.waits == [("instances",)] * 3


async def test_users_oldest_first_and_active_users_since_a_day(view: CatchingUpView, queries: ReadQueries) -> None:
    for user_id, email, ts in ((BOB, "bob@example.com", T0 + 1), (ALICE, "alice@example.com", T0)):
        event = UserCreated(
            user_id=user_id,
            email=email,
            password_hash="h",
            api_key_hash=email,
            first_name="",
            last_name="",
            role="user",
        )
        view.record(user_id, event, ts)
    view.record(ALICE, UserActive(user_id=ALICE, day=day_of(T0 - 40 * DAY)), T0)
    view.record(BOB, UserActive(user_id=BOB, day=day_of(T0)), T0)

    assert [u["email"] for u in await queries.users()] == ["alice@example.com", "bob@example.com"]
    assert await queries.active_users(day_of(T0 - 30 * DAY)) == 1
    assert await queries.active_users(day_of(T0 - 50 * DAY)) == 2
    assert view.waits == [("users",)] * 3


# ---- usage -----------------------------------------------------------------------------------


async def test_usage_rows_sums_and_the_owner_row(view: CatchingUpView, queries: ReadQueries) -> None:
    view.record(A, created(A, ALICE, "a"), T0 - 3 * DAY)
    view.record(B, created(B, BOB, "b"), T0 - 3 * DAY)
    view.record(A, sent(A, "old", X), T0 - 2 * DAY)
    view.record(A, sent(A, "new", X), T0)
    view.record(A, ApiCallsRecorded(instance_id=A, count=7), T0)
    view.record(B, ApiCallsRecorded(instance_id=B, count=2), T0 - DAY)

    rows = await queries.usage(A, None)
    assert [(r["day"], r["messagesSent"], r["apiCalls"]) for r in rows] == [
        (day_of(T0 - 2 * DAY), 1, 0),
        (day_of(T0), 1, 7),
    ]
    assert [r["day"] for r in await queries.usage(A, day_of(T0 - DAY))] == [day_of(T0)]
    assert len(await queries.usage(None, None)) == 3
    assert [r["instanceId"] for r in await queries.usage(None, day_of(T0 - DAY))] == [B, A]

    per_instance = await queries.usage_per_instance([A, B, "gone"], day_of(T0 - DAY))
    assert per_instance[A]["messagesSent"] == 1 and per_instance[A]["apiCalls"] == 7
    assert per_instance[B]["apiCalls"] == 2 and per_instance["gone"]["apiCalls"] == 0
    total = await queries.total_usage()
    assert total["messagesSent"] == 2 and total["apiCalls"] == 9
    assert set(view.waits) == {("stats",)}

    limits = {"maxApiCalls": 1, "period": "day"}
    usage = {"messagesSent": 1, "apiCalls": 7}
    exceeded = LimitExceeded(
        instance_id=A, exceeded_limits=["maxApiCalls"], usage=usage, limits=limits, period_key="p1"
    )
    view.record(A, exceeded, T0)
    await queries.usage(A, None)  # the limit check waits here, then reads the owner row
    owner = await queries.instance_owner(A)
    assert owner is not None and owner["userId"] == ALICE and owner["limitNotified"] == ["p1"]
    assert await queries.instance_owner("gone") is None


# ---- webhooks --------------------------------------------------------------------------------


async def test_deliveries_page_by_status_latest_first_and_one_delivery(
    view: CatchingUpView, queries: ReadQueries
) -> None:
    view.record(A, created(A, ALICE, "a", **HOOK), T0)
    view.record(B, created(B, BOB, "b", **HOOK), T0)
    for i in range(3):
        view.record(A, sent(A, f"m{i}", X), T0 + i)
    view.record(B, sent(B, "b0", X), T0)

    every = await queries.deliveries(A, skip=0, limit=2)
    assert every.total == 3
    assert [r["position"] for r in every.rows] == sorted((r["position"] for r in every.rows), reverse=True)
    oldest = (await queries.deliveries(A, skip=2, limit=2)).rows
    assert len(oldest) == 1 and oldest[0]["position"] < every.rows[-1]["position"]

    def fail(delivery_id: str, error: str) -> None:
        event = WebhookFailed(
            instance_id=A, delivery_id=delivery_id, event_type="message_sent", attempts=3, error=error
        )
        view.record(webhook_stream_id(A), event, T0 + 10)

    fail(oldest[0]["id"], "boom")
    failed = await queries.deliveries(A, status="failed")
    assert [r["id"] for r in failed.rows] == [oldest[0]["id"]] and failed.total == 1
    assert (await queries.deliveries(A, status="pending")).total == 2
    assert set(view.waits) == {("outbox",)}

    row = await queries.delivery(oldest[0]["id"])
    assert row is not None and row["status"] == "failed" and row["lastError"] == "boom"
    assert await queries.delivery("nope") is None

    view.waits.clear()
    fail(every.rows[0]["id"], "later")
    still = await queries.delivery(every.rows[0]["id"])
    assert still is not None and still["status"] == "pending"  # one delivery is read as it stands: no wait
    assert view.waits == []


# ---- how every query runs --------------------------------------------------------------------


class ThreadRecordingStore(SQLiteReadModelStore):
    """The real store, noting which thread each read runs in and whether the limiter was held."""

    def __init__(self, path: str, limiter: trio.CapacityLimiter) -> None:
        super().__init__(path)
        self.limiter = limiter
        self.reads: list[tuple[str, threading.Thread, int]] = []

    def _note(self, name: str) -> None:
        self.reads.append((name, threading.current_thread(), self.limiter.borrowed_tokens))

    def get(self, collection: Collection, key: str) -> dict[str, Any] | None:
        self._note("get")
        return super().get(collection, key)

    def find(self, collection: Collection, query: Query) -> list[dict[str, Any]]:
        self._note("find")
        return super().find(collection, query)

    def count(self, collection: Collection, query: Query) -> int:
        self._note("count")
        return super().count(collection, query)


def every_query(q: ReadQueries) -> list[Callable[[], Awaitable[object]]]:
    return [
        lambda: q.message_by_idempotency_key(A, "k"),
        lambda: q.chats(A, 0, 10),
        lambda: q.chat_messages(A, X, start_ms=T0),
        lambda: q.message(A, "m"),
        lambda: q.contacts(A, search="x"),
        lambda: q.contact(A, X),
        lambda: q.groups(A),
        lambda: q.group(A, "1@g.us"),
        lambda: q.identity(A, X),
        lambda: q.instances(None),
        lambda: q.users(),
        lambda: q.active_users("2023-11-01"),
        lambda: q.usage(A, None),
        lambda: q.usage_per_instance([A, B], None),
        lambda: q.total_usage(),
        lambda: q.instance_owner(A),
        lambda: q.deliveries(A, status="failed"),
        lambda: q.delivery("d"),
    ]


async def test_every_query_reads_in_one_worker_thread_hop_under_the_limiter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    limiter = trio.CapacityLimiter(1)
    store = ThreadRecordingStore(str(tmp_path / "rm.db"), limiter)
    store.ensure(tuple(c for p in PROJECTIONS for c in p.collections))
    queries = ReadQueries(CatchingUpView(store), limiter)
    hops: list[object] = []
    real_run_sync = trio.to_thread.run_sync

    async def counting_run_sync(fn: Callable[[], object], *, limiter: trio.CapacityLimiter | None = None) -> object:
        hops.append(limiter)
        return await real_run_sync(fn, limiter=limiter)

    monkeypatch.setattr(trio.to_thread, "run_sync", counting_run_sync)
    try:
        for query in every_query(queries):
            hops.clear()
            store.reads.clear()
            await query()
            assert hops == [limiter], "one thread hop, under the queries' limiter"
            assert store.reads, "the query reads the store"
            for name, thread, borrowed in store.reads:
                assert thread is not threading.main_thread(), f"{name} ran on the event loop's thread"
                assert borrowed == 1
    finally:
        store.close()


async def test_the_current_store_is_read_at_each_call(tmp_path: Path) -> None:
    first, second = open_store(tmp_path / "one.db"), open_store(tmp_path / "two.db")
    view = CatchingUpView(first)
    queries = ReadQueries(view, trio.CapacityLimiter(1))
    view.record(A, created(A, ALICE, "before the switch"), T0)
    assert [r["name"] for r in await queries.instances(None)] == ["before the switch"]

    view.rm = second  # a store switch replaces the store under the same view
    assert await queries.instances(None) == []
    view.record(B, created(B, ALICE, "after the switch"), T0 + 1)
    assert [r["name"] for r in await queries.instances(ALICE)] == ["after the switch"]
    first.close()
    second.close()


class Holder:
    """Something with read models, as the web layer's services are."""

    def __init__(self, read_models: CatchingUpView) -> None:
        self.read_models = read_models
