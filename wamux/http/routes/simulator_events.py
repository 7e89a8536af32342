"""The simulator's request bodies read into what the simulated network delivers (API-2 §9).

`incoming_event` turns a `POST .../incoming` body into the transport event WhatsApp would push:
a message of any kind (text, media, voice note, sticker, location, contacts, poll), or a
reaction, edit, revoke or poll vote aimed at an earlier message. Whether that message exists is
the core's question (it has the history), not the network's. `presence_event`, `group_event` and
`call_event` read the other routes that deliver something. Every bad field is a 400 naming it.
"""

from __future__ import annotations

import base64
import binascii
import math
import secrets
from typing import Any

from wamux.core.ports import (
    CallIn,
    ContactCard,
    EditIn,
    GroupInfo,
    GroupJoinedIn,
    GroupParticipant,
    GroupParticipantsIn,
    GroupUpdatedIn,
    IncomingMessage,
    Location,
    MediaPayload,
    Poll,
    PollVoteIn,
    PresenceIn,
    ReactionIn,
    RevokeIn,
)
from wamux.domain.errors import ValidationFailed
from wamux.domain.groups import MAX_GROUP_DESCRIPTION, MAX_PARTICIPANTS_PER_CALL, MAX_SUBJECT, group_jid
from wamux.domain.ids import random_message_id
from wamux.domain.phones import is_group, jid_number, to_jid
from wamux.http.bodies import name_field, text_field

MEDIA_KINDS = ("image", "video", "audio", "voice", "document", "sticker")
MESSAGE_KINDS = ("text", *MEDIA_KINDS, "location", "contact", "poll")
TARGETED_KINDS = ("reaction", "edit", "revoke", "poll_vote")
INCOMING_TYPES = (*MESSAGE_KINDS, *TARGETED_KINDS)
CHAT_STATES = ("typing", "recording", "paused")
PRESENCE_STATES = (*CHAT_STATES, "available", "unavailable")
MEDIA_PREFIXES = (("image/", "image"), ("video/", "video"), ("audio/", "audio"))
DEFAULT_MIME = {"voice": "audio/ogg; codecs=opus", "sticker": "image/webp"}
WA_TYPES = {
    "image": "imageMessage",
    "video": "videoMessage",
    "audio": "audioMessage",
    "voice": "audioMessage",
    "document": "documentMessage",
    "sticker": "stickerMessage",
    "location": "locationMessage",
    "poll": "pollCreationMessage",
}
MAX_MENTIONS = 100
MAX_CONTACTS = 20
POLL_OPTIONS = (2, 12)
GROUP_EVENT_ACTIONS = ("joined", "updated", "add", "remove", "promote", "demote")
MAX_GROUP_SIZE = 1024  # WhatsApp's limit of members in one group
# The fields of a group event, and the actions each belongs to.
GROUP_EVENT_FIELDS = {
    "subject": ("joined", "updated"),
    "description": ("updated",),
    "announce": ("updated",),
    "locked": ("updated",),
    "participants": ("joined", "add", "remove", "promote", "demote"),
}

Targeted = ReactionIn | EditIn | RevokeIn | PollVoteIn


def invalid(field: str, message: str, detail: str = "invalid") -> ValidationFailed:
    return ValidationFailed(message, details={field: detail})


def jid_field(value: Any, field: str) -> str:
    """A phone or JID as `to_jid` reads it; the 400 names `field`."""
    if not isinstance(value, str):
        raise invalid(field, f"{field} must be a phone number or WhatsApp JID")
    try:
        return to_jid(value)
    except ValidationFailed:
        raise invalid(field, f"{field} is not a valid phone number or WhatsApp JID") from None


def list_field(body: dict[str, Any], name: str, *, low: int, high: int) -> list[Any]:
    items = body.get(name)
    if not isinstance(items, list):
        raise invalid(name, f"{name} must be a list", "required" if items is None else "invalid")
    if not low <= len(items) <= high:
        raise invalid(name, f"{name} must have {low} to {high} items", "out of range")
    return items


def phone_field(value: Any, field: str) -> str:
    """A phone number (digits, or its `...@s.whatsapp.net` JID): not a group, not a LID."""
    jid = jid_field(value, field)
    if is_group(jid) or jid.endswith("@lid"):
        raise invalid(field, f"{field} must be a phone number")
    return jid


