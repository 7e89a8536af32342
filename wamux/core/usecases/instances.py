"""Use cases of an instance's lifecycle: create, update, delete, reconnect, log out, pair."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wamux.core import commands as c
from wamux.core.instance_actor import InstanceActor
from wamux.core.ports import OutboundCheck
from wamux.core.supervisor import Supervisor
from wamux.core.usecases.access import limited, owned
from wamux.core.user_directory import UserDirectory
from wamux.domain.errors import Conflict, ValidationFailed
from wamux.domain.phones import jid_number, to_jid
from wamux.domain.users import User


class InstanceUseCases:
    def __init__(self, registry: Supervisor, users: UserDirectory, outbound: OutboundCheck | None) -> None:
        self.registry = registry
        self.users = users
        self.outbound = outbound

    def owned(self, caller: User, instance_id: str) -> InstanceActor:
        return owned(self.registry, caller, instance_id)

    def visible(self, caller: User) -> list[InstanceActor]:
        return self.registry.visible(None if caller.role == "admin" else caller.id)

    def owner_trusted(self, owner_id: str) -> bool:
        """Whether an instance of `owner_id` may reach private addresses (its owner is an admin, §8)."""
        owner = self.users.get(owner_id)
        return owner is not None and owner.role == "admin"

    async def check_webhook_url(self, url: Any, *, owner_id: str) -> None:
        """400 (`validation_error` / `url_not_allowed`) for a webhook URL the owner may not use.

        A name that does not resolve yet is accepted: the check at connect time still applies.
        """
        if self.outbound is None or url is None or url == "":
            return
        await self.outbound.check(
            url, trusted=self.owner_trusted(owner_id), field_name="webhookUrl", must_resolve=False
        )

    async def create(self, caller: User, body: Mapping[str, Any]) -> InstanceActor:
        await self.check_webhook_url(body.get("webhookUrl"), owner_id=caller.id)
        return await self.registry.create(caller.id, dict(body), unlimited=not limited(caller))

    async def update(self, caller: User, instance_id: str, changes: Mapping[str, Any]) -> InstanceActor:
        """Never refused by the instance's limits: its owner must be able to lift them."""
        actor = self.owned(caller, instance_id)
        if "webhookUrl" in changes:
            await self.check_webhook_url(changes["webhookUrl"], owner_id=actor.instance.user_id)
        await actor.execute(c.Update(changes))
        return actor

    async def delete(self, caller: User, instance_id: str) -> None:
        self.owned(caller, instance_id)
        await self.registry.delete(instance_id)

    async def reconnect(self, caller: User, instance_id: str) -> None:
        actor = self.owned(caller, instance_id)
        if not actor.running:
            actor = await self.registry.restart_failed(instance_id)
        await actor.execute(c.Reconnect())

    async def logout(self, caller: User, instance_id: str) -> None:
        await self.owned(caller, instance_id).execute(c.Logout())

    async def pair(self, caller: User, instance_id: str, phone: str) -> str:
        actor = self.owned(caller, instance_id)
        jid = to_jid(phone)
        if "@s.whatsapp.net" not in jid:
            raise ValidationFailed("phone must be a phone number", details={"phone": "invalid"})
        if actor.status == "connected":
            raise Conflict("instance is already connected")
        return await actor.execute(c.Pair(jid_number(jid)))
