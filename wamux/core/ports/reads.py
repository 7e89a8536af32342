"""What the instance actor reads back (implemented over the read-model queries)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

# ---- what the actor reads back (implemented by the read-model queries) -----------------------


class SentLookup(Protocol):
    """Earlier sends, for `Idempotency-Key` replays that survive a restart."""

    async def sent_with_key(self, instance_id: str, key: str) -> tuple[str, int] | None:
        """(message id, sent at ms) of the instance's message sent with `key`, if any."""


class MessageLookup(Protocol):
    """One message of the instance's history as the messages read model holds it (caught up with the log)."""

    async def message(self, instance_id: str, message_id: str) -> Mapping[str, Any] | None: ...


class UnreadLookup(Protocol):
    """The unread incoming messages of a chat (for read receipts)."""

    async def unread_incoming(self, instance_id: str, chat_jid: str) -> Sequence[Mapping[str, Any]]: ...


class GroupLookup(Protocol):
    """The groups the read model holds for an instance (without members)."""

    async def groups(self, instance_id: str) -> list[dict[str, Any]]: ...


class UsageReader(Protocol):
    """Recorded usage of an instance, for the limit rule."""

    async def usage_since(self, instance_id: str, since_day: str | None) -> tuple[int, int]:
        """(messages sent, API calls recorded) from `since_day` (inclusive; None: ever)."""

    async def limit_notified(self, instance_id: str) -> Sequence[str]:
        """The limit periods already announced with `limit_exceeded`."""
