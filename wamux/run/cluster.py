"""Cluster membership as the routes see it: this node alone, or every node of a cluster on PostgreSQL.

`LocalNode` is a server that runs every instance itself (SQLite, MongoDB, or a single PostgreSQL node):
`GET /api/cluster/nodes` lists it alone and every instance it runs names it as its `node`.
"""

from __future__ import annotations

from typing import Any

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
