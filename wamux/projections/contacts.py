"""The contacts read model: saved and imported contacts plus every sender seen with a push name."""

from __future__ import annotations

from typing import Any

from wamux.domain.clock import iso_ms
from wamux.domain.events import ContactSaved, ContactsImported, InstanceDeleted, MessageReceived, RecordedEvent
from wamux.domain.phones import is_group, jid_number
from wamux.projections.ports import Collection, ReadSession

CONTACTS = Collection(
    "contacts",
    {"instanceId": "text", "number": "text", "name": "text", "pushName": "text", "isGroup": "bool", "updatedMs": "int"},
    indexes=(("instanceId", "number"), ("instanceId", "updatedMs")),
)
FIELDS = ("name", "pushName", "isGroup", "profilePicture", "about")


def contact_key(instance_id: str, jid: str) -> str:
    return f"{instance_id}:{jid}"


class ContactsProjection:
    name: str = "contacts"
    collections: tuple[Collection, ...] = (CONTACTS,)
    topics: tuple[str, ...] = (ContactSaved.type, ContactsImported.type, MessageReceived.type, InstanceDeleted.type)

    def apply(self, session: ReadSession, recorded: RecordedEvent) -> None:
        e = recorded.event
        ts = recorded.timestamp_ms
        if isinstance(e, ContactSaved):
            self._upsert(
                session,
                e.instance_id,
                e.jid,
                ts,
                {
                    "name": e.name,
                    "pushName": e.push_name,
                    "isGroup": e.is_group,
                    "profilePicture": e.profile_picture,
                    "about": e.about,
                },
            )
        elif isinstance(e, ContactsImported):
            for c in e.contacts:
                self._upsert(
                    session,
                    e.instance_id,
                    c["jid"],
                    ts,
                    {
                        "name": c.get("name"),
                        "pushName": c.get("push_name"),
                        "isGroup": bool(c.get("is_group")),
                    },
                )
        elif isinstance(e, MessageReceived) and not e.from_me:
            self._upsert(session, e.instance_id, e.sender_jid, ts, {"pushName": e.push_name}, activity=True)
            if e.is_group:
                self._upsert(session, e.instance_id, e.chat_jid, ts, {"isGroup": True}, activity=True)

    @staticmethod
    def _upsert(
        session: ReadSession, instance_id: str, jid: str, ts: int, fields: dict[str, Any], *, activity: bool = False
    ) -> None:
        key = contact_key(instance_id, jid)
        doc = session.get(CONTACTS, key) or {
            "id": key,
            "instanceId": instance_id,
            "remoteJid": jid,
            "number": jid_number(jid),
            "name": None,
            "pushName": None,
            "isGroup": is_group(jid),
            "profilePicture": None,
            "about": None,
            "lastActivity": None,
            "createdAt": iso_ms(ts),
        }
        for name in FIELDS:
            value = fields.get(name)
            if value is not None and value != "":
                doc[name] = value
        if activity:
            doc["lastActivity"] = iso_ms(ts)
        doc["updatedAt"] = iso_ms(ts)
        doc["updatedMs"] = ts
        session.put(CONTACTS, key, doc)
