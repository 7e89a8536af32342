"""Statistics periods are UTC calendar periods; counters are a pure function of the log."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.unit.memory_read_session import MemoryReadSession
from wamux.domain.events import (
    ApiCallsRecorded,
    DomainEvent,
    InstanceCreated,
    MessageReceived,
    MessageSent,
    RecordedEvent,
    WebhookDelivered,
)
from wamux.domain.periods import day_of, period_key, period_start_day
from wamux.projections.ports import Query
from wamux.projections.stats import USAGE, StatsProjection, summed


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


NOW = ms("2026-11-26T10:00:00")  # a Thursday


@pytest.mark.parametrize(
    ("period", "first_day"),
    [("today", "2026-11-26"), ("week", "2026-11-23"), ("month", "2026-11-01"), ("year", "2026-01-01"), ("all", None)],
)
def test_period_starts_are_utc_calendar_boundaries(period: str, first_day: str | None) -> None:
    assert period_start_day(period, NOW) == first_day


def test_a_message_one_ms_before_midnight_is_yesterday() -> None:
    assert day_of(ms("2026-11-25T23:59:59.999")) == "2026-11-25"
    assert day_of(ms("2026-11-26T00:00:00.000")) == "2026-11-26"
    assert period_key("day", NOW) == "day:2026-11-26" and period_key("month", NOW) == "month:2026-11"
    with pytest.raises(ValueError):
        period_start_day("fortnight", NOW)


def _apply(session: MemoryReadSession, events: list[tuple[int, DomainEvent]]) -> None:
    projection = StatsProjection()
    for position, (ts, event) in enumerate(events, start=1):
        stream = getattr(event, "instance_id", "x")
        projection.apply(session, RecordedEvent(stream, position, ts, position, event))


def test_counters_per_day_and_today_excludes_yesterday() -> None:
    iid = "11111111-1111-1111-1111-111111111111"
    created = InstanceCreated(iid, "u1", "n", None, None, False, {})
    sent = MessageSent(instance_id=iid, message_id="a", to="1@s.whatsapp.net", message_type="text", body="x")
    media = MessageSent(instance_id=iid, message_id="b", to="1@s.whatsapp.net", message_type="image", media_size=500)
    got = MessageReceived(
        instance_id=iid,
        message_id="c",
        chat_jid="1@s.whatsapp.net",
        sender_jid="1@s.whatsapp.net",
        message_type="image",
        media_size=70,
        media_path="p",
    )
    session = MemoryReadSession()
    _apply(
        session,
        [
            (ms("2026-11-20T08:00:00"), created),
            (ms("2026-11-25T23:59:59.999"), sent),  # yesterday, by one millisecond
            (ms("2026-11-26T00:00:00.000"), media),
            (ms("2026-11-26T09:00:00"), got),
            (ms("2026-11-26T09:30:00"), ApiCallsRecorded(instance_id=iid, count=7)),
            (ms("2026-11-26T09:31:00"), WebhookDelivered(iid, "d1", "message_sent", 200, 1)),
        ],
    )
    today = summed(
        session.find(USAGE, Query(where={"instanceId": iid}, ranges={"day": (period_start_day("today", NOW), None)}))
    )
    assert today == {
        "messagesSent": 1,
        "messagesReceived": 1,
        "mediaSent": 1,
        "mediaReceived": 1,
        "totalMediaSize": 570,
        "apiCalls": 7,
        "webhookSent": 1,
    }
    week = summed(
        session.find(USAGE, Query(where={"instanceId": iid}, ranges={"day": (period_start_day("week", NOW), None)}))
    )
    assert week["messagesSent"] == 2
    # the same log applied again from scratch gives exactly the same rows (what `wamux rebuild` relies on)
    again = MemoryReadSession()
    _apply(
        again,
        [
            (ms("2026-11-20T08:00:00"), created),
            (ms("2026-11-25T23:59:59.999"), sent),
            (ms("2026-11-26T00:00:00.000"), media),
            (ms("2026-11-26T09:00:00"), got),
            (ms("2026-11-26T09:30:00"), ApiCallsRecorded(instance_id=iid, count=7)),
            (ms("2026-11-26T09:31:00"), WebhookDelivered(iid, "d1", "message_sent", 200, 1)),
        ],
    )
    assert again.rows == session.rows
