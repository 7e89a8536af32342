"""The lease planner (`wamux.domain.cluster`): fair shares, takes and gives, and a simulated cluster that
plans round after round until nothing moves."""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Collection, Mapping, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wamux.domain.cluster import LeasePlan, fair_shares, plan_leases


def ids(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i:03d}" for i in range(n)]


def spread(instances: Sequence[str], nodes: Sequence[str]) -> dict[str, str]:
    return {instance: nodes[i % len(nodes)] for i, instance in enumerate(instances)}


def counts(holders: Mapping[str, str]) -> Counter[str]:
    return Counter(holders.values())


class Cluster:
    """Nodes sharing one lease table: a take succeeds when nobody alive holds the instance."""

    def __init__(
        self,
        instances: Sequence[str],
        holders: Mapping[str, str],
        nodes: Sequence[str],
        *,
        draining: Collection[str] = (),
        max_moves: int = 5,
    ) -> None:
        self.instances = list(instances)
        self.holders = dict(holders)
        self.nodes = list(nodes)
        self.draining = set(draining)
        self.max_moves = max_moves
        self.moves = 0  # leases that changed hands (a give and the later take count once, at the take)
        self.taken: Counter[str] = Counter()

    def plan(self, me: str, holders: Mapping[str, str] | None = None) -> LeasePlan:
        view = self.holders if holders is None else holders
        return plan_leases(self.instances, view, self.nodes, me, draining=self.draining, max_moves=self.max_moves)

    def _apply(self, me: str, plan: LeasePlan) -> int:
        changed = 0
        for instance in plan.give:
            assert self.holders.get(instance) == me, "a node gives only what it holds"
            del self.holders[instance]
            changed += 1
        for instance in plan.take:
            if self.holders.get(instance) not in self.nodes:  # free, or its holder died: the lease expired
                self.holders[instance] = me
                self.taken[instance] += 1
                self.moves += 1
                changed += 1
        return changed

    def round(self, rng: random.Random, *, together: bool) -> int:
        """Every node plans once; `together`: all on the view of the round's start (nodes racing)."""
        order = list(self.nodes)
        rng.shuffle(order)
        if together:
            view = dict(self.holders)
            plans = {me: self.plan(me, view) for me in order}
            return sum(self._apply(me, plans[me]) for me in order)
        return sum(self._apply(me, self.plan(me)) for me in order)

    def settle(self, rng: random.Random, *, together: bool = True, limit: int = 1000) -> int:
        """Rounds until one moves nothing (that quiet round included)."""
        for n in range(1, limit + 1):
            if self.round(rng, together=together) == 0:
                return n
        raise AssertionError("the cluster never settled")

    def assert_balanced(self) -> None:
        eligible = [n for n in self.nodes if n not in self.draining]
        assert sorted(self.holders) == sorted(set(self.instances)), "every instance held exactly once"
        assert set(self.holders.values()) <= set(eligible), "held by alive, non-draining nodes only"
        per_node = [counts(self.holders)[n] for n in eligible]
        assert max(per_node) - min(per_node) <= 1, per_node
        for me in self.nodes:
            assert self.plan(me) == LeasePlan(), f"{me} would still move"


# -- fair shares and single plans -------------------------------------------------------------------


def test_fair_shares_add_up_and_the_larger_holders_keep_the_extra() -> None:
    share = fair_shares({"b": 4, "c": 4}, 10, ["a", "b", "c"])
    assert share == {"b": 4, "c": 3, "a": 3}
    assert sum(fair_shares({}, 7, ["x", "y", "z"]).values()) == 7
    assert fair_shares({}, 7, ["z", "y", "x"]) == {"x": 3, "y": 2, "z": 2}  # ties go by id
    assert fair_shares({}, 3, []) == {}


def test_a_node_alone_takes_everything_a_few_at_a_time() -> None:
    instances = ids("i", 12)
    plan = plan_leases(instances, {}, [], "a", max_moves=5)
    assert len(plan.take) == 5 and plan.give == ()
    cluster = Cluster(instances, {}, ["a"], max_moves=5)
    assert cluster.settle(random.Random(1)) == 4  # 5 + 5 + 2, then a quiet round
    assert counts(cluster.holders) == {"a": 12}


def test_a_balanced_cluster_moves_nothing() -> None:
    nodes = ["a", "b", "c"]
    instances = ids("i", 10)
    holders = spread(instances, nodes)  # 4, 3, 3
    assert all(plan_leases(instances, holders, nodes, me) == LeasePlan() for me in nodes)
    # the node holding 4 may be any of them: whoever holds the extra keeps it
    holders = spread(instances, ["c", "a", "b"])
    assert all(plan_leases(instances, holders, nodes, me) == LeasePlan() for me in nodes)


