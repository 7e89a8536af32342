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

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar, cast
from uuid import UUID

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    DatabaseError,
    InfrastructureFactory,
    IntegrityError,
    ListenNotifySubscription,
    Notification,
    OperationalError,
    ProcessRecorder,
    ProgrammingError,
    StoredEvent,
    Subscription,
    Tracking,
    TrackingRecorder,
)
from eventsourcing.utils import Environment, EnvType, resolve_topic, strtobool
from pymongo import ASCENDING, DESCENDING, MongoClient, ReturnDocument
from pymongo.client_session import ClientSession
from pymongo.collection import Collection
from pymongo.errors import (
    BulkWriteError,
    CollectionInvalid,
    ConnectionFailure,
    DuplicateKeyError,
    OperationFailure,
    PyMongoError,
)

from wamux.adapters.eventlog.codec import stored_event_ts
from wamux.adapters.eventlog.timeline import TimelineRecorder

T = TypeVar("T")

SEQUENCES_COLLECTION = "notification_sequences"
_DUPLICATE_KEY = 11000
_NAMESPACE_EXISTS = 48


class _CounterRace(Exception):
    """Two transactions created the same missing counter document; retry the later one."""


def _is_duplicate(error: PyMongoError) -> bool:
    if isinstance(error, DuplicateKeyError):
        return True
    if isinstance(error, BulkWriteError):
        return any(e.get("code") == _DUPLICATE_KEY for e in error.details.get("writeErrors", ()))
    return isinstance(error, OperationFailure) and error.code == _DUPLICATE_KEY


@contextmanager
def _translate_errors() -> Iterator[None]:
    """pymongo errors as eventsourcing's PEP-249-style ones (callers catch `IntegrityError`)."""
    try:
        yield
    except PyMongoError as e:
        if _is_duplicate(e):
            raise IntegrityError(str(e)) from e
        if isinstance(e, ConnectionFailure):
            raise OperationalError(str(e)) from e
        raise DatabaseError(str(e)) from e


class MongoDatastore:
    """A MongoClient and one database, shared by the recorders of an application.

    MongoClient is thread-safe and pools its connections. `write_lock` serialises this
    process's event-appending transactions: they all increment the same counter document, so
    running them concurrently would only turn into write conflicts and retries.
    """

    def __init__(self, url: str, database: str | None = None, *, timeout_ms: int = 10_000) -> None:
        self.client: MongoClient[dict[str, Any]] = MongoClient(
            url, uuidRepresentation="standard", serverSelectionTimeoutMS=timeout_ms
        )
        self.db = self.client[database] if database else self.client.get_default_database(default="wamux")
        self.write_lock = threading.Lock()

    def transaction(self, callback: Callable[[ClientSession], T]) -> T:
        """Run `callback` in a multi-document transaction, retrying transient errors.

        pymongo's `with_transaction` retries `TransientTransactionError` (write conflicts) and
        unknown commit results; any other exception aborts the transaction and propagates.
        The callback may therefore run more than once: it must only touch the database.
        """
        with _translate_errors():
            for _ in range(100):
                with self.client.start_session() as session:
                    try:
                        return session.with_transaction(callback)
                    except _CounterRace:
                        continue
            raise OperationalError("gave up after repeated races creating a sequence counter")

    def close(self) -> None:
        self.client.close()


class MongoRecorder:
    """Base of the Mongo recorders: holds the datastore; `create_table` creates collections."""

    def __init__(self, datastore: MongoDatastore, **_: Any) -> None:
        self.datastore = datastore

    def create_table(self) -> None:
        """Create this recorder's collections and indexes (idempotent)."""

    def _create_collection(self, name: str) -> None:
        # Collections are created up front so no transaction has to create one implicitly.
        try:
            self.datastore.db.create_collection(name)
        except CollectionInvalid:
            pass
        except OperationFailure as e:
            if e.code != _NAMESPACE_EXISTS:
                raise


