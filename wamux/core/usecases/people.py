"""Use cases of people (API-2 §5): a contact's profile, our own profile and picture, the blocklist,
privacy settings.
"""

from __future__ import annotations

from collections.abc import Mapping

from wamux.core import commands as c
from wamux.core.ports import PRIVACY_SETTINGS, MediaConverter, Profile
from wamux.core.supervisor import Supervisor
from wamux.core.usecases.access import owned
from wamux.domain.errors import NotFound, ValidationFailed
from wamux.domain.phones import to_jid
from wamux.domain.users import User

# The values WhatsApp accepts for each privacy setting.
PRIVACY_VALUES: dict[str, tuple[str, ...]] = {
    "lastSeen": ("all", "contacts", "contact_blacklist", "none"),
    "online": ("all", "match_last_seen"),
    "profilePhoto": ("all", "contacts", "contact_blacklist", "none"),
    "about": ("all", "contacts", "contact_blacklist", "none"),
    "groupAdd": ("all", "contacts", "contact_blacklist"),
    "readReceipts": ("all", "none"),
}
assert tuple(PRIVACY_VALUES) == PRIVACY_SETTINGS


def person_jid(contact_id: str) -> str:
    """A person's JID (phone, `...@s.whatsapp.net` or `...@lid`); groups and others are a 400."""
    jid = to_jid(contact_id)
    if not jid.endswith(("@s.whatsapp.net", "@lid")):
        raise ValidationFailed(
            "contactId must be a phone, a ...@s.whatsapp.net JID or a ...@lid id", details={"contactId": "invalid"}
        )
    return jid


class PeopleUseCases:
    def __init__(self, registry: Supervisor, converter: MediaConverter) -> None:
        self.registry = registry
        self.converter = converter

    async def profile(self, caller: User, instance_id: str, contact_id: str) -> Profile:
        actor = owned(self.registry, caller, instance_id)
        profile = await actor.execute(c.FetchProfile(person_jid(contact_id)))
        if profile is None:
            raise NotFound("this number is not on WhatsApp", details={"contactId": contact_id})
        return profile

    async def own_profile(self, caller: User, instance_id: str) -> Profile:
        return await owned(self.registry, caller, instance_id).execute(c.FetchOwnProfile())

    async def set_own_profile(self, caller: User, instance_id: str, *, name: str | None, about: str | None) -> Profile:
        actor = owned(self.registry, caller, instance_id)
        if name is None and about is None:
            raise ValidationFailed("give a name or an about text", details={"name": "required"})
        await actor.execute(c.SetProfile(name=name, about=about))
        return await actor.execute(c.FetchOwnProfile())

    async def set_own_picture(self, caller: User, instance_id: str, data: bytes) -> None:
        actor = owned(self.registry, caller, instance_id)
        jpeg = await self.converter.picture(data)
        await actor.execute(c.SetProfilePicture(jpeg))

    async def set_blocked(self, caller: User, instance_id: str, contact_id: str, blocked: bool) -> None:
        actor = owned(self.registry, caller, instance_id)
        await actor.execute(c.SetBlocked(person_jid(contact_id), blocked))

    async def blocklist(self, caller: User, instance_id: str) -> list[str]:
        return await owned(self.registry, caller, instance_id).execute(c.FetchBlocklist())

    async def privacy(self, caller: User, instance_id: str) -> dict[str, str]:
        return await owned(self.registry, caller, instance_id).execute(c.FetchPrivacy())

    async def set_privacy(self, caller: User, instance_id: str, changes: Mapping[str, object]) -> dict[str, str]:
        actor = owned(self.registry, caller, instance_id)
        if not changes:
            raise ValidationFailed("give at least one privacy setting", details={"privacy": "empty"})
        for name, value in changes.items():
            allowed = PRIVACY_VALUES.get(name)
            if allowed is None:
                raise ValidationFailed(f"unknown privacy setting {name}", details={name: "unknown"})
            if value not in allowed:
                raise ValidationFailed(f"{name} must be one of {', '.join(allowed)}", details={name: "invalid"})
        for name, value in changes.items():
            await actor.execute(c.SetPrivacy(name, str(value)))
        return await actor.execute(c.FetchPrivacy())
