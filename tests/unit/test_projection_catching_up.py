"""`ReadModels.synced` while read models catch up at start: wait a bound, then `CatchingUp`; never stale.

Real parts: the SQLite event store and read-model store on tmp files, the real runners. A read model
that started far behind the log (more than one batch) is catching up until it reaches the head it saw;
lag from live traffic is not, and reads wait for it as always.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

from wamux.adapters.eventlog.recorder_store import RecorderEventStore
from wamux.adapters.eventlog.sqlite import open_sqlite_recorder
from wamux.adapters.readmodels.sqlite import SQLiteReadModelStore
from wamux.core.catching_up import CatchUp
from wamux.core.ports import Backend, BackendHandle
from wamux.core.projection_runner import BATCH, ProjectionRunner, ReadModels
from wamux.domain.clock import FixedClock
from wamux.domain.errors import CatchingUp
from wamux.domain.events import QrReceived, RecordedEvent
from wamux.domain.ids import new_id
from wamux.projections.ports import Collection, Query, ReadSession


class Counting:
    """One row per event."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.collection = Collection(f"seen_{name}", {"position": "int"})
        self.collections = (self.collection,)
        self.topics: tuple[str, ...] = ()

    def apply(self, session: ReadSession, event: RecordedEvent) -> None:
        session.put(self.collection, str(event.position), {"position": event.position})


@pytest.fixture
async def parts(tmp_path: Path) -> AsyncIterator[tuple[RecorderEventStore, SQLiteReadModelStore]]:
    recorder = open_sqlite_recorder(str(tmp_path / "events.db"))
    store = RecorderEventStore.over(recorder, FixedClock(1_700_000_000_000), provider="sqlite")
    rm = SQLiteReadModelStore(str(tmp_path / "rm.db"))
    async with trio.open_nursery() as nursery:
        await nursery.start(store.run_writer)
        yield store, rm
        nursery.cancel_scope.cancel()
    rm.close()
    recorder.datastore.close()


async def append(store: RecorderEventStore, count: int) -> None:
    sid = new_id()
    for start in range(0, count, 500):
        events = [
            QrReceived(instance_id=sid, qr_code=f"1@{n}", attempt=n) for n in range(start, min(count, start + 500))
        ]
        await store.append(sid, events, start)


def read_models_of(store: RecorderEventStore, rm: SQLiteReadModelStore, *names: str) -> ReadModels:
    backend = BackendHandle(Backend("sqlite", store.recorder, rm))
    limiter = trio.CapacityLimiter(4)
    return ReadModels([ProjectionRunner(Counting(n), store, backend, limiter) for n in names], store, backend)


async def test_steady_lag_is_never_catching_up(parts: tuple[RecorderEventStore, SQLiteReadModelStore]) -> None:
    store, rm = parts
    await append(store, BATCH)  # behind by one batch at start: not catching up
    read_models = read_models_of(store, rm, "a")
    async with trio.open_nursery() as nursery:
        await nursery.start(read_models.run)
        assert not read_models.catching_up("a")
        await read_models.synced("a")
        await append(store, 3 * BATCH)  # live traffic, however much: reads wait, they never get CatchingUp
        await read_models.synced("a", timeout=30)
        assert read_models.runners["a"].position == store.head()
        assert not read_models.catching_up("a")
        state = read_models.states()["a"]
        assert state == {"position": store.head(), "lag": 0, "catchingUp": False}
        nursery.cancel_scope.cancel()


async def test_a_read_beyond_the_bound_raises_catching_up_then_reads_the_head(
    parts: tuple[RecorderEventStore, SQLiteReadModelStore],
) -> None:
    store, rm = parts
    await append(store, 3 * BATCH)
    head = store.head()
    read_models = read_models_of(store, rm, "a")
    read_models.catch_up_wait_s = 0.0
    go = trio.Event()
    async with trio.open_nursery() as nursery:
        await nursery.start(lambda task_status: read_models.run(begin=go.wait, task_status=task_status))
        assert read_models.catching_up("a")
        assert read_models.states()["a"] == {"position": 0, "lag": head, "catchingUp": True}
        with pytest.raises(CatchingUp) as raised:
            await read_models.synced("a")
        error = raised.value
        assert error.code == "catching_up" and error.retry_after_s >= 1
        assert error.details == {"readModel": "a", "position": 0, "head": head, "progress": 0.0}

        go.set()  # the catch-up goes on; a read then either raises or sees the head, never less
        read_models.catch_up_wait_s = 30.0
        await read_models.synced("a")
        assert read_models.runners["a"].position >= head
        rows = rm.count(Collection("seen_a", {"position": "int"}), Query())
        assert rows == head  # every event once: nothing skipped, nothing applied twice
        assert not read_models.catching_up("a") and read_models.catch_ups.finished.keys() == {"a"}
        nursery.cancel_scope.cancel()


def test_progress_and_eta_come_from_the_measured_rate() -> None:
    catch_up = CatchUp("messages", start=1000, target=11_000, since=100.0)
    error = catch_up.behind(position=4000, head=11_000, now=110.0)  # 3000 positions in 10 s: 300/s
    assert error.details == {
        "readModel": "messages",
        "position": 4000,
        "head": 11_000,
        "progress": 0.3,
        "etaSeconds": 24,
    }
    assert error.eta_s == pytest.approx(7000 / 300)
    assert error.retry_after_s == 24
    slow = catch_up.behind(position=1100, head=11_000, now=110.0)  # 10/s: the whole catch-up takes minutes
    assert slow.details["etaSeconds"] == 990 and slow.retry_after_s == 30  # ask again soon all the same
    assert CatchUp("m", 0, 10, since=5.0).behind(0, 10, now=5.0).retry_after_s >= 1  # no rate yet