def _stored_event(doc: dict[str, Any]) -> StoredEvent:
    return StoredEvent(
        originator_id=doc["originator_id"],
        originator_version=doc["originator_version"],
        topic=doc["topic"],
        state=bytes(doc["state"]),
    )


def _notification(doc: dict[str, Any]) -> Notification:
    return Notification(
        id=doc["_id"],
        originator_id=doc["originator_id"],
        originator_version=doc["originator_version"],
        topic=doc["topic"],
        state=bytes(doc["state"]),
    )


class MongoAggregateRecorder(MongoRecorder, AggregateRecorder):
    """Stored events of aggregates (also used for snapshots); no notification ids."""

    def __init__(
        self, datastore: MongoDatastore, *, events_collection_name: str = "stored_events", **kwargs: Any
    ) -> None:
        super().__init__(datastore, **kwargs)
        self.events_collection_name = events_collection_name
        self.events: Collection[dict[str, Any]] = datastore.db[events_collection_name]

    def create_table(self) -> None:
        super().create_table()
        with _translate_errors():
            self._create_collection(self.events_collection_name)
            # The optimistic-concurrency fence: one event per (originator, version).
            self.events.create_index(
                [("originator_id", ASCENDING), ("originator_version", ASCENDING)],
                unique=True,
                name="originator_version",
            )

    def _event_doc(self, s: StoredEvent) -> dict[str, Any]:
        return {
            "originator_id": s.originator_id,
            "originator_version": s.originator_version,
            "topic": s.topic,
            "state": s.state,
        }

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        if not stored_events:
            return None
        docs = [self._event_doc(s) for s in stored_events]
        if len(docs) == 1:
            # A single insert is atomic on its own; skip the transaction round trips.
            with _translate_errors():
                self.events.insert_one(docs[0])
            return None
        self.datastore.transaction(lambda s: self.events.insert_many(docs, session=s))
        return None

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        if limit is not None and limit <= 0:
            return []
        query: dict[str, Any] = {"originator_id": originator_id}
        version: dict[str, int] = {}
        if gt is not None:
            version["$gt"] = gt
        if lte is not None:
            version["$lte"] = lte
        if version:
            query["originator_version"] = version
        with _translate_errors():
            cursor = self.events.find(query, {"ts": 0}).sort("originator_version", DESCENDING if desc else ASCENDING)
            if limit is not None:
                cursor = cursor.limit(limit)
            return [_stored_event(d) for d in cursor]


