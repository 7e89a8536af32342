"""One contract for every `TimelineRecorder` backend: SQLite (a tmp file), MongoDB and PostgreSQL.

The timeline is (ts, notification id) order over one stream; `after`/`before` are exclusive
(ts, id) cursors, `start_ts`/`end_ts` inclusive bounds. Events are written the way the app
writes them, through `event_codec.to_stored`, so `ts` comes from the encoded state.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.persistence import Notification, StoredEvent
from pymongo import MongoClient

from wamux.adapters.eventlog.codec import from_stored, to_stored
from wamux.adapters.eventlog.mongo import open_mongo_recorder
from wamux.adapters.eventlog.postgres import open_postgres_recorder
from wamux.adapters.eventlog.sqlite import open_sqlite_recorder
from wamux.adapters.eventlog.timeline import TimelineRecorder
from wamux.domain.events import Connected, Disconnected, MessageSent


class Backend:
    """A recorder plus a way to read the raw `ts` stored next to each event."""

    def __init__(self, name: str, recorder: TimelineRecorder, raw_ts: Any) -> None:
        self.name = name
        self.recorder = recorder
        self.raw_ts = raw_ts  # () -> {notification id: ts as stored}


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("mongo", marks=pytest.mark.mongo),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        path = str(tmp_path / "events.db")
        sqlite_recorder = open_sqlite_recorder(path)

        def sqlite_ts() -> dict[int, int]:
            with sqlite3.connect(path) as conn:
                return dict(conn.execute("SELECT rowid, ts FROM stored_events").fetchall())

        yield Backend("sqlite", sqlite_recorder, sqlite_ts)
        sqlite_recorder.datastore.close()
    elif request.param == "postgres":
        pg_url: str = request.getfixturevalue("postgres_db_url")
        postgres_recorder = open_postgres_recorder(pg_url)

        def postgres_ts() -> dict[int, int]:
            with psycopg.connect(pg_url) as conn:
                return dict(conn.execute("SELECT notification_id, ts FROM stored_events").fetchall())

        yield Backend("postgres", postgres_recorder, postgres_ts)
        postgres_recorder.datastore.close()
    else:
        url: str = request.getfixturevalue("mongo_db_url")
        mongo_recorder = open_mongo_recorder(url)
        client: MongoClient[dict[str, Any]] = MongoClient(url)

        def mongo_ts() -> dict[int, int]:
            events = client.get_default_database()["stored_events"]
            return {d["_id"]: d["ts"] for d in events.find({}, {"ts": 1})}

        yield Backend("mongo", mongo_recorder, mongo_ts)
        client.close()
        mongo_recorder.datastore.close()


MSG = "message_sent"
CONN = "connected"
DISC = "disconnected"


def _msg(n: int) -> MessageSent:
    return MessageSent(instance_id="i", message_id=f"m{n}", to="123", message_type="text", body=f"b{n}")


class Stream:
    """Stream A with ts deliberately out of insertion order and ties, interleaved with stream B.

    Insertion (notification id: version, topic, ts):
        1: A1 message_sent 300   2: B1 message_sent 150   3: A2 connected 100
        4: A3 message_sent 200   5: A4 disconnected 200   6: B2 connected 200
        7: A5 message_sent 200   8: A6 message_sent 400
    So A in timeline order is ids 3(100), 4(200), 5(200), 7(200), 1(300), 8(400).
    """

    def __init__(self, recorder: TimelineRecorder) -> None:
        self.a = uuid4()
        self.b = uuid4()
        a, b = str(self.a), str(self.b)
        writes = [
            [to_stored(a, 1, _msg(1), 300)],
            [to_stored(b, 1, _msg(2), 150)],
            [to_stored(a, 2, Connected("i", jid="j"), 100), to_stored(a, 3, _msg(3), 200)],
            [to_stored(a, 4, Disconnected("i", "net", True), 200), to_stored(b, 2, Connected("i"), 200)],
            [to_stored(a, 5, _msg(5), 200)],
            [to_stored(a, 6, _msg(6), 400)],
        ]
        self.ids: list[int] = []
        for batch in writes:
            ids = recorder.insert_events(batch)
            assert ids is not None
            self.ids.extend(ids)


def _ids(notifications: list[Notification]) -> list[int]:
    return [n.id for n in notifications]


@pytest.fixture
def stream(backend: Backend) -> Stream:
    return Stream(backend.recorder)


def test_notification_ids_are_positions(backend: Backend, stream: Stream) -> None:
    assert stream.ids == [1, 2, 3, 4, 5, 6, 7, 8]
    assert backend.recorder.max_notification_id() == 8


def test_ts_index_is_filled_from_the_codec(backend: Backend, stream: Stream) -> None:
    assert backend.raw_ts() == {1: 300, 2: 150, 3: 100, 4: 200, 5: 200, 6: 200, 7: 200, 8: 400}
    # A state that is not ours (no "ts") indexes as 0 instead of failing the insert.
    other = uuid4()
    (nid,) = backend.recorder.insert_events([StoredEvent(other, 1, "foreign", b"\x00 not json")]) or []
    assert backend.raw_ts()[nid] == 0
    assert _ids(backend.recorder.select_timeline(other, start_ts=0, end_ts=0)) == [nid]


def test_order_is_ts_then_id_within_one_stream(backend: Backend, stream: Stream) -> None:
    timeline = backend.recorder.select_timeline(stream.a)
    assert _ids(timeline) == [3, 4, 5, 7, 1, 8]
    assert all(n.originator_id == stream.a for n in timeline)
    assert _ids(backend.recorder.select_timeline(stream.b)) == [2, 6]
    assert backend.recorder.select_timeline(uuid4()) == []


def test_notifications_decode_back_to_domain_events(backend: Backend, stream: Stream) -> None:
    first = backend.recorder.select_timeline(stream.a, limit=1)[0]
    recorded = from_stored(first)
    assert (recorded.stream_id, recorded.version, recorded.timestamp_ms, recorded.position) == (
        str(stream.a),
        2,
        100,
        3,
    )
    assert recorded.event == Connected("i", jid="j")
    assert isinstance(first.originator_id, UUID)


def test_after_and_before_are_exclusive_ts_id_cursors(backend: Backend, stream: Stream) -> None:
    r = backend.recorder
    assert _ids(r.select_timeline(stream.a, after=(200, 4))) == [5, 7, 1, 8]
    assert _ids(r.select_timeline(stream.a, after=(200, 7))) == [1, 8]
    assert _ids(r.select_timeline(stream.a, after=(100, 3))) == [4, 5, 7, 1, 8]
    # A cursor between stored values (no event at ts=250) still bounds correctly.
    assert _ids(r.select_timeline(stream.a, after=(250, 0))) == [1, 8]
    assert _ids(r.select_timeline(stream.a, before=(200, 5))) == [3, 4]
    assert _ids(r.select_timeline(stream.a, before=(300, 1))) == [3, 4, 5, 7]
    assert _ids(r.select_timeline(stream.a, after=(100, 3), before=(300, 1))) == [4, 5, 7]
    assert _ids(r.select_timeline(stream.a, after=(400, 8))) == []
    # Paging forward with the last (ts, id) as cursor walks the whole timeline once.
    seen: list[int] = []
    cursor: tuple[int, int] | None = None
    while page := r.select_timeline(stream.a, after=cursor, limit=2):
        seen += _ids(page)
        last = page[-1]
        cursor = (from_stored(last).timestamp_ms, last.id)
    assert seen == [3, 4, 5, 7, 1, 8]


def test_descending_pages_backwards(backend: Backend, stream: Stream) -> None:
    r = backend.recorder
    assert _ids(r.select_timeline(stream.a, desc=True)) == [8, 1, 7, 5, 4, 3]
    assert _ids(r.select_timeline(stream.a, desc=True, skip=1, limit=3)) == [1, 7, 5]
    assert _ids(r.select_timeline(stream.a, desc=True, before=(200, 7))) == [5, 4, 3]
    assert _ids(r.select_timeline(stream.a, desc=True, after=(200, 4), limit=2)) == [8, 1]


def test_skip_and_limit(backend: Backend, stream: Stream) -> None:
    r = backend.recorder
    assert _ids(r.select_timeline(stream.a, limit=2)) == [3, 4]
    assert _ids(r.select_timeline(stream.a, skip=2, limit=2)) == [5, 7]
    assert _ids(r.select_timeline(stream.a, skip=5)) == [8]
    assert _ids(r.select_timeline(stream.a, skip=6)) == []


def test_topics_filter(backend: Backend, stream: Stream) -> None:
    r = backend.recorder
    assert _ids(r.select_timeline(stream.a, topics=[MSG])) == [4, 7, 1, 8]
    assert _ids(r.select_timeline(stream.a, topics=[CONN, DISC])) == [3, 5]
    # Ties on ts across topics still come out in id order (both ways round, both directions).
    assert _ids(r.select_timeline(stream.a, topics=[MSG, DISC])) == [4, 5, 7, 1, 8]
    assert _ids(r.select_timeline(stream.a, topics=[DISC, MSG])) == [4, 5, 7, 1, 8]
    assert _ids(r.select_timeline(stream.a, topics=[DISC, MSG], desc=True)) == [8, 1, 7, 5, 4]
    assert _ids(r.select_timeline(stream.a, topics=[MSG, DISC], after=(200, 4), limit=2)) == [5, 7]
    assert _ids(r.select_timeline(stream.a, topics=[MSG], after=(200, 4))) == [7, 1, 8]
    assert _ids(r.select_timeline(stream.a, topics=[MSG], desc=True, limit=1)) == [8]
    assert r.select_timeline(stream.a, topics=["nothing_like_this"]) == []
    assert all(n.topic == MSG for n in r.select_timeline(stream.a, topics=[MSG]))


def test_date_bounds_are_inclusive(backend: Backend, stream: Stream) -> None:
    r = backend.recorder
    assert _ids(r.select_timeline(stream.a, start_ts=200)) == [4, 5, 7, 1, 8]
    assert _ids(r.select_timeline(stream.a, end_ts=200)) == [3, 4, 5, 7]
    assert _ids(r.select_timeline(stream.a, start_ts=200, end_ts=300)) == [4, 5, 7, 1]
    assert _ids(r.select_timeline(stream.a, start_ts=201, end_ts=299)) == []
    assert _ids(r.select_timeline(stream.a, start_ts=200, end_ts=300, after=(200, 5))) == [7, 1]
    assert _ids(r.select_timeline(stream.a, start_ts=150, topics=[MSG], desc=True, skip=1)) == [1, 7, 4]


def test_counts_match_the_filters(backend: Backend, stream: Stream) -> None:
    r = backend.recorder
    assert r.count_timeline(stream.a) == 6
    assert r.count_timeline(stream.b) == 2
    assert r.count_timeline(uuid4()) == 0
    assert r.count_timeline(stream.a, topics=[MSG]) == 4
    assert r.count_timeline(stream.a, topics=[CONN, DISC]) == 2
    assert r.count_timeline(stream.a, start_ts=200) == 5
    assert r.count_timeline(stream.a, end_ts=200) == 4
    assert r.count_timeline(stream.a, start_ts=200, end_ts=300, topics=[MSG]) == 3
    assert r.count_timeline(stream.a, start_ts=401) == 0
