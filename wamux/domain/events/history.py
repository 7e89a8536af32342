"""The past chats WhatsApp pushes when a device is linked (history sync), imported in batches.

One `history_sync` event carries up to a thousand messages of one sync chunk. Each message is the
payload of the `MessageReceived` it would have been, without `instance_id` and without the fields at
their defaults (`compact_message`), so the messages read model builds its history rows with the
same row builder as live messages (`history_message` turns one back). The public payload counts the
messages; it never carries them (`wamux/projections/payloads.py`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import cache
from typing import Any, ClassVar

from wamux.domain.events.base import DomainEvent, register
from wamux.domain.events.messages import MessageReceived

# At most this many messages go into one `history_sync` event.
HISTORY_BATCH = 1000


@register
@dataclass(frozen=True)
class HistorySynced(DomainEvent):
    """A batch of history messages (`compact_message` payloads), with the sync's progress (0..100)."""

    type: ClassVar[str] = "history_sync"
    instance_id: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    chats: int = 0  # how many chats the batch's messages belong to
    progress: int | None = None
    sync_type: str | None = None


@cache
def _defaults() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(MessageReceived):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


def compact_message(message: MessageReceived) -> dict[str, Any]:
    """The message as a history batch carries it: its payload without `instance_id` and without defaults."""
    defaults = _defaults()
    return {
        name: value
        for name, value in message.payload().items()
        if name != "instance_id" and (name not in defaults or value != defaults[name])
    }


@cache
def _names() -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(MessageReceived))


def history_message(instance_id: str, message: dict[str, Any]) -> MessageReceived:
    """One message of a history batch as the `MessageReceived` it stands for (unknown fields ignored)."""
    names = _names()
    return MessageReceived(
        **{k: v for k, v in message.items() if k in names and k != "instance_id"}, instance_id=instance_id
    )
