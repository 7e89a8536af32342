"""How domain events are written into eventsourcing's `StoredEvent` records, and read back.

`topic` is the event's wire type (``message_sent``); `state` is compact JSON
``{"ts": <unix ms>, "data": {...}}``. Every store backend also indexes `ts` next to the
record (see `TimelineRecorder`), so time-range queries never decode the whole log.
The fields an event declares secret are encrypted in `data` by a `SecretCipher`.

orjson does the work where it writes and reads exactly what `json` does; the reference is `json`
(compact separators, `ensure_ascii=False`, UTF-8), used for whatever orjson would write or read
differently: tiny, huge and non-finite floats, integers beyond 64 bits, str/int/dict subclasses,
and on reading NaN literals, lone surrogates and long digit runs.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import Notification, StoredEvent

from wamux.adapters.eventlog.secret_cipher import SecretCipher, open_without_key
from wamux.domain.events import EVENT_TYPES, DomainEvent, RecordedEvent

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


class UnknownEventType(Exception):
    """A stored record whose topic no event class claims (written by a newer version?)."""


# Subclasses, dataclasses and datetimes go to `_refuse` (and so to `json`) instead of orjson's own rendering.
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME
_SAME_TEXT = frozenset({str, int, bool, type(None)})  # orjson writes these as json does (ints up to 64 bits)
# Every digit a 0, every other byte a space: 19 digits in a row may be an integer orjson reads as a float.
_DIGITS_ONLY = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_ZEROS = b"0" * 19


def _refuse(value: Any) -> Any:
    raise TypeError(type(value).__name__)


def _same_text(container: Any) -> bool:
    """Whether orjson writes `container` (a dict, list or tuple) as `json` does, or refuses it.

    Floats: both write the shortest repr, but orjson spells 1e-05 as 0.00001 (below 1e-4) and NaN
    and infinities as null; the range it shares with `repr` is checked by the codec tests.
    """
    for value in container.values() if type(container) is dict else container:
        kind = type(value)
        if kind in _SAME_TEXT:
            continue
        if kind is float:
            if value == 0.0 or 1e-4 <= abs(value) < 1e16:
                continue
            return False
        if (kind is dict or kind is list or kind is tuple) and _same_text(value):
            continue
        return False  # a subclass or anything else json renders its own way (or refuses)
    return True  # non-str dict keys: orjson refuses them


def dumps(document: dict[str, Any]) -> bytes:
    """`document` as compact UTF-8 JSON, the same bytes `json` writes (which does it when orjson would not)."""
    if _same_text(document):
        try:
            return orjson.dumps(document, default=_refuse, option=_ORJSON_OPTIONS)
        except TypeError:  # orjson.JSONEncodeError: an int beyond 64 bits, a non-str key, a lone surrogate ...
            pass
    return _dumps(document).encode()


def loads(state: bytes) -> Any:
    """The JSON value of a record state, as `json.loads` reads it."""
    if type(state) is not bytes and isinstance(state, bytes):
        state = bytes(state)  # orjson takes no bytes subclass (bson's Binary)
    if _ZEROS not in state.translate(_DIGITS_ONLY):
        try:
            return orjson.loads(state)
        except orjson.JSONDecodeError:  # NaN, Infinity, lone surrogates: json reads them
            pass
    return json.loads(state)


def encode_state(event: DomainEvent, timestamp_ms: int, cipher: SecretCipher | None = None) -> bytes:
    """The record state; without a cipher secrets stay in clear (the format older versions wrote)."""
    data = event.payload() if cipher is None else cipher.seal(type(event), event.payload())
    return dumps({"ts": timestamp_ms, "data": data})


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
        return int(loads(state)["ts"])
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
    doc = loads(state)
    return int(doc["ts"]), doc["data"]


def from_stored(record: StoredEvent, position: int | None = None, cipher: SecretCipher | None = None) -> RecordedEvent:
    """The recorded event, secrets decrypted (SecretKeyError if they cannot be without the right key)."""
    cls = EVENT_TYPES.get(record.topic)
    if cls is None:
        raise UnknownEventType(record.topic)
    ts, data = decode_state(record.state)
    if cls.secret_fields:
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