class MongoApplicationRecorder(MongoAggregateRecorder, TimelineRecorder):
    """Events with global, gap-free notification ids and the (originator, ts) timeline."""

    def create_table(self) -> None:
        super().create_table()
        with _translate_errors():
            self.events.create_index(
                [("originator_id", ASCENDING), ("ts", ASCENDING), ("_id", ASCENDING)], name="timeline"
            )
            self.events.create_index(
                [("originator_id", ASCENDING), ("topic", ASCENDING), ("ts", ASCENDING), ("_id", ASCENDING)],
                name="topic_timeline",
            )
            # The counter starts at (or catches up with) the largest id already stored.
            self.datastore.db[SEQUENCES_COLLECTION].update_one(
                {"_id": self.events_collection_name},
                {"$max": {"last": self._max_id() or 0}},
                upsert=True,
            )

    def _event_doc(self, s: StoredEvent) -> dict[str, Any]:
        doc = super()._event_doc(s)
        doc["ts"] = stored_event_ts(s.state)
        return doc

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        tracking: Tracking | None = kwargs.get("tracking")
        if not stored_events and tracking is None:
            return []
        docs = [self._event_doc(s) for s in stored_events]
        with self.datastore.write_lock:
            return self.datastore.transaction(lambda s: self._insert(s, docs, tracking))

    def _insert(self, session: ClientSession, docs: list[dict[str, Any]], tracking: Tracking | None) -> list[int]:
        ids: list[int] = []
        if docs:
            first = self._allocate(session, len(docs))
            ids = list(range(first, first + len(docs)))
            for doc, notification_id in zip(docs, ids, strict=True):
                doc["_id"] = notification_id
            self.events.insert_many(docs, ordered=True, session=session)
        if tracking is not None:
            self._insert_tracking(tracking, session)
        return ids

    def _allocate(self, session: ClientSession, count: int) -> int:
        """Reserve `count` consecutive notification ids inside the caller's transaction."""
        try:
            counter = self.datastore.db[SEQUENCES_COLLECTION].find_one_and_update(
                {"_id": self.events_collection_name},
                {"$inc": {"last": count}},
                upsert=True,  # only when create_table was skipped
                return_document=ReturnDocument.AFTER,
                session=session,
            )
        except DuplicateKeyError as e:
            raise _CounterRace from e
        assert counter is not None  # upsert=True with ReturnDocument.AFTER always returns one
        return int(counter["last"]) - count + 1

    def _insert_tracking(self, tracking: Tracking, session: ClientSession | None) -> None:
        raise ProgrammingError(f"{type(self).__name__} does not record tracking (use a process recorder)")

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        if limit <= 0:
            return []
        ids: dict[str, int] = {}
        if start is not None:
            ids["$gte" if inclusive_of_start else "$gt"] = start
        if stop is not None:
            ids["$lte"] = stop
        query: dict[str, Any] = {"_id": ids} if ids else {}
        if topics:
            query["topic"] = {"$in": list(topics)}
        with _translate_errors():
            cursor = self.events.find(query, {"ts": 0}).sort("_id", ASCENDING).limit(limit)
            return [_notification(d) for d in cursor]

    def _max_id(self) -> int | None:
        doc = self.events.find_one({}, {"_id": 1}, sort=[("_id", DESCENDING)])
        return None if doc is None else int(doc["_id"])

    def max_notification_id(self) -> int | None:
        """The largest notification id, or None when no event was ever recorded."""
        with _translate_errors():
            return self._max_id()

    def subscribe(self, gt: int | None = None, topics: Sequence[str] = ()) -> Subscription[ApplicationRecorder]:
        return MongoSubscription(recorder=self, gt=gt, topics=topics)

    # ---- timeline -----------------------------------------------------------------------------

    @staticmethod
    def _timeline_query(
        originator_id: UUID,
        topics: Sequence[str],
        start_ts: int | None,
        end_ts: int | None,
        after: tuple[int, int] | None = None,
        before: tuple[int, int] | None = None,
    ) -> dict[str, Any]:
        query: dict[str, Any] = {"originator_id": originator_id}
        if topics:
            query["topic"] = {"$in": list(topics)}
        lows = [v for v in (start_ts, after[0] if after else None) if v is not None]
        highs = [v for v in (end_ts, before[0] if before else None) if v is not None]
        ts: dict[str, int] = {}
        if lows:
            ts["$gte"] = max(lows)
        if highs:
            ts["$lte"] = min(highs)
        if ts:
            query["ts"] = ts
        # Exclusive (ts, id) bounds as "ts range, minus the ties on the wrong side of the id":
        # the ts part stays an index range, the rest filters the few rows at the boundary ts.
        excluded = []
        if after is not None:
            excluded.append({"ts": after[0], "_id": {"$lte": after[1]}})
        if before is not None:
            excluded.append({"ts": before[0], "_id": {"$gte": before[1]}})
        if excluded:
            query["$nor"] = excluded
        return query

    def select_timeline(
        self,
        originator_id: UUID,
        *,
        topics: Sequence[str] = (),
        after: tuple[int, int] | None = None,
        before: tuple[int, int] | None = None,
        start_ts: int | None = None,
        end_ts: int | None = None,
        desc: bool = False,
        skip: int = 0,
        limit: int = 100,
    ) -> list[Notification]:
        if limit <= 0:
            return []
        query = self._timeline_query(originator_id, topics, start_ts, end_ts, after, before)
        order = DESCENDING if desc else ASCENDING
        with _translate_errors():
            cursor = (
                self.events.find(query, {"ts": 0}).sort([("ts", order), ("_id", order)]).skip(max(skip, 0)).limit(limit)
            )
            return [_notification(d) for d in cursor]

    def count_timeline(
        self,
        originator_id: UUID,
        *,
        topics: Sequence[str] = (),
        start_ts: int | None = None,
        end_ts: int | None = None,
    ) -> int:
        with _translate_errors():
            return self.events.count_documents(self._timeline_query(originator_id, topics, start_ts, end_ts))


