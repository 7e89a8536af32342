"""Events of a user's stream: created, updated, API key rotated, active on a day, deleted."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from wamux.domain.events.base import DomainEvent, register, type_names


@register
@dataclass(frozen=True)
class UserCreated(DomainEvent):
    type: ClassVar[str] = "user_created"
    user_id: str
    email: str
    password_hash: str
    api_key_hash: str
    first_name: str
    last_name: str
    role: str


@register
@dataclass(frozen=True)
class UserUpdated(DomainEvent):
    type: ClassVar[str] = "user_updated"
    user_id: str
    changes: dict[str, Any] = field(default_factory=dict)


@register
@dataclass(frozen=True)
class ApiKeyRotated(DomainEvent):
    type: ClassVar[str] = "api_key_rotated"
    user_id: str
    api_key_hash: str


@register
@dataclass(frozen=True)
class UserActive(DomainEvent):
    """The user made API calls on `day` (at most one per user and UTC day)."""

    type: ClassVar[str] = "user_active"
    user_id: str
    day: str


@register
@dataclass(frozen=True)
class UserDeleted(DomainEvent):
    type: ClassVar[str] = "user_deleted"
    user_id: str


# The store topics the user directory and the users read model follow.
USER_EVENT_TYPES = type_names(UserCreated, UserUpdated, ApiKeyRotated, UserActive, UserDeleted)
