"""Chat history and the chat list: one row per message, one per chat (last message, unread count)."""

from __future__ import annotations

from typing import Any

from wamux.domain.clock import iso_ms
from wamux.domain.events import (
    MESSAGE_TYPES,
    ChatRead,
    InstanceDeleted,
    MessageFailed,
    MessageReceived,
    MessageSent,
    MessageStatusChanged,
    RecordedEvent,
)
from wamux.projections.payloads import media_url
from wamux.projections.ports import Collection, ReadSession

MESSAGES = Collection(
    "messages",
    {
        "instanceId": "text",
        "remoteJid": "text",
        "messageId": "text",
        "createdMs": "int",
        "status": "text",
        "idempotencyKey": "text",
        "position": "int",
    },
    indexes=(("instanceId", "remoteJid", "createdMs"), ("instanceId", "messageId"), ("instanceId", "idempotencyKey")),
)
CHATS = Collection(
    "chats",
    {"instanceId": "text", "updatedMs": "int", "unreadCount": "int"},
    indexes=(("instanceId", "updatedMs"),),
)

# A status only moves forward: a late "delivered" never undoes a "read".
STATUS_RANK = {"pending": 0, "failed": 0, "sent": 1, "received": 1, "delivered": 2, "read": 3, "played": 3}


def message_key(instance_id: str, message_id: str) -> str:
    return f"{instance_id}:{message_id}"


def chat_key(instance_id: str, jid: str) -> str:
    return f"{instance_id}:{jid}"


class MessagesProjection:
    name: str = "messages"
    collections: tuple[Collection, ...] = (MESSAGES, CHATS)
    topics: tuple[str, ...] = (*MESSAGE_TYPES, InstanceDeleted.type)

    def apply(self, session: ReadSession, recorded: RecordedEvent) -> None:
        e = recorded.event
        ts = recorded.timestamp_ms
        if isinstance(e, MessageSent | MessageFailed | MessageReceived):
            doc = self._message_doc(recorded)
            session.put(MESSAGES, doc["id"], doc)
            self._touch_chat(session, doc, incoming=isinstance(e, MessageReceived) and not e.from_me)
        elif isinstance(e, MessageStatusChanged):
            key = message_key(e.instance_id, e.message_id)
            row = session.get(MESSAGES, key)
            if row is None or STATUS_RANK.get(e.status, 0) <= STATUS_RANK.get(row["status"], 0):
                return
            doc = row
            doc["status"] = e.status
            doc["statusUpdatedAt"] = doc["updatedAt"] = iso_ms(ts)
            session.put(MESSAGES, key, doc)
            chat = session.get(CHATS, chat_key(e.instance_id, doc["remoteJid"]))
            if chat is not None and chat["lastMessage"]["messageId"] == e.message_id:
                chat["lastMessage"] = _public(doc)
                session.put(CHATS, chat["key"], chat)
        elif isinstance(e, ChatRead):
            chat = session.get(CHATS, chat_key(e.instance_id, e.chat_jid))
            if chat is not None:
                chat["unreadCount"] = 0
                session.put(CHATS, chat["key"], chat)

    @staticmethod
    def _message_doc(recorded: RecordedEvent) -> dict[str, Any]:
        e = recorded.event
        ts = recorded.timestamp_ms
        base: dict[str, Any] = {
            "instanceId": e.instance_id,  # type: ignore[attr-defined]
            "messageId": e.message_id,  # type: ignore[attr-defined]
            "createdAt": iso_ms(ts),
            "updatedAt": iso_ms(ts),
            "statusUpdatedAt": iso_ms(ts),
            "createdMs": ts,
            "position": recorded.position,
            "hasMedia": False,
            "mediaUrl": None,
            "mediaPath": None,
            "caption": None,
            "mimeType": None,
            "fileName": None,
            "mediaSize": 0,
            "idempotencyKey": None,
            "pushName": None,
        }
        if isinstance(e, MessageReceived):
            has_media = e.media_path is not None
            base.update(
                remoteJid=e.chat_jid,
                sender=e.sender_jid,
                fromMe=e.from_me,
                messageType=e.message_type,
                content=e.body if e.body is not None else e.caption,
                status="received",
                hasMedia=has_media,
                mediaUrl=media_url(e.instance_id, e.message_id) if has_media else None,
                mediaPath=e.media_path,
                caption=e.caption,
                mimeType=e.mime_type,
                fileName=e.file_name,
                mediaSize=e.media_size,
                pushName=e.push_name,
                metadata={"timestamp": e.sent_at or ts // 1000, "pushName": e.push_name, **e.extra},
            )
        elif isinstance(e, MessageSent):
            has_media = e.media_path is not None
            base.update(
                remoteJid=e.to,
                sender=None,
                fromMe=True,
                messageType=e.message_type,
                content=e.body if e.body is not None else e.caption,
                status="sent",
                hasMedia=has_media or e.media_size > 0,
                mediaUrl=media_url(e.instance_id, e.message_id) if has_media else None,
                mediaPath=e.media_path,
                caption=e.caption,
                mimeType=e.mime_type,
                fileName=e.file_name,
                mediaSize=e.media_size,
                idempotencyKey=e.idempotency_key,
                metadata={"timestamp": ts // 1000},
            )
        else:
            assert isinstance(e, MessageFailed)
            base.update(
                remoteJid=e.to,
                sender=None,
                fromMe=True,
                messageType=e.message_type,
                content=e.body,
                status="failed",
                metadata={"timestamp": ts // 1000, "reason": e.reason},
            )
        base["id"] = message_key(base["instanceId"], base["messageId"])
        return base

    @staticmethod
    def _touch_chat(session: ReadSession, doc: dict[str, Any], *, incoming: bool) -> None:
        key = chat_key(doc["instanceId"], doc["remoteJid"])
        chat = session.get(CHATS, key) or {
            "key": key,
            "instanceId": doc["instanceId"],
            "chatId": doc["remoteJid"],
            "remoteJid": doc["remoteJid"],
            "isGroup": doc["remoteJid"].endswith("@g.us"),
            "name": None,
            "unreadCount": 0,
            "messageCount": 0,
        }
        chat["lastMessage"] = _public(doc)
        chat["updatedMs"] = doc["createdMs"]
        chat["updatedAt"] = doc["createdAt"]
        chat["messageCount"] += 1
        if incoming:
            chat["unreadCount"] += 1
            if doc.get("pushName") and not chat["isGroup"]:
                chat["name"] = doc["pushName"]
        session.put(CHATS, key, chat)


def _public(doc: dict[str, Any]) -> dict[str, Any]:
    """A message row as the API shows it (internal bookkeeping fields removed)."""
    return {k: v for k, v in doc.items() if k not in ("mediaPath", "createdMs", "position", "idempotencyKey")}


public_message = _public
