"""eventsourcing's recorders on MongoDB: aggregate (snapshots), application (the event log with gap-free
notification ids and the timeline), its change-stream subscription, tracking, and process.

The collections they use are described in `mongo.py`; the connection is `mongo_datastore.py`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    ListenNotifySubscription,
    Notification,
    ProcessRecorder,
    ProgrammingError,
    StoredEvent,
    Subscription,
    Tracking,
    TrackingRecorder,
)
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.client_session import ClientSession
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError, OperationFailure

from wamux.adapters.eventlog.codec import stored_event_ts
from wamux.adapters.eventlog.mongo_datastore import (
    CounterRace,
    MongoDatastore,
    MongoRecorder,
    notification_from,
    stored_event_from,
    translate_errors,
)
from wamux.adapters.eventlog.mongo_timeline import MongoTimeline
from wamux.adapters.eventlog.timeline import TimelineRecorder

SEQUENCES_COLLECTION = "notification_sequences"
TIMELINE_INDEXES = {
    "timeline": ("originator_id", "ts", "_id"),
    "topic_timeline": ("originator_id", "topic", "ts", "_id"),
}
_INDEX_NOT_FOUND = 27


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
        with translate_errors():
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
            with translate_errors():
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
        with translate_errors():
            cursor = self.events.find(query, {"ts": 0}).sort("originator_version", DESCENDING if desc else ASCENDING)
            if limit is not None:
                cursor = cursor.limit(limit)
            return [stored_event_from(d) for d in cursor]


class MongoApplicationRecorder(MongoAggregateRecorder, MongoTimeline, TimelineRecorder):
    """Events with global, gap-free notification ids and the (originator, ts) timeline."""

    def create_table(self) -> None:
        super().create_table()
        with translate_errors():
            for name, keys in TIMELINE_INDEXES.items():
                self.events.create_index([(key, ASCENDING) for key in keys], name=name)
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

    def copy_in(self, records: Sequence[Notification]) -> None:
        """Write another log's records under their own notification ids: one ordered `insert_many`,
        then the id counter moved up to the last one.

        The store switch's bulk copy into a target nobody appends to yet (so no transaction: a
        failed copy is thrown away). A duplicate id or (originator_id, originator_version) raises
        IntegrityError; the records before it stay written.
        """
        if not records:
            return
        docs = []
        for n in records:
            doc = self._event_doc(n)
            doc["_id"] = n.id
            docs.append(doc)
        with translate_errors():
            self.events.insert_many(docs, ordered=True)
            self.datastore.db[SEQUENCES_COLLECTION].update_one(
                {"_id": self.events_collection_name}, {"$max": {"last": max(n.id for n in records)}}, upsert=True
            )

    def drop_timeline_indexes(self) -> None:
        """Drop the timeline indexes (a bulk copy is faster without them); `create_table` builds them again."""
        with translate_errors():
            for name in TIMELINE_INDEXES:
                try:
                    self.events.drop_index(name)
                except OperationFailure as e:
                    if e.code != _INDEX_NOT_FOUND:
                        raise

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
            raise CounterRace from e
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
        with translate_errors():
            cursor = self.events.find(query, {"ts": 0}).sort("_id", ASCENDING).limit(limit)
            return [notification_from(d) for d in cursor]

    def _max_id(self) -> int | None:
        doc = self.events.find_one({}, {"_id": 1}, sort=[("_id", DESCENDING)])
        return None if doc is None else int(doc["_id"])

    def max_notification_id(self) -> int | None:
        """The largest notification id, or None when no event was ever recorded."""
        with translate_errors():
            return self._max_id()

    def subscribe(self, gt: int | None = None, topics: Sequence[str] = ()) -> Subscription[ApplicationRecorder]:
        return MongoSubscription(recorder=self, gt=gt, topics=topics)


class MongoSubscription(ListenNotifySubscription[MongoApplicationRecorder]):
    """Follows the notification log: pulls with `select_notifications`, woken by a change stream."""

    def __init__(self, recorder: MongoApplicationRecorder, gt: int | None = None, topics: Sequence[str] = ()) -> None:
        match: dict[str, Any] = {"operationType": "insert"}
        if topics:
            match["fullDocument.topic"] = {"$in": list(topics)}
        # Opened before the first pull (which the base class starts), so an insert committed
        # between that pull and the watch still wakes us up.
        with translate_errors():
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
        with translate_errors():
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
        with translate_errors():
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
        with translate_errors():
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
