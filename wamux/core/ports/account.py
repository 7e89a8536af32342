"""The rest of an account on the wire (API-2 §4, §5): groups, profiles, the blocklist, privacy, calls.

`AccountSession` is the part of `WhatsAppSession` that manages them; the wire types below are what
it answers and what the transport reports (`GroupJoinedIn`, `GroupUpdatedIn`, `GroupParticipantsIn`,
`CallIn`, `IdentityIn` are transport events, see `wire_in.TransportEvent`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

# ---- groups -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupParticipant:
    jid: str  # the phone JID when WhatsApp told it, else the LID
    lid: str | None = None
    is_admin: bool = False
    is_super_admin: bool = False


@dataclass(frozen=True)
class GroupInfo:
    jid: str  # <digits>@g.us
    subject: str
    description: str | None = None
    owner: str | None = None
    announce: bool = False  # only admins send
    locked: bool = False  # only admins edit the group's info
    created_at: int | None = None  # unix seconds
    participants: tuple[GroupParticipant, ...] = ()


@dataclass(frozen=True)
class ParticipantResult:
    """WhatsApp's answer for one participant of an add/remove/promote/demote: `ok` or its error."""

    jid: str
    status: str


GROUP_ACTIONS = ("add", "remove", "promote", "demote")


# ---- people -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    jid: str
    lid: str | None = None
    name: str | None = None  # ours: the push name we show; a contact's: their verified/business name if any
    push_name: str | None = None
    about: str | None = None
    picture_url: str | None = None
    is_business: bool = False


@dataclass(frozen=True)
class DirectoryEntry:
    """What the simulated network knows of a number (`PUT /api/simulator/instances/{id}/directory`)."""

    phone: str  # digits
    exists: bool
    lid: str | None = None
    name: str | None = None
    about: str | None = None
    is_business: bool = False


PRIVACY_SETTINGS = ("lastSeen", "online", "profilePhoto", "about", "groupAdd", "readReceipts")


# ---- what arrives -------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupJoinedIn:
    """We were added to a group, created one, or joined by link."""

    group: GroupInfo
    by: str | None = None


@dataclass(frozen=True)
class GroupUpdatedIn:
    """The group's info changed (None: that field did not)."""

    group_jid: str
    subject: str | None = None
    description: str | None = None
    announce: bool | None = None
    locked: bool | None = None
    by: str | None = None


@dataclass(frozen=True)
class GroupParticipantsIn:
    group_jid: str
    action: str  # add | remove | promote | demote
    participants: tuple[str, ...]
    by: str | None = None


@dataclass(frozen=True)
class CallIn:
    call_id: str
    from_jid: str
    is_video: bool = False
    is_group: bool = False
    timestamp: int | None = None


@dataclass(frozen=True)
class IdentityIn:
    """WhatsApp told us that `lid` and `phone_jid` are the same person."""

    lid: str
    phone_jid: str


# ---- what the actor asks ------------------------------------------------------------------------


class AccountSession(Protocol):
    """Groups, profiles, blocklist, privacy and calls of the linked account (needs a connection)."""

    async def joined_groups(self) -> list[GroupInfo]: ...

    async def group_info(self, group_jid: str) -> GroupInfo | None:
        """None when we are not a member (or there is no such group)."""

    async def create_group(self, subject: str, participants: Sequence[str]) -> GroupInfo: ...

    async def update_group(
        self,
        group_jid: str,
        *,
        subject: str | None = None,
        description: str | None = None,
        announce: bool | None = None,
        locked: bool | None = None,
    ) -> None: ...

    async def set_group_picture(self, group_jid: str, jpeg: bytes) -> None: ...

    async def update_participants(
        self, group_jid: str, action: str, participants: Sequence[str]
    ) -> list[ParticipantResult]: ...

    async def group_invite(self, group_jid: str, *, revoke: bool = False) -> str:
        """The invite code (a new one with `revoke`)."""

    async def join_group(self, code: str) -> str:
        """Join by invite code; answers the group's JID."""

    async def leave_group(self, group_jid: str) -> None: ...

    async def profile(self, jid: str) -> Profile | None:
        """A person's profile; None when the number is not on WhatsApp."""

    async def own_profile(self) -> Profile: ...

    async def set_profile(self, *, name: str | None = None, about: str | None = None) -> None: ...

    async def set_profile_picture(self, jpeg: bytes) -> None: ...

    async def set_blocked(self, jid: str, blocked: bool) -> None: ...

    async def blocklist(self) -> list[str]: ...

    async def privacy(self) -> Mapping[str, str]: ...

    async def set_privacy(self, name: str, value: str) -> None: ...

    async def reject_call(self, call_id: str, caller: str) -> None: ...
