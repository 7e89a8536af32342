"""eventsourcing's own recorder conformance suites, run on the PostgreSQL recorders.

Plus what the suites do not cover: gap-free ids after a failed insert and under two "nodes" appending at
once (with a reader tailing the log), the `ts` column and the indexes, `select_rare` through the topic
index (EXPLAIN), the URL parsing, and an eventsourcing Application on `WamuxPostgresFactory`.
"""

from __future__ import annotations

import getpass
import threading
from collections.abc import Iterable, Iterator
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import InfrastructureFactory, IntegrityError, Notification, StoredEvent, Tracking
from eventsourcing.postgres import PostgresAggregateRecorder, PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.utils import Environment

from wamux.adapters.eventlog.codec import to_stored
from wamux.adapters.eventlog.postgres import (
    PostgresTimelineProcessRecorder,
    PostgresTimelineRecorder,
    WamuxPostgresFactory,
    open_postgres_recorder,
    parse_postgres_url,
)
from wamux.domain.events import MessageSent

# eventsourcing's suites import its AES cipher, which needs the `eventsourcing[crypto]` extra.
pytest.importorskip("Crypto", reason="eventsourcing's recorder suites need pycryptodome (eventsourcing[crypto])")
from eventsourcing.tests import persistence as es

pytestmark = pytest.mark.postgres

MODULE = "wamux.adapters.eventlog.postgres"


def _datastore(url: str) -> PostgresDatastore:
    return PostgresDatastore(**parse_postgres_url(url), pool_size=4, max_overflow=8)


class _PostgresDb:
    """Mixin for the unittest suites: a fresh database per test, datastores closed afterwards."""

    postgres_url: str
    _datastores: list[PostgresDatastore]

    @pytest.fixture(autouse=True)
    def _postgres_database(self, postgres_db_url: str) -> Iterator[None]:
        self.postgres_url = postgres_db_url
        self._datastores = []
        yield
        for datastore in self._datastores:
            datastore.close()

    def datastore(self) -> PostgresDatastore:
        datastore = _datastore(self.postgres_url)
        self._datastores.append(datastore)
        return datastore


class TestPostgresAggregateRecorder(_PostgresDb, es.AggregateRecorderTestCase):
    """eventsourcing's own (the factory's snapshot recorder)."""

    def create_recorder(self) -> PostgresAggregateRecorder:
        recorder = PostgresAggregateRecorder(self.datastore(), events_table_name="stored_snapshots")
        recorder.create_table()
        return recorder


class TestPostgresTimelineRecorder(_PostgresDb, es.ApplicationRecorderTestCase[PostgresTimelineRecorder]):
    def create_recorder(self) -> PostgresTimelineRecorder:
        recorder = PostgresTimelineRecorder(self.datastore())
        recorder.create_table()
        return recorder

    def test_insert_subscribe(self) -> None:
        # Optional in eventsourcing's suite; the insert's NOTIFY wakes eventsourcing's LISTEN subscription.
        self.optional_test_insert_subscribe()


class TestPostgresNonInterleavingNotificationIds(_PostgresDb, es.NonInterleavingNotificationIDsBaseCase):
    def create_recorder(self) -> PostgresTimelineRecorder:
        recorder = PostgresTimelineRecorder(self.datastore())
        recorder.create_table()
        return recorder


class TestPostgresTrackingRecorder(_PostgresDb, es.TrackingRecorderTestCase):
    """eventsourcing's own (the factory's tracking recorder)."""

    def create_recorder(self) -> PostgresTrackingRecorder:
        recorder = PostgresTrackingRecorder(self.datastore())
        recorder.create_table()
        return recorder


class TestPostgresTimelineProcessRecorder(_PostgresDb, es.ProcessRecorderTestCase):
    def create_recorder(self) -> PostgresTimelineProcessRecorder:
        recorder = PostgresTimelineProcessRecorder(self.datastore())
        recorder.create_table()
        return recorder


class _CustomTrackingRecorder(PostgresTrackingRecorder):
    pass


