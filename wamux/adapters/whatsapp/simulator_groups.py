"""The groups of the simulated network, and WhatsApp's rules for them.

The network knows every group the simulated account is or was in (`NetGroup`): its info, the other
members, our own role (`me`: member, admin, superadmin, or None once we left or were removed) and
its invite code. Our own operations follow WhatsApp's answers: only admins change who may send or
edit, edit a locked group's info, share the invite link or change participants; each participant
of an add, remove, promote or demote gets its own status. Events from other members (the
`group-event` route) change the same state before they are delivered.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from wamux.adapters.whatsapp.simulator_people import Directory, on_whatsapp, resolve
from wamux.core.ports import (
    GroupInfo,
    GroupJoinedIn,
    GroupParticipant,
    GroupParticipantsIn,
    GroupUpdatedIn,
    ParticipantResult,
    TransportError,
)
from wamux.domain.errors import Conflict, NotFound, ValidationFailed

MEMBER, ADMIN, SUPER_ADMIN = "member", "admin", "superadmin"
INVITE_ALPHABET = string.ascii_letters + string.digits
INVITE_LENGTH = 22  # as WhatsApp's codes are


class Own(NamedTuple):
    """The simulated account as a group names it."""

    jid: str
    lid: str | None = None

    def matches(self, jid: str, lid: str | None) -> bool:
        return jid == self.jid or (lid is not None and lid == self.lid)


@dataclass
class NetGroup:
    jid: str
    subject: str
    description: str | None = None
    owner: str | None = None
    announce: bool = False
    locked: bool = False
    created_at: int | None = None
    members: dict[str, GroupParticipant] = field(default_factory=dict)  # everyone but us, by JID
    me: str | None = MEMBER
    invite: str | None = None

    @property
    def admin(self) -> bool:
        return self.me in (ADMIN, SUPER_ADMIN)

    def info(self, own: Own) -> GroupInfo:
        """The group as `get_group_info` answers it: we come first when we are in it."""
        ours = (
            [GroupParticipant(jid=own.jid, lid=own.lid, is_admin=self.admin, is_super_admin=self.me == SUPER_ADMIN)]
            if self.me is not None
            else []
        )
        return GroupInfo(
            jid=self.jid,
            subject=self.subject,
            description=self.description,
            owner=self.owner,
            announce=self.announce,
            locked=self.locked,
            created_at=self.created_at,
            participants=(*ours, *self.members.values()),
        )


def new_group_jid() -> str:
    return "120363" + str(secrets.randbelow(10**12)).zfill(12) + "@g.us"


def new_invite_code() -> str:
    return "".join(secrets.choice(INVITE_ALPHABET) for _ in range(INVITE_LENGTH))


def refused(message: str, code: str) -> TransportError:
    """What WhatsApp answers for a group operation it will not do: asking again does not help."""
    return TransportError(f"simulated: {message}", retryable=False, code=code)


def participant(directory: Directory, jid: str, *, admin: bool = False, super_admin: bool = False) -> GroupParticipant:
    """A member as WhatsApp lists it: the phone JID when the network knows it, with the LID."""
    named, lid = resolve(directory, jid)
    return GroupParticipant(jid=named, lid=lid, is_admin=admin or super_admin, is_super_admin=super_admin)


def from_info(info: GroupInfo, own: Own | None, directory: Directory) -> NetGroup:
    """A group set by `set_groups`: we are in it, as an admin only when it lists our phone as one."""
    group = NetGroup(
        jid=info.jid,
        subject=info.subject,
        description=info.description,
        owner=info.owner,
        announce=info.announce,
        locked=info.locked,
        created_at=info.created_at,
    )
    for p in info.participants:
        known = participant(directory, p.jid, admin=p.is_admin, super_admin=p.is_super_admin)
        group.members[known.jid] = GroupParticipant(known.jid, p.lid or known.lid, known.is_admin, p.is_super_admin)
        if p.is_super_admin and group.owner is None:
            group.owner = known.jid  # the creator
    if own is not None:
        adopt(group, own)
    return group


def adopt(group: NetGroup, own: Own) -> None:
    """Our own phone among the members is us: our role is the one it was listed with."""
    listed = next((p for p in group.members.values() if own.matches(p.jid, p.lid)), None)
    if listed is not None:
        del group.members[listed.jid]
        group.me = SUPER_ADMIN if listed.is_super_admin else ADMIN if listed.is_admin else MEMBER


# ---- our own operations -------------------------------------------------------------------------


def create(subject: str, jids: Iterable[str], own: Own, directory: Directory, now_s: int) -> NetGroup:
    """A new group: we are its super admin; with a directory, only people on WhatsApp are added."""
    group = NetGroup(jid=new_group_jid(), subject=subject, owner=own.jid, created_at=now_s, me=SUPER_ADMIN)
    for jid in jids:
        member = participant(directory, jid)
        if own.matches(member.jid, member.lid) or (directory and on_whatsapp(directory, member.jid) is None):
            continue
        group.members.setdefault(member.jid, member)
    return group


def check_update(group: NetGroup, *, info_change: bool, settings_change: bool) -> None:
    """Who may send or edit is for admins; so is the info of a locked group."""
    if not group.admin and (settings_change or (info_change and group.locked)):
        raise refused("only group admins may make this change", "not_authorized")


def update(
    group: NetGroup,
    *,
    subject: str | None = None,
    description: str | None = None,
    announce: bool | None = None,
    locked: bool | None = None,
) -> None:
    if subject is not None:
        group.subject = subject
    if description is not None:
        group.description = description or None  # "" clears it
    if announce is not None:
        group.announce = announce
    if locked is not None:
        group.locked = locked


def change_participants(
    group: NetGroup, action: str, jids: Sequence[str], own: Own, directory: Directory
) -> list[ParticipantResult]:
    """WhatsApp's answer per participant, applied in order (so a number asked twice is a conflict the second time)."""
    if not group.admin:
        return [ParticipantResult(jid=participant(directory, j).jid, status="not_authorized") for j in jids]
    named = _named(jids, directory)
    return [ParticipantResult(jid=p.jid, status=_change_one(group, action, p, own, directory)) for p in named]


