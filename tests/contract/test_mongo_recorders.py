"""eventsourcing's own recorder conformance suites, run on the MongoDB recorders.

Plus what the suites do not cover: gap-free ids under real cross-client write conflicts, the
`ts` field and timeline indexes, and an eventsourcing Application on `MongoFactory`.
"""

from __future__ import annotations

import threading
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import (
    InfrastructureFactory,
    IntegrityError,
    ProgrammingError,
    StoredEvent,
    Tracking,
)
from eventsourcing.utils import Environment
from pymongo import MongoClient

from wamux.adapters.eventlog.codec import to_stored
from wamux.adapters.eventlog.mongo import (
    MongoAggregateRecorder,
    MongoApplicationRecorder,
    MongoDatastore,
    MongoFactory,
    MongoProcessRecorder,
    MongoTrackingRecorder,
    open_mongo_recorder,
)
from wamux.adapters.eventlog.timeline import TimelineRecorder
from wamux.domain.events import MessageSent

# eventsourcing's suites import its AES cipher, which needs the `eventsourcing[crypto]` extra.
pytest.importorskip("Crypto", reason="eventsourcing's recorder suites need pycryptodome (eventsourcing[crypto])")
from eventsourcing.tests import persistence as es

pytestmark = pytest.mark.mongo


class _MongoDb:
    """Mixin for the unittest suites: a fresh database per test, datastores closed afterwards."""

    mongo_url: str
    _datastores: list[MongoDatastore]

    @pytest.fixture(autouse=True)
    def _mongo_database(self, mongo_db_url: str) -> Any:
        self.mongo_url = mongo_db_url
        self._datastores = []
        yield
        for datastore in self._datastores:
            datastore.close()

    def datastore(self) -> MongoDatastore:
        datastore = MongoDatastore(self.mongo_url)
        self._datastores.append(datastore)
        return datastore


class TestMongoAggregateRecorder(_MongoDb, es.AggregateRecorderTestCase):
    def create_recorder(self) -> MongoAggregateRecorder:
        recorder = MongoAggregateRecorder(self.datastore(), events_collection_name="stored_snapshots")
        recorder.create_table()
        return recorder


class TestMongoApplicationRecorder(_MongoDb, es.ApplicationRecorderTestCase[MongoApplicationRecorder]):
    def create_recorder(self) -> MongoApplicationRecorder:
        recorder = MongoApplicationRecorder(self.datastore())
        recorder.create_table()
        return recorder

    def test_insert_subscribe(self) -> None:
        # Optional in eventsourcing's suite (SQLite has no subscribe); change streams give us one.
        self.optional_test_insert_subscribe()

    def test_tracking_needs_a_process_recorder(self) -> None:
        recorder = self.create_recorder()
        with self.assertRaises(ProgrammingError):
            recorder.insert_events([], tracking=Tracking("upstream", 1))


class TestMongoNonInterleavingNotificationIds(_MongoDb, es.NonInterleavingNotificationIDsBaseCase):
    def create_recorder(self) -> MongoApplicationRecorder:
        recorder = MongoApplicationRecorder(self.datastore())
        recorder.create_table()
        return recorder


class TestMongoTrackingRecorder(_MongoDb, es.TrackingRecorderTestCase):
    def create_recorder(self) -> MongoTrackingRecorder:
        recorder = MongoTrackingRecorder(self.datastore())
        recorder.create_table()
        return recorder


class TestMongoProcessRecorder(_MongoDb, es.ProcessRecorderTestCase):
    def create_recorder(self) -> MongoProcessRecorder:
        recorder = MongoProcessRecorder(self.datastore())
        recorder.create_table()
        return recorder


class _CustomTrackingRecorder(MongoTrackingRecorder):
    pass


class TestMongoFactory(_MongoDb, es.InfrastructureFactoryTestCase[MongoFactory]):
    def setUp(self) -> None:
        self.env = Environment("TestCase")
        self.env[InfrastructureFactory.PERSISTENCE_MODULE] = "wamux.adapters.eventlog.mongo"
        self.env[MongoFactory.MONGODB_URL] = self.mongo_url
        super().setUp()

    def expected_factory_class(self) -> type[MongoFactory]:
        return MongoFactory

    def expected_aggregate_recorder_class(self) -> type[MongoAggregateRecorder]:
        return MongoAggregateRecorder

    def expected_application_recorder_class(self) -> type[MongoApplicationRecorder]:
        return MongoApplicationRecorder

    def expected_tracking_recorder_class(self) -> type[MongoTrackingRecorder]:
        return MongoTrackingRecorder

    def tracking_recorder_subclass(self) -> type[MongoTrackingRecorder]:
        return _CustomTrackingRecorder

    def expected_process_recorder_class(self) -> type[MongoProcessRecorder]:
        return MongoProcessRecorder

    def test_url_is_required(self) -> None:
        env = Environment("TestCase", {InfrastructureFactory.PERSISTENCE_MODULE: "wamux.adapters.eventlog.mongo"})
        with self.assertRaises(OSError):
            InfrastructureFactory.construct(env)