class TestWamuxPostgresFactory(_PostgresDb, es.InfrastructureFactoryTestCase[WamuxPostgresFactory]):
    def setUp(self) -> None:
        params = parse_postgres_url(self.postgres_url)
        self.env = Environment("TestCase")
        self.env[InfrastructureFactory.PERSISTENCE_MODULE] = MODULE  # the module has one factory: ours
        self.env[WamuxPostgresFactory.POSTGRES_DBNAME] = params["dbname"]
        self.env[WamuxPostgresFactory.POSTGRES_HOST] = params["host"]
        self.env[WamuxPostgresFactory.POSTGRES_PORT] = str(params["port"])
        self.env[WamuxPostgresFactory.POSTGRES_USER] = params["user"]
        self.env[WamuxPostgresFactory.POSTGRES_PASSWORD] = params["password"]
        super().setUp()

    def expected_factory_class(self) -> type[WamuxPostgresFactory]:
        return WamuxPostgresFactory

    def expected_aggregate_recorder_class(self) -> type[PostgresAggregateRecorder]:
        return PostgresAggregateRecorder

    def expected_application_recorder_class(self) -> type[PostgresTimelineRecorder]:
        return PostgresTimelineRecorder

    def expected_tracking_recorder_class(self) -> type[PostgresTrackingRecorder]:
        return PostgresTrackingRecorder

    def tracking_recorder_subclass(self) -> type[PostgresTrackingRecorder]:
        return _CustomTrackingRecorder

    def expected_process_recorder_class(self) -> type[PostgresTimelineProcessRecorder]:
        return PostgresTimelineProcessRecorder


# ---- beyond eventsourcing's suites ------------------------------------------------------------


@pytest.fixture
def recorder(postgres_db_url: str) -> Iterator[PostgresTimelineRecorder]:
    opened = open_postgres_recorder(postgres_db_url)
    yield opened
    opened.datastore.close()


def _sql(url: str, statement: str, params: Any = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(statement, params).fetchall()


def _records(stream: UUID, versions: Iterable[int], topic: str = "t") -> list[StoredEvent]:
    return [StoredEvent(stream, v, topic, b'{"ts":%d,"data":{}}' % (1000 + v)) for v in versions]


def test_ids_stay_gap_free_after_a_conflicting_insert(recorder: PostgresTimelineRecorder) -> None:
    a, b = uuid4(), uuid4()
    assert recorder.insert_events(_records(a, range(1, 4))) == [1, 2, 3]
    for conflicting in (_records(b, range(1, 3)) + _records(a, range(3, 4)), _records(b, [1, 1])):
        with pytest.raises(IntegrityError):
            recorder.insert_events(conflicting)
    assert recorder.max_notification_id() == 3
    assert recorder.select_events(b) == []
    assert recorder.insert_events(_records(b, range(1, 3))) == [4, 5]  # no id was used up
    assert [n.id for n in recorder.select_notifications(None, 10)] == [1, 2, 3, 4, 5]


def test_a_conflict_rolls_back_the_tracking_too(postgres_db_url: str) -> None:
    recorder = PostgresTimelineProcessRecorder(_datastore(postgres_db_url))
    recorder.create_table()
    oid = uuid4()
    assert recorder.insert_events(_records(oid, range(1, 2)), tracking=Tracking("up", 1)) == [1]
    with pytest.raises(IntegrityError):
        recorder.insert_events(_records(oid, range(2, 3)) + _records(oid, range(1, 2)), tracking=Tracking("up", 2))
    assert (recorder.max_tracking_id("up"), recorder.max_notification_id()) == (1, 1)
    assert recorder.insert_events(_records(oid, range(2, 3)), tracking=Tracking("up", 2)) == [2]
    assert recorder.select_timeline(oid, start_ts=1002, end_ts=1002)[0].id == 2
    recorder.datastore.close()


def test_two_nodes_append_concurrently_gap_free_in_commit_order(postgres_db_url: str) -> None:
    """Two datastores (as two server processes) append from threads while a reader tails the log: every
    batch gets contiguous ids, all ids are 1..N, and the reader, always asking for what follows the last
    id it saw, never meets a gap (an id committed before a lower one would be one)."""
    nodes = [open_postgres_recorder(postgres_db_url) for _ in range(2)]
    batches: dict[str, list[int]] = {}
    errors: list[BaseException] = []
    seen: list[int] = []
    done = threading.Event()

    def append(node: PostgresTimelineRecorder, worker: int) -> None:
        try:
            for n in range(25):
                events = _records(uuid4(), range(1, 2 + (n + worker) % 5))
                ids = list(node.insert_events(events) or [])
                assert len(ids) == len(events)
                batches[f"{worker}-{n}"] = ids
        except BaseException as e:
            errors.append(e)

    def tail() -> None:
        try:
            while True:
                finished = done.is_set()
                after = seen[-1] if seen else 0
                page = nodes[1].select_notifications(after, 50, inclusive_of_start=False)
                assert [n.id for n in page] == list(range(after + 1, after + 1 + len(page))), (after, page[:3])
                seen.extend(n.id for n in page)
                if finished and not page:
                    return
        except BaseException as e:
            errors.append(e)

    reader = threading.Thread(target=tail)
    reader.start()
    writers = [threading.Thread(target=append, args=(nodes[i % 2], i)) for i in range(6)]
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    done.set()
    reader.join()
    assert not errors, errors
    total = sum(len(ids) for ids in batches.values())
    assert all(ids == list(range(ids[0], ids[0] + len(ids))) for ids in batches.values())
    assert sorted(i for ids in batches.values() for i in ids) == list(range(1, total + 1))
    assert seen == list(range(1, total + 1))
    assert nodes[0].max_notification_id() == nodes[1].max_notification_id() == total
    for node in nodes:
        node.datastore.close()


def test_nodes_starting_together_create_the_table_once(postgres_db_url: str) -> None:
    """Without the advisory lock, concurrent CREATE ... IF NOT EXISTS collide in the catalog (pg_type)."""
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []
    datastores = [_datastore(postgres_db_url) for _ in range(4)]

    def start(datastore: PostgresDatastore) -> None:
        try:
            recorder = PostgresTimelineRecorder(datastore)
            barrier.wait()
            recorder.create_table()
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=start, args=(d,)) for d in datastores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for datastore in datastores:
        datastore.close()
    assert not errors, errors


