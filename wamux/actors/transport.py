"""The WhatsApp transport port: what an instance actor needs from WhatsApp.

Adapters live in `wamux.infra`: `NeonizeTransport` (the real network, via whatsmeow) and
`SimulatorTransport` (an in-process stand-in). An actor owns one `WhatsAppSession`; the
session reports what happens on the wire as `TransportEvent`s through the `emit` callback
the actor gives to `connect`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

# ---- what the wire tells the actor -----------------------------------------------------------


@dataclass(frozen=True)
class QrCode:
    """A new QR code to show (the raw `1@...`-style string)."""

    code: str


@dataclass(frozen=True)
class PairSuccess:
    """The phone accepted the link (QR scanned or pairing code entered)."""

    jid: str
    push_name: str | None = None


@dataclass(frozen=True)
class LinkConnected:
    """The session is online and ready to send."""

    jid: str | None = None
    push_name: str | None = None


@dataclass(frozen=True)
class ConnectionLost:
    """The connection dropped. `logged_out` means the device was unlinked: a new QR is needed."""

    reason: str
    logged_out: bool = False
    permanent: bool = False  # e.g. banned / client outdated: reconnecting will not help


@dataclass(frozen=True)
class MediaPayload:
    """Downloaded media of an incoming message."""

    data: bytes
    mime_type: str | None = None
    file_name: str | None = None


@dataclass(frozen=True)
class IncomingMessage:
    """A message that arrived (or was sent from the phone itself when `from_me`)."""

    message_id: str
    chat_jid: str
    sender_jid: str
    message_type: str  # text, image, video, audio, document, sticker, location, contact, other
    body: str | None = None
    push_name: str | None = None
    is_group: bool = False
    from_me: bool = False
    timestamp: int | None = None  # unix seconds, as WhatsApp stamped it
    caption: str | None = None
    mime_type: str | None = None
    file_name: str | None = None
    media: MediaPayload | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # location coords, vcard, ...


@dataclass(frozen=True)
class Receipt:
    """Delivery/read receipts for one or more messages we sent."""

    message_ids: tuple[str, ...]
    status: str  # delivered | read
    chat_jid: str | None = None
    sender_jid: str | None = None


@dataclass(frozen=True)
class ContactUpdate:
    jid: str
    name: str | None = None
    push_name: str | None = None


TransportEvent = QrCode | PairSuccess | LinkConnected | ConnectionLost | IncomingMessage | Receipt | ContactUpdate
Emit = Callable[[TransportEvent], Awaitable[None]]

# ---- what the actor asks of the wire ---------------------------------------------------------


@dataclass(frozen=True)
class OutgoingMessage:
    """A message to send. `kind` is text or image/video/audio/document; media carries bytes."""

    to: str  # JID
    kind: str
    text: str | None = None
    caption: str | None = None
    data: bytes | None = None
    mime_type: str | None = None
    file_name: str | None = None


@dataclass(frozen=True)
class RemoteContact:
    jid: str
    name: str | None
    number: str
    is_group: bool = False
    push_name: str | None = None


class TransportError(Exception):
    """The transport could not do what was asked. `retryable` tells the actor whether to back off and retry."""

    def __init__(self, message: str, *, retryable: bool = True, code: str = "transport_error") -> None:
        super().__init__(message)
        self.retryable = retryable
        self.code = code


class NotLinked(TransportError):
    """The operation needs a connected, linked session."""


class WhatsAppSession(Protocol):
    """One instance's connection to WhatsApp."""

    @property
    def has_credentials(self) -> bool:
        """True when a device is linked, so connecting needs no QR."""

    async def connect(self, emit: Emit) -> None:
        """Connect and stay connected, reporting through `emit`, until the connection ends.

        Returns after emitting `ConnectionLost`; raises `TransportError` when it cannot connect.
        Cancelling the caller closes the connection.
        """

    async def send(self, message: OutgoingMessage) -> str:
        """Send; returns WhatsApp's message id once the server accepted it."""

    async def pair_phone(self, phone: str) -> str:
        """Ask for a pairing code for `phone` (digits); only while connected to the server."""

    async def contacts(self) -> list[RemoteContact]: ...

    async def logout(self) -> None:
        """Unlink the device; the session's credentials are gone afterwards."""

    async def ping(self) -> bool:
        """Liveness: does the connection still answer?"""

    async def close(self) -> None:
        """Release resources (threads, files). Idempotent."""


class Transport(Protocol):
    """Makes sessions; one per instance."""

    name: str

    def session(self, instance_id: str) -> WhatsAppSession: ...

    def forget(self, instance_id: str) -> None:
        """Delete everything stored for the instance (session files)."""


class SimulatorControl(Protocol):
    """What the admin-only `/api/simulator/...` routes can do to the simulated network."""

    async def scan(self, instance_id: str, phone: str | None, push_name: str | None) -> None: ...

    async def incoming(self, instance_id: str, message: IncomingMessage) -> None: ...

    async def receipt(self, instance_id: str, message_id: str, status: str) -> None: ...

    async def disconnect(self, instance_id: str, reason: str, logged_out: bool) -> None: ...

    def set_contacts(self, instance_id: str, contacts: list[RemoteContact]) -> None: ...

    def outbox(self, instance_id: str) -> list[dict[str, Any]]: ...

    def set_faults(self, instance_id: str, faults: dict[str, Any]) -> dict[str, Any]: ...
