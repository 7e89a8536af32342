"""Fakes of what the actor and the use cases read back (`wamux.core.ports.reads`), answering from the store.

Each one reads the `MemoryEventStore`'s events the way the read model it stands for would (the
messages read model for `SentLookup`, `MessageLookup` and `UnreadLookup`, the stats read model for
`UsageReader`, the groups read model for `GroupReads`), plus answers a test sets, and records what it
was asked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import trio

from tests.unit.fakes import MemoryEventStore
from wamux.domain.clock import iso_ms
from wamux.domain.events import (
    ApiCallsRecorded,
    ChatRead,
    Connected,
    GroupJoined,
    GroupParticipantsChanged,
    GroupsSynced,
    GroupUpdated,
    LimitExceeded,
    MessageEdited,
    MessageReceived,
    MessageRevoked,
    MessageSent,
    RecordedEvent,
)
from wamux.domain.periods import day_of


def _records(store: MemoryEventStore | None, instance_id: str) -> list[RecordedEvent]:
    return store.streams.get(instance_id, []) if store else []


class FakeSentLookup:
    """A `SentLookup` answering from `answers` ((instance, key) -> (message id, sent at ms)), then the store.

    With a store it finds a `message_sent` by its key as the messages read model does, so a new
    actor (after a restart) finds what an earlier one sent.
    """

    def __init__(self, store: MemoryEventStore | None = None) -> None:
        self.store = store
        self.answers: dict[tuple[str, str], tuple[str, int]] = {}
        self.asked: list[tuple[str, str]] = []

    async def sent_with_key(self, instance_id: str, key: str) -> tuple[str, int] | None:
        self.asked.append((instance_id, key))
        await trio.lowlevel.checkpoint()
        if (instance_id, key) in self.answers:
            return self.answers[instance_id, key]
        for r in reversed(_records(self.store, instance_id)):
            if isinstance(r.event, MessageSent) and r.event.idempotency_key == key:
                return r.event.message_id, r.timestamp_ms
        return None


def history_doc(recorded: RecordedEvent) -> dict[str, Any]:
    """A `message_sent` / `message_received` as a messages read-model row (the fields the use cases read)."""
    e = recorded.event
    assert isinstance(e, MessageSent | MessageReceived)
    received = isinstance(e, MessageReceived)
    return {
        "instanceId": e.instance_id,
        "messageId": e.message_id,
        "remoteJid": e.chat_jid if isinstance(e, MessageReceived) else e.to,
        "sender": e.sender_jid if isinstance(e, MessageReceived) else None,
        "fromMe": e.from_me if isinstance(e, MessageReceived) else True,
        "messageType": e.message_type,
        "content": e.body if e.body is not None else e.caption,
        "caption": e.caption,
        "mimeType": e.mime_type,
        "fileName": e.file_name,
        "mediaPath": e.media_path,
        "mediaSize": e.media_size,
        "hasMedia": e.media_path is not None or (not received and e.media_size > 0),
        "createdMs": recorded.timestamp_ms,
        "quotedMessageId": e.quoted_message_id,
        "mentions": list(e.mentions),
        "forwarded": e.forwarded,
        "location": e.location,
        "contacts": list(e.contacts),
        "poll": e.poll,
        "revoked": False,
        "edited": False,
    }


@dataclass
class _Folded:
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    unread: dict[str, int] = field(default_factory=dict)  # chat -> unread count, as the chats read model keeps it


class FakeHistory:
    """`MessageLookup` and `UnreadLookup` over the store: the messages the fake session sent and received.

    Edits replace a message's text and revokes mark it, as the messages read model does; a chat's
    unread count grows with each incoming message and is zeroed by `chat_read`. `answers[(instance,
    message id)]` overrides the store (None: a message the read model does not know);
    `unread[(instance, chat)]` overrides a chat's unread messages.
    """

    def __init__(self, store: MemoryEventStore) -> None:
        self.store = store
        self.answers: dict[tuple[str, str], Mapping[str, Any] | None] = {}
        self.unread: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
        self.asked: list[tuple[str, str]] = []

    def fold(self, instance_id: str) -> _Folded:
        out = _Folded()
        for r in _records(self.store, instance_id):
            e = r.event
            if isinstance(e, MessageSent | MessageReceived):
                doc = history_doc(r)
                out.messages[e.message_id] = doc
                if isinstance(e, MessageReceived) and not e.from_me:
                    out.unread[doc["remoteJid"]] = out.unread.get(doc["remoteJid"], 0) + 1
            elif isinstance(e, MessageEdited) and e.message_id in out.messages:
                out.messages[e.message_id].update(content=e.body, edited=True)
            elif isinstance(e, MessageRevoked) and e.message_id in out.messages:
                out.messages[e.message_id]["revoked"] = True
            elif isinstance(e, ChatRead):
                out.unread[e.chat_jid] = 0
        return out

    async def message(self, instance_id: str, message_id: str) -> Mapping[str, Any] | None:
        self.asked.append((instance_id, message_id))
        await trio.lowlevel.checkpoint()
        if (instance_id, message_id) in self.answers:
            return self.answers[instance_id, message_id]
        return self.fold(instance_id).messages.get(message_id)

    async def unread_incoming(self, instance_id: str, chat_jid: str) -> Sequence[Mapping[str, Any]]:
        """The chat's unread incoming messages, the newest first (as many as its unread count says)."""
        await trio.lowlevel.checkpoint()
        if (instance_id, chat_jid) in self.unread:
            return list(self.unread[instance_id, chat_jid])
        folded = self.fold(instance_id)
        incoming = [m for m in folded.messages.values() if m["remoteJid"] == chat_jid and not m["fromMe"]]
        return list(reversed(incoming))[: folded.unread.get(chat_jid, 0)]


