"""Who the actor's events name (API-2 §5): the phone JID when the instance knows it, and the LID beside it.

A LID as a target (`to_jid`); `PeopleIndex` on its own (pairs recorded by this process, the read model's
pairs through its cache, nothing known); then the actor over the use-case rig: an incoming message whose
`IdentityIn` came first, one from a pair only the read model knows, one from a stranger's LID; a send to a
LID; reactions, edits, revokes, votes, receipts and presence named the same way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest
import trio
from trio.testing import MockClock

from tests.unit.usecase_rig import JID, PEER, Core, open_core, settle
from wamux.core.actor_base import ActorDeps, IdentityLookup, PeopleIndex
from wamux.core.instance_actor import InstanceActor
from wamux.core.ports import (
    EditIn,
    IdentityIn,
    IncomingMessage,
    Poll,
    PollVoteIn,
    PresenceIn,
    ReactionIn,
    Receipt,
    RevokeIn,
)
from wamux.domain.errors import ValidationFailed
from wamux.domain.events import (
    IdentityLearned,
    MessageEdited,
    MessageReaction,
    MessageReceived,
    MessageRevoked,
    MessageSent,
    MessageStatusChanged,
    PollVoted,
    PresenceUpdated,
)
from wamux.domain.phones import is_lid, is_phone_jid, person_jid, to_jid

INSTANCE = "inst-1"
ANN_LID = "111111111111111@lid"
ANN = "79005550001@s.whatsapp.net"
BOB_LID = "222222222222222@lid"
BOB = "79005550002@s.whatsapp.net"
STRANGER_LID = "333333333333333@lid"
GROUP = "120363025246125486@g.us"


class StoredPairs:
    """An `IdentityLookup` over pairs a test stages (the identities read model of earlier processes)."""

    def __init__(self, *pairs: tuple[str, str]) -> None:
        self.pairs = list(pairs)
        self.asked: list[str] = []

    async def known_identity(self, instance_id: str, jid: str) -> tuple[str, str] | None:
        self.asked.append(jid)
        await trio.lowlevel.checkpoint()
        return next((p for p in self.pairs if jid in p), None)


# ---- targets -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "jid"),
    [
        ("111111111111111@lid", ANN_LID),
        ("111111111111111:12@lid", ANN_LID),  # one device of the person: the person
        (" 111111111111111@lid ", ANN_LID),
    ],
)
def test_a_lid_is_a_target(given: str, jid: str) -> None:
    assert to_jid(given) == jid
    assert person_jid(given) == jid and is_lid(jid) and not is_phone_jid(jid)


@pytest.mark.parametrize(
    "bad", ["12@lid", "abc@lid", "111111111111111@lid.x", "@lid", "1111111111111111111111111@lid1"]
)
def test_what_is_not_a_lid_is_refused(bad: str) -> None:
    with pytest.raises(ValidationFailed):
        to_jid(bad)


# ---- PeopleIndex ---------------------------------------------------------------------------------


async def test_pairs_recorded_by_this_process_answer_both_ways_without_asking() -> None:
    stored = StoredPairs()
    recorded = {ANN_LID: ANN}
    index = PeopleIndex(INSTANCE, recorded, stored)
    assert await index.resolve(ANN_LID) == (ANN, ANN_LID)
    assert await index.resolve(ANN) == (ANN, ANN_LID)
    assert await index.resolve("111111111111111:7@lid") == (ANN, ANN_LID)  # any device is the person
    assert stored.asked == []


async def test_the_read_model_answers_what_this_process_did_not_record_once_per_person() -> None:
    stored = StoredPairs((BOB_LID, BOB))
    index = PeopleIndex(INSTANCE, {}, stored)
    for _ in range(3):
        assert await index.resolve(BOB_LID) == (BOB, BOB_LID)
        assert await index.resolve(BOB) == (BOB, BOB_LID)
    assert stored.asked == [BOB_LID, BOB]  # cached after the first answer


async def test_unknown_people_keep_their_jid_and_a_lid_stays_readable() -> None:
    stored = StoredPairs()
    index = PeopleIndex(INSTANCE, {}, stored)
    assert await index.resolve(STRANGER_LID) == (STRANGER_LID, STRANGER_LID)
    assert await index.resolve(ANN) == (ANN, None)
    assert await index.resolve(GROUP) == (GROUP, None)
    assert await index.resolve("status@broadcast") == ("status@broadcast", None)
    assert await index.resolve("") == ("", None)
    assert stored.asked == [STRANGER_LID, ANN]  # groups and broadcasts are nobody to look up
    assert await PeopleIndex(INSTANCE, {}, None).resolve(ANN_LID) == (ANN_LID, ANN_LID)


async def test_a_miss_is_cached_but_a_pair_learned_later_wins() -> None:
    stored = StoredPairs()
    recorded: dict[str, str] = {}
    index = PeopleIndex(INSTANCE, recorded, stored)
    assert await index.resolve(ANN_LID) == (ANN_LID, ANN_LID)
    assert await index.resolve(ANN) == (ANN, None)
    index.learned(ANN_LID, ANN)
    recorded[ANN_LID] = ANN  # as the account handlers record it right after
    assert await index.resolve(ANN_LID) == (ANN, ANN_LID)
    assert await index.resolve(ANN) == (ANN, ANN_LID)
    assert stored.asked == [ANN_LID, ANN]


async def test_a_lid_recorded_again_with_another_phone_drops_the_old_phone() -> None:
    stored = StoredPairs((ANN_LID, ANN))  # what an earlier process recorded
    recorded = {ANN_LID: ANN}
    index = PeopleIndex(INSTANCE, recorded, stored)
    assert await index.resolve(ANN) == (ANN, ANN_LID)
    index.learned(ANN_LID, BOB)
    recorded[ANN_LID] = BOB
    assert await index.resolve(ANN_LID) == (BOB, ANN_LID)
    assert await index.resolve(BOB) == (BOB, ANN_LID)
    assert await index.resolve(ANN) == (ANN, None)  # the read model's pair is stale now


async def test_the_cache_is_bounded() -> None:
    stored = StoredPairs()
    index = PeopleIndex(INSTANCE, {}, stored, size=2)
    for n in range(3):
        await index.resolve(f"7900000000{n}@s.whatsapp.net")
    await index.resolve("79000000000@s.whatsapp.net")  # evicted: asked again
    assert len(stored.asked) == 4


async def test_a_failing_lookup_names_the_person_as_given_and_is_asked_again() -> None:
    class Failing(StoredPairs):
        async def known_identity(self, instance_id: str, jid: str) -> tuple[str, str] | None:
            self.asked.append(jid)
            raise OSError("read model unavailable")

    failing = Failing()
    index = PeopleIndex(INSTANCE, {}, failing)
    assert await index.resolve(ANN_LID) == (ANN_LID, ANN_LID)
    assert await index.resolve(ANN_LID) == (ANN_LID, ANN_LID)
    assert failing.asked == [ANN_LID, ANN_LID]  # a failure is not cached


def test_the_servers_history_reader_answers_identities_unless_one_is_named() -> None:
    stored = StoredPairs()
    assert isinstance(stored, IdentityLookup)
    assert ActorDeps(history=stored).identities is stored  # type: ignore[arg-type]
    other = StoredPairs()
    assert ActorDeps(history=stored, identities=other).identities is other  # type: ignore[arg-type]
    assert ActorDeps().identities is None


# ---- the actor -----------------------------------------------------------------------------------


@pytest.fixture
async def core() -> AsyncIterator[Core]:
    async with open_core() as core:
        yield core


async def with_stored(core: Core, *pairs: tuple[str, str]) -> StoredPairs:
    """Actors created from now on know `pairs` as recorded before this process."""
    stored = StoredPairs(*pairs)
    core.supervisor.deps = dataclasses.replace(core.supervisor.deps, identities=stored)
    return stored


def text_from(sender: str, chat: str | None = None, message_id: str = "IN-1") -> IncomingMessage:
    chat = chat or sender
    return IncomingMessage(
        message_id=message_id,
        chat_jid=chat,
        sender_jid=sender,
        message_type="text",
        body="hi",
        is_group=chat.endswith("@g.us"),
    )


async def received(core: Core, actor: InstanceActor) -> MessageReceived:
    found: list[MessageReceived] = core.store.events(actor.id, MessageReceived)
    return found[-1]


async def test_a_message_from_a_lid_whose_phone_came_with_it_names_the_phone(
    core: Core, autojump_clock: MockClock
) -> None:
    actor = await core.connected(core.alice)
    session = core.session(actor)
    await session.report(IdentityIn(lid=ANN_LID, phone_jid=ANN))  # the event's sender alt, first
    await session.report(text_from(ANN_LID))
    assert core.types(actor)[-2:] == ["identity_learned", "message_received"]
    message = await received(core, actor)
    assert (message.sender_jid, message.from_lid, message.chat_jid, message.chat_lid) == (ANN, ANN_LID, ANN, ANN_LID)


async def test_a_pair_only_the_read_model_knows_names_the_phone_too(core: Core, autojump_clock: MockClock) -> None:
    stored = await with_stored(core, (BOB_LID, BOB))
    actor = await core.connected(core.alice)
    session = core.session(actor)
    await session.report(text_from(BOB_LID))
    await session.report(text_from(BOB, message_id="IN-2"))  # by phone: the LID rides along
    first, second = core.store.events(actor.id, MessageReceived)
    assert (first.sender_jid, first.from_lid, first.chat_jid, first.chat_lid) == (BOB, BOB_LID, BOB, BOB_LID)
    assert (second.sender_jid, second.from_lid, second.chat_jid, second.chat_lid) == (BOB, BOB_LID, BOB, BOB_LID)
    assert stored.asked.count(BOB_LID) == 1 and stored.asked.count(BOB) == 1
    assert core.store.events(actor.id, IdentityLearned) == []  # nothing new was learned


async def test_a_stranger_stays_a_lid_and_a_group_member_is_named_in_the_group(
    core: Core, autojump_clock: MockClock
) -> None:
    await with_stored(core, (BOB_LID, BOB))
    actor = await core.connected(core.alice)
    session = core.session(actor)
    await session.report(text_from(STRANGER_LID))
    await session.report(text_from(BOB_LID, GROUP, message_id="G-1"))
    await session.report(text_from(PEER, message_id="IN-3"))
    stranger, member, plain = core.store.events(actor.id, MessageReceived)
    assert (stranger.sender_jid, stranger.from_lid, stranger.chat_jid, stranger.chat_lid) == (
        STRANGER_LID,
        STRANGER_LID,
        STRANGER_LID,
        STRANGER_LID,
    )
    assert (member.sender_jid, member.from_lid, member.chat_jid, member.chat_lid) == (BOB, BOB_LID, GROUP, None)
    assert (plain.sender_jid, plain.from_lid, plain.chat_jid, plain.chat_lid) == (PEER, None, PEER, None)


async def test_a_send_to_a_lid_goes_to_the_lid_and_names_the_phone(core: Core, autojump_clock: MockClock) -> None:
    await with_stored(core, (BOB_LID, BOB))
    actor = await core.connected(core.alice)
    by_lid = await core.uc.messaging.send_text(core.alice, actor.id, BOB_LID, "hello")
    by_phone = await core.uc.messaging.send_text(core.alice, actor.id, BOB, "again")
    stranger = await core.uc.messaging.send_text(core.alice, actor.id, STRANGER_LID, "who?")
    to_group = await core.uc.messaging.send_text(core.alice, actor.id, GROUP, "all")
    assert [c.args[0].to for c in core.session(actor).called("send")] == [BOB_LID, BOB, STRANGER_LID, GROUP]
    sent = {e.message_id: (e.to, e.to_lid) for e in core.store.events(actor.id, MessageSent)}
    assert sent == {
        by_lid.message_id: (BOB, BOB_LID),
        by_phone.message_id: (BOB, BOB_LID),
        stranger.message_id: (STRANGER_LID, STRANGER_LID),
        to_group.message_id: (GROUP, None),
    }


async def test_reactions_edits_revokes_votes_receipts_and_presence_name_people_alike(
    core: Core, autojump_clock: MockClock
) -> None:
    await with_stored(core, (ANN_LID, ANN))
    actor = await core.connected(core.alice)
    session = core.session(actor)
    await session.report(text_from(ANN_LID))
    await core.receive(actor, "POLL-1", "Lunch?", sender=ANN, message_type="poll", poll=Poll("Lunch?", ("A", "B")))
    mid = (await core.uc.messaging.send_text(core.alice, actor.id, ANN_LID, "ours")).message_id
    await session.report(ReactionIn("IN-1", ANN_LID, ANN_LID, "👍"))
    await session.report(EditIn("IN-1", ANN_LID, ANN_LID, "hi!"))
    await session.report(PollVoteIn("POLL-1", ANN_LID, ANN_LID, selected_options=("A",)))
    await session.report(RevokeIn("IN-1", ANN_LID, ANN_LID))  # stored under the phone: still its sender
    await session.report(Receipt((mid,), "read", chat_jid=ANN_LID, sender_jid=ANN_LID))
    await session.report(PresenceIn(ANN_LID, ANN_LID, "typing"))
    await settle()
    for cls in (MessageReaction, MessageEdited, PollVoted, MessageRevoked, PresenceUpdated):
        (event,) = core.store.events(actor.id, cls)
        assert (event.chat_jid, event.chat_lid, event.sender_jid, event.from_lid) == (ANN, ANN_LID, ANN, ANN_LID)
    (status,) = core.store.events(actor.id, MessageStatusChanged)
    assert (status.chat_jid, status.chat_lid) == (ANN, ANN_LID)


async def test_our_own_reaction_names_the_chat_by_phone_with_its_lid(core: Core, autojump_clock: MockClock) -> None:
    await with_stored(core, (ANN_LID, ANN))
    actor = await core.connected(core.alice)
    await core.session(actor).report(text_from(ANN_LID))
    await core.uc.chats.react(core.alice, actor.id, "IN-1", "🎉")
    (reaction,) = core.store.events(actor.id, MessageReaction)
    assert (reaction.chat_jid, reaction.chat_lid, reaction.sender_jid, reaction.from_me) == (ANN, ANN_LID, JID, True)
