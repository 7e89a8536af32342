"""Groups on the simulated network: WhatsApp's admin rules, per-participant answers, invite codes, other members."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from tests.unit.test_simulator_session import ANN, BOB, GROUP, ME, Online, linked
from wamux.adapters.whatsapp.simulator import SimulatorTransport
from wamux.core.ports import (
    DirectoryEntry,
    GroupInfo,
    GroupJoinedIn,
    GroupParticipant,
    GroupParticipantsIn,
    GroupUpdatedIn,
    TransportError,
    TransportEvent,
)
from wamux.domain.errors import Conflict, NotFound, ValidationFailed

CARL = "79005550003@s.whatsapp.net"
NOBODY = "79009999999@s.whatsapp.net"
BOB_LID = "111111111111111@lid"
OWN_LID = "999999999999999@lid"
OTHER_GROUP = "120363000000000002@g.us"
GROUP_EVENTS = (GroupJoinedIn, GroupUpdatedIn, GroupParticipantsIn)


@pytest.fixture
async def online(tmp_path: Path) -> AsyncIterator[Online]:
    async with linked(tmp_path) as state:
        yield state


def members(group: GroupInfo | None) -> dict[str, tuple[bool, bool]]:
    """Who is in the group: JID → (admin, super admin)."""
    assert group is not None
    return {p.jid: (p.is_admin, p.is_super_admin) for p in group.participants}


def group_ops(online: Online) -> list[dict[str, Any]]:
    return [e for e in online.outbox() if e["type"] == "group_op"]


def group_events(online: Online) -> list[TransportEvent]:
    return [e for e in online.events if isinstance(e, GROUP_EVENTS)]


def group_after(online: Online) -> GroupInfo:
    phone = online.transport.phone("inst")
    return phone.groups[GROUP].info(phone.own)


def stage(online: Online, *, admin: bool, locked: bool = False, announce: bool = False) -> None:
    """GROUP with us (an admin or not), Bob its creator and Ann; the directory knows Bob, Ann and Carl."""
    online.transport.set_directory(
        "inst",
        [
            DirectoryEntry(phone=ME.split("@")[0], exists=True, lid=OWN_LID),
            DirectoryEntry(phone=BOB.split("@")[0], exists=True, lid=BOB_LID, name="Bob"),
            DirectoryEntry(phone=ANN.split("@")[0], exists=True),
            DirectoryEntry(phone=CARL.split("@")[0], exists=True),
        ],
    )
    participants = [GroupParticipant(BOB, is_admin=True, is_super_admin=True), GroupParticipant(ANN)]
    if admin:
        participants.append(GroupParticipant(ME, is_admin=True))
    info = GroupInfo(GROUP, "Team", "our team", locked=locked, announce=announce, participants=tuple(participants))
    online.transport.set_groups("inst", [info])


async def test_set_groups_makes_us_a_member_and_an_admin_only_when_listed_so(online: Online, tmp_path: Path) -> None:
    stage(online, admin=False)
    group = await online.session.group_info(GROUP)
    assert group is not None and (group.subject, group.description) == ("Team", "our team")
    assert members(group) == {ME: (False, False), BOB: (True, True), ANN: (False, False)}
    assert [(p.jid, p.lid) for p in group.participants][:2] == [(ME, OWN_LID), (BOB, BOB_LID)]  # LIDs the network knows
    stage(online, admin=True)
    assert members(await online.session.group_info(GROUP))[ME] == (True, False)
    assert [g.jid for g in await online.session.joined_groups()] == [GROUP]
    assert await online.session.group_info(OTHER_GROUP) is None
    # The network keeps its groups: a restarted server finds them.
    restarted = SimulatorTransport(tmp_path)
    assert restarted.phone("inst").groups[GROUP].info(restarted.phone("inst").own) == group_after(online)
    assert online.outbox() == []  # staging is not something the instance sent


async def test_groups_staged_before_the_link_know_our_phone_once_linked(tmp_path: Path) -> None:
    before = SimulatorTransport(tmp_path)
    before.session("inst")
    staged = (GroupParticipant(ME, is_admin=True), GroupParticipant(BOB, is_super_admin=True))
    before.set_groups("inst", [GroupInfo(GROUP, "Early", participants=staged)])
    async with linked(tmp_path) as state:  # a server started later, whose phone is then scanned
        group = await state.session.group_info(GROUP)
    assert group is not None and group.owner == BOB  # the creator is its super admin
    assert [(p.jid, p.is_admin, p.is_super_admin) for p in group.participants] == [(ME, True, False), (BOB, True, True)]


@pytest.mark.parametrize(
    ("locked", "change", "allowed"),
    [
        (False, {"subject": "New"}, True),
        (False, {"description": "New"}, True),
        (False, {"announce": True}, False),
        (False, {"locked": True}, False),
        (True, {"subject": "New"}, False),
        (True, {"description": "New"}, False),
    ],
)
async def test_a_member_who_is_no_admin_changes_only_an_unlocked_groups_info(
    online: Online, locked: bool, change: dict[str, Any], allowed: bool
) -> None:
    stage(online, admin=False, locked=locked)
    if allowed:
        await online.session.update_group(GROUP, **change)
        key, value = next(iter(change.items()))
        assert getattr(group_after(online), key) == value
        [op] = group_ops(online)
        assert (op["op"], op["to"], op[key]) == ("update", GROUP, value)
    else:
        with pytest.raises(TransportError) as caught:
            await online.session.update_group(GROUP, **change)
        assert (caught.value.code, caught.value.retryable) == ("not_authorized", False)
        assert group_ops(online) == [] and group_after(online).subject == "Team"
    assert group_events(online) == []  # our own change is not echoed: the core records it itself


async def test_an_admin_changes_everything_and_the_picture_is_kept(online: Online) -> None:
    stage(online, admin=True, locked=True)
    await online.session.update_group(GROUP, subject="Renamed", announce=True, locked=False, description="")
    group = group_after(online)
    assert (group.subject, group.announce, group.locked, group.description) == ("Renamed", True, False, None)
    await online.session.set_group_picture(GROUP, b"\xff\xd8\xff jpeg")
    assert online.transport.picture("inst", PurePosixPath("groups") / f"{GROUP}.jpg") == b"\xff\xd8\xff jpeg"
    update, picture = group_ops(online)
    assert (update["subject"], update["announce"], update["locked"]) == ("Renamed", True, False)
    assert (picture["op"], picture["mimeType"], picture["size"]) == ("picture", "image/jpeg", 8)


async def test_a_locked_groups_picture_is_for_admins(online: Online) -> None:
    stage(online, admin=False, locked=True)
    with pytest.raises(TransportError) as caught:
        await online.session.set_group_picture(GROUP, b"jpeg")
    assert caught.value.code == "not_authorized"
    assert online.transport.picture("inst", PurePosixPath("groups") / f"{GROUP}.jpg") is None


async def test_create_makes_us_super_admin_and_adds_only_people_on_whatsapp(online: Online) -> None:
    created = await online.session.create_group("Fresh", [BOB, ME, NOBODY])  # no directory yet: all are added
    assert members(created) == {ME: (True, True), NOBODY: (False, False), BOB: (False, False)}
    assert created.owner == ME and created.created_at and created.jid.endswith("@g.us")
    stage(online, admin=False)
    second = await online.session.create_group("Checked", [BOB_LID, NOBODY, ANN, ANN])
    assert members(second) == {ME: (True, True), BOB: (False, False), ANN: (False, False)}
    assert await online.session.group_info(second.jid) == second
    first_op, second_op = group_ops(online)
    assert (first_op["op"], first_op["to"], first_op["subject"]) == ("create", created.jid, "Fresh")
    assert second_op["participants"] == [BOB, ANN]
    assert group_events(online) == []


async def test_participants_get_whatsapps_answer_each(online: Online) -> None:
    stage(online, admin=True)
    answers = await online.session.update_participants(GROUP, "add", [CARL, ANN, NOBODY, CARL])
    assert [(r.jid, r.status) for r in answers] == [
        (CARL, "ok"),
        (ANN, "conflict"),  # already a member
        (NOBODY, "not_found"),  # no WhatsApp behind the number
        (CARL, "conflict"),  # added a moment ago
    ]
    removed = await online.session.update_participants(GROUP, "remove", [NOBODY, BOB, ANN])
    assert [r.status for r in removed] == ["not_found", "not_authorized", "ok"]  # the creator stays
    promoted = await online.session.update_participants(GROUP, "promote", [BOB_LID, CARL])
    assert [(r.jid, r.status) for r in promoted] == [(BOB, "ok"), (CARL, "ok")]  # a LID answers as its phone
    demoted = await online.session.update_participants(GROUP, "demote", [BOB, CARL, ANN])
    assert [r.status for r in demoted] == ["not_authorized", "ok", "not_found"]
    assert members(group_after(online)) == {ME: (True, False), BOB: (True, True), CARL: (False, False)}
    ops = group_ops(online)
    assert [(o["op"], o["action"]) for o in ops] == [
        ("participants", "add"),
        ("participants", "remove"),
        ("participants", "promote"),
        ("participants", "demote"),
    ]
    assert ops[0]["participants"] == [CARL, ANN, NOBODY, CARL]
    assert ops[0]["results"][:2] == [{"jid": CARL, "status": "ok"}, {"jid": ANN, "status": "conflict"}]
    assert group_events(online) == []


async def test_a_member_who_is_no_admin_is_not_authorized_for_anyone(online: Online) -> None:
    stage(online, admin=False)
    for action in ("add", "remove", "promote", "demote"):
        answers = await online.session.update_participants(GROUP, action, [CARL, ANN])
        assert [(r.jid, r.status) for r in answers] == [(CARL, "not_authorized"), (ANN, "not_authorized")]
    assert members(group_after(online)) == {ME: (False, False), BOB: (True, True), ANN: (False, False)}


async def test_an_admin_demoting_or_removing_itself(online: Online) -> None:
    stage(online, admin=True)
    [answer] = await online.session.update_participants(GROUP, "demote", [ME])
    assert answer.status == "ok" and members(group_after(online))[ME] == (False, False)
    stage(online, admin=True)
    [answer] = await online.session.update_participants(GROUP, "remove", [OWN_LID])
    assert answer.status == "ok" and await online.session.group_info(GROUP) is None


async def test_operations_on_a_group_we_are_not_in_are_not_found(online: Online) -> None:
    stage(online, admin=True)
    calls = [
        online.session.update_group(OTHER_GROUP, subject="x"),
        online.session.set_group_picture(OTHER_GROUP, b"jpeg"),
        online.session.update_participants(OTHER_GROUP, "add", [CARL]),
        online.session.group_invite(OTHER_GROUP),
        online.session.leave_group(OTHER_GROUP),
    ]
    for call in calls:
        with pytest.raises(TransportError) as caught:
            await call
        assert (caught.value.code, caught.value.retryable) == ("not_found", False)
    assert online.outbox() == []


async def test_invite_codes_are_stable_until_revoked_and_join_the_group(online: Online) -> None:
    stage(online, admin=True)
    code = await online.session.group_invite(GROUP)
    assert code == await online.session.group_invite(GROUP) and code.isalnum() and len(code) == 22
    assert group_ops(online) == []  # reading the link is a question
    new = await online.session.group_invite(GROUP, revoke=True)
    assert new != code and await online.session.group_invite(GROUP) == new
    assert await online.session.join_group(new) == GROUP  # already in it: nothing changes
    await online.session.leave_group(GROUP)
    assert await online.session.group_info(GROUP) is None and await online.session.joined_groups() == []
    with pytest.raises(TransportError) as caught:
        await online.session.join_group(code)  # revoked
    assert (caught.value.code, caught.value.retryable) == ("not_found", False)
    assert await online.session.join_group(new) == GROUP
    assert members(await online.session.group_info(GROUP))[ME] == (False, False)  # back, as a member
    assert [(o["op"], o.get("code")) for o in group_ops(online)] == [
        ("revoke_invite", new),
        ("leave", None),
        ("join", new),
    ]
    assert group_events(online) == []


async def test_only_admins_see_the_invite_link(online: Online) -> None:
    stage(online, admin=False)
    for revoke in (False, True):
        with pytest.raises(TransportError) as caught:
            await online.session.group_invite(GROUP, revoke=revoke)
        assert caught.value.code == "not_authorized"


# ---- what other members do ----------------------------------------------------------------------


async def test_being_added_to_a_new_group(online: Online) -> None:
    stage(online, admin=False)
    given = GroupInfo(OTHER_GROUP, "Party", participants=(GroupParticipant(ANN), GroupParticipant(BOB_LID)))
    await online.transport.deliver("inst", GroupJoinedIn(group=given, by=BOB))
    [event] = group_events(online)
    assert isinstance(event, GroupJoinedIn) and event.by == BOB
    assert event.group.subject == "Party" and event.group.owner == BOB and event.group.created_at
    assert members(event.group) == {ME: (False, False), BOB: (True, True), ANN: (False, False)}
    assert await online.session.group_info(OTHER_GROUP) == event.group
    with pytest.raises(Conflict):  # WhatsApp does not add us twice
        await online.transport.deliver("inst", GroupJoinedIn(group=given, by=BOB))
    with pytest.raises(ValidationFailed) as caught:
        await online.transport.deliver("inst", GroupJoinedIn(group=GroupInfo("120363000000000009@g.us", "")))
    assert caught.value.details == {"subject": "required"}
    assert len(group_events(online)) == 1


async def test_another_members_changes_change_the_group_first(online: Online) -> None:
    stage(online, admin=False)
    await online.transport.deliver("inst", GroupUpdatedIn(GROUP, subject="Renamed", locked=True, by=BOB_LID))
    await online.transport.deliver("inst", GroupParticipantsIn(GROUP, "add", (CARL,), by=BOB))
    await online.transport.deliver("inst", GroupParticipantsIn(GROUP, "promote", (ME, CARL), by=BOB))
    await online.transport.deliver("inst", GroupParticipantsIn(GROUP, "remove", (ANN,), by=BOB))
    updated, added, promoted, removed = group_events(online)
    assert isinstance(updated, GroupUpdatedIn) and updated.by == BOB  # the LID named as its phone
    assert (updated.subject, updated.locked, updated.announce) == ("Renamed", True, None)
    assert added == GroupParticipantsIn(GROUP, "add", (CARL,), by=BOB)
    assert promoted == GroupParticipantsIn(GROUP, "promote", (ME, CARL), by=BOB)
    assert removed == GroupParticipantsIn(GROUP, "remove", (ANN,), by=BOB)
    group = group_after(online)
    assert (group.subject, group.locked) == ("Renamed", True)
    assert members(group) == {ME: (True, False), BOB: (True, True), CARL: (True, False)}
    await online.session.update_group(GROUP, subject="Ours now")  # promoted: a locked group is ours to edit


@pytest.mark.parametrize(
    ("event", "error"),
    [
        (GroupParticipantsIn(GROUP, "add", (ANN,)), Conflict),
        (GroupParticipantsIn(GROUP, "remove", (CARL,)), Conflict),
        (GroupParticipantsIn(GROUP, "promote", (ANN, NOBODY)), Conflict),
        (GroupParticipantsIn(OTHER_GROUP, "remove", (ANN,)), NotFound),
        (GroupUpdatedIn(OTHER_GROUP, subject="x"), NotFound),
    ],
    ids=["add-a-member", "remove-a-stranger", "promote-a-stranger", "unknown-group", "update-unknown-group"],
)
async def test_events_whatsapp_would_not_send_are_refused(online: Online, event: TransportEvent, error: type) -> None:
    stage(online, admin=False)
    before = group_after(online)
    with pytest.raises(error):
        await online.transport.deliver("inst", event)
    assert group_after(online) == before and group_events(online) == []


async def test_being_removed_and_added_back(online: Online) -> None:
    stage(online, admin=True)
    await online.transport.deliver("inst", GroupParticipantsIn(GROUP, "remove", (OWN_LID,), by=BOB))
    assert group_events(online)[-1] == GroupParticipantsIn(GROUP, "remove", (ME,), by=BOB)  # our phone JID
    assert await online.session.group_info(GROUP) is None
    with pytest.raises(NotFound):  # no longer in it: no news of it
        await online.transport.deliver("inst", GroupUpdatedIn(GROUP, subject="x"))
    await online.transport.deliver("inst", GroupParticipantsIn(GROUP, "add", (ME, CARL), by=BOB))
    joined = group_events(online)[-1]
    assert isinstance(joined, GroupJoinedIn) and joined.by == BOB  # being added is joining: with the group's info
    assert members(joined.group) == {ME: (False, False), BOB: (True, True), ANN: (False, False), CARL: (False, False)}
