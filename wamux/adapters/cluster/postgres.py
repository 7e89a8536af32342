"""The node registry and the leases on PostgreSQL: `Membership` and `Leases` of `core.ports.cluster`.

Two tables, made on open (under a transaction-level advisory lock, so nodes opening at once do not race):
``cluster_nodes`` (a row per node, alive while ``expires > now()``) and ``cluster_leases`` (a row per lease
name, held while ``expires > now()``). Every time is the database's clock. A lease row is never deleted:
a release sets its expiry to ``-infinity`` and keeps its `epoch`, so the next holder's epoch is always
greater than any before it.

Each call is one statement (``leave``: one short transaction). Statements that lock several lease rows
lock them in name order ("C" collation, Python's `sorted`), so two nodes never deadlock. Every
connection has a `statement_timeout` and a `lock_timeout` of `timeout_s`, TCP keepalives and a user
timeout, and the pool gives up after `timeout_s`: a node whose database stalls or is cut off gets a
`ClusterStoreError` instead of waiting, and so learns it cannot renew.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.types.numeric import Int8Dumper
from psycopg_pool import ConnectionPool, PoolTimeout

from wamux.core.ports import Lease, NodeInfo, instance_lease

T = TypeVar("T")

_SCHEMA_LOCK = int.from_bytes(hashlib.sha256(b"wamux cluster schema").digest()[:8], "big", signed=True)
_SCHEMA = (
    'CREATE TABLE IF NOT EXISTS cluster_nodes (id text COLLATE "C" PRIMARY KEY, url text,'
    " last_seen timestamptz NOT NULL, expires timestamptz NOT NULL, draining boolean NOT NULL DEFAULT false)",
    'CREATE TABLE IF NOT EXISTS cluster_leases (name text COLLATE "C" PRIMARY KEY, owner text COLLATE "C" NOT NULL,'
    " epoch bigint NOT NULL, expires timestamptz NOT NULL) WITH (fillfactor = 70)",  # room for HOT renewals
    "CREATE INDEX IF NOT EXISTS cluster_leases_owner ON cluster_leases (owner)",
)
_SCHEMA_NAMES = ["cluster_nodes", "cluster_leases", "cluster_leases_owner"]


def _ms(column: str) -> str:
    return f"floor(extract(epoch FROM {column}) * 1000)::bigint"


_TTL = "clock_timestamp() + %(ttl)s * interval '1 millisecond'"
_LEASE = f"l.name, l.owner, l.epoch, {_ms('l.expires')}"

# clock_timestamp(), not now(): a statement that waited for a row lock judges expiry at the time it looks.
_HEARTBEAT = f"""
INSERT INTO cluster_nodes AS n (id, url, last_seen, expires, draining)
VALUES (%(id)s, %(url)s, clock_timestamp(), {_TTL}, %(draining)s)
ON CONFLICT (id) DO UPDATE
SET url = excluded.url, last_seen = excluded.last_seen, expires = excluded.expires, draining = excluded.draining
RETURNING {_ms("n.last_seen")}
"""
_NODES = f"""
SELECT n.id, n.url, {_ms("n.last_seen")}, n.expires > now() AS alive, coalesce(h.held, 0), n.draining
FROM cluster_nodes AS n LEFT JOIN (
    SELECT owner, count(*) AS held FROM cluster_leases
    WHERE expires > now() AND starts_with(name, %(prefix)s) GROUP BY owner
) AS h ON h.owner = n.id
ORDER BY alive DESC, n.id
"""
# Names arrive sorted and are inserted in that order. The owner's own unexpired lease is renewed (same
# epoch); a lapsed or released one is taken with the next epoch; another owner's unexpired one is left.
_ACQUIRE = f"""
INSERT INTO cluster_leases AS l (name, owner, epoch, expires)
SELECT u.name, %(owner)s, 1, {_TTL}
FROM unnest(%(names)s::text[]) WITH ORDINALITY AS u(name, position) ORDER BY u.position
ON CONFLICT (name) DO UPDATE
SET owner = excluded.owner, expires = excluded.expires,
    epoch = l.epoch + CASE WHEN l.owner = excluded.owner AND l.expires > clock_timestamp() THEN 0 ELSE 1 END
