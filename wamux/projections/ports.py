"""The small port projections save their rows through, and the shape of a projection.

A read model is a set of collections of JSON documents keyed by a string. Each collection
declares the fields it queries on (so SQLite can give them columns and indexes and MongoDB
indexes); everything else rides along in the document. Backends: SQLite and MongoDB in
`wamux.adapters.readmodels`. This port lives here, not in `wamux.core.ports`: the pure projections
are written against it and may not import the core.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from wamux.domain.events import RecordedEvent

FieldType = Literal["text", "int", "real", "bool"]


@dataclass(frozen=True)
class Collection:
    """A document collection with the fields its queries filter or sort on."""

    name: str
    fields: dict[str, FieldType]
    indexes: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class Query:
    """Equality filters, inclusive ranges, a case-insensitive substring search, order, paging.

    Only declared fields of the collection may appear here.
    """

    where: dict[str, Any] = field(default_factory=dict)
    ranges: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    search: tuple[tuple[str, ...], str] | None = None
    order: tuple[tuple[str, bool], ...] = ()  # (field, descending)
    skip: int = 0
    limit: int | None = None


class ReadSession(Protocol):
    """What a projection may do inside its transaction."""

    def get(self, collection: Collection, key: str) -> dict[str, Any] | None: ...

    def get_many(self, collection: Collection, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The documents of `keys` that exist, by key: one query for a batch, not one per key."""

    def put(self, collection: Collection, key: str, doc: dict[str, Any]) -> None: ...

    def delete(self, collection: Collection, key: str) -> None: ...

    def find(self, collection: Collection, query: Query) -> list[dict[str, Any]]: ...

    def count(self, collection: Collection, query: Query) -> int: ...


class ReadModelStore(Protocol):
    """Durable read models with their tracking positions (one per projection)."""

    def ensure(self, collections: tuple[Collection, ...]) -> None: ...

    def position(self, projection: str) -> int: ...

    def positions(self) -> dict[str, int]:
        """Every projection's recorded position, in one read (a node that does not write the read models
        learns from it how far the one that does got)."""

    def apply(self, projection: str, position: int, work: Callable[[ReadSession], None]) -> None:
        """Run `work` and record `position` for `projection` in one transaction."""

    def apply_all(self, items: Sequence[tuple[str, int, Callable[[ReadSession], None]]]) -> dict[str, Exception]:
        """Run every `(projection, position, work)` and record the positions in ONE transaction.

        A work that raises is undone alone (its rows and position stay as they were) and reported
        in the answer, by projection; the others commit. Within one work, reads see its own
        earlier writes (a write-back cache: writes of one key are coalesced and written at the end,
        or before a `find` on that collection).
        """

    def get(self, collection: Collection, key: str) -> dict[str, Any] | None: ...

    def find(self, collection: Collection, query: Query) -> list[dict[str, Any]]: ...

    def count(self, collection: Collection, query: Query) -> int: ...

    def reset(self, projection: str, collections: tuple[Collection, ...]) -> None:
        """Drop every row of these collections and the projection's position (before a rebuild)."""

    def close(self) -> None: ...


class Projection(Protocol):
    """A pure read model: which events it wants and how each one changes its rows."""

    name: str
    collections: tuple[Collection, ...]
    topics: tuple[str, ...]

    def apply(self, session: ReadSession, event: RecordedEvent) -> None: ...
