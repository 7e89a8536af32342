"""The lease planner (API-2.md §10): which instance leases a node takes or gives up this round. Pure.

Every node runs the same plan on the same view (the live instances, who holds each, the alive nodes), so
the nodes agree without talking to each other; the database's lease rows settle any disagreement (one
acquirer wins each name). The plan moves little: free instances go to nodes below their fair share, a node
above its share gives back only its surplus, at most `max_moves` a round, and a balanced cluster moves
nothing. Free instances (nobody holds them, or their holder is dead) are taken at most `max_takes` a round
(by default `max_moves`): a cluster sets it higher, since after a node died its instances must run again
within seconds, while moving a running instance off a live node is what `max_moves` keeps slow.

A fair share is `len(instances) // len(eligible)`, one more for the first `len(instances) % len(eligible)`
eligible nodes ranked by what they hold now (most first, then by id): the nodes that already hold the
larger count keep it, so a spread that differs by at most one is never reshuffled.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class LeasePlan:
    """What one node does this round: acquire the `take` leases, release the `give` ones."""

    take: tuple[str, ...] = ()
    give: tuple[str, ...] = ()


def _rank(instance: str, node: str) -> int:
    """A node's preference for an instance: the same on every machine and run, spread like a hash."""
    digest = hashlib.blake2b(f"{instance}\x00{node}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def fair_shares(counts: Mapping[str, int], total: int, eligible: Sequence[str]) -> dict[str, int]:
    """Each eligible node's share of `total` instances; `counts` is what each holds now."""
    if not eligible:
        return {}
    order = sorted(set(eligible), key=lambda n: (-counts.get(n, 0), n))
    base, extra = divmod(total, len(order))
    return {n: base + (1 if i < extra else 0) for i, n in enumerate(order)}


def _give(mine: Sequence[str], me: str, n: int) -> tuple[str, ...]:
    return tuple(sorted(heapq.nsmallest(n, mine, key=lambda i: _rank(i, me)))) if n > 0 else ()


def _assign(free: Sequence[str], stale: Collection[str], room: Mapping[str, int]) -> dict[str, list[str]]:
    """Deal the free instances out to the nodes with room, in turns, each taking its most preferred one left.

    Instances of a node that is no longer alive (`stale`: its lease may not have expired yet) come after
    those nobody holds. Each node's own preference order keeps nodes whose views differ (one not yet seeing
    the other) from reaching for the same instances.
    """
    total = min(sum(room.values()), len(free))
    if total <= 0:
        return {}
    prefs = {n: iter(heapq.nsmallest(total, free, key=lambda i: (i in stale, -_rank(i, n)))) for n in room}
    dealt: dict[str, list[str]] = {n: [] for n in room}
    taken: set[str] = set()
    turn = sorted(room)
    while turn and len(taken) < total:
        for node in list(turn):
            pick = next((i for i in prefs[node] if i not in taken), None)
            if pick is not None:
                taken.add(pick)
                dealt[node].append(pick)
            if pick is None or len(dealt[node]) >= room[node]:
                turn.remove(node)
    return dealt


def plan_leases(
    instances: Sequence[str],
    holders: Mapping[str, str],
    nodes: Sequence[str],
    me: str,
    *,
    draining: Collection[str] = (),
    max_moves: int = 5,
    max_takes: int | None = None,
) -> LeasePlan:
    """This round's plan for node `me`.

    `instances`: every live instance id; `holders`: instance id → the node holding its unexpired lease;
    `nodes`: the alive nodes (`me` is alive whether listed or not); `draining`: nodes that hand their
    leases over and take none. A holder that is not alive counts as nobody. Holders of ids that are not
    in `instances` are ignored.
    """
    if max_moves < 1:
        raise ValueError("max_moves must be at least 1")
    alive = set(nodes) | {me}
    eligible = sorted(alive - set(draining))
    held: dict[str, list[str]] = {n: [] for n in alive}
    free: list[str] = []
    stale: set[str] = set()
    todo = sorted(set(instances))
    for instance in todo:
        holder = holders.get(instance)
        if holder in held:
            held[holder].append(instance)
        else:
            free.append(instance)
            if holder is not None:
                stale.add(instance)
    mine = held[me]
    if me not in eligible:  # draining: everything goes, a few at a time
        return LeasePlan(give=_give(mine, me, min(len(mine), max_moves)))
    counts = {n: len(held[n]) for n in eligible}
    share = fair_shares(counts, len(todo), eligible)
    surplus = counts[me] - share[me]
    if surplus > 0:
        # The shares add up to every instance, so a surplus here is always a shortfall somewhere else
        # that the free instances and the draining nodes' cannot fill: giving it back is needed.
        return LeasePlan(give=_give(mine, me, min(surplus, max_moves)))
    cap = max_takes if max_takes is not None else max_moves
    room = {n: min(share[n] - counts[n], cap) for n in eligible if share[n] > counts[n]}
    take = _assign(free, stale, room).get(me, [])
    return LeasePlan(take=tuple(sorted(take)))