WHERE l.owner = excluded.owner OR l.expires <= clock_timestamp()
RETURNING {_LEASE}
"""
_RENEW = f"""
WITH mine AS (
    SELECT name FROM cluster_leases WHERE owner = %(owner)s AND expires > clock_timestamp()
    ORDER BY name FOR UPDATE
)
UPDATE cluster_leases AS l SET expires = {_TTL}
FROM mine WHERE l.name = mine.name AND l.owner = %(owner)s AND l.expires > clock_timestamp()
RETURNING {_LEASE}
"""
_RELEASE_WHERE = "owner = %(owner)s AND expires > '-infinity'"
_RELEASE = """
WITH mine AS (SELECT name FROM cluster_leases WHERE {where} ORDER BY name FOR UPDATE)
UPDATE cluster_leases AS l SET expires = '-infinity' FROM mine WHERE l.name = mine.name AND l.owner = %(owner)s
"""
_RELEASE_NAMED = _RELEASE.format(where=f"name = ANY(%(names)s::text[]) AND {_RELEASE_WHERE}")
_RELEASE_ALL = _RELEASE.format(where=_RELEASE_WHERE)
_HOLDERS = f"SELECT {_LEASE} FROM cluster_leases AS l WHERE l.expires > now()"


class ClusterStoreError(ConnectionError):
    """The cluster database did not answer in time, or could not be reached; the call may or may not have
    taken effect (the next renew tells).

    A `ConnectionError`, so the core can tell it from a bug without knowing the driver.
    """


def _lease(row: tuple[Any, ...]) -> Lease:
    return Lease(name=str(row[0]), owner=str(row[1]), epoch=int(row[2]), expires_ms=int(row[3]))


class PostgresCluster:
    """`Membership` and `Leases` on the PostgreSQL database of `url`, through a small connection pool."""

    def __init__(self, url: str, *, timeout_s: float = 5.0, connections: int = 4) -> None:
        self._timeout_s = timeout_s
        timeout_ms = max(1, round(timeout_s * 1000))
        extra = {
            "application_name": "wamux-cluster",
            "connect_timeout": str(max(2, math.ceil(timeout_s))),  # libpq's least is 2 s
            "keepalives": "1",
            "keepalives_idle": str(max(1, math.ceil(timeout_s / 2))),
            "keepalives_interval": "1",
            "keepalives_count": "3",
            "tcp_user_timeout": str(timeout_ms),  # a request the network swallows fails, too
        }
        given = conninfo_to_dict(url)
        conninfo = make_conninfo(url, **{k: v for k, v in extra.items() if k not in given})
        limit = f"{timeout_ms}ms"

        def configure(conn: psycopg.Connection[Any]) -> None:
            conn.adapters.register_dumper(int, Int8Dumper)  # one prepared form per statement
            conn.execute(
                "SELECT set_config('statement_timeout', %s, false), set_config('lock_timeout', %s, false),"
                " set_config('idle_in_transaction_session_timeout', %s, false)",
                (limit, limit, limit),
            )

        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            conninfo, min_size=1, max_size=max(1, connections), kwargs={"autocommit": True},
            configure=configure, timeout=timeout_s, name="wamux-cluster", open=False,
        )  # fmt: skip
        try:
            try:
                self._pool.open(wait=True, timeout=max(timeout_s, 2.0))
            except PoolTimeout as error:
                raise ClusterStoreError(f"cannot reach the cluster database: {error}") from error
            self._run(self._create_schema)
        except BaseException:
            self._pool.close()
            raise

    @staticmethod
    def _create_schema(conn: psycopg.Connection[Any]) -> None:
        def present() -> bool:
            row = conn.execute("SELECT bool_and(to_regclass(n) IS NOT NULL) FROM unnest(%s::text[]) AS n",
                               (_SCHEMA_NAMES,)).fetchone()  # fmt: skip
            return bool(row and row[0])

        if present():  # the usual case: no lock at all (CREATE INDEX would lock the table even if it exists)
            return
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            if not present():
                for statement in _SCHEMA:
                    conn.execute(statement)

    def _run(self, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        """`work` on a pooled connection; one the server dropped while it idled is replaced once, quickly."""
        start = time.monotonic()
        try:
            while True:
                with self._pool.connection() as conn:
                    try:
                        return work(conn)
                    except psycopg.OperationalError:
                        if not conn.broken or time.monotonic() - start > self._timeout_s / 2:
                            raise
        except (psycopg.OperationalError, PoolTimeout) as error:
            raise ClusterStoreError(f"the cluster database did not answer: {error}") from error

    def _leases(self, statement: str, params: dict[str, Any]) -> list[Lease]:
        rows = self._run(lambda conn: conn.execute(statement, params).fetchall())
        return sorted((_lease(row) for row in rows), key=lambda lease: lease.name)

    # -- Membership --

    def heartbeat(self, node_id: str, url: str | None, ttl_ms: int, *, draining: bool = False) -> int:
        params = {"id": node_id, "url": url, "ttl": int(ttl_ms), "draining": draining}
        row = self._run(lambda conn: conn.execute(_HEARTBEAT, params).fetchone())
        assert row is not None  # RETURNING of an upsert: always one row
        return int(row[0])

    def nodes(self) -> list[NodeInfo]:
        rows = self._run(lambda conn: conn.execute(_NODES, {"prefix": instance_lease("")}).fetchall())
        return [
            NodeInfo(id=str(r[0]), url=r[1], last_seen_ms=int(r[2]), alive=bool(r[3]), leases=int(r[4]),
                     draining=bool(r[5]))
            for r in rows
        ]  # fmt: skip

    def leave(self, node_id: str) -> None:
        def work(conn: psycopg.Connection[Any]) -> None:
            with conn.transaction():
                conn.execute(_RELEASE_ALL, {"owner": node_id})
                conn.execute("DELETE FROM cluster_nodes WHERE id = %s", (node_id,))

        self._run(work)

    # -- Leases --

    def acquire(self, names: Sequence[str], owner: str, ttl_ms: int) -> list[Lease]:
        wanted = sorted(set(names))  # one row once per statement, rows locked in one order by every node
        if not wanted:
            return []
        return self._leases(_ACQUIRE, {"names": wanted, "owner": owner, "ttl": int(ttl_ms)})

    def renew(self, owner: str, ttl_ms: int) -> list[Lease]:
        return self._leases(_RENEW, {"owner": owner, "ttl": int(ttl_ms)})

    def release(self, names: Sequence[str], owner: str) -> None:
        wanted = sorted(set(names))
        if wanted:
            self._run(lambda conn: conn.execute(_RELEASE_NAMED, {"names": wanted, "owner": owner}))

    def holders(self, names: Sequence[str] = ()) -> dict[str, Lease]:
        wanted = sorted(set(names))
        if wanted:
            rows = self._run(lambda c: c.execute(f"{_HOLDERS} AND l.name = ANY(%s::text[])", (wanted,)).fetchall())
        else:
            rows = self._run(lambda c: c.execute(_HOLDERS).fetchall())
        return {lease.name: lease for lease in map(_lease, rows)}

    def close(self) -> None:
        self._pool.close()
