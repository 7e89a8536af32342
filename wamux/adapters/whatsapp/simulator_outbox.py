"""What the simulated network records: the outbox entries, per kind.

The outbox lists everything an instance sent to the network, oldest first. Every entry has the
fields of a sent message (`id, to, type, body, caption, mimeType, fileName, size`, null or 0 when the
kind has none) plus the fields of its kind: replies, mentions and forwards on messages;
`targetMessageId` and `emoji` on reactions, edits and revokes; coordinates on locations; cards on
contacts; `options` on polls; `messageIds` on read receipts; `state` on presence; `op` and its fields on
group operations (`group_op`, see `simulator_account`); `callId` on a rejected call (`call_reject`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from wamux.adapters.media.convert import STICKER_MIME, VOICE_MIME, is_ogg_opus, is_webp
from wamux.adapters.whatsapp.vcard import card_vcard
from wamux.core.ports import ContactCard, MessageRef, OutgoingMessage, TransportError
from wamux.domain.errors import ValidationFailed

MEDIA_KINDS = ("image", "video", "audio", "voice", "document", "sticker")
MESSAGE_KINDS = ("text", *MEDIA_KINDS, "location", "contact", "poll")
CHAT_STATES = ("typing", "recording", "paused")
ACCOUNT_STATES = ("available", "unavailable")

Entry = dict[str, Any]


def entry(message_id: str, to: str | None, kind: str, **fields: Any) -> Entry:
    """An outbox entry: the fields every entry has, then those of its kind."""
    base: Entry = {
        "id": message_id,
        "to": to,
        "type": kind,
        "body": None,
        "caption": None,
        "mimeType": None,
        "fileName": None,
        "size": 0,
    }
    base.update(fields)
    return base


def card_entry(card: ContactCard) -> Entry:
    """A shared contact as it travels: with the vCard the receiving phone reads (written when the card has none)."""
    return {"name": card.name, "phone": card.phone, "organization": card.organization, "vcard": card_vcard(card)}


def message_entry(message_id: str, message: OutgoingMessage) -> Entry:
    """The entry of a sent message of any kind; refuses what WhatsApp could not carry."""
    kind = message.kind
    if kind not in MESSAGE_KINDS:
        raise TransportError(f"simulated: cannot send a message of kind {kind!r}", retryable=False, code="bad_kind")
    fields: Entry = {
        "body": message.text,
        "caption": message.caption,
        "mimeType": message.mime_type,
        "fileName": message.file_name,
        "size": len(message.data or b""),
        "quotedMessageId": message.quoted.message_id if message.quoted else None,
        "mentions": list(message.mentions),
        "forwarded": message.forwarded,
    }
    if kind == "text":
        fields["linkPreview"] = message.link_preview
    elif kind in ("audio", "voice"):
        fields["ptt"] = kind == "voice"
        if kind == "voice" and is_ogg_opus(message.data or b""):
            fields["mimeType"] = VOICE_MIME  # as the receiving phone names it, whatever the sender claimed
    elif kind == "sticker" and is_webp(message.data or b""):
        fields["mimeType"] = STICKER_MIME
    elif kind == "location":
        if message.location is None:
            raise _missing(kind, "location")
        loc = message.location
        fields.update(latitude=loc.latitude, longitude=loc.longitude, name=loc.name, address=loc.address)
    elif kind == "contact":
        if not message.contacts:
            raise _missing(kind, "contacts")
        fields["contacts"] = [card_entry(c) for c in message.contacts]
    elif kind == "poll":
        if message.poll is None:
            raise _missing(kind, "poll")
        poll = message.poll
        fields.update(question=poll.question, options=list(poll.options), selectableCount=poll.selectable_count)
    return entry(message_id, message.to, kind, **fields)


def _missing(kind: str, field: str) -> TransportError:
    return TransportError(f"simulated: a {kind} message needs its {field}", retryable=False, code="bad_message")


def target_entry(message_id: str, kind: str, target: MessageRef, **fields: Any) -> Entry:
    """A reaction, edit or revoke of `target`, sent into the target's chat."""
    return entry(message_id, target.chat_jid, kind, targetMessageId=target.message_id, **fields)


def add_read_receipt(outbox: list[Entry], message_id: str, chat_jid: str, sender_jid: str, ids: Sequence[str]) -> None:
    """Record read receipts: one entry per chat and read.

    WhatsApp takes receipts per sender, so reading a group sends one per sender in a row: those
    join the chat's last entry. A sender already in it starts a new entry (a later read).
    """
    last = outbox[-1] if outbox else {}
    if last.get("type") == "read_receipt" and last["to"] == chat_jid and sender_jid not in last["senders"]:
        last["senders"].append(sender_jid)
        last["messageIds"].extend(i for i in ids if i not in last["messageIds"])
        return
    outbox.append(
        entry(message_id, chat_jid, "read_receipt", messageIds=list(dict.fromkeys(ids)), senders=[sender_jid])
    )


def presence_entry(message_id: str, chat_jid: str | None, state: str) -> Entry:
    """Typing/recording/paused in a chat, or available/unavailable for the account (`to` is null)."""
    allowed = CHAT_STATES if chat_jid is not None else ACCOUNT_STATES
    if state not in allowed:
        raise ValidationFailed(f"state must be one of {', '.join(allowed)}", details={"state": "invalid"})
    return entry(message_id, chat_jid, "presence", state=state)
