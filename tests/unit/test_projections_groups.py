"""The groups read model: a fold of the group events, the same on every backend and again after a rebuild."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.unit.projection_rig import BACKENDS, ProjectionRig, open_projection_rig
from wamux.domain.events import (
    Connected,
    GroupJoined,
    GroupParticipantsChanged,
    GroupsSynced,
    GroupUpdated,
    IdentityLearned,
    InstanceDeleted,
)
from wamux.projections.groups import GROUPS, GroupsProjection, group_key, group_summary, group_view

IID = "0190a5c2-0000-7000-8000-0000000000c1"
OTHER = "0190a5c2-0000-7000-8000-0000000000c2"
ME = "79009990000@s.whatsapp.net"
ME_DEVICE = "79009990000:12@s.whatsapp.net"
MY_LID = "88000000000099@lid"
ALICE = "79001110000@s.whatsapp.net"
BOB = "79002220000@s.whatsapp.net"
CAROL_LID = "88000000000003@lid"
G1 = "120363000000000001@g.us"
G2 = "120363000000000002@g.us"
G3 = "120363000000000003@g.us"


def member(jid: str, *, lid: str | None = None, admin: bool = False, super_admin: bool = False) -> dict[str, Any]:
    return {"jid": jid, "lid": lid, "isAdmin": admin, "isSuperAdmin": super_admin}


def fields(group_id: str, subject: str, *members: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A group as `groups_synced` lists it (GroupJoined's fields without instance_id)."""
    base: dict[str, Any] = {
        "group_id": group_id,
        "subject": subject,
        "description": None,
        "owner": None,
        "announce": False,
        "locked": False,
        "created_at": None,
        "participants": list(members),
    }
    return {**base, **extra}


def joined(group_id: str, subject: str, *members: dict[str, Any], instance_id: str = IID, **extra: Any) -> GroupJoined:
    return GroupJoined(instance_id=instance_id, group_id=group_id, subject=subject, participants=list(members), **extra)


def change(action: str, *jids: str, group_id: str = G1) -> GroupParticipantsChanged:
    return GroupParticipantsChanged(instance_id=IID, group_id=group_id, action=action, participants=list(jids), by=ME)


@pytest.fixture(params=BACKENDS)
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ProjectionRig]:
    yield from open_projection_rig(request, tmp_path, GroupsProjection())


def row(rig: ProjectionRig, group_id: str, instance_id: str = IID) -> dict[str, Any] | None:
    return rig.get(GROUPS, group_key(instance_id, group_id))


def members(rig: ProjectionRig, group_id: str) -> list[dict[str, Any]]:
    found = row(rig, group_id)
    assert found is not None, group_id
    assert found["participantsCount"] == len(found["participants"])
    return list(found["participants"])


def test_a_joined_group_is_a_row_with_the_contracts_fields(rig: ProjectionRig) -> None:
    rig.feed(
        IID,
        joined(
            G1,
            "Book club",
            member(ME_DEVICE, lid=MY_LID, admin=True, super_admin=True),
            member(ALICE),
            member(CAROL_LID),
            by=ME,
            description="Monthly books",
            owner=ME_DEVICE,
            announce=True,
            created_at=1_700_000_000,
        ),
    )
    found = row(rig, G1)
    assert found is not None
    assert group_summary(found) == {
        "id": G1,
        "subject": "Book club",
        "description": "Monthly books",
        "owner": ME,  # without the device part
        "participantsCount": 3,
        "announce": True,
        "locked": False,
        "createdAt": "2023-11-14T22:13:20.000Z",
    }
    assert found["participants"] == [
        member(ME, lid=MY_LID, admin=True, super_admin=True),
        member(ALICE),
        member(CAROL_LID, lid=CAROL_LID),  # a member known only by LID: its LID is its lid
    ]
    assert row(rig, G1, OTHER) is None


