"""Chat history and the chat list: one row per message, one per chat (last message, unread count).

A message row also folds in what later happens to that message: reactions (one per sender,
the latest wins), an edit (the new body), a revoke (body, media and content no longer served)
and poll votes (each voter's current selection, counted per option). An event that names a
message the row set does not know is ignored, as WhatsApp ignores it.
"""

from __future__ import annotations

from typing import Any

from wamux.domain.clock import iso_ms
from wamux.domain.events import (
    MESSAGE_TYPES,
    ChatRead,
    InstanceDeleted,
    MessageEdited,
    MessageFailed,
    MessageReaction,
    MessageReceived,
    MessageRevoked,
    MessageSent,
    MessageStatusChanged,
    PollVoted,
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

# Bookkeeping a row keeps but the API does not show. `pollVoters` is {voter: [option texts]}: each
# voter's current selection, from which `poll.votes` is counted. A stored reaction also keeps `fromMe`
# (so ours replace ours whatever device sent them); the API shows each as `{from, emoji}`.
HIDDEN_FIELDS = ("mediaPath", "createdMs", "position", "idempotencyKey", "pollVoters")

# What an event that refers to an earlier message changes in its row.
Change = MessageReaction | MessageEdited | MessageRevoked | PollVoted


def rich_defaults() -> dict[str, Any]:
    """The fields of the richer kinds, as a plain message (and a row built before they existed) shows them."""
    return {
        "quotedMessageId": None,
        "mentions": [],
        "forwarded": False,
        "ptt": False,
        "location": None,
        "contacts": [],
        "poll": None,
        "reactions": [],
        "edited": False,
        "editedAt": None,
        "revoked": False,
        "revokedAt": None,
    }


def message_key(instance_id: str, message_id: str) -> str:
    return f"{instance_id}:{message_id}"


def chat_key(instance_id: str, jid: str) -> str:
    return f"{instance_id}:{jid}"


def person(jid: str) -> str:
    """A JID without its device part (`7900:12@s.whatsapp.net` -> `7900@s.whatsapp.net`): one sender, any device."""
    user, at, server = jid.partition("@")
    return user.split(":", 1)[0] + at + server


class MessagesProjection:
    name: str = "messages"
    collections: tuple[Collection, ...] = (MESSAGES, CHATS)
    topics: tuple[str, ...] = (*MESSAGE_TYPES, InstanceDeleted.type)

    def apply(self, session: ReadSession, recorded: RecordedEvent) -> None:
        e = recorded.event
        ts = recorded.timestamp_ms
        if isinstance(e, MessageSent | MessageFailed | MessageReceived):
            doc = self._message_doc(recorded)
            earlier = session.get(MESSAGES, doc["id"])
            if earlier is not None:
                _carry_over(earlier, doc)
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
            _refresh_last_message(session, doc)
        elif isinstance(e, ChatRead):
            chat = session.get(CHATS, chat_key(e.instance_id, e.chat_jid))
            if chat is not None:
                chat["unreadCount"] = 0
                session.put(CHATS, chat["key"], chat)
        elif isinstance(e, Change):
            key = message_key(e.instance_id, e.message_id)
            row = session.get(MESSAGES, key)
            if row is None or row.get("revoked"):
                return  # unknown, or deleted for everyone: nothing more happens to it
            if not _change(row, e, iso_ms(ts)):
                return
            row["updatedAt"] = iso_ms(ts)
            session.put(MESSAGES, key, row)
            _refresh_last_message(session, row)

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
            **rich_defaults(),
            "pollVoters": {},
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


def _rich_fields(e: MessageSent | MessageReceived) -> dict[str, Any]:
    """Quote, mentions, forward, voice note, location, contact cards and poll of a new message."""
    return {
        "quotedMessageId": e.quoted_message_id,
        "mentions": list(e.mentions),
        "forwarded": e.forwarded,
        "ptt": e.ptt or e.message_type == "voice",
        "location": dict(e.location) if e.location is not None else None,
        "contacts": [dict(card) for card in e.contacts],
        "poll": _poll(e.poll, {}),
    }


def _poll(poll: dict[str, Any] | None, voters: dict[str, list[str]]) -> dict[str, Any] | None:
    """The poll as history shows it: question, options, selectableCount and `votes: {option: count}`."""
    if poll is None:
        return None
    options = [str(o) for o in poll.get("options") or []]
    votes = dict.fromkeys(options, 0)
    for selection in voters.values():
        for option in selection:
            if option in votes:
                votes[option] += 1
    return {
        **{k: v for k, v in poll.items() if k != "votes"},
        "options": options,
        "selectableCount": int(poll["selectableCount"]) if poll.get("selectableCount") is not None else 1,
        "votes": votes,
    }


def _change(row: dict[str, Any], e: Change, at: str) -> bool:
    """Fold a reaction, edit, revoke or vote into the message's row; False when nothing changed."""
    for name, value in rich_defaults().items():
        row.setdefault(name, value)  # a row built before these fields existed
    if isinstance(e, MessageReaction):
        return _react(row, e)
    if isinstance(e, MessageEdited):
        row["content"] = e.body
        if row.get("messageType") != "text" and row.get("caption") is not None:
            row["caption"] = e.body  # an edited media caption
        row["edited"] = True
        row["editedAt"] = at
        return True
    if isinstance(e, MessageRevoked):
        _revoke(row, at)
        return True
    return _vote(row, e)


def _react(row: dict[str, Any], e: MessageReaction) -> bool:
    """One reaction per sender (ours: every reaction we make, from any device); `""` removes it."""
    who = person(e.sender_jid)
    reactions: list[dict[str, Any]] = list(row.get("reactions") or [])

    def same_sender(r: dict[str, Any]) -> bool:
        return bool(r.get("fromMe")) if e.from_me else not r.get("fromMe") and person(str(r.get("from"))) == who

    same = next((i for i, r in enumerate(reactions) if same_sender(r)), None)
    if not e.emoji:
        if same is None:
            return False
        del reactions[same]
    else:
        entry = {"from": e.sender_jid, "emoji": e.emoji, "fromMe": e.from_me}
        if same is None:
            reactions.append(entry)
        else:
            reactions[same] = entry
    row["reactions"] = reactions
    return True


def _vote(row: dict[str, Any], e: PollVoted) -> bool:
    """The voter's whole current selection replaces the one before; `votes` is counted again."""
    poll = row.get("poll")
    if not poll:
        return False  # a vote on something that is not a poll
    voter = person(e.sender_jid) or ("me" if e.from_me else "")
    voters: dict[str, list[str]] = dict(row.get("pollVoters") or {})
    selected = [o for o in dict.fromkeys(e.selected_options) if o in poll.get("options", [])]
    if selected:
        voters[voter] = selected
    elif voters.pop(voter, None) is None:
        return False
    row["pollVoters"] = voters
    row["poll"] = _poll(poll, voters)
    return True


def _revoke(row: dict[str, Any], at: str | None) -> None:
    """Deleted for everyone: the body, media and content of the message are no longer served."""
    row.update(
        revoked=True,
        revokedAt=at,
        content=None,
        caption=None,
        hasMedia=False,
        mediaUrl=None,
        mediaPath=None,
        mimeType=None,
        fileName=None,
        mediaSize=0,
        location=None,
        contacts=[],
        poll=None,
        pollVoters={},
        mentions=[],
        reactions=[],
    )


def _carry_over(earlier: dict[str, Any], doc: dict[str, Any]) -> None:
    """The same message recorded again keeps what already happened to it (reactions, votes, an edit, a revoke)."""
    if earlier.get("revoked"):
        _revoke(doc, earlier.get("revokedAt"))
        return
    doc["reactions"] = list(earlier.get("reactions") or [])
    if earlier.get("edited"):
        doc.update(content=earlier.get("content"), edited=True, editedAt=earlier.get("editedAt"))
    voters = earlier.get("pollVoters") or {}
    if doc.get("poll") and voters:
        doc["pollVoters"] = dict(voters)
        doc["poll"] = _poll(doc["poll"], doc["pollVoters"])


def _refresh_last_message(session: ReadSession, doc: dict[str, Any]) -> None:
    """When the changed message is its chat's last one, the chat list shows the change too."""
    chat = session.get(CHATS, chat_key(doc["instanceId"], doc["remoteJid"]))
    if chat is not None and (chat.get("lastMessage") or {}).get("messageId") == doc["messageId"]:
        chat["lastMessage"] = _public(doc)
        session.put(CHATS, chat["key"], chat)


def _public(doc: dict[str, Any]) -> dict[str, Any]:
    """A message row as the API shows it: bookkeeping removed, the fields of every kind present."""
    out = {k: v for k, v in doc.items() if k not in HIDDEN_FIELDS}
    for name, value in rich_defaults().items():
        out.setdefault(name, value)
    out["reactions"] = [{"from": r.get("from"), "emoji": r.get("emoji")} for r in out["reactions"] or []]
    if isinstance(out["poll"], dict) and "votes" not in out["poll"]:
        out["poll"] = _poll(out["poll"], {})
    return out


public_message = _public
