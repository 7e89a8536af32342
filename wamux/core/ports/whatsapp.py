"""What the actor asks of the wire: the WhatsApp session, the transport, the simulator's controls."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from wamux.core.ports.account import AccountSession, DirectoryEntry, GroupInfo
from wamux.core.ports.wire_in import ContactCard, Emit, IncomingMessage, Location, Poll, TransportEvent

# ---- what the actor asks of the wire ---------------------------------------------------------


@dataclass(frozen=True)
class MessageRef:
    """A message already in the instance's history, as WhatsApp identifies it."""

    message_id: str
    chat_jid: str
    sender_jid: str  # who wrote it (our own JID when from_me)
    from_me: bool
    body: str | None = None  # its text, for the quote preview of a reply
    message_type: str = "text"


@dataclass(frozen=True)
class OutgoingMessage:
    """A message to send.

    `kind`: text, image, video, audio, voice, document, sticker, location, contact, poll. Media
    kinds carry bytes (a voice note is already Ogg/Opus, a sticker already 512x512 WebP).
    """

    to: str  # JID
    kind: str
    text: str | None = None
    caption: str | None = None
    data: bytes | None = None
    mime_type: str | None = None
    file_name: str | None = None
    quoted: MessageRef | None = None
    mentions: tuple[str, ...] = ()  # JIDs
    forwarded: bool = False
    link_preview: bool = False
    location: Location | None = None
    contacts: tuple[ContactCard, ...] = ()
    poll: Poll | None = None


@dataclass(frozen=True)
class NumberCheck:
    phone: str  # digits, as asked
    exists: bool
    jid: str | None = None
    lid: str | None = None


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


class WhatsAppSession(AccountSession, Protocol):
    """One instance's connection to WhatsApp."""

    @property
    def has_credentials(self) -> bool:
        """True when a device is linked, so connecting needs no QR."""

    def set_proxy(self, url: str | None) -> None:
        """The proxy every later `connect` goes through (an `http`, `https` or `socks5` URL, with its
        credentials in clear), or None for none. A session starts without one; the actor says so
        only when the instance's proxy differs from what it told the session last.
        """

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

    async def react(self, target: MessageRef, emoji: str) -> str:
        """React to `target` (`""` removes our reaction); returns the reaction's message id."""

    async def edit(self, target: MessageRef, text: str) -> str:
        """Replace the text of our own message `target`; returns the edit's message id."""

    async def revoke(self, target: MessageRef) -> str:
        """Delete `target` for everyone; returns the revoke's message id."""

    async def mark_read(self, chat_jid: str, sender_jid: str, message_ids: Sequence[str]) -> None:
        """Send read receipts for incoming `message_ids` of one sender in one chat."""

    async def send_chat_presence(self, chat_jid: str, state: str) -> None:
        """typing | recording | paused, shown in one chat."""

    async def send_presence(self, state: str) -> None:
        """available | unavailable, for the account."""

    async def check_numbers(self, phones: Sequence[str]) -> list[NumberCheck]:
        """Which of `phones` (digits) have WhatsApp, in the order asked."""

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

    async def deliver(self, instance_id: str, event: TransportEvent) -> None:
        """Push any incoming transport event (reaction, edit, revoke, poll vote, presence) as the network would."""

    def set_directory(self, instance_id: str, numbers: list[DirectoryEntry]) -> None:
        """What `check_numbers` and profiles answer for the simulated account."""

    def set_groups(self, instance_id: str, groups: list[GroupInfo]) -> None:
        """The groups the simulated account is in; group operations then behave as WhatsApp would."""

    async def history(self, instance_id: str, chats: int, per_chat: int) -> int:
        """Push a generated history sync of `chats` × `per_chat` messages, chunk by chunk, each handled before
        the next; answers how many messages it pushed."""

    async def receipt(self, instance_id: str, message_id: str, status: str) -> None: ...

    async def disconnect(self, instance_id: str, reason: str, logged_out: bool) -> None: ...

    def set_contacts(self, instance_id: str, contacts: list[RemoteContact]) -> None: ...

    def outbox(self, instance_id: str) -> list[dict[str, Any]]: ...

    def connection(self, instance_id: str) -> dict[str, Any]:
        """How the session connects: `connected`, `connects` (so far) and the `proxy` of the last connect, masked."""

    def set_faults(self, instance_id: str, faults: dict[str, Any]) -> dict[str, Any]: ...