def test_group_updated_changes_only_the_fields_it_carries(rig: ProjectionRig) -> None:
    rig.feed(IID, joined(G1, "Book club", member(ALICE), description="Monthly"))
    rig.feed(IID, GroupUpdated(instance_id=IID, group_id=G1, announce=True, by=ALICE))
    rig.feed(IID, GroupUpdated(instance_id=IID, group_id=G1, subject="Reading circle", by=ALICE))
    rig.feed(IID, GroupUpdated(instance_id=IID, group_id=G1, locked=True, description=""))
    found = row(rig, G1)
    assert found is not None
    assert (found["subject"], found["description"], found["announce"], found["locked"]) == (
        "Reading circle",
        None,  # cleared, which is not "unchanged": it reads as none, as WhatsApp lists it
        True,
        True,
    )
    assert found["participants"] == [member(ALICE)]
    rig.feed(IID, GroupUpdated(instance_id=IID, group_id=G2, subject="Unknown"))
    assert row(rig, G2) is None  # an update of a group we do not know creates nothing


def test_participants_are_added_once_removed_promoted_and_demoted(rig: ProjectionRig) -> None:
    rig.feed(IID, joined(G1, "Club", member(ME, admin=True), member(ALICE, super_admin=True)))
    rig.feed(IID, change("add", BOB, CAROL_LID, "79001110000:3@s.whatsapp.net", BOB))
    assert [m["jid"] for m in members(rig, G1)] == [ME, ALICE, BOB, CAROL_LID]  # Alice was in already

    rig.feed(IID, change("promote", BOB, CAROL_LID))
    rig.feed(IID, change("demote", ALICE))
    by_jid = {m["jid"]: m for m in members(rig, G1)}
    assert by_jid[BOB]["isAdmin"] and by_jid[CAROL_LID]["isAdmin"]
    assert by_jid[ALICE] == member(ALICE)  # a demoted super admin is no admin at all

    rig.feed(IID, change("remove", BOB, CAROL_LID))
    assert [m["jid"] for m in members(rig, G1)] == [ME, ALICE]
    rig.feed(IID, change("remove", "79000000001@s.whatsapp.net"))  # not a member: nothing changes
    assert [m["jid"] for m in members(rig, G1)] == [ME, ALICE]
    rig.feed(IID, change("add", BOB, group_id=G2))
    assert row(rig, G2) is None


def test_a_member_named_by_its_lid_is_matched_by_the_lid_it_was_listed_with(rig: ProjectionRig) -> None:
    rig.feed(IID, joined(G1, "Club", member(ME, admin=True), member(ALICE, lid="88000000000001@lid")))
    rig.feed(IID, change("promote", "88000000000001@lid"))
    assert members(rig, G1)[1]["isAdmin"] is True
    rig.feed(IID, change("remove", "88000000000001@lid"))
    assert [m["jid"] for m in members(rig, G1)] == [ME]


def test_removing_our_own_jid_drops_the_group(rig: ProjectionRig) -> None:
    rig.feed(IID, Connected(instance_id=IID, jid=ME_DEVICE, push_name="Me"))
    rig.feed(IID, joined(G1, "One", member(ME), member(ALICE)))
    rig.feed(IID, joined(G2, "Two", member(ME), member(ALICE)))
    rig.feed(IID, change("remove", ME_DEVICE, group_id=G1))  # we left: the actor names us with our device JID
    assert row(rig, G1) is None
    assert row(rig, G2) is not None


def test_removing_our_lid_drops_the_group_once_an_identity_names_it(rig: ProjectionRig) -> None:
    rig.feed(IID, joined(G1, "One", member(ME), member(ALICE)))
    rig.feed(IID, joined(G2, "Two", member(ME), member(ALICE)))
    rig.feed(IID, joined(G3, "Three", member(ME, lid=MY_LID), member(ALICE)))
    rig.feed(IID, change("remove", MY_LID, group_id=G1))
    assert row(rig, G1) is not None  # whose LID that is was not known yet: nobody matched, nothing left

    rig.feed(IID, Connected(instance_id=IID, jid=ME))
    rig.feed(IID, change("remove", MY_LID, group_id=G3))  # the group listed our LID with us
    assert row(rig, G3) is None
    rig.feed(IID, IdentityLearned(instance_id=IID, lid=MY_LID, phone_jid=ME))
    rig.feed(IID, change("remove", MY_LID, group_id=G2))
    assert row(rig, G2) is None
    rig.feed(IID, Connected(instance_id=IID, jid=ME_DEVICE))  # connecting again keeps the LID we learned
    rig.feed(IID, joined(G1, "One", member(ME), member(ALICE)))
    rig.feed(IID, change("remove", MY_LID, group_id=G1))
    assert row(rig, G1) is None


