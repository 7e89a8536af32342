"""One chat per person in the messages read model (API-2 §5): what arrived from a LID before its phone was
known joins the phone's chat when `identity_learned` pairs them; later events that still name the LID, and
the queries that name it, find the one chat. On the in-memory fake, SQLite and MongoDB, and on the queries.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from tests.unit.messages_rig import BACKENDS, GROUP, IID, Rig, open_rig, received, sent
from tests.unit.test_queries import CatchingUpView, open_store
from wamux.core.queries import ReadQueries
from wamux.domain.events import ChatRead, IdentityLearned, MessageReaction, MessageStatusChanged
from wamux.projections.messages import CHATS
from wamux.projections.ports import Query

LID = "111111111111111@lid"
PHONE = "79001110000@s.whatsapp.net"
OTHER_LID = "222222222222222@lid"


def learned(lid: str = LID, phone: str = PHONE) -> IdentityLearned:
    return IdentityLearned(instance_id=IID, lid=lid, phone_jid=phone)


@pytest.fixture(params=BACKENDS)
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rig]:
    yield from open_rig(request, tmp_path)


def chats(rig: Rig) -> list[dict[str, object]]:
    q = Query(where={"instanceId": IID}, order=(("updatedMs", True),))
    return rig.fake.find(CHATS, q) if rig.store is None else rig.store.find(CHATS, q)


def test_a_lids_chat_joins_the_phones_chat_once_they_are_paired(rig: Rig) -> None:
    rig.feed(received("L1", sender=LID), 1_000)
    rig.feed(sent("OUT1", to=LID, to_lid=LID), 2_000)
    rig.feed(received("P1", sender=PHONE), 3_000)
    rig.feed(received("L2", sender=LID), 4_000)
    assert {c["chatId"] for c in chats(rig)} == {LID, PHONE}

    rig.feed(learned(), 5_000)
    (chat,) = chats(rig)
    assert (chat["chatId"], chat["remoteJid"], chat["lid"]) == (PHONE, PHONE, LID)
    assert (chat["unreadCount"], chat["messageCount"], chat["updatedAt"]) == (3, 4, "1970-01-01T00:00:04.000Z")
    last = chat["lastMessage"]
    assert isinstance(last, dict)
    assert (last["messageId"], last["remoteJid"], last["chatLid"], last["sender"], last["fromLid"]) == (
        "L2",
        PHONE,
        LID,
        PHONE,
        LID,
    )
    for message_id in ("L1", "L2"):
        row = rig.public(message_id)
        assert (row["remoteJid"], row["chatLid"], row["sender"], row["fromLid"]) == (PHONE, LID, PHONE, LID)
    assert (rig.public("OUT1")["remoteJid"], rig.public("OUT1")["chatLid"]) == (PHONE, LID)
    assert (rig.public("P1")["remoteJid"], rig.public("P1")["chatLid"]) == (PHONE, None)  # arrived by phone


def test_the_phones_newer_last_message_and_name_stay(rig: Rig) -> None:
    rig.feed(received("L1", sender=LID, push_name="Ann (LID)"), 1_000)
    rig.feed(received("P1", sender=PHONE, push_name="Ann"), 2_000)
    rig.feed(learned(), 3_000)
    (chat,) = chats(rig)
    last = chat["lastMessage"]
    assert isinstance(last, dict)
    assert (chat["name"], last["messageId"], chat["updatedAt"]) == ("Ann", "P1", "1970-01-01T00:00:02.000Z")


def test_later_events_naming_the_lid_find_the_one_chat(rig: Rig) -> None:
    rig.feed(received("L1", sender=LID), 1_000)
    rig.feed(learned(), 2_000)
    rig.feed(received("L2", sender=LID), 3_000)  # recorded naming the LID (say, the read model lagged)
    rig.feed(received("G1", sender=LID, chat=GROUP), 4_000)
    by_id = {c["chatId"]: c for c in chats(rig)}
    assert set(by_id) == {PHONE, GROUP}
    assert (by_id[PHONE]["unreadCount"], by_id[PHONE]["lid"], by_id[GROUP]["lid"]) == (2, LID, None)
    row = rig.public("L2")
    assert (row["remoteJid"], row["chatLid"], row["sender"], row["fromLid"]) == (PHONE, LID, PHONE, LID)
    member = rig.public("G1")
    assert (member["remoteJid"], member["chatLid"], member["sender"], member["fromLid"]) == (GROUP, None, PHONE, LID)

    rig.feed(ChatRead(instance_id=IID, chat_jid=LID), 5_000)  # read by its LID: the one chat is read
    assert rig.chat(PHONE)["unreadCount"] == 0
    rig.feed(sent("OUT1", to=LID, to_lid=LID), 6_000)  # sent to the LID before the actor knew the phone
    rig.feed(MessageStatusChanged(instance_id=IID, message_id="OUT1", status="read", chat_jid=LID), 7_000)
    assert (rig.public("OUT1")["remoteJid"], rig.public("OUT1")["status"]) == (PHONE, "read")
    last = rig.chat(PHONE)["lastMessage"]
    assert (last["messageId"], last["status"], rig.chat(PHONE)["messageCount"]) == ("OUT1", "read", 3)


def test_a_pair_without_a_lid_chat_names_the_phones_chat_lid(rig: Rig) -> None:
    rig.feed(sent("OUT1", to=PHONE), 1_000)
    rig.feed(learned(), 2_000)
    assert rig.chat(PHONE)["lid"] == LID
    rig.feed(learned(OTHER_LID, "79005550000@s.whatsapp.net"), 3_000)  # nobody we talk to: nothing to show
    assert [c["chatId"] for c in chats(rig)] == [PHONE]


def test_a_message_that_names_both_keeps_its_lid_on_the_chat(rig: Rig) -> None:
    rig.feed(received("P1", sender=PHONE, from_lid=LID, chat_lid=LID), 1_000)
    assert (rig.chat(PHONE)["lid"], rig.public("P1")["fromLid"], rig.public("P1")["chatLid"]) == (LID, LID, LID)
    rig.feed(received("P2", sender=PHONE), 2_000)  # a later one that does not say keeps what is known
    assert rig.chat(PHONE)["lid"] == LID


def test_one_reaction_per_person_whether_named_by_phone_or_lid(rig: Rig) -> None:
    rig.feed(received("G1", sender=PHONE, chat=GROUP), 1_000)
    rig.feed(
        MessageReaction(instance_id=IID, message_id="G1", chat_jid=GROUP, sender_jid=LID, emoji="👍", from_lid=LID),
        2_000,
    )
    rig.feed(
        MessageReaction(instance_id=IID, message_id="G1", chat_jid=GROUP, sender_jid=PHONE, emoji="❤️", from_lid=LID),
        3_000,
    )
    assert rig.public("G1")["reactions"] == [{"from": PHONE, "emoji": "❤️"}]


def test_a_rebuild_makes_the_same_one_chat(rig: Rig) -> None:
    events = [received("L1", sender=LID), received("P1", sender=PHONE), learned(), received("L2", sender=LID)]
    for n, event in enumerate(events):
        rig.feed(event, 1_000 * (n + 1))
    before = rig.all_rows()
    rig.reset()
    for n, event in enumerate(events):
        rig.feed(event, 1_000 * (n + 1))
    assert rig.all_rows() == before


# ---- the queries -------------------------------------------------------------------------------


@pytest.fixture
def view(tmp_path: Path) -> Iterator[CatchingUpView]:
    store = open_store(tmp_path / "rm.db")
    yield CatchingUpView(store)
    store.close()


async def test_history_and_unread_of_either_jid_are_the_one_chats(view: CatchingUpView) -> None:
    queries = ReadQueries(view, trio.CapacityLimiter(2))
    view.record(IID, received("L1", sender=LID), 1_000)
    view.record(IID, received("P1", sender=PHONE), 2_000)
    view.record(IID, learned(), 3_000)
    view.record(IID, received("L2", sender=LID), 4_000)
    for jid in (PHONE, LID, "111111111111111:3@lid"):
        page = await queries.chat_messages(IID, jid)
        assert ([m["messageId"] for m in page.rows], page.total) == (["L2", "P1", "L1"], 3), jid
        unread = await queries.unread_incoming(IID, jid)
        assert [m["messageId"] for m in unread] == ["L2", "P1", "L1"], jid
    listed = await queries.chats(IID, 0, 10)
    assert [(c["chatId"], c["lid"], c["unreadCount"]) for c in listed.rows] == [(PHONE, LID, 3)]
    assert listed.total == 1
    assert (await queries.chat_messages(IID, OTHER_LID)).total == 0


async def test_known_identity_reads_without_waiting_for_the_projection(view: CatchingUpView) -> None:
    queries = ReadQueries(view, trio.CapacityLimiter(2))
    view.record(IID, learned(), 1_000)
    assert await queries.known_identity(IID, LID) is None  # not applied yet, and not waited for
    assert view.waits == []
    await view.synced("identities")
    assert await queries.known_identity(IID, LID) == (LID, PHONE)
    assert await queries.known_identity(IID, "79001110000:4@s.whatsapp.net") == (LID, PHONE)
    assert await queries.known_identity("another-instance", LID) is None
