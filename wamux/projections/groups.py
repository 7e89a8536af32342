"""The groups read model: one row per (instance, group) the account is in, a fold of the group events.

`groups_synced` (the full list WhatsApp gave) replaces every group of the instance; `group_joined`
(re)writes one; `group_updated` changes only the fields it carries; `group_participants` adds,
removes, promotes and demotes members, and a removal of our own JID (known from `connected`, and its
LID once an identity names it) drops the group: we left. Phones of LID-only members are resolved
when the row is read (`group_view`), from the identities read model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from wamux.domain.clock import iso_ms
from wamux.domain.events import (
    Connected,
    GroupJoined,
    GroupParticipantsChanged,
    GroupsSynced,
    GroupUpdated,
    IdentityLearned,
    InstanceDeleted,
    RecordedEvent,
)
from wamux.domain.phones import jid_number
from wamux.projections.identities import is_lid, is_phone_jid, person_jid
from wamux.projections.ports import Collection, Query, ReadSession

GROUPS = Collection(
    "groups",
    {"instanceId": "text", "sortSubject": "text", "id": "text"},
    indexes=(("instanceId", "sortSubject", "id"),),
)
# Our own JIDs per instance (phone JID from `connected`, LID from an identity that names it).
GROUP_ACCOUNTS = Collection("group_accounts", {"instanceId": "text"})

SUMMARY_FIELDS = ("id", "subject", "description", "owner", "participantsCount", "announce", "locked", "createdAt")
UPDATABLE = ("subject", "description", "announce", "locked")  # what `group_updated` may carry


def group_key(instance_id: str, group_jid: str) -> str:
    return f"{instance_id}:{group_jid}"


def _member(raw: Mapping[str, Any]) -> dict[str, Any]:
    jid = person_jid(str(raw.get("jid") or ""))
    lid = raw.get("lid") or (jid if is_lid(jid) else None)
    return {
        "jid": jid,
        "lid": person_jid(str(lid)) if lid else None,
        "isAdmin": bool(raw.get("isAdmin")),
        "isSuperAdmin": bool(raw.get("isSuperAdmin")),
    }


def _names(member: Mapping[str, Any]) -> set[str]:
    return {n for n in (member.get("jid"), member.get("lid")) if n}


def group_row(instance_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """A stored group from the fields the group events carry (GroupJoined's, as in `groups_synced`)."""
    members = [_member(p) for p in fields.get("participants") or () if p.get("jid")]
    created = fields.get("created_at")
    subject = str(fields.get("subject") or "")
    return {
        "instanceId": instance_id,
        "sortSubject": subject.casefold(),
        "id": fields["group_id"],
        "subject": subject,
        "description": fields.get("description") or None,  # a cleared description reads as none, as WhatsApp lists it
        "owner": person_jid(fields["owner"]) if fields.get("owner") else None,
        "participantsCount": len(members),
        "announce": bool(fields.get("announce")),
        "locked": bool(fields.get("locked")),
        "createdAt": iso_ms(int(created) * 1000) if created else None,
        "participants": members,
    }


def group_summary(row: Mapping[str, Any]) -> dict[str, Any]:
    """A group as the list shows it (API-2 §4), without members or bookkeeping."""
    return {name: row.get(name) for name in SUMMARY_FIELDS}


def group_view(row: Mapping[str, Any], counterpart: Callable[[str], str | None]) -> dict[str, Any]:
    """A group with its members `{jid, phone, lid, isAdmin, isSuperAdmin}`.

    `counterpart(jid)` is the other JID of a person (a LID's phone JID, a phone JID's LID) when known:
    a member named by its LID then shows under its phone JID, as every payload that names a person does.
    """
    members = []
    for p in row.get("participants") or ():
        jid, lid = p["jid"], p.get("lid")
        if not is_phone_jid(jid):
            jid = counterpart(jid) or jid
        if lid is None and is_phone_jid(jid):
            lid = counterpart(jid)
        phone = jid_number(jid) if is_phone_jid(jid) else None
        members.append(
            {"jid": jid, "phone": phone, "lid": lid, "isAdmin": p["isAdmin"], "isSuperAdmin": p["isSuperAdmin"]}
        )
    return {**group_summary(row), "participants": members}


class GroupsProjection:
    name: str = "groups"
    collections: tuple[Collection, ...] = (GROUPS, GROUP_ACCOUNTS)
    topics: tuple[str, ...] = (
        GroupJoined.type,
        GroupUpdated.type,
        GroupParticipantsChanged.type,
        GroupsSynced.type,
        Connected.type,
        IdentityLearned.type,
        InstanceDeleted.type,
    )

    def apply(self, session: ReadSession, recorded: RecordedEvent) -> None:
        e = recorded.event
        if isinstance(e, GroupsSynced):
            listed = {g["group_id"]: group_row(e.instance_id, g) for g in e.groups if g.get("group_id")}
            for old in self._groups(session, e.instance_id):
                if old["id"] not in listed:
                    session.delete(GROUPS, group_key(e.instance_id, old["id"]))
            for group_jid, row in listed.items():
                session.put(GROUPS, group_key(e.instance_id, group_jid), row)
        elif isinstance(e, GroupJoined):
            fields = {
                "group_id": e.group_id,
                "subject": e.subject,
                "description": e.description,
                "owner": e.owner,
                "announce": e.announce,
                "locked": e.locked,
                "created_at": e.created_at,
                "participants": e.participants,
            }
            session.put(GROUPS, group_key(e.instance_id, e.group_id), group_row(e.instance_id, fields))
        elif isinstance(e, GroupUpdated):
            self._update(session, e)
        elif isinstance(e, GroupParticipantsChanged):
            self._participants(session, e)
        elif isinstance(e, Connected):
            if e.jid:
                own = self._own(session, e.instance_id)
                jid = person_jid(e.jid)
                lid = own.get("lid") if own.get("jid") == jid else None
                session.put(GROUP_ACCOUNTS, e.instance_id, {"instanceId": e.instance_id, "jid": jid, "lid": lid})
        elif isinstance(e, IdentityLearned):
            own = self._own(session, e.instance_id)
            if own.get("jid") and own["jid"] == person_jid(e.phone_jid):
                session.put(GROUP_ACCOUNTS, e.instance_id, {**own, "lid": person_jid(e.lid)})
        elif isinstance(e, InstanceDeleted):
            for old in self._groups(session, e.instance_id):
                session.delete(GROUPS, group_key(e.instance_id, old["id"]))
            session.delete(GROUP_ACCOUNTS, e.instance_id)

    @staticmethod
    def _groups(session: ReadSession, instance_id: str) -> list[dict[str, Any]]:
        return session.find(GROUPS, Query(where={"instanceId": instance_id}))

    @staticmethod
    def _own(session: ReadSession, instance_id: str) -> dict[str, Any]:
        return session.get(GROUP_ACCOUNTS, instance_id) or {"instanceId": instance_id, "jid": None, "lid": None}

    @staticmethod
    def _update(session: ReadSession, e: GroupUpdated) -> None:
        key = group_key(e.instance_id, e.group_id)
        row = session.get(GROUPS, key)
        if row is None:
            return  # a group we do not know (yet): the next list read brings it whole
        for name in UPDATABLE:
            value = getattr(e, name)
            if value is not None:
                row[name] = value
        row["description"] = row.get("description") or None  # "" in the event: cleared
        row["sortSubject"] = str(row["subject"] or "").casefold()
        session.put(GROUPS, key, row)

    def _participants(self, session: ReadSession, e: GroupParticipantsChanged) -> None:
        key = group_key(e.instance_id, e.group_id)
        row = session.get(GROUPS, key)
        if row is None:
            return
        given = list(dict.fromkeys(person_jid(j) for j in e.participants if j))
        named = set(given)
        members: list[dict[str, Any]] = row["participants"]
        if e.action == "remove":
            own = self._own(session, e.instance_id)
            if named & _names(own) or any(named & _names(p) and _names(p) & _names(own) for p in members):
                session.delete(GROUPS, key)  # we left (or were removed)
                return
            members = [p for p in members if not named & _names(p)]
        elif e.action == "add":
            known = set().union(*map(_names, members)) if members else set()
            members = members + [_member({"jid": j}) for j in given if j not in known]
        elif e.action in ("promote", "demote"):
            promoted = e.action == "promote"
            for p in members:
                if named & _names(p):
                    p["isAdmin"] = promoted
                    p["isSuperAdmin"] = p["isSuperAdmin"] and promoted
        row["participants"] = members
        row["participantsCount"] = len(members)
        session.put(GROUPS, key, row)
