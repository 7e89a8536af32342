"""The identities read model: LID ⇄ phone JID pairs, one get away in either direction, on every backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.projection_rig import BACKENDS, ProjectionRig, open_projection_rig
from wamux.domain.events import IdentityLearned, InstanceDeleted
from wamux.projections.identities import IDENTITIES, IdentitiesProjection, identity_key, person_jid

IID = "0190a5c2-0000-7000-8000-0000000000d1"
OTHER = "0190a5c2-0000-7000-8000-0000000000d2"
ALICE = "79001110000@s.whatsapp.net"
ALICE_LID = "88000000000001@lid"
BOB = "79002220000@s.whatsapp.net"
BOB_LID = "88000000000002@lid"


@pytest.fixture(params=BACKENDS)
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ProjectionRig]:
    yield from open_projection_rig(request, tmp_path, IdentitiesProjection())


def learn(lid: str, phone_jid: str, instance_id: str = IID) -> IdentityLearned:
    return IdentityLearned(instance_id=instance_id, lid=lid, phone_jid=phone_jid)


def pair(rig: ProjectionRig, jid: str, instance_id: str = IID) -> tuple[str, str] | None:
    row = rig.get(IDENTITIES, identity_key(instance_id, jid))
    return None if row is None else (row["lid"], row["phoneJid"])


def test_a_learned_pair_is_found_by_either_jid(rig: ProjectionRig) -> None:
    rig.feed(IID, learn(ALICE_LID, "79001110000:7@s.whatsapp.net"))
    assert pair(rig, ALICE_LID) == (ALICE_LID, ALICE)
    assert pair(rig, ALICE) == (ALICE_LID, ALICE)
    assert pair(rig, "79001110000:3@s.whatsapp.net") == (ALICE_LID, ALICE)  # any device of the phone
    assert pair(rig, "79001110000") == (ALICE_LID, ALICE)  # bare digits name the phone JID
    assert pair(rig, ALICE, OTHER) is None
    assert pair(rig, BOB) is None


def test_learning_a_pair_again_changes_nothing(rig: ProjectionRig) -> None:
    rig.feed(IID, learn(ALICE_LID, ALICE))
    before = rig.everything()
    rig.feed(IID, learn(ALICE_LID, ALICE))
    assert rig.everything() == before
    assert len(before["identities"]) == 2


def test_a_lid_with_a_new_phone_drops_the_old_phone(rig: ProjectionRig) -> None:
    rig.feed(IID, learn(ALICE_LID, ALICE))
    rig.feed(IID, learn(ALICE_LID, BOB))
    assert pair(rig, ALICE_LID) == (ALICE_LID, BOB)
    assert pair(rig, BOB) == (ALICE_LID, BOB)
    assert pair(rig, ALICE) is None
    assert len(rig.everything()["identities"]) == 2


def test_a_phone_with_a_new_lid_drops_the_old_lid(rig: ProjectionRig) -> None:
    rig.feed(IID, learn(ALICE_LID, ALICE))
    rig.feed(IID, learn(BOB_LID, BOB))
    rig.feed(IID, learn(BOB_LID, ALICE))  # Bob's LID now names Alice's phone: both old halves go
    assert pair(rig, ALICE) == (BOB_LID, ALICE)
    assert pair(rig, BOB_LID) == (BOB_LID, ALICE)
    assert pair(rig, ALICE_LID) is None
    assert pair(rig, BOB) is None
    assert len(rig.everything()["identities"]) == 2


def test_a_deleted_instance_forgets_its_identities_only(rig: ProjectionRig) -> None:
    rig.feed(IID, learn(ALICE_LID, ALICE))
    rig.feed(OTHER, learn(ALICE_LID, ALICE, OTHER))
    rig.feed(IID, InstanceDeleted(instance_id=IID))
    assert pair(rig, ALICE) is None and pair(rig, ALICE_LID) is None
    assert pair(rig, ALICE, OTHER) == (ALICE_LID, ALICE)


def test_a_rebuild_gives_the_same_rows(rig: ProjectionRig) -> None:
    rig.feed(IID, learn(ALICE_LID, ALICE))
    rig.feed(IID, learn(BOB_LID, BOB))
    rig.feed(IID, learn(ALICE_LID, "79003330000@s.whatsapp.net"))
    rig.feed(OTHER, learn(BOB_LID, BOB, OTHER))
    before = rig.everything()
    assert len(before["identities"]) == 6
    rig.rebuild()
    assert rig.everything() == before


@pytest.mark.parametrize(
    ("given", "jid"),
    [
        ("79001110000:12@s.whatsapp.net", ALICE),
        (" 79001110000@s.whatsapp.net ", ALICE),
        ("+79001110000", ALICE),
        ("88000000000001:3@lid", ALICE_LID),
        ("120363000000000001@g.us", "120363000000000001@g.us"),
        ("not a jid", "not a jid"),
    ],
)
def test_person_jids_lose_their_device_part(given: str, jid: str) -> None:
    assert person_jid(given) == jid
