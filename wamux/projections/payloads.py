"""The public shape of each event: one function used by `/events`, the SSE stream and webhooks.

The contract's webhook table names the fields; `/events` carries the same `data` plus a few
conveniences (remoteJid, fromMe, status, metadata) so the customer's polling client reads
`message["from"]` and `message["body"]` exactly as from a webhook.

Every field that names a person has its LID beside it (API-2 §5): `from` + `fromLid`, `to` + `toLid`,
`chatId` + `chatLid`. The person field holds the phone JID when the instance knows it, else the LID;
the LID field holds the LID (the same LID when only the LID is known), or null when no LID is known.
"""

from __future__ import annotations

from typing import Any

from wamux.domain.clock import iso_ms
from wamux.domain.events import (
    CallReceived,
    Connected,
    Disconnected,
    GroupJoined,
    GroupParticipantsChanged,
    GroupUpdated,
    HistorySynced,
    LimitExceeded,
    LoggedOut,
    MessageEdited,
    MessageFailed,
    MessageReaction,
    MessageReceived,
    MessageRevoked,
    MessageSent,
    MessageStatusChanged,
    PollVoted,
    PresenceUpdated,
    QrReceived,
    RecordedEvent,
    WebhookUpdated,
)
from wamux.domain.phones import is_lid, jid_number

# Our message kinds -> WhatsApp's message type names (what the peers put in `type`).
WA_TYPES = {
    "text": "conversation",
    "image": "imageMessage",
    "video": "videoMessage",
    "audio": "audioMessage",
    "voice": "audioMessage",  # with `ptt: true`
    "document": "documentMessage",
    "sticker": "stickerMessage",
    "location": "locationMessage",
    "contact": "contactMessage",  # contactsArrayMessage for more than one card
    "poll": "pollCreationMessage",
    "other": "unknown",
}


def media_url(instance_id: str, message_id: str) -> str:
    return f"/api/instances/{instance_id}/messages/{message_id}/media"


def wa_type(e: MessageSent | MessageReceived | MessageFailed) -> str:
    """WhatsApp's name of a message's content: the one the wire gave, else the one our kind is sent as."""
    given = getattr(e, "wa_type", None)
    if given:
        return str(given)
    if isinstance(e, MessageSent | MessageReceived):
        if e.message_type == "text" and (e.quoted_message_id or e.mentions or e.forwarded):
            return "extendedTextMessage"  # a text with context (reply, mentions, forward)
        if e.message_type == "contact" and len(e.contacts) > 1:
            return "contactsArrayMessage"
    return WA_TYPES.get(e.message_type, "unknown")


def rich_data(e: MessageSent | MessageReceived) -> dict[str, Any]:
    """What a message of a richer kind carries (API-2 §3); the defaults on a plain message."""
    return {
        "quotedMessageId": e.quoted_message_id,
        "mentions": list(e.mentions),
        "forwarded": e.forwarded,
        "ptt": e.ptt or e.message_type == "voice",
        "location": dict(e.location) if e.location is not None else None,
        "contacts": [dict(card) for card in e.contacts],
        "poll": dict(e.poll) if e.poll is not None else None,
    }


