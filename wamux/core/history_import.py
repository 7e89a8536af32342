"""History import (API-2 §6): the past chats of a `HistoryIn` chunk, appended as `history_sync` batches.

Each message is turned into the `MessageReceived` the live path would record (`_received`: people
named by phone when known, file names made safe), without media (history media are never downloaded:
`metadata.mediaDownloaded` is false), and carried compactly in a `history_sync` event of at most
`HISTORY_BATCH` messages. A few events go in one append (one transaction for a usual chunk of a few
thousand messages), each append under the actor's lock and no more: a command waiting for the lock
(a send) gets it between two appends, so a 50,000-message sync never holds sends behind it for long.

With `settings.syncHistory: false` nothing is recorded. Nothing here is a `message_received`, so
history reaches no webhook as one; the `history_sync` events are public and always sent (counts only).
A message seen twice (in two syncs, or live and in a sync) is harmless: the messages read model keeps
the first row.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace

import trio

from wamux.core.actor_base import ActorBase
from wamux.core.ports import HistoryIn, IncomingMessage
from wamux.domain.events import (
    HISTORY_BATCH,
    ContactsImported,
    DomainEvent,
    HistorySynced,
    MessageReceived,
    compact_message,
)
from wamux.domain.phones import is_group
from wamux.logs import get_logger

log = get_logger("wamux.actor")

EVENTS_PER_APPEND = 5  # history_sync events in one append: one transaction for a usual chunk
BATCH_BYTES = 2_000_000  # a rough bound on one event's size (vCards and long texts make big messages)
MEDIA_KINDS = frozenset({"image", "video", "audio", "voice", "document", "sticker"})


def batches(messages: Sequence[IncomingMessage]) -> Iterator[Sequence[IncomingMessage]]:
    """`messages` in order, in runs of at most `HISTORY_BATCH` and about `BATCH_BYTES` each."""
    start, size = 0, 0
    for i, m in enumerate(messages):
        weight = 300 + len(m.body or "") + len(m.caption or "") + sum(len(c.vcard or "") for c in m.contacts)
        if i > start and (i - start >= HISTORY_BATCH or size + weight > BATCH_BYTES):
            yield messages[start:i]
            start, size = i, 0
        size += weight
    if start < len(messages):
        yield messages[start:]


class HistoryImport(ActorBase):
    """Imports history sync chunks for the actor (its `_received` is the live path's, `InboundEvents`)."""

    async def _received(self, m: IncomingMessage) -> MessageReceived:
        raise NotImplementedError  # InboundEvents

    async def _import_history(self, sync: HistoryIn) -> None:
        """Append the chunk batch by batch, each append under the lock (never the whole chunk)."""
        if self.instance.settings.get("syncHistory") is False:
            log.debug("history sync not imported: settings.syncHistory is false", instance_id=self.id)
            return
        pending: list[DomainEvent] = []
        if sync.contacts:  # the push names the chunk names: contacts learn them
            names = [
                {"jid": c.jid, "name": c.name, "push_name": c.push_name, "is_group": is_group(c.jid)}
                for c in sync.contacts
            ]
            pending.append(ContactsImported(instance_id=self.id, contacts=names))
        imported = 0
        for batch in batches(sync.messages):
            rows = [compact_message(await self._history_message(m)) for m in batch]
            chats = len({row["chat_jid"] for row in rows})
            pending.append(
                HistorySynced(
                    instance_id=self.id, messages=rows, chats=chats, progress=sync.progress, sync_type=sync.sync_type
                )
            )
            imported += len(rows)
            await trio.lowlevel.checkpoint()  # building a batch is CPU work: let the other tasks run between two
            if len(pending) >= EVENTS_PER_APPEND:
                await self._append_history(pending)
                pending = []
        if pending:
            await self._append_history(pending)
        log.info(
            "history sync imported",
            instance_id=self.id,
            messages=imported,
            chats=sync.chats,
            progress=sync.progress,
            sync_type=sync.sync_type,
        )

    async def _history_message(self, m: IncomingMessage) -> MessageReceived:
        """The message as live history would record it, from the linked account when ours, media not downloaded."""
        if m.from_me and not m.sender_jid:
            m = replace(m, sender_jid=self.linked_jid or self.instance.jid or "")
        received = await self._received(replace(m, media=None))
        if m.message_type not in MEDIA_KINDS:
            return received
        return replace(received, media_size=m.file_size or 0, extra={**received.extra, "mediaDownloaded": False})

    async def _append_history(self, events: list[DomainEvent]) -> None:
        async with self._lock:  # released between appends: a waiting command goes first (trio's lock is fair)
            if not self.instance.deleted:
                await self._append(*events)
