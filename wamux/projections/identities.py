"""The identities read model: who is who, LID ⇄ phone JID, per instance (API-2 §5).

Each `identity_learned` pair is kept under both of its JIDs, so a lookup by a LID or by a phone JID is
one get. A LID learned again with another phone (or a phone with another LID) drops the stale other
half, so both directions always agree.
"""

from __future__ import annotations

from wamux.domain.events import IdentityLearned, InstanceDeleted, RecordedEvent
from wamux.domain.phones import is_lid, is_phone_jid, person_jid
from wamux.projections.ports import Collection, Query, ReadSession

__all__ = ["IDENTITIES", "IdentitiesProjection", "identity_key", "is_lid", "is_phone_jid", "person_jid"]

IDENTITIES = Collection(
    "identities",
    {"instanceId": "text", "lid": "text", "phoneJid": "text"},
    indexes=(("instanceId",),),
)


def identity_key(instance_id: str, jid: str) -> str:
    return f"{instance_id}:{person_jid(jid)}"


class IdentitiesProjection:
    name: str = "identities"
    collections: tuple[Collection, ...] = (IDENTITIES,)
    topics: tuple[str, ...] = (IdentityLearned.type, InstanceDeleted.type)

    def apply(self, session: ReadSession, recorded: RecordedEvent) -> None:
        e = recorded.event
        if isinstance(e, IdentityLearned):
            self._learn(session, e.instance_id, person_jid(e.lid), person_jid(e.phone_jid))
        elif isinstance(e, InstanceDeleted):
            for row in session.find(IDENTITIES, Query(where={"instanceId": e.instance_id})):
                session.delete(IDENTITIES, identity_key(e.instance_id, row["lid"]))
                session.delete(IDENTITIES, identity_key(e.instance_id, row["phoneJid"]))

    @staticmethod
    def _learn(session: ReadSession, instance_id: str, lid: str, phone_jid: str) -> None:
        if not lid or not phone_jid:
            return
        # The stale other half of an earlier pair of either JID goes, unless it already is this pair's.
        for own, other_field in ((lid, "phoneJid"), (phone_jid, "lid")):
            old = session.get(IDENTITIES, identity_key(instance_id, own))
            if old is not None and old[other_field] not in (lid, phone_jid):
                session.delete(IDENTITIES, identity_key(instance_id, old[other_field]))
        row = {"instanceId": instance_id, "lid": lid, "phoneJid": phone_jid}
        session.put(IDENTITIES, identity_key(instance_id, lid), row)
        session.put(IDENTITIES, identity_key(instance_id, phone_jid), row)
