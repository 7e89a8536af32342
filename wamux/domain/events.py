"""Domain events: small frozen dataclasses, one per fact, named by their wire `type`.

Every event belongs to one stream (a user or an instance). The store adds the envelope
(stream id, version, timestamp, global position) when it records the event.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

EVENT_TYPES: dict[str, type[DomainEvent]] = {}

E = TypeVar("E", bound="type[DomainEvent]")


def register(cls: E) -> E:
    """Class decorator: make an event class known to the codec by its `type`."""
    if cls.type in EVENT_TYPES:
        raise ValueError(f"duplicate event type {cls.type}")
    EVENT_TYPES[cls.type] = cls
    return cls


@dataclass(frozen=True)
class DomainEvent:
    """Base of every domain event. `type` is the stable wire name (also the store topic)."""

    type: ClassVar[str] = ""
    # Payload fields that hold secrets, as dotted paths (`*` = every item of a list or dict): the
    # store encrypts them at rest and exports redact them. Declare them here, next to the field.
    secret_fields: ClassVar[tuple[str, ...]] = ()

    def payload(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> DomainEvent:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


REDACTED = "***"


def map_secrets(cls: type[DomainEvent], payload: dict[str, Any], fn: Callable[[Any], Any]) -> dict[str, Any]:
    """A copy of `payload` with `fn` applied to each set (not None) secret field of `cls`.

    Only the containers on a secret's path are copied; missing keys and None values are left alone.
    """
    if not cls.secret_fields:
        return payload
    out = dict(payload)
    for path in cls.secret_fields:
        out = _map_path(out, path.split("."), fn)
    return out


def _map_path(node: Any, path: list[str], fn: Callable[[Any], Any]) -> Any:
    if not path:
        return node if node is None else fn(node)
    head, rest = path[0], path[1:]
    if head == "*":
        if isinstance(node, list):
            return [_map_path(item, rest, fn) for item in node]
        if isinstance(node, dict):
            return {k: _map_path(v, rest, fn) for k, v in node.items()}
        return node
    if not isinstance(node, dict) or head not in node:
        return node
    return {**node, head: _map_path(node[head], rest, fn)}


def redact_secrets(event: DomainEvent) -> dict[str, Any]:
    """The event's payload with every secret shown as `***` (for exports and listings)."""
    return map_secrets(type(event), event.payload(), lambda _value: REDACTED)


@dataclass(frozen=True)
class RecordedEvent:
    """An event as the store recorded it: stream, version in stream, timestamp (ms), global position."""

    stream_id: str
    version: int
    timestamp_ms: int
    position: int
    event: DomainEvent

    @property
    def type(self) -> str:
        return self.event.type


# ---- users -----------------------------------------------------------------------------------


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


# ---- instance lifecycle ----------------------------------------------------------------------


@register
@dataclass(frozen=True)
class InstanceCreated(DomainEvent):
    type: ClassVar[str] = "created"
    secret_fields: ClassVar[tuple[str, ...]] = ("webhook_settings.secret",)
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


# ---- connection ------------------------------------------------------------------------------


@register
@dataclass(frozen=True)
class QrReceived(DomainEvent):
    type: ClassVar[str] = "qr_received"
    instance_id: str
    qr_code: str
    attempt: int


@register
@dataclass(frozen=True)
class PairingCodeRequested(DomainEvent):
    type: ClassVar[str] = "pairing_code_requested"
    instance_id: str
    phone: str


@register
@dataclass(frozen=True)
class Connected(DomainEvent):
    type: ClassVar[str] = "connected"
    instance_id: str
    jid: str | None = None
    push_name: str | None = None


@register
@dataclass(frozen=True)
class Disconnected(DomainEvent):
    type: ClassVar[str] = "disconnected"
    instance_id: str
    reason: str
    will_reconnect: bool


@register
@dataclass(frozen=True)
class LoggedOut(DomainEvent):
    type: ClassVar[str] = "logged_out"
    instance_id: str
    reason: str = "logout"


@register
@dataclass(frozen=True)
class ReconnectRequested(DomainEvent):
    type: ClassVar[str] = "reconnect_requested"
    instance_id: str


@register
@dataclass(frozen=True)
class InstanceFailed(DomainEvent):
    type: ClassVar[str] = "failed"
    instance_id: str
    reason: str
    restarts: int = 0


# ---- messages --------------------------------------------------------------------------------


@register
@dataclass(frozen=True)
class MessageSent(DomainEvent):
    type: ClassVar[str] = "message_sent"
    instance_id: str
    message_id: str
    to: str
    message_type: str
    body: str | None = None
    caption: str | None = None
    mime_type: str | None = None
    file_name: str | None = None
    media_size: int = 0
    media_path: str | None = None
    idempotency_key: str | None = None


@register
@dataclass(frozen=True)
class MessageFailed(DomainEvent):
    type: ClassVar[str] = "message_failed"
    instance_id: str
    message_id: str
    to: str
    message_type: str
    reason: str
    body: str | None = None


@register
@dataclass(frozen=True)
class MessageReceived(DomainEvent):
    type: ClassVar[str] = "message_received"
    instance_id: str
    message_id: str
    chat_jid: str
    sender_jid: str
    message_type: str
    body: str | None = None
    push_name: str | None = None
    is_group: bool = False
    from_me: bool = False
    sent_at: int | None = None
    caption: str | None = None
    mime_type: str | None = None
    file_name: str | None = None
    media_size: int = 0
    media_path: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@register
@dataclass(frozen=True)
class MessageStatusChanged(DomainEvent):
    type: ClassVar[str] = "message_status"
    instance_id: str
    message_id: str
    status: str
    chat_jid: str | None = None
    from_me: bool = True


@register
@dataclass(frozen=True)
class ChatRead(DomainEvent):
    type: ClassVar[str] = "chat_read"
    instance_id: str
    chat_jid: str


# ---- contacts, usage, webhooks ---------------------------------------------------------------


@register
@dataclass(frozen=True)
class ContactSaved(DomainEvent):
    type: ClassVar[str] = "contact_saved"
    instance_id: str
    jid: str
    number: str
    name: str | None = None
    push_name: str | None = None
    is_group: bool = False
    profile_picture: str | None = None
    about: str | None = None


@register
@dataclass(frozen=True)
class ContactsImported(DomainEvent):
    type: ClassVar[str] = "contacts_imported"
    instance_id: str
    contacts: list[dict[str, Any]] = field(default_factory=list)


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


def type_names(*classes: type[DomainEvent]) -> tuple[str, ...]:
    """The wire names of `classes`, in order."""
    return tuple(cls.type for cls in classes)


# The store topics each reader follows, by stream kind.
USER_EVENT_TYPES = type_names(UserCreated, UserUpdated, ApiKeyRotated, UserActive, UserDeleted)
INSTANCE_LIFECYCLE_TYPES = type_names(InstanceCreated, InstanceUpdated, WebhookUpdated, InstanceDeleted)
MESSAGE_TYPES = type_names(MessageSent, MessageFailed, MessageReceived, MessageStatusChanged, ChatRead)
CONNECTION_TYPES = type_names(
    QrReceived, PairingCodeRequested, Connected, Disconnected, LoggedOut, ReconnectRequested, InstanceFailed
)
