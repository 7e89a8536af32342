"""The MongoDB connection under the event-log recorders: one client and database, transactions with
retries, pymongo errors translated to eventsourcing's, and documents read back as eventsourcing records.

The recorders themselves are in `mongo_recorders.py`; `mongo.py` describes the collections.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from eventsourcing.persistence import DatabaseError, IntegrityError, Notification, OperationalError, StoredEvent
from pymongo import MongoClient
from pymongo.client_session import ClientSession
from pymongo.errors import (
    BulkWriteError,
    CollectionInvalid,
    ConnectionFailure,
    DuplicateKeyError,
    OperationFailure,
    PyMongoError,
)

T = TypeVar("T")

_DUPLICATE_KEY = 11000
_NAMESPACE_EXISTS = 48
_COUNTER_RACE_RETRIES = 100


class CounterRace(Exception):
    """Two transactions created the same missing counter document; retry the later one."""


def _is_duplicate(error: PyMongoError) -> bool:
    if isinstance(error, DuplicateKeyError):
        return True
    if isinstance(error, BulkWriteError):
        return any(e.get("code") == _DUPLICATE_KEY for e in error.details.get("writeErrors", ()))
    return isinstance(error, OperationFailure) and error.code == _DUPLICATE_KEY


@contextmanager
def translate_errors() -> Iterator[None]:
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
        with translate_errors():
            for _ in range(_COUNTER_RACE_RETRIES):
                with self.client.start_session() as session:
                    try:
                        return session.with_transaction(callback)
                    except CounterRace:
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


def stored_event_from(doc: dict[str, Any]) -> StoredEvent:
    """An events-collection document as eventsourcing's StoredEvent."""
    return StoredEvent(
        originator_id=doc["originator_id"],
        originator_version=doc["originator_version"],
        topic=doc["topic"],
        state=bytes(doc["state"]),
    )


def notification_from(doc: dict[str, Any]) -> Notification:
    """An events-collection document as a Notification (its `_id` is the notification id)."""
    return Notification(
        id=doc["_id"],
        originator_id=doc["originator_id"],
        originator_version=doc["originator_version"],
        topic=doc["topic"],
        state=bytes(doc["state"]),
    )
