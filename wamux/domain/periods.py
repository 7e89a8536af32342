"""UTC calendar periods for statistics and usage limits (pure functions of a timestamp)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

PERIODS = ("today", "week", "month", "year", "all")


def day_of(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).strftime("%Y-%m-%d")


def day_start_ms(day: str) -> int:
    return int(datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC).timestamp() * 1000)


def period_start_day(period: str, now_ms: int) -> str | None:
    """First day (inclusive) of the UTC calendar period containing `now_ms`; None for `all`."""
    now = datetime.fromtimestamp(now_ms / 1000, tz=UTC)
    if period in ("today", "day"):
        start = now
    elif period == "week":
        start = now - timedelta(days=now.weekday())  # weeks start on Monday
    elif period == "month":
        start = now.replace(day=1)
    elif period == "year":
        start = now.replace(month=1, day=1)
    elif period == "all":
        return None
    else:
        raise ValueError(f"unknown period {period}")
    return start.strftime("%Y-%m-%d")


def period_key(period: str, now_ms: int) -> str:
    """A name for the current period of a usage limit (`day:2026-11-26`, `month:2026-11`)."""
    day = day_of(now_ms)
    return f"day:{day}" if period == "day" else f"month:{day[:7]}"
