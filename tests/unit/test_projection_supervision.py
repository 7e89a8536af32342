"""A projection that fails on an event stops there alone, retries with a back-off, and skips nothing.

Real parts: the SQLite event store and read-model store on tmp files, the real runners; the
failing projection is a test projection that raises on one event while it is `broken`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import trio

from wamux.adapters.eventlog.recorder_store import RecorderEventStore
from wamux.adapters.eventlog.sqlite import open_sqlite_recorder
from wamux.adapters.readmodels.sqlite import SQLiteReadModelStore
from wamux.core.ports import Backend, BackendHandle
from wamux.core.projection_runner import ProjectionRunner, ReadModels
from wamux.core.supervision import Backoff
from wamux.domain.clock import FixedClock
from wamux.domain.events import Disconnected, QrReceived, RecordedEvent
from wamux.domain.ids import new_id
from wamux.projections.ports import Collection, Query, ReadSession


class Recording:
    """Keeps one row per event it sees; raises on `disconnected` while `broken`."""

    def __init__(self, name: str, *, broken: bool = False) -> None:
        self.name = name
        self.collection = Collection(f"seen_{name}", {"position": "int"})
        self.collections = (self.collection,)
        self.topics: tuple[str, ...] = ()
        self.broken = broken

    def apply(self, session: ReadSession, event: RecordedEvent) -> None:
        session.put(self.collection, str(event.position), {"position": event.position, "type": event.type})
        if self.broken and event.type == Disconnected.type:
            raise RuntimeError("poisoned event")


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.01)


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


async def test_a_failing_projection_stalls_alone_retries_and_skips_nothing(
    parts: tuple[RecorderEventStore, SQLiteReadModelStore],
) -> None:
    store, rm = parts
    healthy, flaky = Recording("healthy"), Recording("flaky", broken=True)
    limiter = trio.CapacityLimiter(4)
    backend = BackendHandle(Backend("sqlite", store.recorder, rm))
    runners = [ProjectionRunner(p, store, backend, limiter) for p in (healthy, flaky)]
    runners[1].backoff = Backoff(initial_s=0.02, max_s=0.1)
    read_models = ReadModels(runners, store, backend)
    sid = new_id()
    async with trio.open_nursery() as nursery:
        await nursery.start(read_models.run)
        await store.append(sid, [QrReceived(instance_id=sid, qr_code="1@a", attempt=1)], 0)
        (poison,) = await store.append(sid, [Disconnected(instance_id=sid, reason="x", will_reconnect=True)], 1)
        await store.append(sid, [QrReceived(instance_id=sid, qr_code="1@b", attempt=2)], 2)

        await until(lambda: runners[0].position == store.head() and runners[1].failures >= 3)
        assert runners[1].position < poison.position  # it stays before the event it cannot apply
        assert runners[1].error == "RuntimeError: poisoned event"
        assert read_models.stalled() == {"flaky": "RuntimeError: poisoned event"}
        assert read_models.lag()["flaky"] > 0 and read_models.lag()["healthy"] == 0
        # The failed batch was rolled back: nothing of it is visible.
        assert [r["position"] for r in rm.find(flaky.collection, Query())] == [poison.position - 1]

        # The healthy projection keeps following the log while the other one is stalled.
        await store.append(sid, [QrReceived(instance_id=sid, qr_code="1@c", attempt=3)], 3)
        await until(lambda: runners[0].position == store.head())
        with trio.fail_after(1):
            await read_models.synced()  # reads do not wait for the stalled projection

        flaky.broken = False  # fixed (say, a new release): the retry applies the same event, nothing is skipped
        await until(lambda: runners[1].error is None and runners[1].position == store.head())
        assert read_models.stalled() == {}
        positions = [r["position"] for r in rm.find(flaky.collection, Query(order=(("position", False),)))]
        assert positions == [r["position"] for r in rm.find(healthy.collection, Query(order=(("position", False),)))]
        assert poison.position in positions and len(positions) == 4
        nursery.cancel_scope.cancel()
