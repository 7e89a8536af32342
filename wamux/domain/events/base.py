"""What every domain event is: the base class, the registry of wire names, the recorded envelope, secrets.

The event classes themselves live in the modules beside this one, one per stream topic.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, ClassVar, TypeVar

EVENT_TYPES: dict[str, type[DomainEvent]] = {}

E = TypeVar("E", bound="type[DomainEvent]")


def register(cls: E) -> E:
    """Class decorator: make an event class known to the codec by its `type`."""
    if cls.type in EVENT_TYPES:
        raise ValueError(f"duplicate event type {cls.type}")
    EVENT_TYPES[cls.type] = cls
    return cls


class _Shape:
    """What `payload` and `from_payload` need of one event class, worked out once instead of per call.

    Events hold JSON values only, so neither direction converts a value: `payload` lists the fields
    in declaration order, `from_payload` keeps the known keys and lets missing ones take their
    defaults. `direct` says the class may be built without its `__init__` (the one `@dataclass`
    wrote: no `__post_init__`, no init-only or non-init fields, no slots), which is what makes
    decoding cheap: a frozen `__init__` pays an `object.__setattr__` per field.
    """

    def __init__(self, cls: type[DomainEvent]) -> None:
        fields = dataclasses.fields(cls)
        self.names: tuple[str, ...] = tuple(f.name for f in fields)
        self.known = frozenset(self.names)
        # attrgetter of one name answers the value itself, not a 1-tuple
        getter = attrgetter(*self.names) if self.names else (lambda _obj: ())
        self.values: Callable[[Any], tuple[Any, ...]] = (lambda obj: (getter(obj),)) if len(self.names) == 1 else getter
        self.defaults: dict[str, Any] = {}
        self.factories: dict[str, Callable[[], Any]] = {}
        for f in fields:
            if f.default is not dataclasses.MISSING:
                self.defaults[f.name] = f.default
            elif f.default_factory is not dataclasses.MISSING:
                self.factories[f.name] = f.default_factory
        self.direct = _plain_init(cls, fields, self.names)


def _plain_init(cls: type, fields: tuple[dataclasses.Field[Any], ...], names: tuple[str, ...]) -> bool:
    """Whether `cls(**kw)` does nothing but store each field (so setting `__dict__` is the same)."""
    if hasattr(cls, "__post_init__") or any("__slots__" in vars(k) for k in cls.__mro__):
        return False
    if any(not f.init for f in fields):
        return False
    init = cls.__init__  # type: ignore[misc]
    if getattr(getattr(init, "__code__", None), "co_filename", None) != "<string>":
        return False  # not the `__init__` that @dataclass generates (it compiles it from a string)
    return list(inspect.signature(init).parameters)[1:] == list(names)  # no InitVar, no extra parameter


_SHAPES: dict[type[DomainEvent], _Shape] = {}


def _shape(cls: type[DomainEvent]) -> _Shape:
    shape = _SHAPES.get(cls)
    if shape is None:  # worked out on the class's first use (a race only computes it twice)
        shape = _SHAPES[cls] = _Shape(cls)
    return shape


@dataclass(frozen=True)
class DomainEvent:
    """Base of every domain event. `type` is the stable wire name (also the store topic)."""

    type: ClassVar[str] = ""
    # Payload fields that hold secrets, as dotted paths (`*` = every item of a list or dict): the
    # store encrypts them at rest and exports redact them. Declare them here, next to the field.
    secret_fields: ClassVar[tuple[str, ...]] = ()

    def payload(self) -> dict[str, Any]:
        """The fields, in declaration order, as they are (no copies): the codec writes this."""
        shape = _shape(type(self))
        stored = self.__dict__
        if len(stored) == len(shape.names) and tuple(stored) == shape.names:
            return stored.copy()  # built by __init__ or from_payload: exactly the fields, in order
        return dict(zip(shape.names, shape.values(self), strict=True))

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> DomainEvent:
        """The event a payload stands for: unknown keys are ignored, missing ones take their defaults.

        A required field that is missing raises TypeError, as the class's own `__init__` would.
        """
        shape = _shape(cls)
        if not shape.direct:
            return cls(**{k: v for k, v in data.items() if k in shape.known})
        if len(data) == len(shape.names) and tuple(data) == shape.names:
            values = data.copy()  # what `payload` wrote: every field, in order
        else:
            try:
                values = {name: data[name] for name in shape.names}
            except KeyError:
                values = _with_defaults(shape, data)
        event = object.__new__(cls)
        object.__setattr__(event, "__dict__", values)
        return event


def _with_defaults(shape: _Shape, data: dict[str, Any]) -> dict[str, Any]:
    """The values of a record written before some fields existed (or without the defaulted ones)."""
    values: dict[str, Any] = {}
    missing = []
    for name in shape.names:
        if name in data:
            values[name] = data[name]
        elif name in shape.defaults:
            values[name] = shape.defaults[name]
        elif name in shape.factories:
            values[name] = shape.factories[name]()
        else:
            missing.append(name)
    if missing:
        raise TypeError(f"missing required field(s): {', '.join(missing)}")
    return values


def type_names(*classes: type[DomainEvent]) -> tuple[str, ...]:
    """The wire names of `classes`, in order."""
    return tuple(cls.type for cls in classes)


REDACTED = "***"


def map_secrets(cls: type[DomainEvent], payload: dict[str, Any], fn: Callable[[Any], Any]) -> dict[str, Any]:
    """A copy of `payload` with `fn` applied to each set (not None) secret field of `cls`.

    Only the containers on a secret's path are copied; missing keys and None values are left alone.
    """
    if not cls.secret_fields:
        return payload
    out = dict(payload)
    for path in cls.secret_fields:
        out = _map_path(out, path.split("."), fn)
    return out


def _map_path(node: Any, path: list[str], fn: Callable[[Any], Any]) -> Any:
    if not path:
        return node if node is None else fn(node)
    head, rest = path[0], path[1:]
    if head == "*":
        if isinstance(node, list):
            return [_map_path(item, rest, fn) for item in node]
        if isinstance(node, dict):
            return {k: _map_path(v, rest, fn) for k, v in node.items()}
        return node
    if not isinstance(node, dict) or head not in node:
        return node
    return {**node, head: _map_path(node[head], rest, fn)}


def redact_secrets(event: DomainEvent) -> dict[str, Any]:
    """The event's payload with every secret shown as `***` (for exports and listings)."""
    return map_secrets(type(event), event.payload(), lambda _value: REDACTED)


@dataclass(frozen=True)
class RecordedEvent:
    """An event as the store recorded it: stream, version in stream, timestamp (ms), global position."""

    stream_id: str
    version: int
    timestamp_ms: int
    position: int
    event: DomainEvent

    @property
    def type(self) -> str:
        return self.event.type
