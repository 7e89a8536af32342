"""Who may act on which instance: another user's instance is not found (404, never 403) for every use case;
admins see and act on every instance."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from trio.testing import MockClock

from tests.unit.fake_account import make_group
from tests.unit.fake_reads import group_doc
from tests.unit.fakes import Fetched
from tests.unit.usecase_rig import GROUP, JID, PEER, Core, open_core
from wamux.core.ports import ContactCard, Location, Poll, Profile
from wamux.domain.errors import NotFound
from wamux.domain.users import User

URL = "https://media.example.com/a.jpg"
CODE = "AbCdEfGhIjKl"
PICTURE = b"\xff\xd8\xff\xe0 a picture"
UseCase = Callable[[Core, User, str], Awaitable[Any]]


async def owned(core: Core, caller: User, iid: str) -> Any:
    return core.uc.instances.owned(caller, iid)


def on_message(act: Callable[[Core, User, str], Awaitable[Any]]) -> UseCase:
    """A use case on message "M-1" of the instance: our own text, just sent (known to history only)."""

    def run(core: Core, caller: User, iid: str) -> Awaitable[Any]:
        core.history.answers[iid, "M-1"] = {
            "messageId": "M-1",
            "remoteJid": PEER,
            "sender": None,
            "fromMe": True,
            "messageType": "text",
            "content": "hi",
            "createdMs": core.clock.now_ms(),
        }
        return act(core, caller, iid)

    return run


def on_account(act: Callable[[Core, User, str], Awaitable[Any]]) -> UseCase:
    """A use case on the account: a group it administers (known to the read model), one it may join by
    `CODE`, a contact on WhatsApp (staged without recording anything)."""

    def run(core: Core, caller: User, iid: str) -> Awaitable[Any]:
        session = core.transport.session(iid)
        session.groups[GROUP] = make_group(GROUP, admins=[JID], members=[PEER])
        session.joinable[CODE] = make_group("120363000000000999@g.us", admins=[PEER])
        session.profiles[PEER] = Profile(jid=PEER, name="Bob")
        core.group_reads.answers[iid, GROUP] = group_doc(
            {"group_id": GROUP, "subject": "Team", "participants": [{"jid": JID, "isAdmin": True}, {"jid": PEER}]}
        )
        return act(core, caller, iid)

    return run


USE_CASES: dict[str, UseCase] = {
    "instances.owned": owned,
    "instances.update": lambda core, caller, iid: core.uc.instances.update(caller, iid, {"name": "Taken"}),
    "instances.delete": lambda core, caller, iid: core.uc.instances.delete(caller, iid),
    "instances.reconnect": lambda core, caller, iid: core.uc.instances.reconnect(caller, iid),
    "instances.logout": lambda core, caller, iid: core.uc.instances.logout(caller, iid),
    "instances.pair": lambda core, caller, iid: core.uc.instances.pair(caller, iid, "79001234567"),
    "messaging.send_text": lambda core, caller, iid: core.uc.messaging.send_text(caller, iid, PEER, "hi"),
    "messaging.send_url": lambda core, caller, iid: core.uc.messaging.send_url(
        caller, iid, PEER, URL, caption=None, file_name=None
    ),
    "messaging.send_upload": lambda core, caller, iid: core.uc.messaging.send_upload(
        caller, iid, PEER, b"%PDF-1.7", caption=None, file_name="a.pdf"
    ),
    "messaging.send_location": lambda core, caller, iid: core.uc.messaging.send_location(
        caller, iid, PEER, Location(55.75, 37.62)
    ),
    "messaging.send_contacts": lambda core, caller, iid: core.uc.messaging.send_contacts(
        caller, iid, PEER, [ContactCard("Bob", "79007654321")]
    ),
    "messaging.send_poll": lambda core, caller, iid: core.uc.messaging.send_poll(
        caller, iid, PEER, Poll("Lunch?", ("Pizza", "Sushi"))
    ),
    "messaging.forward": on_message(lambda core, caller, iid: core.uc.messaging.forward(caller, iid, "M-1", PEER)),
    "chats.mark_read": lambda core, caller, iid: core.uc.chats.mark_read(caller, iid, PEER),
    "chats.react": on_message(lambda core, caller, iid: core.uc.chats.react(caller, iid, "M-1", "👍")),
    "chats.edit": on_message(lambda core, caller, iid: core.uc.chats.edit(caller, iid, "M-1", "hello")),
    "chats.revoke": on_message(lambda core, caller, iid: core.uc.chats.revoke(caller, iid, "M-1")),
    "chats.set_presence": lambda core, caller, iid: core.uc.chats.set_presence(caller, iid, "typing", PEER),
    "chats.check": lambda core, caller, iid: core.uc.chats.check(caller, iid, ["79007654321"]),
    "contacts.live": lambda core, caller, iid: core.uc.contacts.live(caller, iid),
    "contacts.add": lambda core, caller, iid: core.uc.contacts.add(caller, iid, PEER, "Bob"),
    "contacts.save": lambda core, caller, iid: core.uc.contacts.save(caller, iid, PEER, name="Bob"),
    "contacts.import_all": lambda core, caller, iid: core.uc.contacts.import_all(caller, iid),
    "groups.joined": on_account(lambda core, caller, iid: core.uc.groups.joined(caller, iid, refresh=True)),
    "groups.get": on_account(lambda core, caller, iid: core.uc.groups.get(caller, iid, GROUP)),
    "groups.create": on_account(lambda core, caller, iid: core.uc.groups.create(caller, iid, "New", ["79001112233"])),
    "groups.update": on_account(lambda core, caller, iid: core.uc.groups.update(caller, iid, GROUP, {"subject": "X"})),
    "groups.set_picture": on_account(lambda core, caller, iid: core.uc.groups.set_picture(caller, iid, GROUP, PICTURE)),
    "groups.participants": on_account(
        lambda core, caller, iid: core.uc.groups.participants(caller, iid, GROUP, "add", ["79001112233"])
    ),
    "groups.invite": on_account(lambda core, caller, iid: core.uc.groups.invite(caller, iid, GROUP, revoke=True)),
    "groups.join": on_account(lambda core, caller, iid: core.uc.groups.join(caller, iid, link=None, code=CODE)),
    "groups.leave": on_account(lambda core, caller, iid: core.uc.groups.leave(caller, iid, GROUP)),
    "people.profile": on_account(lambda core, caller, iid: core.uc.people.profile(caller, iid, "79007654321")),
    "people.own_profile": lambda core, caller, iid: core.uc.people.own_profile(caller, iid),
    "people.set_own_profile": lambda core, caller, iid: core.uc.people.set_own_profile(
        caller, iid, name="Me", about=None
    ),
    "people.set_own_picture": lambda core, caller, iid: core.uc.people.set_own_picture(caller, iid, PICTURE),
    "people.set_blocked": lambda core, caller, iid: core.uc.people.set_blocked(caller, iid, PEER, True),
    "people.blocklist": lambda core, caller, iid: core.uc.people.blocklist(caller, iid),
    "people.privacy": lambda core, caller, iid: core.uc.people.privacy(caller, iid),
    "people.set_privacy": lambda core, caller, iid: core.uc.people.set_privacy(caller, iid, {"lastSeen": "none"}),
}


@pytest.fixture
async def core() -> AsyncIterator[Core]:
    async with open_core() as core:
        core.fetcher.pages[URL] = Fetched(b"\xff\xd8\xff\xe0", "image/jpeg")
        yield core


@pytest.mark.parametrize("name", USE_CASES)
async def test_another_users_instance_is_not_found(core: Core, autojump_clock: MockClock, name: str) -> None:
    actor = await core.connected(core.alice)
    before = core.types(actor)
    core.group_reads.asked.clear()  # the connect itself compared the groups with the read model
    with pytest.raises(NotFound):
        await USE_CASES[name](core, core.bob, actor.id)
    assert core.types(actor) == before  # nothing recorded
    session = core.session(actor)
    assert [c.method for c in session.calls if c.method not in ("connect", "ping", "joined_groups")] == []
    assert core.fetcher.calls == [] and core.media.files == {} and core.converter.calls == []
    assert core.history.asked == [] and core.group_reads.asked == []  # authorized before a read model is read
    assert core.supervisor.get(actor.id).running


@pytest.mark.parametrize("name", USE_CASES)
async def test_an_unknown_instance_is_not_found_even_for_an_admin(
    core: Core, autojump_clock: MockClock, name: str
) -> None:
    with pytest.raises(NotFound):
        await USE_CASES[name](core, core.admin, "00000000-0000-0000-0000-000000000000")


@pytest.mark.parametrize("name", USE_CASES)
async def test_an_admin_acts_on_every_instance(core: Core, autojump_clock: MockClock, name: str) -> None:
    actor = await core.connected(core.alice)
    if name == "instances.pair":
        await core.uc.instances.logout(core.alice, actor.id)  # pairing is for an instance without a link
    await USE_CASES[name](core, core.admin, actor.id)


async def test_the_owner_acts_on_its_own_instance(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    for name in ("instances.update", "messaging.send_text", "contacts.add", "chats.mark_read"):
        await USE_CASES[name](core, core.alice, actor.id)
    assert core.types(actor)[-4:] == ["updated", "message_sent", "contact_saved", "chat_read"]


async def test_each_user_sees_only_their_instances_and_admins_see_all(core: Core, autojump_clock: MockClock) -> None:
    a1 = await core.instance(core.alice, name="A1")
    a2 = await core.instance(core.alice, name="A2")
    b1 = await core.instance(core.bob, name="B1")
    assert {a.id for a in core.uc.instances.visible(core.alice)} == {a1.id, a2.id}
    assert {a.id for a in core.uc.instances.visible(core.bob)} == {b1.id}
    assert {a.id for a in core.uc.instances.visible(core.admin)} == {a1.id, a2.id, b1.id}
    await core.uc.instances.delete(core.admin, a2.id)
    assert {a.id for a in core.uc.instances.visible(core.alice)} == {a1.id}
