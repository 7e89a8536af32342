"""History of new message kinds and of what happens to them: quotes, mentions, locations, contacts, voice notes,
reactions, edits and revokes.

The messages projection runs on the in-memory fake, on SQLite and on MongoDB (`tests/unit/messages_rig.py`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.messages_rig import (
    ALICE,
    BACKENDS,
    BOB,
    CARDS,
    GROUP,
    IID,
    LOCATION,
    ME,
    PLAIN,
    POLL,
    Rig,
    open_rig,
    react,
    received,
    rich_part,
    sent,
    vote,
)
from wamux.domain.clock import iso_ms
from wamux.domain.events import ChatRead, MessageEdited, MessageFailed, MessageRevoked


@pytest.fixture(params=BACKENDS)
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rig]:
    yield from open_rig(request, tmp_path)


# ---- new rows --------------------------------------------------------------------------------


def test_plain_messages_show_the_defaults_of_every_kind(rig: Rig) -> None:
    rig.feed(received("IN1"), 1_000)
    rig.feed(sent("OUT1"), 2_000)
    rig.feed(MessageFailed(instance_id=IID, message_id="F1", to=ALICE, message_type="text", reason="x"), 3_000)
    for message_id in ("IN1", "OUT1", "F1"):
        public = rig.public(message_id)
        assert rich_part(public) == PLAIN, message_id
        assert "pollVoters" not in public and "mediaPath" not in public


def test_rich_incoming_and_sent_messages_carry_their_fields(rig: Rig) -> None:
    rig.feed(received("Q1"), 1_000)
    rig.feed(
        received("R1", sender=ALICE, chat=GROUP, quoted_message_id="Q1", mentions=[BOB, ME], forwarded=True), 2_000
    )
    rig.feed(received("L1", message_type="location", body=None, location=LOCATION), 3_000)
    rig.feed(received("C1", message_type="contact", body=None, contacts=CARDS), 4_000)
    rig.feed(received("V1", message_type="voice", body=None, media_path="x/v.ogg", media_size=10, ptt=True), 5_000)
    rig.feed(sent("P1", to=GROUP, message_type="poll", body="Lunch?", poll=POLL), 6_000)
    rig.feed(sent("S1", message_type="text", quoted_message_id="R1", mentions=[ALICE]), 7_000)

    reply = rig.public("R1")
    assert (reply["quotedMessageId"], reply["mentions"], reply["forwarded"]) == ("Q1", [BOB, ME], True)
    assert rig.public("L1")["location"] == LOCATION
    assert rig.public("C1")["contacts"] == CARDS
    voice = rig.public("V1")
    assert voice["ptt"] is True and voice["hasMedia"] is True and voice["messageType"] == "voice"
    poll = rig.public("P1")["poll"]
    assert poll == {**POLL, "votes": {"pizza": 0, "sushi": 0, "salad": 0}}
    ours = rig.public("S1")
    assert (ours["quotedMessageId"], ours["mentions"], ours["fromMe"]) == ("R1", [ALICE], True)


# ---- reactions -------------------------------------------------------------------------------


def test_reactions_one_per_sender_latest_wins_empty_removes(rig: Rig) -> None:
    rig.feed(received("M1"), 1_000)
    rig.feed(react("M1", ALICE, "👍"), 2_000)
    rig.feed(react("M1", BOB, "❤️"), 3_000)
    rig.feed(react("M1", ALICE, "😂"), 4_000)  # replaces Alice's thumbs up
    assert rig.public("M1")["reactions"] == [{"from": ALICE, "emoji": "😂"}, {"from": BOB, "emoji": "❤️"}]

    rig.feed(react("M1", "79002220000:7@s.whatsapp.net", "🔥"), 5_000)  # Bob from another device: still Bob
    assert rig.public("M1")["reactions"] == [
        {"from": ALICE, "emoji": "😂"},
        {"from": "79002220000:7@s.whatsapp.net", "emoji": "🔥"},
    ]
    rig.feed(react("M1", ALICE, ""), 6_000)
    assert rig.public("M1")["reactions"] == [{"from": "79002220000:7@s.whatsapp.net", "emoji": "🔥"}]
    assert rig.row("M1")["updatedAt"] == iso_ms(6_000)

    before = rig.row("M1")
    rig.feed(react("M1", ALICE, ""), 7_000)  # removing what is not there changes nothing
    assert rig.row("M1") == before


def test_our_reactions_replace_each_other_and_show_our_jid(rig: Rig) -> None:
    rig.feed(received("M1"), 1_000)
    rig.feed(react("M1", ME, "👍", from_me=True), 2_000)
    rig.feed(react("M1", ALICE, "👍"), 3_000)
    rig.feed(react("M1", "79009990000:3@s.whatsapp.net", "🎉", from_me=True), 4_000)  # ours, from the phone
    assert rig.public("M1")["reactions"] == [
        {"from": "79009990000:3@s.whatsapp.net", "emoji": "🎉"},
        {"from": ALICE, "emoji": "👍"},
    ]
    rig.feed(react("M1", ME, "", from_me=True), 5_000)
    assert rig.public("M1")["reactions"] == [{"from": ALICE, "emoji": "👍"}]


def test_reactions_edits_revokes_and_votes_leave_the_chat_counters_alone(rig: Rig) -> None:
    rig.feed(received("P1", sender=ALICE, chat=GROUP, message_type="poll", body="Lunch?", poll=POLL), 1_000)
    rig.feed(received("M1", sender=BOB, chat=GROUP), 2_000)
    rig.feed(react("M1", ALICE, "👍", chat=GROUP), 3_000)
    rig.feed(vote("P1", BOB, "pizza"), 4_000)
    rig.feed(MessageEdited(instance_id=IID, message_id="M1", chat_jid=GROUP, sender_jid=BOB, body="x"), 5_000)
    rig.feed(MessageRevoked(instance_id=IID, message_id="P1", chat_jid=GROUP, sender_jid=ALICE), 6_000)
    chat = rig.chat(GROUP)
    assert (chat["unreadCount"], chat["messageCount"], chat["updatedAt"]) == (2, 2, iso_ms(2_000))

    rig.feed(ChatRead(instance_id=IID, chat_jid=GROUP, message_ids=["P1", "M1"]), 7_000)
    assert rig.chat(GROUP)["unreadCount"] == 0
    rig.feed(react("M1", BOB, "❤️", chat=GROUP), 8_000)
    assert rig.chat(GROUP)["unreadCount"] == 0


# ---- edits -----------------------------------------------------------------------------------


def test_an_edit_gives_the_new_body_and_updates_the_chats_last_message(rig: Rig) -> None:
    rig.feed(sent("E1", body="helo"), 1_000)
    rig.feed(received("E2", body="and you?"), 2_000)
    rig.feed(sent("E3", body="fine, thx"), 3_000)
    rig.feed(
        MessageEdited(instance_id=IID, message_id="E1", chat_jid=ALICE, sender_jid=ME, body="hello", from_me=True),
        4_000,
    )
    e1 = rig.public("E1")
    assert (e1["content"], e1["edited"], e1["editedAt"], e1["updatedAt"]) == (
        "hello",
        True,
        iso_ms(4_000),
        iso_ms(4_000),
    )
    assert e1["createdAt"] == iso_ms(1_000)
    assert rig.chat(ALICE)["lastMessage"]["content"] == "fine, thx"  # not the last message: the chat is unchanged

    rig.feed(
        MessageEdited(
            instance_id=IID, message_id="E3", chat_jid=ALICE, sender_jid=ME, body="fine, thanks", from_me=True
        ),
        5_000,
    )
    chat = rig.chat(ALICE)
    assert chat["lastMessage"]["content"] == "fine, thanks" and chat["lastMessage"]["edited"] is True
    assert chat["lastMessage"] == rig.public("E3")
    assert chat["updatedAt"] == iso_ms(3_000) and chat["messageCount"] == 3


def test_an_edited_media_caption(rig: Rig) -> None:
    rig.feed(received("I1", message_type="image", body=None, caption="cat", media_path="x/i.jpg", media_size=3), 1_000)
    rig.feed(MessageEdited(instance_id=IID, message_id="I1", chat_jid=ALICE, sender_jid=ALICE, body="a cat"), 2_000)
    row = rig.public("I1")
    assert (row["content"], row["caption"], row["hasMedia"], row["edited"]) == ("a cat", "a cat", True, True)


# ---- revokes ---------------------------------------------------------------------------------


def test_a_revoke_hides_body_media_and_content(rig: Rig) -> None:
    rig.feed(received("T1", body="secret"), 1_000)
    rig.feed(
        received(
            "I1",
            message_type="image",
            body=None,
            caption="photo",
            mime_type="image/jpeg",
            file_name="p.jpg",
            media_path="x/p.jpg",
            media_size=1234,
        ),
        2_000,
    )
    rig.feed(received("L1", message_type="location", body=None, location=LOCATION, mentions=[BOB]), 3_000)
    rig.feed(received("C1", message_type="contact", body=None, contacts=CARDS), 4_000)
    rig.feed(sent("P1", message_type="poll", body="Lunch?", poll=POLL), 5_000)
    rig.feed(vote("P1", BOB, "pizza", chat=ALICE), 5_500)
    rig.feed(react("T1", BOB, "👍"), 5_600)
    for i, message_id in enumerate(("T1", "I1", "L1", "C1", "P1")):
        from_me = message_id == "P1"
        sender = ME if from_me else ALICE
        revoke = MessageRevoked(
            instance_id=IID, message_id=message_id, chat_jid=ALICE, sender_jid=sender, from_me=from_me
        )
        rig.feed(revoke, 6_000 + i)
        row = rig.row(message_id)
        assert row["revoked"] is True and row["revokedAt"] == iso_ms(6_000 + i)
        assert (row["content"], row["caption"], row["location"], row["contacts"], row["poll"]) == (
            None,
            None,
            None,
            [],
            None,
        )
        assert (row["hasMedia"], row["mediaUrl"], row["mediaPath"], row["fileName"], row["mediaSize"]) == (
            False,
            None,
            None,
            None,
            0,
        )
        assert row["reactions"] == [] and row["pollVoters"] == {} and row["mentions"] == []
    last = rig.chat(ALICE)["lastMessage"]
    assert last["messageId"] == "P1" and last["revoked"] is True and last["poll"] is None


def test_nothing_more_happens_to_a_revoked_message(rig: Rig) -> None:
    rig.feed(received("P1", message_type="poll", body="Lunch?", poll=POLL), 1_000)
    rig.feed(MessageRevoked(instance_id=IID, message_id="P1", chat_jid=ALICE, sender_jid=ALICE), 2_000)
    before = rig.row("P1")
    rig.feed(react("P1", BOB, "👍"), 3_000)
    rig.feed(MessageEdited(instance_id=IID, message_id="P1", chat_jid=ALICE, sender_jid=ALICE, body="again"), 4_000)
    rig.feed(vote("P1", BOB, "pizza", chat=ALICE), 5_000)
    rig.feed(MessageRevoked(instance_id=IID, message_id="P1", chat_jid=ALICE, sender_jid=ALICE), 6_000)
    assert rig.row("P1") == before


def test_a_message_recorded_again_keeps_what_happened_to_it(rig: Rig) -> None:
    rig.feed(received("M1", body="first"), 1_000)
    rig.feed(react("M1", BOB, "👍"), 2_000)
    rig.feed(received("M1", body="first"), 3_000)
    assert rig.public("M1")["reactions"] == [{"from": BOB, "emoji": "👍"}]
    rig.feed(MessageRevoked(instance_id=IID, message_id="M1", chat_jid=ALICE, sender_jid=ALICE), 4_000)
    rig.feed(received("M1", body="first"), 5_000)
    row = rig.public("M1")
    assert row["revoked"] is True and row["content"] is None and row["revokedAt"] == iso_ms(4_000)
