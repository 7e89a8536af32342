"""The usage-limit rule (API.md "limits", API-2 §8): pure, so it is tested without I/O.

An instance's `limits` may cap messages sent and API calls per UTC day or month. A send counts
against both caps, any other call against `maxApiCalls` only. The (N+1)th call of a period is
refused; `limit_exceeded` is announced once per period.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from wamux.domain.periods import period_key, period_start_day

SEND_CAPS = ("maxMessagesSent", "maxApiCalls")
CALL_CAPS = ("maxApiCalls",)


@dataclass(frozen=True)
class Usage:
    """What an instance used in the current period."""

    messages_sent: int = 0
    api_calls: int = 0

    def as_json(self) -> dict[str, int]:
        return {"messagesSent": self.messages_sent, "apiCalls": self.api_calls}


@dataclass(frozen=True)
class LimitReached:
    """The call is refused: which caps it hit, in which period."""

    exceeded: tuple[str, ...]
    usage: Usage
    limits: Mapping[str, Any] = field(default_factory=dict)
    period_key: str = ""


def capped(limits: Mapping[str, Any] | None, *, sending: bool) -> bool:
    """Whether any cap applies to this kind of call (if not, no usage needs to be read)."""
    if not limits:
        return False
    return any(limits.get(k) is not None for k in (SEND_CAPS if sending else CALL_CAPS))


def period_of(limits: Mapping[str, Any]) -> str:
    return str(limits.get("period", "day"))


def usage_since_day(limits: Mapping[str, Any], now_ms: int) -> str | None:
    """The first UTC day whose usage counts against the limits."""
    return period_start_day(period_of(limits), now_ms)


def decide(limits: Mapping[str, Any] | None, usage: Usage, *, sending: bool, now_ms: int) -> LimitReached | None:
    """None when the call may go; else what it would exceed."""
    if not limits or not capped(limits, sending=sending):
        return None
    exceeded: list[str] = []
    max_sent = limits.get("maxMessagesSent")
    if sending and max_sent is not None and usage.messages_sent >= max_sent:
        exceeded.append("maxMessagesSent")
    max_calls = limits.get("maxApiCalls")
    if max_calls is not None and usage.api_calls >= max_calls:
        exceeded.append("maxApiCalls")
    if not exceeded:
        return None
    return LimitReached(tuple(exceeded), usage, dict(limits), period_key(period_of(limits), now_ms))
