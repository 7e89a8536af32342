"""The `ts` timeline of the MongoDB events collection: one stream's events by (ts, notification id).

Served by the (originator_id, ts, _id) and (originator_id, topic, ts, _id) indexes that
`MongoApplicationRecorder.create_table` creates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification
from pymongo import ASCENDING, DESCENDING
from pymongo.collection import Collection

from wamux.adapters.eventlog.mongo_datastore import notification_from, translate_errors


def timeline_query(
    originator_id: UUID,
    topics: Sequence[str],
    start_ts: int | None,
    end_ts: int | None,
    after: tuple[int, int] | None = None,
    before: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """The filter of one stream's events between inclusive ms bounds and exclusive (ts, id) bounds."""
    query: dict[str, Any] = {"originator_id": originator_id}
    if topics:
        query["topic"] = {"$in": list(topics)}
    lows = [v for v in (start_ts, after[0] if after else None) if v is not None]
    highs = [v for v in (end_ts, before[0] if before else None) if v is not None]
    ts: dict[str, int] = {}
    if lows:
        ts["$gte"] = max(lows)
    if highs:
        ts["$lte"] = min(highs)
    if ts:
        query["ts"] = ts
    # Exclusive (ts, id) bounds as "ts range, minus the ties on the wrong side of the id":
    # the ts part stays an index range, the rest filters the few rows at the boundary ts.
    excluded = []
    if after is not None:
        excluded.append({"ts": after[0], "_id": {"$lte": after[1]}})
    if before is not None:
        excluded.append({"ts": before[0], "_id": {"$gte": before[1]}})
    if excluded:
        query["$nor"] = excluded
    return query


class MongoTimeline:
    """`TimelineRecorder`'s queries over `events` (mixed into the application recorder)."""

    events: Collection[dict[str, Any]]

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
        query = timeline_query(originator_id, topics, start_ts, end_ts, after, before)
        order = DESCENDING if desc else ASCENDING
        with translate_errors():
            cursor = (
                self.events.find(query, {"ts": 0}).sort([("ts", order), ("_id", order)]).skip(max(skip, 0)).limit(limit)
            )
            return [notification_from(d) for d in cursor]

    def count_timeline(
        self,
        originator_id: UUID,
        *,
        topics: Sequence[str] = (),
        start_ts: int | None = None,
        end_ts: int | None = None,
    ) -> int:
        with translate_errors():
            return self.events.count_documents(timeline_query(originator_id, topics, start_ts, end_ts))
