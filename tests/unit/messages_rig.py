"""A rig for the messages projection on one backend (the in-memory fake, SQLite, MongoDB), and event builders."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.unit.memory_read_session import MemoryReadSession
from wamux.adapters.readmodels.mongo import MongoReadModelStore
from wamux.adapters.readmodels.sqlite import SQLiteReadModelStore
from wamux.domain.events import DomainEvent, MessageReaction, MessageReceived, MessageSent, PollVoted, RecordedEvent
from wamux.projections.messages import CHATS, MESSAGES, MessagesProjection, public_message
from wamux.projections.ports import Query, ReadModelStore

IID = "0190a5c2-0000-7000-8000-0000000000aa"
ALICE = "79001110000@s.whatsapp.net"
BOB = "79002220000@s.whatsapp.net"
ME = "79009990000@s.whatsapp.net"
GROUP = "120363000000000001@g.us"
POLL = {"question": "Lunch?", "options": ["pizza", "sushi", "salad"], "selectableCount": 2}
LOCATION = {"latitude": 55.75, "longitude": 37.61, "name": "Red Square", "address": "Moscow"}
CARDS = [
    {"name": "Ann", "phone": "79003330000", "vcard": "BEGIN:VCARD\nEND:VCARD", "organization": None},
    {"name": "Ben", "phone": "79004440000", "vcard": "BEGIN:VCARD\nEND:VCARD", "organization": "ACME"},
]


class Rig:
    """Feeds recorded events to the messages projection on one backend and reads rows back."""

    def __init__(self, store: ReadModelStore | None) -> None:
        self.store = store
        self.fake = MemoryReadSession()
        self.position = 0
        self.projection = MessagesProjection()
        if store is not None:
            store.ensure(self.projection.collections)

    def feed(self, event: DomainEvent, ts: int) -> None:
        self.position += 1
        recorded = RecordedEvent(IID, self.position, ts, self.position, copy.deepcopy(event))
        if self.store is None:
            self.projection.apply(self.fake, recorded)
        else:
            self.store.apply(self.projection.name, self.position, lambda s: self.projection.apply(s, recorded))

    def row(self, message_id: str) -> dict[str, Any]:
        """The stored row (bookkeeping included)."""
        key = f"{IID}:{message_id}"
        doc = self.fake.get(MESSAGES, key) if self.store is None else self.store.get(MESSAGES, key)
        assert doc is not None, message_id
        return doc

    def public(self, message_id: str) -> dict[str, Any]:
        return public_message(self.row(message_id))

    def chat(self, jid: str) -> dict[str, Any]:
        key = f"{IID}:{jid}"
        doc = self.fake.get(CHATS, key) if self.store is None else self.store.get(CHATS, key)
        assert doc is not None, jid
        return doc

    def all_rows(self) -> list[dict[str, Any]]:
        q = Query(where={"instanceId": IID}, order=(("key", False),))
        if self.store is None:
            return self.fake.find(MESSAGES, q) + self.fake.find(CHATS, q)
        return self.store.find(MESSAGES, q) + self.store.find(CHATS, q)

    def reset(self) -> None:
        self.position = 0
        if self.store is None:
            self.fake = MemoryReadSession()
        else:
            self.store.reset(self.projection.name, self.projection.collections)
            self.store.ensure(self.projection.collections)


BACKENDS = ["fake", "sqlite", pytest.param("mongo", marks=pytest.mark.mongo)]


def open_rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rig]:
    """The body of a `rig` fixture parametrized over BACKENDS."""
    if request.param == "fake":
        yield Rig(None)
        return
    store: ReadModelStore
    if request.param == "sqlite":
        store = SQLiteReadModelStore(str(tmp_path / "rm.db"))
    else:
        store = MongoReadModelStore(request.getfixturevalue("mongo_db_url"))
    yield Rig(store)
    store.close()


def received(message_id: str, sender: str = ALICE, chat: str | None = None, **fields: Any) -> MessageReceived:
    chat_jid = chat or sender
    fields.setdefault("message_type", "text")
    fields.setdefault("body", "hello")
    return MessageReceived(
        instance_id=IID,
        message_id=message_id,
        chat_jid=chat_jid,
        sender_jid=sender,
        is_group=chat_jid.endswith("@g.us"),
        **fields,
    )


def sent(message_id: str, to: str = ALICE, **fields: Any) -> MessageSent:
    fields.setdefault("message_type", "text")
    fields.setdefault("body", "hi")
    return MessageSent(instance_id=IID, message_id=message_id, to=to, **fields)


def react(message_id: str, sender: str, emoji: str, *, chat: str = ALICE, from_me: bool = False) -> MessageReaction:
    return MessageReaction(
        instance_id=IID, message_id=message_id, chat_jid=chat, sender_jid=sender, emoji=emoji, from_me=from_me
    )


def vote(message_id: str, sender: str, *options: str, chat: str = GROUP) -> PollVoted:
    return PollVoted(
        instance_id=IID, message_id=message_id, chat_jid=chat, sender_jid=sender, selected_options=list(options)
    )


PLAIN: dict[str, Any] = {
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


def rich_part(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: doc[k] for k in PLAIN}
