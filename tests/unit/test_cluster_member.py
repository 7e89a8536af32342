"""The cluster member: heartbeat, leases, an even spread, and stopping before another node can start.

Nodes are `ClusterMember`s over one in-memory database (`tests.unit.fake_cluster`, on the same virtual
clock as trio's), each with its own connection that a test can cut. A `World` records which node runs
each instance and fails the test the moment two nodes would run the same one.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import pytest
import trio
import trio.testing

from tests.unit.fake_cluster import FakeCluster, FakeConnection
from wamux.core.cluster_member import ClusterMember, run_while_holding
from wamux.core.ports.cluster import PROJECTIONS_LEASE

TTL_MS = 15_000
PERIOD_S = 3.0
MARGIN_S = TTL_MS / 1000 - PERIOD_S


@dataclass
class World:
    """Every live instance, and which node runs each one (at most one, checked at every start)."""

    instances: list[str]
    running: dict[str, str] = field(default_factory=dict)
    journal: list[tuple[float, str, str, str]] = field(default_factory=list)  # (time, node, gain|loss, id)
    overlaps: list[str] = field(default_factory=list)

    def on(self, node: str, what: str, instance_id: str) -> None:
        self.journal.append((trio.current_time(), node, what, instance_id))

    def of(self, node: str) -> set[str]:
        return {i for i, n in self.running.items() if n == node}


class Node:
    """One server: its member, its own connection to the shared database, its cancel scope (a kill)."""

    def __init__(self, name: str, cluster: FakeCluster, world: World, *, max_moves: int = 5) -> None:
        self.name = name
        self.world = world
        self.conn: FakeConnection = cluster.connect()
        self.conn.before_release = self.releasing
        self.scope = trio.CancelScope()
        self.member = ClusterMember(
            name,
            f"http://{name}:8080",
            self.conn,
            self.conn,
            trio.CapacityLimiter(4),
            lambda: list(world.instances),
            self.gain,
            self.loss,
            ttl_ms=TTL_MS,
            period_s=PERIOD_S,
            max_moves=max_moves,
        )

    async def gain(self, instance_id: str) -> None:
        await trio.sleep(0.05)  # an actor takes a moment to load its stream
        holder = self.world.running.get(instance_id)
        if holder is not None and holder != self.name:
            self.world.overlaps.append(f"{instance_id} started on {self.name} while {holder} runs it")
        self.world.running[instance_id] = self.name
        self.world.on(self.name, "gain", instance_id)

    async def loss(self, instance_id: str) -> None:
        await trio.sleep(0.05)  # and a moment to stop
        if self.world.running.get(instance_id) == self.name:
            del self.world.running[instance_id]
        self.world.on(self.name, "loss", instance_id)

    def releasing(self, names: Sequence[str]) -> None:
        for name in names:
            instance_id = name.removeprefix("instance:")
            if self.world.running.get(instance_id) == self.name:
                self.world.overlaps.append(f"{self.name} released {instance_id} while running it")

    async def start(self, nursery: trio.Nursery) -> None:
        async def run(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
            with self.scope:
                await self.member.run(task_status=task_status)

        await nursery.start(run)

    def kill(self) -> None:
        """`kill -9`: the process is gone, with whatever it ran; its leases stay until they lapse."""
        self.scope.cancel()
        for instance_id in self.world.of(self.name):
            del self.world.running[instance_id]


@pytest.fixture
async def cluster(autojump_clock: trio.testing.MockClock) -> FakeCluster:
    # Port calls run in worker threads: jump the clock only after real idleness, not in the middle of a call.
    autojump_clock.autojump_threshold = 0.01
    return FakeCluster(lambda: int(autojump_clock.current_time() * 1000))


@pytest.fixture
async def nursery() -> AsyncIterator[trio.Nursery]:
    async def ticker() -> None:
        # A near deadline bounds how far the clock can jump while a worker thread runs a call.
        while True:
            await trio.sleep(1)

    async with trio.open_nursery() as n:
        n.start_soon(ticker)
        yield n
        n.cancel_scope.cancel()


def ids(n: int) -> list[str]:
    return [f"inst-{i:02d}" for i in range(n)]


async def periods(n: float) -> None:
    await trio.sleep(n * PERIOD_S)


def moved_in_order(world: World, old: str, new: str) -> set[str]:
    """The instances `new` started after `old` ran them; asserts `old` stopped each one first."""
    moved = set()
    for at, node, what, instance_id in world.journal:
        if node != new or what != "gain":
            continue
        before = [(t, w) for t, n, w, i in world.journal if n == old and i == instance_id and t <= at]
        if before:
            assert before[-1][1] == "loss", f"{instance_id} started on {new} while {old} ran it"
            moved.add(instance_id)
    return moved


async def test_a_node_alone_takes_every_instance_and_the_projections(
    cluster: FakeCluster, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    world = World(ids(12))
    a = Node("a", cluster, world)
    await a.start(nursery)
    assert a.member.holds_projections  # tried in the first round, before `started`
    assert len(world.of("a")) == 5  # a few at a time
    await periods(math.ceil(12 / 5))
    assert world.of("a") == set(world.instances) and a.member.held_instances == 12
    assert cluster.owners() == dict.fromkeys(world.instances, "a")
    assert cluster.owners("")[PROJECTIONS_LEASE] == "a"
    assert a.member.is_mine("inst-03") and a.member.owner_of("inst-03") == ("a", "http://a:8080")
    # settled: nothing moves any more, the leases keep being renewed
    mark = len(world.journal)
    await periods(20)
    assert len(world.journal) == mark and world.overlaps == []
    assert [(n.id, n.alive, n.leases) for n in a.member.nodes()] == [("a", True, 12)]


async def test_a_second_node_gets_half_and_each_move_stops_before_it_starts(
    cluster: FakeCluster, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    world = World(ids(10))
    a, b = Node("a", cluster, world), Node("b", cluster, world)
    await a.start(nursery)
    await periods(3)
    assert len(world.of("a")) == 10
    await b.start(nursery)
    await periods(4)
    assert len(world.of("a")) == 5 and len(world.of("b")) == 5
    assert world.overlaps == []
    assert moved_in_order(world, "a", "b") == world.of("b")
    assert not b.member.holds_projections and a.member.holds_projections  # stays where it is
    # routes can find the owner of every instance on either node
    some = sorted(world.of("b"))[0]
    assert a.member.owner_of(some) == ("b", "http://b:8080") and b.member.owner_of(some) == ("b", "http://b:8080")
    # balanced: no move at all afterwards
    mark = len(world.journal)
    await periods(20)
    assert len(world.journal) == mark


async def test_a_node_that_loses_its_database_stops_everything_before_another_takes_over(
    cluster: FakeCluster, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    world = World(ids(10))
    a, b = Node("a", cluster, world), Node("b", cluster, world)
    await a.start(nursery)
    await periods(3)
    await b.start(nursery)
    await periods(4)
    mine = world.of("a")
    assert len(mine) == 5 and a.member.holds_projections
    await trio.sleep(1.0)  # between two rounds
    cut = trio.current_time()
    a.conn.down = True
    last_renew = a.member._last_renewed
    assert cut - PERIOD_S <= last_renew <= cut
    await trio.sleep(TTL_MS / 1000 + 5 * PERIOD_S)
    assert world.overlaps == []
    losses = {i: t for t, n, w, i in world.journal if n == "a" and w == "loss" and t > cut}
    assert set(losses) == mine
    assert max(losses.values()) <= last_renew + MARGIN_S + 0.5  # stopped a period before the leases lapse
    gains = {i: t for t, n, w, i in world.journal if n == "b" and w == "gain" and t > cut}
    assert set(gains) == mine and min(gains.values()) >= last_renew + TTL_MS / 1000  # only after the ttl
    assert not a.member.holds_projections and b.member.holds_projections
    assert a.member.held_instances == 0 and a.member.renew_failures >= 4
    assert world.of("b") == set(world.instances)
    # while cut off it starts nothing; once back it takes its share again, each move in order
    mark = len(world.journal)
    await periods(3)
    assert [j for j in world.journal[mark:] if j[1] == "a"] == []
    a.conn.down = False
    await periods(4)
    assert len(world.of("a")) == 5 and len(world.of("b")) == 5 and world.overlaps == []
    moved_in_order(world, "b", "a")


async def test_a_lapsed_lease_stops_its_instance_at_the_next_renew(
    cluster: FakeCluster, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """The database's clock ran past the ttl (a node paused, say): what the renew no longer answers, stops."""
    world = World(ids(3))
    a = Node("a", cluster, world)
    await a.start(nursery)
    assert len(world.of("a")) == 3
    cluster.advance(TTL_MS + 1)
    rival = cluster.connect()
    assert [x.name for x in rival.acquire(["instance:inst-01"], "z", TTL_MS)] == ["instance:inst-01"]
    await periods(1.1)
    assert world.of("a") == {"inst-00", "inst-02"}  # taken back, not the one another node holds
    assert ("a", "loss", "inst-01") in [(n, w, i) for _, n, w, i in world.journal]
    assert a.member.owner_of("inst-01") == ("z", None)


