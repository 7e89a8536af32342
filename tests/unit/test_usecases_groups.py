"""Use cases of groups (`GroupUseCases`, API-2 §4) over the fakes of the ports: the list and its refresh,
create, read, change, picture, participants, invite links, join, leave. Admin rights are checked on the
groups read model (`FakeGroupReads`, a fold of the store's group events) before WhatsApp is asked.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from trio.testing import MockClock

from tests.unit.fake_account import make_group
from tests.unit.usecase_rig import GROUP, JID, PEER, Core, open_core, reach, settle
from wamux.core.instance_actor import InstanceActor
from wamux.core.ports import GroupInfo, ParticipantResult, TransportError
from wamux.domain.errors import (
    ConversionFailed,
    GroupNotFound,
    InstanceNotConnected,
    NotGroupAdmin,
    TransportFailed,
    Unavailable,
    ValidationFailed,
)
from wamux.domain.events import GroupJoined, GroupParticipantsChanged, GroupsSynced, GroupUpdated

OTHER = "79001112233@s.whatsapp.net"
NEWCOMER = "79005556677@s.whatsapp.net"
CLUB = "120363111111111111@g.us"
OURS = make_group(GROUP, "Team", admins=[JID], members=[PEER])  # we administer it
THEIRS = make_group(CLUB, "Club", admins=[PEER], members=[JID])  # we are a plain member
LOCKED = make_group(CLUB, "Club", admins=[PEER], members=[JID], locked=True)
PICTURE = b"\x89PNG picture"


@pytest.fixture
async def core() -> AsyncIterator[Core]:
    async with open_core() as core:
        yield core


async def in_groups(core: Core, *groups: GroupInfo) -> InstanceActor:
    """A connected instance of alice whose account is in `groups` (read once connected)."""
    actor = await core.instance(core.alice)
    core.session(actor).groups = {g.jid: g for g in groups}
    await core.session(actor).link(JID)
    await reach(actor, "connected")
    await settle()
    return actor


async def group(core: Core, actor: InstanceActor, jid: str) -> dict[str, Any] | None:
    return await core.group_reads.group(actor.id, jid)


def member(doc: dict[str, Any] | None, jid: str) -> dict[str, Any] | None:
    assert doc is not None
    return next((m for m in doc["participants"] if m["jid"] == jid), None)


def wire(core: Core, actor: InstanceActor) -> list[str]:
    """The group and people calls made to WhatsApp (not connecting, liveness or the read after connecting)."""
    return [c.method for c in core.session(actor).calls if c.method not in ("connect", "ping", "joined_groups")]


# ---- the list ---------------------------------------------------------------------------------


async def test_the_list_is_read_from_whatsapp_once_connected(core: Core, autojump_clock: MockClock) -> None:
    actor = await in_groups(core, OURS, THEIRS)
    listed = await core.uc.groups.joined(core.alice, actor.id)  # by subject, without members
    assert [(g["id"], g["subject"], g["participantsCount"]) for g in listed] == [(CLUB, "Club", 2), (GROUP, "Team", 2)]
    assert all("participants" not in g for g in listed)
    assert core.types(actor).count("groups_synced") == 1


async def test_refresh_reads_whatsapp_again_and_replaces_the_list(core: Core, autojump_clock: MockClock) -> None:
    actor = await in_groups(core, OURS, THEIRS)
    session = core.session(actor)
    del session.groups[CLUB]  # left on the phone
    session.groups["120363222222222222@g.us"] = make_group("120363222222222222@g.us", "New", admins=[PEER])
    assert [g["id"] for g in await core.uc.groups.joined(core.alice, actor.id)] == [CLUB, GROUP]  # no refresh
    asked = len(session.called("joined_groups"))
    listed = await core.uc.groups.joined(core.alice, actor.id, refresh=True)
    assert len(session.called("joined_groups")) == asked + 1
    assert [g["id"] for g in listed] == ["120363222222222222@g.us", GROUP]
    synced = core.store.events(actor.id, GroupsSynced)[-1]
    assert [g["group_id"] for g in synced.groups] == [GROUP, "120363222222222222@g.us"]
    assert synced.groups[0]["participants"][0] == {"jid": JID, "lid": None, "isAdmin": True, "isSuperAdmin": False}


async def test_refresh_needs_a_connection_and_the_stored_list_does_not(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.instance(core.alice)
    assert await core.uc.groups.joined(core.alice, actor.id) == []
    with pytest.raises(InstanceNotConnected):
        await core.uc.groups.joined(core.alice, actor.id, refresh=True)
    assert "groups_synced" not in core.types(actor)


async def test_a_failing_refresh_keeps_the_list(core: Core, autojump_clock: MockClock) -> None:
    actor = await in_groups(core, OURS)
    core.session(actor).fail("joined_groups", TransportError("phone offline", retryable=False))
    with pytest.raises(TransportFailed):
        await core.uc.groups.joined(core.alice, actor.id, refresh=True)
    assert [g["id"] for g in await core.uc.groups.joined(core.alice, actor.id)] == [GROUP]
    assert core.types(actor).count("groups_synced") == 1


# ---- create and read -------------------------------------------------------------------------


async def test_create_records_that_we_joined_and_answers_the_members(core: Core, autojump_clock: MockClock) -> None:
    actor = await in_groups(core)
    created = await core.uc.groups.create(core.alice, actor.id, "Lunch", ["79007654321", "+7 900 111-22-33"])
    assert core.session(actor).called("create_group")[0].args == ("Lunch", (PEER, OTHER))
    (event,) = core.store.events(actor.id, GroupJoined)
    assert (event.group_id, event.subject, event.by, event.owner) == (created["id"], "Lunch", JID, JID)
    assert [(m["jid"], m["isAdmin"], m["isSuperAdmin"]) for m in created["participants"]] == [
        (JID, True, True),
        (PEER, False, False),
        (OTHER, False, False),
    ]
    assert created["subject"] == "Lunch" and created["participantsCount"] == 3
    assert created["createdAt"] == "2026-01-15T10:00:00.000Z"
    assert [g["id"] for g in await core.uc.groups.joined(core.alice, actor.id)] == [created["id"]]


@pytest.mark.parametrize(
    "participants", [[], ["not a phone"], [f"7900{n:07d}" for n in range(257)]], ids=["none", "bad", "257"]
)
async def test_create_refuses_bad_participants_before_whatsapp(
    core: Core, autojump_clock: MockClock, participants: list[str]
) -> None:
    actor = await in_groups(core)
    with pytest.raises(ValidationFailed):
        await core.uc.groups.create(core.alice, actor.id, "Lunch", participants)
    assert wire(core, actor) == [] and "group_joined" not in core.types(actor)


async def test_create_refused_by_whatsapp_records_nothing(core: Core, autojump_clock: MockClock) -> None:
    actor = await in_groups(core)
    core.session(actor).fail("create_group", TransportError("rate limited", retryable=False))
    with pytest.raises(TransportFailed):
        await core.uc.groups.create(core.alice, actor.id, "Lunch", ["79007654321"])
    assert "group_joined" not in core.types(actor)


async def test_get_answers_the_group_with_its_members(core: Core, autojump_clock: MockClock) -> None:
    actor = await in_groups(core, OURS)
    got = await core.uc.groups.get(core.alice, actor.id, GROUP)
    assert got["id"] == GROUP and [m["jid"] for m in got["participants"]] == [JID, PEER]
    assert member(got, PEER) == {
        "jid": PEER,
        "phone": "79007654321",
        "lid": None,
        "isAdmin": False,
        "isSuperAdmin": False,
    }


async def test_an_unknown_group_is_group_not_found(core: Core, autojump_clock: MockClock) -> None:
    actor = await in_groups(core, OURS)
    with pytest.raises(GroupNotFound) as raised:
        await core.uc.groups.get(core.alice, actor.id, CLUB)
    assert raised.value.code == "group_not_found" and raised.value.details == {"groupId": CLUB}
    for act in (
        core.uc.groups.update(core.alice, actor.id, CLUB, {"subject": "X"}),
        core.uc.groups.set_picture(core.alice, actor.id, CLUB, PICTURE),
        core.uc.groups.participants(core.alice, actor.id, CLUB, "add", ["79005556677"]),
        core.uc.groups.invite(core.alice, actor.id, CLUB),
        core.uc.groups.leave(core.alice, actor.id, CLUB),
    ):
        with pytest.raises(GroupNotFound):
            await act
    assert wire(core, actor) == [] and core.converter.calls == []


# ---- changes -----------------------------------------------------------------------------------


async def test_an_admin_changes_the_group(core: Core, autojump_clock: MockClock) -> None:
    actor = await in_groups(core, OURS)
    changes: dict[str, Any] = {"subject": "Team 2", "description": "", "announce": True, "locked": True}
    answer = await core.uc.groups.update(core.alice, actor.id, GROUP, changes)
    assert core.session(actor).called("update_group")[0].args == (GROUP, changes)
    assert core.store.events(actor.id, GroupUpdated) == [
        GroupUpdated(instance_id=actor.id, group_id=GROUP, by=JID, **changes)
    ]
    assert {k: answer[k] for k in changes} == changes


async def test_a_member_may_edit_an_unlocked_group(core: Core, autojump_clock: MockClock) -> None:
    actor = await in_groups(core, THEIRS)
    answer = await core.uc.groups.update(core.alice, actor.id, CLUB, {"subject": "Our club"})
    assert answer["subject"] == "Our club" and answer["description"] is None
    assert core.store.events(actor.id, GroupUpdated)[0].announce is None  # only what changed


@pytest.mark.parametrize(
    ("g", "changes"),
    [
        (LOCKED, {"subject": "Mine now"}),
        (LOCKED, {"description": "x"}),
        (THEIRS, {"announce": True}),
        (THEIRS, {"locked": True}),
    ],
    ids=["locked-subject", "locked-description", "announce", "locked"],
)
async def test_a_member_is_not_admin_before_whatsapp_is_asked(
    core: Core, autojump_clock: MockClock, g: GroupInfo, changes: dict[str, Any]
) -> None:
    actor = await in_groups(core, g)
    with pytest.raises(NotGroupAdmin) as raised:
        await core.uc.groups.update(core.alice, actor.id, CLUB, changes)
    assert raised.value.code == "not_group_admin"
    assert wire(core, actor) == [] and "group_updated" not in core.types(actor)


async def test_the_picture_is_converted_then_set(core: Core, autojump_clock: MockClock) -> None:
    actor = await in_groups(core, OURS, LOCKED)
    await core.uc.groups.set_picture(core.alice, actor.id, GROUP, PICTURE)
    assert core.converter.calls == [("picture", PICTURE, None)]
    assert core.session(actor).group_pictures == {GROUP: core.converter.picture_of(PICTURE)}
    with pytest.raises(NotGroupAdmin):
        await core.uc.groups.set_picture(core.alice, actor.id, CLUB, PICTURE)  # a locked group's
    core.converter.broken = True
    with pytest.raises(ConversionFailed):
        await core.uc.groups.set_picture(core.alice, actor.id, GROUP, b"not an image")
    assert len(core.session(actor).called("set_group_picture")) == 1


# ---- participants ----------------------------------------------------------------------------


async def test_participants_need_an_admin(core: Core, autojump_clock: MockClock) -> None:
    actor = await in_groups(core, THEIRS)
    with pytest.raises(NotGroupAdmin):
        await core.uc.groups.participants(core.alice, actor.id, CLUB, "add", ["79005556677"])
    assert wire(core, actor) == []


@pytest.mark.parametrize(
    ("action", "participants"),
    [("kick", ["79005556677"]), ("", ["79005556677"]), ("add", [f"7900{n:07d}" for n in range(257)]), ("add", [])],
    ids=["kick", "empty-action", "257", "nobody"],
)
async def test_bad_participant_changes_are_refused(
    core: Core, autojump_clock: MockClock, action: str, participants: list[str]
) -> None:
    actor = await in_groups(core, OURS)
    with pytest.raises(ValidationFailed):
        await core.uc.groups.participants(core.alice, actor.id, GROUP, action, participants)
    assert wire(core, actor) == []


async def test_256_participants_go_in_one_call(core: Core, autojump_clock: MockClock) -> None:
    actor = await in_groups(core, OURS)
    results = await core.uc.groups.participants(
        core.alice, actor.id, GROUP, "add", [f"7900{n:07d}" for n in range(256)]
    )
    assert len(results) == 256 and len(core.session(actor).called("update_participants")) == 1
    assert (await core.uc.groups.get(core.alice, actor.id, GROUP))["participantsCount"] == 258


async def test_whatsapps_answer_per_participant_is_passed_and_only_ok_recorded(
    core: Core, autojump_clock: MockClock
) -> None:
    actor = await in_groups(core, OURS)
    core.session(actor).refusals[OTHER] = "not_authorized"
    results = await core.uc.groups.participants(core.alice, actor.id, GROUP, "add", ["79005556677", "79001112233"])
    assert results == [ParticipantResult(NEWCOMER, "ok"), ParticipantResult(OTHER, "not_authorized")]
    assert core.store.events(actor.id, GroupParticipantsChanged) == [
        GroupParticipantsChanged(instance_id=actor.id, group_id=GROUP, action="add", participants=[NEWCOMER], by=JID)
    ]
    doc = await group(core, actor, GROUP)
    assert member(doc, NEWCOMER) is not None and member(doc, OTHER) is None


async def test_when_whatsapp_refuses_everyone_nothing_is_recorded(core: Core, autojump_clock: MockClock) -> None:
    actor = await in_groups(core, OURS)
    core.session(actor).refusals[PEER] = "not_authorized"
    results = await core.uc.groups.participants(core.alice, actor.id, GROUP, "remove", [PEER])
    assert results == [ParticipantResult(PEER, "not_authorized")]
    assert "group_participants" not in core.types(actor)


async def test_promote_demote_and_remove_show_in_the_group(core: Core, autojump_clock: MockClock) -> None:
    actor = await in_groups(core, OURS)
    await core.uc.groups.participants(core.alice, actor.id, GROUP, "promote", ["79007654321"])
    promoted = member(await group(core, actor, GROUP), PEER)
    assert promoted == {"jid": PEER, "phone": "79007654321", "lid": None, "isAdmin": True, "isSuperAdmin": False}
    await core.uc.groups.participants(core.alice, actor.id, GROUP, "demote", [PEER])
    demoted = member(await group(core, actor, GROUP), PEER)
    assert demoted is not None and demoted["isAdmin"] is False
    await core.uc.groups.participants(core.alice, actor.id, GROUP, "remove", [PEER])
    assert member(await group(core, actor, GROUP), PEER) is None
    assert [e.action for e in core.store.events(actor.id, GroupParticipantsChanged)] == ["promote", "demote", "remove"]


# ---- invite links, join, leave ---------------------------------------------------------------


async def test_the_invite_link_needs_an_admin(core: Core, autojump_clock: MockClock) -> None:
    actor = await in_groups(core, THEIRS)
    for revoke in (False, True):
        with pytest.raises(NotGroupAdmin):
            await core.uc.groups.invite(core.alice, actor.id, CLUB, revoke=revoke)
    assert wire(core, actor) == []


async def test_the_invite_link_and_its_revocation(core: Core, autojump_clock: MockClock) -> None:
    actor = await in_groups(core, OURS)
    before = core.types(actor)
    first = await core.uc.groups.invite(core.alice, actor.id, GROUP)
    assert first == {"code": first["code"], "link": f"https://chat.whatsapp.com/{first['code']}"}
    assert await core.uc.groups.invite(core.alice, actor.id, GROUP) == first  # the same until revoked
    revoked = await core.uc.groups.invite(core.alice, actor.id, GROUP, revoke=True)
    assert revoked["code"] != first["code"] and revoked["link"] == f"https://chat.whatsapp.com/{revoked['code']}"
    assert [c.args for c in core.session(actor).called("group_invite")] == [
        (GROUP, False),
        (GROUP, False),
        (GROUP, True),
    ]
    assert core.types(actor) == before  # links are not recorded


@pytest.mark.parametrize(
    ("link", "code"), [("https://chat.whatsapp.com/AbCdEfGhIjKl", None), (None, "AbCdEfGhIjKl")], ids=["link", "code"]
)
async def test_join_by_link_or_code(core: Core, autojump_clock: MockClock, link: str | None, code: str | None) -> None:
    actor = await in_groups(core)
    core.session(actor).joinable["AbCdEfGhIjKl"] = THEIRS
    assert await core.uc.groups.join(core.alice, actor.id, link=link, code=code) == CLUB
    assert core.session(actor).called("join_group")[0].args == ("AbCdEfGhIjKl",)
    (joined,) = core.store.events(actor.id, GroupJoined)
    assert (joined.group_id, joined.subject, joined.by) == (CLUB, "Club", JID)
    assert [g["id"] for g in await core.uc.groups.joined(core.alice, actor.id)] == [CLUB]


@pytest.mark.parametrize(
    ("link", "code"),
    [("https://example.com/AbCdEfGhIjKl", None), ("chat.whatsapp.com/AbCdEfGhIjKl", None), (None, "no"), (None, None)],
)
async def test_a_bad_invite_is_refused_before_whatsapp(
    core: Core, autojump_clock: MockClock, link: str | None, code: str | None
) -> None:
    actor = await in_groups(core)
    with pytest.raises(ValidationFailed):
        await core.uc.groups.join(core.alice, actor.id, link=link, code=code)
    assert wire(core, actor) == []


async def test_an_invite_whatsapp_does_not_know_records_nothing(core: Core, autojump_clock: MockClock) -> None:
    actor = await in_groups(core)
    with pytest.raises(TransportFailed):
        await core.uc.groups.join(core.alice, actor.id, link=None, code="UnknownCode1")
    assert "group_joined" not in core.types(actor)


async def test_leave_records_our_removal_and_the_group_is_gone(core: Core, autojump_clock: MockClock) -> None:
    actor = await in_groups(core, OURS, THEIRS)
    await core.uc.groups.leave(core.alice, actor.id, CLUB)  # a plain member may leave
    assert core.session(actor).called("leave_group")[0].args == (CLUB,)
    assert core.store.events(actor.id, GroupParticipantsChanged) == [
        GroupParticipantsChanged(instance_id=actor.id, group_id=CLUB, action="remove", participants=[JID], by=JID)
    ]
    assert [g["id"] for g in await core.uc.groups.joined(core.alice, actor.id)] == [GROUP]
    with pytest.raises(GroupNotFound):
        await core.uc.groups.get(core.alice, actor.id, CLUB)


async def test_a_failed_leave_keeps_the_group(core: Core, autojump_clock: MockClock) -> None:
    actor = await in_groups(core, OURS)
    core.session(actor).fail("leave_group", TransportError("timeout"))
    with pytest.raises(Unavailable):
        await core.uc.groups.leave(core.alice, actor.id, GROUP)
    assert "group_participants" not in core.types(actor)
    assert await group(core, actor, GROUP) is not None