def _named(jids: Iterable[str], directory: Directory) -> list[GroupParticipant]:
    return [participant(directory, j) for j in jids]


def _change_one(group: NetGroup, action: str, who: GroupParticipant, own: Own, directory: Directory) -> str:
    if own.matches(who.jid, who.lid):
        return _change_me(group, action)
    current = group.members.get(who.jid)
    if action == "add":
        if current is not None:
            return "conflict"
        if directory and on_whatsapp(directory, who.jid) is None:
            return "not_found"  # no WhatsApp account behind the number
        group.members[who.jid] = who
        return "ok"
    if current is None:
        return "not_found"
    if current.is_super_admin and action in ("remove", "demote"):
        return "not_authorized"  # nobody removes or demotes the group's creator
    if action == "remove":
        del group.members[who.jid]
    else:
        promoted = action == "promote"
        group.members[who.jid] = GroupParticipant(
            current.jid, current.lid, is_admin=promoted, is_super_admin=promoted and current.is_super_admin
        )
    return "ok"


def _change_me(group: NetGroup, action: str) -> str:
    if action == "add":
        return "conflict"  # only an admin asks, and an admin is in the group
    if action == "promote":
        return "ok"
    if action == "demote":
        if group.me == SUPER_ADMIN:
            return "not_authorized"  # the creator stays its super admin
        group.me = MEMBER
        return "ok"
    group.me = None  # removing ourselves is leaving
    return "ok"


# ---- what other members do (the `group-event` route) --------------------------------------------


def joined(
    groups: dict[str, NetGroup], event: GroupJoinedIn, own: Own, directory: Directory, now_s: int
) -> GroupJoinedIn:
    """We were added to a group (a new one, or one we left): the network's group, as WhatsApp reports it."""
    given = event.group
    by = participant(directory, event.by).jid if event.by else None
    group = groups.get(given.jid)
    if group is not None and group.me is not None:
        raise Conflict("the simulated account is already in this group", details={"groupId": "already a member"})
    if group is None:
        if not given.subject:
            raise ValidationFailed(
                "subject is required for a group the network does not know", details={"subject": "required"}
            )
        group = NetGroup(jid=given.jid, subject=given.subject, owner=by, created_at=now_s)
        if by is not None and not own.matches(by, None):
            group.members[by] = participant(directory, by, super_admin=True)
        groups[group.jid] = group
    elif given.subject:
        group.subject = given.subject
    group.me = MEMBER
    for member in _named((p.jid for p in given.participants), directory):
        if not own.matches(member.jid, member.lid):
            group.members.setdefault(member.jid, member)
    return GroupJoinedIn(group=group.info(own), by=by)


