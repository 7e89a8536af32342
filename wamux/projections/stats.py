"""Usage counters per instance and UTC day; statistics and limits are sums over them.

Every counter comes from an event (messages, media, api_calls_recorded, webhook_delivered),
so rebuilding from the log gives exactly the same numbers.
"""

from __future__ import annotations

from typing import Any

from wamux.domain.clock import iso_ms
from wamux.domain.events import (
    ApiCallsRecorded,
    InstanceCreated,
    InstanceDeleted,
    InstanceUpdated,
    LimitExceeded,
    MessageReceived,
    MessageSent,
    RecordedEvent,
    WebhookDelivered,
)
from wamux.domain.periods import day_of, day_start_ms
from wamux.projections.ports import Collection, Query, ReadModelStore, ReadSession

USAGE = Collection(
    "usage_daily",
    {"instanceId": "text", "userId": "text", "day": "text"},
    indexes=(("instanceId", "day"), ("userId", "day"), ("day",)),
)
OWNERS = Collection("usage_instances", {"userId": "text", "deleted": "bool"}, indexes=(("userId",),))

COUNTERS = (
    "messagesSent",
    "messagesReceived",
    "mediaSent",
    "mediaReceived",
    "totalMediaSize",
    "apiCalls",
    "webhookSent",
)


def empty_counters() -> dict[str, int]:
    return dict.fromkeys(COUNTERS, 0)


class StatsProjection:
    name: str = "stats"
    collections: tuple[Collection, ...] = (USAGE, OWNERS)
    topics: tuple[str, ...] = (
        InstanceCreated.type,
        InstanceUpdated.type,
        InstanceDeleted.type,
        MessageSent.type,
        MessageReceived.type,
        ApiCallsRecorded.type,
        WebhookDelivered.type,
        LimitExceeded.type,
    )

    def apply(self, session: ReadSession, recorded: RecordedEvent) -> None:
        e = recorded.event
        if isinstance(e, InstanceCreated):
            session.put(
                OWNERS,
                e.instance_id,
                {
                    "instanceId": e.instance_id,
                    "userId": e.user_id,
                    "name": e.name,
                    "deleted": False,
                    "limitNotified": [],
                },
            )
            return
        owner = session.get(OWNERS, getattr(e, "instance_id", recorded.stream_id))
        if owner is None:
            return
        if isinstance(e, InstanceUpdated):
            if "name" in e.changes:
                owner["name"] = e.changes["name"]
                session.put(OWNERS, owner["instanceId"], owner)
            return
        if isinstance(e, InstanceDeleted):
            owner["deleted"] = True
            session.put(OWNERS, owner["instanceId"], owner)
            return
        if isinstance(e, LimitExceeded):
            owner["limitNotified"] = [*owner.get("limitNotified", [])[-20:], e.period_key]
            session.put(OWNERS, owner["instanceId"], owner)
            return
        day = day_of(recorded.timestamp_ms)
        key = f"{owner['instanceId']}:{day}"
        row = session.get(USAGE, key) or {
            "instanceId": owner["instanceId"],
            "userId": owner["userId"],
            "day": day,
            **empty_counters(),
        }
        if isinstance(e, MessageSent):
            row["messagesSent"] += 1
            if e.media_size:
                row["mediaSent"] += 1
                row["totalMediaSize"] += e.media_size
        elif isinstance(e, MessageReceived):
            row["messagesReceived"] += 1
            if e.media_path is not None:
                row["mediaReceived"] += 1
                row["totalMediaSize"] += e.media_size
        elif isinstance(e, ApiCallsRecorded):
            row["apiCalls"] += e.count
        elif isinstance(e, WebhookDelivered):
            row["webhookSent"] += 1
        session.put(USAGE, key, row)


def usage_rows(rm: ReadModelStore, *, since_day: str | None, **where: Any) -> list[dict[str, Any]]:
    ranges = {"day": (since_day, None)} if since_day else {}
    return rm.find(USAGE, Query(where=where, ranges=ranges, order=(("day", False),)))


def summed(rows: list[dict[str, Any]]) -> dict[str, int]:
    total = empty_counters()
    for row in rows:
        for name in COUNTERS:
            total[name] += int(row.get(name, 0))
    return total


def daily(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of several instances folded into one entry per day, oldest first."""
    by_day: dict[str, dict[str, int]] = {}
    for row in rows:
        day = by_day.setdefault(row["day"], empty_counters())
        for name in COUNTERS:
            day[name] += int(row.get(name, 0))
    return [{"date": iso_ms(day_start_ms(d)), **c} for d, c in sorted(by_day.items())]
