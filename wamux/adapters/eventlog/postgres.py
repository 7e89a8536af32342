"""The PostgreSQL event store backend: eventsourcing's PostgreSQL recorders plus a `ts` index.

The events table is eventsourcing's (`stored_events`: the same columns, primary key and unique
notification_id index) with one more column, `ts`, filled from the event state on insert and indexed with
the originator, so timeline queries (`/events`, `/activity`) are index range scans (see
`postgres_timeline.py`); a (topic, notification_id) index serves `select_rare`.

Notification ids are gap-free and in commit order, as on SQLite and MongoDB: eventsourcing's `bigserial`
would leave a hole for every rolled-back insert (a version conflict moves the sequence all the same), so
the ids are given explicitly instead. Under eventsourcing's EXCLUSIVE table lock, which serialises every
writer of the table, from any process, until it commits (readers are not blocked), a batch takes
max(notification_id)+1 .. +n. A failed batch uses up nothing, and a reader tailing the log can never pass
an id that a transaction still open would fill in later. The insert `NOTIFY`s the table's channel, as
eventsourcing's does, so its subscriptions (LISTEN) keep working.
"""

from __future__ import annotations

import getpass
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import eventsourcing.postgres as es_postgres
from eventsourcing.persistence import Notification, ProgrammingError, StoredEvent
from eventsourcing.postgres import (
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresProcessRecorder,
)
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed, Identifier

from wamux.adapters.eventlog.codec import stored_event_ts
from wamux.adapters.eventlog.postgres_timeline import COLUMNS, PostgresTimeline, notification_from
from wamux.adapters.eventlog.timeline import TimelineRecorder

TIMELINE_INDEXES = {  # named {events table}_{name}
    "timeline": "originator_id, ts, notification_id",
    "topic_timeline": "originator_id, topic, ts, notification_id",
}
TOPIC_INDEX = ("topic", "topic, notification_id")  # for `select_rare` alone
# Serialises `create_table` across processes: concurrent CREATE ... IF NOT EXISTS of one name can collide.
CREATE_LOCK_KEY = 0x77616D7578  # "wamux"
DEFAULT_PORT = 5432
_URL_KEYS = ("dbname", "host", "port", "user", "password")