def test_takes_stay_within_the_share_and_max_moves() -> None:
    instances = ids("i", 30)
    holders = spread(instances[:18], ["a", "b"])  # 9 and 9, 12 free, c has nothing
    plan_a = plan_leases(instances, holders, ["a", "b", "c"], "a", max_moves=3)
    plan_c = plan_leases(instances, holders, ["a", "b", "c"], "c", max_moves=3)
    assert len(plan_a.take) == 1 and plan_a.give == ()  # a's share is 10
    assert len(plan_c.take) == 3
    assert not set(plan_a.take) & set(plan_c.take), "one view, one taker per instance"
    assert set(plan_c.take) <= set(instances[18:])


def test_plans_are_deterministic_and_nodes_starting_together_reach_for_different_instances() -> None:
    instances = ids("i", 100)
    nodes = ids("n", 4)
    first = {me: plan_leases(instances, {}, nodes, me) for me in nodes}
    again = {me: plan_leases(list(reversed(instances)), {}, list(reversed(nodes)), me) for me in nodes}
    assert first == again
    taken = [i for plan in first.values() for i in plan.take]
    assert len(taken) == len(set(taken)) == 20
    # a node that does not see the others yet picks by its own preference: little overlap with theirs
    alone = {me: set(plan_leases(instances, {}, [me], me).take) for me in nodes}
    overlap = sum(len(alone[x] & alone[y]) for x in nodes for y in nodes if x < y)
    assert overlap <= 3


def test_a_surplus_is_given_back_only_when_another_node_is_short() -> None:
    instances = ids("i", 12)
    holders = {i: "a" for i in instances[:8]} | {i: "b" for i in instances[8:]}  # 8 and 4
    plan = plan_leases(instances, holders, ["a", "b"], "a", max_moves=5)
    assert len(plan.give) == 2 and set(plan.give) <= set(instances[:8])
    assert plan_leases(instances, holders, ["a", "b"], "b") == LeasePlan()  # nothing free to take yet
    # with free instances enough to fill b, a keeps its 8 until they are taken … and is then above its
    # share only if b is still short
    holders = {i: "a" for i in instances[:6]}
    assert plan_leases(instances, holders, ["a", "b"], "a") == LeasePlan()
    assert len(plan_leases(instances, holders, ["a", "b"], "b").take) == 5


def test_a_node_joining_a_balanced_cluster_moves_only_what_is_needed() -> None:
    instances = ids("i", 30)
    nodes = ["a", "b", "c"]
    cluster = Cluster(instances, spread(instances, nodes), [*nodes, "d"], max_moves=2)
    before = dict(cluster.holders)
    rounds = cluster.settle(random.Random(3))
    cluster.assert_balanced()
    assert counts(cluster.holders)["d"] == 7
    assert cluster.moves == 7, "d's 7 and not one more"
    assert all(cluster.holders[i] in (before[i], "d") for i in instances)
    assert rounds <= math.ceil(7 / 2) + 2


def test_a_dead_nodes_instances_are_taken_by_the_others_and_nothing_else_moves() -> None:
    instances = ids("i", 30)
    holders = spread(instances, ["a", "b", "c"])
    plan = plan_leases(instances, holders, ["a", "b"], "a")
    assert len(plan.take) == 5 and all(holders[i] == "c" for i in plan.take)
    cluster = Cluster(instances, holders, ["a", "b"], max_moves=5)
    cluster.settle(random.Random(4))
    cluster.assert_balanced()
    assert cluster.moves == 10
    assert all(cluster.holders[i] == holders[i] for i in instances if holders[i] != "c")


def test_free_instances_come_before_those_of_a_dead_node_whose_lease_may_still_run() -> None:
    instances = ids("i", 10)
    holders = {i: "gone" for i in instances[:5]}
    plan = plan_leases(instances, holders, [], "a", max_moves=5)
    assert set(plan.take) == set(instances[5:])


