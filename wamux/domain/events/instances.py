"""An instance's lifecycle: created, updated (name, limits, settings), webhook changed, deleted."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from wamux.domain.events.base import DomainEvent, register, type_names


@register
@dataclass(frozen=True)
class InstanceCreated(DomainEvent):
    type: ClassVar[str] = "created"
    secret_fields: ClassVar[tuple[str, ...]] = ("webhook_settings.secret", "settings.proxy")
    instance_id: str
    user_id: str
    name: str
    description: str | None
    webhook_url: str | None
    webhook_enabled: bool
    webhook_settings: dict[str, Any]
    limits: dict[str, Any] | None = None
    settings: dict[str, Any] = field(default_factory=dict)


@register
@dataclass(frozen=True)
class InstanceUpdated(DomainEvent):
    type: ClassVar[str] = "updated"
    secret_fields: ClassVar[tuple[str, ...]] = ("changes.settings.proxy",)
    instance_id: str
    changes: dict[str, Any] = field(default_factory=dict)


@register
@dataclass(frozen=True)
class WebhookUpdated(DomainEvent):
    type: ClassVar[str] = "webhook_updated"
    secret_fields: ClassVar[tuple[str, ...]] = ("webhook_settings.secret",)
    instance_id: str
    webhook_url: str | None
    webhook_enabled: bool
    webhook_settings: dict[str, Any]
    changed: list[str] = field(default_factory=list)


@register
@dataclass(frozen=True)
class InstanceDeleted(DomainEvent):
    type: ClassVar[str] = "deleted"
    instance_id: str


# With CONNECTION_TYPES: the topics an instance actor replays and the instances read model follows.
INSTANCE_LIFECYCLE_TYPES = type_names(InstanceCreated, InstanceUpdated, WebhookUpdated, InstanceDeleted)
