"""Use cases of an instance's lifecycle: create, update, delete, reconnect, log out, pair."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from wamux.core import commands as c
from wamux.core.instance_actor import InstanceActor
from wamux.core.ports import OutboundCheck
from wamux.core.supervisor import Supervisor
from wamux.core.usecases.access import limited, owned
from wamux.core.user_directory import UserDirectory
from wamux.domain.errors import Conflict, ValidationFailed
from wamux.domain.events import DEFAULT_WEBHOOK_ID
from wamux.domain.instances import Instance
from wamux.domain.phones import jid_number, to_jid
from wamux.domain.users import User

# The statuses of a connection that runs through the old proxy (or is about to): changing it reconnects.
RECONNECT_FOR_PROXY = ("connecting", "qr", "connected")


class WebhookLanes(Protocol):
    """The dispatcher's lanes as the use cases see them (`WebhookDispatcher.reset_lane`)."""

    async def reset_lane(self, instance_id: str, webhook_id: str) -> None: ...


class _NoLanes:
    """For rigs without a webhook dispatcher."""

    async def reset_lane(self, instance_id: str, webhook_id: str) -> None:
        return None


def default_target_delivery(instance: Instance) -> tuple[Any, ...]:
    """What the default target's pending deliveries follow: a change of it moves them (`reset_lane`)."""
    settings = instance.webhook_settings
    fields = ("secret", "headers", "maxRetries", "retryInterval")
    return (instance.webhook_url, instance.webhook_enabled, *(settings.get(k) for k in fields))


class InstanceUseCases:
    def __init__(
        self,
        registry: Supervisor,
        users: UserDirectory,
        outbound: OutboundCheck | None,
        lanes: WebhookLanes | None = None,
    ) -> None:
        self.registry = registry
        self.users = users
        self.outbound = outbound
        self.lanes: WebhookLanes = lanes or _NoLanes()

    def owned(self, caller: User, instance_id: str) -> InstanceActor:
        return owned(self.registry, caller, instance_id)

    def visible(self, caller: User) -> list[InstanceActor]:
        return self.registry.visible(None if caller.role == "admin" else caller.id)

    def owner_trusted(self, owner_id: str) -> bool:
        """Whether an instance of `owner_id` may reach private addresses (its owner is an admin, §8)."""
        owner = self.users.get(owner_id)
        return owner is not None and owner.role == "admin"

    async def check_webhook_url(self, url: Any, *, owner_id: str, field_name: str = "webhookUrl") -> None:
        """400 (`validation_error` / `url_not_allowed`) for a webhook URL the owner may not use.

        A name that does not resolve yet is accepted: the check at connect time still applies.
        """
        if self.outbound is None or url is None or url == "":
            return
        await self.outbound.check(url, trusted=self.owner_trusted(owner_id), field_name=field_name, must_resolve=False)

    async def create(self, caller: User, body: Mapping[str, Any]) -> InstanceActor:
        await self.check_webhook_url(body.get("webhookUrl"), owner_id=caller.id)
        return await self.registry.create(caller.id, dict(body), unlimited=not limited(caller))

    async def update(self, caller: User, instance_id: str, changes: Mapping[str, Any]) -> InstanceActor:
        """Never refused by the instance's limits: its owner must be able to lift them.

        A new proxy takes effect on the next connect: a connected (or connecting) instance reconnects for it.
        """
        actor = self.owned(caller, instance_id)
        if "webhookUrl" in changes:
            await self.check_webhook_url(changes["webhookUrl"], owner_id=actor.instance.user_id)
        proxy_before = actor.instance.settings.get("proxy")
        webhook_before = default_target_delivery(actor.instance)
        await actor.execute(c.Update(changes))
        if default_target_delivery(actor.instance) != webhook_before:
            # Its pending deliveries follow the new URL (or stop) at once, not after the current retries.
            await self.lanes.reset_lane(actor.id, DEFAULT_WEBHOOK_ID)
        if actor.instance.settings.get("proxy") != proxy_before and actor.status in RECONNECT_FOR_PROXY:
            await actor.execute(c.Reconnect())
        return actor

    async def delete(self, caller: User, instance_id: str) -> None:
        self.owned(caller, instance_id)
        await self.registry.delete(instance_id)

    async def reconnect(self, caller: User, instance_id: str) -> InstanceActor:
        """A new connection attempt now (a failed instance is restarted first); answers the actor that makes it."""
        actor = self.owned(caller, instance_id)
        if not actor.running:
            actor = await self.registry.restart_failed(instance_id)
        await actor.execute(c.Reconnect())
        return actor

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
