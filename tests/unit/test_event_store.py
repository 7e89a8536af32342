"""RecorderEventStore on a real recorder (a tmp SQLite file, a PostgreSQL database): group commit,
timestamps, conflicts, reads, timelines."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from itertools import pairwise
from pathlib import Path

import pytest
import trio

from wamux.adapters.eventlog.postgres import open_postgres_recorder
from wamux.adapters.eventlog.recorder_store import RecorderEventStore
from wamux.adapters.eventlog.sqlite import open_sqlite_recorder
from wamux.adapters.eventlog.timeline import TimelineRecorder
from wamux.core.ports import TimelineQuery
from wamux.domain.clock import FixedClock
from wamux.domain.errors import ConcurrencyConflict
from wamux.domain.events import (
    Connected,
    Disconnected,
    DomainEvent,
    QrReceived,
    ReconnectRequested,
    RecordedEvent,
)
from wamux.domain.ids import new_id

T0 = 1_700_000_000_000


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


class Log:
    """One event log of a backend; `open()` opens (again) a recorder on it."""

    def __init__(self, provider: str, where: str) -> None:
        self.provider = provider
        self.where = where  # a file path or a database URL
        self.opened: list[TimelineRecorder] = []

    def open(self) -> TimelineRecorder:
        recorder: TimelineRecorder = (
            open_sqlite_recorder(self.where) if self.provider == "sqlite" else open_postgres_recorder(self.where)
        )
        self.opened.append(recorder)
        return recorder


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Log]:
    if request.param == "sqlite":
        opened = Log("sqlite", str(tmp_path / "events.db"))
    else:
        opened = Log("postgres", str(request.getfixturevalue("postgres_db_url")))
    yield opened
    for recorder in opened.opened:
        recorder.datastore.close()  # type: ignore[attr-defined]


@pytest.fixture
async def store(log: Log, clock: FixedClock) -> AsyncIterator[RecorderEventStore]:
    s = RecorderEventStore.over(log.open(), clock, provider=log.provider)
    async with trio.open_nursery() as nursery:
        await nursery.start(s.run_writer)
        yield s
        nursery.cancel_scope.cancel()


def qr(sid: str, attempt: int) -> QrReceived:
    return QrReceived(instance_id=sid, qr_code=f"1@{attempt}", attempt=attempt)


async def test_append_and_read_back(store: RecorderEventStore, log: Log) -> None:
    sid = new_id()
    assert store.provider == log.provider and store.head() == 0
    recorded = await store.append(sid, [qr(sid, 1), qr(sid, 2)], 0)
    assert [(r.stream_id, r.version, r.position) for r in recorded] == [(sid, 1, 1), (sid, 2, 2)]
    assert [r.timestamp_ms for r in recorded] == [T0, T0 + 1]
    assert store.head() == 2
    back = await store.read_stream(sid)
    assert back == recorded
    assert await store.read_stream(sid, ("qr_received",)) == recorded  # the typed read carries positions
    assert isinstance(back[1].event, QrReceived) and back[1].event.attempt == 2
    assert await store.stream_version(sid) == 2
    assert await store.stream_version(new_id()) == 0
    assert await store.read_stream(new_id()) == []
    assert await store.append(sid, [], 2) == []


async def test_read_stream_carries_global_positions(store: RecorderEventStore) -> None:
    sid = new_id()
    recorded = await store.append(sid, [qr(sid, 1)], 0)
    assert [r.position for r in await store.read_stream(sid)] == [r.position for r in recorded] == [1]


async def test_head_survives_reopening(log: Log, clock: FixedClock) -> None:
    sid = new_id()
    first = RecorderEventStore.over(log.open(), clock, provider=log.provider)
    async with trio.open_nursery() as nursery:
        await nursery.start(first.run_writer)
        await first.append(sid, [qr(sid, 1), qr(sid, 2), qr(sid, 3)], 0)
        nursery.cancel_scope.cancel()
    first.recorder.datastore.close()  # type: ignore[attr-defined]
    second = RecorderEventStore.over(log.open(), clock, provider=log.provider)
    assert second.head() == 3
    async with trio.open_nursery() as nursery:
        await nursery.start(second.run_writer)
        clock.value = T0 - 60_000  # the wall clock went back; the stream's timestamps must not
        (r,) = await second.append(sid, [qr(sid, 4)], 3)
        assert r.position == 4 and r.version == 4 and r.timestamp_ms == T0 + 3
        nursery.cancel_scope.cancel()
    second.recorder.datastore.close()  # type: ignore[attr-defined]


async def test_group_commit_batches_concurrent_appends(store: RecorderEventStore) -> None:
    streams = [new_id() for _ in range(60)]
    results: dict[str, list[RecordedEvent]] = {}

    async def one(sid: str) -> None:
        results[sid] = await store.append(sid, [qr(sid, 1), Connected(instance_id=sid)], 0)

    async with trio.open_nursery() as nursery:
        for sid in streams:
            nursery.start_soon(one, sid)
    assert store.batches < len(streams), store.batches
    assert store.batches <= 3
    assert store.appended_events == 120 and store.head() == 120
    positions = sorted(r.position for rs in results.values() for r in rs)
    assert positions == list(range(1, 121))  # gap-free, no duplicates
    for sid in streams:
        rs = results[sid]
        assert [r.version for r in rs] == [1, 2]
        assert rs[0].position + 1 == rs[1].position  # one append's events stay together
        assert await store.read_stream(sid) == rs


async def test_timestamps_strictly_increase_per_stream_with_a_frozen_clock(store: RecorderEventStore) -> None:
    a, b = new_id(), new_id()
    version = {a: 0, b: 0}
    stamps: dict[str, list[int]] = {a: [], b: []}

    async def writer(sid: str, n: int) -> None:
        for i in range(n):
            rs = await store.append(sid, [qr(sid, i)] * (1 + i % 3), version[sid])
            version[sid] = rs[-1].version
            stamps[sid].extend(r.timestamp_ms for r in rs)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(writer, a, 15)
        nursery.start_soon(writer, b, 15)
    for sid in (a, b):
        ts = stamps[sid]
        assert all(x < y for x, y in pairwise(ts)), ts
        assert ts[0] == T0  # streams are independent: each starts at the clock
        assert [r.timestamp_ms for r in await store.read_stream(sid)] == ts


async def test_timestamps_follow_a_moving_clock(store: RecorderEventStore, clock: FixedClock) -> None:
    sid = new_id()
    (r1,) = await store.append(sid, [qr(sid, 1)], 0)
    clock.advance(5_000)
    (r2,) = await store.append(sid, [qr(sid, 2)], 1)
    assert (r1.timestamp_ms, r2.timestamp_ms) == (T0, T0 + 5_000)


async def test_wrong_expected_version_conflicts(store: RecorderEventStore) -> None:
    sid = new_id()
    await store.append(sid, [qr(sid, 1), qr(sid, 2)], 0)
    for stale in (0, 1):
        with pytest.raises(ConcurrencyConflict):
            await store.append(sid, [qr(sid, 9)], stale)
    assert [r.version for r in await store.read_stream(sid)] == [1, 2]
    # the stream is still writable at the right version, with a timestamp after the last one
    (r,) = await store.append(sid, [qr(sid, 3)], 2)
    assert r.version == 3 and r.timestamp_ms == T0 + 2


async def test_expected_version_ahead_of_the_stream_conflicts(store: RecorderEventStore) -> None:
    sid = new_id()
    await store.append(sid, [qr(sid, 1)], 0)
    with pytest.raises(ConcurrencyConflict):
        await store.append(sid, [qr(sid, 2)], 5)


async def test_a_conflict_fails_only_its_own_append_in_a_batch(store: RecorderEventStore) -> None:
    """Two appends in the batch: the culprit and one good one (the one-by-one retry path)."""
    a, b = new_id(), new_id()
    await store.append(a, [qr(a, 1)], 0)
    outcome: dict[str, object] = {}

    async def attempt(name: str, sid: str, expected: int) -> None:
        try:
            outcome[name] = await store.append(sid, [ReconnectRequested(instance_id=sid)], expected)
        except ConcurrencyConflict as exc:
            outcome[name] = exc

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(attempt, "stale", a, 0)
            nursery.start_soon(attempt, "good", b, 0)
    assert isinstance(outcome["stale"], ConcurrencyConflict)
    good = outcome["good"]
    assert isinstance(good, list) and good[0].version == 1
    assert [r.type for r in await store.read_stream(b)] == ["reconnect_requested"]
    assert [r.type for r in await store.read_stream(a)] == ["qr_received"]
    assert store.head() == 2


async def test_a_conflict_does_not_fail_the_other_appends_of_the_batch(store: RecorderEventStore) -> None:
    a = new_id()
    others = [new_id() for _ in range(4)]
    await store.append(a, [qr(a, 1)], 0)
    outcome: dict[str, object] = {}

    async def attempt(sid: str, expected: int) -> None:
        try:
            outcome[sid] = await store.append(sid, [ReconnectRequested(instance_id=sid)], expected)
        except ConcurrencyConflict as exc:
            outcome[sid] = exc

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(attempt, others[0], 0)
            nursery.start_soon(attempt, a, 0)  # stale: the stream is at version 1
            for sid in others[1:]:
                nursery.start_soon(attempt, sid, 0)
    assert isinstance(outcome[a], ConcurrencyConflict)
    for sid in others:
        rs = outcome[sid]
        assert isinstance(rs, list) and rs[0].version == 1, rs
    positions = sorted(rs[0].position for sid in others for rs in [outcome[sid]] if isinstance(rs, list))
    assert positions == [2, 3, 4, 5]


async def test_wait_beyond(store: RecorderEventStore) -> None:
    sid = new_id()
    await store.append(sid, [qr(sid, 1)], 0)
    with trio.fail_after(1):
        await store.wait_beyond(0)  # already past: returns at once
    woke_at: list[int] = []

    async def waiter() -> None:
        await store.wait_beyond(1)
        woke_at.append(store.head())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(waiter)
        await trio.testing.wait_all_tasks_blocked()
        assert woke_at == []
        await store.append(sid, [qr(sid, 2)], 1)
    assert woke_at == [2]


async def test_read_all_pages_and_filters_by_type(store: RecorderEventStore) -> None:
    a, b = new_id(), new_id()
    events_a: list[DomainEvent] = [qr(a, 1), Connected(instance_id=a, jid="1@s.whatsapp.net")]
    await store.append(a, events_a, 0)
    await store.append(b, [qr(b, 1)], 0)
    await store.append(a, [Disconnected(instance_id=a, reason="connection_lost", will_reconnect=True)], 2)
    everything = await store.read_all(0, 100)
    assert [(r.position, r.stream_id, r.type) for r in everything] == [
        (1, a, "qr_received"),
        (2, a, "connected"),
        (3, b, "qr_received"),
        (4, a, "disconnected"),
    ]
    assert [r.position for r in await store.read_all(1, 2)] == [2, 3]  # `after` is exclusive
    assert [r.position for r in await store.read_all(4, 10)] == []
    typed = await store.read_all(0, 100, ("connected", "disconnected"))
    assert [r.type for r in typed] == ["connected", "disconnected"]
    assert isinstance(typed[0].event, Connected) and typed[0].event.jid == "1@s.whatsapp.net"
    assert [r.type for r in await store.read_stream(a, ("qr_received",))] == ["qr_received"]


async def test_timeline_queries(store: RecorderEventStore, clock: FixedClock) -> None:
    sid, other = new_id(), new_id()
    version = 0
    for i in range(10):
        event: DomainEvent = qr(sid, i) if i % 2 == 0 else Connected(instance_id=sid)
        (r,) = await store.append(sid, [event], version)
        version = r.version
        await store.append(other, [qr(other, i)], i)
        clock.advance(1_000)
    rows = await store.timeline(TimelineQuery(stream_id=sid))
    assert [r.version for r in rows] == list(range(1, 11))
    assert all(r.stream_id == sid for r in rows)
    ts = [r.timestamp_ms for r in rows]
    assert ts == [T0 + 1_000 * i for i in range(10)]

    newest = await store.timeline(TimelineQuery(stream_id=sid, newest_first=True, skip=1, limit=3))
    assert [r.version for r in newest] == [9, 8, 7]

    typed = await store.timeline(TimelineQuery(stream_id=sid, types=("connected",)))
    assert [r.version for r in typed] == [2, 4, 6, 8, 10]

    cursor = (rows[3].timestamp_ms, rows[3].position)
    after = await store.timeline(TimelineQuery(stream_id=sid, after=cursor, limit=2))
    assert [r.version for r in after] == [5, 6]
    before = await store.timeline(TimelineQuery(stream_id=sid, before=cursor))
    assert [r.version for r in before] == [1, 2, 3]

    window = TimelineQuery(stream_id=sid, start_ms=T0 + 2_000, end_ms=T0 + 5_000)
    assert [r.version for r in await store.timeline(window)] == [3, 4, 5, 6]  # both ends inclusive
    assert await store.count_timeline(window) == 4
    assert await store.count_timeline(TimelineQuery(stream_id=sid, types=("qr_received",))) == 5
    assert await store.count_timeline(TimelineQuery(stream_id=new_id())) == 0


async def test_timeline_ties_are_broken_by_position(store: RecorderEventStore, clock: FixedClock) -> None:
    """Different streams may share a millisecond; one stream never does, and a cursor never skips."""
    sid = new_id()
    recorded = await store.append(sid, [qr(sid, i) for i in range(5)], 0)
    assert len({r.timestamp_ms for r in recorded}) == 5
    seen: list[int] = []
    cursor: tuple[int, int] | None = None
    while True:
        page = await store.timeline(TimelineQuery(stream_id=sid, after=cursor, limit=2))
        if not page:
            break
        seen += [r.version for r in page]
        cursor = (page[-1].timestamp_ms, page[-1].position)
    assert seen == [1, 2, 3, 4, 5]
