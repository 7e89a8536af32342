"""Use cases of people (`PeopleUseCases`, API-2 §5) over the fakes of the ports: a contact's profile (and the
LID ⇄ phone pair it reveals), our own profile and picture, blocking, privacy settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from trio.testing import MockClock

from tests.unit.fake_account import PRIVACY_DEFAULTS
from tests.unit.usecase_rig import GROUP, JID, PEER, Core, open_core
from wamux.core.instance_actor import InstanceActor
from wamux.core.ports import PRIVACY_SETTINGS, Profile, TransportError
from wamux.core.usecases.people import PRIVACY_VALUES
from wamux.domain.errors import ConversionFailed, InstanceNotConnected, NotFound, TransportFailed, ValidationFailed
from wamux.domain.events import IdentityLearned

PEER_LID = "246813579024680@lid"
BOB = Profile(jid=PEER, lid=PEER_LID, name="Bob's Bakery", push_name="bob", about="Fresh bread", is_business=True)
PICTURE = b"\x89PNG a picture"


@pytest.fixture
async def core() -> AsyncIterator[Core]:
    async with open_core() as core:
        yield core


def wire(core: Core, actor: InstanceActor) -> list[tuple[str, tuple[Any, ...]]]:
    """The calls made to WhatsApp besides connecting, liveness and the groups read after connecting."""
    calls = core.session(actor).calls
    return [(c.method, c.args) for c in calls if c.method not in ("connect", "ping", "joined_groups")]


# ---- a contact's profile ---------------------------------------------------------------------


async def test_a_number_not_on_whatsapp_is_not_found(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    before = core.types(actor)
    with pytest.raises(NotFound) as raised:
        await core.uc.people.profile(core.alice, actor.id, "79007654321")
    assert raised.value.details == {"contactId": "79007654321"}
    assert wire(core, actor) == [("profile", (PEER,))]
    assert core.types(actor) == before


async def test_a_profile_with_a_lid_records_the_pair_once(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    core.session(actor).profiles[PEER] = BOB
    assert await core.uc.people.profile(core.alice, actor.id, "+7 900 765-43-21") == BOB
    assert await core.uc.people.profile(core.alice, actor.id, PEER) == BOB
    assert core.store.events(actor.id, IdentityLearned) == [
        IdentityLearned(instance_id=actor.id, lid=PEER_LID, phone_jid=PEER)
    ]


async def test_a_profile_without_a_lid_records_nothing(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    core.session(actor).profiles[PEER] = Profile(jid=PEER, name="Bob")
    core.session(actor).profiles[PEER_LID] = Profile(jid=PEER_LID, lid=PEER_LID)  # the phone is not known
    before = core.types(actor)
    assert (await core.uc.people.profile(core.alice, actor.id, PEER)).name == "Bob"
    assert (await core.uc.people.profile(core.alice, actor.id, PEER_LID)).jid == PEER_LID  # asked by LID
    assert core.types(actor) == before


@pytest.mark.parametrize("contact", [GROUP, "status@broadcast", "not a phone", "79007654321@lid.example"])
async def test_a_profile_is_of_a_person(core: Core, autojump_clock: MockClock, contact: str) -> None:
    actor = await core.connected(core.alice)
    with pytest.raises(ValidationFailed):
        await core.uc.people.profile(core.alice, actor.id, contact)
    assert wire(core, actor) == []


async def test_profiles_need_a_connection(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.instance(core.alice)
    with pytest.raises(InstanceNotConnected):
        await core.uc.people.profile(core.alice, actor.id, PEER)
    with pytest.raises(InstanceNotConnected):
        await core.uc.people.own_profile(core.alice, actor.id)
    assert wire(core, actor) == []


# ---- our own profile -------------------------------------------------------------------------


async def test_our_own_profile_is_the_linked_account(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    own = await core.uc.people.own_profile(core.alice, actor.id)
    assert (own.jid, own.name, own.about) == (JID, "Me", "Hey there")


@pytest.mark.parametrize(
    ("name", "about", "answer"),
    [("Alice", None, ("Alice", "Hey there")), (None, "Busy", ("Me", "Busy")), ("Alice", "", ("Alice", ""))],
    ids=["name", "about", "both"],
)
async def test_set_our_name_or_about(
    core: Core, autojump_clock: MockClock, name: str | None, about: str | None, answer: tuple[str, str]
) -> None:
    actor = await core.connected(core.alice)
    before = core.types(actor)
    own = await core.uc.people.set_own_profile(core.alice, actor.id, name=name, about=about)
    assert (own.name, own.about) == answer  # read back from WhatsApp
    assert wire(core, actor) == [("set_profile", (name, about)), ("own_profile", ())]
    assert core.types(actor) == before


async def test_setting_nothing_is_refused(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    with pytest.raises(ValidationFailed):
        await core.uc.people.set_own_profile(core.alice, actor.id, name=None, about=None)
    assert wire(core, actor) == []


async def test_our_picture_goes_through_the_converter(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    await core.uc.people.set_own_picture(core.alice, actor.id, PICTURE)
    assert core.converter.calls == [("picture", PICTURE, None)]
    assert core.session(actor).own_picture == core.converter.picture_of(PICTURE)


async def test_a_picture_that_is_not_an_image_reaches_no_one(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    core.converter.broken = True
    with pytest.raises(ConversionFailed):
        await core.uc.people.set_own_picture(core.alice, actor.id, b"plain text")
    assert wire(core, actor) == []


# ---- blocking --------------------------------------------------------------------------------


async def test_block_and_unblock(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    await core.uc.people.set_blocked(core.alice, actor.id, "79007654321", True)
    await core.uc.people.set_blocked(core.alice, actor.id, PEER_LID, True)
    assert await core.uc.people.blocklist(core.alice, actor.id) == [PEER, PEER_LID]
    await core.uc.people.set_blocked(core.alice, actor.id, PEER, False)
    assert await core.uc.people.blocklist(core.alice, actor.id) == [PEER_LID]
    assert [args for method, args in wire(core, actor) if method == "set_blocked"] == [
        (PEER, True),
        (PEER_LID, True),
        (PEER, False),
    ]


@pytest.mark.parametrize("blocked", [True, False], ids=["block", "unblock"])
@pytest.mark.parametrize("contact", [GROUP, "120363025246125486@g.us", "someone", ""])
async def test_only_a_person_can_be_blocked(core: Core, autojump_clock: MockClock, contact: str, blocked: bool) -> None:
    actor = await core.connected(core.alice)
    with pytest.raises(ValidationFailed) as raised:
        await core.uc.people.set_blocked(core.alice, actor.id, contact, blocked)
    assert raised.value.details in ({"contactId": "invalid"}, {"phone": "invalid"})
    assert wire(core, actor) == []


async def test_a_block_whatsapp_refuses_is_transport_failed(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    core.session(actor).fail("set_blocked", TransportError("refused", retryable=False))
    with pytest.raises(TransportFailed):
        await core.uc.people.set_blocked(core.alice, actor.id, PEER, True)
    assert await core.uc.people.blocklist(core.alice, actor.id) == []


# ---- privacy ---------------------------------------------------------------------------------


async def test_privacy_is_what_whatsapp_says(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    assert await core.uc.people.privacy(core.alice, actor.id) == PRIVACY_DEFAULTS


async def test_set_privacy_changes_each_setting_and_answers_them_all(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    answer = await core.uc.people.set_privacy(core.alice, actor.id, {"lastSeen": "none", "online": "match_last_seen"})
    assert answer == {**PRIVACY_DEFAULTS, "lastSeen": "none", "online": "match_last_seen"}
    assert [args for method, args in wire(core, actor) if method == "set_privacy"] == [
        ("lastSeen", "none"),
        ("online", "match_last_seen"),
    ]


@pytest.mark.parametrize(("name", "value"), [(n, v) for n in PRIVACY_SETTINGS for v in PRIVACY_VALUES[n]])
async def test_every_value_whatsapp_accepts_is_accepted(
    core: Core, autojump_clock: MockClock, name: str, value: str
) -> None:
    actor = await core.connected(core.alice)
    assert (await core.uc.people.set_privacy(core.alice, actor.id, {name: value}))[name] == value


@pytest.mark.parametrize(
    ("changes", "details"),
    [
        ({"lastSeen": "none", "status": "all"}, {"status": "unknown"}),  # an unknown setting
        ({"lastSeen": "everyone"}, {"lastSeen": "invalid"}),  # an unknown value
        ({"online": "none"}, {"online": "invalid"}),  # a value of another setting
        ({"readReceipts": True}, {"readReceipts": "invalid"}),
        ({"groupAdd": None}, {"groupAdd": "invalid"}),
        ({}, {"privacy": "empty"}),
    ],
    ids=["setting", "value", "others-value", "bool", "null", "empty"],
)
async def test_bad_privacy_changes_are_refused_whole(
    core: Core, autojump_clock: MockClock, changes: dict[str, Any], details: dict[str, str]
) -> None:
    actor = await core.connected(core.alice)
    with pytest.raises(ValidationFailed) as raised:
        await core.uc.people.set_privacy(core.alice, actor.id, changes)
    assert raised.value.details == details
    assert wire(core, actor) == []  # not even the valid settings before the bad one
