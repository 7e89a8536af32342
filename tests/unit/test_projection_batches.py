"""Projections applied per batch give exactly the rows of one event per transaction.

A realistic log (users, instances with webhooks, messages with receipts, edits, reactions, revokes
and polls, chats read, identities learned, contacts, groups, history, usage, webhook results) goes
through every projection of a server three ways on real stores: one event per transaction (`apply`),
the whole log as ONE `apply_all` batch, and in small `apply_all` batches; the read-model rows
(documents and declared columns) must be the same. Then `ReadModels.rebuild` on a real event store
(one read of each batch of the log for all projections) against the same one-by-one baseline.
"""

from __future__ import annotations

import random
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

from tests.unit.messages_rig import ALICE, BOB, GROUP, ME, POLL, received
from wamux.adapters.eventlog.recorder_store import RecorderEventStore
from wamux.adapters.eventlog.sqlite import open_sqlite_recorder
from wamux.adapters.readmodels.mongo import MongoReadModelStore
from wamux.adapters.readmodels.postgres import PostgresReadModelStore
from wamux.adapters.readmodels.sqlite import SQLiteReadModelStore
from wamux.core.ports import Backend, BackendHandle
from wamux.core.projection_runner import ProjectionRunner, ReadModels
from wamux.domain.clock import FixedClock
from wamux.domain.events import (
    ApiCallsRecorded,
    ApiKeyRotated,
    ChatRead,
    Connected,
    ContactSaved,
    ContactsImported,
    DomainEvent,
    GroupJoined,
    GroupParticipantsChanged,
    GroupUpdated,
    HistorySynced,
    IdentityLearned,
    InstanceCreated,
    InstanceDeleted,
    InstanceUpdated,
    LimitExceeded,
    MessageEdited,
    MessageReaction,
    MessageReceived,
    MessageRevoked,
    MessageSent,
    MessageStatusChanged,
    PollVoted,
    RecordedEvent,
    UserCreated,
    UserUpdated,
    WebhookDelivered,
    WebhookFailed,
    WebhookRetryRequested,
    compact_message,
)
from wamux.domain.instances import Instance
from wamux.projections.outbox import delivery_id, webhook_stream_id
from wamux.projections.ports import Projection, Query, ReadModelStore, ReadSession
from wamux.run.bootstrap import all_projections

USER = "0190a5c2-0000-7000-8000-00000000a001"
IID = "0190a5c2-0000-7000-8000-00000000b001"
GONE = "0190a5c2-0000-7000-8000-00000000b002"  # a second instance, deleted at the end
CAROL = "79003330000@s.whatsapp.net"
PEOPLE = [ALICE, BOB, CAROL]
LIDS = {ALICE: "111000111@lid", BOB: "222000222@lid", CAROL: "333000333@lid"}
T0 = 1_700_000_000_000


class Log:
    """Recorded events as the store would number them: a global position, a version per stream."""

    def __init__(self) -> None:
        self.events: list[RecordedEvent] = []
        self.versions: dict[str, int] = {}

    def add(self, stream_id: str, event: DomainEvent) -> RecordedEvent:
        self.versions[stream_id] = self.versions.get(stream_id, 0) + 1
        position = len(self.events) + 1
        recorded = RecordedEvent(stream_id, self.versions[stream_id], T0 + position * 1_000, position, event)
        self.events.append(recorded)
        return recorded


def created(iid: str) -> InstanceCreated:
    body = {"name": f"Main {iid[-1]}", "webhookUrl": "https://hooks.example.com/in", "limits": {"maxApiCalls": 50}}
    (event,) = Instance.create(iid, USER, body)
    assert isinstance(event, InstanceCreated)
    return event