def bool_field(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise invalid(name, f"{name} must be true or false")
    return value


def _number(body: dict[str, Any], name: str, low: float, high: float) -> float:
    value = body.get(name)
    if value is None:
        raise invalid(name, f"{name} is required", "required")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise invalid(name, f"{name} must be a number")
    if not low <= value <= high:
        raise invalid(name, f"{name} must be between {low:g} and {high:g}", "out of range")
    return float(value)


def _chat(body: dict[str, Any], sender: str) -> str:
    group = body.get("group")
    if group is None:
        return sender
    jid = jid_field(group, "group")
    if not is_group(jid):
        raise invalid("group", "group must be a <id>@g.us JID")
    return jid


def _media(body: dict[str, Any], kind: str) -> tuple[str, MediaPayload | None]:
    """The media of the message and the kind it makes (`text` with media: by its MIME type, as before)."""
    raw = body.get("media")
    if raw is None:
        if kind in MEDIA_KINDS:
            raise invalid("media", f"a {kind} message needs media", "required")
        return kind, None
    if not isinstance(raw, dict) or not isinstance(raw.get("data"), str):
        raise invalid("media", "media must be an object with base64 data")
    if kind not in ("text", *MEDIA_KINDS):
        raise invalid("media", f"a {kind} message carries no media")
    try:
        data = base64.b64decode(raw["data"], validate=True)
    except (binascii.Error, ValueError):
        raise invalid("media.data", "media.data is not valid base64") from None
    if not isinstance(raw.get("sticker", False), bool):
        raise invalid("media.sticker", "media.sticker must be true or false")
    claimed = text_field(raw, "mimeType", required=False, max_len=100)
    file_name = text_field(raw, "fileName", required=False, max_len=200)
    mime = claimed or DEFAULT_MIME.get(kind, "application/octet-stream")
    by_mime = next((k for prefix, k in MEDIA_PREFIXES if mime.startswith(prefix)), "document")
    if kind == "text":
        kind = "sticker" if mime == "image/webp" and raw.get("sticker") is True else by_mime
    elif kind in ("image", "video", "audio", "voice") and by_mime != ("audio" if kind == "voice" else kind):
        raise invalid("media.mimeType", f"a {kind} message needs a {kind.replace('voice', 'audio')}/* MIME type")
    return kind, MediaPayload(data=data, mime_type=mime, file_name=file_name)


def _mentions(body: dict[str, Any]) -> tuple[str, ...]:
    if body.get("mentions") is None:
        return ()
    items = list_field(body, "mentions", low=0, high=MAX_MENTIONS)
    return tuple(dict.fromkeys(jid_field(m, f"mentions[{i}]") for i, m in enumerate(items)))


def _location(body: dict[str, Any]) -> Location:
    return Location(
        latitude=_number(body, "latitude", -90, 90),
        longitude=_number(body, "longitude", -180, 180),
        name=name_field(body, "name", required=False, max_len=200),
        address=text_field(body, "address", required=False, max_len=500),
    )


def _contacts(body: dict[str, Any]) -> tuple[ContactCard, ...]:
    cards = []
    for i, item in enumerate(list_field(body, "contacts", low=1, high=MAX_CONTACTS)):
        field = f"contacts[{i}]"
        if not isinstance(item, dict):
            raise invalid(field, f"{field} must be an object")
        try:
            name = name_field(item, "name", max_len=200)
            organization = name_field(item, "organization", required=False, max_len=200)
        except ValidationFailed as exc:
            raise invalid(field, f"{field}: {exc.message}") from None
        jid = phone_field(item.get("phone"), f"{field}.phone")
        assert name is not None
        cards.append(ContactCard(name=name, phone=jid_number(jid), organization=organization))
    return tuple(cards)


def _options(body: dict[str, Any], *, low: int, high: int) -> tuple[str, ...]:
    items = list_field(body, "options", low=low, high=high)
    if not all(isinstance(o, str) and o.strip() and len(o) <= 100 for o in items):
        raise invalid("options", "options must be non-empty strings of at most 100 characters")
    if len(set(items)) != len(items):
        raise invalid("options", "options must be distinct", "duplicates")
    return tuple(items)


def _poll(body: dict[str, Any]) -> Poll:
    question = text_field(body, "question", max_len=255)
    options = _options(body, low=POLL_OPTIONS[0], high=POLL_OPTIONS[1])
    count = body.get("selectableCount", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= len(options):
        raise invalid("selectableCount", f"selectableCount must be a whole number from 1 to {len(options)}")
    assert question is not None
    return Poll(question=question, options=options, selectable_count=count)


def _message(body: dict[str, Any], kind: str, chat: str, sender: str, now_s: int) -> IncomingMessage:
    kind, media = _media(body, kind)
    quoted = text_field(body, "quotedMessageId", required=False, max_len=100)
    mentions = _mentions(body)
    forwarded = bool_field(body, "forwarded")
    text = text_field(body, "body", required=kind == "text")
    location = _location(body) if kind == "location" else None
    contacts = _contacts(body) if kind == "contact" else ()
    poll = _poll(body) if kind == "poll" else None
    if kind == "text":
        wa_type = "extendedTextMessage" if quoted or mentions or forwarded else "conversation"
    elif kind == "contact":
        wa_type = "contactMessage" if len(contacts) == 1 else "contactsArrayMessage"
    else:
        wa_type = WA_TYPES[kind]
    return IncomingMessage(
        message_id=text_field(body, "messageId", required=False, max_len=100) or random_message_id(),
        chat_jid=chat,
        sender_jid=sender,
        message_type=kind,
        body=text if kind == "text" else None,
        caption=text if media is not None else None,
        push_name=name_field(body, "pushName", required=False, max_len=100),
        is_group=is_group(chat),
        timestamp=now_s,
        mime_type=media.mime_type if media else None,
        file_name=media.file_name if media else None,
        media=media,
        wa_type=wa_type,
        quoted_message_id=quoted,
        mentions=mentions,
        forwarded=forwarded,
        ptt=kind == "voice",
        location=location,
        contacts=contacts,
        poll=poll,
    )


def _targeted(body: dict[str, Any], kind: str, chat: str, sender: str, now_s: int) -> Targeted:
    target = text_field(body, "messageId", max_len=100)
    assert target is not None
    if kind == "reaction":
        emoji = body.get("emoji")
        if not isinstance(emoji, str) or len(emoji) > 32:
            raise invalid("emoji", 'emoji must be a string ("" removes the reaction)', "required")
        return ReactionIn(message_id=target, chat_jid=chat, sender_jid=sender, emoji=emoji, timestamp=now_s)
    if kind == "edit":
        text = text_field(body, "body")
        assert text is not None
        return EditIn(message_id=target, chat_jid=chat, sender_jid=sender, body=text, timestamp=now_s)
    if kind == "revoke":
        return RevokeIn(message_id=target, chat_jid=chat, sender_jid=sender, timestamp=now_s)
    selected = _options(body, low=0, high=POLL_OPTIONS[1])  # [] takes the vote back
    return PollVoteIn(
        poll_message_id=target, chat_jid=chat, sender_jid=sender, selected_options=selected, timestamp=now_s
    )


def incoming_event(body: dict[str, Any], now_s: int) -> IncomingMessage | Targeted:
    """What `POST .../incoming` delivers: a message, or a reaction/edit/revoke/vote on `messageId`."""
    kind = text_field(body, "type", required=False, max_len=20) or "text"
    if kind not in INCOMING_TYPES:
        raise invalid(
            "type", f"type must be one of {', '.join(INCOMING_TYPES)}", f"allowed: {', '.join(INCOMING_TYPES)}"
        )
    sender = jid_field(text_field(body, "from", max_len=60), "from")
    chat = _chat(body, sender)
    if kind in TARGETED_KINDS:
        # Checked like on any message, though a reaction, edit, revoke or vote carries neither.
        _mentions(body)
        text_field(body, "quotedMessageId", required=False, max_len=100)
        return _targeted(body, kind, chat, sender, now_s)
    return _message(body, kind, chat, sender, now_s)


def presence_event(body: dict[str, Any]) -> PresenceIn:
    """`{from, state, group?}`: typing/recording/paused in a chat, or a contact going available/unavailable."""
    sender = jid_field(text_field(body, "from", max_len=60), "from")
    state = text_field(body, "state", max_len=20)
    if state not in PRESENCE_STATES:
        raise invalid("state", f"state must be one of {', '.join(PRESENCE_STATES)}", "invalid")
    if state not in CHAT_STATES and body.get("group") is not None:
        raise invalid("group", f"{state} is a contact's state, not a chat's: leave out group")
    return PresenceIn(chat_jid=_chat(body, sender), sender_jid=sender, state=state)


def person_field(value: Any, field: str) -> str:
    """A person: a phone, a `...@s.whatsapp.net` JID or a `...@lid` id (not a group)."""
    jid = jid_field(value, field)
    if is_group(jid):
        raise invalid(field, f"{field} must be a person, not a group")
    return jid


def group_id_field(value: Any, field: str = "groupId") -> str:
    """`<digits>@g.us`, the `@g.us` optional, as the group routes take it."""
    if not isinstance(value, str):
        raise invalid(field, f"{field} is required", "required" if value is None else "invalid")
    try:
        return group_jid(value)
    except ValidationFailed:
        raise invalid(field, f"{field} must be <digits>@g.us") from None


def optional_bool(body: dict[str, Any], name: str) -> bool | None:
    return None if body.get(name) is None else bool_field(body, name)


def people_field(body: dict[str, Any], name: str, *, low: int, high: int) -> tuple[str, ...]:
    """A list of persons (phones or JIDs), each checked; one named twice counts once."""
    items = list_field(body, name, low=low, high=high)
    return tuple(dict.fromkeys(person_field(p, f"{name}[{i}]") for i, p in enumerate(items)))


def group_event(body: dict[str, Any]) -> GroupJoinedIn | GroupUpdatedIn | GroupParticipantsIn:
    """`{groupId, action, subject?, description?, announce?, locked?, participants?, by?}` from another member."""
    jid = group_id_field(body.get("groupId"))
    action = body.get("action")
    if action not in GROUP_EVENT_ACTIONS:
        allowed = ", ".join(GROUP_EVENT_ACTIONS)
        raise invalid("action", f"action must be one of {allowed}", "required" if action is None else "invalid")
    for name, actions in GROUP_EVENT_FIELDS.items():
        if body.get(name) is not None and action not in actions:
            raise invalid(name, f"{name} is not a field of {action}", f"not for {action}")
    by = person_field(body["by"], "by") if body.get("by") is not None else None
    subject = name_field(body, "subject", required=False, max_len=MAX_SUBJECT)
    if action == "joined":
        given = body.get("participants") is not None
        members = people_field(body, "participants", low=0, high=MAX_GROUP_SIZE) if given else ()
        info = GroupInfo(jid=jid, subject=subject or "", participants=tuple(GroupParticipant(p) for p in members))
        return GroupJoinedIn(group=info, by=by)
    if action == "updated":
        description = text_field(body, "description", required=False, max_len=MAX_GROUP_DESCRIPTION)
        announce, locked = optional_bool(body, "announce"), optional_bool(body, "locked")
        if subject is None and description is None and announce is None and locked is None:
            raise invalid("subject", "updated needs subject, description, announce or locked", "required")
        return GroupUpdatedIn(jid, subject, description, announce, locked, by)
    members = people_field(body, "participants", low=1, high=MAX_PARTICIPANTS_PER_CALL)
    return GroupParticipantsIn(group_jid=jid, action=action, participants=members, by=by)


def call_event(body: dict[str, Any], now_s: int) -> CallIn:
    """`{from, isVideo?, isGroup?, callId?}`: someone calls the account."""
    caller = person_field(text_field(body, "from", max_len=60), "from")
    call_id = text_field(body, "callId", required=False, max_len=64) or secrets.token_hex(16).upper()
    return CallIn(
        call_id=call_id,
        from_jid=caller,
        is_video=bool_field(body, "isVideo"),
        is_group=bool_field(body, "isGroup"),
        timestamp=now_s,
    )


def lid_field(value: Any, field: str) -> str | None:
    """A LID, `<digits>@lid` or just the digits; None when absent."""
    if value is None:
        return None
    text = value if isinstance(value, str) else ""
    jid = text if "@" in text else f"{text}@lid"
    if not text or not jid.endswith("@lid") or jid_field(jid, field) != jid:
        raise invalid(field, f"{field} must be a LID (<digits>@lid)")
    return jid
