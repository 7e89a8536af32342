"""What happens to messages and chats on an instance: sent, failed, received, delivery status, chat read.

The home of every message event: a new one (a reaction, an edit, a revoke, a poll vote, presence …)
is a frozen dataclass here with `@register` and its wire `type`; add it to MESSAGE_TYPES when the
messages read model follows it, and give it its audiences in `wamux/domain/catalog.py`.
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


# The topics the messages read model (history and chats) follows.
MESSAGE_TYPES = type_names(MessageSent, MessageFailed, MessageReceived, MessageStatusChanged, ChatRead)
