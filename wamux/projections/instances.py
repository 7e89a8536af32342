"""The instances listing: one row per live instance with its settings and last known status.

The settings are kept as answers show them: a proxy's password is `***` here (only the actor, which
folds its own stream, knows it).
"""

from __future__ import annotations

from wamux.domain.catalog import INITIAL_STATUS, STATUS_AFTER
from wamux.domain.events import (
    CONNECTION_TYPES,
    INSTANCE_LIFECYCLE_TYPES,
    Connected,
    InstanceCreated,
    InstanceDeleted,
    InstanceUpdated,
    RecordedEvent,
    WebhookUpdated,
)
from wamux.domain.proxy import masked_settings
from wamux.projections.ports import Collection, ReadSession

INSTANCES = Collection(
    "instances",
    {"userId": "text", "createdMs": "int", "status": "text"},
    indexes=(("userId", "createdMs"), ("createdMs",), ("status",)),
)


class InstancesProjection:
    name: str = "instances"
    collections: tuple[Collection, ...] = (INSTANCES,)
    topics: tuple[str, ...] = INSTANCE_LIFECYCLE_TYPES + CONNECTION_TYPES

    def apply(self, session: ReadSession, recorded: RecordedEvent) -> None:
        event = recorded.event
        ts = recorded.timestamp_ms
        if isinstance(event, InstanceCreated):
            session.put(
                INSTANCES,
                event.instance_id,
                {
                    "id": event.instance_id,
                    "userId": event.user_id,
                    "name": event.name,
                    "description": event.description,
                    "status": INITIAL_STATUS,
                    "webhookUrl": event.webhook_url,
                    "webhookEnabled": event.webhook_enabled,
                    "webhookSettings": event.webhook_settings,
                    "limits": event.limits,
                    "settings": masked_settings(event.settings),
                    "createdMs": ts,
                    "updatedMs": ts,
                    "lastActivityMs": ts,
                },
            )
            return
        doc = session.get(INSTANCES, recorded.stream_id)
        if doc is None:
            return
        if isinstance(event, InstanceDeleted):
            session.delete(INSTANCES, recorded.stream_id)
            return
        if isinstance(event, InstanceUpdated):
            for key, value in event.changes.items():
                doc[key] = masked_settings(value) if key == "settings" else value
            doc["updatedMs"] = ts
        elif isinstance(event, WebhookUpdated):
            doc["webhookUrl"] = event.webhook_url
            doc["webhookEnabled"] = event.webhook_enabled
            doc["webhookSettings"] = event.webhook_settings
            doc["updatedMs"] = ts
        else:
            status = STATUS_AFTER.get(type(event))
            if status is not None:
                doc["status"] = status
            if isinstance(event, Connected):
                doc["jid"] = event.jid
                doc["pushName"] = event.push_name
        doc["lastActivityMs"] = ts
        session.put(INSTANCES, recorded.stream_id, doc)