def updated(groups: dict[str, NetGroup], event: GroupUpdatedIn, directory: Directory) -> GroupUpdatedIn:
    group = member_group(groups, event.group_jid)
    update(group, subject=event.subject, description=event.description, announce=event.announce, locked=event.locked)
    by = participant(directory, event.by).jid if event.by else None
    return GroupUpdatedIn(event.group_jid, event.subject, event.description, event.announce, event.locked, by)


def participants_changed(
    groups: dict[str, NetGroup], event: GroupParticipantsIn, own: Own, directory: Directory
) -> GroupParticipantsIn | GroupJoinedIn:
    """Members added, removed, promoted or demoted by someone else; adding us is joining the group."""
    group = groups.get(event.group_jid)
    named = _named(event.participants, directory)
    adds_us = event.action == "add" and any(own.matches(p.jid, p.lid) for p in named)
    if group is None or (group.me is None and not adds_us):
        raise NotFound("the simulated account is not in this group", details={"groupId": event.group_jid})
    by = participant(directory, event.by).jid if event.by else None
    for i, who in enumerate(named):
        mine = own.matches(who.jid, who.lid)
        present = group.me is not None if mine else who.jid in group.members
        if present == (event.action == "add"):
            state = "already a member" if present else "not a member"
            raise Conflict(f"participants[{i}] is {state}", details={f"participants[{i}]": state})
    for who in named:
        _apply(group, event.action, who, mine=own.matches(who.jid, who.lid))
    if adds_us:
        return GroupJoinedIn(group=group.info(own), by=by)
    jids = tuple(own.jid if own.matches(p.jid, p.lid) else p.jid for p in named)
    return GroupParticipantsIn(group_jid=group.jid, action=event.action, participants=jids, by=by)


def _apply(group: NetGroup, action: str, who: GroupParticipant, *, mine: bool) -> None:
    """One participant of another member's change, already checked against the group."""
    if mine:
        promoted = SUPER_ADMIN if group.me == SUPER_ADMIN else ADMIN
        group.me = {"add": MEMBER, "remove": None, "promote": promoted, "demote": MEMBER}[action]
    elif action == "add":
        group.members[who.jid] = who
    elif action == "remove":
        del group.members[who.jid]
    else:
        current = group.members[who.jid]
        promoted_flag = action == "promote"
        group.members[who.jid] = GroupParticipant(
            current.jid, current.lid, is_admin=promoted_flag, is_super_admin=promoted_flag and current.is_super_admin
        )


def arrive(
    groups: dict[str, NetGroup], event: object, own: Own, directory: Directory, now_s: int
) -> GroupJoinedIn | GroupUpdatedIn | GroupParticipantsIn | None:
    """A group event from another member, applied to the network's groups; None when `event` is none."""
    if isinstance(event, GroupJoinedIn):
        return joined(groups, event, own, directory, now_s)
    if isinstance(event, GroupUpdatedIn):
        return updated(groups, event, directory)
    if isinstance(event, GroupParticipantsIn):
        return participants_changed(groups, event, own, directory)
    return None


def member_group(groups: Mapping[str, NetGroup], group_jid: str) -> NetGroup:
    """A group we are in; else WhatsApp's 404 for the network's own events."""
    group = groups.get(group_jid)
    if group is None or group.me is None:
        raise NotFound("the simulated account is not in this group", details={"groupId": group_jid})
    return group


# ---- persistence ----------------------------------------------------------------------------------


def group_doc(group: NetGroup) -> dict[str, Any]:
    return {
        "jid": group.jid,
        "subject": group.subject,
        "description": group.description,
        "owner": group.owner,
        "announce": group.announce,
        "locked": group.locked,
        "createdAt": group.created_at,
        "me": group.me,
        "invite": group.invite,
        "members": [[p.jid, p.lid, p.is_admin, p.is_super_admin] for p in group.members.values()],
    }


def group_load(doc: Mapping[str, Any]) -> NetGroup:
    members = (GroupParticipant(jid, lid, bool(admin), bool(sup)) for jid, lid, admin, sup in doc.get("members", []))
    return NetGroup(
        jid=str(doc["jid"]),
        subject=str(doc["subject"]),
        description=doc.get("description"),
        owner=doc.get("owner"),
        announce=bool(doc.get("announce")),
        locked=bool(doc.get("locked")),
        created_at=doc.get("createdAt"),
        members={p.jid: p for p in members},
        me=doc.get("me"),
        invite=doc.get("invite"),
    )
