"""Webhooks: an instance's targets (its configuration) and what their deliveries gave.

The target events belong to the instance's stream (its actor writes them). The delivery events
belong to one webhook stream per target, whose lane in the dispatcher is the only writer:
delivered, failed, retry requested, replay queued. `webhook_id` is "default" for the instance's
own `webhookUrl` (events recorded before targets existed carry none and read as "default").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from wamux.domain.events.base import DomainEvent, register, type_names

DEFAULT_WEBHOOK_ID = "default"


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
    webhook_id: str = DEFAULT_WEBHOOK_ID
    seq: int | None = None  # the row's dispatch order when it was sent (a row queued again since ignores it)


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
    webhook_id: str = DEFAULT_WEBHOOK_ID
    seq: int | None = None


@register
@dataclass(frozen=True)
class WebhookRetryRequested(DomainEvent):
    type: ClassVar[str] = "webhook_retry_requested"
    instance_id: str
    delivery_id: str
    webhook_id: str = DEFAULT_WEBHOOK_ID


@register
@dataclass(frozen=True)
class WebhookReplayQueued(DomainEvent):
    """Past events queued again for one target; each item: `{id, type, data, timestamp_ms, position}`.

    `id` is the event's `X-Webhook-Id`, `data` its public payload: the outbox builds the rows from the
    items alone, so a rebuild makes the same rows.
    """

    type: ClassVar[str] = "webhook_replay_queued"
    instance_id: str
    webhook_id: str
    items: list[dict[str, Any]] = field(default_factory=list)


@register
@dataclass(frozen=True)
class WebhookTargetAdded(DomainEvent):
    """`target`: {url, events, secret, headers, enabled, maxRetries, retryInterval, slot, createdMs}."""

    type: ClassVar[str] = "webhook_target_added"
    secret_fields: ClassVar[tuple[str, ...]] = ("target.secret",)
    instance_id: str
    webhook_id: str
    target: dict[str, Any]


@register
@dataclass(frozen=True)
class WebhookTargetUpdated(DomainEvent):
    """The whole target as it is now, and the names of the fields that changed."""

    type: ClassVar[str] = "webhook_target_updated"
    secret_fields: ClassVar[tuple[str, ...]] = ("target.secret",)
    instance_id: str
    webhook_id: str
    target: dict[str, Any]
    changed: list[str] = field(default_factory=list)


@register
@dataclass(frozen=True)
class WebhookTargetRemoved(DomainEvent):
    type: ClassVar[str] = "webhook_target_removed"
    instance_id: str
    webhook_id: str


# The instance's own configuration events for its targets: its actor replays them, the outbox follows them.
WEBHOOK_TARGET_TYPES = type_names(WebhookTargetAdded, WebhookTargetUpdated, WebhookTargetRemoved)