class MongoSubscription(ListenNotifySubscription[MongoApplicationRecorder]):
    """Follows the notification log: pulls with `select_notifications`, woken by a change stream."""

    def __init__(self, recorder: MongoApplicationRecorder, gt: int | None = None, topics: Sequence[str] = ()) -> None:
        match: dict[str, Any] = {"operationType": "insert"}
        if topics:
            match["fullDocument.topic"] = {"$in": list(topics)}
        # Opened before the first pull (which the base class starts), so an insert committed
        # between that pull and the watch still wakes us up.
        with _translate_errors():
            self._stream = recorder.events.watch(
                [{"$match": match}, {"$project": {"operationType": 1}}], max_await_time_ms=100
            )
        super().__init__(recorder=recorder, gt=gt, topics=topics)
        self._watch_thread = threading.Thread(target=self._watch, daemon=True)
        self._watch_thread.start()

    def __exit__(self, *args: object, **kwargs: Any) -> None:
        try:
            super().__exit__(*args, **kwargs)
        finally:
            self._watch_thread.join()

    def _watch(self) -> None:
        try:
            with self._stream:
                # try_next() returns None after max_await_time_ms, so `stop()` is noticed quickly.
                while not self._has_been_stopped and self._thread_error is None:
                    if self._stream.try_next() is not None:
                        self._has_been_notified.set()
        except BaseException as e:
            if self._thread_error is None:
                self._thread_error = e
            self.stop()


class MongoTrackingRecorder(MongoRecorder, TrackingRecorder):
    """The last processed notification id per upstream application (one document each)."""

    def __init__(
        self,
        datastore: MongoDatastore,
        *,
        tracking_collection_name: str = "notification_tracking",
        **kwargs: Any,
    ) -> None:
        super().__init__(datastore, **kwargs)
        self.tracking_collection_name = tracking_collection_name
        self.tracking: Collection[dict[str, Any]] = datastore.db[tracking_collection_name]

    def create_table(self) -> None:
        super().create_table()
        with _translate_errors():
            self._create_collection(self.tracking_collection_name)

    def _insert_tracking(self, tracking: Tracking, session: ClientSession | None) -> None:
        # Moves the position forward only: when the stored id is >= this one the filter misses,
        # the upsert tries to insert a second document with the same _id and fails -> IntegrityError.
        self.tracking.update_one(
            {"_id": tracking.application_name, "notification_id": {"$lt": tracking.notification_id}},
            {"$set": {"notification_id": tracking.notification_id}},
            upsert=True,
            session=session,
        )

    def insert_tracking(self, tracking: Tracking) -> None:
        with _translate_errors():
            for _ in range(3):
                try:
                    self._insert_tracking(tracking, None)
                    return
                except DuplicateKeyError:
                    # Lost a race creating the document against a *lower* id: try again.
                    current = self.max_tracking_id(tracking.application_name)
                    if current is None or current >= tracking.notification_id:
                        raise
            self._insert_tracking(tracking, None)

    def max_tracking_id(self, application_name: str) -> int | None:
        with _translate_errors():
            doc = self.tracking.find_one({"_id": application_name})
        return None if doc is None else int(doc["notification_id"])


class MongoProcessRecorder(MongoTrackingRecorder, MongoApplicationRecorder, ProcessRecorder):
    """Application recorder whose inserts also move a tracking position, in the same transaction."""

    def __init__(
        self,
        datastore: MongoDatastore,
        *,
        events_collection_name: str = "stored_events",
        tracking_collection_name: str = "notification_tracking",
    ) -> None:
        super().__init__(
            datastore,
            events_collection_name=events_collection_name,
            tracking_collection_name=tracking_collection_name,
        )


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
