"""What happens to messages and chats on an instance: sent, failed, received, delivery status, chat read.

The home of every message event: a new one (a reaction, an edit, a revoke, a poll vote, presence …)
is a frozen dataclass here with `@register` and its wire `type`; add it to MESSAGE_TYPES when the
messages read model follows it, and give it its audiences in `wamux/domain/catalog.py`.

People are named as API-2 §5 wants: a person's JID field (`to`, `sender_jid`, a 1:1 `chat_jid`) holds
the phone JID when the instance knows it, else what WhatsApp said (a LID); the `*_lid` field beside it
holds that person's LID when known (the LID itself when only the LID is known). Both default to the
older shape, so events recorded before they existed still load.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from wamux.domain.events.base import DomainEvent, register, type_names


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
    # What a message of a richer kind carries (API-2 §1, §3); absent on plain messages.
    quoted_message_id: str | None = None
    mentions: list[str] = field(default_factory=list)  # JIDs
    forwarded: bool = False
    ptt: bool = False  # a voice note
    location: dict[str, Any] | None = None  # {latitude, longitude, name, address}
    contacts: list[dict[str, Any]] = field(default_factory=list)  # [{name, phone, vcard, organization}]
    poll: dict[str, Any] | None = None  # {question, options, selectableCount}
    to_lid: str | None = None  # the LID of the person `to` names (a group has none)


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
    to_lid: str | None = None


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
    wa_type: str | None = None  # WhatsApp's name of the content (conversation, extendedTextMessage, ...)
    # What a message of a richer kind carries (API-2 §1, §3); absent on plain messages.
    quoted_message_id: str | None = None
    mentions: list[str] = field(default_factory=list)  # JIDs
    forwarded: bool = False
    ptt: bool = False  # a voice note
    location: dict[str, Any] | None = None  # {latitude, longitude, name, address}
    contacts: list[dict[str, Any]] = field(default_factory=list)  # [{name, phone, vcard, organization}]
    poll: dict[str, Any] | None = None  # {question, options, selectableCount}
    from_lid: str | None = None  # the sender's LID
    chat_lid: str | None = None  # the LID of the person a 1:1 chat is with (a group has none)


@register
@dataclass(frozen=True)
class MessageStatusChanged(DomainEvent):
    type: ClassVar[str] = "message_status"
    instance_id: str
    message_id: str
    status: str
    chat_jid: str | None = None
    from_me: bool = True
    chat_lid: str | None = None


@register
@dataclass(frozen=True)
class ChatRead(DomainEvent):
    type: ClassVar[str] = "chat_read"
    instance_id: str
    chat_jid: str
    message_ids: list[str] = field(default_factory=list)  # incoming messages read receipts were sent for


@register
@dataclass(frozen=True)
class MessageReaction(DomainEvent):
    """A reaction to `message_id` by `sender_jid` (one per sender; `emoji == ""` removes it)."""

    type: ClassVar[str] = "message_reaction"
    instance_id: str
    message_id: str  # the reacted-to message
    chat_jid: str
    sender_jid: str
    emoji: str
    from_me: bool = False
    reaction_id: str | None = None  # WhatsApp's id of the reaction message itself, when we sent it
    from_lid: str | None = None
    chat_lid: str | None = None


@register
@dataclass(frozen=True)
class MessageEdited(DomainEvent):
    type: ClassVar[str] = "message_edited"
    instance_id: str
    message_id: str
    chat_jid: str
    sender_jid: str
    body: str
    from_me: bool = False
    from_lid: str | None = None
    chat_lid: str | None = None


@register
@dataclass(frozen=True)
class MessageRevoked(DomainEvent):
    """Deleted for everyone: history no longer serves its body or media."""

    type: ClassVar[str] = "message_revoked"
    instance_id: str
    message_id: str
    chat_jid: str
    sender_jid: str
    from_me: bool = False
    from_lid: str | None = None
    chat_lid: str | None = None


@register
@dataclass(frozen=True)
class PollVoted(DomainEvent):
    """`sender_jid`'s whole current selection on the poll `message_id` (an empty list withdraws the vote)."""

    type: ClassVar[str] = "poll_vote"
    instance_id: str
    message_id: str  # the poll
    chat_jid: str
    sender_jid: str
    selected_options: list[str] = field(default_factory=list)
    from_me: bool = False
    from_lid: str | None = None
    chat_lid: str | None = None


@register
@dataclass(frozen=True)
class PresenceUpdated(DomainEvent):
    """Typing / recording / paused in a chat, or available / unavailable of a contact: delivered, not in history."""

    type: ClassVar[str] = "presence_update"
    instance_id: str
    chat_jid: str
    sender_jid: str
    state: str
    from_lid: str | None = None
    chat_lid: str | None = None


# The topics the messages read model (history and chats) follows.
MESSAGE_TYPES = type_names(
    MessageSent,
    MessageFailed,
    MessageReceived,
    MessageStatusChanged,
    ChatRead,
    MessageReaction,
    MessageEdited,
    MessageRevoked,
    PollVoted,
)
