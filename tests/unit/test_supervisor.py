"""The Supervisor: starts actors for live instances, restarts crashed ones, gives up politely.

Same rig as the actor tests (`tests/unit/actor_rig.py`: real simulator, real SQLite store, autojump clock).
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trio
import trio.testing

from tests.unit.actor_rig import JID, Rig, TrioClock, linked, reach, sim, until
from tests.unit.fakes import FakeTransport, MemoryEventStore
from wamux.adapters.media.files import FileMediaStore
from wamux.core.commands import Logout, Reconnect, Update
from wamux.core.instance_actor import InstanceFailedError
from wamux.core.supervisor import RestartPolicy, Supervisor
from wamux.domain.errors import ConcurrencyConflict, InstanceQuotaExceeded, NotFound, Unavailable
from wamux.domain.events import InstanceDeleted, InstanceFailed, ReconnectRequested
from wamux.domain.instances import Instance

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


# ---- cluster mode (API-2 §10): only the instances this node holds run here -------------------------


class FakeOwnership:
    """The cluster member as the supervisor sees it: claims new instances, hears of fenced-out actors."""

    def __init__(self, store: MemoryEventStore) -> None:
        self.store = store
        self.claimed: list[tuple[str, list[str]]] = []  # (instance id, its stream's types at the claim)
        self.fenced_out: list[str] = []

    async def claim(self, instance_id: str) -> None:
        self.claimed.append((instance_id, self.store.types(instance_id)))

    def fenced(self, instance_id: str) -> None:
        self.fenced_out.append(instance_id)


@dataclass
class ClusterRig:
    sup: Supervisor
    store: MemoryEventStore
    transport: FakeTransport
    ownership: FakeOwnership


@pytest.fixture
async def node(autojump_clock: trio.testing.MockClock) -> AsyncIterator[ClusterRig]:
    store = MemoryEventStore(TrioClock())
    transport = FakeTransport()
    ownership = FakeOwnership(store)
    sup = Supervisor(store, transport, TrioClock(), FileMediaStore(Path("unused")), policy=POLICY, ownership=ownership)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        yield ClusterRig(sup, store, transport, ownership)
        nursery.cancel_scope.cancel()


async def test_cluster_mode_starts_no_actor_and_knows_every_live_instance(
    node: ClusterRig, autojump_clock: trio.testing.MockClock
) -> None:
    sup, store = node.sup, node.store
    assert sup.actors == {} and sup.live_instance_ids() == []
    # another node creates one instance and deletes another: this node learns of both from the log
    await store.append("elsewhere", Instance.create("elsewhere", "user-1", {"name": "E"}), 0)
    await store.append("gone", Instance.create("gone", "user-1", {"name": "G"}), 0)
    await store.append("gone", [InstanceDeleted(instance_id="gone")], 1)
    await trio.sleep(sup.lifecycle_poll_s + 0.1)
    assert sup.live_instance_ids() == ["elsewhere"] and sup.actors == {}
    # a create here claims the lease after instance_created is written, before the actor starts
    actor = await sup.create("user-1", {"name": "Mine"})
    assert node.ownership.claimed == [(actor.id, ["created"])]
    assert sorted(sup.live_instance_ids()) == sorted(["elsewhere", actor.id])
    await reach(actor, "qr")


async def test_stop_owned_appends_nothing_and_start_owned_gives_a_fresh_actor(
    node: ClusterRig, autojump_clock: trio.testing.MockClock
) -> None:
    sup, store = node.sup, node.store
    await store.append("i1", Instance.create("i1", "user-1", {"name": "One"}), 0)
    await sup.start_owned("i1")
    first = sup.get("i1")
    await reach(first, "qr")
    await first.execute(Update({"name": "Renamed"}))
    session = node.transport.sessions["i1"]
    session.linked_jid = JID
    await first.execute(Reconnect())
    await reach(first, "connected")
    await sup.start_owned("i1")  # already running: the same actor
    assert sup.get("i1") is first
    mark = store.types("i1")
    await sup.stop_owned("i1")
    assert store.types("i1") == mark  # no event: the next owner carries on from the same stream
    assert "i1" not in sup.actors and not first.running and session.called("close")
    assert node.transport.forgotten == []  # the device session stays: another node resumes it
    with pytest.raises(Unavailable):
        await first.execute(Update({"name": "late"}))
    with pytest.raises(NotFound):
        sup.get("i1")
    await sup.stop_owned("i1")  # twice is fine
    await sup.start_owned("i1")
    again = sup.get("i1")
    assert again is not first and again.instance.name == "Renamed" and again.version == first.version
    await reach(again, "connected")
    assert store.types("i1")[len(mark) :] == ["connected"]
    assert sup.restarts == {}


async def test_a_fenced_out_actor_stops_without_restarts(
    node: ClusterRig, autojump_clock: trio.testing.MockClock
) -> None:
    """Another node wrote the stream (this one is a stale owner): the refused append stops the actor."""
    sup, store = node.sup, node.store
    other = await sup.create("user-1", {"name": "Other"})
    for instance_id in ("cmd", "wire"):
        await store.append(instance_id, Instance.create(instance_id, "user-1", {"name": instance_id}), 0)
        await sup.start_owned(instance_id)
        await reach(sup.get(instance_id), "qr")
    # by a command: the caller gets the conflict, the actor stops
    cmd = sup.get("cmd")
    await store.append("cmd", [ReconnectRequested(instance_id="cmd")], cmd.version)
    with pytest.raises(ConcurrencyConflict):
        await cmd.execute(Update({"name": "x"}))
    await until(lambda: "cmd" not in sup.actors)
    # by the connection loop (what the wire reports): the same, not a crash
    wire = sup.get("wire")
    await store.append("wire", [ReconnectRequested(instance_id="wire")], wire.version)
    node.transport.sessions["wire"].drop()
    await until(lambda: "wire" not in sup.actors)
    await trio.sleep(600)
    assert node.ownership.fenced_out == ["cmd", "wire"] and sup.restarts == {}
    assert not cmd.running and not wire.running
    assert store.types("cmd")[-1] == "reconnect_requested" and store.types("wire")[-1] == "reconnect_requested"
    assert other.running and sup.get(other.id) is other  # the rest keeps running
    # the member starts a fresh actor while it still holds the lease: it reads the stream again
    await sup.start_owned("wire")
    assert sup.get("wire").version == len(store.types("wire"))
    await reach(sup.get("wire"), "qr")