class PostgresTimelineRecorder(PostgresApplicationRecorder, PostgresTimeline, TimelineRecorder):
    """eventsourcing's PostgreSQL application recorder with gap-free ids, a `ts` column and timeline queries."""

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        if datastore.originator_id_type != "uuid":
            raise ProgrammingError("wamux's event streams are named by UUIDs (originator_id_type 'uuid')")
        if datastore.enable_db_functions:
            raise ProgrammingError("the database insert function hands out sequence ids: it cannot be used here")
        t = self._table_sql()
        name = self.events_table_name
        # Replaces eventsourcing's statements: no `bigserial` (nor the sequence it creates), and neither the
        # composite type nor the insert function (built on the sequence) that the inserts here do not use.
        self.sql_create_statements = [
            SQL(
                "CREATE TABLE IF NOT EXISTS {t} ("
                "originator_id uuid NOT NULL, originator_version bigint NOT NULL, topic text, state bytea, "
                "notification_id bigint NOT NULL, ts bigint NOT NULL DEFAULT 0, "
                "PRIMARY KEY (originator_id, originator_version)) "
                "WITH (autovacuum_enabled = true, autovacuum_vacuum_threshold = 100000000, "
                "autovacuum_vacuum_scale_factor = 0.5, autovacuum_analyze_threshold = 1000, "
                "autovacuum_analyze_scale_factor = 0.01)"
            ).format(t=t),
            SQL("CREATE UNIQUE INDEX IF NOT EXISTS {i} ON {t} (notification_id ASC)").format(
                i=Identifier(self.notification_id_index_name), t=t
            ),
            *(
                SQL("CREATE INDEX IF NOT EXISTS {i} ON {t} ({c})").format(
                    i=Identifier(f"{name}_{index}"), t=t, c=SQL(c)
                )
                for index, c in (*TIMELINE_INDEXES.items(), TOPIC_INDEX)
            ),
        ]
        # Under the table lock, the batch's record k (1-based) becomes max(notification_id) + k; the answer
        # is one row (that max and the count), not one per record.
        self.insert_numbered_statement = SQL(
            "WITH m AS (SELECT COALESCE(MAX(notification_id), 0) AS last FROM {t}), "
            "i AS (INSERT INTO {t} (notification_id, originator_id, originator_version, topic, state, ts) "
            "SELECT m.last + e.k, e.originator_id, e.originator_version, e.topic, e.state, e.ts "
            "FROM m, unnest(%b::uuid[], %b::bigint[], %b::text[], %b::bytea[], %b::bigint[]) "
            "WITH ORDINALITY AS e(originator_id, originator_version, topic, state, ts, k) RETURNING 1) "
            "SELECT (SELECT last FROM m) AS last, (SELECT COUNT(*) FROM i) AS n"
        ).format(t=t)
        self.copy_in_statement = SQL(
            "INSERT INTO {t} (notification_id, originator_id, originator_version, topic, state, ts) "
            "SELECT * FROM unnest(%b::bigint[], %b::uuid[], %b::bigint[], %b::text[], %b::bytea[], %b::bigint[])"
        ).format(t=t)
        self.select_rare_branch = SQL(
            "(SELECT {columns} FROM {t} WHERE topic = %(t{k})s AND notification_id > %(start)s::bigint "
            "ORDER BY notification_id LIMIT %(limit)s::bigint)"
        )

        # eventsourcing's `lock_table_statements` and its NOTIFY, composed once (composing them takes a good part
        # of a small insert's time).
        self._lock_statements = [
            SQL("SET LOCAL lock_timeout = '{}s'").format(datastore.lock_timeout).as_bytes(),
            SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(t).as_bytes(),
        ]
        self._notify_statement = SQL("NOTIFY {}").format(Identifier(self.channel_name)).as_bytes()

    def _create_table(self, curs: Cursor[DictRow]) -> None:
        curs.execute("SELECT pg_advisory_xact_lock(%s)", (CREATE_LOCK_KEY,))
        super()._create_table(curs)

    @staticmethod
    def _columns(records: Sequence[StoredEvent]) -> list[list[Any]]:
        return [
            [r.originator_id for r in records],
            [r.originator_version for r in records],
            [r.topic for r in records],
            [r.state for r in records],
            [stored_event_ts(r.state) for r in records],
        ]

    def _insert_stored_events(self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **_: Any) -> None:
        """Insert the batch in one statement, numbered after the largest id; called inside the transaction.

        A duplicate (originator_id, originator_version), stored or twice in the batch, fails the statement:
        eventsourcing's `insert_events` rolls the transaction back and raises its IntegrityError.
        """
        self._lock_table(curs)
        self._notify_channel(curs)
        curs.execute(self.insert_numbered_statement, self._columns(stored_events), prepare=True)

    def _fetch_ids_after_insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **_: Any
    ) -> Sequence[int] | None:
        row = curs.fetchone()
        if row is None or row["n"] != len(stored_events):
            raise ProgrammingError(f"inserted {row and row['n']} records of {len(stored_events)}")
        return list(range(row["last"] + 1, row["last"] + 1 + len(stored_events)))

    def _lock_table(self, curs: Cursor[DictRow]) -> None:
        for statement in self._lock_statements:
            curs.execute(statement, prepare=True)

    def _notify_channel(self, curs: Cursor[DictRow]) -> None:
        curs.execute(self._notify_statement)

    def copy_in(self, records: Sequence[Notification]) -> None:
        """Write another log's records under their own notification ids, in one transaction.

        The store switch's bulk copy into a target nobody appends to yet (it takes the table lock all the
        same). A record whose id or (originator_id, originator_version) is already stored raises
        IntegrityError; then nothing of the page is written.
        """
        if not records:
            return
        with self.datastore.transaction(commit=True) as curs:
            self._lock_table(curs)
            self._notify_channel(curs)
            curs.execute(self.copy_in_statement, [[n.id for n in records], *self._columns(records)])

    def drop_timeline_indexes(self) -> None:
        """Drop the timeline indexes (a bulk copy is faster without them); `create_table` builds them again."""
        with self.datastore.transaction(commit=True) as curs:
            for index in TIMELINE_INDEXES:
                name = Identifier(self.datastore.schema, f"{self.events_table_name}_{index}")
                curs.execute(SQL("DROP INDEX IF EXISTS {}").format(name))

    def select_rare(self, start: int, limit: int, topics: Sequence[str]) -> Sequence[Notification]:
        """The records of rare topics after `start`, in order, through the (topic, notification_id) index: at
        start-up the users and instances are read from a big log without walking all of it.

        One range of the index per topic (each already in id order), merged. The topics are constants of a
        statement planned for them (never prepared): a generic plan, or a `topic = ANY(...)` filter, has the
        planner walk the whole log in id order or collect and sort every match after `start`.
        """
        assert topics, "select_rare needs topics"
        if limit <= 0:
            return []
        statement, params = self.select_rare_query(start, limit, topics)
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, params, prepare=False)
            return [notification_from(row) for row in curs.fetchall()]

    def select_rare_query(self, start: int, limit: int, topics: Sequence[str]) -> tuple[Composed, dict[str, Any]]:
        """The statement `select_rare` runs, and its parameters (the tests EXPLAIN it)."""
        unique = list(dict.fromkeys(topics))
        t = self._table_sql()
        branches = [self.select_rare_branch.format(columns=COLUMNS, t=t, k=SQL(str(k))) for k in range(len(unique))]
        statement = SQL("SELECT * FROM ({}) AS r ORDER BY notification_id LIMIT %(limit)s::bigint").format(
            SQL(" UNION ALL ").join(branches)
        )
        return statement, {"start": start, "limit": limit, **{f"t{k}": v for k, v in enumerate(unique)}}


