"""Webhook deliveries of an instance: delivered, failed, retry requested."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from wamux.domain.events.base import DomainEvent, register


@register
@dataclass(frozen=True)
class WebhookDelivered(DomainEvent):
    type: ClassVar[str] = "webhook_delivered"
    instance_id: str
    delivery_id: str
    event_type: str
    status_code: int
    attempts: int
    latency_ms: float = 0.0


@register
@dataclass(frozen=True)
class WebhookFailed(DomainEvent):
    type: ClassVar[str] = "webhook_failed"
    instance_id: str
    delivery_id: str
    event_type: str
    attempts: int
    status_code: int | None = None
    error: str | None = None


@register
@dataclass(frozen=True)
class WebhookRetryRequested(DomainEvent):
    type: ClassVar[str] = "webhook_retry_requested"
    instance_id: str
    delivery_id: str