def realistic_log(seed: int = 7, messages: int = 160) -> list[RecordedEvent]:
    rnd = random.Random(seed)
    log = Log()
    log.add(
        USER,
        UserCreated(
            user_id=USER,
            email="ann@example.com",
            password_hash="h",
            api_key_hash="k",
            first_name="Ann",
            last_name="Lee",
            role="user",
        ),
    )
    log.add(USER, UserUpdated(user_id=USER, changes={"firstName": "Anne"}))
    log.add(USER, ApiKeyRotated(user_id=USER, api_key_hash="k2"))
    for iid in (IID, GONE):
        log.add(iid, created(iid))
        log.add(iid, Connected(instance_id=iid, jid=ME, push_name="Me"))
    log.add(IID, InstanceUpdated(instance_id=IID, changes={"description": "the shop"}))
    for iid, person in ((IID, ALICE), (IID, BOB), (GONE, ALICE)):
        log.add(iid, IdentityLearned(instance_id=iid, lid=LIDS[person], phone_jid=person))
    log.add(IID, ContactSaved(instance_id=IID, jid=ALICE, number="79001110000", name="Alice", push_name="Al"))
    log.add(
        IID,
        ContactsImported(
            instance_id=IID,
            contacts=[
                {"jid": BOB, "name": None, "push_name": "Bob", "is_group": False},
                {"jid": CAROL, "name": "Carol", "push_name": None, "is_group": False},
            ],
        ),
    )
    member = [{"jid": j, "lid": None, "isAdmin": j == ME, "isSuperAdmin": False} for j in (ME, ALICE, BOB)]
    log.add(IID, GroupJoined(instance_id=IID, group_id=GROUP, subject="Team", participants=member, by=ME))
    history = [compact_message(received(f"h{n}", ALICE, sent_at=1_690_000_000 + n, push_name="Al")) for n in (1, 2)]
    log.add(IID, HistorySynced(instance_id=IID, messages=history, chats=1))
    incoming: list[RecordedEvent] = []
    sent: list[str] = []
    for n in range(messages):
        iid = IID if n % 5 else GONE
        person = rnd.choice(PEOPLE)
        kind = rnd.random()
        if kind < 0.45:
            in_group = rnd.random() < 0.2
            event: DomainEvent = MessageReceived(
                instance_id=iid,
                message_id=f"in{n}",
                chat_jid=GROUP if in_group else person,
                sender_jid=person,
                message_type="text",
                body=f"hello {n} ✓",
                push_name=person[:5],
                is_group=in_group,
                sent_at=(T0 // 1000) + n,
                from_lid=LIDS[person] if rnd.random() < 0.5 else None,
            )
            incoming.append(log.add(iid, event))
        elif kind < 0.65:
            sent.append(f"out{n}")
            log.add(
                iid,
                MessageSent(
                    instance_id=iid,
                    message_id=f"out{n}",
                    to=person,
                    message_type="poll" if n % 7 == 0 else "text",
                    body=f"reply {n}",
                    poll=POLL if n % 7 == 0 else None,
                ),
            )
        elif kind < 0.75 and sent:
            status = rnd.choice(["delivered", "read", "played"])
            log.add(IID, MessageStatusChanged(instance_id=IID, message_id=rnd.choice(sent), status=status))
        elif kind < 0.8 and incoming:
            target = rnd.choice(incoming).event
            assert isinstance(target, MessageReceived)
            log.add(
                target.instance_id,
                MessageReaction(
                    instance_id=target.instance_id,
                    message_id=target.message_id,
                    chat_jid=target.chat_jid,
                    sender_jid=ME,
                    emoji=rnd.choice(["👍", "", "❤"]),
                    from_me=True,
                ),
            )
        elif kind < 0.84 and incoming:
            target = rnd.choice(incoming).event
            assert isinstance(target, MessageReceived)
            log.add(
                target.instance_id,
                MessageEdited(
                    instance_id=target.instance_id,
                    message_id=target.message_id,
                    chat_jid=target.chat_jid,
                    sender_jid=target.sender_jid,
                    body=f"edited {n}",
                ),
            )
        elif kind < 0.86 and incoming:
            target = rnd.choice(incoming).event
            assert isinstance(target, MessageReceived)
            log.add(
                target.instance_id,
                MessageRevoked(
                    instance_id=target.instance_id,
                    message_id=target.message_id,
                    chat_jid=target.chat_jid,
                    sender_jid=target.sender_jid,
                ),
            )
        elif kind < 0.88 and sent:
            log.add(
                IID,
                PollVoted(
                    instance_id=IID, message_id=sent[0], chat_jid=person, sender_jid=person, selected_options=["sushi"]
                ),
            )
        elif kind < 0.91:
            ids = [r.event.message_id for r in incoming[-3:] if isinstance(r.event, MessageReceived)]
            log.add(iid, ChatRead(instance_id=iid, chat_jid=person, message_ids=ids))
        elif kind < 0.93:
            log.add(IID, IdentityLearned(instance_id=IID, lid=LIDS[person], phone_jid=person))
        elif kind < 0.95:
            log.add(iid, ApiCallsRecorded(instance_id=iid, count=rnd.randint(1, 4)))
        elif kind < 0.96:
            log.add(
                IID,
                GroupParticipantsChanged(instance_id=IID, group_id=GROUP, action="add", participants=[CAROL], by=ME),
            )
        elif kind < 0.97:
            log.add(IID, GroupUpdated(instance_id=IID, group_id=GROUP, subject=f"Team {n}", by=ME))
        elif incoming:  # a webhook result for an earlier event: delivered, failed, then retried
            target_event = rnd.choice(incoming)
            iid = target_event.stream_id
            stream = webhook_stream_id(iid)
            did = delivery_id(target_event)
            if rnd.random() < 0.7:
                log.add(
                    stream,
                    WebhookDelivered(
                        instance_id=iid,
                        delivery_id=did,
                        event_type=target_event.type,
                        status_code=200,
                        attempts=1,
                        latency_ms=12.5,
                    ),
                )
            else:
                log.add(
                    stream,
                    WebhookFailed(
                        instance_id=iid, delivery_id=did, event_type=target_event.type, attempts=3, status_code=500
                    ),
                )
                log.add(stream, WebhookRetryRequested(instance_id=iid, delivery_id=did))
    log.add(
        IID,
        LimitExceeded(
            instance_id=IID,
            exceeded_limits=["maxApiCalls"],
            usage={"apiCalls": 51},
            limits={"maxApiCalls": 50},
            period_key="2023-11-14",
        ),
    )
    log.add(GONE, InstanceDeleted(instance_id=GONE))
    return log.events


def wanted(projection: Projection, events: list[RecordedEvent]) -> list[RecordedEvent]:
    topics = frozenset(projection.topics)
    return [e for e in events if not topics or e.type in topics]


def work_for(projection: Projection, events: list[RecordedEvent]) -> Callable[[ReadSession], None]:
    def work(session: ReadSession) -> None:
        for event in events:
            projection.apply(session, event)

    return work


def one_by_one(rm: ReadModelStore, events: list[RecordedEvent]) -> None:
    projections = all_projections()
    for p in projections:
        rm.ensure(p.collections)
    for event in events:
        for p in projections:
            if wanted(p, [event]):
                rm.apply(p.name, event.position, work_for(p, [event]))


def in_batches(rm: ReadModelStore, events: list[RecordedEvent], size: int) -> None:
    projections = all_projections()
    for p in projections:
        rm.ensure(p.collections)
    for start in range(0, len(events), size):
        batch = events[start : start + size]
        last = batch[-1].position
        failed = rm.apply_all([(p.name, last, work_for(p, wanted(p, batch))) for p in projections])
        assert failed == {}


def sqlite_rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every read-model table (the document's text and each declared column), tracking aside."""
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name LIKE 'rm_%'")]
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY key").fetchall() for t in tables if t != "rm_tracking"}


def postgres_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """`sqlite_rows` on PostgreSQL: the same tables, the same columns in the same order."""
    import psycopg

    with psycopg.connect(url) as conn:
        query = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE 'rm\\_%'"
        tables = [r[0] for r in conn.execute(query)]
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY key").fetchall() for t in tables if t != "rm_tracking"}


def documents(rm: ReadModelStore) -> dict[str, list[dict[str, Any]]]:
    by_key = Query(order=(("key", False),))
    return {c.name: rm.find(c, by_key) for p in all_projections() for c in p.collections}


@pytest.fixture
def sqlite_pair(tmp_path: Path) -> Iterator[tuple[SQLiteReadModelStore, SQLiteReadModelStore]]:
    single, batched = SQLiteReadModelStore(str(tmp_path / "single.db")), SQLiteReadModelStore(str(tmp_path / "b.db"))
    yield single, batched
    single.close()
    batched.close()


def test_the_log_touches_every_projection() -> None:
    events = realistic_log()
    for p in all_projections():
        assert len(wanted(p, events)) >= 3, p.name
    types = {e.type for e in events}
    assert {"webhook_delivered", "webhook_failed", "message_reaction", "chat_read", "identity_learned"} <= types


@pytest.mark.parametrize("size", [len(realistic_log()), 13, 1])
def test_batches_on_sqlite_make_the_rows_of_one_event_per_transaction(
    sqlite_pair: tuple[SQLiteReadModelStore, SQLiteReadModelStore], tmp_path: Path, size: int
) -> None:
    events = realistic_log()
    single, batched = sqlite_pair
    one_by_one(single, events)
    in_batches(batched, events, size)
    expected = sqlite_rows(tmp_path / "single.db")
    assert sum(len(rows) for rows in expected.values()) > 100
    assert sqlite_rows(tmp_path / "b.db") == expected
    # Each projection's position is where the last batch ended (one-by-one: its last event).
    assert {p.name: batched.position(p.name) for p in all_projections()} == dict.fromkeys(
        (p.name for p in all_projections()), events[-1].position
    )


@pytest.mark.mongo
def test_one_batch_on_mongodb_makes_the_rows_of_one_event_per_transaction(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    events = realistic_log(seed=11, messages=80)
    mongod = request.getfixturevalue("mongod_server")
    single, batched = MongoReadModelStore(mongod.url_for("t_single")), MongoReadModelStore(mongod.url_for("t_batch"))
    try:
        one_by_one(single, events)
        in_batches(batched, events, len(events))
        expected = documents(single)
        assert sum(len(rows) for rows in expected.values()) > 50
        assert documents(batched) == expected
        # And the same documents as SQLite's, batch for batch.
        sqlite = SQLiteReadModelStore(str(tmp_path / "rm.db"))
        in_batches(sqlite, events, len(events))
        assert documents(sqlite) == expected
        sqlite.close()
    finally:
        for store, name in ((single, "t_single"), (batched, "t_batch")):
            store.close()
            mongod.client.drop_database(name)


@pytest.mark.postgres
@pytest.mark.parametrize("size", [10_000, 13])
def test_batches_on_postgres_make_the_rows_of_one_event_per_transaction_and_of_sqlite(
    request: pytest.FixtureRequest, tmp_path: Path, size: int
) -> None:
    events = realistic_log(seed=11, messages=80)
    server = request.getfixturevalue("postgres_server")
    names = [f"t_{uuid.uuid4().hex[:16]}" for _ in range(2)]
    single, batched = (PostgresReadModelStore(server.url_for(name)) for name in names)
    try:
        one_by_one(single, events)
        in_batches(batched, events, size)
        expected = postgres_rows(server.url_for(names[0]))
        assert sum(len(rows) for rows in expected.values()) > 50
        assert postgres_rows(server.url_for(names[1])) == expected
        assert {p.name: batched.position(p.name) for p in all_projections()} == dict.fromkeys(
            (p.name for p in all_projections()), events[-1].position
        )
        # Row for row what SQLite holds: the same document text, the same column values (a bool is 0/1 there).
        sqlite = SQLiteReadModelStore(str(tmp_path / "rm.db"))
        in_batches(sqlite, events, size)
        sqlite.close()
        assert sqlite_rows(tmp_path / "rm.db") == expected
        assert documents(batched) == documents(single)
    finally:
        for store, name in ((single, names[0]), (batched, names[1])):
            store.close()
            server.drop(name)


# ---- the runner: rebuild all with one reader --------------------------------------------------


@pytest.fixture
async def event_store(tmp_path: Path) -> AsyncIterator[RecorderEventStore]:
    recorder = open_sqlite_recorder(str(tmp_path / "events.db"))
    store = RecorderEventStore.over(recorder, FixedClock(T0), provider="sqlite")
    async with trio.open_nursery() as nursery:
        await nursery.start(store.run_writer)
        yield store
        nursery.cancel_scope.cancel()
    recorder.datastore.close()


async def test_rebuild_all_reads_each_batch_once_and_makes_the_rows_of_one_by_one(
    event_store: RecorderEventStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    versions: dict[str, int] = {}
    for recorded in realistic_log(messages=400):
        stream = recorded.stream_id
        await event_store.append(stream, [recorded.event], versions.get(stream, 0))
        versions[stream] = versions.get(stream, 0) + 1
    log = await event_store.read_all(0, 100_000)
    baseline = SQLiteReadModelStore(str(tmp_path / "single.db"))
    one_by_one(baseline, log)
    baseline.close()

    rm = SQLiteReadModelStore(str(tmp_path / "rebuilt.db"))
    in_batches(rm, log[:40], 40)  # something to throw away first
    backend = BackendHandle(Backend("sqlite", event_store.recorder, rm))
    limiter = trio.CapacityLimiter(2)
    runners = [ProjectionRunner(p, event_store, backend, limiter) for p in all_projections()]
    models = ReadModels(runners, event_store, backend)
    monkeypatch.setattr("wamux.core.projection_runner.BATCH", 100)
    reads: list[int] = []
    transactions: list[int] = []
    real_read, real_apply_all = event_store.read_all, rm.apply_all

    async def counting_read(after: int, limit: int, topics: Any = (), *, rare: bool = False) -> list[RecordedEvent]:
        reads.append(after)
        return await real_read(after, limit, topics, rare=rare)

    def counting_apply_all(items: Any) -> dict[str, Exception]:
        transactions.append(len(items))
        return real_apply_all(items)

    monkeypatch.setattr(event_store, "read_all", counting_read)
    monkeypatch.setattr(rm, "apply_all", counting_apply_all)
    progress: list[int] = []
    counts = await models.rebuild(None, progress.append)

    batches = -(-len(log) // 100)
    assert len(reads) == batches and len(transactions) == batches  # one read and one transaction per batch
    # every projection with events in the batch is in its transaction (one with none only writes its position
    # once it moved a batch's worth)
    assert all(0 < n <= len(runners) for n in transactions) and transactions[0] == len(runners)
    assert progress[-1] == log[-1].position and progress == sorted(progress)
    assert counts == {p.name: len(wanted(p, log)) for p in all_projections()}
    assert all(r.position == log[-1].position and r.error is None for r in runners)
    rm.close()
    assert sqlite_rows(tmp_path / "rebuilt.db") == sqlite_rows(tmp_path / "single.db")


class Broken:
    """A projection (its name, collections and topics) that cannot apply anything."""

    def __init__(self, projection: Projection) -> None:
        self.name, self.collections, self.topics = projection.name, projection.collections, projection.topics

    def apply(self, session: ReadSession, recorded: RecordedEvent) -> None:
        raise RuntimeError("cannot apply")


async def test_rebuild_stops_with_the_error_of_a_failing_projection(
    event_store: RecorderEventStore, tmp_path: Path
) -> None:
    mine = [recorded.event for recorded in realistic_log(messages=20) if recorded.stream_id == IID]
    for version, event in enumerate(mine):
        await event_store.append(IID, [event], version)
    rm = SQLiteReadModelStore(str(tmp_path / "rm.db"))
    backend = BackendHandle(Backend("sqlite", event_store.recorder, rm))
    limiter = trio.CapacityLimiter(2)
    projections = [Broken(p) if p.name == "contacts" else p for p in all_projections()]
    runners = [ProjectionRunner(p, event_store, backend, limiter) for p in projections]
    models = ReadModels(runners, event_store, backend)
    with pytest.raises(RuntimeError, match="cannot apply"):
        await models.rebuild(["contacts", "messages"])
    by_name = {r.name: r for r in runners}
    assert by_name["contacts"].error == "RuntimeError: cannot apply" and by_name["contacts"].position == 0
    assert rm.position("contacts") == 0
    assert by_name["messages"].position == event_store.head() == rm.position("messages")  # the other one committed
    rm.close()
