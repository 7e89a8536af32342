"""The usage-limit rule (`wamux.domain.limits`): pure, so every boundary is checked without I/O."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from wamux.domain.limits import LimitReached, Usage, capped, decide, period_of, usage_since_day
from wamux.domain.periods import period_key


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


NOW = ms("2026-03-31T23:59:59.999")  # the last millisecond of a month


def sent(n: int, calls: int = 0) -> Usage:
    return Usage(messages_sent=n, api_calls=calls)


@pytest.mark.parametrize("limits", [None, {}, {"period": "day"}, {"maxMessagesSent": None, "maxApiCalls": None}])
def test_no_caps_never_refuse_and_need_no_usage(limits: dict[str, Any] | None) -> None:
    for sending in (True, False):
        assert not capped(limits, sending=sending)
        assert decide(limits, sent(10**9, 10**9), sending=sending, now_ms=NOW) is None


@pytest.mark.parametrize(("n", "refused"), [(0, False), (4, False), (5, True), (6, True)])
def test_the_send_after_the_nth_is_refused(n: int, refused: bool) -> None:
    """With `maxMessagesSent: 5`, five sends went through when `messages_sent == 5`: the 6th is refused."""
    reached = decide({"maxMessagesSent": 5}, sent(n), sending=True, now_ms=NOW)
    assert (reached is not None) is refused


def test_a_cap_of_zero_refuses_the_first_call() -> None:
    assert decide({"maxMessagesSent": 0}, sent(0), sending=True, now_ms=NOW) is not None
    assert decide({"maxApiCalls": 0}, sent(0), sending=False, now_ms=NOW) is not None


def test_the_message_cap_does_not_apply_to_other_calls() -> None:
    limits = {"maxMessagesSent": 1}
    assert capped(limits, sending=True) and not capped(limits, sending=False)
    assert decide(limits, sent(100), sending=False, now_ms=NOW) is None


@pytest.mark.parametrize(("calls", "refused"), [(2, False), (3, True)])
@pytest.mark.parametrize("sending", [True, False])
def test_the_call_cap_applies_to_every_call_sends_included(calls: int, refused: bool, sending: bool) -> None:
    limits = {"maxApiCalls": 3}
    assert capped(limits, sending=sending)
    reached = decide(limits, sent(0, calls), sending=sending, now_ms=NOW)
    assert (reached is not None) is refused
    if reached is not None:
        assert reached.exceeded == ("maxApiCalls",)


def test_a_refusal_names_every_cap_it_hit_with_the_usage_and_the_period() -> None:
    limits = {"maxMessagesSent": 2, "maxApiCalls": 2, "period": "month"}
    reached = decide(limits, sent(2, 7), sending=True, now_ms=NOW)
    assert reached == LimitReached(("maxMessagesSent", "maxApiCalls"), sent(2, 7), limits, "month:2026-03")
    assert reached.usage.as_json() == {"messagesSent": 2, "apiCalls": 7}


def test_only_the_cap_that_was_hit_is_named() -> None:
    limits = {"maxMessagesSent": 2, "maxApiCalls": 100}
    reached = decide(limits, sent(2, 3), sending=True, now_ms=NOW)
    assert reached is not None and reached.exceeded == ("maxMessagesSent",)
    reached = decide({"maxMessagesSent": 100, "maxApiCalls": 3}, sent(2, 3), sending=True, now_ms=NOW)
    assert reached is not None and reached.exceeded == ("maxApiCalls",)


def test_the_refusal_keeps_a_copy_of_the_limits() -> None:
    limits: dict[str, Any] = {"maxApiCalls": 0}
    reached = decide(limits, sent(0), sending=False, now_ms=NOW)
    limits["maxApiCalls"] = 99
    assert reached is not None and reached.limits == {"maxApiCalls": 0}


@pytest.mark.parametrize(
    ("limits", "key"),
    [
        ({"maxApiCalls": 0}, "day:2026-03-31"),  # the default period is a UTC day
        ({"maxApiCalls": 0, "period": "day"}, "day:2026-03-31"),
        ({"maxApiCalls": 0, "period": "month"}, "month:2026-03"),
    ],
)
def test_the_period_key_names_the_utc_day_or_month(limits: dict[str, Any], key: str) -> None:
    reached = decide(limits, sent(0), sending=False, now_ms=NOW)
    assert reached is not None and reached.period_key == key


def test_the_next_millisecond_is_a_new_period() -> None:
    assert period_key("day", NOW) == "day:2026-03-31" and period_key("day", NOW + 1) == "day:2026-04-01"
    assert period_key("month", NOW) == "month:2026-03" and period_key("month", NOW + 1) == "month:2026-04"
    assert period_key("day", ms("2026-03-31T00:00:00")) == "day:2026-03-31"


@pytest.mark.parametrize(
    ("period", "now", "first_day"),
    [
        ("day", NOW, "2026-03-31"),
        ("day", NOW + 1, "2026-04-01"),
        ("month", NOW, "2026-03-01"),
        ("month", NOW + 1, "2026-04-01"),
        ("month", ms("2028-02-29T12:00:00"), "2028-02-01"),
    ],
)
def test_usage_counts_from_the_first_day_of_the_period(period: str, now: int, first_day: str) -> None:
    assert usage_since_day({"maxApiCalls": 1, "period": period}, now) == first_day


def test_the_period_defaults_to_a_day() -> None:
    assert period_of({}) == "day" and period_of({"period": "month"}) == "month"
    assert usage_since_day({"maxApiCalls": 1}, NOW) == "2026-03-31"
