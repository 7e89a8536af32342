"""Use cases of groups (API-2 §4): list (from the read model, refreshed on demand), create, read,
change, picture, participants, invite links, join, leave. Admin rights are checked against the
groups read model before WhatsApp is asked (403 `not_group_admin`); WhatsApp's own per-participant
answers are passed through.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from wamux.core import commands as c
from wamux.core.instance_actor import InstanceActor
from wamux.core.ports import GROUP_ACTIONS, MediaConverter, ParticipantResult
from wamux.core.supervisor import Supervisor
from wamux.core.usecases.access import owned
from wamux.domain.errors import GroupNotFound, ValidationFailed
from wamux.domain.groups import check_change, invite_code, invite_link, participants_batch, require_admin
from wamux.domain.phones import to_jid
from wamux.domain.users import User


class GroupReads(Protocol):
    """The groups read model (`wamux.core.queries.ReadQueries`)."""

    async def groups(self, instance_id: str) -> list[dict[str, Any]]: ...

    async def group(self, instance_id: str, group_jid: str) -> dict[str, Any] | None: ...


class GroupUseCases:
    def __init__(self, registry: Supervisor, reads: GroupReads, converter: MediaConverter) -> None:
        self.registry = registry
        self.reads = reads
        self.converter = converter

    @staticmethod
    def _own(actor: InstanceActor) -> tuple[str, ...]:
        return actor.own_jids

    async def _group(self, actor: InstanceActor, group_jid: str) -> dict[str, Any]:
        group = await self.reads.group(actor.id, group_jid)
        if group is None:
            raise GroupNotFound("group not found (the account is not a member)", details={"groupId": group_jid})
        return group

    async def joined(self, caller: User, instance_id: str, *, refresh: bool = False) -> list[dict[str, Any]]:
        actor = owned(self.registry, caller, instance_id)
        if refresh:
            await actor.execute(c.SyncGroups())
        return await self.reads.groups(actor.id)

    async def get(self, caller: User, instance_id: str, group_jid: str) -> dict[str, Any]:
        return await self._group(owned(self.registry, caller, instance_id), group_jid)

    async def create(self, caller: User, instance_id: str, subject: str, participants: Sequence[str]) -> dict[str, Any]:
        actor = owned(self.registry, caller, instance_id)
        jids = tuple(to_jid(p) for p in participants_batch(list(participants)))
        group = await actor.execute(c.CreateGroup(subject, jids))
        return await self._group(actor, group.jid)

    async def update(
        self, caller: User, instance_id: str, group_jid: str, changes: Mapping[str, Any]
    ) -> dict[str, Any]:
        actor = owned(self.registry, caller, instance_id)
        group = await self._group(actor, group_jid)
        check_change(group, self._own(actor), changes)
        await actor.execute(
            c.UpdateGroup(
                group_jid,
                subject=changes.get("subject"),
                description=changes.get("description"),
                announce=changes.get("announce"),
                locked=changes.get("locked"),
            )
        )
        return await self._group(actor, group_jid)

    async def set_picture(self, caller: User, instance_id: str, group_jid: str, data: bytes) -> None:
        actor = owned(self.registry, caller, instance_id)
        group = await self._group(actor, group_jid)
        check_change(group, self._own(actor), {})
        jpeg = await self.converter.picture(data)
        await actor.execute(c.SetGroupPicture(group_jid, jpeg))

    async def participants(
        self, caller: User, instance_id: str, group_jid: str, action: str, participants: Sequence[str]
    ) -> list[ParticipantResult]:
        if action not in GROUP_ACTIONS:
            raise ValidationFailed("action must be add, remove, promote or demote", details={"action": "invalid"})
        actor = owned(self.registry, caller, instance_id)
        group = await self._group(actor, group_jid)
        require_admin(group, self._own(actor), f"{action} participants")
        jids = tuple(to_jid(p) for p in participants_batch(list(participants)))
        return await actor.execute(c.UpdateParticipants(group_jid, action, jids))

    async def invite(self, caller: User, instance_id: str, group_jid: str, *, revoke: bool = False) -> dict[str, str]:
        actor = owned(self.registry, caller, instance_id)
        group = await self._group(actor, group_jid)
        require_admin(group, self._own(actor), "share or revoke the invite link")
        code = await actor.execute(c.GroupInvite(group_jid, revoke=revoke))
        return {"code": code, "link": invite_link(code)}

    async def join(self, caller: User, instance_id: str, *, link: str | None, code: str | None) -> str:
        actor = owned(self.registry, caller, instance_id)
        return await actor.execute(c.JoinGroup(invite_code(link, code)))

    async def leave(self, caller: User, instance_id: str, group_jid: str) -> None:
        actor = owned(self.registry, caller, instance_id)
        await self._group(actor, group_jid)
        await actor.execute(c.LeaveGroup(group_jid))
