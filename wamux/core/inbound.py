"""What the wire reports, turned into domain events of the instance's stream.

Each `TransportEvent` of the port (`wamux.core.ports`) is handled under the actor's lock, so a
message that arrives while a command appends keeps the stream version exact.

People are named here as every payload shows them (API-2 §5): the phone JID when the instance knows
it, and the LID beside it (`PeopleIndex`). The pairs a wire event carries arrive first, as `IdentityIn`,
so a message from a LID that names its phone is already shown under the phone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from wamux.core.history_import import HistoryImport
from wamux.core.ports import (
    ConnectionLost,
    ContactCard,
    ContactUpdate,
    EditIn,
    HistoryIn,
    IdentityIn,
    IncomingMessage,
    LinkConnected,
    Location,
    PairSuccess,
    Poll,
    PollVoteIn,
    PresenceIn,
    QrCode,
    ReactionIn,
    Receipt,
    RevokeIn,
    TransportEvent,
)
from wamux.domain.errors import CatchingUp
from wamux.domain.events import (
    Connected,
    ContactSaved,
    DomainEvent,
    MessageEdited,
    MessageReaction,
    MessageReceived,
    MessageRevoked,
    MessageStatusChanged,
    PollVoted,
    PresenceUpdated,
    QrReceived,
)
from wamux.domain.phones import is_group, jid_number
from wamux.domain.text import safe_file_name


def rich_content(location: Location | None, contacts: Sequence[ContactCard], poll: Poll | None) -> dict[str, Any]:
    """A location, contact cards and a poll as `message_sent` and `message_received` carry them."""
    return {
        "location": asdict(location) if location else None,
        "contacts": [asdict(card) for card in contacts],
        "poll": (
            {"question": poll.question, "options": list(poll.options), "selectableCount": poll.selectable_count}
            if poll
            else None
        ),
    }


class InboundEvents(HistoryImport):
    """Handles the transport's events for the actor (a history sync chunk: `HistoryImport`)."""

    async def _on_transport(self, event: TransportEvent) -> None:
        if isinstance(event, HistoryIn):
            return await self._import_history(event)  # batch by batch, each under the lock (sends get in between)
        async with self._lock:
            await self._handle_transport(event)

    async def _handle_transport(self, event: TransportEvent) -> None:
        if isinstance(event, IdentityIn):
            self._people.learned(event.lid, event.phone_jid)  # recorded by `_on_account_event` below
        if isinstance(event, QrCode):
            if self.status == "connected":
                return
            self._qr_attempt += 1
            if self._qr_attempt > self.settings.qr_max_attempts:
                self._end_connection(ConnectionLost(reason="qr_timeout"))
                return
            await self._append(QrReceived(instance_id=self.id, qr_code=event.code, attempt=self._qr_attempt))
            self.qr_code = event.code
            self._set_status("qr")
        elif isinstance(event, PairSuccess):
            self.linked_jid = event.jid
        elif isinstance(event, LinkConnected):
            self.qr_code = None
            self._failures = 0
            jid = event.jid or self.linked_jid or self.instance.jid
            await self._append(Connected(instance_id=self.id, jid=jid, push_name=event.push_name))
            self._set_status("connected")
            if self._nursery is not None:
                self._nursery.start_soon(self._after_connected)
        elif isinstance(event, ConnectionLost):
            self._outcome = event
        elif isinstance(event, IncomingMessage):
            await self._append(await self._received(event))
        elif isinstance(event, Receipt):
            chat, chat_lid = await self._people.resolve(event.chat_jid) if event.chat_jid else (None, None)
            await self._append(
                *(
                    MessageStatusChanged(
                        instance_id=self.id,
                        message_id=mid,
                        status=event.status,
                        chat_jid=chat,
                        from_me=True,
                        chat_lid=chat_lid,
                    )
                    for mid in event.message_ids
                )
            )
        elif isinstance(event, ReactionIn | EditIn | RevokeIn | PollVoteIn):
            referring = await self._referring(event)
            if referring is not None:
                await self._append(referring)
        elif isinstance(event, PresenceIn):
            sender, from_lid = await self._people.resolve(event.sender_jid)
            chat, chat_lid = await self._people.resolve(event.chat_jid)
            await self._append(
                PresenceUpdated(
                    instance_id=self.id,
                    chat_jid=chat,
                    sender_jid=sender,
                    state=event.state,
                    from_lid=from_lid,
                    chat_lid=chat_lid,
                )
            )
        elif await self._on_account_event(event):
            pass
        elif isinstance(event, ContactUpdate):
            await self._append(
                ContactSaved(
                    instance_id=self.id,
                    jid=event.jid,
                    number=jid_number(event.jid),
                    name=event.name,
                    push_name=event.push_name,
                    is_group=is_group(event.jid),
                )
            )

    async def _received(self, m: IncomingMessage) -> MessageReceived:
        sender, from_lid = await self._people.resolve(m.sender_jid)
        chat, chat_lid = await self._people.resolve(m.chat_jid)
        media_path = None
        size = 0
        mime = m.mime_type
        file_name = m.file_name
        if m.media is not None:
            media_path = self.media.save(
                self.id, m.media.data, m.media.mime_type or mime, m.media.file_name or file_name
            )
            size = len(m.media.data)
            mime = m.media.mime_type or mime
            file_name = m.media.file_name or file_name
        file_name = safe_file_name(file_name)  # the sender chose it: no paths, controls or endless names
        return MessageReceived(
            instance_id=self.id,
            message_id=m.message_id,
            chat_jid=chat,
            sender_jid=sender,
            message_type=m.message_type,
            body=m.body,
            push_name=m.push_name,
            is_group=m.is_group,
            from_me=m.from_me,
            sent_at=m.timestamp,
            caption=m.caption,
            mime_type=mime,
            file_name=file_name,
            media_size=size,
            media_path=media_path,
            extra=dict(m.extra),
            wa_type=m.wa_type,
            quoted_message_id=m.quoted_message_id,
            mentions=list(m.mentions),
            forwarded=m.forwarded,
            ptt=m.ptt,
            **rich_content(m.location, m.contacts, m.poll),
            from_lid=from_lid,
            chat_lid=chat_lid,
        )

    # ---- what refers to a message in history ------------------------------------------------

    async def _known(self, message_id: str) -> Mapping[str, Any] | bool | None:
        """The target in history; True when there is no history to ask (then the event is taken as it comes),
        or while the messages read model is still catching up with a big log at start (it cannot say yet)."""
        if self.deps.history is None:
            return True
        try:
            return await self.deps.history.message(self.id, message_id)
        except CatchingUp:
            return True

    async def _referring(self, event: ReactionIn | EditIn | RevokeIn | PollVoteIn) -> DomainEvent | None:
        """The domain event for a reaction, edit, revoke or vote, or None when WhatsApp would ignore it.

        As WhatsApp does: one that names a message we do not know is dropped; an edit or a revoke
        counts only from the message's own sender; a vote needs a poll.
        """
        target_id = event.poll_message_id if isinstance(event, PollVoteIn) else event.message_id
        target = await self._known(target_id)
        if not target:
            return None
        doc: Mapping[str, Any] = target if isinstance(target, Mapping) else {}
        sender, from_lid = await self._people.resolve(event.sender_jid)
        chat, chat_lid = await self._people.resolve(event.chat_jid)
        who: dict[str, Any] = {
            "instance_id": self.id,
            "chat_jid": chat,
            "sender_jid": sender,
            "from_me": event.from_me,
            "from_lid": from_lid,
            "chat_lid": chat_lid,
        }
        if isinstance(event, ReactionIn):
            return MessageReaction(message_id=event.message_id, emoji=event.emoji, **who)
        # The stored sender may be the LID (recorded before the phone was known) or the phone: either is them.
        stored = {doc.get("sender"), doc.get("fromLid")} - {None}
        own_sender = not doc or (
            bool(doc.get("fromMe")) == event.from_me
            and (event.from_me or not stored or bool(stored & {event.sender_jid, sender, from_lid}))
        )
        if isinstance(event, EditIn):
            if not own_sender or doc.get("revoked"):
                return None
            return MessageEdited(message_id=event.message_id, body=event.body, **who)
        if isinstance(event, RevokeIn):
            # A group admin may revoke anyone's message: a revoke from another sender in a group counts too.
            if (not own_sender and not is_group(event.chat_jid)) or doc.get("revoked"):
                return None
            return MessageRevoked(message_id=event.message_id, **who)
        poll = doc.get("poll") if doc else None
        if doc and not poll:
            return None  # a vote on something that is not a poll
        selected = list(event.selected_options)
        if event.selected_hashes:
            by_hash = {hashlib.sha256(o.encode()).hexdigest(): o for o in (poll or {}).get("options", [])}
            selected += [by_hash[h] for h in event.selected_hashes if h in by_hash]
        return PollVoted(message_id=event.poll_message_id, selected_options=selected, **who)