@dataclass
class FakeUsageReader:
    """A `UsageReader` counting the store's events (as the stats read model does) plus settable answers.

    `extra[instance]` is added to the counted (messages sent, API calls); `notified[instance]` lists
    periods announced besides the store's `limit_exceeded` events.
    """

    store: MemoryEventStore | None = None
    extra: dict[str, tuple[int, int]] = field(default_factory=dict)
    notified: dict[str, list[str]] = field(default_factory=dict)
    asked: list[tuple[str, str | None]] = field(default_factory=list)

    async def usage_since(self, instance_id: str, since_day: str | None) -> tuple[int, int]:
        self.asked.append((instance_id, since_day))
        await trio.lowlevel.checkpoint()
        counted = [
            r for r in _records(self.store, instance_id) if since_day is None or day_of(r.timestamp_ms) >= since_day
        ]
        sent = sum(1 for r in counted if isinstance(r.event, MessageSent))
        calls = sum(r.event.count for r in counted if isinstance(r.event, ApiCallsRecorded))
        extra_sent, extra_calls = self.extra.get(instance_id, (0, 0))
        return sent + extra_sent, calls + extra_calls

    async def limit_notified(self, instance_id: str) -> Sequence[str]:
        await trio.lowlevel.checkpoint()
        stored = [r.event.period_key for r in _records(self.store, instance_id) if isinstance(r.event, LimitExceeded)]
        return [*self.notified.get(instance_id, []), *stored]


def _member(p: Mapping[str, Any]) -> dict[str, Any]:
    jid = p["jid"]
    phone = jid.split("@")[0] if jid.endswith("@s.whatsapp.net") else None
    return {
        "jid": jid,
        "phone": phone,
        "lid": p.get("lid"),
        "isAdmin": bool(p.get("isAdmin")),
        "isSuperAdmin": bool(p.get("isSuperAdmin")),
    }


def group_doc(fields: Mapping[str, Any]) -> dict[str, Any]:
    """A group as the groups read model keeps it (API-2 §4), from a group event's fields."""
    return {
        "id": fields["group_id"],
        "subject": fields["subject"],
        "description": fields.get("description"),
        "owner": fields.get("owner"),
        "announce": bool(fields.get("announce")),
        "locked": bool(fields.get("locked")),
        "createdAt": iso_ms(int(fields["created_at"]) * 1000) if fields.get("created_at") else None,
        "participants": [_member(p) for p in fields.get("participants") or ()],
    }


def _changed(group: dict[str, Any], e: GroupParticipantsChanged, own: str | None) -> bool:
    """Apply a participants change; False when it removed us (the group is then gone)."""
    named = set(e.participants)
    members: list[dict[str, Any]] = group["participants"]
    hit = [m for m in members if m["jid"] in named or m["lid"] in named]
    if e.action == "remove":
        if own is not None and own in named:
            return False
        group["participants"] = [m for m in members if m not in hit]
    elif e.action in ("promote", "demote"):
        for m in hit:
            m["isAdmin"] = e.action == "promote"
            m["isSuperAdmin"] = m["isSuperAdmin"] and e.action == "promote"
    elif e.action == "add":
        known = {m["jid"] for m in members} | {m["lid"] for m in members}
        members += [_member({"jid": j}) for j in e.participants if j not in known]
    return True


class FakeGroupReads:
    """`GroupReads` over the store, folded as the groups read model folds the group events.

    `groups_synced` replaces every group, `group_joined` adds (or replaces) one, `group_updated`
    changes the fields it carries, `group_participants` adds, removes, promotes or demotes, and a
    remove of our own JID (the instance's last `connected` one) drops the group. `groups` lists
    them by subject without their members (with `participantsCount`), `group` gives one with its members.
    `answers[(instance, group)]` overrides the store (None: a group the read model does not know).
    """

    def __init__(self, store: MemoryEventStore) -> None:
        self.store = store
        self.answers: dict[tuple[str, str], dict[str, Any] | None] = {}
        self.asked: list[tuple[str, str | None]] = []

    def fold(self, instance_id: str) -> dict[str, dict[str, Any]]:
        own: str | None = None
        groups: dict[str, dict[str, Any]] = {}
        for r in _records(self.store, instance_id):
            e = r.event
            if isinstance(e, Connected):
                own = e.jid or own
            elif isinstance(e, GroupsSynced):
                groups = {g["group_id"]: group_doc(g) for g in e.groups}
            elif isinstance(e, GroupJoined):
                groups[e.group_id] = group_doc(vars(e))
            elif isinstance(e, GroupUpdated) and e.group_id in groups:
                given = {"subject": e.subject, "description": e.description, "announce": e.announce, "locked": e.locked}
                groups[e.group_id].update({k: v for k, v in given.items() if v is not None})
            elif (
                isinstance(e, GroupParticipantsChanged)
                and e.group_id in groups
                and not _changed(groups[e.group_id], e, own)
            ):
                del groups[e.group_id]
        for g in groups.values():
            g["participantsCount"] = len(g["participants"])
        return groups

    async def groups(self, instance_id: str) -> list[dict[str, Any]]:
        self.asked.append((instance_id, None))
        await trio.lowlevel.checkpoint()
        listed = sorted(self.fold(instance_id).values(), key=lambda g: (str(g["subject"]).casefold(), g["id"]))
        return [{k: v for k, v in g.items() if k != "participants"} for g in listed]

    async def group(self, instance_id: str, group_jid: str) -> dict[str, Any] | None:
        self.asked.append((instance_id, group_jid))
        await trio.lowlevel.checkpoint()
        if (instance_id, group_jid) in self.answers:
            return self.answers[instance_id, group_jid]
        return self.fold(instance_id).get(group_jid)
