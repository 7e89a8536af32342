"""neonize's `HistorySyncEv` → `HistoryIn`: the past chats WhatsApp pushes after a device is linked.

What arrives (neonize 0.5.2, whatsmeow's `events.HistorySync`): `Data` is one chunk, a
`waHistorySync.HistorySync` with `syncType`, `progress` (0..100), `conversations[]` (`ID`, and
`lidJID` / `pnJID` when WhatsApp knows both addresses of the person), each with `messages[].message`:
a `WebMessageInfo` (`key{remoteJID, fromMe, ID, participant}`, `message`, `messageTimestamp` in unix
seconds, `pushName`, `participant`), plus `pushnames[]` (`ID`, `pushname`) and
`phoneNumberToLidMappings[]` (`pnJID`, `lidJID`). JIDs are strings here, not `JID` messages.

How it maps:
- a message with content becomes an `IncomingMessage` through the live content mapping
  (`neonize_messages.content_fields`), without its media: history media are never downloaded (the
  announced `fileLength` is kept as `file_size`). Our own messages carry no sender: the core names
  the linked account.
- Reactions, poll votes, edits and deletes inside history are skipped, as are system (stub) messages
  and messages without content: they would refer to messages of other chunks, and history notifies
  nobody of them. What a sync pushes is what the chat looked like on the phone.
- `pushnames` become the chunk's `contacts`; LID ⇄ phone pairs come first, as `IdentityIn`s.
"""

from __future__ import annotations

from typing import Any

from wamux.adapters.whatsapp import neonize_messages as messages
from wamux.adapters.whatsapp.neonize_jids import GROUP_SERVER, LID_SERVER, USER_SERVER, account_jid, unix_seconds
from wamux.core.ports import ContactUpdate, HistoryIn, IdentityIn, IncomingMessage, TransportEvent

# Content that only changes another message (or says nothing): not a message of history.
_SKIPPED_FIELDS = ("reactionMessage", "encReactionMessage", "pollUpdateMessage", "protocolMessage", "keepInChatMessage")


def history_sync(event: Any) -> tuple[TransportEvent, ...]:
    """`HistorySyncEv` → the LID ⇄ phone pairs it names, then one `HistoryIn` (nothing for an empty chunk)."""
    data = event.Data
    found: list[IncomingMessage] = []
    pairs: list[IdentityIn | None] = [_pair(m.lidJID, m.pnJID) for m in data.phoneNumberToLidMappings]
    for conversation in data.conversations:
        pairs.append(_pair(conversation.lidJID, conversation.pnJID))
        chat = account_jid(conversation.ID)
        for entry in conversation.messages:
            message = history_message(chat, entry.message)
            if message is not None:
                found.append(message)
    contacts = tuple(
        ContactUpdate(jid=account_jid(p.ID), push_name=p.pushname) for p in data.pushnames if p.ID and p.pushname
    )
    identities = tuple(dict.fromkeys(pair for pair in pairs if pair is not None))
    if not found and not contacts and not identities:
        return ()
    chunk = HistoryIn(
        messages=tuple(found),
        chats=len(data.conversations),
        progress=max(0, min(100, data.progress)) if data.HasField("progress") else None,
        sync_type=_sync_type(data),
        contacts=contacts,
    )
    return (*identities, chunk)


def history_message(chat: str, info: Any) -> IncomingMessage | None:
    """One `WebMessageInfo` of conversation `chat` as an `IncomingMessage`; None when it is no message of history."""
    key = info.key
    if not key.ID or not info.HasField("message"):
        return None  # a system (stub) message: "messages are end-to-end encrypted", "X joined", ...
    content = messages.unwrap_message(info.message)
    if any(content.HasField(name) for name in _SKIPPED_FIELDS):
        return None
    fields = messages.content_fields(content)
    if fields is None:
        return None
    chat_jid = account_jid(key.remoteJID) if key.remoteJID else chat
    is_group = chat_jid.endswith("@" + GROUP_SERVER)
    from_me = bool(key.fromMe)
    if from_me:
        sender = ""  # the linked account: the core knows it
    elif is_group:
        sender = account_jid(key.participant or info.participant)
    else:
        sender = chat_jid
    media = messages.media_kind(content)
    size = int(getattr(content, media).fileLength) if media is not None else 0
    return IncomingMessage(
        message_id=key.ID,
        chat_jid=chat_jid,
        sender_jid=sender,
        push_name=info.pushName or None,
        is_group=is_group,
        from_me=from_me,
        timestamp=unix_seconds(info.messageTimestamp),
        file_size=size or None,
        **fields,
    )


def _pair(lid: str, phone: str) -> IdentityIn | None:
    """`IdentityIn` when `lid` is a LID and `phone` a phone JID (strings, as the sync names them)."""
    if not lid or not phone:
        return None
    lid, phone = account_jid(lid), account_jid(phone)
    if lid.endswith("@" + LID_SERVER) and phone.endswith("@" + USER_SERVER):
        return IdentityIn(lid=lid, phone_jid=phone)
    return None


def _sync_type(data: Any) -> str | None:
    if not data.HasField("syncType"):
        return None
    try:
        return str(type(data).HistorySyncType.Name(data.syncType)).lower()
    except ValueError:
        return None
