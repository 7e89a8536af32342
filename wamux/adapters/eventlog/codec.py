"""How domain events are written into eventsourcing's `StoredEvent` records, and read back.

`topic` is the event's wire type (``message_sent``); `state` is compact JSON
``{"ts": <unix ms>, "data": {...}}``. Every store backend also indexes `ts` next to the
record (see `TimelineRecorder`), so time-range queries never decode the whole log.
The fields an event declares secret are encrypted in `data` by a `SecretCipher`.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent

from wamux.adapters.eventlog.secret_cipher import SecretCipher, open_without_key
from wamux.domain.events import EVENT_TYPES, DomainEvent, RecordedEvent

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


class UnknownEventType(Exception):
    """A stored record whose topic no event class claims (written by a newer version?)."""


def encode_state(event: DomainEvent, timestamp_ms: int, cipher: SecretCipher | None = None) -> bytes:
    """The record state; without a cipher secrets stay in clear (the format older versions wrote)."""
    data = event.payload() if cipher is None else cipher.seal(type(event), event.payload())
    return _dumps({"ts": timestamp_ms, "data": data}).encode()


def stored_event_ts(state: bytes) -> int:
    """The timestamp (unix ms) of an encoded state; recorders fill their `ts` index with it.

    Records that are not ours (eventsourcing's own recorder test cases store arbitrary bytes)
    index as 0 rather than failing the insert.
    """
    # Our encoder always writes `{"ts":<digits>,` first: read it without parsing the whole state.
    if state.startswith(b'{"ts":'):
        end = state.find(b",", 6)
        if end > 6 and state[6:end].isdigit():
            return int(state[6:end])
    try:
        return int(json.loads(state)["ts"])
    except (ValueError, KeyError, TypeError):
        return 0


def to_stored(
    stream_id: str, version: int, event: DomainEvent, timestamp_ms: int, cipher: SecretCipher | None = None
) -> StoredEvent:
    return StoredEvent(
        originator_id=UUID(stream_id),
        originator_version=version,
        topic=event.type,
        state=encode_state(event, timestamp_ms, cipher),
    )


def decode_state(state: bytes) -> tuple[int, dict[str, Any]]:
    doc = json.loads(state)
    return int(doc["ts"]), doc["data"]


def from_stored(record: StoredEvent, position: int | None = None, cipher: SecretCipher | None = None) -> RecordedEvent:
    """The recorded event, secrets decrypted (SecretKeyError if they cannot be without the right key)."""
    cls = EVENT_TYPES.get(record.topic)
    if cls is None:
        raise UnknownEventType(record.topic)
    ts, data = decode_state(record.state)
    data = open_without_key(cls, data) if cipher is None else cipher.open(cls, data)
    if position is None and isinstance(record, Notification):
        position = record.id
    return RecordedEvent(
        stream_id=str(record.originator_id),
        version=record.originator_version,
        timestamp_ms=ts,
        position=position or 0,
        event=cls.from_payload(data),
    )
