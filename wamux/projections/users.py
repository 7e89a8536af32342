"""The users listing: one row per live user."""

from __future__ import annotations

from wamux.domain.events import (
    USER_EVENT_TYPES,
    ApiKeyRotated,
    RecordedEvent,
    UserActive,
    UserCreated,
    UserDeleted,
    UserUpdated,
)
from wamux.projections.ports import Collection, ReadSession

USERS = Collection(
    "users",
    {"email": "text", "role": "text", "createdMs": "int", "apiKeyHash": "text", "lastActiveDay": "text"},
    indexes=(("email",), ("apiKeyHash",), ("createdMs",)),
)


class UsersProjection:
    name: str = "users"
    collections: tuple[Collection, ...] = (USERS,)
    topics: tuple[str, ...] = USER_EVENT_TYPES

    def apply(self, session: ReadSession, recorded: RecordedEvent) -> None:
        event = recorded.event
        ts = recorded.timestamp_ms
        if isinstance(event, UserCreated):
            session.put(
                USERS,
                event.user_id,
                {
                    "id": event.user_id,
                    "email": event.email,
                    "firstName": event.first_name,
                    "lastName": event.last_name,
                    "role": event.role,
                    "apiKeyHash": event.api_key_hash,
                    "createdMs": ts,
                    "updatedMs": ts,
                },
            )
            return
        doc = session.get(USERS, recorded.stream_id)
        if doc is None:
            return
        if isinstance(event, UserUpdated):
            names = {"first_name": "firstName", "last_name": "lastName", "email": "email", "role": "role"}
            for key, value in event.changes.items():
                if key in names:
                    doc[names[key]] = value
        elif isinstance(event, ApiKeyRotated):
            doc["apiKeyHash"] = event.api_key_hash
        elif isinstance(event, UserDeleted):
            session.delete(USERS, recorded.stream_id)
            return
        elif isinstance(event, UserActive):
            doc["lastActiveDay"] = event.day
            session.put(USERS, recorded.stream_id, doc)
            return
        doc["updatedMs"] = ts
        session.put(USERS, recorded.stream_id, doc)
