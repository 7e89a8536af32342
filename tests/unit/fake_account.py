"""The account half of the fake WhatsApp session (`AccountSession`): groups, profiles, blocklist, privacy, calls.

`FakeSession` (`tests.unit.fakes`) is built on the two classes here. `Recording` records every call
and fails or hangs when a test says so. `FakeAccount` keeps what WhatsApp keeps of the account, in
memory, and changes it as WhatsApp would: the creator of a group is its super admin; each group has
one invite code, replaced by a revoke; joining by a code adds the group it opens (`joinable`); each
participant of an add/remove/promote/demote is answered `ok` unless `refusals` names its error, and
only the `ok` ones change the group; leaving drops the group; a profile is known only for the JIDs in
`profiles`. A change is made only after the call succeeded (a failing call changes nothing).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import trio

from wamux.core.ports import GroupInfo, GroupParticipant, ParticipantResult, Profile, TransportError

PRIVACY_DEFAULTS = {
    "lastSeen": "contacts",
    "online": "all",
    "profilePhoto": "all",
    "about": "contacts",
    "groupAdd": "contacts",
    "readReceipts": "all",
}
CREATED_AT = 1_768_471_200  # unix seconds of the groups the fake creates


def make_group(
    jid: str,
    subject: str = "Team",
    *,
    admins: Iterable[str] = (),
    members: Iterable[str] = (),
    lids: Mapping[str, str] | None = None,
    **flags: Any,
) -> GroupInfo:
    """A group as WhatsApp lists it: `admins` first, then `members`; `lids` gives a member's LID."""
    lids = lids or {}
    participants = tuple(GroupParticipant(jid=j, lid=lids.get(j), is_admin=True) for j in admins) + tuple(
        GroupParticipant(jid=j, lid=lids.get(j)) for j in members
    )
    return GroupInfo(jid=jid, subject=subject, participants=participants, **flags)


@dataclass
class Call:
    method: str
    args: tuple[Any, ...] = ()