class PostgresTimelineProcessRecorder(PostgresProcessRecorder, PostgresTimelineRecorder):
    """Process recorder variant (tracking + events) sharing the same table layout."""


class WamuxPostgresFactory(es_postgres.PostgresFactory):
    """eventsourcing's PostgreSQL factory (configured by its POSTGRES_* settings), building our recorders."""

    application_recorder_class = PostgresTimelineRecorder
    process_recorder_class = PostgresTimelineProcessRecorder


def parse_postgres_url(url: str) -> dict[str, Any]:
    """The connection parameters of a ``postgresql://user:password@host:port/dbname`` URL (or ``postgres://``).

    Parts are percent-decoded (a host may be a socket directory, ``%2Frun%2Fpostgresql``); the query string
    may set the same five parameters (``?host=/run/postgresql``). Without a user, libpq's default (the
    system user name); without a host, libpq's (the local socket); port 5432. A URL without a database
    name, or with any other parameter, raises ValueError.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ValueError("a PostgreSQL URL starts with postgresql:// or postgres://")
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    if hostport.startswith("["):  # an IPv6 address
        host, _, rest = hostport[1:].partition("]")
        port = rest.removeprefix(":")
    else:
        host, _, port = hostport.partition(":")
    found: dict[str, str] = {
        "dbname": unquote(parts.path.removeprefix("/")),
        "host": unquote(host),
        "port": unquote(port),
        "user": unquote(user),
        "password": unquote(password),
    }
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key not in _URL_KEYS:
            raise ValueError(f"unsupported PostgreSQL URL parameter {key!r}")
        found[key] = value
    if not found["dbname"]:
        raise ValueError("the PostgreSQL URL names no database (postgresql://host/dbname)")
    if not found["user"]:
        found["user"] = getpass.getuser()
    port_text = found["port"] or str(DEFAULT_PORT)
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"invalid port in the PostgreSQL URL: {port_text!r}")
    return {**found, "port": int(port_text)}


def open_postgres_recorder(url: str, *, events_table_name: str = "stored_events") -> PostgresTimelineRecorder:
    """Open (creating the table if needed) the event log in the database `url` names."""
    params = parse_postgres_url(url)
    datastore = PostgresDatastore(
        **params,
        pool_size=4,
        max_overflow=8,
        lock_timeout=10,  # seconds a writer waits for the table lock before the insert fails
        idle_in_transaction_session_timeout=5,  # a stuck client cannot hold the table lock for long
    )
    try:
        recorder = PostgresTimelineRecorder(datastore, events_table_name=events_table_name)
        recorder.create_table()
    except BaseException:
        datastore.close()  # its pool would go on trying to connect in the background
        raise
    return recorder


__all__ = [
    "PostgresTimelineProcessRecorder",
    "PostgresTimelineRecorder",
    "WamuxPostgresFactory",
    "open_postgres_recorder",
    "parse_postgres_url",
]
