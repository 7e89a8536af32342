"""neonize's group protobufs → the port's group types and events.

Pure functions over neonize 0.5.2's protobufs (`neonize.proto.Neonize_pb2`):
- `GroupInfo` (answers of `get_joined_groups`, `get_group_info`, `create_group`, and inside
  `JoinedGroupEv`) → `GroupInfo`. A participant's `JID` is its phone JID or, in a LID-addressed
  group, its LID; whatsmeow adds the other address as `PhoneNumber` or `LID`.
- `JoinedGroupEv` (we were added, created a group, joined by link) → `GroupJoinedIn`.
- `GroupInfoEv` (someone changed the group) → one `GroupUpdatedIn` for name/topic/announce/locked
  and one `GroupParticipantsIn` per action (Join, Leave, Promote, Demote lists).
Every LID ⇄ phone pair they carry comes first, as `IdentityIn`.

`GroupParticipant.Error` is WhatsApp's per-participant code in answers to participant changes
(and to `create_group`): 0 or 200 means it worked, anything else is an XMPP-style status
(`participant_status` names them).
"""

from __future__ import annotations

from typing import Any

from wamux.adapters.whatsapp import neonize_identities as identities
from wamux.adapters.whatsapp.neonize_jids import LID_SERVER, jid_or_none, jid_to_string, unix_seconds
from wamux.core.ports import (
    GroupInfo,
    GroupJoinedIn,
    GroupParticipant,
    GroupParticipantsIn,
    GroupUpdatedIn,
    IdentityIn,
    TransportEvent,
)

# WhatsApp's per-participant codes (the `error` attribute of a <participant> in the answer).
PARTICIPANT_STATUSES: dict[int, str] = {
    0: "ok",
    200: "ok",
    400: "bad_request",
    401: "not_authorized",  # e.g. we are not an admin
    403: "forbidden",  # their privacy settings do not let us add them (WhatsApp sends an invite instead)
    404: "not_found",  # not on WhatsApp, or not in the group
    406: "not_acceptable",
    408: "recently_left",  # cannot be re-added for a while after leaving
    409: "conflict",  # already a member / already an admin
    500: "server_error",
}
# GroupInfoEv's participant lists and the action each one means.
_PARTICIPANT_LISTS = (("Join", "add"), ("Leave", "remove"), ("Promote", "promote"), ("Demote", "demote"))


def participant_status(code: int) -> str:
    """`ok`, or the name of WhatsApp's error code for one participant."""
    return PARTICIPANT_STATUSES.get(code, f"error_{code}")


# ---- GroupInfo ----------------------------------------------------------------------------------


def participant(proto: Any) -> GroupParticipant:
    """One `GroupParticipant` protobuf: its phone JID when WhatsApp told it (else the LID), and the LID."""
    jid = proto.JID
    lid = jid_to_string(jid) if jid.Server == LID_SERVER else jid_or_none(proto, "LID")
    phone = jid_or_none(proto, "PhoneNumber") if jid.Server == LID_SERVER else None
    return GroupParticipant(
        jid=phone or jid_to_string(jid),
        lid=lid,
        is_admin=bool(proto.IsAdmin or proto.IsSuperAdmin),
        is_super_admin=bool(proto.IsSuperAdmin),
    )


def participant_identity(proto: Any) -> IdentityIn | None:
    """The LID ⇄ phone pair a participant carries (its JID with its LID or its phone number)."""
    return identities.from_fields(proto, "JID", "LID") or identities.from_fields(proto, "JID", "PhoneNumber")


def group_info(proto: Any) -> GroupInfo:
    """A `GroupInfo` protobuf; participants WhatsApp could not add (an error code) are not members."""
    members = tuple(participant(p) for p in proto.Participants if participant_status(p.Error) == "ok")
    owner = identities.phone_first(proto.OwnerJID, proto.OwnerPN) if proto.HasField("OwnerJID") else None
    created = unix_seconds(int(proto.GroupCreated)) if proto.HasField("GroupCreated") else None
    return GroupInfo(
        jid=jid_to_string(proto.JID),
        subject=proto.GroupName.Name,
        description=proto.GroupTopic.Topic or None,
        owner=owner,
        announce=bool(proto.GroupAnnounce.IsAnnounce),
        locked=bool(proto.GroupLocked.isLocked),
        created_at=created,
        participants=members,
    )


def group_identities(proto: Any) -> list[IdentityIn]:
    """Every LID ⇄ phone pair of a `GroupInfo` protobuf: the owner's and the participants'."""
    found = [identities.from_fields(proto, "OwnerJID", "OwnerPN")]
    found.extend(participant_identity(p) for p in proto.Participants)
    return identities.unique(found)


# ---- events -------------------------------------------------------------------------------------


def joined_group(event: Any) -> tuple[TransportEvent, ...]:
    """`JoinedGroupEv`: the identities it carries, then `GroupJoinedIn` (by whoever added us, when told)."""
    found = group_identities(event.GroupInfo)
    found = identities.unique([identities.from_fields(event, "Sender", "SenderPN"), *found])
    by = None
    if event.HasField("Sender") or event.HasField("SenderPN"):
        by = identities.phone_first(event.Sender, event.SenderPN)
    return (*found, GroupJoinedIn(group=group_info(event.GroupInfo), by=by))


def group_changed(event: Any) -> tuple[TransportEvent, ...]:
    """`GroupInfoEv`: one `GroupUpdatedIn` for the info that changed, one `GroupParticipantsIn` per action."""
    group = jid_to_string(event.JID)
    by = jid_or_none(event, "Sender")
    changes: list[TransportEvent] = []
    update = GroupUpdatedIn(
        group_jid=group,
        subject=event.Name.Name if event.HasField("Name") else None,
        description=_topic(event.Topic) if event.HasField("Topic") else None,
        announce=bool(event.Announce.IsAnnounce) if event.HasField("Announce") else None,
        locked=bool(event.Locked.isLocked) if event.HasField("Locked") else None,
        by=by,
    )
    if (update.subject, update.description, update.announce, update.locked) != (None, None, None, None):
        changes.append(update)
    for field, action in _PARTICIPANT_LISTS:
        jids = tuple(jid_to_string(jid) for jid in getattr(event, field) if identities.is_set(jid))
        if jids:
            changes.append(GroupParticipantsIn(group_jid=group, action=action, participants=jids, by=by))
    return tuple(changes)


def _topic(topic: Any) -> str:
    """The new description; `""` when it was deleted."""
    return "" if topic.TopicDeleted else str(topic.Topic)