def test_groups_synced_replaces_every_group_of_the_instance(rig: ProjectionRig) -> None:
    rig.feed(IID, joined(G1, "Old one", member(ME)))
    rig.feed(IID, joined(G2, "Stays", member(ME)))
    rig.feed(OTHER, joined(G1, "Another account's", member(ALICE), instance_id=OTHER))
    rig.feed(
        IID,
        GroupsSynced(
            instance_id=IID,
            groups=[
                fields(G2, "Stays, renamed", member(ME), member(BOB, admin=True)),
                fields(G3, "New", member(ME), locked=True, created_at=1_700_000_001),
            ],
        ),
    )
    assert row(rig, G1) is None
    stays = row(rig, G2)
    assert stays is not None and stays["subject"] == "Stays, renamed" and stays["participantsCount"] == 2
    new = row(rig, G3)
    assert new is not None and new["locked"] is True and new["createdAt"] == "2023-11-14T22:13:21.000Z"
    other = row(rig, G1, OTHER)
    assert other is not None and other["subject"] == "Another account's"

    rig.feed(IID, GroupsSynced(instance_id=IID, groups=[]))
    assert row(rig, G2) is None and row(rig, G3) is None
    assert row(rig, G1, OTHER) is not None


def test_a_deleted_instance_has_no_groups_left(rig: ProjectionRig) -> None:
    rig.feed(IID, Connected(instance_id=IID, jid=ME))
    rig.feed(IID, joined(G1, "One", member(ME)))
    rig.feed(OTHER, joined(G1, "Other", member(ALICE), instance_id=OTHER))
    rig.feed(IID, InstanceDeleted(instance_id=IID))
    rows = rig.everything()
    assert [r["instanceId"] for r in rows["groups"]] == [OTHER]
    assert rows["group_accounts"] == []


def test_a_rebuild_gives_the_same_rows(rig: ProjectionRig) -> None:
    rig.feed(IID, Connected(instance_id=IID, jid=ME_DEVICE))
    rig.feed(IID, GroupsSynced(instance_id=IID, groups=[fields(G1, "One", member(ME), member(ALICE))]))
    rig.feed(IID, joined(G2, "Two", member(ME, admin=True), created_at=1_700_000_000))
    rig.feed(IID, change("add", BOB, CAROL_LID, group_id=G2))
    rig.feed(IID, change("promote", BOB, group_id=G2))
    rig.feed(IID, GroupUpdated(instance_id=IID, group_id=G2, subject="Two!", announce=True))
    rig.feed(IID, joined(G3, "Three", member(ME), member(ALICE)))
    rig.feed(IID, change("remove", ME, group_id=G3))
    before = rig.everything()
    assert [r["id"] for r in before["groups"]] == [G1, G2]
    rig.rebuild()
    assert rig.everything() == before


# ---- what is read ------------------------------------------------------------------------------


def test_group_view_shows_members_under_their_phone_jid_and_lid_when_known() -> None:
    row_ = {
        "id": G1,
        "subject": "Club",
        "description": None,
        "owner": ME,
        "participantsCount": 4,
        "announce": False,
        "locked": False,
        "createdAt": None,
        "instanceId": IID,
        "sortSubject": "club",
        "participants": [
            member(ME, lid=MY_LID, admin=True),
            member(ALICE),
            member(CAROL_LID, lid=CAROL_LID),
            member("88000000000007@lid", lid="88000000000007@lid"),
        ],
    }
    known = {ALICE: "88000000000001@lid", CAROL_LID: "79003330000@s.whatsapp.net"}
    view = group_view(row_, known.get)
    assert "instanceId" not in view and "sortSubject" not in view
    assert view["participants"] == [
        {"jid": ME, "phone": "79009990000", "lid": MY_LID, "isAdmin": True, "isSuperAdmin": False},
        {"jid": ALICE, "phone": "79001110000", "lid": "88000000000001@lid", "isAdmin": False, "isSuperAdmin": False},
        {
            "jid": "79003330000@s.whatsapp.net",
            "phone": "79003330000",
            "lid": CAROL_LID,
            "isAdmin": False,
            "isSuperAdmin": False,
        },
        {
            "jid": "88000000000007@lid",
            "phone": None,
            "lid": "88000000000007@lid",
            "isAdmin": False,
            "isSuperAdmin": False,
        },
    ]
    assert {k: v for k, v in view.items() if k != "participants"} == group_summary(row_)