def test_a_draining_node_gives_everything_and_takes_nothing() -> None:
    instances = ids("i", 12)
    holders = spread(instances, ["a", "b"])
    plan = plan_leases(instances, holders, ["a", "b"], "a", draining={"a"}, max_moves=4)
    assert plan.take == () and len(plan.give) == 4
    # the others do not count it: b's share is all 12, it takes what a released
    assert plan_leases(instances, holders, ["a", "b"], "b", draining={"a"}).take == ()  # nothing free yet
    cluster = Cluster(instances, holders, ["a", "b", "c"], draining={"a"}, max_moves=4)
    rounds = cluster.settle(random.Random(5))
    cluster.assert_balanced()
    assert counts(cluster.holders) == {"b": 6, "c": 6}
    assert rounds <= math.ceil(12 / 4) + 2
    # draining and alone: it still lets go of everything
    assert len(plan_leases(instances, holders, [], "a", draining={"a"}, max_moves=20).give) == 6
    assert plan_leases(instances, {}, [], "a", draining={"a"}) == LeasePlan()


def test_ids_that_are_not_live_instances_are_ignored() -> None:
    plan = plan_leases(["i1"], {"old": "a", "i1": "b"}, ["a", "b"], "a")
    assert plan == LeasePlan()  # a's share of one instance over two nodes is 0, and b holds it
    with pytest.raises(ValueError):
        plan_leases(["i1"], {}, [], "a", max_moves=0)


# -- the property: any start settles quickly, fair, and then stays put --------------------------------


@st.composite
def clusters(draw: st.DrawFn) -> tuple[Cluster, int]:
    n_instances = draw(st.integers(0, 80))
    n_nodes = draw(st.integers(1, 6))
    instances = ids("i", n_instances)
    nodes = ids("n", n_nodes)
    dead = ["dead0", "dead1"]
    draining = draw(st.sets(st.sampled_from(nodes), max_size=n_nodes - 1))
    start = draw(st.lists(st.sampled_from([None, *nodes, *dead]), min_size=n_instances, max_size=n_instances))
    holders = {i: h for i, h in zip(instances, start, strict=True) if h is not None}
    max_moves = draw(st.integers(1, 8))
    seed = draw(st.integers(0, 2**32 - 1))
    return Cluster(instances, holders, nodes, draining=draining, max_moves=max_moves), seed


@settings(max_examples=300, deadline=None)
@given(clusters(), st.booleans())
def test_any_cluster_settles_within_the_bound_fairly_and_then_moves_nothing(
    case: tuple[Cluster, int], together: bool
) -> None:
    cluster, seed = case
    rng = random.Random(seed)
    n = len(cluster.instances)
    rounds = cluster.settle(rng, together=together)
    assert rounds <= math.ceil(n / cluster.max_moves) + 2, rounds
    cluster.assert_balanced()
    assert max(cluster.taken.values(), default=0) <= 1, "no instance moves twice"
    assert cluster.round(rng, together=together) == 0


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 60), st.integers(1, 6), st.randoms(use_true_random=False), st.integers(1, 6))
def test_any_balanced_spread_moves_nothing(n: int, n_nodes: int, rng: random.Random, max_moves: int) -> None:
    """Whichever nodes hold the extra one and whichever instances each holds: nobody moves."""
    nodes = ids("n", n_nodes)
    base, extra = divmod(n, n_nodes)
    big = set(rng.sample(nodes, extra))
    slots = [node for node in nodes for _ in range(base + (node in big))]
    rng.shuffle(slots)
    instances = ids("i", n)
    holders = dict(zip(instances, slots, strict=True))
    listed = rng.sample(nodes, n_nodes)  # in any order
    assert all(plan_leases(instances, holders, listed, me, max_moves=max_moves) == LeasePlan() for me in nodes)


def test_free_instances_can_be_taken_faster_than_running_ones_are_moved() -> None:
    """After a node died, its instances run again at once (`max_takes`), while a rebalance stays slow."""
    instances = [f"i{n:03}" for n in range(100)]
    holders = {i: "dead" for i in instances}  # the dead node's leases (it is not in `nodes`)
    plans = {me: plan_leases(instances, holders, ["a", "b"], me, max_moves=5, max_takes=100) for me in ("a", "b")}
    assert len(plans["a"].take) == len(plans["b"].take) == 50
    assert set(plans["a"].take) | set(plans["b"].take) == set(instances)
    assert plan_leases(instances, holders, ["a", "b"], "a", max_moves=5).take.__len__() == 5  # by default: max_moves
    # A balanced pair and a newcomer: the newcomer gets a few at a time, however high max_takes is.
    balanced = {i: ("a" if n % 2 else "b") for n, i in enumerate(instances)}
    give = plan_leases(instances, balanced, ["a", "b", "c"], "a", max_moves=5, max_takes=100).give
    assert 0 < len(give) <= 5
