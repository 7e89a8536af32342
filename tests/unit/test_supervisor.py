"""The Supervisor: starts actors for live instances, restarts crashed ones, gives up politely.

Same rig as the actor tests (`tests/unit/actor_rig.py`: real simulator, real SQLite store, autojump clock).
"""

from __future__ import annotations

import functools

import pytest
import trio
import trio.testing

from tests.unit.actor_rig import JID, Rig, linked, reach, sim, until
from wamux.core.commands import Logout, Reconnect, Update
from wamux.core.instance_actor import InstanceFailedError
from wamux.core.supervisor import RestartPolicy
from wamux.domain.errors import InstanceQuotaExceeded, NotFound
from wamux.domain.events import InstanceFailed

POLICY = RestartPolicy(max_restarts=3, window_s=60.0, backoff_initial_s=0.5, backoff_max_s=4.0)


async def given_up(rig: Rig, instance_id: str) -> None:
    """Wait until the supervisor stopped the actor and its `failed` event is committed."""
    for _ in range(600):
        if (await rig.types(instance_id))[-1] == "failed":
            return
        await trio.sleep(1)
    raise AssertionError("no failed event")


async def test_a_crash_is_restarted_and_the_actor_works(rig: Rig, autojump_clock: trio.testing.MockClock) -> None:
    sup = await rig.supervisor(policy=POLICY)
    actor = await linked(rig, sup)
    mark = len(await rig.events(actor.id))
    sim(sup).set_faults(actor.id, {"crashNextConnects": 1})
    await sim(sup).disconnect(actor.id, "connection_lost", False)
    await until(lambda: sup.restarts.get(actor.id) == 1)
    await reach(actor, "connected")
    assert actor.running and sup.actors[actor.id] is actor
    after = await rig.events(actor.id)
    assert [r.type for r in after[mark:]] == ["disconnected", "connected"]  # a crash is not an event
    # the restarted actor serves its mailbox and its stream version is exact
    await actor.execute(Update({"name": "Renamed"}))
    assert actor.instance.name == "Renamed"
    assert [r.version for r in await rig.events(actor.id)] == list(range(1, len(after) + 2))


async def test_a_crash_before_the_first_qr_is_restarted(rig: Rig, autojump_clock: trio.testing.MockClock) -> None:
    sup = await rig.supervisor(policy=POLICY)
    actor = await sup.create("user-1", {"name": "Main"})
    await reach(actor, "qr")  # sanity: the simulator works before any fault
    await actor.execute(Logout())
    sim(sup).set_faults(actor.id, {"crashNextConnects": 2})
    await actor.execute(Reconnect())
    await reach(actor, "qr")
    assert sup.restarts[actor.id] == 2
    assert (await rig.types(actor.id))[-3:] == ["logged_out", "reconnect_requested", "qr_received"]


async def test_too_many_crashes_end_failed_and_others_keep_working(
    rig: Rig, autojump_clock: trio.testing.MockClock
) -> None:
    sup = await rig.supervisor(policy=POLICY)
    other = await linked(rig, sup, "Other")
    doomed = await linked(rig, sup, "Doomed")
    mark = len(await rig.events(doomed.id))
    sim(sup).set_faults(doomed.id, {"crashNextConnects": 100})
    await sim(sup).disconnect(doomed.id, "connection_lost", False)
    await given_up(rig, doomed.id)
    assert doomed.status == "failed" and not doomed.running
    after = (await rig.events(doomed.id))[mark:]
    assert [r.type for r in after] == ["disconnected", "failed"]
    failed = after[-1].event
    assert isinstance(failed, InstanceFailed)
    assert failed.restarts == POLICY.max_restarts and "simulated actor crash" in failed.reason
    assert sup.restarts[doomed.id] == POLICY.max_restarts
    # it stays failed: no restart loop, no more events
    await trio.sleep(600)
    assert len(await rig.events(doomed.id)) == mark + 2
    assert sup.get(doomed.id) is doomed  # still listed (status failed), not deleted

    # the rest of the server is unaffected
    assert other.running and other.status == "connected"
    mark_other = len(await rig.events(other.id))
    await sim(sup).disconnect(other.id, "connection_lost", False)
    await reach(other, "disconnected")
    await reach(other, "connected")
    assert [r.type for r in (await rig.events(other.id))[mark_other:]] == ["disconnected", "connected"]
    fresh = await linked(rig, sup, "Fresh")
    assert fresh.status == "connected"


async def test_commands_to_a_failed_actor_answer_at_once(rig: Rig, autojump_clock: trio.testing.MockClock) -> None:
    sup = await rig.supervisor(policy=POLICY)
    actor = await linked(rig, sup)
    sim(sup).set_faults(actor.id, {"crashNextConnects": 100})
    await sim(sup).disconnect(actor.id, "connection_lost", False)
    await given_up(rig, actor.id)
    with trio.fail_after(60), pytest.raises(InstanceFailedError) as failed:
        await actor.execute(Update({"name": "x"}))
    assert failed.value.code == "instance_failed" and "reconnect" in failed.value.message
    with trio.fail_after(60), pytest.raises(InstanceFailedError):
        await actor.execute(Logout())


