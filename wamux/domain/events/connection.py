"""An instance's WhatsApp connection: QR codes, pairing, connected, disconnected, logged out, failed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from wamux.domain.events.base import DomainEvent, register, type_names


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


# The topics that move the connection state machine (see `wamux/domain/instances.py`).
CONNECTION_TYPES = type_names(
    QrReceived, PairingCodeRequested, Connected, Disconnected, LoggedOut, ReconnectRequested, InstanceFailed
)
