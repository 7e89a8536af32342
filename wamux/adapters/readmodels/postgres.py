"""Read models on PostgreSQL: the SQLite store's tables, types and answers on a shared server.

One table ``rm_<name>`` per collection: ``key``, ``doc`` (the JSON text exactly as written, so a read
returns what was put) and one column per declared field. Text columns use the "C" collation, so text
sorts by its bytes as on SQLite and MongoDB; NULLs sort first ascending and last descending, as on
SQLite. Writes go through one connection behind a lock (one `apply`/`apply_all`/`reset`/`ensure` at a
time per process), `apply_all` with a SAVEPOINT per projection; a large flush goes by binary COPY into
a temporary staging table and one upsert from it. Reads come from a pool of autocommit connections,
which a long write never blocks. `ensure` may run in several processes at once: it takes a
transaction-level advisory lock and creates with ``IF NOT EXISTS``.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import lru_cache
from typing import Any, TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.pq import TransactionStatus
from psycopg.types.numeric import Int8Dumper
from psycopg_pool import ConnectionPool

from wamux.adapters.readmodels.documents import dumps as _dumps  # the same document text as SQLite's
from wamux.adapters.readmodels.documents import loads as _loads
from wamux.projections.ports import Collection, FieldType, Query, ReadSession

T = TypeVar("T")

_SQL_TYPES: dict[FieldType, str] = {"text": 'text COLLATE "C"', "int": "bigint", "real": "float8", "bool": "boolean"}
_COPY_TYPES: dict[FieldType, str] = {"text": "text", "int": "int8", "real": "float8", "bool": "bool"}
_TRACK = (
    "INSERT INTO rm_tracking (name, position) VALUES (%s, %s)"
    " ON CONFLICT (name) DO UPDATE SET position=EXCLUDED.position"
)
_ENSURE_LOCK = int.from_bytes(hashlib.sha256(b"wamux read models ensure").digest()[:8], "big", signed=True)
_COPY_FROM = 16  # rows of one collection's flush from which they go by COPY rather than `executemany`
_FILL_BATCH = 2000  # rows read per step when a new column is filled from the documents
_NAME_MAX = 63  # PostgreSQL truncates longer identifiers


READ_MODELS_CHANNEL = "wamux_read_models"  # NOTIFYed by every write transaction of this store
_NOTIFY = f"NOTIFY {READ_MODELS_CHANNEL}"


def _table(collection: Collection) -> str:
    return f"rm_{collection.name}"


def _check(collection: Collection, name: str) -> FieldType:
    kind = "text" if name == "key" else collection.fields.get(name)
    if kind is None:
        raise ValueError(f"{collection.name}: {name} is not a declared field")
    return kind


def _value(kind: FieldType, value: Any, strict: bool = True) -> Any:
    """A document's value as its column holds it (what SQLite's column affinity makes of it, where it can).

    What no column of that type holds (a list in a text field, a word in an int field) raises `TypeError`,
    as SQLite refuses to bind it; not `strict` (a query's value, a stored document), it becomes NULL.
    """
    if value is None:
        return None
    if kind == "text":
        if isinstance(value, str):
            return value.replace("\x00", "\ufffd") if "\x00" in value else value  # PostgreSQL text holds no NUL
        if isinstance(value, int | float):
            return str(int(value)) if isinstance(value, bool) else str(value)
    elif kind == "bool":
        if isinstance(value, int | float):
            return bool(value)
    elif isinstance(value, int):  # an int or real field (a bool is an int, as in SQLite)
        return int(value) if kind == "int" else float(value)
    elif isinstance(value, float):
        if math.isnan(value):
            return None  # as SQLite stores it
        return value if kind == "real" else round(value) if math.isfinite(value) else None
    if strict:
        raise TypeError(f"a {type(value).__name__} cannot go in a {kind} column")
    return None


def _db_key(key: str) -> str:
    """A key as stored: PostgreSQL text holds no NUL, so one (from a tenant's message id, say) is stored as
    U+FFFD, like NUL in a column; two keys that differ only there share a row (of the same instance)."""
    return key.replace("\x00", "\ufffd") if "\x00" in key else key


def _where(collection: Collection, query: Query) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for name, value in query.where.items():
        kind = _check(collection, name)
        clauses.append(f'"{name}" IS NULL' if value is None else f'"{name}"=%s')
        params.extend([] if value is None else [_value(kind, value, strict=False)])
    for name, (low, high) in query.ranges.items():
        kind = _check(collection, name)
        for bound, op in ((low, ">="), (high, "<=")):
            if bound is not None:
                clauses.append(f'"{name}"{op}%s')
                params.append(_value(kind, bound, strict=False))
    if query.search is not None:
        names, needle = query.search
        kinds = {name: _check(collection, name) for name in names}
        text = needle.lower().replace("\x00", "\ufffd")
        like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        # lower() of a "C" column folds ASCII only, as SQLite's does.
        columns = [f'"{n}"' if kind == "text" else f'"{n}"::text' for n, kind in kinds.items()]
        clauses.append("(" + " OR ".join(f"lower({c}) LIKE %s ESCAPE '\\'" for c in columns) + ")")
        params.extend([like] * len(columns))
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


class _Plan:
    """The statements that write one collection: an upsert, and COPY through a per-connection staging table."""

    def __init__(self, table: str, fields: tuple[tuple[str, FieldType], ...]) -> None:
        cols = ", ".join(["key", "doc", *(f'"{n}"' for n, _k in fields)])
        sets = ", ".join(f"{c}=EXCLUDED.{c}" for c in ["doc", *(f'"{n}"' for n, _k in fields)])
        conflict = f"ON CONFLICT (key) DO UPDATE SET {sets}"
        self.upsert = f"INSERT INTO {table} ({cols}) VALUES ({', '.join(['%s'] * (len(fields) + 2))}) {conflict}"
        self.stage = f"rm_stage_{hashlib.sha256(repr((table, fields)).encode()).hexdigest()[:16]}"
        typed = "".join(f', "{n}" {_COPY_TYPES[k]}' for n, k in fields)
        self.create_stage = f"CREATE TEMP TABLE IF NOT EXISTS {self.stage} (key text, doc text{typed})"
        self.copy = f"COPY {self.stage} ({cols}) FROM STDIN (FORMAT BINARY)"
        self.copy_types = ["text", "text", *(_COPY_TYPES[k] for _n, k in fields)]
        staged = f"WITH staged AS (DELETE FROM {self.stage} RETURNING {cols})"
        self.move = f"{staged} INSERT INTO {table} ({cols}) SELECT {cols} FROM staged {conflict}"


_plan_of = lru_cache(maxsize=256)(_Plan)


def _plan(collection: Collection) -> _Plan:
    return _plan_of(_table(collection), tuple(collection.fields.items()))


def _index_name(table: str, index: tuple[str, ...]) -> str:
    name = f"{table}__{'_'.join(index)}"
    if len(name) <= _NAME_MAX:
        return name
    return f"{name[: _NAME_MAX - 13]}_{hashlib.sha256(name.encode()).hexdigest()[:12]}"


Row = tuple[Any, ...]  # (key, doc JSON, *declared fields)


class _Session:
    """The reads and writes of one transaction: reads through a cache, writes behind it.

    `get`/`get_many` see the earlier `put`/`delete` of the same session; the writes of one key are
    coalesced and go out per collection in bulk at `flush` (or before a `find`/`count` on that
    collection, so queries see them too). The cache holds each document's JSON text, so what a read
    returns is exactly what the database would return for it.
    """

    def __init__(self, conn: psycopg.Connection[Any], staged: frozenset[str] = frozenset()) -> None:
        self.conn = conn
        self._staged = staged  # the staging tables this connection has
        self._cache: dict[str, dict[str, str | None]] = {}  # table -> key -> doc JSON (None: no row)
        self._pending: dict[str, dict[str, Row | None]] = {}  # table -> key -> row to write (None: delete)
        self._plans: dict[str, _Plan] = {}

    def get(self, collection: Collection, key: str) -> dict[str, Any] | None:
        table = _table(collection)
        cached = self._cache.setdefault(table, {})
        if key in cached:
            text = cached[key]
        else:
            row = self.conn.execute(f"SELECT doc FROM {table} WHERE key=%s", (_db_key(key),)).fetchone()
            text = cached[key] = row[0] if row else None
        return _loads(text) if text is not None else None

    def get_many(self, collection: Collection, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        table = _table(collection)
        cached = self._cache.setdefault(table, {})
        wanted = list(dict.fromkeys(keys))
        missing = [key for key in wanted if key not in cached]
        if missing:
            cached.update(dict.fromkeys(missing))
            asked = {_db_key(key): key for key in missing}
            for stored, text in self.conn.execute(f"SELECT key, doc FROM {table} WHERE key = ANY(%s)", (list(asked),)):
                cached[asked.get(stored, stored)] = text
        found = ((key, cached[key]) for key in wanted)
        return {key: _loads(text) for key, text in found if text is not None}

    def put(self, collection: Collection, key: str, doc: dict[str, Any]) -> None:
        table = _table(collection)
        text = _dumps(doc)
        self._cache.setdefault(table, {})[key] = text
        if table not in self._plans:
            self._plans[table] = _plan(collection)
        stored = _db_key(key)
        row = (stored, text, *(_value(kind, doc.get(n)) for n, kind in collection.fields.items()))
        self._pending.setdefault(table, {})[stored] = row

    def delete(self, collection: Collection, key: str) -> None:
        table = _table(collection)
        self._cache.setdefault(table, {})[key] = None
        self._pending.setdefault(table, {})[_db_key(key)] = None

    def flush(self, collection: Collection | None = None) -> None:
        """Write what is pending (for one collection, or all), in key order (a steady lock order)."""
        tables = [_table(collection)] if collection is not None else sorted(self._pending)
        for table in tables:
            pending = self._pending.pop(table, None)
            if not pending:
                continue
            gone = sorted(key for key, row in pending.items() if row is None)
            rows = sorted((row for row in pending.values() if row is not None), key=lambda row: str(row[0]))
            with self.conn.cursor() as cur:
                if gone:
                    cur.execute(f"DELETE FROM {table} WHERE key = ANY(%s)", (gone,))
                plan = self._plans[table] if rows else None
                if plan is None:
                    continue
                if len(rows) < _COPY_FROM or plan.stage not in self._staged:
                    cur.executemany(plan.upsert, rows)
                    continue
                with cur.copy(plan.copy) as copy:  # binary COPY: no statement per row, no text escaping
                    copy.set_types(plan.copy_types)
                    for row in rows:
                        copy.write_row(row)
                cur.execute(plan.move)

    def find(self, collection: Collection, query: Query) -> list[dict[str, Any]]:
        self.flush(collection)
        where, params = _where(collection, query)
        sql = f"SELECT doc FROM {_table(collection)}{where}"
        if query.order:
            for name, _desc in query.order:
                _check(collection, name)
            order = (f'"{n}" DESC NULLS LAST' if d else f'"{n}" ASC NULLS FIRST' for n, d in query.order)
            sql += " ORDER BY " + ", ".join(order)
        if query.limit is not None and query.limit >= 0:  # SQLite reads a negative limit as none
            sql += " LIMIT %s"
            params.append(query.limit)
        if query.skip > 0:
            sql += " OFFSET %s"
            params.append(query.skip)
        return [_loads(r[0]) for r in self.conn.execute(sql, params)]

    def count(self, collection: Collection, query: Query) -> int:
        self.flush(collection)
        where, params = _where(collection, query)
        row = self.conn.execute(f"SELECT count(*) FROM {_table(collection)}{where}", params).fetchone()
        return int(row[0]) if row else 0


def _configure(conn: psycopg.Connection[Any]) -> None:
    # Every int goes as bigint, so a statement keeps one prepared form whatever the magnitudes.
    conn.adapters.register_dumper(int, Int8Dumper)


def _add_new_fields(conn: psycopg.Connection[Any], table: str, collection: Collection) -> None:
    """A field declared after the table was made becomes a column, filled from the documents already there.

    So a release may declare a new field without a rebuild: rows written before get the value a fresh
    write of the same document would give the column (NULL when the document lacks it).
    """
    have_sql = "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped"
    have = {row[0] for row in conn.execute(have_sql, (table,))}
    new = [(name, kind) for name, kind in collection.fields.items() if name not in have]
    if not new:
        return
    for name, kind in new:
        conn.execute(f'ALTER TABLE {table} ADD COLUMN IF NOT EXISTS "{name}" {_SQL_TYPES[kind]}')
    update = f"UPDATE {table} SET " + ", ".join(f'"{n}"=%s' for n, _k in new) + " WHERE key=%s"
    with conn.cursor(name=f"{table}__fill") as read, conn.cursor() as write:
        read.execute(f"SELECT key, doc FROM {table}")
        while rows := read.fetchmany(_FILL_BATCH):
            changes = []
            for key, text in rows:
                doc = _loads(text)
                values = [_value(k, doc.get(n) if isinstance(doc, dict) else None, strict=False) for n, k in new]
                if any(v is not None for v in values):
                    changes.append((*values, key))
            if changes:
                write.executemany(update, changes)


def _create(conn: psycopg.Connection[Any], c: Collection) -> None:
    table = _table(c)
    cols = "".join(f', "{n}" {_SQL_TYPES[t]}' for n, t in c.fields.items())
    conn.execute(f'CREATE TABLE IF NOT EXISTS {table} (key text COLLATE "C" PRIMARY KEY, doc text NOT NULL{cols})')
    _add_new_fields(conn, table, c)
    for index in c.indexes:
        # NULLS FIRST: one index serves both orders `find` asks for (ASC NULLS FIRST, DESC NULLS LAST).
        columns = ", ".join(f'"{i}" NULLS FIRST' for i in index)
        conn.execute(f"CREATE INDEX IF NOT EXISTS {_index_name(table, index)} ON {table} ({columns})")


class PostgresReadModelStore:
    """`ReadModelStore` on one PostgreSQL database (the URL's): one writer connection, pooled readers."""

    def __init__(self, url: str, *, readers: int = 8, timeout_s: float = 10.0) -> None:
        extra = {"application_name": "wamux-readmodels", "connect_timeout": str(max(1, round(timeout_s)))}
        given = conninfo_to_dict(url)
        self._conninfo = make_conninfo(url, **{k: v for k, v in extra.items() if k not in given})
        self._write_lock = threading.RLock()
        self._ensured: dict[str, Collection] = {}
        self._staged: frozenset[str] = frozenset()  # the staging tables of the writer connection
        self._writer = self._connect()
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            self._conninfo, min_size=1, max_size=max(1, readers), kwargs={"autocommit": True}, open=False,
            configure=_configure, timeout=timeout_s * 3, name="wamux-readmodels",
        )  # fmt: skip
        try:
            with self._write() as conn:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_ENSURE_LOCK,))
                conn.execute(
                    'CREATE TABLE IF NOT EXISTS rm_tracking (name text COLLATE "C" PRIMARY KEY, position bigint)'
                )
            self._pool.open(wait=True, timeout=timeout_s)
        except BaseException:
            self._writer.close()
            self._pool.close()
            raise

    def _connect(self) -> psycopg.Connection[Any]:
        conn = psycopg.connect(self._conninfo, autocommit=True)
        _configure(conn)
        return conn

    def _conn(self) -> psycopg.Connection[Any]:
        """The writer connection (the write lock held), a new one if the server dropped it."""
        if self._writer.closed or self._writer.broken:
            self._writer.close()
            self._writer, self._staged = self._connect(), frozenset()
            with self._writer.transaction():  # before any other: the temporary tables went with the old one
                self._staged = self._stage(self._writer, self._ensured.values())
        return self._writer

    @contextmanager
    def _write(self) -> Iterator[psycopg.Connection[Any]]:
        """One transaction on the writer connection; one the server dropped while idle is replaced once."""
        with self._write_lock:
            conn = self._conn()
            try:
                conn.execute("BEGIN")
            except psycopg.OperationalError:
                if not conn.broken:
                    raise
                conn = self._conn()
                conn.execute("BEGIN")
            try:
                yield conn
                # Delivered once this commits: nodes that read these tables (and do not write them) learn of it.
                conn.execute(_NOTIFY)
            except BaseException:
                with suppress(psycopg.Error):  # a connection gone takes its transaction with it
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _stage(self, conn: psycopg.Connection[Any], collections: Iterable[Collection]) -> frozenset[str]:
        """Make the staging tables of `collections` on the writer connection (temporary: they go with it)."""
        plans = [_plan(c) for c in collections]
        for plan in plans:
            if plan.stage not in self._staged:
                conn.execute(plan.create_stage)
        return self._staged | {plan.stage for plan in plans}

    def _read(self, read: Callable[[_Session], T]) -> T:
        try:
            with self._pool.connection() as conn:
                return read(_Session(conn))
        except psycopg.OperationalError:  # connections the server dropped (a restart): replaced, then once more
            self._pool.check()
            with self._pool.connection() as conn:
                return read(_Session(conn))

    def ensure(self, collections: tuple[Collection, ...]) -> None:
        todo = [c for c in collections if self._ensured.get(c.name) != c]
        if not todo:
            return
        with self._write_lock:  # held past the commit (it is re-entrant)
            with self._write() as conn:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_ENSURE_LOCK,))  # one creator at a time
                for c in todo:
                    _create(conn, c)
                staged = self._stage(conn, todo)
            self._staged = staged  # once committed: the temporary tables exist only then
            self._ensured.update((c.name, c) for c in todo)

    def position(self, projection: str) -> int:
        sql = "SELECT position FROM rm_tracking WHERE name=%s"
        row = self._read(lambda session: session.conn.execute(sql, (projection,)).fetchone())
        return int(row[0]) if row and row[0] is not None else 0

    def positions(self) -> dict[str, int]:
        sql = "SELECT name, position FROM rm_tracking"
        rows = self._read(lambda session: session.conn.execute(sql).fetchall())
        return {str(name): int(position or 0) for name, position in rows}

    def apply(self, projection: str, position: int, work: Callable[[ReadSession], None]) -> None:
        with self._write() as conn:
            session = _Session(conn, self._staged)
            work(session)
            session.flush()
            conn.execute(_TRACK, (projection, position))

    def apply_all(self, items: Sequence[tuple[str, int, Callable[[ReadSession], None]]]) -> dict[str, Exception]:
        """Every projection's work and position in one transaction, each inside its own SAVEPOINT:
        a work that raises is rolled back to its savepoint alone and reported, the others commit."""
        failed: dict[str, Exception] = {}
        if not items:
            return failed
        with self._write() as conn:
            done: list[tuple[str, int]] = []
            for projection, position, work in items:
                try:
                    with conn.transaction():  # a SAVEPOINT, rolled back if the work raises
                        session = _Session(conn, self._staged)
                        work(session)
                        session.flush()
                except Exception as exc:
                    if conn.broken or conn.info.transaction_status != TransactionStatus.INTRANS:
                        raise  # the connection or the whole transaction is gone, not only this work
                    failed[projection] = exc
                    continue
                done.append((projection, position))
            if done:
                with conn.cursor() as cur:
                    cur.executemany(_TRACK, done)
        return failed

    def get(self, collection: Collection, key: str) -> dict[str, Any] | None:
        return self._read(lambda session: session.get(collection, key))

    def find(self, collection: Collection, query: Query) -> list[dict[str, Any]]:
        return self._read(lambda session: session.find(collection, query))

    def count(self, collection: Collection, query: Query) -> int:
        return self._read(lambda session: session.count(collection, query))

    def reset(self, projection: str, collections: tuple[Collection, ...]) -> None:
        with self._write() as conn:
            if collections:
                conn.execute("TRUNCATE " + ", ".join(_table(c) for c in collections))
            conn.execute("DELETE FROM rm_tracking WHERE name=%s", (projection,))

    def close(self) -> None:
        try:
            self._pool.close()
        finally:
            self._writer.close()