async def test_reconnect_of_a_failed_instance_gives_a_fresh_actor(
    rig: Rig, autojump_clock: trio.testing.MockClock
) -> None:
    sup = await rig.supervisor(policy=POLICY)
    actor = await linked(rig, sup)
    sim(sup).set_faults(actor.id, {"crashNextConnects": 100})
    await sim(sup).disconnect(actor.id, "connection_lost", False)
    await given_up(rig, actor.id)
    sim(sup).set_faults(actor.id, {"crashNextConnects": 0})
    fresh = await sup.restart_failed(actor.id)
    assert fresh is not actor and fresh.running and sup.get(actor.id) is fresh
    assert fresh.status == "failed"  # loaded from its stream; waits for the reconnect
    await fresh.execute(Reconnect())
    await reach(fresh, "connected")  # still linked on the phone: no QR
    assert (await rig.types(actor.id))[-3:] == ["failed", "reconnect_requested", "connected"]


async def test_a_failed_instance_can_be_deleted(rig: Rig, autojump_clock: trio.testing.MockClock) -> None:
    sup = await rig.supervisor(policy=POLICY)
    actor = await linked(rig, sup)
    sim(sup).set_faults(actor.id, {"crashNextConnects": 100})
    await sim(sup).disconnect(actor.id, "connection_lost", False)
    await given_up(rig, actor.id)
    await sup.delete(actor.id)
    assert (await rig.types(actor.id))[-2:] == ["failed", "deleted"]
    with pytest.raises(NotFound):
        sup.get(actor.id)


async def test_restart_brings_linked_instances_back_without_qr(
    rig: Rig, autojump_clock: trio.testing.MockClock
) -> None:
    first = await rig.supervisor()
    connected = await linked(rig, first, "Linked")
    dropped = await linked(rig, first, "Dropped")
    waiting = await first.create("user-1", {"name": "Waiting"})
    await reach(waiting, "qr")
    logged_out = await linked(rig, first, "LoggedOut")
    await logged_out.execute(Logout())
    deleted = await first.create("user-1", {"name": "Deleted"})
    await first.delete(deleted.id)
    # a drop whose reconnect the shutdown interrupts: the last event is `disconnected`
    sim(first).set_faults(dropped.id, {"failNextConnects": 100})
    await sim(first).disconnect(dropped.id, "connection_lost", False)
    await reach(dropped, "disconnected")
    await rig.stop(first)
    marks = {a.id: len(await rig.events(a.id)) for a in (connected, dropped, waiting, logged_out)}

    second = await rig.supervisor(rig.transport())  # a new process: the simulator reloads its phones
    assert sorted(a.id for a in second.visible(None)) == sorted(marks)
    assert deleted.id not in second.actors
    back = second.get(connected.id)
    await reach(back, "connected")
    assert back.instance.jid == JID and back.instance.name == "Linked"
    assert [r.type for r in (await rig.events(connected.id))[marks[connected.id] :]] == ["connected"]

    back_dropped = second.get(dropped.id)
    await reach(back_dropped, "connected")  # the new simulator has no faults
    assert "qr_received" not in [r.type for r in (await rig.events(dropped.id))[marks[dropped.id] :]]

    # the one that never linked shows a new QR, attempt 1; the logged-out one waits for /reconnect
    again = second.get(waiting.id)
    await reach(again, "qr")
    assert [(r.type, r.event.attempt) for r in (await rig.events(waiting.id))[marks[waiting.id] :]] == [  # type: ignore[attr-defined]
        ("qr_received", 1)
    ]
    await trio.sleep(10)
    assert second.get(logged_out.id).status == "logged_out"
    assert len(await rig.events(logged_out.id)) == marks[logged_out.id]


async def test_status_before_the_first_connection_after_restart(
    rig: Rig, autojump_clock: trio.testing.MockClock
) -> None:
    """Right after a restart a linked instance is `connecting`, not a stale `connected`."""
    first = await rig.supervisor()
    actor = await linked(rig, first)
    await rig.stop(first)
    second = await rig.supervisor(rig.transport())
    assert second.get(actor.id).status in ("connecting", "disconnected")


async def test_the_instance_quota_holds_under_concurrent_creates(
    rig: Rig, autojump_clock: trio.testing.MockClock
) -> None:
    """MAX_INSTANCES_PER_USER (API-2 §8 "Quotas"): parallel creates at the limit must not both pass."""
    sup = await rig.supervisor(policy=POLICY)
    sup.max_instances_per_user = 2
    outcomes: list[str] = []

    async def create(user_id: str, *, unlimited: bool = False) -> None:
        try:
            await sup.create(user_id, {"name": "Q"}, unlimited=unlimited)
            outcomes.append(f"{user_id}:created")
        except InstanceQuotaExceeded as exc:
            assert exc.code == "instance_quota_exceeded" and exc.details == {"limit": 2}
            outcomes.append(f"{user_id}:refused")

    async with trio.open_nursery() as nursery:
        for _ in range(5):
            nursery.start_soon(create, "user-1")
        for _ in range(3):
            nursery.start_soon(functools.partial(create, "admin-1", unlimited=True))
    assert sorted(outcomes) == ["admin-1:created"] * 3 + ["user-1:created"] * 2 + ["user-1:refused"] * 3
    assert len(sup.visible("user-1")) == 2
    await sup.delete(sup.visible("user-1")[0].id)  # a deleted instance frees its place
    await create("user-1")
    assert outcomes[-1] == "user-1:created" and len(sup.visible("user-1")) == 2
