"""Use cases of contacts: the phone's list, add / save one, import them all."""

from __future__ import annotations

from wamux.core import commands as c
from wamux.core.ports import RemoteContact
from wamux.core.supervisor import Supervisor
from wamux.core.usecases.access import owned
from wamux.domain.events import ContactSaved
from wamux.domain.phones import is_group, jid_number
from wamux.domain.users import User


class ContactUseCases:
    def __init__(self, registry: Supervisor) -> None:
        self.registry = registry

    async def live(self, caller: User, instance_id: str) -> list[RemoteContact]:
        return await owned(self.registry, caller, instance_id).execute(c.FetchContacts())

    async def add(self, caller: User, instance_id: str, jid: str, name: str | None) -> None:
        await self.save(caller, instance_id, jid, name=name, is_group_chat=is_group(jid))

    async def save(
        self,
        caller: User,
        instance_id: str,
        jid: str,
        *,
        name: str | None = None,
        push_name: str | None = None,
        is_group_chat: bool | None = None,
        profile_picture: str | None = None,
        about: str | None = None,
    ) -> None:
        actor = owned(self.registry, caller, instance_id)
        contact = ContactSaved(
            instance_id=actor.id,
            jid=jid,
            number=jid_number(jid),
            name=name,
            push_name=push_name,
            is_group=is_group(jid) if is_group_chat is None else is_group_chat,
            profile_picture=profile_picture,
            about=about,
        )
        await actor.execute(c.SaveContact(contact))

    async def import_all(self, caller: User, instance_id: str) -> int:
        return await owned(self.registry, caller, instance_id).execute(c.ImportContacts())
