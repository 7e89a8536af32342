"""Read models on MongoDB: one collection per read-model collection, documents keyed by `_id`.

The twin of `sqlite_readmodels`: ``rm_<name>`` holds ``{_id: key, <doc fields>...}`` and
``rm_tracking`` holds ``{_id: projection, position}``. A document goes through a JSON round
trip before it is stored, so `get`/`find` return exactly what SQLite would return for the same
`put` (tuples become lists, keys become strings), and `_id` never leaks out. Declared fields
need no columns here: they are the document's own top-level fields, and `ensure` indexes them.

`apply` runs the projection's work and the tracking update in one multi-document transaction
(`apply_all`: the work of every projection of a batch, and their positions, in one), so the
server must be a replica set (one node is enough).
"""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Callable, Sequence
from typing import Any

from pymongo import ASCENDING, DESCENDING, DeleteOne, MongoClient, ReplaceOne, UpdateOne
from pymongo.client_session import ClientSession
from pymongo.collection import Collection as MongoCollection
from pymongo.database import Database
from pymongo.errors import CollectionInvalid, OperationFailure, PyMongoError

from wamux.projections.ports import Collection, Query, ReadSession

TRACKING = "rm_tracking"
_KEYS_PER_QUERY = 1000  # keys of one `get_many` query
_NAMESPACE_EXISTS = 48


def _name(collection: Collection) -> str:
    return f"rm_{collection.name}"


def _check(collection: Collection, name: str) -> None:
    if name not in collection.fields and name != "key":
        raise ValueError(f"{collection.name}: {name} is not a declared field")


def _field(name: str) -> str:
    # "key" is the pseudo-field for the document key, as in the SQLite store.
    return "_id" if name == "key" else name


def _equals(collection: Collection, name: str, value: Any) -> Any:
    # SQLite stores bools as 0/1, so True == 1 there; match both spellings here too.
    if isinstance(value, bool) or (collection.fields.get(name) == "bool" and value in (0, 1)):
        return {"$in": [bool(value), int(value)]}
    return value


def _filter(collection: Collection, query: Query) -> dict[str, Any]:
    mongo: dict[str, Any] = {}
    for name, value in query.where.items():
        _check(collection, name)
        mongo[_field(name)] = _equals(collection, name, value)
    for name, (low, high) in query.ranges.items():
        _check(collection, name)
        bounds: dict[str, Any] = {}
        if low is not None:
            bounds["$gte"] = low
        if high is not None:
            bounds["$lte"] = high
        if bounds:
            field = _field(name)
            if field in mongo:  # also an equality filter on it: both must hold
                mongo.setdefault("$and", []).append({field: bounds})
            else:
                mongo[field] = bounds
    if query.search is not None:
        names, needle = query.search
        for name in names:
            _check(collection, name)
        pattern = re.escape(needle)
        mongo["$or"] = [{_field(n): {"$regex": pattern, "$options": "i"}} for n in names]
    return mongo


def _normalise(doc: dict[str, Any]) -> dict[str, Any]:
    if "_id" in doc:
        raise ValueError("read model documents may not use the reserved field _id")
    normal: dict[str, Any] = json.loads(json.dumps(doc, separators=(",", ":")))
    return normal


