"""What the wire reports about the account (`wamux.core.actor_account`), over the use-case rig: group events
become their domain events, a LID ⇄ phone pair is recorded once, calls are recorded (and rejected and
answered with `settings.rejectCalls`), and the groups are read from WhatsApp once connected.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import trio
from trio.testing import MockClock

from tests.unit.fake_account import make_group
from tests.unit.usecase_rig import GROUP, JID, PEER, WAIT_S, Core, open_core, reach, settle
from wamux.core.instance_actor import InstanceActor
from wamux.core.ports import (
    CallIn,
    GroupInfo,
    GroupJoinedIn,
    GroupParticipantsIn,
    GroupUpdatedIn,
    IdentityIn,
    OutgoingMessage,
    TransportError,
    TransportEvent,
)
from wamux.domain.events import (
    CallReceived,
    GroupJoined,
    GroupParticipantsChanged,
    GroupsSynced,
    GroupUpdated,
    IdentityLearned,
    MessageSent,
)

OTHER = "79001112233@s.whatsapp.net"
PEER_LID = "246813579024680@lid"
TEAM = make_group(GROUP, "Team", admins=[PEER], members=[JID, OTHER], lids={PEER: PEER_LID}, description="Us")
REPLY = "Sorry, I cannot take calls. Please write."
REJECTING = {"settings": {"rejectCalls": True, "rejectCallMessage": REPLY}}


@pytest.fixture
async def core() -> AsyncIterator[Core]:
    async with open_core() as core:
        yield core


async def delivered(core: Core, actor: InstanceActor, event: TransportEvent) -> list[str]:
    """Report `event` from the wire; the types of what the actor appended for it."""
    before = len(core.types(actor))
    await core.session(actor).report(event)
    return core.types(actor)[before:]


async def in_team(core: Core, **body: Any) -> InstanceActor:
    actor = await core.connected(core.alice, **body)
    assert await delivered(core, actor, GroupJoinedIn(TEAM, by=PEER)) == ["group_joined"]
    return actor


async def team(core: Core, actor: InstanceActor) -> dict[str, Any] | None:
    return await core.group_reads.group(actor.id, GROUP)


def admins(doc: dict[str, Any] | None) -> list[str]:
    assert doc is not None
    return [m["jid"] for m in doc["participants"] if m["isAdmin"]]


# ---- groups from the wire --------------------------------------------------------------------


async def test_being_added_to_a_group_is_group_joined_with_its_members(core: Core, autojump_clock: MockClock) -> None:
    actor = await in_team(core)
    (joined,) = core.store.events(actor.id, GroupJoined)
    assert (joined.group_id, joined.subject, joined.by, joined.description) == (GROUP, "Team", PEER, "Us")
    assert joined.participants == [
        {"jid": PEER, "lid": PEER_LID, "isAdmin": True, "isSuperAdmin": False},
        {"jid": JID, "lid": None, "isAdmin": False, "isSuperAdmin": False},
        {"jid": OTHER, "lid": None, "isAdmin": False, "isSuperAdmin": False},
    ]
    doc = await team(core, actor)
    assert doc is not None and doc["participantsCount"] == 3


async def test_a_change_of_the_groups_info_is_group_updated(core: Core, autojump_clock: MockClock) -> None:
    actor = await in_team(core)
    assert await delivered(core, actor, GroupUpdatedIn(GROUP, subject="Team!", locked=True, by=PEER)) == [
        "group_updated"
    ]
    assert core.store.events(actor.id, GroupUpdated) == [
        GroupUpdated(instance_id=actor.id, group_id=GROUP, subject="Team!", locked=True, by=PEER)
    ]
    doc = await team(core, actor)
    assert doc is not None and (doc["subject"], doc["description"], doc["locked"], doc["announce"]) == (
        "Team!",
        "Us",
        True,
        False,
    )


@pytest.mark.parametrize(
    ("action", "who", "admins_after", "count"),
    [
        ("add", ("79005556677@s.whatsapp.net",), [PEER], 4),
        ("remove", (OTHER,), [PEER], 2),
        ("remove", (PEER_LID,), [], 2),  # named by the LID
        ("promote", (JID, OTHER), [PEER, JID, OTHER], 3),
        ("demote", (PEER,), [], 3),
    ],
)
async def test_participant_changes_are_group_participants(
    core: Core, autojump_clock: MockClock, action: str, who: tuple[str, ...], admins_after: list[str], count: int
) -> None:
    actor = await in_team(core)
    change = GroupParticipantsIn(GROUP, action, who, by=PEER)
    assert await delivered(core, actor, change) == ["group_participants"]
    assert core.store.events(actor.id, GroupParticipantsChanged) == [
        GroupParticipantsChanged(instance_id=actor.id, group_id=GROUP, action=action, participants=list(who), by=PEER)
    ]
    doc = await team(core, actor)
    assert admins(doc) == admins_after and doc is not None and doc["participantsCount"] == count


async def test_being_removed_drops_the_group(core: Core, autojump_clock: MockClock) -> None:
    actor = await in_team(core)
    assert await delivered(core, actor, GroupParticipantsIn(GROUP, "remove", (JID,), by=PEER)) == ["group_participants"]
    assert await team(core, actor) is None
    assert await core.uc.groups.joined(core.alice, actor.id) == []


# ---- identities ------------------------------------------------------------------------------


async def test_a_lid_phone_pair_is_recorded_once(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    assert await delivered(core, actor, IdentityIn(PEER_LID, PEER)) == ["identity_learned"]
    assert await delivered(core, actor, IdentityIn(PEER_LID, PEER)) == []
    assert await delivered(core, actor, IdentityIn(PEER_LID, OTHER)) == ["identity_learned"]  # WhatsApp says otherwise
    assert core.store.events(actor.id, IdentityLearned) == [
        IdentityLearned(instance_id=actor.id, lid=PEER_LID, phone_jid=PEER),
        IdentityLearned(instance_id=actor.id, lid=PEER_LID, phone_jid=OTHER),
    ]


# ---- calls -----------------------------------------------------------------------------------


async def test_a_call_is_recorded_and_left_ringing_by_default(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    assert await delivered(core, actor, CallIn("CALL-1", PEER, is_video=True)) == ["call_received"]
    assert core.store.events(actor.id, CallReceived) == [
        CallReceived(instance_id=actor.id, call_id="CALL-1", from_jid=PEER, is_video=True)
    ]
    assert core.session(actor).called("reject_call") == [] and core.session(actor).called("send") == []


async def test_with_reject_calls_the_call_is_rejected_and_the_caller_answered(
    core: Core, autojump_clock: MockClock
) -> None:
    actor = await core.connected(core.alice, **REJECTING)
    assert await delivered(core, actor, CallIn("CALL-1", PEER)) == ["message_sent", "call_received"]
    session = core.session(actor)
    assert session.rejected == [("CALL-1", PEER)]
    assert [c.args for c in session.called("send")] == [(OutgoingMessage(to=PEER, kind="text", text=REPLY),)]
    (sent,) = core.store.events(actor.id, MessageSent)
    assert (sent.to, sent.message_type, sent.body) == (PEER, "text", REPLY)
    assert core.store.events(actor.id, CallReceived) == [
        CallReceived(
            instance_id=actor.id, call_id="CALL-1", from_jid=PEER, rejected=True, reply_message_id=sent.message_id
        )
    ]


async def test_a_call_from_a_lid_names_the_phone_and_is_rejected_and_answered_on_the_lid(
    core: Core, autojump_clock: MockClock
) -> None:
    actor = await core.connected(core.alice, **REJECTING)
    assert await delivered(core, actor, IdentityIn(lid=PEER_LID, phone_jid=PEER)) == ["identity_learned"]
    assert await delivered(core, actor, CallIn("CALL-2", PEER_LID)) == ["message_sent", "call_received"]
    session = core.session(actor)
    assert session.rejected == [("CALL-2", PEER_LID)]  # WhatsApp's own name for the caller, on the wire
    assert [c.args[0].to for c in session.called("send")] == [PEER_LID]
    (sent,) = core.store.events(actor.id, MessageSent)
    (call,) = core.store.events(actor.id, CallReceived)
    assert (sent.to, sent.to_lid, call.from_jid, call.from_lid) == (PEER, PEER_LID, PEER, PEER_LID)


async def test_without_a_message_the_call_is_only_rejected(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice, settings={"rejectCalls": True})
    assert await delivered(core, actor, CallIn("CALL-1", PEER)) == ["call_received"]
    assert core.session(actor).rejected == [("CALL-1", PEER)] and core.session(actor).called("send") == []
    assert core.store.events(actor.id, CallReceived)[0].rejected is True


async def test_a_group_call_is_rejected_but_not_answered(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice, **REJECTING)
    assert await delivered(core, actor, CallIn("CALL-1", PEER, is_group=True)) == ["call_received"]
    assert core.session(actor).rejected == [("CALL-1", PEER)] and core.session(actor).called("send") == []
    (call,) = core.store.events(actor.id, CallReceived)
    assert (call.is_group, call.rejected, call.reply_message_id) == (True, True, None)


async def test_a_failing_rejection_records_rejected_false_and_sends_nothing(
    core: Core, autojump_clock: MockClock
) -> None:
    actor = await core.connected(core.alice, **REJECTING)
    core.session(actor).fail("reject_call", TransportError("call already ended", retryable=False))
    assert await delivered(core, actor, CallIn("CALL-1", PEER)) == ["call_received"]
    assert core.store.events(actor.id, CallReceived)[0].rejected is False
    assert core.session(actor).called("send") == [] and actor.running and actor.status == "connected"


async def test_a_failing_answer_still_records_the_rejected_call(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice, **REJECTING)
    core.session(actor).fail("send", TransportError("offline"))
    assert await delivered(core, actor, CallIn("CALL-1", PEER)) == ["call_received"]
    (call,) = core.store.events(actor.id, CallReceived)
    assert (call.rejected, call.reply_message_id) == (True, None)


async def test_reject_calls_set_later_applies_to_the_next_call(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    await core.uc.instances.update(core.alice, actor.id, REJECTING)
    assert await delivered(core, actor, CallIn("CALL-1", PEER)) == ["message_sent", "call_received"]


# ---- the groups read once connected ----------------------------------------------------------


async def connect_in(core: Core, *groups: GroupInfo, fail: bool = False) -> InstanceActor:
    actor = await core.instance(core.alice)
    session = core.session(actor)
    session.groups = {g.jid: g for g in groups}
    if fail:
        session.fail("joined_groups", TransportError("not ready", retryable=False))
    await session.link(JID)
    await reach(actor, "connected")
    await settle()
    return actor


async def reconnect(core: Core, actor: InstanceActor) -> None:
    """The connection drops; wait for the next `connected` and what follows it."""
    connects = core.types(actor).count("connected")
    core.session(actor).drop()
    with trio.fail_after(WAIT_S):
        while core.types(actor).count("connected") == connects:
            await trio.sleep(0.1)
    await settle()


async def test_the_groups_are_recorded_once_connected(core: Core, autojump_clock: MockClock) -> None:
    actor = await connect_in(core, TEAM)
    assert core.types(actor)[-2:] == ["connected", "groups_synced"]
    (synced,) = core.store.events(actor.id, GroupsSynced)
    assert [g["group_id"] for g in synced.groups] == [GROUP]
    assert [g["subject"] for g in await core.uc.groups.joined(core.alice, actor.id)] == ["Team"]


async def test_an_account_without_groups_records_nothing(core: Core, autojump_clock: MockClock) -> None:
    actor = await connect_in(core)
    assert core.session(actor).called("joined_groups") != []
    assert "groups_synced" not in core.types(actor)


async def test_a_failing_group_read_changes_nothing(core: Core, autojump_clock: MockClock) -> None:
    actor = await connect_in(core, TEAM, fail=True)
    assert "groups_synced" not in core.types(actor)
    assert actor.status == "connected" and actor.running


async def test_a_reconnect_records_the_groups_again_only_when_they_changed(
    core: Core, autojump_clock: MockClock
) -> None:
    actor = await connect_in(core, TEAM)
    await reconnect(core, actor)
    assert core.types(actor).count("connected") == 2 and core.types(actor).count("groups_synced") == 1
    core.session(actor).groups[GROUP] = make_group(GROUP, "Renamed", admins=[PEER], members=[JID])
    await reconnect(core, actor)
    assert [e.groups[0]["subject"] for e in core.store.events(actor.id, GroupsSynced)] == ["Team", "Renamed"]


async def test_groups_left_while_the_server_was_down_are_dropped(core: Core, autojump_clock: MockClock) -> None:
    actor = await connect_in(core, TEAM)
    core.session(actor).groups = {}  # removed from the group while the server was down
    await core.restart()
    actor = core.supervisor.get(actor.id)
    await reach(actor, "connected")
    await settle()
    assert await core.uc.groups.joined(core.alice, actor.id) == []


async def test_a_group_rejoined_while_offline_comes_back(core: Core, autojump_clock: MockClock) -> None:
    actor = await connect_in(core, TEAM)
    await core.uc.groups.leave(core.alice, actor.id, GROUP)
    core.session(actor).groups = {GROUP: TEAM}  # added back while the connection was down: no event reached us
    await reconnect(core, actor)
    assert [g["id"] for g in await core.uc.groups.joined(core.alice, actor.id)] == [GROUP]
