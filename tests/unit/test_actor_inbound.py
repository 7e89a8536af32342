"""What the wire reports about messages already in history (`wamux.core.inbound`), over the use-case rig:
reactions, edits, revokes and poll votes are looked up in history (`ActorDeps.history`) and dropped as
WhatsApp drops them; presence is passed on as `presence_update`.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import pytest
from trio.testing import MockClock

from tests.unit.usecase_rig import GROUP, JID, PEER, Core, open_core
from wamux.core.instance_actor import InstanceActor
from wamux.core.ports import EditIn, Poll, PollVoteIn, PresenceIn, ReactionIn, RevokeIn, TransportEvent
from wamux.domain.events import MessageEdited, MessageReaction, MessageRevoked, PollVoted, PresenceUpdated

OTHER = "79001112233@s.whatsapp.net"


def sha(option: str) -> str:
    return hashlib.sha256(option.encode()).hexdigest()


@pytest.fixture
async def core() -> AsyncIterator[Core]:
    async with open_core() as core:
        yield core


async def delivered(core: Core, actor: InstanceActor, event: TransportEvent) -> list[str]:
    """Report `event` from the wire; the types of what the actor appended for it."""
    before = len(core.types(actor))
    await core.session(actor).report(event)
    return core.types(actor)[before:]


async def test_a_reaction_to_a_known_message_is_recorded(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    await core.receive(actor, "IN-1")
    assert await delivered(core, actor, ReactionIn("IN-1", PEER, PEER, "❤️")) == ["message_reaction"]
    assert core.store.events(actor.id, MessageReaction) == [
        MessageReaction(instance_id=actor.id, message_id="IN-1", chat_jid=PEER, sender_jid=PEER, emoji="❤️")
    ]


@pytest.mark.parametrize(
    "event",
    [
        ReactionIn("NOPE", PEER, PEER, "👍"),
        EditIn("NOPE", PEER, PEER, "changed"),
        RevokeIn("NOPE", PEER, PEER),
        PollVoteIn("NOPE", PEER, PEER, selected_options=("Pizza",)),
    ],
    ids=["reaction", "edit", "revoke", "vote"],
)
async def test_what_refers_to_an_unknown_message_is_ignored(
    core: Core, autojump_clock: MockClock, event: TransportEvent
) -> None:
    actor = await core.connected(core.alice)
    await core.receive(actor, "IN-1")
    assert await delivered(core, actor, event) == []
    assert core.history.asked[-1] == (actor.id, "NOPE")
    assert actor.running


async def test_an_edit_from_the_sender_replaces_the_text(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    await core.receive(actor, "IN-1", "helo")
    assert await delivered(core, actor, EditIn("IN-1", PEER, PEER, "hello")) == ["message_edited"]
    assert core.store.events(actor.id, MessageEdited) == [
        MessageEdited(instance_id=actor.id, message_id="IN-1", chat_jid=PEER, sender_jid=PEER, body="hello")
    ]


async def test_an_edit_from_someone_other_than_the_sender_is_ignored(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    await core.receive(actor, "G-1", "mine", sender=PEER, chat=GROUP)
    mid = (await core.uc.messaging.send_text(core.alice, actor.id, GROUP, "ours")).message_id
    assert await delivered(core, actor, EditIn("G-1", GROUP, OTHER, "not yours")) == []
    assert await delivered(core, actor, EditIn(mid, GROUP, OTHER, "not yours either")) == []


async def test_our_own_edit_from_the_phone_counts(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    mid = (await core.uc.messaging.send_text(core.alice, actor.id, PEER, "helo")).message_id
    assert await delivered(core, actor, EditIn(mid, PEER, JID, "hello", from_me=True)) == ["message_edited"]


async def test_an_edit_of_a_revoked_message_is_ignored(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    await core.receive(actor, "IN-1")
    assert await delivered(core, actor, RevokeIn("IN-1", PEER, PEER)) == ["message_revoked"]
    assert await delivered(core, actor, EditIn("IN-1", PEER, PEER, "back")) == []
    assert await delivered(core, actor, RevokeIn("IN-1", PEER, PEER)) == []  # revoked once


async def test_a_revoke_from_another_sender_counts_only_in_a_group(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    await core.receive(actor, "IN-1")
    await core.receive(actor, "G-1", sender=PEER, chat=GROUP)
    assert await delivered(core, actor, RevokeIn("IN-1", PEER, OTHER)) == []
    assert await delivered(core, actor, RevokeIn("G-1", GROUP, OTHER)) == ["message_revoked"]  # a group admin
    assert core.store.events(actor.id, MessageRevoked) == [
        MessageRevoked(instance_id=actor.id, message_id="G-1", chat_jid=GROUP, sender_jid=OTHER)
    ]


async def test_poll_vote_hashes_resolve_to_the_option_texts(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    poll = Poll("Lunch?", ("Pizza", "Sushi", "Soup"), selectable_count=2)
    mid = (await core.uc.messaging.send_poll(core.alice, actor.id, PEER, poll)).message_id
    vote = PollVoteIn(mid, PEER, PEER, selected_hashes=(sha("Soup"), sha("Pizza"), sha("Not an option")))
    assert await delivered(core, actor, vote) == ["poll_vote"]
    assert core.store.events(actor.id, PollVoted) == [
        PollVoted(
            instance_id=actor.id, message_id=mid, chat_jid=PEER, sender_jid=PEER, selected_options=["Soup", "Pizza"]
        )
    ]


async def test_poll_vote_texts_pass_and_an_empty_vote_withdraws(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    mid = (await core.uc.messaging.send_poll(core.alice, actor.id, PEER, Poll("Lunch?", ("A", "B")))).message_id
    await delivered(core, actor, PollVoteIn(mid, PEER, PEER, selected_options=("B",)))
    await delivered(core, actor, PollVoteIn(mid, PEER, PEER))
    assert [e.selected_options for e in core.store.events(actor.id, PollVoted)] == [["B"], []]


async def test_a_vote_on_a_message_that_is_not_a_poll_is_ignored(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    await core.receive(actor, "IN-1")
    assert await delivered(core, actor, PollVoteIn("IN-1", PEER, PEER, selected_options=("A",))) == []


@pytest.mark.parametrize(
    ("chat", "sender", "state"), [(PEER, PEER, "typing"), (GROUP, OTHER, "recording"), (PEER, PEER, "unavailable")]
)
async def test_presence_is_passed_on(core: Core, autojump_clock: MockClock, chat: str, sender: str, state: str) -> None:
    actor = await core.connected(core.alice)
    assert await delivered(core, actor, PresenceIn(chat, sender, state)) == ["presence_update"]
    assert core.store.events(actor.id, PresenceUpdated)[-1] == PresenceUpdated(
        instance_id=actor.id, chat_jid=chat, sender_jid=sender, state=state
    )
