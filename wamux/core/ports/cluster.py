"""The cluster ports: which nodes are alive, and who holds which lease (API-2.md §10).

Every node of a cluster shares one PostgreSQL database; it does all the coordination (no home-made
consensus, no broker). A node heartbeats its row in the node registry; it holds a lease per instance it
runs (`instance:<id>`) and one node holds the `projections` lease. A lease has an owner, an expiry and an
`epoch` that grows each time it changes hands (a fencing token); all times are the database's clock, so
nodes whose clocks differ still agree on who holds what. The instance actor's expected stream version
fences a stale owner out of the log even if two nodes briefly both believe they hold a lease.

The calls block (a database round trip): the core runs them in worker threads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

PROJECTIONS_LEASE = "projections"


def instance_lease(instance_id: str) -> str:
    """The name of an instance's lease."""
    return f"instance:{instance_id}"


@dataclass(frozen=True)
class NodeInfo:
    """One node as the registry knows it."""

    id: str
    url: str | None  # how other nodes reach it (NODE_URL)
    last_seen_ms: int  # its last heartbeat, on the database's clock (epoch ms)
    alive: bool  # heartbeat within the registry's time to live
    leases: int  # instance leases it holds now (unexpired)
    draining: bool = False  # `wamux node drain`: it hands its leases over and takes none


@dataclass(frozen=True)
class Lease:
    name: str
    owner: str
    epoch: int  # +1 each time the lease passes to another owner (or is taken after it expired or was released)
    expires_ms: int  # on the database's clock (epoch ms)


class Membership(Protocol):
    """The node registry."""

    def heartbeat(self, node_id: str, url: str | None, ttl_ms: int, *, draining: bool = False) -> int:
        """Insert or refresh this node's row (alive for `ttl_ms` from now); answers the database's now (ms)."""

    def nodes(self) -> list[NodeInfo]:
        """Every node known, alive or not (alive first, then by id), with its count of held instance leases."""

    def leave(self, node_id: str) -> None:
        """Remove this node's row and release every lease it holds (a planned shutdown)."""


class Leases(Protocol):
    """Named leases: at most one unexpired owner each."""

    def acquire(self, names: Sequence[str], owner: str, ttl_ms: int) -> list[Lease]:
        """Take each named lease that is free, expired, released or already `owner`'s (then renewed), in one
        transaction; answers the leases `owner` holds among `names` afterwards. Never takes an unexpired
        lease of another owner."""

    def renew(self, owner: str, ttl_ms: int) -> list[Lease]:
        """Extend every unexpired lease `owner` holds; answers them. A lease that expired meanwhile is not
        renewed (another node may have taken it): it is missing from the answer, and its holder must stop."""

    def release(self, names: Sequence[str], owner: str) -> None:
        """Give up the named leases if `owner` holds them (others take them at once, no expiry wait)."""

    def holders(self, names: Sequence[str] = ()) -> dict[str, Lease]:
        """The unexpired lease of each name (all names when none given); a name nobody holds is missing."""
