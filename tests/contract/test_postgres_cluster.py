"""`PostgresCluster` on a real PostgreSQL server: the node registry, lease semantics and epochs, expiry on the
database's clock, two nodes racing for the same names, a stalled database, and schema creation by several
nodes at once."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from wamux.adapters.cluster.postgres import ClusterStoreError, PostgresCluster
from wamux.core.ports.cluster import PROJECTIONS_LEASE, Lease, Leases, Membership, instance_lease

pytestmark = pytest.mark.postgres

TTL = 30_000


@pytest.fixture
def open_cluster(postgres_db_url: str) -> Iterator[Callable[..., PostgresCluster]]:
    opened: list[PostgresCluster] = []

    def make(timeout_s: float = 5.0) -> PostgresCluster:
        cluster = PostgresCluster(postgres_db_url, timeout_s=timeout_s)
        opened.append(cluster)
        return cluster

    yield make
    for cluster in opened:
        cluster.close()


@pytest.fixture
def node_a(open_cluster: Callable[..., PostgresCluster]) -> PostgresCluster:
    return open_cluster()


@pytest.fixture
def node_b(open_cluster: Callable[..., PostgresCluster]) -> PostgresCluster:
    return open_cluster()


def names(n: int) -> list[str]:
    return [instance_lease(f"i{i:04d}") for i in range(n)]


def by_name(leases: list[Lease]) -> dict[str, Lease]:
    return {lease.name: lease for lease in leases}


def test_it_is_both_ports(node_a: PostgresCluster) -> None:
    membership: Membership = node_a
    leases: Leases = node_a
    assert membership.nodes() == [] and leases.holders() == {}


def test_heartbeats_and_the_node_list(node_a: PostgresCluster, node_b: PostgresCluster) -> None:
    now = node_a.heartbeat("b", "http://b:8080", TTL)
    assert abs(now - time.time() * 1000) < 5000  # the database's clock, in epoch ms
    node_a.heartbeat("a", None, TTL, draining=True)
    node_b.heartbeat("c", "http://c", 200)
    node_b.acquire([instance_lease("x"), instance_lease("y"), PROJECTIONS_LEASE], "b", TTL)
    listed = node_b.nodes()
    assert [n.id for n in listed] == ["a", "b", "c"]
    a, b, c = listed
    assert (a.url, a.draining, a.alive, a.leases) == (None, True, True, 0)
    assert (b.url, b.draining, b.alive, b.leases) == ("http://b:8080", False, True, 2)  # not `projections`
    assert b.last_seen_ms == now
    time.sleep(0.35)
    assert [(n.id, n.alive) for n in node_a.nodes()] == [("a", True), ("b", True), ("c", False)]
    later = node_b.heartbeat("c", "http://c2", TTL)
    assert later > now
    c = next(n for n in node_a.nodes() if n.id == "c")
    assert (c.alive, c.url, c.last_seen_ms) == (True, "http://c2", later)
    node_a.heartbeat("a", None, 100)
    time.sleep(0.2)
    assert [(n.id, n.alive) for n in node_a.nodes()] == [("b", True), ("c", True), ("a", False)]  # alive first


def test_acquire_renew_and_release_with_epochs(node_a: PostgresCluster, node_b: PostgresCluster) -> None:
    x, y = instance_lease("x"), instance_lease("y")
    first = by_name(node_a.acquire([x, y, x], "a", TTL))
    assert sorted(first) == [x, y] and all(lease.epoch == 1 and lease.owner == "a" for lease in first.values())
    again = by_name(node_a.acquire([x], "a", TTL))  # already mine: renewed, same epoch
    assert again[x].epoch == 1 and again[x].expires_ms >= first[x].expires_ms
    assert node_b.acquire([x, y], "b", TTL) == []  # never another owner's unexpired lease
    assert {n: lease.owner for n, lease in node_b.holders().items()} == {x: "a", y: "a"}
    assert sorted(node_b.holders([y, "nobody"])) == [y]

    node_b.release([x], "b")  # not b's: nothing happens
    assert node_a.holders([x])[x].owner == "a"
    node_a.release([x], "a")
    assert x not in node_a.holders()
    taken = by_name(node_b.acquire([x, y], "b", TTL))
    assert list(taken) == [x] and taken[x].epoch == 2  # at once, no expiry wait, the next epoch
    renewed = by_name(node_a.renew("a", TTL))
    assert list(renewed) == [y] and renewed[y].epoch == 1 and renewed[y].expires_ms >= first[y].expires_ms
    node_b.release([x], "b")
    assert by_name(node_b.acquire([x], "b", TTL))[x].epoch == 3  # a released lease retaken: next epoch, too
    assert node_a.acquire([], "a", TTL) == [] and node_a.renew("nobody", TTL) == []


def test_expiry_is_on_the_database_clock_and_a_lapsed_lease_is_not_renewed(
    node_a: PostgresCluster, node_b: PostgresCluster
) -> None:
    x, y = instance_lease("x"), instance_lease("y")
    held = by_name(node_a.acquire([x, y], "a", 300))
    now = node_a.heartbeat("a", None, TTL)
    assert 150 <= held[x].expires_ms - now <= 300
    assert sorted(node_b.holders()) == [x, y]
    time.sleep(0.4)
    assert node_b.holders() == {}
    assert node_a.renew("a", TTL) == [], "a lapsed lease is not renewed, even if nobody took it"
    assert by_name(node_b.acquire([x], "b", TTL))[x].epoch == 2
    assert by_name(node_a.acquire([x, y], "a", TTL)) == {y: node_a.holders([y])[y]}
    assert node_a.holders([y])[y].epoch == 2  # its own lapsed lease, taken again: a new epoch
    assert node_a.renew("a", TTL)[0].name == y


def test_two_nodes_racing_for_200_names_each_win_exactly_one_owner(
    node_a: PostgresCluster, node_b: PostgresCluster
) -> None:
    wanted = names(200)
    nodes = {"a": node_a, "b": node_b}
    seen: dict[str, list[tuple[int, str]]] = {name: [] for name in wanted}
    released: set[str] = set()
    rng = random.Random(7)

    def race(owner: str, chunks: list[list[str]], barrier: threading.Barrier) -> list[Lease]:
        barrier.wait()
        return [lease for chunk in chunks for lease in nodes[owner].acquire(chunk, owner, TTL)]

    for _round in range(6):
        barrier = threading.Barrier(4)
        jobs = []
        with ThreadPoolExecutor(4) as pool:
            for owner in ("a", "a", "b", "b"):  # two threads per node, each over every name, in its own order
                order = list(wanted)
                rng.shuffle(order)
                chunks = [order[i : i + 25] for i in range(0, len(order), 25)]
                jobs.append((owner, pool.submit(race, owner, chunks, barrier)))
        won: dict[str, str] = {}
        for owner, job in jobs:
            for lease in job.result():
                assert won.setdefault(lease.name, owner) == owner, f"{lease.name} won by both nodes"
                assert lease.owner == owner
        assert sorted(won) == wanted
        holders = node_a.holders(wanted)
        assert {n: lease.owner for n, lease in holders.items()} == won
        for name, lease in holders.items():
            if seen[name]:
                last_epoch, last_owner = seen[name][-1]
                if lease.owner != last_owner or name in released:
                    assert lease.epoch > last_epoch, "a handover always raises the epoch"
                else:
                    assert lease.epoch == last_epoch, "kept and renewed: the same epoch"
            seen[name].append((lease.epoch, lease.owner))
        # hand over: each node lets go of about half of what it holds before the next race
        released = set()
        for owner, node in nodes.items():
            mine = sorted(n for n, o in won.items() if o == owner)
            gone = rng.sample(mine, k=len(mine) // 2)
            node.release(gone, owner)
            released.update(gone)
    assert all(len(history) == 6 for history in seen.values())
    assert any(len({owner for _e, owner in history}) == 2 for history in seen.values())


def test_leave_removes_the_node_and_frees_its_leases_at_once(node_a: PostgresCluster, node_b: PostgresCluster) -> None:
    node_a.heartbeat("a", None, TTL)
    node_b.heartbeat("b", None, TTL)
    node_a.acquire([*names(3), PROJECTIONS_LEASE], "a", TTL)
    node_b.acquire([instance_lease("b-only")], "b", TTL)
    node_a.leave("a")
    assert [n.id for n in node_b.nodes()] == ["b"]
    assert list(node_b.holders()) == [instance_lease("b-only")]
    taken = node_b.acquire([*names(3), PROJECTIONS_LEASE], "b", TTL)
    assert len(taken) == 4 and all(lease.epoch == 2 for lease in taken)
    node_a.leave("never-joined")  # nothing to do, no error


def test_a_stalled_database_makes_calls_fail_within_the_timeout(
    postgres_db_url: str, open_cluster: Callable[..., PostgresCluster]
) -> None:
    cluster = open_cluster(timeout_s=1.0)
    cluster.acquire(names(5), "a", TTL)
    with psycopg.connect(postgres_db_url) as blocker:  # a transaction, open until the block ends
        blocker.execute("LOCK TABLE cluster_leases IN ACCESS EXCLUSIVE MODE")
        for call in (lambda: cluster.renew("a", TTL), lambda: cluster.acquire(names(2), "a", TTL), cluster.holders):
            start = time.monotonic()
            with pytest.raises(ClusterStoreError) as caught:
                call()
            elapsed = time.monotonic() - start
            assert 0.5 <= elapsed < 2.5, elapsed
            assert isinstance(caught.value, ConnectionError)
        assert cluster.heartbeat("a", None, TTL) > 0  # the node registry is another table: still answers
        blocker.rollback()
    assert len(cluster.renew("a", TTL)) == 5  # once the database answers again, nothing was lost


def test_an_unreachable_database_fails_fast_on_open() -> None:
    start = time.monotonic()
    with pytest.raises(ClusterStoreError):
        PostgresCluster("postgresql://wamux@127.0.0.1:1/none", timeout_s=1.0)
    assert time.monotonic() - start < 5


def test_several_nodes_create_the_tables_at_once(postgres_db_url: str) -> None:
    barrier = threading.Barrier(4)

    def open_and_use(i: int) -> int:
        barrier.wait()
        cluster = PostgresCluster(postgres_db_url)
        try:
            cluster.heartbeat(f"n{i}", None, TTL)
            return len(cluster.acquire([instance_lease(f"x{i}")], f"n{i}", TTL))
        finally:
            cluster.close()

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(open_and_use, range(4))) == [1, 1, 1, 1]
    with psycopg.connect(postgres_db_url) as conn:
        rows = conn.execute("SELECT relname FROM pg_class WHERE relname LIKE 'cluster%%' ORDER BY relname").fetchall()
    assert [r[0] for r in rows] == ["cluster_leases", "cluster_leases_owner", "cluster_leases_pkey",
                                    "cluster_nodes", "cluster_nodes_pkey"]  # fmt: skip


def test_a_thousand_leases_cost_one_round_trip_each_call(node_a: PostgresCluster) -> None:
    wanted = names(1000)
    start = time.monotonic()
    assert len(node_a.acquire(wanted, "a", TTL)) == 1000
    acquired = time.monotonic() - start
    start = time.monotonic()
    assert len(node_a.renew("a", TTL)) == 1000
    renewed = time.monotonic() - start
    assert len(node_a.holders()) == 1000
    assert acquired < 5 and renewed < 5, (acquired, renewed)  # about 10 ms each on a quiet machine
