"""Use cases of contacts (`ContactUseCases`) over the fakes of the ports: the phone's list, add, save, import."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from trio.testing import MockClock

from tests.unit.usecase_rig import PEER, Core, open_core
from wamux.core.ports import RemoteContact, TransportError
from wamux.domain.errors import InstanceNotConnected, TransportFailed
from wamux.domain.events import ContactSaved, ContactsImported

GROUP = "120363025246125486@g.us"
PHONE_BOOK = [
    RemoteContact(jid=PEER, name="Bob", number="79007654321", push_name="bobby"),
    RemoteContact(jid=GROUP, name="Family", number="120363025246125486", is_group=True),
]


@pytest.fixture
async def core() -> AsyncIterator[Core]:
    async with open_core() as core:
        yield core


async def test_the_live_list_needs_a_connection(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.instance(core.alice)
    core.session(actor).contact_list = list(PHONE_BOOK)
    with pytest.raises(InstanceNotConnected):
        await core.uc.contacts.live(core.alice, actor.id)
    assert core.session(actor).called("contacts") == []


async def test_the_live_list_is_what_the_phone_knows(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    core.session(actor).contact_list = list(PHONE_BOOK)
    before = core.types(actor)
    assert await core.uc.contacts.live(core.alice, actor.id) == PHONE_BOOK
    assert core.types(actor) == before  # reading the list records nothing


async def test_a_failing_phone_is_transport_failed(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    core.session(actor).fail("contacts", TransportError("phone offline"), times=2)
    with pytest.raises(TransportFailed):
        await core.uc.contacts.live(core.alice, actor.id)
    with pytest.raises(TransportFailed):
        await core.uc.contacts.import_all(core.alice, actor.id)
    assert core.store.events(actor.id, ContactsImported) == []


@pytest.mark.parametrize(
    ("jid", "number", "group"),
    [(PEER, "79007654321", False), ("79007654321:12@s.whatsapp.net", "79007654321", False), (GROUP, GROUP[:-5], True)],
)
async def test_add_records_the_contact_with_its_number_and_kind(
    core: Core, autojump_clock: MockClock, jid: str, number: str, group: bool
) -> None:
    actor = await core.instance(core.alice)  # the address book needs no connection
    await core.uc.contacts.add(core.alice, actor.id, jid, "Someone")
    assert core.store.events(actor.id, ContactSaved) == [
        ContactSaved(instance_id=actor.id, jid=jid, number=number, name="Someone", is_group=group)
    ]


async def test_save_keeps_every_field_and_an_explicit_group_flag(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.instance(core.alice)
    await core.uc.contacts.save(
        core.alice,
        actor.id,
        PEER,
        name="Bob",
        push_name="bobby",
        is_group_chat=True,
        profile_picture="https://pps.example.com/bob.jpg",
        about="hi",
    )
    (saved,) = core.store.events(actor.id, ContactSaved)
    assert saved == ContactSaved(
        instance_id=actor.id,
        jid=PEER,
        number="79007654321",
        name="Bob",
        push_name="bobby",
        is_group=True,
        profile_picture="https://pps.example.com/bob.jpg",
        about="hi",
    )


async def test_import_records_the_phones_contacts_and_answers_how_many(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    core.session(actor).contact_list = list(PHONE_BOOK)
    assert await core.uc.contacts.import_all(core.alice, actor.id) == 2
    (imported,) = core.store.events(actor.id, ContactsImported)
    assert imported.contacts == [
        {"jid": PEER, "name": "Bob", "push_name": "bobby", "is_group": False},
        {"jid": GROUP, "name": "Family", "push_name": None, "is_group": True},
    ]


async def test_import_needs_a_connection(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.instance(core.alice)
    with pytest.raises(InstanceNotConnected):
        await core.uc.contacts.import_all(core.alice, actor.id)
    assert core.store.events(actor.id, ContactsImported) == []
