"""History of polls and their votes, events that name unknown messages, rows built before, and rebuilds.

The same events must give the same rows on the fake, on SQLite and on MongoDB, and again after a rebuild.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.unit.memory_read_session import MemoryReadSession
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
from wamux.domain.events import (
    ChatRead,
    DomainEvent,
    MessageEdited,
    MessageRevoked,
    MessageStatusChanged,
    RecordedEvent,
)
from wamux.projections.messages import MESSAGES, MessagesProjection, public_message


@pytest.fixture(params=BACKENDS)
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rig]:
    yield from open_rig(request, tmp_path)


# ---- polls -----------------------------------------------------------------------------------


def test_poll_votes_are_each_voters_current_selection_counted(rig: Rig) -> None:
    rig.feed(received("P1", sender=ALICE, chat=GROUP, message_type="poll", body="Lunch?", poll=POLL), 1_000)
    rig.feed(vote("P1", ALICE, "pizza"), 2_000)
    rig.feed(vote("P1", BOB, "pizza", "sushi"), 3_000)
    assert rig.public("P1")["poll"]["votes"] == {"pizza": 2, "sushi": 1, "salad": 0}

    rig.feed(vote("P1", ALICE, "salad"), 4_000)  # Alice changes her mind: her old vote is gone
    rig.feed(vote("P1", "79002220000:4@s.whatsapp.net", "sushi"), 5_000)  # Bob, another device: replaces Bob's
    public = rig.public("P1")
    assert public["poll"] == {**POLL, "votes": {"pizza": 0, "sushi": 1, "salad": 1}}
    assert "pollVoters" not in public
    assert rig.row("P1")["pollVoters"] == {ALICE: ["salad"], BOB: ["sushi"]}

    rig.feed(vote("P1", ALICE), 6_000)  # an empty selection withdraws the vote
    rig.feed(vote("P1", ME, "pizza", "tacos", "pizza"), 7_000)  # unknown options and repeats do not count
    assert rig.public("P1")["poll"]["votes"] == {"pizza": 1, "sushi": 1, "salad": 0}
    assert rig.chat(GROUP)["lastMessage"]["poll"]["votes"] == {"pizza": 1, "sushi": 1, "salad": 0}


def test_a_vote_on_a_message_that_is_no_poll_is_ignored(rig: Rig) -> None:
    rig.feed(received("M1"), 1_000)
    before = rig.row("M1")
    rig.feed(vote("M1", BOB, "pizza", chat=ALICE), 2_000)
    assert rig.row("M1") == before


# ---- unknown targets, old rows, rebuilds -----------------------------------------------------


def test_events_that_name_an_unknown_message_are_ignored(rig: Rig) -> None:
    rig.feed(received("M1"), 1_000)
    before = rig.all_rows()
    rig.feed(react("NOPE", BOB, "👍"), 2_000)
    rig.feed(MessageEdited(instance_id=IID, message_id="NOPE", chat_jid=ALICE, sender_jid=ALICE, body="x"), 3_000)
    rig.feed(MessageRevoked(instance_id=IID, message_id="NOPE", chat_jid=ALICE, sender_jid=ALICE), 4_000)
    rig.feed(vote("NOPE", BOB, "pizza", chat=ALICE), 5_000)
    assert rig.all_rows() == before


def test_a_row_built_before_the_rich_fields_is_served_with_their_defaults() -> None:
    key = f"{IID}:OLD"
    old: dict[str, Any] = {
        "id": key,
        "instanceId": IID,
        "messageId": "OLD",
        "remoteJid": ALICE,
        "content": "from last year",
        "createdMs": 1,
        "position": 1,
        "mediaPath": None,
        "idempotencyKey": None,
        "status": "received",
        "fromMe": False,
    }
    assert rich_part(public_message(old)) == PLAIN
    fake = MemoryReadSession()
    fake.put(MESSAGES, key, old)
    MessagesProjection().apply(fake, RecordedEvent(IID, 2, 2_000, 2, react("OLD", BOB, "👍")))
    row = fake.get(MESSAGES, key)
    assert row is not None
    assert public_message(row)["reactions"] == [{"from": BOB, "emoji": "👍"}]
    assert rich_part(public_message(row)) == {**PLAIN, "reactions": [{"from": BOB, "emoji": "👍"}]}


STORY: list[tuple[DomainEvent, int]] = [
    (received("P1", sender=ALICE, chat=GROUP, message_type="poll", body="Lunch?", poll=POLL), 1_000),
    (received("Q1", sender=BOB, chat=GROUP, body="pizza again?"), 2_000),
    (sent("R1", to=GROUP, body="yes", quoted_message_id="Q1", mentions=[BOB]), 3_000),
    (vote("P1", ALICE, "pizza"), 4_000),
    (vote("P1", BOB, "sushi", "salad"), 5_000),
    (vote("P1", ALICE, "sushi"), 6_000),
    (react("Q1", ME, "😂", chat=GROUP, from_me=True), 7_000),
    (react("Q1", ALICE, "👍", chat=GROUP), 8_000),
    (react("Q1", ALICE, "", chat=GROUP), 9_000),
    (MessageEdited(instance_id=IID, message_id="R1", chat_jid=GROUP, sender_jid=ME, body="yes!", from_me=True), 10_000),
    (MessageStatusChanged(instance_id=IID, message_id="R1", status="read", chat_jid=GROUP), 11_000),
    (received("L1", sender=BOB, chat=GROUP, message_type="location", body=None, location=LOCATION), 12_000),
    (received("C1", sender=BOB, chat=GROUP, message_type="contact", body=None, contacts=CARDS), 13_000),
    (MessageRevoked(instance_id=IID, message_id="C1", chat_jid=GROUP, sender_jid=BOB), 14_000),
    (react("NOPE", BOB, "👍", chat=GROUP), 15_000),
    (ChatRead(instance_id=IID, chat_jid=GROUP, message_ids=["L1"]), 16_000),
]


def test_a_rebuild_from_the_same_events_gives_the_same_rows(rig: Rig) -> None:
    for event, ts in STORY:
        rig.feed(event, ts)
    first = rig.all_rows()
    rig.reset()
    assert rig.all_rows() == []
    for event, ts in STORY:
        rig.feed(event, ts)
    assert rig.all_rows() == first

    p1, q1, r1 = rig.public("P1"), rig.public("Q1"), rig.public("R1")
    assert p1["poll"]["votes"] == {"pizza": 0, "sushi": 2, "salad": 1}
    assert q1["reactions"] == [{"from": ME, "emoji": "😂"}]
    assert (r1["content"], r1["edited"], r1["status"], r1["quotedMessageId"]) == ("yes!", True, "read", "Q1")
    assert rig.public("C1")["revoked"] is True and rig.public("C1")["contacts"] == []
    chat = rig.chat(GROUP)
    assert (chat["unreadCount"], chat["messageCount"], chat["lastMessage"]["messageId"]) == (0, 5, "C1")


def test_every_backend_gives_the_rows_of_the_fake(rig: Rig) -> None:
    fake = Rig(None)
    for event, ts in STORY:
        fake.feed(event, ts)
        rig.feed(event, ts)
    assert rig.all_rows() == fake.all_rows()
