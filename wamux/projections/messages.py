"""Chat history and the chat list: one row per message, one per chat (last message, unread count).

A message row also folds in what later happens to that message: reactions (one per sender,
the latest wins), an edit (the new body), a revoke (body, media and content no longer served)
and poll votes (each voter's current selection, counted per option). An event that names a
message the row set does not know is ignored, as WhatsApp ignores it.

One chat per person (API-2 §5): a message names its chat and sender by phone JID when the instance
knew it, with the LID beside it (`chatLid`, `fromLid`). What arrived from a LID before its phone was
known is moved when `identity_learned` pairs them: the LID's rows join the phone's chat (the log keeps
what was said), the two chat rows become one under the phone with `lid`, unread counts and message
counts added. `chat_aliases` keeps each learned LID's phone, so a later event that still names the LID
(and a query that names it) finds the one chat.

History (`history_sync`, API-2 §6) adds rows with `history: true`, dated when WhatsApp stamped them, so they
sort among live messages by time. A message already in history stays as it is (the first row wins: a live
one, or the same message of an earlier sync); history rows count in their chat but never as unread, and a
chat's last message changes only for a history message newer than it. One batch costs one `get_many`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wamux.domain.clock import iso_ms
from wamux.domain.events import (
    MESSAGE_TYPES,
    ChatRead,
    HistorySynced,
    IdentityLearned,
    InstanceDeleted,
    MessageFailed,
    MessageReceived,
    MessageSent,
    MessageStatusChanged,
    RecordedEvent,
    history_message,
)
from wamux.domain.phones import is_lid, is_phone_jid, person_jid
from wamux.projections.message_changes import Change, carry_over, fold_change, poll_view, rich_defaults
from wamux.projections.payloads import media_url
from wamux.projections.ports import Collection, Query, ReadSession

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
        "content": "text",  # searched (`?search=`), with the caption
        "caption": "text",
    },
    indexes=(("instanceId", "remoteJid", "createdMs"), ("instanceId", "messageId"), ("instanceId", "idempotencyKey")),
)
CHATS = Collection(
    "chats",
    {"instanceId": "text", "updatedMs": "int", "unreadCount": "int"},
    indexes=(("instanceId", "updatedMs"),),
)
CHAT_ALIASES = Collection("chat_aliases", {"instanceId": "text"}, indexes=(("instanceId",),))  # LID -> phone
Get = Callable[[Collection, str], dict[str, Any] | None]  # a session's or a store's `get`

# A status only moves forward: a late "delivered" never undoes a "read".
STATUS_RANK = {"pending": 0, "failed": 0, "sent": 1, "received": 1, "delivered": 2, "read": 3, "played": 3}

# Bookkeeping a row keeps but the API does not show. `pollVoters` is {voter: [option texts]}: each
# voter's current selection, from which `poll.votes` is counted. A stored reaction also keeps `fromMe`
# (so ours replace ours whatever device sent them) and `fromLid` (so one sender under their phone and
# their LID is one); the API shows each as `{from, emoji}`.
HIDDEN_FIELDS = ("mediaPath", "createdMs", "position", "idempotencyKey", "pollVoters")

# Who a row names besides `remoteJid` and `sender`: the chat's LID and the sender's (null when none is known).
IDENTITY_DEFAULTS: dict[str, Any] = {"chatLid": None, "fromLid": None}


def message_key(instance_id: str, message_id: str) -> str:
    return f"{instance_id}:{message_id}"


def chat_key(instance_id: str, jid: str) -> str:
    return f"{instance_id}:{jid}"


def chat_of(get: Get, instance_id: str, jid: str) -> tuple[str, str | None]:
    """(the JID a person's chat is kept under, its LID): a LID whose phone was learned names the phone's chat."""
    if not is_lid(jid):
        return jid, None
    alias = get(CHAT_ALIASES, chat_key(instance_id, person_jid(jid)))
    return (str(alias["phoneJid"]), person_jid(jid)) if alias is not None else (jid, jid)


class MessagesProjection:
    name: str = "messages"
    collections: tuple[Collection, ...] = (MESSAGES, CHATS, CHAT_ALIASES)
    topics: tuple[str, ...] = (*MESSAGE_TYPES, HistorySynced.type, IdentityLearned.type, InstanceDeleted.type)

    def apply(self, session: ReadSession, recorded: RecordedEvent) -> None:
        e = recorded.event
        ts = recorded.timestamp_ms
        if isinstance(e, MessageSent | MessageFailed | MessageReceived):
            doc = self._message_doc(e, ts, recorded.position)
            _by_phone(session.get, doc)
            earlier = session.get(MESSAGES, doc["id"])
            if earlier is not None:
                carry_over(earlier, doc)
            session.put(MESSAGES, doc["id"], doc)
            incoming = isinstance(e, MessageReceived) and not e.from_me
            self._touch_chat(session, doc, incoming=incoming, counted=earlier is not None)
        elif isinstance(e, MessageStatusChanged):
            key = message_key(e.instance_id, e.message_id)
            row = session.get(MESSAGES, key)
            if row is None or STATUS_RANK.get(e.status, 0) <= STATUS_RANK.get(row["status"], 0):
                return
            doc = row
            doc["status"] = e.status
            doc["statusUpdatedAt"] = doc["updatedAt"] = iso_ms(ts)
            session.put(MESSAGES, key, doc)
            _refresh_last_message(session, doc)
        elif isinstance(e, ChatRead):
            chat = session.get(CHATS, chat_key(e.instance_id, chat_of(session.get, e.instance_id, e.chat_jid)[0]))
            if chat is not None:
                chat["unreadCount"] = 0
                session.put(CHATS, chat["key"], chat)
        elif isinstance(e, Change):
            key = message_key(e.instance_id, e.message_id)
            row = session.get(MESSAGES, key)
            if row is None or row.get("revoked"):
                return  # unknown, or deleted for everyone: nothing more happens to it
            if not fold_change(row, e, iso_ms(ts)):
                return
            row["updatedAt"] = iso_ms(ts)
            session.put(MESSAGES, key, row)
            _refresh_last_message(session, row)
        elif isinstance(e, IdentityLearned):
            _one_chat(session, e.instance_id, person_jid(e.lid), person_jid(e.phone_jid))
        elif isinstance(e, HistorySynced):
            self._history(session, e, recorded)

    def _history(self, session: ReadSession, e: HistorySynced, recorded: RecordedEvent) -> None:
        """A batch of history: a row for each message history does not have yet (the first one wins)."""
        docs: dict[str, dict[str, Any]] = {}
        for message in e.messages:
            received = history_message(e.instance_id, message)
            doc = self._message_doc(
                received, (received.sent_at or 0) * 1000 or recorded.timestamp_ms, recorded.position
            )
            docs.setdefault(doc["id"], {**doc, "history": True})  # a message repeated in the sync: the first
        known = session.get_many(MESSAGES, list(docs))
        by_chat: dict[str, list[dict[str, Any]]] = {}
        for key, doc in docs.items():
            if key in known:
                continue
            _by_phone(session.get, doc)
            session.put(MESSAGES, key, doc)
            by_chat.setdefault(doc["remoteJid"], []).append(doc)
        for rows in by_chat.values():
            chat = _chat_row(session, rows[0])
            newest = max(rows, key=lambda doc: doc["createdMs"])
            chat["lid"] = chat.get("lid") or next((doc["chatLid"] for doc in rows if doc.get("chatLid")), None)
            chat["messageCount"] += len(rows)  # never unread: WhatsApp had them before this device
            if not chat["isGroup"] and not chat.get("name"):
                chat["name"] = next((d["pushName"] for d in rows if not d["fromMe"] and d.get("pushName")), None)
            if chat.get("lastMessage") is None or newest["createdMs"] > chat["updatedMs"]:
                chat.update(lastMessage=_public(newest), updatedMs=newest["createdMs"], updatedAt=newest["createdAt"])
            session.put(CHATS, chat["key"], chat)

    @staticmethod
    def _message_doc(e: MessageSent | MessageFailed | MessageReceived, ts: int, position: int) -> dict[str, Any]:
        """A message's row, first recorded at `ts` (ms) and `position` of the log."""
        at = iso_ms(ts)
        base: dict[str, Any] = {
            "instanceId": e.instance_id,
            "messageId": e.message_id,
            "createdAt": at,
            "updatedAt": at,
            "statusUpdatedAt": at,
            "createdMs": ts,
            "position": position,
            "hasMedia": False,
            "mediaUrl": None,
            "mediaPath": None,
            "caption": None,
            "mimeType": None,
            "fileName": None,
            "mediaSize": 0,
            "idempotencyKey": None,
            "pushName": None,
            **rich_defaults(),
            "pollVoters": {},
            **IDENTITY_DEFAULTS,
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
                **_rich_fields(e),
                chatLid=e.chat_lid,
                fromLid=e.from_lid,
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
                **_rich_fields(e),
                chatLid=e.to_lid,
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
                chatLid=e.to_lid,
            )
        base["id"] = message_key(base["instanceId"], base["messageId"])
        return base

    @staticmethod
    def _touch_chat(session: ReadSession, doc: dict[str, Any], *, incoming: bool, counted: bool = False) -> None:
        """The chat of a new (or, `counted`, a recorded again) message: its last message, counts, name."""
        chat = _chat_row(session, doc)
        key = chat["key"]
        chat["lid"] = doc.get("chatLid") or chat.get("lid")
        chat["lastMessage"] = _public(doc)
        chat["updatedMs"] = doc["createdMs"]
        chat["updatedAt"] = doc["createdAt"]
        chat["messageCount"] += 0 if counted else 1  # e.g. a live message WhatsApp also had in a history sync
        if incoming:
            chat["unreadCount"] += 1
            if doc.get("pushName") and not chat["isGroup"]:
                chat["name"] = doc["pushName"]
        session.put(CHATS, key, chat)


def _chat_row(session: ReadSession, doc: dict[str, Any]) -> dict[str, Any]:
    """The chat a message row belongs to, as stored or new."""
    key = chat_key(doc["instanceId"], doc["remoteJid"])
    return session.get(CHATS, key) or {
        "key": key,
        "instanceId": doc["instanceId"],
        "chatId": doc["remoteJid"],
        "remoteJid": doc["remoteJid"],
        "isGroup": doc["remoteJid"].endswith("@g.us"),
        "name": None,
        "unreadCount": 0,
        "messageCount": 0,
    }


def _by_phone(get: Get, doc: dict[str, Any]) -> None:
    """A new row that still names a LID whose phone was learned (say, recorded while the read model lagged)
    names the phone, with the LID beside it."""
    jid, lid = chat_of(get, doc["instanceId"], doc["remoteJid"])
    if jid != doc["remoteJid"]:
        doc.update(remoteJid=jid, chatLid=lid)
    sender = doc.get("sender")
    if sender and is_lid(sender):
        shown, from_lid = chat_of(get, doc["instanceId"], sender)
        doc.update(sender=shown, fromLid=from_lid)


def _one_chat(session: ReadSession, instance_id: str, lid: str, phone: str) -> None:
    """`lid` and `phone` are one person: remember it, and make their two chats one, under the phone."""
    if not is_lid(lid) or not is_phone_jid(phone):
        return
    session.put(CHAT_ALIASES, chat_key(instance_id, lid), {"instanceId": instance_id, "lid": lid, "phoneJid": phone})
    by_lid = session.get(CHATS, chat_key(instance_id, lid))
    by_phone = session.get(CHATS, chat_key(instance_id, phone))
    if by_lid is None:
        if by_phone is not None and by_phone.get("lid") != lid:
            session.put(CHATS, by_phone["key"], {**by_phone, "lid": lid})
        return
    moved: dict[str, dict[str, Any]] = {}
    for row in session.find(MESSAGES, Query(where={"instanceId": instance_id, "remoteJid": lid})):
        row.update(remoteJid=phone, chatLid=lid)
        if row.get("sender") == lid:
            row.update(sender=phone, fromLid=lid)
        session.put(MESSAGES, row["id"], row)
        moved[row["messageId"]] = row
    later = by_lid if by_phone is None or by_lid["updatedMs"] > by_phone["updatedMs"] else by_phone
    last = later.get("lastMessage") or {}
    merged = {
        **(by_phone or by_lid),
        "key": chat_key(instance_id, phone),
        "chatId": phone,
        "remoteJid": phone,
        "lid": lid,
        "name": (by_phone or {}).get("name") or by_lid.get("name"),
        "unreadCount": int(by_lid.get("unreadCount") or 0) + int((by_phone or {}).get("unreadCount") or 0),
        "messageCount": int(by_lid.get("messageCount") or 0) + int((by_phone or {}).get("messageCount") or 0),
        "updatedMs": later["updatedMs"],
        "updatedAt": later["updatedAt"],
        "lastMessage": _public(moved[last["messageId"]]) if last.get("messageId") in moved else last or None,
    }
    session.delete(CHATS, by_lid["key"])
    session.put(CHATS, merged["key"], merged)


def _rich_fields(e: MessageSent | MessageReceived) -> dict[str, Any]:
    """Quote, mentions, forward, voice note, location, contact cards and poll of a new message."""
    return {
        "quotedMessageId": e.quoted_message_id,
        "mentions": list(e.mentions),
        "forwarded": e.forwarded,
        "ptt": e.ptt or e.message_type == "voice",
        "location": dict(e.location) if e.location is not None else None,
        "contacts": [dict(card) for card in e.contacts],
        "poll": poll_view(e.poll, {}),
    }


def _refresh_last_message(session: ReadSession, doc: dict[str, Any]) -> None:
    """When the changed message is its chat's last one, the chat list shows the change too."""
    chat = session.get(CHATS, chat_key(doc["instanceId"], doc["remoteJid"]))
    if chat is not None and (chat.get("lastMessage") or {}).get("messageId") == doc["messageId"]:
        chat["lastMessage"] = _public(doc)
        session.put(CHATS, chat["key"], chat)


def _public(doc: dict[str, Any]) -> dict[str, Any]:
    """A message row as the API shows it: bookkeeping removed, the fields of every kind present."""
    out = {k: v for k, v in doc.items() if k not in HIDDEN_FIELDS}
    for name, value in {**rich_defaults(), **IDENTITY_DEFAULTS, "history": False}.items():
        out.setdefault(name, value)
    out["reactions"] = [{"from": r.get("from"), "emoji": r.get("emoji")} for r in out["reactions"] or []]
    if isinstance(out["poll"], dict) and "votes" not in out["poll"]:
        out["poll"] = poll_view(out["poll"], {})
    return out


public_message = _public
