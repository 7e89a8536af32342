"""The cluster ports (`wamux.core.ports.cluster`) in memory: one shared "database", a connection per node.

It follows the port's documented semantics: every time is the database's clock (`now_ms`, driven by
the test: a callable, plus `advance`); a lease is held while `expires_ms > now`; the epoch grows each
time a lease passes to another owner or is taken after it lapsed or was released; `renew` never extends
a lapsed lease; `release` frees at once. A `FakeConnection` is one node's view: `down = True` makes its
every call raise, as a partitioned database would (`FakeCluster.down` does it for every node).
Calls come from worker threads (the member runs them there), so the state is under a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from wamux.core.ports.cluster import Lease, NodeInfo

NEVER = -(2**62)  # a released lease's expiry


class DatabaseDown(ConnectionError):
    """What a call raises while the database cannot be reached."""


@dataclass
class _Node:
    url: str | None
    last_seen_ms: int
    expires_ms: int
    draining: bool


class FakeCluster:
    """The shared state: the node registry and the lease rows."""

    def __init__(self, now_ms: Callable[[], int] | None = None) -> None:
        self._source = now_ms or (lambda: 0)
        self.offset_ms = 0
        self.down = False
        self.nodes: dict[str, _Node] = {}
        self.leases: dict[str, Lease] = {}  # every row ever written, held or not
        self.calls: list[tuple[str, str]] = []  # (node, method) of every call that reached the database
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        return self._source() + self.offset_ms

    def advance(self, ms: int) -> None:
        """Move the database's clock forward (on top of its source)."""
        self.offset_ms += ms

    def connect(self) -> FakeConnection:
        return FakeConnection(self)

    # ---- what the tests read ----

    def owners(self, prefix: str = "instance:") -> dict[str, str]:
        """Lease name (without `prefix`) -> owner, for every unexpired lease whose name starts with `prefix`."""
        now = self.now_ms()
        return {
            name[len(prefix) :]: lease.owner
            for name, lease in self.leases.items()
            if name.startswith(prefix) and lease.expires_ms > now
        }


class FakeConnection:
    """One node's connection: `Membership` and `Leases` of the port."""

    def __init__(self, cluster: FakeCluster) -> None:
        self.cluster = cluster
        self.down = False
        self.before_release: Callable[[Sequence[str]], None] | None = None  # a test's check of what is released

    def _enter(self, node: str, method: str) -> int:
        if self.down or self.cluster.down:
            raise DatabaseDown("the cluster database cannot be reached")
        self.cluster.calls.append((node, method))
        return self.cluster.now_ms()

    # ---- Membership ----

    def heartbeat(self, node_id: str, url: str | None, ttl_ms: int, *, draining: bool = False) -> int:
        c = self.cluster
        with c._lock:
            now = self._enter(node_id, "heartbeat")
            c.nodes[node_id] = _Node(url, now, now + ttl_ms, draining)
            return now

    def nodes(self) -> list[NodeInfo]:
        c = self.cluster
        with c._lock:
            now = self._enter("", "nodes")
            counts: dict[str, int] = {}
            for name, lease in c.leases.items():
                if name.startswith("instance:") and lease.expires_ms > now:
                    counts[lease.owner] = counts.get(lease.owner, 0) + 1
            infos = [
                NodeInfo(id, n.url, n.last_seen_ms, n.expires_ms > now, counts.get(id, 0), n.draining)
                for id, n in c.nodes.items()
            ]
            return sorted(infos, key=lambda n: (not n.alive, n.id))

    def leave(self, node_id: str) -> None:
        c = self.cluster
        with c._lock:
            self._enter(node_id, "leave")
            c.nodes.pop(node_id, None)
            self._release_locked([name for name, x in c.leases.items() if x.owner == node_id], node_id)

    # ---- Leases ----

    def acquire(self, names: Sequence[str], owner: str, ttl_ms: int) -> list[Lease]:
        c = self.cluster
        with c._lock:
            now = self._enter(owner, "acquire")
            out = []
            for name in names:
                lease = c.leases.get(name)
                if lease is None:
                    lease = Lease(name, owner, 1, now + ttl_ms)
                elif lease.expires_ms <= now:  # lapsed or released: a new holding, a new epoch
                    lease = Lease(name, owner, lease.epoch + 1, now + ttl_ms)
                elif lease.owner == owner:
                    lease = replace(lease, expires_ms=now + ttl_ms)
                else:
                    continue  # another owner's unexpired lease
                c.leases[name] = lease
                out.append(lease)
            return out

    def renew(self, owner: str, ttl_ms: int) -> list[Lease]:
        c = self.cluster
        with c._lock:
            now = self._enter(owner, "renew")
            out = []
            for name, lease in c.leases.items():
                if lease.owner == owner and lease.expires_ms > now:
                    c.leases[name] = lease = replace(lease, expires_ms=now + ttl_ms)
                    out.append(lease)
            return out

    def release(self, names: Sequence[str], owner: str) -> None:
        c = self.cluster
        with c._lock:
            self._enter(owner, "release")
            if self.before_release is not None:
                self.before_release(names)
            self._release_locked(names, owner)

    def _release_locked(self, names: Sequence[str], owner: str) -> None:
        c = self.cluster
        for name in names:
            lease = c.leases.get(name)
            if lease is not None and lease.owner == owner and lease.expires_ms > c.now_ms():
                c.leases[name] = replace(lease, expires_ms=NEVER)

    def holders(self, names: Sequence[str] = ()) -> dict[str, Lease]:
        c = self.cluster
        with c._lock:
            now = self._enter("", "holders")
            return {
                name: lease
                for name, lease in c.leases.items()
                if lease.expires_ms > now and (not names or name in names)
            }
