"""Every port of the core in one place: what actors, runners and routes need from the outside.

Adapters (`wamux.adapters`) implement these Protocols and import nothing else of the core; the
composition root (`wamux.run.bootstrap`) picks the adapters and injects them. The read-model store
port stays in `wamux.projections.ports`, because the pure projections are written against it and
may not import the core.

- WhatsApp: a `Transport` makes one `WhatsAppSession` per instance (`NeonizeTransport` for the
  real network, `SimulatorTransport` in-process); the session reports what happens on the wire as
  `TransportEvent`s through the `emit` callback the actor gives to `connect`.
- The event store: `EventStore`, an append-only log of domain events (`RecorderEventStore`).
- Media bytes (`MediaStore`, `MediaFiles`), media downloads (`MediaFetch`), the outbound-URL rule
  (`OutboundCheck`) and webhook POSTs (`WebhookPoster`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from wamux.domain.events import DomainEvent, RecordedEvent

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


# ---- the event store -------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineQuery:
    """A time-ordered question about one stream (instance feed, activity log)."""

    stream_id: str
    types: tuple[str, ...] = ()
    after: tuple[int, int] | None = None  # exclusive (timestamp ms, position)
    before: tuple[int, int] | None = None
    start_ms: int | None = None  # inclusive
    end_ms: int | None = None
    newest_first: bool = False
    skip: int = 0
    limit: int = 100


class EventStore(Protocol):
    """Append-only log of domain events, in streams, with a global gap-free position."""

    @property
    def provider(self) -> str: ...

    def head(self) -> int:
        """The position of the last committed event (0 when empty)."""

    async def append(self, stream_id: str, events: Sequence[DomainEvent], expected_version: int) -> list[RecordedEvent]:
        """Commit `events` after version `expected_version` of the stream, or raise ConcurrencyConflict."""

    async def read_stream(self, stream_id: str, types: Sequence[str] = ()) -> list[RecordedEvent]: ...

    async def stream_version(self, stream_id: str) -> int: ...

    async def read_all(self, after: int, limit: int, types: Sequence[str] = ()) -> list[RecordedEvent]: ...

    async def timeline(self, query: TimelineQuery) -> list[RecordedEvent]: ...

    async def count_timeline(self, query: TimelineQuery) -> int: ...

    async def wait_beyond(self, position: int) -> None:
        """Return once the head is past `position`."""


# ---- media and outbound HTTP -----------------------------------------------------------------


class MediaStore(Protocol):
    """Where media bytes go; the events only carry the path and size."""

    def save(self, instance_id: str, data: bytes, mime_type: str | None, file_name: str | None) -> str: ...


class MediaFiles(MediaStore, Protocol):
    """Media bytes as the routes see them: saved uploads, and stored files served back."""

    def open_path(self, rel: str) -> Path | None: ...


class MediaFetch(Protocol):
    """Downloads a `send-media` URL under the outbound-URL rule."""

    async def fetch(self, url: str, file_name: str | None = None, *, trusted: bool = False) -> Any: ...


class OutboundCheck(Protocol):
    """The outbound-URL rule of §8 at input: 400 for a URL the caller may not use."""

    def trusts(self, trusted: bool) -> bool: ...

    async def check(self, url: Any, *, trusted: bool, field_name: str = "url", must_resolve: bool = True) -> None: ...


@dataclass(frozen=True)
class Outcome:
    """What one webhook POST gave. `final`: the same request would fail again (no retries by the policy)."""

    status_code: int | None
    error: str | None
    latency_ms: float
    final: bool = False


class WebhookPoster(Protocol):
    """Sends one webhook POST under the outbound-URL rule; `trusted`: the instance's owner is an admin."""

    async def post(
        self, url: Any, headers: Mapping[str, str] | Any, body: bytes | str | None, *, trusted: bool
    ) -> Outcome:
        """Never raises (but for cancellation): whatever stops the request is its outcome."""

    async def aclose(self) -> None: ...
