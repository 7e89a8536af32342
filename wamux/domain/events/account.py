"""The rest of an account: the groups it is in, who is who (LID ⇄ phone), and calls (API-2 §4, §5).

Group events carry what WhatsApp said, so the groups read model is a fold of them: `group_joined`
(with the group's info and members), `group_updated`, `group_participants` (add, remove, promote,
demote; leaving is a `remove` of our own JID), and `groups_synced`, the full list read from WhatsApp
on connect and on `?refresh=true`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from wamux.domain.events.base import DomainEvent, register, type_names


@register
@dataclass(frozen=True)
class GroupJoined(DomainEvent):
    type: ClassVar[str] = "group_joined"
    instance_id: str
    group_id: str
    subject: str
    by: str | None = None
    description: str | None = None
    owner: str | None = None
    announce: bool = False
    locked: bool = False
    created_at: int | None = None  # unix seconds
    participants: list[dict[str, Any]] = field(default_factory=list)  # [{jid, lid, isAdmin, isSuperAdmin}]


@register
@dataclass(frozen=True)
class GroupUpdated(DomainEvent):
    type: ClassVar[str] = "group_updated"
    instance_id: str
    group_id: str
    subject: str | None = None
    description: str | None = None
    announce: bool | None = None
    locked: bool | None = None
    by: str | None = None


@register
@dataclass(frozen=True)
class GroupParticipantsChanged(DomainEvent):
    type: ClassVar[str] = "group_participants"
    instance_id: str
    group_id: str
    action: str  # add | remove | promote | demote
    participants: list[str] = field(default_factory=list)
    by: str | None = None


@register
@dataclass(frozen=True)
class GroupsSynced(DomainEvent):
    """Every group the account is in, as WhatsApp listed them (replaces what the read model held)."""

    type: ClassVar[str] = "groups_synced"
    instance_id: str
    groups: list[dict[str, Any]] = field(default_factory=list)  # GroupJoined's fields, without instance_id


@register
@dataclass(frozen=True)
class IdentityLearned(DomainEvent):
    """`lid` and `phone_jid` are the same person (learned from an event that carried both, or asked)."""

    type: ClassVar[str] = "identity_learned"
    instance_id: str
    lid: str
    phone_jid: str


@register
@dataclass(frozen=True)
class CallReceived(DomainEvent):
    type: ClassVar[str] = "call_received"
    instance_id: str
    call_id: str
    from_jid: str
    is_video: bool = False
    is_group: bool = False
    rejected: bool = False
    reply_message_id: str | None = None  # the message sent to the caller after rejecting
    # `from_jid` names the caller by phone when known; `from_lid` is their LID (API-2 §5). Older events
    # have no `from_lid`: their `from_jid` is as WhatsApp named the caller (a LID or a phone JID).
    from_lid: str | None = None


GROUP_TYPES = type_names(GroupJoined, GroupUpdated, GroupParticipantsChanged, GroupsSynced)
