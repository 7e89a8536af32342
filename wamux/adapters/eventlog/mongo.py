"""The MongoDB event store backend: eventsourcing recorders on pymongo, plus the `ts` timeline.

Needs a replica set (one node is enough): events, their notification ids and tracking rows
are written in one multi-document transaction.

Layout (collection names follow eventsourcing's Postgres factory):

- ``<prefix>_events`` — ``{_id: notification id, originator_id, originator_version, topic,
  state, ts}``; unique index (originator_id, originator_version), timeline indexes
  (originator_id, ts, _id) and (originator_id, topic, ts, _id). The aggregate recorder
  (snapshots) stores the same fields without `ts`, under an ObjectId `_id`.
- ``notification_sequences`` — one counter document per events collection,
  ``{_id: <events collection>, last: <last notification id>}``. Incremented inside the insert
  transaction, so ids are global, gap-free and in commit order: a concurrent writer hits a
  write conflict on the counter and retries after the first one commits.
- ``<prefix>_tracking`` — one document per upstream application,
  ``{_id: application_name, notification_id}`` (eventsourcing's "single row tracking").

The code, by seam: `mongo_datastore` (the client, transactions and their retries, error
translation), `mongo_recorders` (the recorders and the change-stream subscription),
`mongo_timeline` (the `ts` queries). This module holds the eventsourcing factory and
`open_mongo_recorder`, and re-exports the recorder classes.

Originator ids are stored natively (UUIDs as BSON UUIDs, strings as strings), so they read back
with their type.

Environment keys read by `MongoFactory` (``PERSISTENCE_MODULE=wamux.adapters.eventlog.mongo``);
like every eventsourcing key they may be prefixed with the application name (``MYAPP_MONGODB_URL``):

- ``MONGODB_URL`` (required): e.g. ``mongodb://127.0.0.1:27017/wamux?replicaSet=rs0``.
- ``MONGODB_DBNAME`` (optional): database name; default the URL's path, else ``wamux``.
- ``MONGODB_TIMEOUT_MS`` (optional): server selection timeout, default 10000.
- ``CREATE_TABLE`` (optional, eventsourcing's key): create collections and indexes, default yes.
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

from eventsourcing.persistence import AggregateRecorder, ApplicationRecorder, InfrastructureFactory, ProcessRecorder
from eventsourcing.utils import Environment, EnvType, resolve_topic, strtobool

from wamux.adapters.eventlog.mongo_datastore import MongoDatastore, MongoRecorder
from wamux.adapters.eventlog.mongo_recorders import (
    SEQUENCES_COLLECTION,
    MongoAggregateRecorder,
    MongoApplicationRecorder,
    MongoProcessRecorder,
    MongoSubscription,
    MongoTrackingRecorder,
)

__all__ = [
    "SEQUENCES_COLLECTION",
    "MongoAggregateRecorder",
    "MongoApplicationRecorder",
    "MongoDatastore",
    "MongoFactory",
    "MongoProcessRecorder",
    "MongoRecorder",
    "MongoSubscription",
    "MongoTrackingRecorder",
    "open_mongo_recorder",
]

TMongoTrackingRecorder = TypeVar("TMongoTrackingRecorder", bound=MongoTrackingRecorder)


class MongoFactory(InfrastructureFactory[MongoTrackingRecorder]):
    """eventsourcing infrastructure factory for MongoDB (environment keys: see module docstring)."""

    MONGODB_URL = "MONGODB_URL"
    MONGODB_DBNAME = "MONGODB_DBNAME"
    MONGODB_TIMEOUT_MS = "MONGODB_TIMEOUT_MS"
    CREATE_TABLE = "CREATE_TABLE"

    aggregate_recorder_class: type[MongoAggregateRecorder] = MongoAggregateRecorder
    application_recorder_class: type[MongoApplicationRecorder] = MongoApplicationRecorder
    tracking_recorder_class: type[MongoTrackingRecorder] = MongoTrackingRecorder
    process_recorder_class: type[MongoProcessRecorder] = MongoProcessRecorder

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        url = self.env.get(self.MONGODB_URL)
        if not url:
            keys = ", ".join(self.env.create_keys(self.MONGODB_URL))
            raise OSError(f"MongoDB URL not found in environment with keys: {keys}")
        timeout_str = (self.env.get(self.MONGODB_TIMEOUT_MS) or "").strip()
        try:
            timeout_ms = int(timeout_str) if timeout_str else 10_000
        except ValueError:
            raise OSError(f"{self.MONGODB_TIMEOUT_MS} must be an integer, got {timeout_str!r}") from None
        self.datastore = MongoDatastore(url, self.env.get(self.MONGODB_DBNAME) or None, timeout_ms=timeout_ms)

    def env_create_table(self) -> bool:
        return bool(strtobool(self.env.get(self.CREATE_TABLE) or "yes"))

    def _events_name(self, purpose: str = "events") -> str:
        return (self.env.name.lower() or "stored") + "_" + purpose

    def _tracking_name(self) -> str:
        return (self.env.name.lower() or "notification") + "_tracking"

    def aggregate_recorder(self, purpose: str = "events") -> AggregateRecorder:
        recorder = self.aggregate_recorder_class(self.datastore, events_collection_name=self._events_name(purpose))
        if self.env_create_table():
            recorder.create_table()
        return recorder

    def application_recorder(self) -> ApplicationRecorder:
        topic = self.env.get(self.APPLICATION_RECORDER_TOPIC)
        cls: type[MongoApplicationRecorder] = resolve_topic(topic) if topic else self.application_recorder_class
        assert issubclass(cls, MongoApplicationRecorder)
        recorder = cls(self.datastore, events_collection_name=self._events_name())
        if self.env_create_table():
            recorder.create_table()
        return recorder

    def tracking_recorder(
        self, tracking_recorder_class: type[TMongoTrackingRecorder] | None = None
    ) -> TMongoTrackingRecorder:
        cls: type[TMongoTrackingRecorder]
        if tracking_recorder_class is not None:
            cls = tracking_recorder_class
        else:
            topic = self.env.get(self.TRACKING_RECORDER_TOPIC)
            cls = resolve_topic(topic) if topic else cast(Any, self.tracking_recorder_class)
        assert issubclass(cls, MongoTrackingRecorder)
        recorder = cls(self.datastore, tracking_collection_name=self._tracking_name())
        if self.env_create_table():
            recorder.create_table()
        return recorder

    def process_recorder(self) -> ProcessRecorder:
        topic = self.env.get(self.PROCESS_RECORDER_TOPIC)
        cls: type[MongoProcessRecorder] = resolve_topic(topic) if topic else self.process_recorder_class
        assert issubclass(cls, MongoProcessRecorder)
        recorder = cls(
            self.datastore,
            events_collection_name=self._events_name(),
            tracking_collection_name=self._tracking_name(),
        )
        if self.env_create_table():
            recorder.create_table()
        return recorder

    def close(self) -> None:
        if hasattr(self, "datastore"):
            self.datastore.close()


def open_mongo_recorder(url: str, *, events_collection_name: str = "stored_events") -> MongoApplicationRecorder:
    """Open (creating collections and indexes if needed) the event log in the URL's database."""
    recorder = MongoApplicationRecorder(MongoDatastore(url), events_collection_name=events_collection_name)
    recorder.create_table()
    return recorder
