"""A rig for one projection on one backend (the in-memory fake, SQLite, MongoDB): feed events, read rows, rebuild."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.unit.memory_read_session import MemoryReadSession
from wamux.adapters.readmodels.mongo import MongoReadModelStore
from wamux.adapters.readmodels.sqlite import SQLiteReadModelStore
from wamux.domain.events import DomainEvent, RecordedEvent
from wamux.projections.ports import Collection, Projection, Query, ReadModelStore, ReadSession

BACKENDS = ["fake", "sqlite", pytest.param("mongo", marks=pytest.mark.mongo)]


class ProjectionRig:
    """Feeds recorded events to a projection (through the store's transaction when there is one)."""

    def __init__(self, projection: Projection, store: ReadModelStore | None) -> None:
        self.projection = projection
        self.store = store
        self.fake = MemoryReadSession()
        self.log: list[RecordedEvent] = []
        self.versions: dict[str, int] = {}
        if store is not None:
            store.ensure(projection.collections)

    def feed(self, stream_id: str, event: DomainEvent, ts: int = 1_700_000_000_000) -> None:
        self.versions[stream_id] = self.versions.get(stream_id, 0) + 1
        recorded = RecordedEvent(stream_id, self.versions[stream_id], ts, len(self.log) + 1, copy.deepcopy(event))
        self.log.append(recorded)
        self._apply(recorded)

    def _apply(self, recorded: RecordedEvent) -> None:
        if recorded.type not in self.projection.topics:
            return

        def work(session: ReadSession) -> None:
            self.projection.apply(session, recorded)

        if self.store is None:
            work(self.fake)
        else:
            self.store.apply(self.projection.name, recorded.position, work)

    def get(self, collection: Collection, key: str) -> dict[str, Any] | None:
        return self.fake.get(collection, key) if self.store is None else self.store.get(collection, key)

    def find(self, collection: Collection, query: Query) -> list[dict[str, Any]]:
        return self.fake.find(collection, query) if self.store is None else self.store.find(collection, query)

    def everything(self) -> dict[str, list[dict[str, Any]]]:
        """Every row of every collection of the projection, in key order."""
        return {c.name: self.find(c, Query(order=(("key", False),))) for c in self.projection.collections}

    def rebuild(self) -> None:
        """Drop the read model and apply the whole log again, as `wamux rebuild` does."""
        if self.store is None:
            self.fake = MemoryReadSession()
        else:
            self.store.reset(self.projection.name, self.projection.collections)
            self.store.ensure(self.projection.collections)
        for recorded in self.log:
            self._apply(recorded)


def open_projection_rig(
    request: pytest.FixtureRequest, tmp_path: Path, projection: Projection
) -> Iterator[ProjectionRig]:
    """The body of a `rig` fixture parametrized over BACKENDS."""
    if request.param == "fake":
        yield ProjectionRig(projection, None)
        return
    store: ReadModelStore
    if request.param == "sqlite":
        store = SQLiteReadModelStore(str(tmp_path / "rm.db"))
    else:
        store = MongoReadModelStore(request.getfixturevalue("mongo_db_url"))
    yield ProjectionRig(projection, store)
    store.close()
