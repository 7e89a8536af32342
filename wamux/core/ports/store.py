"""The event store port and the backend handle (the current log and read models)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from wamux.domain.events import DomainEvent, RecordedEvent
from wamux.projections.ports import ReadModelStore

# ---- the event store -------------------------------------------------------------------------


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

    async def read_all(
        self, after: int, limit: int, types: Sequence[str] = (), *, rare: bool = False
    ) -> list[RecordedEvent]:
        """Events after the position `after`, in order, of `types` (all for none). `rare`: the types are a small
        share of the log (users, instance lifecycle): a backend with a topic index reads them without a scan."""

    async def timeline(self, query: TimelineQuery) -> list[RecordedEvent]: ...

    async def count_timeline(self, query: TimelineQuery) -> int: ...

    async def wait_beyond(self, position: int) -> None:
        """Return once the head is past `position`."""


# ---- the current backend (the store switch replaces it) --------------------------------------


@dataclass(frozen=True)
class Backend:
    """One provider's event log and read models, opened together and closed together."""

    provider: str  # sqlite | mongodb
    recorder: Any  # the adapter's log recorder (eventsourcing), opaque to the core
    read_models: ReadModelStore | None = None  # None: a log opened without its read models (tools)
    url: str | None = None
    close: Callable[[], None] = lambda: None


class BackendHandle:
    """The one holder of the current backend: the event store, the runners, the dispatcher and the
    queries read `current` at each use; the store switch makes ONE assignment (`swap`) under the pause.

    Work that uses a backend in a worker thread holds a `lease`; a backend swapped out is closed once
    its last lease ends (at once when none is held).
    """

    def __init__(self, backend: Backend) -> None:
        self.current = backend
        self._leases: dict[int, int] = {}
        self._retired: dict[int, Backend] = {}

    @contextmanager
    def lease(self) -> Iterator[Backend]:
        backend = self.current
        key = id(backend)
        self._leases[key] = self._leases.get(key, 0) + 1
        try:
            yield backend
        finally:
            left = self._leases[key] - 1
            if left:
                self._leases[key] = left
            else:
                del self._leases[key]
                retired = self._retired.pop(key, None)
                if retired is not None:
                    retired.close()

    @property
    def read_models(self) -> ReadModelStore:
        rm = self.current.read_models
        if rm is None:
            raise RuntimeError("this backend was opened without read models")
        return rm

    def swap(self, backend: Backend) -> Backend:
        """Make `backend` current; the old one is closed when its leases end. Answers the old one."""
        old, self.current = self.current, backend
        if self._leases.get(id(old)):
            self._retired[id(old)] = old
        else:
            old.close()
        return old

    def close(self) -> None:
        self.current.close()
