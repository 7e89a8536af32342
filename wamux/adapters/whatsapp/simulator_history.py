"""A generated history sync, as WhatsApp pushes it after a device is linked (API-2 §9 `history`).

`generated_history` makes `chats` chats (one-to-one chats with numbers, and one group in ten
chats, from the third on) of `per_chat` messages each: mostly text, some images, videos, documents, voice notes,
stickers, locations, contact cards and polls, some replies, from both sides, dated in the past in
order, with the senders' push names. It comes in chunks of a few thousand messages with a rising
progress, the push names in the first chunk, as whatsmeow hands them to a client. The same instance
and sizes give the same sync (the same message ids), so pushing it again is a duplicate, as a real
repeated sync is.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from wamux.adapters.whatsapp.vcard import write_vcard
from wamux.core.ports import ContactCard, ContactUpdate, HistoryIn, IncomingMessage, Location, Poll

CHUNK_MESSAGES = 3000  # about what WhatsApp puts in one history sync chunk
GROUP_EVERY = 10  # one chat in ten is a group (the third, the thirteenth, ...)

NAMES = ("Anna", "Boris", "Chen", "Dana", "Emeka", "Farah", "Goran", "Hana", "Ivan", "Julia", "Kofi", "Lena")
WORDS = (
    "ok",
    "see you tomorrow",
    "thanks!",
    "where are you?",
    "on my way",
    "call me when you can",
    "sounds good",
    "did you get the file?",
    "happy birthday 🎉",
    "let's meet at 7",
    "👍",
    "I'll check and tell you",
)
# kind -> weight in a hundred messages
KINDS = {
    "text": 70,
    "image": 7,
    "video": 3,
    "document": 4,
    "voice": 5,
    "audio": 1,
    "sticker": 3,
    "location": 3,
    "contact": 2,
    "poll": 2,
}
MEDIA = {
    "image": ("imageMessage", "image/jpeg", 40_000, 2_000_000),
    "video": ("videoMessage", "video/mp4", 500_000, 16_000_000),
    "document": ("documentMessage", "application/pdf", 20_000, 5_000_000),
    "voice": ("audioMessage", "audio/ogg; codecs=opus", 5_000, 200_000),
    "audio": ("audioMessage", "audio/mpeg", 500_000, 8_000_000),
    "sticker": ("stickerMessage", "image/webp", 8_000, 90_000),
}


@dataclass(frozen=True)
class _Chat:
    jid: str
    is_group: bool
    members: tuple[tuple[str, str], ...]  # (phone JID, push name) of who writes in it besides us


def generated_history(instance_id: str, chats: int, per_chat: int, now: int) -> Iterator[HistoryIn]:
    """The chunks of a sync of `chats` × `per_chat` messages, the last one stamped before `now` (unix s)."""
    rng = random.Random(f"{instance_id}:{chats}:{per_chat}")
    people = [(f"7955{rng.randrange(10**7):07d}@s.whatsapp.net", rng.choice(NAMES)) for _ in range(chats + 5)]
    plan = [_chat(rng, i, people) for i in range(chats)]
    total = chats * per_chat
    messages: list[IncomingMessage] = []
    done = 0
    contacts: tuple[ContactUpdate, ...] = tuple(ContactUpdate(jid=j, push_name=n) for j, n in people)
    for index, chat in enumerate(plan):
        messages.extend(_messages(rng, instance_id, index, chat, per_chat, now))
        while len(messages) >= CHUNK_MESSAGES or (index == len(plan) - 1 and messages):
            chunk, messages = messages[:CHUNK_MESSAGES], messages[CHUNK_MESSAGES:]
            done += len(chunk)
            yield HistoryIn(
                messages=tuple(chunk),
                chats=len({m.chat_jid for m in chunk}),
                progress=done * 100 // total,
                sync_type="initial_bootstrap",
                contacts=contacts,
            )
            contacts = ()


def _chat(rng: random.Random, index: int, people: list[tuple[str, str]]) -> _Chat:
    if index % GROUP_EVERY == 2:
        members = tuple(rng.sample(people, k=min(len(people), rng.randint(3, 5))))
        return _Chat(f"120363{rng.randrange(10**12):012d}@g.us", True, members)
    return _Chat(people[index][0], False, (people[index],))


def _messages(
    rng: random.Random, instance_id: str, index: int, chat: _Chat, count: int, now: int
) -> Iterator[IncomingMessage]:
    """One chat's messages, oldest first, a minute to a few hours apart, the newest before `now`."""
    steps = [rng.randint(60, 4 * 3600) for _ in range(count)]
    at = now - 60 - sum(steps)
    earlier: list[str] = []
    kinds, weights = list(KINDS), list(KINDS.values())
    for k in range(count):
        at += steps[k]
        from_me = rng.random() < 0.35
        sender, name = ("", None) if from_me else rng.choice(chat.members)
        message_id = "3EB0" + hashlib.sha1(f"{instance_id}:{index}:{k}".encode()).hexdigest()[:16].upper()
        kind = rng.choices(kinds, weights)[0]
        quoted = rng.choice(earlier) if earlier and rng.random() < 0.08 else None
        yield IncomingMessage(
            message_id=message_id,
            chat_jid=chat.jid,
            sender_jid=sender,
            push_name=name,
            is_group=chat.is_group,
            from_me=from_me,
            timestamp=at,
            quoted_message_id=quoted,
            **_content(rng, kind, k, quoted is not None),
        )
        earlier.append(message_id)


def _content(rng: random.Random, kind: str, k: int, quoting: bool) -> dict[str, Any]:
    """The content fields of one message of `kind`, as the neonize mapping fills them."""
    if kind == "text":
        body = rng.choice(WORDS)
        return {"message_type": "text", "wa_type": "extendedTextMessage" if quoting else "conversation", "body": body}
    if kind in MEDIA:
        wa_type, mime, low, high = MEDIA[kind]
        fields: dict[str, Any] = {"message_type": kind, "wa_type": wa_type, "mime_type": mime}
        fields["file_size"] = rng.randint(low, high)
        if kind in ("image", "video") and rng.random() < 0.4:
            fields["caption"] = rng.choice(WORDS)
        if kind == "document":
            fields["file_name"] = f"report-{k + 1}.pdf"
        if kind == "voice":
            fields["ptt"] = True
        if kind in ("voice", "audio", "video"):
            fields["extra"] = {"seconds": rng.randint(2, 180)}
        return fields
    if kind == "location":
        place = Location(round(rng.uniform(-60, 70), 6), round(rng.uniform(-170, 170), 6), rng.choice(("Café", None)))
        return {"message_type": "location", "wa_type": "locationMessage", "location": place}
    if kind == "contact":
        name, phone = rng.choice(NAMES), f"7966{rng.randrange(10**7):07d}"
        card = ContactCard(name=name, phone=phone, vcard=write_vcard(name, phone))
        return {"message_type": "contact", "wa_type": "contactMessage", "contacts": (card,)}
    poll = Poll(question="Where shall we meet?", options=("Home", "Office", "Park"), selectable_count=1)
    return {"message_type": "poll", "wa_type": "pollCreationMessage", "poll": poll}