class Recording:
    """Every call recorded; `fail(method, error, times)` makes the next `times` calls of `method` raise
    `error`, `hang(method)` makes its calls wait forever (a network that never answers)."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._failures: dict[str, list[BaseException]] = {}
        self._hanging: set[str] = set()
        self._ids = itertools.count(1)

    def fail(self, method: str, error: BaseException, times: int = 1) -> None:
        self._failures.setdefault(method, []).extend([error] * times)

    def hang(self, method: str) -> None:
        self._hanging.add(method)

    def called(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    async def _sent(self, method: str, *args: Any) -> str:
        """A call that WhatsApp answers with the id of the message it sent."""
        await self._call(method, *args)
        return f"MSG-{next(self._ids)}"

    async def _call(self, method: str, *args: Any) -> None:
        self.calls.append(Call(method, args))
        await trio.lowlevel.checkpoint()
        if method in self._hanging:
            await trio.sleep(math.inf)
        failures = self._failures.get(method)
        if failures:
            raise failures.pop(0)


class FakeAccount(Recording):
    """The `AccountSession` methods over an account kept in memory (see the module's docstring)."""

    linked_jid: str | None  # set by `FakeSession`

    def __init__(self) -> None:
        super().__init__()
        self.groups: dict[str, GroupInfo] = {}  # the groups the account is in, as joined_groups answers them
        self.joinable: dict[str, GroupInfo] = {}  # invite code -> the group it opens
        self.invites: dict[str, str] = {}  # group JID -> its current invite code
        self.refusals: dict[str, str] = {}  # participant JID -> WhatsApp's error for it (the others: ok)
        self.profiles: dict[str, Profile] = {}  # JID -> profile (any other JID: not on WhatsApp)
        self.own = Profile(jid="", name="Me", about="Hey there")  # our profile (its jid is the linked one)
        self.own_picture: bytes | None = None
        self.group_pictures: dict[str, bytes] = {}
        self.blocked: list[str] = []
        self.privacy_settings: dict[str, str] = dict(PRIVACY_DEFAULTS)
        self.rejected: list[tuple[str, str]] = []  # (call id, caller)
        self._numbers = itertools.count(1)

    def _me(self, *, admin: bool) -> GroupParticipant:
        return GroupParticipant(jid=self.linked_jid or "", is_admin=admin, is_super_admin=admin)

    def _member_of(self, group_jid: str) -> GroupInfo:
        group = self.groups.get(group_jid)
        if group is None:
            raise TransportError("not a member of this group", retryable=False, code="not_member")
        return group

    # ---- groups ----

    async def joined_groups(self) -> list[GroupInfo]:
        await self._call("joined_groups")
        return list(self.groups.values())

    async def group_info(self, group_jid: str) -> GroupInfo | None:
        await self._call("group_info", group_jid)
        return self.groups.get(group_jid)

    async def create_group(self, subject: str, participants: Sequence[str]) -> GroupInfo:
        await self._call("create_group", subject, tuple(participants))
        jid = f"{120363000000000000 + next(self._numbers)}@g.us"
        members = (self._me(admin=True), *(GroupParticipant(jid=p) for p in participants))
        group = GroupInfo(jid, subject, owner=self.linked_jid, created_at=CREATED_AT, participants=members)
        self.groups[jid] = group
        return group

    async def update_group(
        self,
        group_jid: str,
        *,
        subject: str | None = None,
        description: str | None = None,
        announce: bool | None = None,
        locked: bool | None = None,
    ) -> None:
        given = {"subject": subject, "description": description, "announce": announce, "locked": locked}
        changes: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
        await self._call("update_group", group_jid, changes)
        self.groups[group_jid] = dataclasses.replace(self._member_of(group_jid), **changes)

    async def set_group_picture(self, group_jid: str, jpeg: bytes) -> None:
        await self._call("set_group_picture", group_jid, jpeg)
        self.group_pictures[group_jid] = jpeg

    async def update_participants(
        self, group_jid: str, action: str, participants: Sequence[str]
    ) -> list[ParticipantResult]:
        await self._call("update_participants", group_jid, action, tuple(participants))
        group = self._member_of(group_jid)
        results = [ParticipantResult(p, self.refusals.get(p, "ok")) for p in participants]
        ok = {r.jid for r in results if r.status == "ok"}
        members = [m for m in group.participants if not (action == "remove" and m.jid in ok)]
        if action in ("promote", "demote"):
            members = [dataclasses.replace(m, is_admin=action == "promote") if m.jid in ok else m for m in members]
        if action == "add":
            known = {m.jid for m in members}
            members += [GroupParticipant(jid=j) for j in participants if j in ok and j not in known]
        self.groups[group_jid] = dataclasses.replace(group, participants=tuple(members))
        return results

    async def group_invite(self, group_jid: str, *, revoke: bool = False) -> str:
        await self._call("group_invite", group_jid, revoke)
        self._member_of(group_jid)
        if revoke or group_jid not in self.invites:
            self.invites[group_jid] = f"Invite{next(self._numbers):06d}Code"
        return self.invites[group_jid]

    async def join_group(self, code: str) -> str:
        await self._call("join_group", code)
        group = self.joinable.get(code)
        if group is None:
            raise TransportError("this invite link is not valid", retryable=False, code="invite_not_found")
        self.groups[group.jid] = dataclasses.replace(group, participants=(*group.participants, self._me(admin=False)))
        return group.jid

    async def leave_group(self, group_jid: str) -> None:
        await self._call("leave_group", group_jid)
        self._member_of(group_jid)
        del self.groups[group_jid]

    # ---- people ----

    async def profile(self, jid: str) -> Profile | None:
        await self._call("profile", jid)
        return self.profiles.get(jid)

    async def own_profile(self) -> Profile:
        await self._call("own_profile")
        return dataclasses.replace(self.own, jid=self.linked_jid or self.own.jid)

    async def set_profile(self, *, name: str | None = None, about: str | None = None) -> None:
        await self._call("set_profile", name, about)
        changes: dict[str, Any] = {k: v for k, v in (("name", name), ("about", about)) if v is not None}
        self.own = dataclasses.replace(self.own, **changes)

    async def set_profile_picture(self, jpeg: bytes) -> None:
        await self._call("set_profile_picture", jpeg)
        self.own_picture = jpeg

    async def set_blocked(self, jid: str, blocked: bool) -> None:
        await self._call("set_blocked", jid, blocked)
        if blocked and jid not in self.blocked:
            self.blocked.append(jid)
        elif not blocked and jid in self.blocked:
            self.blocked.remove(jid)

    async def blocklist(self) -> list[str]:
        await self._call("blocklist")
        return list(self.blocked)

    async def privacy(self) -> Mapping[str, str]:
        await self._call("privacy")
        return dict(self.privacy_settings)

    async def set_privacy(self, name: str, value: str) -> None:
        await self._call("set_privacy", name, value)
        self.privacy_settings[name] = value

    async def reject_call(self, call_id: str, caller: str) -> None:
        await self._call("reject_call", call_id, caller)
        self.rejected.append((call_id, caller))
