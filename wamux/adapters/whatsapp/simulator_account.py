"""The simulated session's account: groups, profiles, the blocklist, privacy, calls (`AccountSession`).

Each call reaches the network like a send does (the link, the injected latency and failures; the
group list, which the core reads after every connect, only the first two), then
answers as WhatsApp would: group operations by the admin rules of `simulator_groups` (a refusal is a
non-retryable `TransportError`, `not_authorized` or `not_found`; participants get a status each),
profiles from the directory, our own profile, blocklist and privacy kept on the simulated phone.
Every group operation the network carries out is in the outbox as `type: "group_op"` with its `op`
(`create`, `update`, `picture`, `participants`, `revoke_invite`, `join`, `leave`) and its fields; a
rejected call is a `call_reject`. Questions (the group list, a group's info, its current invite
code, profiles, the blocklist, privacy) are not in the outbox.

What the network echoes: nothing of our own operations. WhatsApp does send the device that made a
change the group notification of it (a `JoinedGroup` for a group it created, a `GroupInfo` for a
participant change), but the core records its own operations from their answers, so an echo
would record each twice: the simulator leaves it out. Changes made by others arrive through
`SimulatorTransport.deliver` (the `group-event` route) as the matching transport event.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

from wamux.adapters.whatsapp import simulator_groups as groups
from wamux.adapters.whatsapp import simulator_outbox as wire
from wamux.adapters.whatsapp.simulator_groups import NetGroup, refused
from wamux.adapters.whatsapp.simulator_people import profile_of, resolve
from wamux.adapters.whatsapp.simulator_phone import Phone
from wamux.core.ports import GROUP_ACTIONS, PRIVACY_SETTINGS, GroupInfo, ParticipantResult, Profile
from wamux.domain.ids import random_message_id

JPEG_MIME = "image/jpeg"


class SimulatorAccount:
    """The `AccountSession` half of `SimulatorSession` (which provides the phone and the network)."""

    @property
    def phone(self) -> Phone:
        raise NotImplementedError

    async def _reach_network(self, *, may_fail: bool = True) -> None:
        raise NotImplementedError

    def _save(self) -> None:
        raise NotImplementedError

    def _keep_picture(self, name: PurePosixPath, jpeg: bytes) -> None:
        raise NotImplementedError

    def _group_op(self, op: str, group_jid: str, **fields: Any) -> None:
        self.phone.outbox.append(wire.entry(random_message_id(), group_jid, "group_op", op=op, **fields))
        self._save()

    def _member_group(self, group_jid: str) -> NetGroup:
        group = self.phone.groups.get(group_jid)
        if group is None or group.me is None:
            raise refused("the account is not in this group", "not_found")
        return group

    # ---- groups ---------------------------------------------------------------------------------

    async def joined_groups(self) -> list[GroupInfo]:
        # The core asks this after every connect: a failure injected for the next send must not end up here.
        await self._reach_network(may_fail=False)
        own = self.phone.own
        return [g.info(own) for g in self.phone.groups.values() if g.me is not None]

    async def group_info(self, group_jid: str) -> GroupInfo | None:
        await self._reach_network()
        group = self.phone.groups.get(group_jid)
        return group.info(self.phone.own) if group is not None and group.me is not None else None

    async def create_group(self, subject: str, participants: Sequence[str]) -> GroupInfo:
        await self._reach_network()
        phone = self.phone
        group = groups.create(subject, participants, phone.own, phone.directory, int(time.time()))
        phone.groups[group.jid] = group
        self._group_op("create", group.jid, subject=subject, participants=list(group.members))
        return group.info(phone.own)

    async def update_group(
        self,
        group_jid: str,
        *,
        subject: str | None = None,
        description: str | None = None,
        announce: bool | None = None,
        locked: bool | None = None,
    ) -> None:
        await self._reach_network()
        group = self._member_group(group_jid)
        groups.check_update(
            group,
            info_change=subject is not None or description is not None,
            settings_change=announce is not None or locked is not None,
        )
        groups.update(group, subject=subject, description=description, announce=announce, locked=locked)
        changes = {"subject": subject, "description": description, "announce": announce, "locked": locked}
        self._group_op("update", group_jid, **changes)

    async def set_group_picture(self, group_jid: str, jpeg: bytes) -> None:
        await self._reach_network()
        group = self._member_group(group_jid)
        groups.check_update(group, info_change=True, settings_change=False)
        self._keep_picture(PurePosixPath("groups") / f"{group_jid}.jpg", jpeg)
        self._group_op("picture", group_jid, mimeType=JPEG_MIME, size=len(jpeg))

    async def update_participants(
        self, group_jid: str, action: str, participants: Sequence[str]
    ) -> list[ParticipantResult]:
        await self._reach_network()
        if action not in GROUP_ACTIONS:
            raise refused(f"unknown participant action {action!r}", "bad_request")
        group = self._member_group(group_jid)
        results = groups.change_participants(group, action, participants, self.phone.own, self.phone.directory)
        answers = [{"jid": r.jid, "status": r.status} for r in results]
        self._group_op("participants", group_jid, action=action, participants=list(participants), results=answers)
        return results

    async def group_invite(self, group_jid: str, *, revoke: bool = False) -> str:
        await self._reach_network()
        group = self._member_group(group_jid)
        if not group.admin:
            raise refused("only group admins may share or revoke the invite link", "not_authorized")
        if group.invite is None or revoke:
            group.invite = groups.new_invite_code()
            if revoke:
                self._group_op("revoke_invite", group_jid, code=group.invite)
            else:
                self._save()
        return group.invite

    async def join_group(self, code: str) -> str:
        """A code of a group the network knows joins it (already in it: its JID, nothing changes)."""
        await self._reach_network()
        group = next((g for g in self.phone.groups.values() if g.invite == code), None)
        if group is None:
            raise refused("this invite link is not valid (revoked, or no such group)", "not_found")
        if group.me is None:
            group.me = groups.MEMBER
            self._group_op("join", group.jid, code=code)
        return group.jid

    async def leave_group(self, group_jid: str) -> None:
        await self._reach_network()
        group = self._member_group(group_jid)
        group.me = None
        self._group_op("leave", group_jid)

    # ---- people ---------------------------------------------------------------------------------

    async def profile(self, jid: str) -> Profile | None:
        await self._reach_network()
        own = self.phone.own
        if own.jid and own.matches(jid, jid):
            return self._own_profile()
        return profile_of(self.phone.directory, jid)

    async def own_profile(self) -> Profile:
        await self._reach_network()
        return self._own_profile()

    def _own_profile(self) -> Profile:
        phone = self.phone
        own = phone.own
        return Profile(jid=own.jid, lid=own.lid, name=phone.push_name, push_name=phone.push_name, about=phone.about)

    async def set_profile(self, *, name: str | None = None, about: str | None = None) -> None:
        await self._reach_network()
        if name is not None:
            self.phone.push_name = name
        if about is not None:
            self.phone.about = about
        self._save()

    async def set_profile_picture(self, jpeg: bytes) -> None:
        await self._reach_network()
        self._keep_picture(PurePosixPath("picture.jpg"), jpeg)

    async def set_blocked(self, jid: str, blocked: bool) -> None:
        """Blocking names the person by the phone JID when the network knows it (a LID otherwise)."""
        await self._reach_network()
        named, _lid = resolve(self.phone.directory, jid)
        listed = self.phone.blocked
        if blocked and named not in listed:
            listed.append(named)
        elif not blocked and named in listed:
            listed.remove(named)
        self._save()

    async def blocklist(self) -> list[str]:
        await self._reach_network()
        return list(self.phone.blocked)

    async def privacy(self) -> Mapping[str, str]:
        await self._reach_network()
        return dict(self.phone.privacy)

    async def set_privacy(self, name: str, value: str) -> None:
        await self._reach_network()
        if name not in PRIVACY_SETTINGS or not value:
            raise refused(f"unknown privacy setting {name!r}", "bad_request")
        self.phone.privacy[name] = value
        self._save()

    async def reject_call(self, call_id: str, caller: str) -> None:
        await self._reach_network()
        self.phone.outbox.append(wire.entry(random_message_id(), caller, "call_reject", callId=call_id))
