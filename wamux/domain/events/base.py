"""What every domain event is: the base class, the registry of wire names, the recorded envelope, secrets.

The event classes themselves live in the modules beside this one, one per stream topic.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

EVENT_TYPES: dict[str, type[DomainEvent]] = {}

E = TypeVar("E", bound="type[DomainEvent]")


def register(cls: E) -> E:
    """Class decorator: make an event class known to the codec by its `type`."""
    if cls.type in EVENT_TYPES:
        raise ValueError(f"duplicate event type {cls.type}")
    EVENT_TYPES[cls.type] = cls
    return cls


@dataclass(frozen=True)
class DomainEvent:
    """Base of every domain event. `type` is the stable wire name (also the store topic)."""

    type: ClassVar[str] = ""
    # Payload fields that hold secrets, as dotted paths (`*` = every item of a list or dict): the
    # store encrypts them at rest and exports redact them. Declare them here, next to the field.
    secret_fields: ClassVar[tuple[str, ...]] = ()

    def payload(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> DomainEvent:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


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