def event_data(recorded: RecordedEvent) -> dict[str, Any]:
    """The `data` object of an event as clients see it."""
    e = recorded.event
    seconds = recorded.timestamp_ms // 1000
    if isinstance(e, MessageReceived):
        has_media = e.media_path is not None
        sent_at = e.sent_at or seconds
        return {
            "instanceId": e.instance_id,
            "messageId": e.message_id,
            "from": e.sender_jid,
            "fromLid": e.from_lid,
            "remoteJid": e.chat_jid,
            "chatId": e.chat_jid,
            "chatLid": e.chat_lid,
            "fromMe": e.from_me,
            "isGroup": e.is_group,
            "body": e.body if e.body is not None else e.caption,
            "caption": e.caption,
            "type": wa_type(e),
            "messageType": e.message_type,
            "timestamp": sent_at,
            "hasMedia": has_media,
            "mediaUrl": media_url(e.instance_id, e.message_id) if has_media else None,
            "mimeType": e.mime_type,
            "fileName": e.file_name,
            "pushName": e.push_name,
            "status": "received",
            "metadata": {"pushName": e.push_name, "timestamp": sent_at, **e.extra},
            **rich_data(e),
        }
    if isinstance(e, MessageSent):
        return {
            "instanceId": e.instance_id,
            "messageId": e.message_id,
            "to": e.to,
            "toLid": e.to_lid,
            "remoteJid": e.to,
            "fromMe": True,
            "body": e.body if e.body is not None else e.caption,
            "caption": e.caption,
            "type": wa_type(e),
            "messageType": e.message_type,
            "timestamp": seconds,
            "hasMedia": e.media_size > 0,
            "mimeType": e.mime_type,
            "fileName": e.file_name,
            "status": "sent",
            "metadata": {"timestamp": seconds},
            **rich_data(e),
        }
    if isinstance(e, MessageStatusChanged):
        return {
            "instanceId": e.instance_id,
            "messageId": e.message_id,
            "status": e.status,
            "from": e.chat_jid,
            "fromLid": e.chat_lid,
            "remoteJid": e.chat_jid,
            "fromMe": e.from_me,
        }
    if isinstance(e, MessageFailed):
        return {
            "instanceId": e.instance_id,
            "messageId": e.message_id,
            "to": e.to,
            "toLid": e.to_lid,
            "type": wa_type(e),
            "reason": e.reason,
            "status": "failed",
        }
    if isinstance(e, MessageReaction):
        return {**_about_message(e), "fromMe": e.from_me, "emoji": e.emoji}
    if isinstance(e, MessageEdited):
        return {**_about_message(e), "fromMe": e.from_me, "body": e.body}
    if isinstance(e, MessageRevoked):
        return {**_about_message(e), "fromMe": e.from_me}
    if isinstance(e, PollVoted):
        return {**_about_message(e), "selectedOptions": list(e.selected_options)}
    if isinstance(e, PresenceUpdated):
        return {"instanceId": e.instance_id, **_in_chat(e), "state": e.state}
    if isinstance(e, GroupJoined | GroupUpdated | GroupParticipantsChanged | CallReceived):
        return account_data(e)
    if isinstance(e, HistorySynced):  # counts only: the messages are in history, never in a payload
        return {"instanceId": e.instance_id, "messages": len(e.messages), "chats": e.chats, "progress": e.progress}
    if isinstance(e, Connected):
        phone = jid_number(e.jid) if e.jid else None  # digits, as on the instance; the JID beside it
        return {"instanceId": e.instance_id, "phone": phone, "jid": e.jid, "pushName": e.push_name}
    if isinstance(e, Disconnected):
        return {"instanceId": e.instance_id, "reason": e.reason, "willReconnect": e.will_reconnect}
    if isinstance(e, LoggedOut):
        return {"instanceId": e.instance_id, "reason": e.reason}
    if isinstance(e, QrReceived):
        return {"instanceId": e.instance_id, "qrCode": e.qr_code, "attempt": e.attempt}
    if isinstance(e, LimitExceeded):
        return {
            "instanceId": e.instance_id,
            "exceededLimits": e.exceeded_limits,
            "usage": e.usage,
            "limits": e.limits,
        }
    if isinstance(e, WebhookUpdated):
        return {"instanceId": e.instance_id, "timestamp": iso_ms(recorded.timestamp_ms), "changed": e.changed}
    return {"instanceId": recorded.stream_id, **e.payload()}


def account_data(e: GroupJoined | GroupUpdated | GroupParticipantsChanged | CallReceived) -> dict[str, Any]:
    """Group and call events (API-2 §3, §4); `group_updated` names only the fields that changed."""
    if isinstance(e, GroupJoined):
        return {"instanceId": e.instance_id, "groupId": e.group_id, "subject": e.subject, "by": e.by}
    if isinstance(e, GroupUpdated):
        changed = {"subject": e.subject, "description": e.description, "announce": e.announce, "locked": e.locked}
        return {
            "instanceId": e.instance_id,
            "groupId": e.group_id,
            **{k: v for k, v in changed.items() if v is not None},
            "by": e.by,
        }
    if isinstance(e, GroupParticipantsChanged):
        return {
            "instanceId": e.instance_id,
            "groupId": e.group_id,
            "action": e.action,
            "participants": list(e.participants),
            "by": e.by,
        }
    return {
        "instanceId": e.instance_id,
        "callId": e.call_id,
        "from": e.from_jid,
        "fromLid": e.from_lid or (e.from_jid if is_lid(e.from_jid) else None),
        "isVideo": e.is_video,
        "isGroup": e.is_group,
        "rejected": e.rejected,
    }


def _about_message(e: MessageReaction | MessageEdited | MessageRevoked | PollVoted) -> dict[str, Any]:
    """The fields every event about an earlier message starts with (`messageId` is that message)."""
    return {"instanceId": e.instance_id, "messageId": e.message_id, **_in_chat(e)}


def _in_chat(e: MessageReaction | MessageEdited | MessageRevoked | PollVoted | PresenceUpdated) -> dict[str, Any]:
    """Who did it in which chat, each with their LID."""
    return {
        "chatId": e.chat_jid,
        "chatLid": e.chat_lid,
        "from": e.sender_jid,
        "fromLid": e.from_lid,
    }


def event_json(recorded: RecordedEvent) -> dict[str, Any]:
    """`{"type", "timestamp", "data"}` plus the event's store position as `id`."""
    return {
        "id": str(recorded.position),
        "type": recorded.type,
        "timestamp": iso_ms(recorded.timestamp_ms),
        "data": event_data(recorded),
    }
