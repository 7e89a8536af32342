"""The SQLite event store backend: eventsourcing's SQLite recorders plus a `ts` index.

The events table is eventsourcing's own (`stored_events`, rowid = notification id) with one
more column, `ts`, filled from the event state on insert and indexed with the originator,
so timeline queries (`/events`, `/activity`) are index range scans.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import DataError, Notification, StoredEvent
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteCursor,
    SQLiteDatastore,
    SQLiteFactory,
    SQLiteProcessRecorder,
)

from wamux.adapters.eventlog.codec import stored_event_ts
from wamux.adapters.eventlog.timeline import TimelineRecorder

MAX_ROWID = 2**63 - 1
# Below this many rows a statement per row is as fast: executemany's gain does not pay for the id query.
BULK_MIN_ROWS = 32
TIMELINE_INDEXES = ("timeline", "topic_timeline")  # named {events table}_{name}
TOPIC_INDEX = "topic"


class SQLiteTimelineRecorder(SQLiteApplicationRecorder, TimelineRecorder):
    """eventsourcing's SQLite application recorder with a `ts` column and timeline queries."""

    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name)
        self.insert_events_statement = (
            f"INSERT INTO {self.events_table_name} "
            "(originator_id, originator_version, topic, state, ts) VALUES (?,?,?,?,?)"
        )
        self.copy_in_statement = (
            f"INSERT INTO {self.events_table_name} "
            "(rowid, originator_id, originator_version, topic, state, ts) VALUES (?,?,?,?,?,?)"
        )

    def construct_create_table_statements(self) -> list[str]:
        t = self.events_table_name
        return [
            f"CREATE TABLE IF NOT EXISTS {t} ("
            "originator_id TEXT, originator_version INTEGER, topic TEXT, state BLOB, "
            "ts INTEGER NOT NULL DEFAULT 0, "
            "PRIMARY KEY (originator_id, originator_version))",
            f"CREATE INDEX IF NOT EXISTS {t}_{TIMELINE_INDEXES[0]} ON {t} (originator_id, ts)",
            f"CREATE INDEX IF NOT EXISTS {t}_{TIMELINE_INDEXES[1]} ON {t} (originator_id, topic, ts)",
            # For `select_rare` alone (users, instance lifecycle): `select_notifications` never uses it.
            f"CREATE INDEX IF NOT EXISTS {t}_{TOPIC_INDEX} ON {t} (topic)",
        ]

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        """eventsourcing's query, walking the log in rowid order whatever the topics: with the topic index
        SQLite would collect every row of a frequent topic and sort them for each page."""
        return self._select(start, limit, stop, topics, inclusive_of_start, "NOT INDEXED")

    def select_rare(self, start: int, limit: int, topics: Sequence[str]) -> Sequence[Notification]:
        """The records of rare topics after `start`, in order, through the topic index: at start-up the users
        and instances are read from a big log without walking all of it."""
        assert topics, "select_rare needs topics"
        index = f"INDEXED BY {self.events_table_name}_{TOPIC_INDEX}"
        # One range of the index per topic (each already in rowid order), merged here: an IN list would make
        # SQLite collect and sort every match after `start` for each page.
        found = [n for topic in dict.fromkeys(topics) for n in self._select(start, limit, None, (topic,), False, index)]
        return sorted(found, key=lambda n: n.id)[:limit]

    def _select(
        self,
        start: int | None,
        limit: int,
        stop: int | None,
        topics: Sequence[str],
        inclusive_of_start: bool,
        index: str,
    ) -> Sequence[Notification]:
        where: list[str] = []
        params: list[int | str] = []
        if start is not None:
            where.append("rowid>=?" if inclusive_of_start else "rowid>?")
            params.append(start)
        if stop is not None:
            where.append("rowid<=?")
            params.append(stop)
        if topics:
            where.append(f"topic IN ({','.join('?' * len(topics))})")
            params += list(topics)
        columns = "rowid, originator_id, originator_version, topic, state"
        statement = f"SELECT {columns} FROM {self.events_table_name} {index}"
        if where:
            statement += " WHERE " + " AND ".join(where)
        statement += " ORDER BY rowid LIMIT ?"
        params.append(limit)
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, params)
            return [
                Notification(
                    id=row[0],
                    originator_id=self.convert_originator_id(row[1]),
                    originator_version=row[2],
                    topic=row[3],
                    state=row[4],
                )
                for row in c.fetchall()
            ]

    def _insert_events(self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **_: Any) -> Sequence[int] | None:
        """Insert the records in one statement; their notification ids (rowids) in order.

        A duplicate (originator_id, originator_version) raises sqlite3's IntegrityError, which the
        transaction turns into eventsourcing's after rolling the whole batch back.
        """
        params = [
            (
                s.originator_id.hex if isinstance(s.originator_id, UUID) else s.originator_id,
                s.originator_version,
                s.topic,
                s.state,
                stored_event_ts(s.state),
            )
            for s in stored_events
        ]
        if len(params) < BULK_MIN_ROWS:
            returning = []
            for row in params:
                c.execute(self.insert_events_statement, row)
                returning.append(c.lastrowid)
            return returning
        c.executemany(self.insert_events_statement, params)
        # executemany sets no lastrowid, but SQLite's last_insert_rowid() is the batch's last row. This
        # transaction holds the write lock and SQLite gives a row without an explicit rowid max(rowid)+1,
        # so the batch took the len(params) consecutive ids ending there.
        c.execute("SELECT last_insert_rowid()")
        last = int(c.fetchone()[0])
        if last >= MAX_ROWID:  # from there on SQLite picks rowids at random: the range would be wrong
            raise DataError(f"{self.events_table_name} has run out of notification ids")
        return list(range(last - len(params) + 1, last + 1))

    def copy_in(self, records: Sequence[Notification]) -> None:
        """Write another log's records under their own notification ids, in one transaction.

        The store switch's bulk copy into a target nobody appends to yet. A record whose
        (originator_id, originator_version) or id is already stored raises IntegrityError; then
        nothing of the page is written.
        """
        params = [
            (
                n.id,
                n.originator_id.hex if isinstance(n.originator_id, UUID) else n.originator_id,
                n.originator_version,
                n.topic,
                n.state,
                stored_event_ts(n.state),
            )
            for n in records
        ]
        with self.datastore.transaction(commit=True) as c:
            c.executemany(self.copy_in_statement, params)

    def drop_timeline_indexes(self) -> None:
        """Drop the timeline indexes (a bulk copy is faster without them); `create_table` builds them again."""
        with self.datastore.transaction(commit=True) as c:
            for name in TIMELINE_INDEXES:
                c.execute(f"DROP INDEX IF EXISTS {self.events_table_name}_{name}")

    @staticmethod
    def _timeline_where(
        originator_id: UUID,
        topics: Sequence[str],
        start_ts: int | None,
        end_ts: int | None,
    ) -> tuple[str, list[Any]]:
        where = ["originator_id=?"]
        params: list[Any] = [originator_id.hex]
        if topics:
            where.append(f"topic IN ({','.join('?' * len(topics))})")
            params.extend(topics)
        if start_ts is not None:
            where.append("ts>=?")
            params.append(start_ts)
        if end_ts is not None:
            where.append("ts<=?")
            params.append(end_ts)
        return " AND ".join(where), params

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
        where, params = self._timeline_where(originator_id, topics, start_ts, end_ts)
        # The plain `ts>=?` / `ts<=?` bounds let SQLite use the (originator_id, ts) index as a range;
        # the OR that breaks ties by position alone would make it scan the stream from its start.
        if after is not None:
            where += " AND ts>=? AND (ts>? OR (ts=? AND rowid>?))"
            params.extend([after[0], after[0], after[0], after[1]])
        if before is not None:
            where += " AND ts<=? AND (ts<? OR (ts=? AND rowid<?))"
            params.extend([before[0], before[0], before[0], before[1]])
        order = "DESC" if desc else "ASC"
        statement = (
            f"SELECT rowid, originator_id, originator_version, topic, state FROM {self.events_table_name} "
            f"WHERE {where} ORDER BY ts {order}, rowid {order} LIMIT ? OFFSET ?"
        )
        params.extend([limit, skip])
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, params)
            return [
                Notification(
                    id=row["rowid"],
                    originator_id=self.convert_originator_id(row["originator_id"]),
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=row["state"],
                )
                for row in c.fetchall()
            ]

    def count_timeline(
        self,
        originator_id: UUID,
        *,
        topics: Sequence[str] = (),
        start_ts: int | None = None,
        end_ts: int | None = None,
    ) -> int:
        where, params = self._timeline_where(originator_id, topics, start_ts, end_ts)
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT COUNT(*) FROM {self.events_table_name} WHERE {where}", params)
            return int(c.fetchone()[0])


class SQLiteTimelineProcessRecorder(SQLiteProcessRecorder, SQLiteTimelineRecorder):
    """Process recorder variant (tracking + events) sharing the same table layout."""


class WamuxSQLiteFactory(SQLiteFactory):
    """eventsourcing's SQLite factory, building our timeline recorder for applications."""

    application_recorder_class = SQLiteTimelineRecorder


def open_sqlite_recorder(path: str, *, lock_timeout: int = 10) -> SQLiteTimelineRecorder:
    """Open (creating if needed) the event log at `path`, in WAL mode."""
    datastore = SQLiteDatastore(db_name=path, lock_timeout=lock_timeout, pool_size=4, max_overflow=8)
    recorder = SQLiteTimelineRecorder(datastore)
    recorder.create_table()
    return recorder
