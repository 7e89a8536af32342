"""neonize's `MessageEv` → the port's message events: content, reactions, edits, revokes, poll votes.

Pure functions over real neonize protobufs; nothing here talks to a client. One thing needs the
client: a poll vote arrives encrypted, so `from_message_event` names the poll and the voter, and
the session decrypts the choice (`client.decrypt_poll_vote`) and fills it in with `with_selection`.

What whatsmeow delivers, as read from neonize 0.5.2 and whatsmeow:
- Envelopes (ephemeral, view-once, device-sent, document-with-caption, edited) are mostly unwrapped
  already; the rest are unwrapped here.
- An edit is a `protocolMessage` of type MESSAGE_EDIT (inside an `editedMessage` envelope when
  whatsmeow leaves it); a delete for everyone is a `protocolMessage` of type REVOKE. Both name the
  changed message in `protocolMessage.key.ID`.
- Replies, mentions and forwards ride in the `contextInfo` of whichever sub-message carries the
  content (`extendedTextMessage`, `imageMessage`, ...).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from wamux.adapters.whatsapp.neonize_jids import jid_to_string, unix_seconds
from wamux.adapters.whatsapp.vcard import read_vcard
from wamux.core.ports import (
    ContactCard,
    EditIn,
    IncomingMessage,
    Location,
    Poll,
    PollVoteIn,
    ReactionIn,
    RevokeIn,
)

MessageEvent = IncomingMessage | ReactionIn | EditIn | RevokeIn | PollVoteIn

# Sub-messages that carry a downloadable file, and the message_type each one means.
MEDIA_FIELDS: dict[str, str] = {
    "imageMessage": "image",
    "videoMessage": "video",
    "ptvMessage": "video",  # round "video note"
    "audioMessage": "audio",  # "voice" when it is a voice note (PTT)
    "documentMessage": "document",
    "stickerMessage": "sticker",
}
# Every version of a poll; all of them are a `PollCreationMessage` and mean the same to a client,
# so they carry one WhatsApp type name.
POLL_FIELDS = (
    "pollCreationMessage",
    "pollCreationMessageV2",
    "pollCreationMessageV3",
    "pollCreationMessageV5",
    "pollCreationMessageV6",
)
POLL_TYPE = "pollCreationMessage"
# Envelopes around the real content (whatsmeow unwraps most of them already; a few slip through).
_WRAPPER_FIELDS = (
    "deviceSentMessage",
    "ephemeralMessage",
    "viewOnceMessage",
    "viewOnceMessageV2",
    "viewOnceMessageV2Extension",
    "documentWithCaptionMessage",
    "editedMessage",
)
# Fields that ride along with content but are no content of their own: key distribution,
# app-state/history-sync protocol traffic, per-message metadata.
_HOUSEKEEPING_FIELDS = frozenset(
    {
        "senderKeyDistributionMessage",
        "fastRatchetKeySenderKeyDistributionMessage",
        "messageContextInfo",
        "protocolMessage",
    }
)
# protocolMessage.type values (WAWebProtobufsE2E.ProtocolMessage.Type).
_REVOKE = 0
_MESSAGE_EDIT = 14


def unwrap_message(message: Any) -> Any:
    """The content inside ephemeral/view-once/device-sent/document-with-caption/edited envelopes."""
    for _ in range(4):  # envelopes nest at most a couple of levels deep
        for name in _WRAPPER_FIELDS:
            if message.HasField(name) and getattr(message, name).HasField("message"):
                message = getattr(message, name).message
                break
        else:
            return message
    return message


def media_kind(message: Any) -> str | None:
    """The sub-message field (`imageMessage`, `audioMessage`, ...) whose file needs downloading, or None."""
    content = unwrap_message(message)
    for name in MEDIA_FIELDS:
        if content.HasField(name):
            return name
    return None


def from_message_event(event: Any) -> MessageEvent | None:
    """`MessageEv` → a message, a reaction, an edit, a revoke or a poll vote; None for protocol-only traffic.

    A poll vote comes back with an empty selection: the session decrypts it (`with_selection`).
    """
    info = event.Info
    source = info.MessageSource
    content = unwrap_message(event.Message)
    chat = jid_to_string(source.Chat)
    sender = jid_to_string(source.Sender)
    from_me = bool(source.IsFromMe)
    timestamp = unix_seconds(info.Timestamp)
    if content.HasField("reactionMessage"):
        reaction = content.reactionMessage
        if not reaction.key.ID:
            return None
        return ReactionIn(reaction.key.ID, chat, sender, reaction.text, from_me=from_me, timestamp=timestamp)
    if content.HasField("protocolMessage"):
        protocol = content.protocolMessage
        target = protocol.key.ID
        if target and protocol.type == _REVOKE:
            return RevokeIn(target, chat, sender, from_me=from_me, timestamp=timestamp)
        if target and protocol.type == _MESSAGE_EDIT:
            body = text_of(protocol.editedMessage)
            return EditIn(target, chat, sender, body, from_me=from_me, timestamp=timestamp)
    if content.HasField("pollUpdateMessage"):
        poll_id = content.pollUpdateMessage.pollCreationMessageKey.ID
        if not poll_id:
            return None
        return PollVoteIn(poll_id, chat, sender, from_me=from_me, timestamp=timestamp)
    fields = _content_fields(content)
    if fields is None:
        return None
    return IncomingMessage(
        message_id=info.ID,
        chat_jid=chat,
        sender_jid=sender,
        push_name=info.Pushname or None,
        is_group=source.IsGroup,
        from_me=from_me,
        timestamp=timestamp,
        **fields,
    )


def with_selection(vote: PollVoteIn, decrypted: Any) -> PollVoteIn:
    """The vote with the option hashes of a decrypted `PollVoteMessage` (SHA-256 of each option text, hex)."""
    return replace(vote, selected_hashes=tuple(bytes(option).hex() for option in decrypted.selectedOptions))


def text_of(message: Any) -> str:
    """The text of a message: its body, or the caption of an image, video or document."""
    content = unwrap_message(message)
    if content.HasField("conversation"):
        return str(content.conversation)
    if content.HasField("extendedTextMessage"):
        return str(content.extendedTextMessage.text)
    for name in ("imageMessage", "videoMessage", "documentMessage"):
        if content.HasField(name):
            return str(getattr(content, name).caption)
    return ""


# ---- the content of a message ------------------------------------------------------------------


def content_fields(message: Any) -> dict[str, Any] | None:
    """The `IncomingMessage` content fields of a `Message` (unwrapped here); None when it carries none."""
    return _content_fields(unwrap_message(message))


def _content_fields(content: Any) -> dict[str, Any] | None:
    """The IncomingMessage fields of one (unwrapped) message; None when it carries no content."""
    fields = _kind_fields(content)
    if fields is None:
        return None
    context = _context_info(content)
    if context is not None:
        fields["quoted_message_id"] = context.stanzaID or None
        fields["mentions"] = tuple(context.mentionedJID)
        fields["forwarded"] = bool(context.isForwarded)
    return fields


def _place(latitude: float, longitude: float, name: str | None = None, address: str | None = None) -> Location | None:
    """The location a sender gave, or None when a coordinate is NaN or infinite: no JSON can carry those,
    and one in a history page or webhook would make it unreadable for every client."""
    if not (math.isfinite(latitude) and math.isfinite(longitude)):
        return None
    return Location(latitude, longitude, name, address)


def _kind_fields(content: Any) -> dict[str, Any] | None:
    if content.HasField("conversation"):
        return {"wa_type": "conversation", "message_type": "text", "body": content.conversation}
    if content.HasField("extendedTextMessage"):
        return {"wa_type": "extendedTextMessage", "message_type": "text", "body": content.extendedTextMessage.text}
    for name, kind in MEDIA_FIELDS.items():
        if content.HasField(name):
            return _media_fields(name, kind, getattr(content, name))
    if content.HasField("locationMessage"):
        place = content.locationMessage
        location = _place(place.degreesLatitude, place.degreesLongitude, place.name or None, place.address or None)
        return {"wa_type": "locationMessage", "message_type": "location", "location": location}
    if content.HasField("liveLocationMessage"):
        live = content.liveLocationMessage
        location = _place(live.degreesLatitude, live.degreesLongitude, live.caption or None)
        return {
            "wa_type": "liveLocationMessage",
            "message_type": "location",
            "location": location,
            "extra": {"live": True},
        }
    if content.HasField("contactMessage"):
        card = content.contactMessage
        return {"wa_type": "contactMessage", "message_type": "contact", "contacts": (_card(card),)}
    if content.HasField("contactsArrayMessage"):
        cards = tuple(_card(card) for card in content.contactsArrayMessage.contacts)
        return {"wa_type": "contactsArrayMessage", "message_type": "contact", "contacts": cards}
    for name in POLL_FIELDS:
        if content.HasField(name):
            return {"wa_type": POLL_TYPE, "message_type": "poll", "poll": _poll(getattr(content, name))}
    others = [fd.name for fd, _ in content.ListFields() if fd.name not in _HOUSEKEEPING_FIELDS]
    if not others:
        return None
    return {"wa_type": others[0], "message_type": "other", "extra": {"kind": others[0]}}


def _media_fields(name: str, kind: str, media: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"wa_type": name, "message_type": kind, "mime_type": media.mimetype or None}
    if kind in ("image", "video", "document"):
        fields["caption"] = media.caption or None
    if kind == "document":
        fields["file_name"] = media.fileName or None
    if kind == "audio" and media.PTT:
        fields["message_type"] = "voice"
        fields["ptt"] = True
    if kind in ("audio", "video") and media.seconds:
        fields["extra"] = {"seconds": media.seconds}
    return fields


def _card(contact: Any) -> ContactCard:
    """A `ContactCard` from a `ContactMessage`: the name it shows, the phone its vCard names."""
    return read_vcard(contact.vcard, display_name=contact.displayName or None)


def _poll(poll: Any) -> Poll:
    options = tuple(option.optionName for option in poll.options)
    # 0 means "as many as you like" to WhatsApp.
    selectable = poll.selectableOptionsCount or len(options)
    return Poll(question=poll.name, options=options, selectable_count=selectable)


def _context_info(content: Any) -> Any | None:
    """The `contextInfo` of the sub-message that carries it (replies, mentions, forwards), or None."""
    for descriptor, value in content.ListFields():
        message_type = descriptor.message_type
        if message_type is None or "contextInfo" not in message_type.fields_by_name:
            continue
        if value.HasField("contextInfo"):
            return value.contextInfo
    return None