async def test_the_projections_lease_is_held_by_one_node_and_taken_over_when_it_lapses(
    cluster: FakeCluster, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    world = World(ids(4))
    a, b = Node("a", cluster, world), Node("b", cluster, world)
    async with trio.open_nursery() as both:  # starting together
        both.start_soon(a.start, nursery)
        both.start_soon(b.start, nursery)
    await periods(3)
    holders = [n for n in (a, b) if n.member.holds_projections]
    assert len(holders) == 1
    holder = holders[0]
    other = b if holder is a else a
    killed_at = trio.current_time()
    holder.kill()
    for _ in range(int(TTL_MS / 1000) + 10):
        await trio.sleep(1)
        if other.member.holds_projections:
            break
    took = trio.current_time()
    assert other.member.holds_projections
    assert killed_at + TTL_MS / 1000 - PERIOD_S <= took <= killed_at + TTL_MS / 1000 + 2 * PERIOD_S
    await periods(3)
    assert world.of(other.name) == set(world.instances)


async def test_drain_hands_everything_over(
    cluster: FakeCluster, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    world = World(ids(8))
    a, b = Node("a", cluster, world), Node("b", cluster, world)
    await a.start(nursery)
    await periods(2)
    await b.start(nursery)
    await periods(4)
    assert len(world.of("a")) == 4 and a.member.holds_projections
    with trio.fail_after(PERIOD_S):
        await a.member.drain()
    assert world.of("a") == set() and a.member.held_instances == 0 and not a.member.holds_projections
    assert "a" not in cluster.owners().values() and "a" not in cluster.owners("").values()
    assert [n.draining for n in b.member.nodes() if n.id == "a"] in ([], [False], [True])
    await periods(4)
    assert world.of("b") == set(world.instances) and b.member.holds_projections
    assert moved_in_order(world, "a", "b") >= {i for _, n, w, i in world.journal if n == "a" and w == "gain"}
    # a draining node takes nothing back
    await periods(10)
    assert world.of("a") == set() and [n.draining for n in a.member.nodes() if n.id == "a"] == [True]
    assert world.overlaps == []


async def test_a_claimed_instance_runs_here_and_stays(
    cluster: FakeCluster, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    world = World(ids(2))
    a = Node("a", cluster, world)
    await a.start(nursery)
    world.instances.append("new-1")
    await a.member.claim("new-1")  # the supervisor's create: the lease first, then the actor
    world.running["new-1"] = "a"
    assert a.member.is_mine("new-1") and cluster.owners()["new-1"] == "a"
    await periods(5)
    assert cluster.owners()["new-1"] == "a" and ("a", "loss", "new-1") not in [j[1:] for j in world.journal]
    # deleted: its lease goes back at the next round
    world.instances.remove("new-1")
    await periods(1.1)
    assert "new-1" not in cluster.owners()


async def test_leave_frees_everything_at_once(
    cluster: FakeCluster, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    world = World(ids(4))
    a, b = Node("a", cluster, world), Node("b", cluster, world)
    await a.start(nursery)
    await periods(2)
    await b.start(nursery)
    await periods(3)
    await a.member.leave()
    assert world.of("a") == set() and "a" not in cluster.owners().values()
    assert "a" not in cluster.nodes
    await periods(2)  # no ttl wait: the others take them at their next rounds
    assert world.of("b") == set(world.instances) and b.member.holds_projections and world.overlaps == []


async def test_run_while_holding_follows_the_projections_lease(
    cluster: FakeCluster, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    world = World(ids(1))
    a, b = Node("a", cluster, world), Node("b", cluster, world)
    log: list[tuple[str, str]] = []

    def runner(node: str) -> Callable[..., Awaitable[None]]:
        async def run(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
            log.append((node, "start"))
            try:
                await trio.sleep(1)  # catching up before it reports started
                task_status.started()
                log.append((node, "started"))
                await trio.sleep_forever()
            finally:
                log.append((node, "cancelled"))

        return run

    await a.start(nursery)
    await nursery.start(run_while_holding, a.member, runner("a"))
    assert log == [("a", "start"), ("a", "started")]  # the holder reports started once the runner did
    await b.start(nursery)
    await nursery.start(run_while_holding, b.member, runner("b"))
    await periods(3)
    assert log == [("a", "start"), ("a", "started")]  # at once on the other node, which runs nothing
    a.conn.down = True
    await trio.sleep(TTL_MS / 1000 + 3 * PERIOD_S)
    assert log[2] == ("a", "cancelled") and log[3:] == [("b", "start"), ("b", "started")]
    a.conn.down = False
    await periods(5)
    assert len(log) == 5 and not a.member.holds_projections
    b.conn.down = True
    await trio.sleep(TTL_MS / 1000 + 3 * PERIOD_S)
    assert log[5:] == [("b", "cancelled"), ("a", "start"), ("a", "started")]