def test_ts_column_ids_and_indexes(recorder: PostgresTimelineRecorder, postgres_db_url: str) -> None:
    stream = uuid4()
    ids = recorder.insert_events(
        [
            to_stored(str(stream), 1, MessageSent("i", "m1", "to", "text", body="hi"), 1_700_000_000_123),
            StoredEvent(stream, 2, "foreign", b"not json"),
        ]
    )
    assert ids == [1, 2]
    rows = _sql(postgres_db_url, "SELECT notification_id, ts, originator_id FROM stored_events ORDER BY 1")
    assert rows == [(1, 1_700_000_000_123, stream), (2, 0, stream)]  # originator_id is a native uuid
    indexes = dict(
        _sql(postgres_db_url, "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'stored_events'")
    )
    assert indexes["stored_events_timeline"].endswith("(originator_id, ts, notification_id)")
    assert indexes["stored_events_topic_timeline"].endswith("(originator_id, topic, ts, notification_id)")
    assert indexes["stored_events_topic"].endswith("(topic, notification_id)")
    assert "UNIQUE" in indexes["stored_events_notification_id_idx"]
    # No sequence: ids are given under the table lock, never drawn (a drawn one is lost on rollback).
    assert _sql(postgres_db_url, "SELECT count(*) FROM pg_sequences") == [(0,)]


def test_copy_in_onto_a_taken_id_writes_nothing(recorder: PostgresTimelineRecorder) -> None:
    stream = uuid4()
    recorder.insert_events(_records(stream, range(1, 3)))

    def page(first_id: int, versions: range) -> list[Notification]:
        return [
            Notification(id=first_id + k, originator_id=s.originator_id, originator_version=s.originator_version,
                         topic=s.topic, state=s.state)
            for k, s in enumerate(_records(uuid4() if first_id else stream, versions))
        ]  # fmt: skip

    with pytest.raises(IntegrityError):
        recorder.copy_in(page(10, range(1, 5)) + page(2, range(1, 2)))  # id 2 is taken
    assert recorder.max_notification_id() == 2
    recorder.copy_in(page(10, range(1, 5)))
    assert [n.id for n in recorder.select_notifications(None, 10)] == [1, 2, 10, 11, 12, 13]
    assert recorder.insert_events(_records(stream, range(3, 4))) == [14]  # appends go on after the copied ids


def _fill(recorder: PostgresTimelineRecorder, n: int) -> None:
    """n records: 95% message_received, 0.1% user_created and instance_created each, the rest connected."""
    streams = [uuid4() for _ in range(50)]
    versions = dict.fromkeys(streams, 0)
    page: list[Notification] = []
    for i in range(1, n + 1):
        topic = {0: "user_created", 1: "instance_created"}.get(i % 1000) or ("connected" if i % 20 == 2 else "m")
        stream = streams[i % len(streams)]
        versions[stream] += 1
        page.append(Notification(id=i, originator_id=stream, originator_version=versions[stream], topic=topic,
                                 state=b'{"ts":%d,"data":{}}' % i))  # fmt: skip
        if len(page) == 5_000:
            recorder.copy_in(page)
            page = []
    recorder.copy_in(page)


def _plan(url: str, statement: Any, params: Any) -> str:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE stored_events")
        rows = conn.execute(psycopg.sql.SQL("EXPLAIN ") + statement, params).fetchall()
    return "\n".join(str(r[0]) for r in rows)


