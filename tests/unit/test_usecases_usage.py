"""Usage limits and call counting (`UsageUseCases`, the limits of a send) over the fakes of the ports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import trio
from trio.testing import MockClock

from tests.unit.usecase_rig import PEER, Core, open_core
from wamux.core.instance_actor import InstanceActor
from wamux.core.usecases.messaging import SendOptions
from wamux.domain.errors import LimitExceeded
from wamux.domain.events import ApiCallsRecorded, MessageSent, UserActive
from wamux.domain.events import LimitExceeded as LimitExceededEvent

DAY_MS = 24 * 3600 * 1000
TODAY = "day:2026-01-15"


@pytest.fixture
async def core() -> AsyncIterator[Core]:
    async with open_core() as core:
        yield core


async def send(core: Core, actor: InstanceActor, key: str | None = None, caller: Any = None) -> str:
    outcome = await core.uc.messaging.send_text(caller or core.alice, actor.id, PEER, "hi", SendOptions(key=key))
    return outcome.message_id


async def refused(core: Core, actor: InstanceActor) -> dict[str, Any]:
    """The details of the refusal of the next send."""
    with pytest.raises(LimitExceeded) as refusal:
        await send(core, actor)
    assert refusal.value.details is not None
    return refusal.value.details


async def test_the_send_after_the_nth_is_refused(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice, limits={"maxMessagesSent": 3})
    for _ in range(3):
        await send(core, actor)
    assert await refused(core, actor) == {
        "exceededLimits": ["maxMessagesSent"],
        "usage": {"messagesSent": 3, "apiCalls": 0},
        "limits": {"maxMessagesSent": 3, "period": "day"},
        "period": TODAY,
    }
    assert len(core.session(actor).called("send")) == 3
    assert len(core.store.events(actor.id, MessageSent)) == 3


async def test_limit_exceeded_is_recorded_once_per_period(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice, limits={"maxMessagesSent": 1})
    await send(core, actor)
    for _ in range(3):
        await refused(core, actor)
    (event,) = core.store.events(actor.id, LimitExceededEvent)
    assert event == LimitExceededEvent(
        instance_id=actor.id,
        exceeded_limits=["maxMessagesSent"],
        usage={"messagesSent": 1, "apiCalls": 0},
        limits={"maxMessagesSent": 1, "period": "day"},
        period_key=TODAY,
    )
    await core.restart()  # a new actor remembers nothing: the reader tells it the period was announced
    await refused(core, core.supervisor.get(actor.id))
    assert len(core.store.events(actor.id, LimitExceededEvent)) == 1


async def test_a_period_the_reader_knows_as_announced_is_not_recorded_again(
    core: Core, autojump_clock: MockClock
) -> None:
    actor = await core.connected(core.alice, limits={"maxMessagesSent": 0})
    core.reader.notified[actor.id] = [TODAY]  # announced by another process
    await refused(core, actor)
    assert core.store.events(actor.id, LimitExceededEvent) == []


async def test_a_new_day_starts_a_new_period(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice, limits={"maxMessagesSent": 1})
    await send(core, actor)
    await refused(core, actor)
    core.clock.advance(DAY_MS)
    await send(core, actor)  # yesterday's messages do not count today
    assert (await refused(core, actor))["period"] == "day:2026-01-16"
    assert [e.period_key for e in core.store.events(actor.id, LimitExceededEvent)] == [TODAY, "day:2026-01-16"]


async def test_a_monthly_limit_counts_every_day_of_the_month(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice, limits={"maxMessagesSent": 2, "period": "month"})
    await send(core, actor)
    core.clock.advance(DAY_MS)
    await send(core, actor)
    assert (await refused(core, actor))["period"] == "month:2026-01"
    core.clock.advance(17 * DAY_MS)  # 2026-02-02
    await send(core, actor)


async def test_admins_are_never_limited(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice, limits={"maxMessagesSent": 0, "maxApiCalls": 0})
    for _ in range(3):
        core.uc.usage.count(actor.id, core.admin)
        await send(core, actor, caller=core.admin)
        await core.uc.usage.check_calls(core.admin, actor.id)
    assert len(core.store.events(actor.id, MessageSent)) == 3
    assert core.store.events(actor.id, LimitExceededEvent) == []
    await refused(core, actor)  # its owner is
    own = await core.connected(core.admin, limits={"maxApiCalls": 0})
    core.uc.usage.count(own.id, core.admin)
    await core.uc.usage.check_calls(core.admin, own.id)  # not even on an instance of their own
    await send(core, own, caller=core.admin)


async def test_a_replayed_send_is_not_refused_by_the_limit(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice, limits={"maxMessagesSent": 1})
    first = await send(core, actor, key="k-1")
    assert await send(core, actor, key="k-1") == first  # the repeat is the same message, not a new one
    await refused(core, actor)


async def test_a_send_counts_against_the_api_call_limit_too(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice, limits={"maxApiCalls": 2})
    core.uc.usage.count(actor.id, core.alice)
    await send(core, actor)
    core.uc.usage.count(actor.id, core.alice)
    details = await refused(core, actor)
    assert details["exceededLimits"] == ["maxApiCalls"]
    assert details["usage"] == {"messagesSent": 1, "apiCalls": 2}


async def test_check_calls_refuses_over_max_api_calls_counting_pending_calls(
    core: Core, autojump_clock: MockClock
) -> None:
    actor = await core.connected(core.alice, limits={"maxApiCalls": 3})
    core.reader.extra[actor.id] = (0, 1)  # one call recorded earlier today
    core.uc.usage.count(actor.id, core.alice)
    await core.uc.usage.check_calls(core.alice, actor.id)  # 2 of 3
    core.uc.usage.count(actor.id, core.alice)
    with pytest.raises(LimitExceeded) as refusal:
        await core.uc.usage.check_calls(core.alice, actor.id)
    assert refusal.value.details is not None
    assert refusal.value.details["usage"] == {"messagesSent": 0, "apiCalls": 3}
    assert refusal.value.details["exceededLimits"] == ["maxApiCalls"]
    assert len(core.store.events(actor.id, LimitExceededEvent)) == 1


async def test_check_calls_reads_nothing_when_no_call_cap_applies(core: Core, autojump_clock: MockClock) -> None:
    free = await core.connected(core.alice)
    sends_only = await core.connected(core.alice, limits={"maxMessagesSent": 0})
    for actor in (free, sends_only):
        for _ in range(5):
            core.uc.usage.count(actor.id, core.alice)
        await core.uc.usage.check_calls(core.alice, actor.id)
    assert core.reader.asked == []


async def test_check_calls_leaves_another_users_instance_to_the_route(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice, limits={"maxApiCalls": 0})
    await core.uc.usage.check_calls(core.bob, actor.id)  # the route answers 404 for it
    await core.uc.usage.check_calls(core.bob, "no-such-instance")
    assert core.store.events(actor.id, LimitExceededEvent) == []


async def test_flush_records_pending_calls_of_live_instances_and_marks_users_active(
    core: Core, autojump_clock: MockClock
) -> None:
    live = await core.instance(core.alice)
    gone = await core.instance(core.bob)
    await core.uc.instances.delete(core.bob, gone.id)
    for _ in range(3):
        core.uc.usage.count(live.id, core.alice)
    core.uc.usage.count(gone.id, core.bob)
    core.uc.usage.count("no-such-instance", core.bob)
    core.uc.usage.count(None, core.admin)  # a call that names no instance
    assert await core.uc.usage.flush() == 3
    assert core.store.events(live.id, ApiCallsRecorded) == [ApiCallsRecorded(instance_id=live.id, count=3)]
    assert core.store.events(gone.id, ApiCallsRecorded) == []
    for user in (core.alice, core.bob, core.admin):
        assert core.store.events(user.id, UserActive) == [UserActive(user_id=user.id, day="2026-01-15")]
    assert await core.uc.usage.flush() == 0  # drained
    core.uc.usage.count(live.id, core.alice)
    assert await core.uc.usage.flush() == 1
    assert len(core.store.events(core.alice.id, UserActive)) == 1  # once a day


async def test_flushed_calls_keep_counting_against_the_limit(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice, limits={"maxApiCalls": 2})
    core.uc.usage.count(actor.id, core.alice)
    core.uc.usage.count(actor.id, core.alice)
    await core.uc.usage.flush()
    assert core.meter.pending_calls(actor.id) == 0
    with pytest.raises(LimitExceeded):
        await core.uc.usage.check_calls(core.alice, actor.id)


async def test_flush_skips_an_instance_the_supervisor_gave_up_on(core: Core, autojump_clock: MockClock) -> None:
    failed = await core.connected(core.alice)
    live = await core.instance(core.bob)
    session = core.session(failed)
    session.fail("connect", RuntimeError("a bug in the transport"), times=2)  # crashes the actor twice
    session.drop()
    with trio.fail_after(600):
        while "failed" not in core.types(failed):
            await trio.sleep(1)
    core.uc.usage.count(failed.id, core.alice)
    core.uc.usage.count(live.id, core.bob)
    assert await core.uc.usage.flush() == 1
    assert core.store.events(failed.id, ApiCallsRecorded) == []
    assert core.store.events(live.id, ApiCallsRecorded) == [ApiCallsRecorded(instance_id=live.id, count=1)]
