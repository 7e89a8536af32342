"""The simulated network as a session sees it: every kind of send lands in the outbox, with its fields."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trio
from trio.testing import MockClock

from wamux.adapters.whatsapp.simulator import SimulatorSession, SimulatorTransport
from wamux.core.ports import (
    ContactCard,
    DirectoryEntry,
    EditIn,
    IncomingMessage,
    LinkConnected,
    Location,
    MessageRef,
    NotLinked,
    OutgoingMessage,
    Poll,
    PollVoteIn,
    PresenceIn,
    QrCode,
    ReactionIn,
    RevokeIn,
    TransportError,
    TransportEvent,
)
from wamux.domain.errors import Conflict, NotFound, ValidationFailed

ME = "79001234567@s.whatsapp.net"
BOB = "79005550001@s.whatsapp.net"
ANN = "79005550002@s.whatsapp.net"
GROUP = "120363012345678901@g.us"
# The first page of an Ogg/Opus stream as far as anyone sniffs it: the page header, one segment, OpusHead.
OGG_OPUS = b"OggS" + bytes(22) + bytes([1, 19]) + b"OpusHead" + bytes([1, 1]) + bytes(9)
WEBP = b"RIFF" + (20).to_bytes(4, "little") + b"WEBPVP8 " + bytes(12)


@dataclass
class Online:
    transport: SimulatorTransport
    session: SimulatorSession
    events: list[TransportEvent] = field(default_factory=list)

    def outbox(self) -> list[dict[str, Any]]:
        return self.transport.outbox("inst")


@pytest.fixture
async def online(tmp_path: Path) -> AsyncIterator[Online]:
    """A session linked to ME and connected, until the test ends."""
    async with linked(tmp_path) as state:
        yield state


@asynccontextmanager
async def linked(tmp_path: Path) -> AsyncIterator[Online]:
    """A simulated network under `tmp_path` with one session, "inst", linked to ME and connected."""
    transport = SimulatorTransport(tmp_path)
    state = Online(transport, transport.session("inst"))
    linked = trio.Event()

    async def emit(event: TransportEvent) -> None:
        state.events.append(event)
        if isinstance(event, QrCode):
            await transport.scan("inst", ME.split("@")[0], "Me")
        if isinstance(event, LinkConnected):
            linked.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(state.session.connect, emit)
        with trio.fail_after(5):
            await linked.wait()
        yield state
        nursery.cancel_scope.cancel()


def ref(message_id: str = "3EB0AAAA", chat: str = BOB, *, from_me: bool = False) -> MessageRef:
    return MessageRef(message_id=message_id, chat_jid=chat, sender_jid=ME if from_me else chat, from_me=from_me)


async def test_text_carries_reply_mentions_forward_and_link_preview(online: Online) -> None:
    message = OutgoingMessage(
        to=BOB, kind="text", text="hi @79005550002", quoted=ref(), mentions=(ANN,), link_preview=True
    )
    message_id = await online.session.send(message)
    plain_id = await online.session.send(OutgoingMessage(to=BOB, kind="text", text="plain", forwarded=True))
    reply, plain = online.outbox()
    assert reply == {
        "id": message_id,
        "to": BOB,
        "type": "text",
        "body": "hi @79005550002",
        "caption": None,
        "mimeType": None,
        "fileName": None,
        "size": 0,
        "quotedMessageId": "3EB0AAAA",
        "mentions": [ANN],
        "forwarded": False,
        "linkPreview": True,
    }
    assert plain["id"] == plain_id and plain["quotedMessageId"] is None and plain["mentions"] == []
    assert plain["forwarded"] is True and plain["linkPreview"] is False


async def test_media_kinds_name_what_the_receiving_phone_sees(online: Online) -> None:
    sends = [
        OutgoingMessage(to=BOB, kind="image", data=b"\x89PNG....", mime_type="image/png", caption="look"),
        OutgoingMessage(to=BOB, kind="video", data=b"v" * 10, mime_type="video/mp4"),
        OutgoingMessage(to=BOB, kind="audio", data=b"a" * 7, mime_type="audio/mpeg", file_name="song.mp3"),
        OutgoingMessage(to=BOB, kind="voice", data=OGG_OPUS, mime_type="audio/ogg"),
        OutgoingMessage(to=BOB, kind="voice", data=b"ID3 not opus", mime_type="audio/mpeg"),
        OutgoingMessage(to=BOB, kind="document", data=b"%PDF", mime_type="application/pdf", file_name="a.pdf"),
        OutgoingMessage(to=BOB, kind="sticker", data=WEBP, mime_type="application/octet-stream"),
    ]
    for message in sends:
        await online.session.send(message)
    image, video, audio, voice, not_opus, document, sticker = online.outbox()
    assert (image["type"], image["caption"], image["mimeType"], image["size"]) == ("image", "look", "image/png", 8)
    assert (video["type"], video["size"]) == ("video", 10)
    assert (audio["type"], audio["ptt"], audio["mimeType"], audio["fileName"]) == (
        "audio",
        False,
        "audio/mpeg",
        "song.mp3",
    )
    assert (voice["type"], voice["ptt"], voice["mimeType"]) == ("voice", True, "audio/ogg; codecs=opus")
    assert voice["size"] == len(OGG_OPUS)
    # Bytes that are not Ogg/Opus are not played as a voice note: the outbox does not pretend they are.
    assert (not_opus["type"], not_opus["ptt"], not_opus["mimeType"]) == ("voice", True, "audio/mpeg")
    assert (document["type"], document["fileName"]) == ("document", "a.pdf")
    assert (sticker["type"], sticker["mimeType"]) == ("sticker", "image/webp")


async def test_location_contact_and_poll(online: Online) -> None:
    where = Location(latitude=55.75, longitude=37.62, name="Red Square", address="Moscow")
    cards = (ContactCard(name="Ann", phone="79005550002", organization="ACME"), ContactCard(name="Bob"))
    poll = Poll(question="Lunch?", options=("pizza", "sushi", "soup"), selectable_count=2)
    await online.session.send(OutgoingMessage(to=GROUP, kind="location", location=where))
    await online.session.send(OutgoingMessage(to=BOB, kind="contact", contacts=cards, quoted=ref()))
    await online.session.send(OutgoingMessage(to=GROUP, kind="poll", poll=poll, mentions=(ANN,)))
    location, contact, vote = online.outbox()
    assert location["type"] == "location" and location["to"] == GROUP
    assert (location["latitude"], location["longitude"], location["name"], location["address"]) == (
        55.75,
        37.62,
        "Red Square",
        "Moscow",
    )
    assert contact["type"] == "contact" and contact["quotedMessageId"] == "3EB0AAAA"
    assert [(c["name"], c["phone"], c["organization"]) for c in contact["contacts"]] == [
        ("Ann", "79005550002", "ACME"),
        ("Bob", None, None),
    ]
    assert "waid=79005550002:+79005550002" in contact["contacts"][0]["vcard"]
    assert "FN:Bob" in contact["contacts"][1]["vcard"] and "TEL" not in contact["contacts"][1]["vcard"]
    assert vote["type"] == "poll" and vote["question"] == "Lunch?" and vote["mentions"] == [ANN]
    assert vote["options"] == ["pizza", "sushi", "soup"] and vote["selectableCount"] == 2


@pytest.mark.parametrize(
    "message",
    [
        OutgoingMessage(to=BOB, kind="location"),
        OutgoingMessage(to=BOB, kind="contact"),
        OutgoingMessage(to=BOB, kind="poll"),
        OutgoingMessage(to=BOB, kind="hologram", text="?"),
    ],
    ids=["location", "contact", "poll", "unknown-kind"],
)
async def test_what_whatsapp_cannot_carry_is_refused_for_good(online: Online, message: OutgoingMessage) -> None:
    with pytest.raises(TransportError) as caught:
        await online.session.send(message)
    assert caught.value.retryable is False
    assert online.outbox() == []


async def test_reaction_edit_and_revoke_name_their_target(online: Online) -> None:
    own = ref("3EB0OWN", from_me=True)
    reaction_id = await online.session.react(ref("3EB0THEIRS", GROUP), "👍")
    removed_id = await online.session.react(ref("3EB0THEIRS", GROUP), "")
    edit_id = await online.session.edit(own, "fixed typo")
    revoke_id = await online.session.revoke(own)
    assert len({reaction_id, removed_id, edit_id, revoke_id}) == 4
    reaction, removed, edit, revoke = online.outbox()
    assert (reaction["id"], reaction["type"], reaction["to"]) == (reaction_id, "reaction", GROUP)
    assert (reaction["targetMessageId"], reaction["emoji"]) == ("3EB0THEIRS", "👍")
    assert removed["emoji"] == ""
    assert (edit["type"], edit["to"], edit["targetMessageId"], edit["body"]) == ("edit", BOB, "3EB0OWN", "fixed typo")
    assert (revoke["type"], revoke["targetMessageId"], revoke["body"]) == ("revoke", "3EB0OWN", None)
    assert all(
        set(e) >= {"id", "to", "type", "body", "caption", "mimeType", "fileName", "size"} for e in online.outbox()
    )


async def test_read_receipts_one_entry_per_chat_and_read(online: Online) -> None:
    await online.session.mark_read(BOB, BOB, ["m1", "m2"])
    # Reading a group: WhatsApp takes one receipt per sender; the outbox shows one entry for the chat.
    await online.session.mark_read(GROUP, BOB, ["g1"])
    await online.session.mark_read(GROUP, ANN, ["g2", "g3"])
    await online.session.mark_read(BOB, BOB, [])  # nothing unread: nothing is sent
    await online.session.mark_read(BOB, BOB, ["m3"])  # a later read of the same chat
    first, group, later = online.outbox()
    assert (first["type"], first["to"], first["messageIds"]) == ("read_receipt", BOB, ["m1", "m2"])
    assert (group["to"], group["messageIds"], group["senders"]) == (GROUP, ["g1", "g2", "g3"], [BOB, ANN])
    assert (later["to"], later["messageIds"]) == (BOB, ["m3"])


async def test_presence_in_a_chat_and_for_the_account(online: Online) -> None:
    await online.session.send_chat_presence(BOB, "typing")
    await online.session.send_chat_presence(BOB, "paused")
    await online.session.send_presence("available")
    typing, paused, available = online.outbox()
    assert (typing["type"], typing["to"], typing["state"]) == ("presence", BOB, "typing")
    assert paused["state"] == "paused"
    assert (available["type"], available["to"], available["state"]) == ("presence", None, "available")
    with pytest.raises(ValidationFailed):
        await online.session.send_chat_presence(BOB, "available")  # an account state, not a chat state
    with pytest.raises(ValidationFailed):
        await online.session.send_presence("typing")
    assert len(online.outbox()) == 3


async def test_check_numbers_answers_from_the_directory(online: Online, tmp_path: Path) -> None:
    online.transport.set_directory(
        "inst",
        [
            DirectoryEntry(phone="79005550001", exists=True, lid="123456789012345@lid", name="Bob"),
            DirectoryEntry(phone="79005550002", exists=False),
            DirectoryEntry(phone="+7 900 555-00-03", exists=True),
        ],
    )
    asked = ["79005550001", "79005550002", "+7 900 555 0003", "79009999999"]
    answers = await online.session.check_numbers(asked)
    assert [(a.phone, a.exists, a.jid, a.lid) for a in answers] == [
        ("79005550001", True, "79005550001@s.whatsapp.net", "123456789012345@lid"),
        ("79005550002", False, None, None),
        ("+7 900 555 0003", True, "79005550003@s.whatsapp.net", None),
        ("79009999999", False, None, None),  # not in the directory: not on WhatsApp
    ]
    assert online.outbox() == []  # a question to the server, not a message
    # The directory belongs to the simulated account: a restarted server still has it.
    restarted = SimulatorTransport(tmp_path)
    assert restarted.phone("inst").directory == online.transport.phone("inst").directory


async def test_every_new_call_goes_through_the_send_faults(online: Online, autojump_clock: MockClock) -> None:
    target = ref(from_me=True)
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "react": lambda: online.session.react(target, "🔥"),
        "edit": lambda: online.session.edit(target, "new"),
        "revoke": lambda: online.session.revoke(target),
        "mark_read": lambda: online.session.mark_read(BOB, BOB, ["m1"]),
        "chat_presence": lambda: online.session.send_chat_presence(BOB, "recording"),
        "presence": lambda: online.session.send_presence("unavailable"),
        "check_numbers": lambda: online.session.check_numbers(["79005550001"]),
        "location": lambda: online.session.send(
            OutgoingMessage(to=BOB, kind="location", location=Location(latitude=1.0, longitude=2.0))
        ),
    }
    for name, call in calls.items():
        online.transport.set_faults("inst", {"failNextSends": 1})
        with pytest.raises(TransportError) as caught:
            await call()
        assert caught.value.code == "send_failed" and caught.value.retryable, name
        assert online.outbox() == [], name
        await call()  # the fault is used up: the same call goes through
        online.transport.phone("inst").outbox.clear()
    online.transport.set_faults("inst", {"sendLatencyMs": 1500})
    start = trio.current_time()
    await online.session.react(target, "⏳")
    assert trio.current_time() - start >= 1.5


async def test_a_session_that_is_not_connected_sends_nothing(tmp_path: Path) -> None:
    session = SimulatorTransport(tmp_path).session("inst")
    target = ref(from_me=True)
    for call in (
        session.react(target, "👍"),
        session.edit(target, "x"),
        session.revoke(target),
        session.mark_read(BOB, BOB, ["m1"]),
        session.send_chat_presence(BOB, "typing"),
        session.send_presence("available"),
        session.check_numbers(["79005550001"]),
    ):
        with pytest.raises(NotLinked):
            await call


async def test_deliver_hands_any_incoming_event_to_the_session(online: Online) -> None:
    delivered: list[TransportEvent] = [
        ReactionIn(message_id="3EB0OWN", chat_jid=BOB, sender_jid=BOB, emoji="❤️"),
        EditIn(message_id="3EB0X", chat_jid=BOB, sender_jid=BOB, body="edited"),
        RevokeIn(message_id="3EB0X", chat_jid=BOB, sender_jid=BOB),
        PollVoteIn(poll_message_id="3EB0POLL", chat_jid=GROUP, sender_jid=ANN, selected_options=("soup",)),
        PresenceIn(chat_jid=BOB, sender_jid=BOB, state="typing"),
    ]
    before = len(online.events)
    for event in delivered:
        await online.transport.deliver("inst", event)
    message = IncomingMessage(message_id="3EB0IN", chat_jid=BOB, sender_jid=BOB, message_type="text", body="hi")
    await online.transport.incoming("inst", message)
    assert online.events[before:] == [*delivered, message]


async def test_deliver_needs_a_known_connected_instance(tmp_path: Path) -> None:
    transport = SimulatorTransport(tmp_path)
    presence = PresenceIn(chat_jid=BOB, sender_jid=BOB, state="available")
    with pytest.raises(NotFound):
        await transport.deliver("nobody", presence)
    transport.session("inst")
    with pytest.raises(Conflict):
        await transport.deliver("inst", presence)


async def test_a_shared_contact_arrives_with_its_vcard(online: Online) -> None:
    own = "BEGIN:VCARD\nVERSION:3.0\nFN:Kept\nEND:VCARD"
    cards = (ContactCard(name="Ann", phone="79005550002"), ContactCard(name="Kept", vcard=own))
    message = IncomingMessage(message_id="3EB0C", chat_jid=BOB, sender_jid=BOB, message_type="contact", contacts=cards)
    await online.transport.incoming("inst", message)
    arrived = online.events[-1]
    assert isinstance(arrived, IncomingMessage)
    written, kept = arrived.contacts
    assert written.vcard is not None and "waid=79005550002" in written.vcard and written.name == "Ann"
    assert kept.vcard == own
