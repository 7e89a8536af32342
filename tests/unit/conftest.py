"""Fixtures of the unit tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio
import trio.testing

from tests.unit.actor_rig import Rig, TrioClock
from wamux.adapters.eventlog.recorder_store import RecorderEventStore
from wamux.adapters.eventlog.sqlite import open_sqlite_recorder


@pytest.fixture
async def rig(autojump_clock: trio.testing.MockClock, tmp_path: Path) -> AsyncIterator[Rig]:
    """A store writer running on the autojump clock, for the actor and supervisor tests."""
    # Jump only after 10 ms of real idleness: a store write (a worker thread) normally ends first, so
    # the virtual clock does not leap to the next deadline in the middle of every append.
    autojump_clock.autojump_threshold = 0.01
    recorder = open_sqlite_recorder(str(tmp_path / "events.db"))
    store = RecorderEventStore.over(recorder, TrioClock(), provider="sqlite")
    async with trio.open_nursery() as nursery:
        await nursery.start(store.run_writer)

        async def ticker() -> None:
            # A near deadline bounds how far a slow worker thread can make the clock jump.
            while True:
                await trio.sleep(30)

        nursery.start_soon(ticker)
        yield Rig(tmp_path, store, TrioClock(), nursery)
        nursery.cancel_scope.cancel()
    recorder.datastore.close()
