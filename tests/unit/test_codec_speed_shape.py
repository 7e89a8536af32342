"""The orjson codec and the precomputed payload shapes write and read exactly what the `json` codec did.

The reference below is a copy of the codec as it was before orjson (json, compact, UTF-8, payload
from `dataclasses.fields()` per call, `cls(**known keys)` back): old logs and new logs are one format.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import random
import struct
import threading
import types
import typing
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import trio
from eventsourcing.persistence import Notification, StoredEvent

from wamux.adapters.eventlog.codec import decode_state, encode_state, from_stored, loads, stored_event_ts, to_stored
from wamux.adapters.eventlog.recorder_store import RecorderEventStore
from wamux.adapters.eventlog.secret_cipher import SecretCipher, SecretKeyError, create_key
from wamux.adapters.eventlog.sqlite import open_sqlite_recorder
from wamux.domain.clock import FixedClock
from wamux.domain.events import EVENT_TYPES, DomainEvent, MessageReceived, QrReceived
from wamux.domain.ids import new_id

TS = 1_700_000_000_123
TYPES = sorted(EVENT_TYPES)
CIPHER = SecretCipher(create_key())

# ---- the reference: the codec before orjson ------------------------------------------------------

_old_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def old_payload(event: DomainEvent) -> dict[str, Any]:
    return {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}


def old_state(event: DomainEvent, ts: int = TS, cipher: SecretCipher | None = None) -> bytes:
    data = old_payload(event) if cipher is None else cipher.seal(type(event), old_payload(event))
    return _old_dumps({"ts": ts, "data": data}).encode()


def old_event(cls: type[DomainEvent], state: bytes) -> DomainEvent:
    data = json.loads(state)["data"]
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


# ---- an instance of every event type, every field set to something that is not its default ---------


def _value(cls: type[DomainEvent], name: str, hint: Any, default: Any) -> Any:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    base = args[0] if typing.get_origin(hint) in (typing.Union, types.UnionType) else hint
    origin = typing.get_origin(base) or base
    if origin is bool:
        return not default if isinstance(default, bool) else True
    if origin is int:
        return 4_242 + len(name)
    if origin is float:
        return 12.34
    if origin is str:
        return f"{name} of {cls.type}: Grüße, 日本, 🎉"
    if origin is list:
        (item,) = typing.get_args(base)
        if (typing.get_origin(item) or item) is dict:
            return [{"name": "Zoë 👩‍💻", "n": 1, "tags": ["a", "ß"], "nested": {"ok": True, "none": None}}]
        return [f"{name}-1@s.whatsapp.net", "второй"]
    if origin is dict:
        _key_type, value_type = typing.get_args(base)
        if value_type is int:
            return {"messages": 7, "media": 0}
        return {"k": "v", "emoji": "😀", "deep": {"list": [1, [2, [3]]], "flag": False}}
    raise AssertionError(f"{cls.__name__}.{name}: no sample value for {hint!r}; teach this test the type")


def _set_path(node: dict[str, Any], path: list[str], value: Any) -> None:
    head, rest = path[0], path[1:]
    if not rest:
        node[head] = value
        return
    child = node.get(head)
    if not isinstance(child, dict):
        child = node[head] = {}
    _set_path(child, rest, value)


def sample(cls: type[DomainEvent]) -> DomainEvent:
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else None
        values[f.name] = _value(cls, f.name, hints[f.name], default)
    for path in cls.secret_fields:
        _set_path(values, path.split("."), f"secret {path} ✓")
    event = cls(**values)
    for f in dataclasses.fields(cls):  # every field really differs from its default
        if f.default is not dataclasses.MISSING:
            assert getattr(event, f.name) != f.default, f"{cls.__name__}.{f.name}"
        elif f.default_factory is not dataclasses.MISSING:
            assert getattr(event, f.name) != f.default_factory(), f"{cls.__name__}.{f.name}"
    return event


def notification(state: bytes, topic: str, position: int = 7) -> Notification:
    return Notification(id=position, originator_id=uuid.uuid4(), originator_version=3, topic=topic, state=state)


# ---- every registered type ---------------------------------------------------------------------


@pytest.mark.parametrize("topic", TYPES)
def test_every_type_encodes_to_the_old_bytes_and_round_trips(topic: str) -> None:
    event = sample(EVENT_TYPES[topic])
    state = encode_state(event, TS)
    assert state == old_state(event)
    assert event.payload() == old_payload(event) and list(event.payload()) == list(old_payload(event))
    recorded = from_stored(notification(state, topic))
    assert recorded.event == event and type(recorded.event) is type(event)
    assert (recorded.timestamp_ms, recorded.position, recorded.version) == (TS, 7, 3)
    assert stored_event_ts(state) == TS
    # built without __init__, the decoded event is the same object in every respect
    assert vars(recorded.event) == vars(event) and list(vars(recorded.event)) == list(vars(event))
    if _hashable(event):
        assert hash(recorded.event) == hash(event)
    assert repr(recorded.event) == repr(event)
    with pytest.raises(dataclasses.FrozenInstanceError):
        recorded.event.instance_id = "changed"  # type: ignore[attr-defined]


def _hashable(event: DomainEvent) -> bool:
    try:
        hash(event)
    except TypeError:
        return False
    return True


@pytest.mark.parametrize("topic", TYPES)
def test_old_records_read_with_the_new_code_and_new_records_with_the_old(topic: str) -> None:
    event = sample(EVENT_TYPES[topic])
    assert from_stored(notification(old_state(event), topic)).event == event
    assert old_event(EVENT_TYPES[topic], encode_state(event, TS)) == event


@pytest.mark.parametrize("topic", TYPES)
def test_fields_missing_in_an_old_record_take_their_defaults(topic: str) -> None:
    cls = EVENT_TYPES[topic]
    full = sample(cls).payload()
    required = {f.name for f in dataclasses.fields(cls) if _no_default(f)}
    data = {k: v for k, v in full.items() if k in required}
    state = _old_dumps({"ts": TS, "data": data}).encode()
    first, second = (from_stored(notification(state, topic)).event for _ in range(2))
    assert first == cls(**data) == old_event(cls, state)
    for f in dataclasses.fields(cls):
        if f.default_factory is not dataclasses.MISSING:  # a fresh list or dict for each event, as __init__ makes
            assert getattr(first, f.name) is not getattr(second, f.name)
    # unknown keys (written by a newer version) are ignored, in any position
    noisy = {"zz_new": 1, **full, "also_new": [1]}
    assert cls.from_payload(noisy) == cls(**full)
    if required:
        with pytest.raises(TypeError):
            cls.from_payload({k: v for k, v in data.items() if k != sorted(required)[0]})


def _no_default(f: dataclasses.Field[Any]) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


@pytest.mark.parametrize("topic", [t for t in TYPES if EVENT_TYPES[t].secret_fields])
def test_secrets_are_sealed_in_and_opened_out(topic: str) -> None:
    event = sample(EVENT_TYPES[topic])
    stored = to_stored(new_id(), 1, event, TS, CIPHER)
    assert b"secret " not in stored.state and b'"$enc"' in stored.state
    assert from_stored(stored, cipher=CIPHER).event == event
    # a record sealed by the old encoder, and one written in clear before secrets were sealed
    assert from_stored(notification(old_state(event, cipher=CIPHER), topic), cipher=CIPHER).event == event
    assert from_stored(notification(old_state(event), topic), cipher=CIPHER).event == event
    with pytest.raises(SecretKeyError):
        from_stored(stored)  # sealed, and no key


# ---- the values orjson would write or read otherwise --------------------------------------------


class Colour(enum.IntEnum):
    RED = 1


class Label(str):
    pass


class Plain(enum.Enum):
    A = 1


FLOATS = [0.0, -0.0, 1.5, 52.5200066, 1e-05, 1e-7, 1e16, 1e22, 123456789.123, 5e-324, 1.7976931348623157e308]
TRICKY: list[Any] = [
    "Grüße 日本 🎉 👩‍👩‍👧 \u200d\u2028\u2029 \x7f",
    'controls \x00\x01\x1f \b\f\n\r\t " \\ /',
    2**63 - 1,
    2**63,
    2**64 - 1,
    2**64,
    -(2**63),
    -(2**63) - 1,
    10**30,
    -(10**40),
    *FLOATS,
    float("inf"),
    float("-inf"),
    {"a": {"b": {"c": [[[[{"d": "deep"}]]]]}}},
    {"tuple": (1, "two", (3,))},
    {"1234567890123456789012": "a long digit run in a key", "v": "and 98765432109876543210 in a value"},
    {"label": Label("a str subclass"), Label("key"): 1},
    {"colour": Colour.RED},
    {"nested": [None, True, False, 0, -1, "", [], {}]},
    [1.0, {"x": 2.5}],
]


@pytest.mark.parametrize("value", TRICKY, ids=range(len(TRICKY)))
def test_tricky_values_write_the_old_bytes_and_read_back(value: Any) -> None:
    event = MessageReceived(
        instance_id="i", message_id="m", chat_jid="c", sender_jid="s", message_type="text", extra={"v": value}
    )
    state = encode_state(event, TS)
    assert state == old_state(event)
    back = from_stored(notification(state, "message_received")).event
    assert back == old_event(MessageReceived, state)
    assert _old_dumps(back.payload()) == _old_dumps(event.payload())  # the same JSON value (tuples become lists)


def test_nan_stays_nan() -> None:
    event = MessageReceived(
        instance_id="i", message_id="m", chat_jid="c", sender_jid="s", message_type="location",
        location={"latitude": float("nan"), "longitude": 1.0},
    )  # fmt: skip
    state = encode_state(event, TS)
    assert state == old_state(event) and b"NaN" in state
    back = from_stored(notification(state, "message_received")).event
    assert isinstance(back, MessageReceived) and back.location is not None
    assert math.isnan(back.location["latitude"])


@pytest.mark.parametrize(
    ("value", "error"),
    [(Plain.A, TypeError), ("lone \ud800 surrogate", UnicodeEncodeError), (object(), TypeError)],
)
def test_what_json_refused_is_refused_the_same_way(value: Any, error: type[Exception]) -> None:
    event = QrReceived(instance_id="i", qr_code=value, attempt=1)
    with pytest.raises(error):
        old_state(event)
    with pytest.raises(error):
        encode_state(event, TS)


RECORDS = [
    b'{"ts":1,"data":{"n":NaN,"i":Infinity,"m":-Infinity}}',
    b'{"ts":1,"data":{"s":"\\ud800 lone","t":"\\ud83d\\ude00 pair"}}',
    b'{"ts":1,"data":{"big":18446744073709551616,"neg":-9223372036854775809,"huge":' + b"9" * 60 + b"}}",
    b'{"ts":1,"data":{"edge":18446744073709551615,"neg":-9223372036854775808,"f":1e+16,"g":1E-7}}',
    b'{"ts":1,"data":{"s":"12345678901234567890123","dup":1,"dup":2}}',
    b' { "ts" : 1 , "data" : { "spaced" : [ 1 , 2 ] } } ',
    '{"ts":1,"data":{"utf8":"Grüße 🎉"}}'.encode(),
]


@pytest.mark.parametrize("state", RECORDS, ids=range(len(RECORDS)))
def test_records_read_as_json_reads_them(state: bytes) -> None:
    expected = json.loads(state)
    got = loads(state)
    assert _old_dumps(got) == _old_dumps(expected)
    assert _types(got) == _types(expected)  # no integer turned float on the way
    assert decode_state(state) == (1, got["data"])


def _types(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _types(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_types(v) for v in value]
    return type(value).__name__


def test_random_floats_read_and_write_like_json() -> None:
    rng = random.Random(18)
    floats = [struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0] for _ in range(3_000)]
    floats = [f for f in floats if math.isfinite(f)] + [rng.uniform(-180, 180) for _ in range(1_000)]
    floats += [round(rng.uniform(0, 10_000), 2) for _ in range(1_000)]  # latencies
    floats += [math.ldexp(rng.random() + 1, e) for e in range(-1074, 1024) for _ in range(3)]  # every exponent
    state = _old_dumps({"ts": 1, "data": {"f": floats}}).encode()
    assert loads(state)["data"]["f"] == floats
    event = MessageReceived(
        instance_id="i", message_id="m", chat_jid="c", sender_jid="s", message_type="t", extra={"f": floats}
    )
    assert encode_state(event, 1) == old_state(event, 1)


# ---- classes the shortcut must not take -------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Normalised(DomainEvent):
    type: typing.ClassVar[str] = "test_normalised"
    name: str
    seen: list[str] = dataclasses.field(default_factory=list)

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", self.name.strip())


@dataclasses.dataclass(frozen=True, slots=True)
class Slotted(DomainEvent):
    type: typing.ClassVar[str] = "test_slotted"
    name: str
    count: int = 0


@pytest.mark.parametrize("build", [Normalised, Slotted])
def test_classes_with_their_own_init_work_go_through_it(build: Callable[..., DomainEvent]) -> None:
    event = build(name=" padded ")
    assert list(event.payload()) == [f.name for f in dataclasses.fields(event)]
    back = type(event).from_payload({**event.payload(), "unknown": 1})
    assert back == event
    if build is Normalised:
        assert type(event).from_payload({"name": "  x  "}) == Normalised(name="x")


# ---- the store decodes pages in the worker thread -------------------------------------------------


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[RecorderEventStore]:
    recorder = open_sqlite_recorder(str(tmp_path / "events.db"))
    s = RecorderEventStore.over(recorder, FixedClock(TS), provider="sqlite", cipher=CIPHER)
    async with trio.open_nursery() as nursery:
        await nursery.start(s.run_writer)
        yield s
        nursery.cancel_scope.cancel()
    recorder.datastore.close()


async def test_read_all_decodes_off_the_trio_thread_in_order_and_by_topic(
    store: RecorderEventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = new_id()
    events: list[DomainEvent] = [sample(EVENT_TYPES[t]) for t in TYPES]
    await store.append(sid, events, 0)
    threads: set[int] = set()
    real = StoredEvent.__getattribute__

    def spying(self: StoredEvent, name: str) -> Any:
        if name == "state":
            threads.add(threading.get_ident())
        return real(self, name)

    monkeypatch.setattr(StoredEvent, "__getattribute__", spying)
    everything = await store.read_all(0, 1_000)
    assert [r.event for r in everything] == events
    assert [r.position for r in everything] == list(range(1, len(events) + 1))
    assert threads and threading.get_ident() not in threads
    picked = ("message_received", "instance_created")
    typed = await store.read_all(0, 1_000, picked)
    assert [r.event for r in typed] == [e for e in events if e.type in picked]
    assert [r.event for r in await store.read_all(2, 3)] == events[2:5]
    timeline = await store.read_stream(sid)
    assert [r.event for r in timeline] == events
