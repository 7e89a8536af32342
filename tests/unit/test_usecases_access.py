"""Who may act on which instance: another user's instance is not found (404, never 403) for every use case;
admins see and act on every instance."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from trio.testing import MockClock

from tests.unit.fakes import Fetched
from tests.unit.usecase_rig import PEER, Core, open_core
from wamux.domain.errors import NotFound
from wamux.domain.users import User

URL = "https://media.example.com/a.jpg"
UseCase = Callable[[Core, User, str], Awaitable[Any]]


async def owned(core: Core, caller: User, iid: str) -> Any:
    return core.uc.instances.owned(caller, iid)


USE_CASES: dict[str, UseCase] = {
    "instances.owned": owned,
    "instances.update": lambda core, caller, iid: core.uc.instances.update(caller, iid, {"name": "Taken"}),
    "instances.delete": lambda core, caller, iid: core.uc.instances.delete(caller, iid),
    "instances.reconnect": lambda core, caller, iid: core.uc.instances.reconnect(caller, iid),
    "instances.logout": lambda core, caller, iid: core.uc.instances.logout(caller, iid),
    "instances.pair": lambda core, caller, iid: core.uc.instances.pair(caller, iid, "79001234567"),
    "messaging.send_text": lambda core, caller, iid: core.uc.messaging.send_text(caller, iid, PEER, "hi", key=None),
    "messaging.send_url": lambda core, caller, iid: core.uc.messaging.send_url(
        caller, iid, PEER, URL, caption=None, file_name=None, key=None
    ),
    "messaging.send_upload": lambda core, caller, iid: core.uc.messaging.send_upload(
        caller, iid, PEER, b"%PDF-1.7", caption=None, file_name="a.pdf", key=None
    ),
    "messaging.mark_read": lambda core, caller, iid: core.uc.messaging.mark_read(caller, iid, PEER),
    "contacts.live": lambda core, caller, iid: core.uc.contacts.live(caller, iid),
    "contacts.add": lambda core, caller, iid: core.uc.contacts.add(caller, iid, PEER, "Bob"),
    "contacts.save": lambda core, caller, iid: core.uc.contacts.save(caller, iid, PEER, name="Bob"),
    "contacts.import_all": lambda core, caller, iid: core.uc.contacts.import_all(caller, iid),
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
    with pytest.raises(NotFound):
        await USE_CASES[name](core, core.bob, actor.id)
    assert core.types(actor) == before  # nothing recorded
    session = core.session(actor)
    assert [c.method for c in session.calls if c.method not in ("connect", "ping")] == []
    assert core.fetcher.calls == [] and core.media.files == {}
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
    for name in ("instances.update", "messaging.send_text", "contacts.add", "messaging.mark_read"):
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
