"""What the wire tells the actor: the transport events and the wire types they carry."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from wamux.core.ports.account import CallIn, GroupJoinedIn, GroupParticipantsIn, GroupUpdatedIn, IdentityIn

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
class Location:
    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class ContactCard:
    """One contact card of a contact message; `vcard` is the raw vCard text."""

    name: str
    phone: str | None = None  # digits, read from the vCard's TEL (waid=) when present
    vcard: str | None = None
    organization: str | None = None


@dataclass(frozen=True)
class Poll:
    question: str
    options: tuple[str, ...]
    selectable_count: int = 1


@dataclass(frozen=True)
class IncomingMessage:
    """A message that arrived (or was sent from the phone itself when `from_me`)."""

    message_id: str
    chat_jid: str
    sender_jid: str
    # text, image, video, audio, voice, document, sticker, location, contact, poll, other
    message_type: str
    body: str | None = None
    push_name: str | None = None
    is_group: bool = False
    from_me: bool = False
    timestamp: int | None = None  # unix seconds, as WhatsApp stamped it
    caption: str | None = None
    mime_type: str | None = None
    file_name: str | None = None
    media: MediaPayload | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # what has no field of its own (seconds, live, ...)
    wa_type: str | None = None  # WhatsApp's name of the content (conversation, extendedTextMessage, ...)
    quoted_message_id: str | None = None
    mentions: tuple[str, ...] = ()  # JIDs
    forwarded: bool = False
    ptt: bool = False  # an audio message that is a voice note
    location: Location | None = None
    contacts: tuple[ContactCard, ...] = ()
    poll: Poll | None = None
    file_size: int | None = None  # bytes of the media file as WhatsApp announced it (history: never downloaded)


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


@dataclass(frozen=True)
class ReactionIn:
    """Someone (or we, from the phone) reacted to `message_id`; `emoji == ""` removes the reaction."""

    message_id: str  # the reacted-to message
    chat_jid: str
    sender_jid: str
    emoji: str
    from_me: bool = False
    timestamp: int | None = None


@dataclass(frozen=True)
class EditIn:
    """The sender edited the text of `message_id`."""

    message_id: str
    chat_jid: str
    sender_jid: str
    body: str
    from_me: bool = False
    timestamp: int | None = None


@dataclass(frozen=True)
class RevokeIn:
    """The sender deleted `message_id` for everyone."""

    message_id: str
    chat_jid: str
    sender_jid: str
    from_me: bool = False
    timestamp: int | None = None


@dataclass(frozen=True)
class PollVoteIn:
    """A vote on the poll `poll_message_id`: the full current selection of `sender_jid`.

    The adapter gives the option texts when it could decrypt them against the poll, else the
    SHA-256 hashes (hex) WhatsApp sends; the actor resolves hashes against the stored poll.
    """

    poll_message_id: str
    chat_jid: str
    sender_jid: str
    selected_options: tuple[str, ...] = ()
    selected_hashes: tuple[str, ...] = ()
    from_me: bool = False
    timestamp: int | None = None


@dataclass(frozen=True)
class PresenceIn:
    """Typing/recording/paused in a chat, or available/unavailable of a contact (chat_jid == sender_jid)."""

    chat_jid: str
    sender_jid: str
    state: str  # typing | recording | paused | available | unavailable


@dataclass(frozen=True)
class HistoryIn:
    """One chunk of the past chats WhatsApp pushes after a device is linked (history sync).

    The messages are `IncomingMessage`s without media bytes: history media are never downloaded
    (kind, caption, mime type, file name and `file_size` are kept). `contacts` are the push names
    the chunk names; `chats` counts its conversations; `progress` is WhatsApp's 0..100 when it says.
    """

    messages: tuple[IncomingMessage, ...]
    chats: int = 0
    progress: int | None = None
    sync_type: str | None = None  # INITIAL_BOOTSTRAP, RECENT, FULL, PUSH_NAME, ON_DEMAND, ... (lower case)
    contacts: tuple[ContactUpdate, ...] = ()


TransportEvent = (
    QrCode
    | PairSuccess
    | LinkConnected
    | ConnectionLost
    | IncomingMessage
    | Receipt
    | ContactUpdate
    | ReactionIn
    | EditIn
    | RevokeIn
    | PollVoteIn
    | PresenceIn
    | GroupJoinedIn
    | GroupUpdatedIn
    | GroupParticipantsIn
    | CallIn
    | IdentityIn
    | HistoryIn
)
Emit = Callable[[TransportEvent], Awaitable[None]]
