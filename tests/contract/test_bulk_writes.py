"""Bulk writes of the event log, on SQLite, MongoDB and PostgreSQL: what they must keep of one-by-one writes.

- eventsourcing's own recorder suites, run on our SQLite recorders (the MongoDB and PostgreSQL ones run in
  `test_mongo_recorders.py` and `test_postgres_recorders.py`);
- a batch insert returns the positions one-by-one inserts give, in order, and stores the same rows;
- a conflicting batch (a taken originator version, or the same one twice) raises eventsourcing's
  IntegrityError and writes nothing of the batch;
- the store switch's copy (`wamux.run.store_copy`) gives the target every record byte for byte at
  the same position, with its indexes; appends on the target go on after the last copied id.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
import trio
from eventsourcing.persistence import IntegrityError, Notification, StoredEvent
from eventsourcing.popo import POPOApplicationRecorder
from eventsourcing.sqlite import SQLiteDatastore
from pymongo import MongoClient

from tests.postgres_fixture import PostgresServer
from wamux.adapters.eventlog.codec import to_stored
from wamux.adapters.eventlog.mongo import open_mongo_recorder
from wamux.adapters.eventlog.postgres import open_postgres_recorder
from wamux.adapters.eventlog.sqlite import (
    BULK_MIN_ROWS,
    SQLiteTimelineProcessRecorder,
    SQLiteTimelineRecorder,
    open_sqlite_recorder,
)
from wamux.adapters.eventlog.timeline import TimelineRecorder
from wamux.domain.events import Connected, MessageReceived
from wamux.run.store_copy import SwitchFailed, bulk_copy_log, copy_log

pytest.importorskip("Crypto", reason="eventsourcing's recorder suites need pycryptodome (eventsourcing[crypto])")
from eventsourcing.tests import persistence as es

# ---- eventsourcing's suites on the SQLite recorders ---------------------------------------------


class _SQLiteFile:
    """Mixin for the unittest suites: a fresh database file per test, datastores closed afterwards."""

    _path: Path
    _datastores: list[SQLiteDatastore]

    @pytest.fixture(autouse=True)
    def _sqlite_file(self, tmp_path: Path) -> Iterator[None]:
        self._path = tmp_path / "events.db"
        self._datastores = []
        yield
        for datastore in self._datastores:
            datastore.close()

    def datastore(self) -> SQLiteDatastore:
        datastore = SQLiteDatastore(db_name=str(self._path), lock_timeout=10, pool_size=4, max_overflow=8)
        self._datastores.append(datastore)
        return datastore


class TestSQLiteTimelineRecorder(_SQLiteFile, es.ApplicationRecorderTestCase[SQLiteTimelineRecorder]):
    def create_recorder(self) -> SQLiteTimelineRecorder:
        recorder = SQLiteTimelineRecorder(self.datastore())
        recorder.create_table()
        return recorder


class TestSQLiteTimelineProcessRecorder(_SQLiteFile, es.ProcessRecorderTestCase):
    def create_recorder(self) -> SQLiteTimelineProcessRecorder:
        recorder = SQLiteTimelineProcessRecorder(self.datastore())
        recorder.create_table()
        return recorder


# ---- both backends --------------------------------------------------------------------------------


class Opener:
    """Opens fresh, empty recorders of one backend (as many as a test needs)."""

    def __init__(
        self, name: str, tag: str, tmp_path: Path, mongo_url: str | None, postgres: PostgresServer | None = None
    ) -> None:
        self.name = name
        self.tag = tag
        self.tmp_path = tmp_path
        self.mongo_url = mongo_url
        self.postgres = postgres
        self.databases: list[str] = []  # PostgreSQL databases created for the recorders, dropped at the end
        self.urls: dict[int, str] = {}  # id(recorder) -> its PostgreSQL URL
        self.opened: list[TimelineRecorder] = []

    def __call__(self) -> TimelineRecorder:
        n = len(self.opened)
        if self.name == "sqlite":
            recorder: TimelineRecorder = open_sqlite_recorder(str(self.tmp_path / f"events{n}.db"))
        elif self.name == "postgres":
            assert self.postgres is not None
            self.databases.append(f"t_{uuid.uuid4().hex[:12]}_{self.tag}{n}")
            url = self.postgres.url_for(self.databases[-1])
            recorder = open_postgres_recorder(url)
            self.urls[id(recorder)] = url
        else:
            assert self.mongo_url is not None
            base, _, query = self.mongo_url.partition("?")
            recorder = open_mongo_recorder(f"{base}_{self.tag}{n}" + (f"?{query}" if query else ""))
        self.opened.append(recorder)
        return recorder

    def close(self) -> None:
        for recorder in self.opened:
            recorder.datastore.close()  # type: ignore[attr-defined]
        for database in self.databases:
            assert self.postgres is not None
            self.postgres.drop(database)


def _open(name: str, tag: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    url = str(request.getfixturevalue("mongo_db_url")) if name == "mongo" else None
    postgres = request.getfixturevalue("postgres_server") if name == "postgres" else None
    (tmp_path / tag).mkdir()
    opener = Opener(name, tag, tmp_path / tag, url, postgres)
    yield opener
    opener.close()
    if url is not None:
        client: MongoClient[dict[str, Any]] = MongoClient(url)
        for n in range(len(opener.opened)):
            client.drop_database(f"{client.get_default_database().name}_{tag}{n}")
        client.close()


BACKENDS = [
    "sqlite",
    pytest.param("mongo", marks=pytest.mark.mongo),
    pytest.param("postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    yield from _open(request.param, "a", request, tmp_path)


@pytest.fixture(params=BACKENDS)
def other(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """A second backend, for copies between any two."""
    yield from _open(request.param, "b", request, tmp_path)


def _events(streams: list[UUID], n: int, first_version: dict[UUID, int] | None = None) -> list[StoredEvent]:
    """n records round robin over the streams, as the app encodes them (every other one a `connected`)."""
    versions = dict(first_version or dict.fromkeys(streams, 0))
    out = []
    for i in range(n):
        stream = streams[i % len(streams)]
        versions[stream] += 1
        event: Any = (
            Connected(instance_id=str(stream), jid=f"{i}@s.whatsapp.net")
            if i % 2
            else MessageReceived(
                instance_id=str(stream),
                message_id=f"m{i}",
                chat_jid="7900@s.whatsapp.net",
                sender_jid="7900@s.whatsapp.net",
                message_type="text",
                body=f"hello {i} ü",
            )
        )
        out.append(to_stored(str(stream), versions[stream], event, 1_700_000_000_000 + i * 7 % 1000))
    return out


def _rows(recorder: TimelineRecorder) -> list[tuple[int, str, int, str, bytes]]:
    return [
        (n.id, str(n.originator_id), n.originator_version, n.topic, bytes(n.state))
        for n in recorder.select_notifications(start=None, limit=10**7)
    ]


def _ts(opener: Opener, recorder: TimelineRecorder) -> dict[int, int]:
    """The `ts` stored next to each record, by notification id."""
    if opener.name == "sqlite":
        path = recorder.datastore.pool.db_name  # type: ignore[attr-defined]
        with sqlite3.connect(path) as conn:
            return dict(conn.execute("SELECT rowid, ts FROM stored_events").fetchall())
    if opener.name == "postgres":
        with psycopg.connect(opener.urls[id(recorder)]) as pg:
            return dict(pg.execute("SELECT notification_id, ts FROM stored_events").fetchall())
    events = recorder.events  # type: ignore[attr-defined]
    return {d["_id"]: d["ts"] for d in events.find({}, {"ts": 1})}


def _indexes(opener: Opener, recorder: TimelineRecorder) -> set[str]:
    if opener.name == "sqlite":
        path = recorder.datastore.pool.db_name  # type: ignore[attr-defined]
        with sqlite3.connect(path) as conn:
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type='index' AND tbl_name='stored_events'")
            return {r[0] for r in rows}
    if opener.name == "postgres":
        with psycopg.connect(opener.urls[id(recorder)]) as pg:
            names = pg.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'stored_events'").fetchall()
            return {r[0] for r in names}
    return set(recorder.events.index_information())  # type: ignore[attr-defined]


@pytest.mark.parametrize("size", [2, BULK_MIN_ROWS - 1, BULK_MIN_ROWS, 500])
def test_a_batch_gets_the_positions_one_by_one_inserts_get(backend: Opener, size: int) -> None:
    streams = [uuid4() for _ in range(7)]
    before = _events(streams, 45)  # the log is not empty: positions start after 45
    batch = _events(streams, size, {s: sum(1 for e in before if e.originator_id == s) for s in streams})
    together, one_by_one = backend(), backend()
    for recorder in (together, one_by_one):
        recorder.insert_events(before[:20])
        recorder.insert_events(before[20:])

    ids = together.insert_events(batch)
    singles = [id_ for record in batch for id_ in (one_by_one.insert_events([record]) or [])]

    assert list(ids or []) == singles == list(range(46, 46 + size))
    assert _rows(together) == _rows(one_by_one)
    assert _ts(backend, together) == _ts(backend, one_by_one)
    assert together.max_notification_id() == 45 + size


@pytest.mark.parametrize("size", [5, 300])
@pytest.mark.parametrize("where", ["first", "middle", "last", "twice in the batch"])
def test_a_conflicting_batch_raises_and_writes_nothing_of_it(backend: Opener, size: int, where: str) -> None:
    streams = [uuid4() for _ in range(3)]
    recorder = backend()
    recorder.insert_events(_events(streams, 30))
    rows = _rows(recorder)
    batch = _events(streams, size, dict.fromkeys(streams, 10))  # versions after the stored ones
    if where == "twice in the batch":
        batch.append(batch[size // 2])
    else:
        taken = {"first": 0, "middle": size // 2, "last": size - 1}[where]
        batch[taken] = _events(streams, 3)[taken % 3]  # a version the log has already

    with pytest.raises(IntegrityError):
        recorder.insert_events(batch)

    assert _rows(recorder) == rows
    assert recorder.max_notification_id() == 30
    assert recorder.insert_events(_events(streams[:1], 1, {streams[0]: 10})) == [31]  # no id was used up


def _fill(recorder: TimelineRecorder, streams: list[UUID], n: int, per_insert: int) -> list[StoredEvent]:
    versions = dict.fromkeys(streams, 0)
    records = []
    for start in range(0, n, per_insert):
        part = _events(streams, min(per_insert, n - start), versions)
        for record in part:
            versions[record.originator_id] = record.originator_version  # type: ignore[index]
        recorder.insert_events(part)
        records.extend(part)
    return records


async def test_the_switch_copy_keeps_every_record_byte_for_byte(backend: Opener, other: Opener) -> None:
    streams = [uuid4() for _ in range(12)]
    source, target = backend(), other()
    _fill(source, streams, 2_345, per_insert=200)
    limiter = trio.CapacityLimiter(4)
    pages: list[int] = []

    position = await bulk_copy_log(source, target, limiter, pages.append, page=500)

    assert position == 2_345 and pages == [500, 1000, 1500, 2000, 2345]
    assert _rows(target) == _rows(source)  # ids, streams, versions, topics, bytes; in order
    assert _ts(other, target) == _ts(backend, source)
    assert _indexes(other, target) == _indexes(other, other())  # the timeline indexes are back
    for stream in streams:
        assert target.select_events(stream) == source.select_events(stream)

    # The catch-up copies what was appended meanwhile, after the last copied position.
    later = _events(streams, 321, {s: len(source.select_events(s)) for s in streams})
    source.insert_events(later)
    assert await copy_log(source, target, position, limiter, pages.append, page=100) == 2_666
    assert _rows(target) == _rows(source)
    # Appends on the target (after the swap) go on from the last copied id.
    assert target.insert_events(_events(streams[:1], 1, {streams[0]: len(target.select_events(streams[0]))})) == [2_667]


async def test_a_copy_onto_a_taken_version_fails(backend: Opener) -> None:
    streams = [uuid4() for _ in range(2)]
    source, target = backend(), backend()
    _fill(source, streams, 50, per_insert=50)
    target.insert_events(_events(streams[:1], 1))  # the target already has version 1 of the first stream
    with pytest.raises(IntegrityError):
        await copy_log(source, target, 0, trio.CapacityLimiter(2), lambda _: None)


async def test_a_target_without_bulk_copy_gets_insert_events_and_positions_are_checked(backend: Opener) -> None:
    streams = [uuid4() for _ in range(3)]
    source = backend()
    _fill(source, streams, 120, per_insert=40)
    target = POPOApplicationRecorder()
    assert await copy_log(source, target, 0, trio.CapacityLimiter(2), lambda _: None, page=50) == 120  # type: ignore[arg-type]
    copied = [
        (n.id, str(n.originator_id), n.originator_version, n.topic, bytes(n.state))
        for n in target.select_notifications(None, 1000)
    ]
    assert copied == _rows(source)

    shifted = POPOApplicationRecorder()
    shifted.insert_events([StoredEvent(uuid4(), 1, "x", b"{}")])  # its ids would be one off
    with pytest.raises(SwitchFailed, match="positions differ"):
        await copy_log(source, shifted, 0, trio.CapacityLimiter(2), lambda _: None)  # type: ignore[arg-type]


def test_copy_in_keeps_the_given_ids(backend: Opener) -> None:
    recorder = backend()
    records = [
        Notification(
            id=i, originator_id=s.originator_id, originator_version=s.originator_version, topic=s.topic, state=s.state
        )
        for i, s in zip((3, 4, 9), _events([uuid4()], 3), strict=True)
    ]
    recorder.copy_in(records)  # type: ignore[attr-defined]
    assert [r[0] for r in _rows(recorder)] == [3, 4, 9]
    assert recorder.max_notification_id() == 9