def test_select_rare_goes_through_the_topic_index(recorder: PostgresTimelineRecorder, postgres_db_url: str) -> None:
    _fill(recorder, 40_000)
    rare = ["user_created", "instance_created"]
    for topics in (rare[:1], rare, [*rare, "user_created"]):
        plan = _plan(postgres_db_url, *recorder.select_rare_query(0, 100, topics))
        assert plan.count("Index Scan using stored_events_topic ") == len(set(topics)), plan
        assert "notification_id_idx" not in plan and "Sort " not in plan.replace("Sort Key", ""), plan
    # eventsourcing's `select_notifications` query, kept as it is: with a frequent topic the planner pages
    # in id order (it does not collect and sort every match).
    statement = psycopg.sql.SQL(
        "SELECT * FROM public.stored_events WHERE notification_id > %s AND topic = ANY(%s) "
        "ORDER BY notification_id LIMIT %s"
    )
    for start in (0, 20_000):
        plan = _plan(postgres_db_url, statement, (start, ["m"], 100))
        assert "Index Scan using stored_events_notification_id_idx" in plan and "Sort" not in plan, plan
    # select_rare answers what eventsourcing's query does, page by page, from any start.
    for start in (0, 999, 1000, 17_000, 40_000):
        for limit in (1, 7, 100):
            for topics in (rare[:1], rare, ["connected", "user_created"]):
                expected = recorder.select_notifications(start, limit, topics=topics, inclusive_of_start=False)
                assert recorder.select_rare(start, limit, topics) == expected, (start, limit, topics)
    assert len(recorder.select_rare(0, 1000, rare)) == 80
    assert recorder.select_rare(0, 0, rare) == []


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:p@db.example:6543/wamux", ("wamux", "db.example", 6543, "u", "p")),
        ("postgres://u@10.0.0.1/wamux", ("wamux", "10.0.0.1", 5432, "u", "")),
        ("postgresql://us%40r:p%3Aw%2Fd@[::1]:5433/my%20db", ("my db", "::1", 5433, "us@r", "p:w/d")),
        ("postgresql://u@%2Frun%2Fpostgresql/wamux", ("wamux", "/run/postgresql", 5432, "u", "")),
        ("postgresql://u@/wamux?host=/tmp/sock&port=7000", ("wamux", "/tmp/sock", 7000, "u", "")),
    ],
)
def test_parse_postgres_url(url: str, expected: tuple[Any, ...]) -> None:
    assert parse_postgres_url(url) == dict(zip(("dbname", "host", "port", "user", "password"), expected, strict=True))


@pytest.mark.parametrize(
    "url",
    ["postgresql://u@host", "postgresql://u@host/", "mysql://u@host/db", "postgresql://h:0/db",
     "postgresql://h:port/db", "postgresql://h/db?sslmode=require"],
)  # fmt: skip
def test_parse_postgres_url_rejects(url: str) -> None:
    with pytest.raises(ValueError):
        parse_postgres_url(url)


def test_parse_postgres_url_defaults_the_user_as_libpq_does() -> None:
    assert parse_postgres_url("postgresql://host/db")["user"] == getpass.getuser()


class _Dog(Aggregate):
    @event("Registered")
    def __init__(self, name: str) -> None:
        self.name = name
        self.tricks: list[str] = []

    @event("TrickAdded")
    def add_trick(self, trick: str) -> None:
        self.tricks.append(trick)


def test_an_application_runs_on_the_factory(postgres_db_url: str) -> None:
    params = parse_postgres_url(postgres_db_url)
    env = {"PERSISTENCE_MODULE": MODULE, **{f"POSTGRES_{k.upper()}": str(v) for k, v in params.items()}}
    app: Application[UUID] = Application(env=env)
    assert isinstance(app.recorder, PostgresTimelineRecorder)
    dog = _Dog("Fido")
    dog.add_trick("roll over")
    app.save(dog)
    copy: _Dog = app.repository.get(dog.id)
    assert (copy.name, copy.tricks) == ("Fido", ["roll over"])
    stale: _Dog = app.repository.get(dog.id)
    dog.add_trick("sit")
    app.save(dog)
    stale.add_trick("beg")
    with pytest.raises(IntegrityError):
        app.save(stale)  # the (originator_id, originator_version) fence
    dog.add_trick("beg")
    app.save(dog)
    assert [n.id for n in app.recorder.select_notifications(None, 10)] == [1, 2, 3, 4]  # the conflict used none
    app.close()
