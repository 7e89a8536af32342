"""What the server asks of a PostgreSQL server besides the log and the read models: is it there, which
version, empty it for a store switch, and why it could not be used, in one sentence.

Each call opens one short connection of its own (psycopg takes the `postgresql://` URL as it is);
eventsourcing's pool would hide a refused connection behind a pool timeout.
"""

from __future__ import annotations

import re

import psycopg
from psycopg import sql

# Tables that hold nothing but what wamux rebuilds from its log (or the log itself): a switch target drops them.
EVENTS_TABLES = ("stored_events",)
READ_MODEL_PREFIX = "rm_"


def _connect(url: str, timeout_s: float) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(url, connect_timeout=max(1, round(timeout_s)), autocommit=True)


def check_reachable(url: str, *, timeout_s: float = 5.0) -> None:
    """Raise psycopg's error (refused, authentication, no such database) when the URL cannot be used."""
    _connect(url, timeout_s).close()


def postgres_version(url: str, *, timeout_s: float = 3.0) -> str:
    with _connect(url, timeout_s) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]).split(" ")[0] if row else "?"


def drop_wamux_tables(url: str, *, timeout_s: float = 5.0) -> None:
    """Drop the event log and every read-model table of the URL's database (its current schema)."""
    with _connect(url, timeout_s) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND (tablename = ANY(%s) "
            "OR left(tablename, %s) = %s)",
            (list(EVENTS_TABLES), len(READ_MODEL_PREFIX), READ_MODEL_PREFIX),
        ).fetchall()
        names = [str(r[0]) for r in rows]
        if names:
            conn.execute(
                sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(sql.SQL(", ").join(map(sql.Identifier, names)))
            )


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    # libpq: 'connection failed: connection to server at "127.0.0.1", port 1 failed: Connection refused\n\tIs …'
    text = text.splitlines()[0] if text else type(error).__name__
    text = re.sub(r"^connection failed: ", "", text)
    text = re.sub(r'^connection to server at "[^"]*"(?: \([^)]*\))?, port \d+ failed: ', "", text)
    text = text.rstrip(".")
    return (text[:1].lower() + text[1:]) if text else type(error).__name__


def postgres_reason(error: BaseException, place: str) -> str | None:
    """One sentence when `error` is psycopg's for a database that cannot be used; None otherwise."""
    from psycopg_pool import PoolTimeout

    if isinstance(error, PoolTimeout):
        return f"cannot reach PostgreSQL at {place}: no connection in time"
    if isinstance(error, psycopg.OperationalError):
        cause = _first_line(error)
        if "authentication failed" in cause or "password" in cause:
            return f"PostgreSQL at {place} refused: authentication failed"
        if "does not exist" in cause:
            return f"PostgreSQL at {place} refused: {cause}"
        return f"cannot reach PostgreSQL at {place}: {cause}"
    if isinstance(error, psycopg.ProgrammingError) and "invalid" in str(error).lower():
        return f"the PostgreSQL URL cannot be used: {_first_line(error)}"
    return None
