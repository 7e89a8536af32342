"""Who may act on which instance: the one rule every use case starts with."""

from __future__ import annotations

from wamux.core.instance_actor import InstanceActor
from wamux.core.supervisor import Supervisor
from wamux.domain.errors import NotFound
from wamux.domain.users import User


def owned(registry: Supervisor, caller: User, instance_id: str) -> InstanceActor:
    """The instance if `caller` may see it; another user's instance is simply not found (404, never 403)."""
    actor = registry.get(instance_id)
    if caller.role != "admin" and actor.instance.user_id != caller.id:
        raise NotFound("instance not found")
    return actor


def limited(caller: User) -> bool:
    """Whether the caller's calls count against instance limits: never for admins (API-2 §8 "Limits")."""
    return caller.role != "admin"
