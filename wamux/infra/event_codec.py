"""How domain events are written into eventsourcing's `StoredEvent` records, and read back.

`topic` is the event's wire type (``message_sent``); `state` is compact JSON
``{"ts": <unix ms>, "data": {...}}``. Every store backend also indexes `ts` next to the
record (see `TimelineRecorder`), so time-range queries never decode the whole log.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent

from wamux.domain.events import EVENT_TYPES, DomainEvent, RecordedEvent

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


class UnknownEventType(Exception):
    """A stored record whose topic no event class claims (written by a newer version?)."""


def encode_state(event: DomainEvent, timestamp_ms: int) -> bytes:
    return _dumps({"ts": timestamp_ms, "data": event.payload()}).encode()


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


def to_stored(stream_id: str, version: int, event: DomainEvent, timestamp_ms: int) -> StoredEvent:
    return StoredEvent(
        originator_id=UUID(stream_id),
        originator_version=version,
        topic=event.type,
        state=encode_state(event, timestamp_ms),
    )


def decode_state(state: bytes) -> tuple[int, dict[str, Any]]:
    doc = json.loads(state)
    return int(doc["ts"]), doc["data"]


def from_stored(record: StoredEvent, position: int | None = None) -> RecordedEvent:
    cls = EVENT_TYPES.get(record.topic)
    if cls is None:
        raise UnknownEventType(record.topic)
    ts, data = decode_state(record.state)
    if position is None and isinstance(record, Notification):
        position = record.id
    return RecordedEvent(
        stream_id=str(record.originator_id),
        version=record.originator_version,
        timestamp_ms=ts,
        position=position or 0,
        event=cls.from_payload(data),
    )
