"""The event store port: what actors, projections and routes need from any backend."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from wamux.domain.events import DomainEvent, RecordedEvent


@dataclass(frozen=True)
class TimelineQuery:
    """A time-ordered question about one stream (instance feed, activity log)."""

    stream_id: str
    types: tuple[str, ...] = ()
    after: tuple[int, int] | None = None  # exclusive (timestamp ms, position)
    before: tuple[int, int] | None = None
    start_ms: int | None = None  # inclusive
    end_ms: int | None = None
    newest_first: bool = False
    skip: int = 0
    limit: int = 100


class EventStore(Protocol):
    """Append-only log of domain events, in streams, with a global gap-free position."""

    @property
    def provider(self) -> str: ...

    def head(self) -> int:
        """The position of the last committed event (0 when empty)."""

    async def append(self, stream_id: str, events: Sequence[DomainEvent], expected_version: int) -> list[RecordedEvent]:
        """Commit `events` after version `expected_version` of the stream, or raise ConcurrencyConflict."""

    async def read_stream(self, stream_id: str, types: Sequence[str] = ()) -> list[RecordedEvent]: ...

    async def stream_version(self, stream_id: str) -> int: ...

    async def read_all(self, after: int, limit: int, types: Sequence[str] = ()) -> list[RecordedEvent]: ...

    async def timeline(self, query: TimelineQuery) -> list[RecordedEvent]: ...

    async def count_timeline(self, query: TimelineQuery) -> int: ...

    async def wait_beyond(self, position: int) -> None:
        """Return once the head is past `position`."""
