"""An instance's usage: API calls counted, a limit exceeded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from wamux.domain.events.base import DomainEvent, register


@register
@dataclass(frozen=True)
class ApiCallsRecorded(DomainEvent):
    type: ClassVar[str] = "api_calls_recorded"
    instance_id: str
    count: int


@register
@dataclass(frozen=True)
class LimitExceeded(DomainEvent):
    type: ClassVar[str] = "limit_exceeded"
    instance_id: str
    exceeded_limits: list[str]
    usage: dict[str, int]
    limits: dict[str, Any]
    period_key: str
