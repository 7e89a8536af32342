"""Read models on SQLite: one table per collection, declared fields as indexed columns.

Read models live in their own file next to the event log, so projection writes never wait
behind event appends, and a backup needs only the log (read models rebuild from it).
`apply_all` writes the work of every projection of a batch and their positions in one
transaction, a SAVEPOINT per projection so that one which raises is undone alone.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from wamux.adapters.readmodels.documents import dumps as _dumps
from wamux.adapters.readmodels.documents import loads as _loads
from wamux.projections.ports import Collection, Query, ReadSession

_SQL_TYPES = {"text": "TEXT", "int": "INTEGER", "real": "REAL", "bool": "INTEGER"}
_TRACK = (
    "INSERT INTO rm_tracking (name, position) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET position=excluded.position"
)
_KEYS_PER_QUERY = 500  # bound parameters of one `get_many` query (older SQLite builds allow 999)


def _table(collection: Collection) -> str:
    return f"rm_{collection.name}"


def _column_value(doc: dict[str, Any], name: str) -> Any:
    value = doc.get(name)
    if isinstance(value, bool):
        return int(value)
    return value


def _where(collection: Collection, query: Query) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for name, value in query.where.items():
        _check(collection, name)
        if value is None:
            clauses.append(f'"{name}" IS NULL')
        else:
            clauses.append(f'"{name}"=?')
            params.append(int(value) if isinstance(value, bool) else value)
    for name, (low, high) in query.ranges.items():
        _check(collection, name)
        if low is not None:
            clauses.append(f'"{name}">=?')
            params.append(low)
        if high is not None:
            clauses.append(f'"{name}"<=?')
            params.append(high)
    if query.search is not None:
        names, needle = query.search
        for name in names:
            _check(collection, name)
        like = "%" + needle.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        clauses.append("(" + " OR ".join(f"lower(\"{n}\") LIKE ? ESCAPE '\\'" for n in names) + ")")
        params.extend([like] * len(names))
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _add_new_fields(conn: sqlite3.Connection, table: str, collection: Collection) -> None:
    """A field declared after the table was made becomes a column, filled from the documents already there.

    So a release may declare a new field without a rebuild: rows written before hold it in `doc` (or not
    at all, then NULL), exactly what a fresh table would hold after the same writes.
    """
    have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
    for name, kind in collection.fields.items():
        if name in have:
            continue
        conn.execute(f'ALTER TABLE {table} ADD COLUMN "{name}" {_SQL_TYPES[kind]}')
        conn.execute(f'UPDATE {table} SET "{name}" = json_extract(doc, ?)', (f'$."{name}"',))


def _check(collection: Collection, name: str) -> None:
    if name not in collection.fields and name != "key":
        raise ValueError(f"{collection.name}: {name} is not a declared field")


Row = tuple[Any, ...]  # (key, doc JSON, *declared fields) as `INSERT OR REPLACE` takes it


class _Session:
    """The reads and writes of one transaction: reads through a cache, writes behind it.

    `get`/`get_many` see the earlier `put`/`delete` of the same session; the writes of one key are
    coalesced and go out per collection in one `executemany` at `flush` (or before a `find`/`count`
    on that collection, so queries see them too). The cache holds each document's JSON text,
    so what a read returns is exactly what the database would return for it.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._cache: dict[str, dict[str, str | None]] = {}  # table -> key -> doc JSON (None: no row)
        self._pending: dict[str, dict[str, Row | None]] = {}  # table -> key -> row to write (None: delete)
        self._insert: dict[str, str] = {}  # table -> its INSERT OR REPLACE statement

    def _cached(self, table: str) -> dict[str, str | None]:
        cached = self._cache.get(table)
        if cached is None:
            cached = self._cache[table] = {}
        return cached

    def get(self, collection: Collection, key: str) -> dict[str, Any] | None:
        table = _table(collection)
        cached = self._cached(table)
        if key in cached:
            text = cached[key]
        else:
            row = self.conn.execute(f"SELECT doc FROM {table} WHERE key=?", (key,)).fetchone()
            text = cached[key] = row[0] if row else None
        return _loads(text) if text is not None else None

    def get_many(self, collection: Collection, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        table = _table(collection)
        cached = self._cached(table)
        wanted = list(dict.fromkeys(keys))
        missing = [key for key in wanted if key not in cached]
        for start in range(0, len(missing), _KEYS_PER_QUERY):
            chunk = missing[start : start + _KEYS_PER_QUERY]
            marks = ",".join("?" * len(chunk))
            cached.update(dict.fromkeys(chunk))
            cached.update(self.conn.execute(f"SELECT key, doc FROM {table} WHERE key IN ({marks})", chunk))
        found = ((key, cached[key]) for key in wanted)
        return {key: _loads(text) for key, text in found if text is not None}

    def put(self, collection: Collection, key: str, doc: dict[str, Any]) -> None:
        table = _table(collection)
        text = _dumps(doc)
        self._cached(table)[key] = text
        if table not in self._insert:
            names = list(collection.fields)
            cols = ", ".join(["key", "doc", *(f'"{n}"' for n in names)])
            marks = ", ".join("?" * (len(names) + 2))
            self._insert[table] = f"INSERT OR REPLACE INTO {table} ({cols}) VALUES ({marks})"
        row = (key, text, *(_column_value(doc, n) for n in collection.fields))
        self._pending.setdefault(table, {})[key] = row

    def delete(self, collection: Collection, key: str) -> None:
        table = _table(collection)
        self._cached(table)[key] = None
        self._pending.setdefault(table, {})[key] = None

    def flush(self, collection: Collection | None = None) -> None:
        """Write what is pending (for one collection, or all)."""
        tables = [_table(collection)] if collection is not None else list(self._pending)
        for table in tables:
            pending = self._pending.pop(table, None)
            if not pending:
                continue
            gone = [(key,) for key, row in pending.items() if row is None]
            rows = [row for row in pending.values() if row is not None]
            if gone:
                self.conn.executemany(f"DELETE FROM {table} WHERE key=?", gone)
            if rows:
                self.conn.executemany(self._insert[table], rows)

    def find(self, collection: Collection, query: Query) -> list[dict[str, Any]]:
        self.flush(collection)
        where, params = _where(collection, query)
        sql = f"SELECT doc FROM {_table(collection)}{where}"
        if query.order:
            for name, _desc in query.order:
                _check(collection, name)
            sql += " ORDER BY " + ", ".join(f'"{n}" {"DESC" if d else "ASC"}' for n, d in query.order)
        if query.limit is not None or query.skip:
            sql += " LIMIT ? OFFSET ?"
            params += [query.limit if query.limit is not None else -1, query.skip]
        return [_loads(r[0]) for r in self.conn.execute(sql, params)]

    def count(self, collection: Collection, query: Query) -> int:
        self.flush(collection)
        where, params = _where(collection, query)
        return int(self.conn.execute(f"SELECT COUNT(*) FROM {_table(collection)}{where}", params).fetchone()[0])


class SQLiteReadModelStore:
    """`ReadModelStore` on one SQLite file in WAL mode; one writer connection, pooled readers."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._writer = self._connect()
        self._writer.execute("CREATE TABLE IF NOT EXISTS rm_tracking (name TEXT PRIMARY KEY, position INTEGER)")
        self._writer.commit()
        self._ensured: set[str] = set()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._write_lock:
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def ensure(self, collections: tuple[Collection, ...]) -> None:
        with self._write() as conn:
            for c in collections:
                if c.name in self._ensured:
                    continue
                table = _table(c)
                cols = ", ".join(f'"{n}" {_SQL_TYPES[t]}' for n, t in c.fields.items())
                conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {table} (key TEXT PRIMARY KEY, doc TEXT NOT NULL"
                    + (f", {cols}" if cols else "")
                    + ")"
                )
                _add_new_fields(conn, table, c)
                for index in c.indexes:
                    name = f"{table}__{'_'.join(index)}"
                    columns = ", ".join(f'"{i}"' for i in index)
                    conn.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({columns})")
                self._ensured.add(c.name)

    def position(self, projection: str) -> int:
        row = self._reader().execute("SELECT position FROM rm_tracking WHERE name=?", (projection,)).fetchone()
        return int(row[0]) if row else 0

    def positions(self) -> dict[str, int]:
        rows = self._reader().execute("SELECT name, position FROM rm_tracking").fetchall()
        return {str(name): int(position or 0) for name, position in rows}

    def apply(self, projection: str, position: int, work: Callable[[ReadSession], None]) -> None:
        with self._write() as conn:
            session = _Session(conn)
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
                conn.execute("SAVEPOINT projection")
                try:
                    session = _Session(conn)
                    work(session)
                    session.flush()
                except Exception as exc:
                    if not conn.in_transaction:  # SQLite ended the whole transaction (disk full, I/O error)
                        raise
                    conn.execute("ROLLBACK TO projection")
                    conn.execute("RELEASE projection")
                    failed[projection] = exc
                    continue
                conn.execute("RELEASE projection")
                done.append((projection, position))
            conn.executemany(_TRACK, done)
        return failed

    def get(self, collection: Collection, key: str) -> dict[str, Any] | None:
        return _Session(self._reader()).get(collection, key)

    def find(self, collection: Collection, query: Query) -> list[dict[str, Any]]:
        return _Session(self._reader()).find(collection, query)

    def count(self, collection: Collection, query: Query) -> int:
        return _Session(self._reader()).count(collection, query)

    def reset(self, projection: str, collections: tuple[Collection, ...]) -> None:
        with self._write() as conn:
            for c in collections:
                conn.execute(f"DELETE FROM {_table(c)}")
            conn.execute("DELETE FROM rm_tracking WHERE name=?", (projection,))

    def close(self) -> None:
        self._writer.close()
