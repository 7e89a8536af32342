"""The `ts` timeline of the PostgreSQL events table: one stream's events by (ts, notification id).

Served by the (originator_id, ts, notification_id) and (originator_id, topic, ts, notification_id)
indexes that `PostgresTimelineRecorder.create_table` creates. The exclusive (ts, id) cursors are row
comparisons, which PostgreSQL answers as one range of those indexes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification
from eventsourcing.postgres import PostgresDatastore
from psycopg.sql import SQL, Composed, Identifier

COLUMNS = SQL("notification_id, originator_id, originator_version, topic, state")


def notification_from(row: dict[str, Any]) -> Notification:
    return Notification(
        id=row["notification_id"],
        originator_id=row["originator_id"],
        originator_version=row["originator_version"],
        topic=row["topic"],
        state=bytes(row["state"]),
    )


def timeline_where(
    originator_id: UUID,
    topics: Sequence[str],
    start_ts: int | None,
    end_ts: int | None,
    after: tuple[int, int] | None = None,
    before: tuple[int, int] | None = None,
) -> tuple[Composed, list[Any]]:
    """The filter of one stream's events between inclusive ms bounds and exclusive (ts, id) bounds."""
    where = [SQL("originator_id = %s")]
    params: list[Any] = [originator_id]
    if topics:
        where.append(SQL("topic = ANY(%s::text[])"))
        params.append(list(topics))
    if start_ts is not None:
        where.append(SQL("ts >= %s::bigint"))
        params.append(start_ts)
    if end_ts is not None:
        where.append(SQL("ts <= %s::bigint"))
        params.append(end_ts)
    if after is not None:
        where.append(SQL("(ts, notification_id) > (%s::bigint, %s::bigint)"))
        params.extend(after)
    if before is not None:
        where.append(SQL("(ts, notification_id) < (%s::bigint, %s::bigint)"))
        params.extend(before)
    return SQL(" AND ").join(where), params


class PostgresTimeline:
    """`TimelineRecorder`'s queries over the events table (mixed into the application recorder)."""

    datastore: PostgresDatastore
    events_table_name: str

    def _table_sql(self) -> Composed:
        return SQL("{}.{}").format(Identifier(self.datastore.schema), Identifier(self.events_table_name))

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
        where, params = timeline_where(originator_id, topics, start_ts, end_ts, after, before)
        order = SQL("DESC" if desc else "ASC")
        statement = SQL(
            "SELECT {columns} FROM {table} WHERE {where} "
            "ORDER BY ts {order}, notification_id {order} LIMIT %s::bigint OFFSET %s::bigint"
        ).format(columns=COLUMNS, table=self._table_sql(), where=where, order=order)
        params.extend([limit, max(skip, 0)])
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, params)
            return [notification_from(row) for row in curs.fetchall()]

    def count_timeline(
        self,
        originator_id: UUID,
        *,
        topics: Sequence[str] = (),
        start_ts: int | None = None,
        end_ts: int | None = None,
    ) -> int:
        where, params = timeline_where(originator_id, topics, start_ts, end_ts)
        statement = SQL("SELECT COUNT(*) AS n FROM {table} WHERE {where}").format(table=self._table_sql(), where=where)
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, params)
            row = curs.fetchone()
            assert row is not None
            return int(row["n"])
