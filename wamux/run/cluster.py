"""Cluster membership as the routes see it: this node alone, or every node of a cluster on PostgreSQL.

`LocalNode` is a server that runs every instance itself (SQLite or MongoDB): `GET /api/cluster/nodes` lists it
alone and every instance it runs names it as its `node`. `ClusterNodes` is a node on PostgreSQL: the registry
and the leases every node shares say who runs what.
"""

from __future__ import annotations

from typing import Any

from wamux.core.cluster_member import ClusterMember
from wamux.core.ports import NodeInfo
from wamux.core.supervisor import Supervisor
from wamux.domain.clock import Clock, iso_ms
from wamux.run.config import Settings


def node_url(settings: Settings) -> str:
    """NODE_URL, or where this server listens (a host of 0.0.0.0 or :: says nothing to another node)."""
    if settings.node_url:
        return settings.node_url
    host = settings.host if settings.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{settings.port}"


class LocalNode:
    """The only node: it runs every live instance."""

    def __init__(self, settings: Settings, supervisor: Supervisor, clock: Clock) -> None:
        self._node_id = settings.node_id
        self._url = node_url(settings)
        self.supervisor = supervisor
        self.clock = clock

    @property
    def node_id(self) -> str:
        return self._node_id

    def nodes(self) -> list[dict[str, Any]]:
        return [
            {
                "id": self._node_id,
                "url": self._url,
                "instances": len(self.supervisor.actors),
                "lastSeen": iso_ms(self.clock.now_ms()),
                "self": True,
                "alive": True,
                "draining": False,
            }
        ]

    def node_of(self, instance_id: str) -> str | None:
        return self._node_id if instance_id in self.supervisor.actors else None


class ClusterNodes:
    """Every node of a cluster on PostgreSQL, as this node's lease keeper last read the registry."""

    def __init__(self, member: ClusterMember) -> None:
        self.member = member

    @property
    def node_id(self) -> str:
        return self.member.node_id

    def nodes(self) -> list[dict[str, Any]]:
        known = self.member.nodes()
        if not any(n.id == self.member.node_id for n in known):  # before the first heartbeat was read back
            known.append(NodeInfo(self.member.node_id, self.member.url, 0, True, self.member.held_instances))
        return [
            {
                "id": n.id,
                "url": n.url,
                "instances": self.member.held_instances if n.id == self.member.node_id else n.leases,
                "lastSeen": iso_ms(n.last_seen_ms) if n.last_seen_ms else None,
                "self": n.id == self.member.node_id,
                "alive": n.alive,
                "draining": self.member.draining if n.id == self.member.node_id else n.draining,
            }
            for n in known
        ]

    def node_of(self, instance_id: str) -> str | None:
        owner = self.member.owner_of(instance_id)
        return owner[0] if owner else None
