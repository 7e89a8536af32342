"""Use cases of an instance's lifecycle (`InstanceUseCases`) over the fakes of the ports: no HTTP, no SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio
import trio.testing
from trio.testing import MockClock

from tests.unit.usecase_rig import JID, PEER, Core, open_core, reach
from wamux.core.ports import TransportError
from wamux.domain.errors import (
    ConcurrencyConflict,
    Conflict,
    DomainError,
    InstanceQuotaExceeded,
    NotFound,
    TransportFailed,
    UrlNotAllowed,
    ValidationFailed,
)
from wamux.domain.events import InstanceCreated, InstanceUpdated, PairingCodeRequested, ReconnectRequested


@pytest.fixture
async def core() -> AsyncIterator[Core]:
    async with open_core(max_instances_per_user=2) as core:
        yield core


def created(core: Core) -> list[InstanceCreated]:
    return [r.event for r in core.store.log if isinstance(r.event, InstanceCreated)]


async def test_create_within_the_quota_then_the_next_one_is_refused(core: Core, autojump_clock: MockClock) -> None:
    first = await core.instance(core.alice, name="One")
    await core.instance(core.alice, name="Two")
    with pytest.raises(InstanceQuotaExceeded) as refused:
        await core.uc.instances.create(core.alice, {"name": "Three"})
    assert refused.value.details == {"limit": 2}
    assert [e.name for e in created(core)] == ["One", "Two"]  # nothing written for the refused one
    assert first.instance.user_id == core.alice.id and first.instance.name == "One"
    await core.instance(core.bob)  # the quota is per user


async def test_a_deleted_instance_frees_its_place_in_the_quota(core: Core, autojump_clock: MockClock) -> None:
    one = await core.instance(core.alice)
    await core.instance(core.alice)
    await core.uc.instances.delete(core.alice, one.id)
    await core.instance(core.alice)


async def test_admins_have_no_instance_quota(core: Core, autojump_clock: MockClock) -> None:
    for n in range(4):
        await core.uc.instances.create(core.admin, {"name": f"Admin {n}"})
    assert len(core.uc.instances.visible(core.admin)) == 4


async def test_the_webhook_url_is_checked_as_trusted_only_for_an_admin_owner(
    core: Core, autojump_clock: MockClock
) -> None:
    await core.uc.instances.create(core.alice, {"name": "A", "webhookUrl": "https://hooks.example.com/a"})
    await core.uc.instances.create(core.admin, {"name": "B", "webhookUrl": "https://hooks.example.com/b"})
    await core.uc.instances.create(core.bob, {"name": "C"})  # no URL: nothing to check
    assert [(c.url, c.trusted, c.field_name, c.must_resolve) for c in core.outbound.checks] == [
        ("https://hooks.example.com/a", False, "webhookUrl", False),
        ("https://hooks.example.com/b", True, "webhookUrl", False),
    ]


async def test_a_refused_webhook_url_creates_nothing(core: Core, autojump_clock: MockClock) -> None:
    core.outbound.refused.add("http://10.0.0.1/hook")
    with pytest.raises(UrlNotAllowed):
        await core.uc.instances.create(core.alice, {"name": "A", "webhookUrl": "http://10.0.0.1/hook"})
    assert created(core) == [] and core.supervisor.actors == {}


async def test_update_appends_updated_and_the_actor_shows_it(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.instance(core.alice, limits={"maxApiCalls": 0})  # limits never refuse an update
    same = await core.uc.instances.update(core.alice, actor.id, {"name": "Renamed", "description": "shop"})
    assert same is actor and actor.instance.name == "Renamed"
    (updated,) = core.store.events(actor.id, InstanceUpdated)
    assert updated.changes == {"name": "Renamed", "description": "shop"}


async def test_a_webhook_change_by_an_admin_is_checked_with_the_owners_trust(
    core: Core, autojump_clock: MockClock
) -> None:
    actor = await core.instance(core.alice)
    await core.uc.instances.update(core.admin, actor.id, {"webhookUrl": "https://hooks.example.com/x"})
    assert [(c.url, c.trusted) for c in core.outbound.checks] == [("https://hooks.example.com/x", False)]
    assert core.types(actor)[-1] == "webhook_updated"
    assert actor.instance.webhook_url == "https://hooks.example.com/x"


async def test_an_invalid_update_appends_nothing(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.instance(core.alice)
    before = core.types(actor)
    with pytest.raises(ValidationFailed):
        await core.uc.instances.update(core.alice, actor.id, {"name": ""})
    assert core.types(actor) == before


async def test_delete_stops_the_actor_and_the_instance_is_gone(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    await core.uc.instances.delete(core.alice, actor.id)
    assert core.types(actor)[-1] == "deleted"
    with pytest.raises(NotFound):
        core.uc.instances.owned(core.alice, actor.id)
    assert core.uc.instances.visible(core.admin) == []
    await trio.testing.wait_all_tasks_blocked()
    assert not actor.running
    assert core.transport.forgotten == [actor.id]
    assert core.session(actor).called("close")
    await core.restart()
    assert core.supervisor.actors == {}  # a deleted instance is not started again


async def test_a_command_queued_behind_a_delete_is_answered(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    answers: list[str] = []

    async def mark_read() -> None:
        try:
            await core.uc.chats.mark_read(core.alice, actor.id, PEER)
            answers.append("done")
        except DomainError as exc:
            answers.append(exc.code)

    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            core.store.hold()  # the deletion is being written ...
            nursery.start_soon(core.uc.instances.delete, core.alice, actor.id)
            await trio.testing.wait_all_tasks_blocked()
            nursery.start_soon(mark_read)  # ... when a read mark for the same instance comes in
            await trio.testing.wait_all_tasks_blocked()
            core.store.release()
    assert answers in (["not_found"], ["unavailable"])
    assert core.types(actor)[-1] == "deleted"


async def test_reconnect_appends_its_event_and_connects_again(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    session = core.session(actor)
    await core.uc.instances.reconnect(core.alice, actor.id)
    assert isinstance(core.store.events(actor.id)[-1], ReconnectRequested)
    await reach(actor, "connected")  # linked: the next connection needs no QR
    assert len(session.called("connect")) == 2


async def test_reconnect_restarts_an_instance_the_supervisor_gave_up_on(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    session = core.session(actor)
    session.fail("connect", RuntimeError("a bug in the transport"), times=2)  # crashes the actor twice
    session.drop()
    with trio.fail_after(600):
        while "failed" not in core.types(actor):
            await trio.sleep(1)
    assert not actor.running
    await core.uc.instances.reconnect(core.alice, actor.id)
    fresh = core.supervisor.actors[actor.id]
    assert fresh.running and core.types(fresh)[-1] == "reconnect_requested"
    await reach(fresh, "connected")


async def test_logout_unlinks_a_connected_device(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    await core.uc.instances.logout(core.alice, actor.id)
    assert core.types(actor)[-1] == "logged_out"
    assert actor.status == "logged_out" and core.session(actor).called("logout")
    assert not actor.instance.linked


async def test_logout_without_a_connection_only_records_it(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.instance(core.alice)
    await core.uc.instances.logout(core.alice, actor.id)
    assert core.types(actor)[-1] == "logged_out"
    assert core.session(actor).called("logout") == []


@pytest.mark.parametrize("phone", ["120363000000000000@g.us", "not a phone", "12"])
async def test_pair_refuses_what_is_not_a_phone_number(core: Core, autojump_clock: MockClock, phone: str) -> None:
    actor = await core.instance(core.alice)
    with pytest.raises(ValidationFailed) as refused:
        await core.uc.instances.pair(core.alice, actor.id, phone)
    assert refused.value.details == {"phone": "invalid"}
    assert core.session(actor).called("pair_phone") == []


async def test_pair_is_refused_when_connected(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    with pytest.raises(Conflict):
        await core.uc.instances.pair(core.alice, actor.id, "+7 900 123-45-67")
    assert core.session(actor).called("pair_phone") == []


async def test_pair_answers_the_sessions_code_and_records_the_request(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.instance(core.alice)
    code = await core.uc.instances.pair(core.alice, actor.id, "+7 900 123-45-67")
    assert code == core.session(actor).pairing_code
    assert [c.args for c in core.session(actor).called("pair_phone")] == [("79001234567",)]
    assert core.store.events(actor.id, PairingCodeRequested)[-1].phone == "79001234567"


async def test_pair_after_a_logout_connects_first(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    await core.uc.instances.logout(core.alice, actor.id)
    assert await core.uc.instances.pair(core.alice, actor.id, JID) == core.session(actor).pairing_code
    assert core.types(actor)[-3:] == ["reconnect_requested", "qr_received", "pairing_code_requested"]


async def test_a_pairing_refused_by_whatsapp_is_transport_failed(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.instance(core.alice)
    core.session(actor).fail("pair_phone", TransportError("rate limited", retryable=False))
    with pytest.raises(TransportFailed):
        await core.uc.instances.pair(core.alice, actor.id, "79001234567")
    assert "pairing_code_requested" not in core.types(actor)


async def test_the_fake_store_refuses_a_second_writer(core: Core, autojump_clock: MockClock) -> None:
    """What makes these tests see a double writer: the store checks the expected version."""
    actor = await core.instance(core.alice)
    with pytest.raises(ConcurrencyConflict):
        await core.store.append(actor.id, [ReconnectRequested(instance_id=actor.id)], actor.version - 1)
    await core.uc.instances.update(core.alice, actor.id, {"name": "Still fine"})
    versions = [r.version for r in core.store.streams[actor.id]]
    assert versions == list(range(1, len(versions) + 1))