class _Session:
    """Reads and writes of one collection set, inside a transaction when `session` is given."""

    def __init__(self, db: Database[dict[str, Any]], session: ClientSession | None = None) -> None:
        self.db = db
        self.session = session

    def _coll(self, collection: Collection) -> MongoCollection[dict[str, Any]]:
        return self.db[_name(collection)]

    def get(self, collection: Collection, key: str) -> dict[str, Any] | None:
        return self._coll(collection).find_one({"_id": key}, {"_id": 0}, session=self.session)

    def get_many(self, collection: Collection, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        wanted = list(dict.fromkeys(keys))
        for start in range(0, len(wanted), _KEYS_PER_QUERY):
            chunk = wanted[start : start + _KEYS_PER_QUERY]
            for doc in self._coll(collection).find({"_id": {"$in": chunk}}, session=self.session):
                found[str(doc.pop("_id"))] = doc
        return found

    def put(self, collection: Collection, key: str, doc: dict[str, Any]) -> None:
        self._coll(collection).replace_one(
            {"_id": key}, {"_id": key, **_normalise(doc)}, upsert=True, session=self.session
        )

    def delete(self, collection: Collection, key: str) -> None:
        self._coll(collection).delete_one({"_id": key}, session=self.session)

    def find(self, collection: Collection, query: Query) -> list[dict[str, Any]]:
        cursor = self._coll(collection).find(_filter(collection, query), {"_id": 0}, session=self.session)
        if query.order:
            for name, _desc in query.order:
                _check(collection, name)
            cursor = cursor.sort([(_field(n), DESCENDING if d else ASCENDING) for n, d in query.order])
        if query.skip:
            cursor = cursor.skip(query.skip)
        if query.limit is not None:
            if query.limit <= 0:  # Mongo reads limit(0) as "no limit"; SQL LIMIT 0 returns nothing
                return []
            cursor = cursor.limit(query.limit)
        return list(cursor)

    def count(self, collection: Collection, query: Query) -> int:
        return self._coll(collection).count_documents(_filter(collection, query), session=self.session)


class _BufferedSession(_Session):
    """A projection batch's session: reads through a cache, writes behind in one bulk write.

    A batch touches the same few documents again and again (a chat, a day of stats); without
    the buffer every `get`/`put` is a round trip inside the transaction.
    """

    def __init__(self, db: Database[dict[str, Any]], session: ClientSession) -> None:
        super().__init__(db, session)
        self.cache: dict[tuple[str, str], dict[str, Any] | None] = {}
        self.dirty: dict[tuple[str, str], dict[str, Any] | None] = {}

    def get(self, collection: Collection, key: str) -> dict[str, Any] | None:
        ref = (_name(collection), key)
        if ref not in self.cache:
            self.cache[ref] = super().get(collection, key)
        doc = self.cache[ref]
        return copy.deepcopy(doc) if doc is not None else None

    def get_many(self, collection: Collection, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        name = _name(collection)
        missing = [key for key in dict.fromkeys(keys) if (name, key) not in self.cache]
        if missing:
            fetched = super().get_many(collection, missing)
            for key in missing:
                self.cache[(name, key)] = fetched.get(key)
        found = {key: self.cache[(name, key)] for key in dict.fromkeys(keys)}
        return {key: copy.deepcopy(doc) for key, doc in found.items() if doc is not None}

    def put(self, collection: Collection, key: str, doc: dict[str, Any]) -> None:
        ref = (_name(collection), key)
        self.cache[ref] = self.dirty[ref] = _normalise(doc)

    def delete(self, collection: Collection, key: str) -> None:
        ref = (_name(collection), key)
        self.cache[ref] = self.dirty[ref] = None

    def find(self, collection: Collection, query: Query) -> list[dict[str, Any]]:
        self.flush(collection)
        return super().find(collection, query)

    def count(self, collection: Collection, query: Query) -> int:
        self.flush(collection)
        return super().count(collection, query)

    def flush(self, collection: Collection | None = None) -> None:
        """Write what is pending (of one collection, or all): one bulk write per collection."""
        only = _name(collection) if collection is not None else None
        by_collection: dict[str, list[Any]] = {}
        for (name, key), doc in self.dirty.items():
            if only is not None and name != only:
                continue
            op = DeleteOne({"_id": key}) if doc is None else ReplaceOne({"_id": key}, {"_id": key, **doc}, upsert=True)
            by_collection.setdefault(name, []).append(op)
        for name, ops in by_collection.items():
            self.db[name].bulk_write(ops, ordered=True, session=self.session)
        if only is None:
            self.dirty.clear()
        else:
            self.dirty = {ref: doc for ref, doc in self.dirty.items() if ref[0] != only}


class _WorkFailed(Exception):
    """A projection's work raised inside `apply_all`'s transaction (which is then aborted)."""

    def __init__(self, projection: str, error: Exception) -> None:
        super().__init__(projection)
        self.projection = projection
        self.error = error


class MongoReadModelStore:
    """`ReadModelStore` on MongoDB (the URL's database, default ``wamux``).

    Writes (`apply`, `reset`) are serialised in-process by a lock, like SQLite's single writer:
    concurrent transactions touching the same documents would only abort each other.
    """

    def __init__(self, url: str, *, timeout_ms: int = 10_000) -> None:
        self.url = url
        self.client: MongoClient[dict[str, Any]] = MongoClient(url, serverSelectionTimeoutMS=timeout_ms)
        self.db = self.client.get_default_database(default="wamux")
        self._write_lock = threading.Lock()
        self._ensured: set[str] = set()
        self._create(TRACKING)

    def _create(self, name: str) -> None:
        # Up front, so no transaction has to create a collection implicitly.
        try:
            self.db.create_collection(name)
        except CollectionInvalid:
            pass
        except OperationFailure as e:
            if e.code != _NAMESPACE_EXISTS:
                raise

    def ensure(self, collections: tuple[Collection, ...]) -> None:
        for c in collections:
            if c.name in self._ensured:
                continue
            self._create(_name(c))
            for index in c.indexes:
                self.db[_name(c)].create_index(
                    [(_field(i), ASCENDING) for i in index], name=f"{_name(c)}__{'_'.join(index)}"
                )
            self._ensured.add(c.name)

    def position(self, projection: str) -> int:
        doc = self.db[TRACKING].find_one({"_id": projection})
        return int(doc["position"]) if doc else 0

    def positions(self) -> dict[str, int]:
        return {str(doc["_id"]): int(doc["position"]) for doc in self.db[TRACKING].find({})}

    def apply(self, projection: str, position: int, work: Callable[[ReadSession], None]) -> None:
        """Run `work` and record `position` in one transaction.

        A transient error (write conflict with another process) retries the whole
        transaction, so `work` may run again: it must only act through the session it is given.
        """

        def transaction(session: ClientSession) -> None:
            batch = _BufferedSession(self.db, session)
            work(batch)
            batch.flush()
            self.db[TRACKING].update_one(
                {"_id": projection}, {"$set": {"position": position}}, upsert=True, session=session
            )

        with self._write_lock, self.client.start_session() as session:
            session.with_transaction(transaction)

    def apply_all(self, items: Sequence[tuple[str, int, Callable[[ReadSession], None]]]) -> dict[str, Exception]:
        """Every projection's work and position in one transaction.

        MongoDB has no savepoints: when a work raises, the transaction is aborted and the others
        run again, without it, in a new one; the one that raised is reported and keeps its rows
        and position. Like `apply`, a transient error retries the whole transaction.
        """
        failed: dict[str, Exception] = {}
        remaining = list(items)

        def transaction(session: ClientSession) -> None:
            for projection, _position, work in remaining:
                batch = _BufferedSession(self.db, session)
                try:
                    work(batch)
                    batch.flush()
                except PyMongoError as exc:
                    if exc.has_error_label("TransientTransactionError"):
                        raise  # `with_transaction` runs the whole transaction again
                    raise _WorkFailed(projection, exc) from exc
                except Exception as exc:
                    raise _WorkFailed(projection, exc) from exc
            positions = [UpdateOne({"_id": p}, {"$set": {"position": n}}, upsert=True) for p, n, _w in remaining]
            self.db[TRACKING].bulk_write(positions, ordered=False, session=session)

        with self._write_lock, self.client.start_session() as session:
            while remaining:
                try:
                    session.with_transaction(transaction)
                except _WorkFailed as failure:
                    failed[failure.projection] = failure.error
                    remaining = [item for item in remaining if item[0] != failure.projection]
                    continue
                break
        return failed

    def get(self, collection: Collection, key: str) -> dict[str, Any] | None:
        return _Session(self.db).get(collection, key)

    def find(self, collection: Collection, query: Query) -> list[dict[str, Any]]:
        return _Session(self.db).find(collection, query)

    def count(self, collection: Collection, query: Query) -> int:
        return _Session(self.db).count(collection, query)

    def reset(self, projection: str, collections: tuple[Collection, ...]) -> None:
        """Delete every row of `collections` and the projection's position, atomically.

        One transaction (not `drop`), so a crash never leaves rows without their position or a
        position without its rows. Very large collections would strain a transaction; read
        models here are sized for it.
        """

        def transaction(session: ClientSession) -> None:
            for c in collections:
                self.db[_name(c)].delete_many({}, session=session)
            self.db[TRACKING].delete_one({"_id": projection}, session=session)

        with self._write_lock, self.client.start_session() as session:
            session.with_transaction(transaction)

    def close(self) -> None:
        self.client.close()