# ---- beyond eventsourcing's suites ------------------------------------------------------------


def test_ids_stay_gap_free_across_clients(mongo_db_url: str) -> None:
    """Two clients (as two processes would) append concurrently: their transactions really
    conflict on the counter, yet ids come out 1..N, each batch contiguous."""
    recorders = [open_mongo_recorder(mongo_db_url) for _ in range(2)]
    batches: dict[str, list[int]] = {}
    errors: list[BaseException] = []

    def append(recorder: MongoApplicationRecorder, worker: int) -> None:
        try:
            for n in range(15):
                oid = uuid4()
                events = [StoredEvent(oid, v, "t", b"{}") for v in range(1, 4)]
                batches[f"{worker}-{n}"] = list(recorder.insert_events(events) or [])
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=append, args=(recorders[i % 2], i)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert all(ids == list(range(ids[0], ids[0] + 3)) for ids in batches.values())
    assert sorted(i for ids in batches.values() for i in ids) == list(range(1, 181))
    notifications = recorders[0].select_notifications(None, 1000)
    assert [n.id for n in notifications] == list(range(1, 181))
    assert recorders[1].max_notification_id() == 180
    for r in recorders:
        r.datastore.close()


def test_duplicate_rolls_back_ids_and_tracking(mongo_db_url: str) -> None:
    recorder = MongoProcessRecorder(MongoDatastore(mongo_db_url))
    recorder.create_table()
    oid = uuid4()
    assert recorder.insert_events([StoredEvent(oid, 1, "t", b"{}")], tracking=Tracking("up", 1)) == [1]
    with pytest.raises(IntegrityError):
        recorder.insert_events(
            [StoredEvent(oid, 2, "t", b"{}"), StoredEvent(oid, 1, "t", b"{}")], tracking=Tracking("up", 2)
        )
    assert recorder.max_tracking_id("up") == 1
    assert recorder.max_notification_id() == 1
    assert [e.originator_version for e in recorder.select_events(oid)] == [1]
    assert recorder.insert_events([StoredEvent(oid, 2, "t", b"{}")], tracking=Tracking("up", 2)) == [2]
    recorder.datastore.close()


def test_ts_field_and_timeline_indexes(mongo_db_url: str) -> None:
    recorder = open_mongo_recorder(mongo_db_url)
    assert isinstance(recorder, TimelineRecorder)
    stream = uuid4()
    ids = recorder.insert_events(
        [
            to_stored(str(stream), 1, MessageSent("i", "m1", "to", "text", body="hi"), 1_700_000_000_123),
            StoredEvent(stream, 2, "foreign", b"not json"),
        ]
    )
    assert ids == [1, 2]
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_db_url, uuidRepresentation="standard")
    try:
        docs = list(client.get_default_database()["stored_events"].find({}, {"_id": 1, "ts": 1, "originator_id": 1}))
        assert [(d["_id"], d["ts"]) for d in docs] == [(1, 1_700_000_000_123), (2, 0)]
        assert docs[0]["originator_id"] == stream  # stored as a native UUID
        keys = {
            name: [k for k, _ in info["key"]]
            for name, info in client.get_default_database()["stored_events"].index_information().items()
        }
        assert keys["timeline"] == ["originator_id", "ts", "_id"]
        assert keys["topic_timeline"] == ["originator_id", "topic", "ts", "_id"]
        assert keys["originator_version"] == ["originator_id", "originator_version"]
    finally:
        client.close()
        recorder.datastore.close()


def test_process_recorder_has_the_timeline(mongo_db_url: str) -> None:
    recorder = MongoProcessRecorder(MongoDatastore(mongo_db_url))
    recorder.create_table()
    stream = uuid4()
    recorder.insert_events([to_stored(str(stream), 1, MessageSent("i", "m", "to", "text"), 5)])
    assert [n.id for n in recorder.select_timeline(stream, start_ts=5, end_ts=5)] == [1]
    assert recorder.count_timeline(stream) == 1
    recorder.datastore.close()


class _Dog(Aggregate):
    @event("Registered")
    def __init__(self, name: str) -> None:
        self.name = name
        self.tricks: list[str] = []

    @event("TrickAdded")
    def add_trick(self, trick: str) -> None:
        self.tricks.append(trick)


def test_an_application_runs_on_the_factory(mongo_db_url: str) -> None:
    env = {"PERSISTENCE_MODULE": "wamux.adapters.eventlog.mongo", "MONGODB_URL": mongo_db_url}
    app: Application[UUID] = Application(env=env)
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
    assert [n.id for n in app.recorder.select_notifications(None, 10)] == [1, 2, 3]
    app.close()
