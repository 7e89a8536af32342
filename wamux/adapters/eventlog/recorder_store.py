"""The event store adapter: any `TimelineRecorder` behind the `EventStore` port, with group commit.

All appends go through one writer task. It takes every append that is pending, writes them
in one recorder transaction (one fsync for many events), and only then answers each caller:
an event is acknowledged only once it is committed. Per stream, timestamps are strictly
increasing, so a client polling a stream by timestamp never meets a tie.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from uuid import UUID

import trio
import trio.lowlevel
from eventsourcing.persistence import IntegrityError, StoredEvent

from wamux.adapters.eventlog.codec import from_stored, to_stored
from wamux.adapters.eventlog.secret_cipher import SecretCipher
from wamux.adapters.eventlog.timeline import TimelineRecorder
from wamux.core.ports import Backend, BackendHandle, TimelineQuery
from wamux.domain.clock import Clock
from wamux.domain.errors import ConcurrencyConflict, Unavailable
from wamux.domain.events import DomainEvent, RecordedEvent
from wamux.logs import get_logger

T = TypeVar("T")

log = get_logger("wamux.store")


def _unavailable(stage: str, exc: Exception) -> Unavailable:
    """Log the cause; the client learns only that the store could not take the write (no internals)."""
    log.error(f"{stage} failed", error=repr(exc))
    return Unavailable("event store unavailable")


MAX_BATCH_EVENTS = 500


@dataclass
class _Append:
    stream_id: str
    events: Sequence[DomainEvent]
    expected_version: int
    done: trio.Event = field(default_factory=trio.Event)
    result: list[RecordedEvent] | None = None
    error: BaseException | None = None


class RecorderEventStore:
    """`EventStore` on an eventsourcing recorder (SQLite or MongoDB)."""

    def __init__(
        self,
        backend: BackendHandle,
        clock: Clock,
        *,
        limiter: trio.CapacityLimiter | None = None,
        cipher: SecretCipher | None = None,
    ) -> None:
        self.backend = backend  # the current recorder is `backend.current.recorder`, read at each use
        self.clock = clock
        self.cipher = cipher  # encrypts the events' secret fields; None only in tests without secrets
        self.limiter = limiter or trio.CapacityLimiter(8)
        self._head = self.recorder.max_notification_id() or 0
        self._changed = trio.Event()
        self._send, self._receive = trio.open_memory_channel[_Append](math.inf)
        self._last_ts: dict[str, int] = {}
        self._versions: dict[str, int] = {}  # stream -> last committed version (streams seen by this writer)
        self._record_ts: dict[int, int] = {}  # id(StoredEvent) -> ts, for the batch being written
        self._paused = trio.Lock()
        self.appended_events = 0
        self.batches = 0
        self.appended_by_type: Counter[str] = Counter()  # events committed by this process, read by the metrics
        self.observe_commit: Callable[[int, float], None] = lambda events, seconds: None  # (batch size, seconds)

    @classmethod
    def over(
        cls,
        recorder: TimelineRecorder,
        clock: Clock,
        *,
        provider: str,
        limiter: trio.CapacityLimiter | None = None,
        cipher: SecretCipher | None = None,
    ) -> RecorderEventStore:
        """A store on one recorder that no switch replaces (tools and tests); it has no read models."""
        return cls(BackendHandle(Backend(provider, recorder)), clock, limiter=limiter, cipher=cipher)

    @property
    def provider(self) -> str:
        return self.backend.current.provider

    @property
    def recorder(self) -> TimelineRecorder:
        recorder: TimelineRecorder = self.backend.current.recorder
        return recorder

    async def _call(self, fn: Callable[[TimelineRecorder], T]) -> T:
        """Run `fn` on the current recorder in a worker thread, holding a lease on its backend."""
        with self.backend.lease() as backend:
            return await trio.to_thread.run_sync(fn, backend.recorder, limiter=self.limiter)

    def head(self) -> int:
        return self._head

    def refresh_head(self) -> None:
        """Re-read the head from the recorder (for a read-only view over a log written elsewhere)."""
        self._head = self.recorder.max_notification_id() or 0

    async def appended_elsewhere(self) -> None:
        """Another process appended to this log (a node of a cluster): learn the new head and wake whoever
        waits beyond the old one. Never moves the head back (a read racing our own commit)."""
        head = await self._call(lambda r: r.max_notification_id() or 0)
        if head > self._head:
            self._head = head
            self._changed.set()
            self._changed = trio.Event()

    # ---- writing -------------------------------------------------------------------------

    async def append(self, stream_id: str, events: Sequence[DomainEvent], expected_version: int) -> list[RecordedEvent]:
        if not events:
            return []
        request = _Append(stream_id, events, expected_version)
        self._send.send_nowait(request)
        # Once handed to the writer the events will be committed: a cancelled caller must still
        # learn the outcome, or the stream's single writer would lose track of its version.
        with trio.CancelScope(shield=True):
            await request.done.wait()
        if request.error is not None:
            raise request.error
        assert request.result is not None
        return request.result

    async def run_writer(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The single writer loop; runs for the life of the server."""
        task_status.started()
        async for first in self._receive:
            await trio.lowlevel.checkpoint()  # let appends made in the same tick join this batch
            batch = [first]
            size = len(first.events)
            while size < MAX_BATCH_EVENTS:
                try:
                    request = self._receive.receive_nowait()
                except trio.WouldBlock:
                    break
                batch.append(request)
                size += len(request.events)
            async with self._paused:
                try:
                    await self._commit(batch)
                finally:
                    self._record_ts.clear()

    async def pause(self) -> trio.Lock:
        """Hold the returned lock to stop commits (used by the store switch); release to resume."""
        await self._paused.acquire()
        return self._paused

    async def _commit(self, batch: list[_Append]) -> None:
        stored: list[list[StoredEvent]] = []
        ready: list[_Append] = []
        for request in batch:
            try:
                stored.append(await self._encode(request))
                ready.append(request)
            except ConcurrencyConflict as exc:
                request.error = exc
                request.done.set()
            except Exception as exc:
                request.error = _unavailable("encode", exc)
                request.done.set()
        batch = ready
        if not batch:
            return
        flat = [s for group in stored for s in group]
        started = time.perf_counter()
        try:
            ids = await self._call(lambda r: r.insert_events(flat))
        except IntegrityError:
            # Someone raced on a stream version: commit the others, fail only the culprits.
            await self._commit_one_by_one(batch, stored)
            return
        except Exception as exc:
            error = _unavailable("append", exc)
            for r in batch:
                r.error = error
                r.done.set()
            self._forget_ts(batch)
            return
        self.observe_commit(len(flat), time.perf_counter() - started)
        self._finish(batch, stored, list(ids or []))

    async def _commit_one_by_one(self, batch: list[_Append], stored: list[list[StoredEvent]]) -> None:
        for request, records in zip(batch, stored, strict=True):
            try:
                ids = await self._call(lambda r, records=records: r.insert_events(records))  # type: ignore[misc]
            except IntegrityError:
                request.error = ConcurrencyConflict(f"stream {request.stream_id} was changed concurrently")
                self._forget_stream(request.stream_id)
                request.done.set()
                continue
            except Exception as exc:
                request.error = _unavailable("append", exc)
                self._forget_stream(request.stream_id)
                request.done.set()
                continue
            self._finish([request], [records], list(ids or []))

    def _forget_ts(self, batch: list[_Append]) -> None:
        for r in batch:
            self._forget_stream(r.stream_id)

    def _forget_stream(self, stream_id: str) -> None:
        """After a failed write the cached tail may be wrong: read it again next time."""
        self._last_ts.pop(stream_id, None)
        self._versions.pop(stream_id, None)

    async def _encode(self, request: _Append) -> list[StoredEvent]:
        stream = request.stream_id
        if stream not in self._versions:
            self._versions[stream], self._last_ts[stream] = (
                await self._stream_tail(stream) if request.expected_version > 0 else (0, 0)
            )
        if self._versions[stream] != request.expected_version:
            # Catches writers that are behind *and* ahead (a version gap), before the database does.
            raise ConcurrencyConflict(
                f"stream {stream} is at version {self._versions[stream]}, not {request.expected_version}"
            )
        last = self._last_ts.get(stream)
        ts = self.clock.now_ms()
        out = []
        for offset, event in enumerate(request.events):
            ts = max(ts, (last or 0) + 1)
            record = to_stored(request.stream_id, request.expected_version + offset + 1, event, ts, self.cipher)
            self._record_ts[id(record)] = ts
            out.append(record)
            last = ts
        self._last_ts[request.stream_id] = ts
        return out

    async def _stream_tail(self, stream_id: str) -> tuple[int, int]:
        """(version, timestamp ms) of the stream's last event, (0, 0) for a new stream."""
        rows = await self._call(lambda r: r.select_events(UUID(stream_id), desc=True, limit=1))
        if not rows:
            return 0, 0
        return rows[0].originator_version, from_stored(rows[0], cipher=self.cipher).timestamp_ms

    def _finish(self, batch: list[_Append], stored: list[list[StoredEvent]], ids: list[int]) -> None:
        i = 0
        for request, records in zip(batch, stored, strict=True):
            result = []
            for event, record in zip(request.events, records, strict=True):
                result.append(
                    RecordedEvent(
                        stream_id=request.stream_id,
                        version=record.originator_version,
                        timestamp_ms=self._record_ts[id(record)],
                        position=ids[i] if i < len(ids) else 0,
                        event=event,
                    )
                )
                i += 1
            request.result = result
            self.appended_by_type.update(event.type for event in request.events)
            if records:
                self._versions[request.stream_id] = records[-1].originator_version
            request.done.set()
        if ids:
            self._head = max(self._head, max(ids))
        self.appended_events += len(ids)
        self.batches += 1
        self._changed.set()
        self._changed = trio.Event()

    # ---- reading -------------------------------------------------------------------------

    async def wait_beyond(self, position: int) -> None:
        while self._head <= position:
            await self._changed.wait()

    async def read_stream(self, stream_id: str, types: Sequence[str] = ()) -> list[RecordedEvent]:
        # Through the timeline (not select_events) so every event carries its global position.
        return await self.timeline(TimelineQuery(stream_id=stream_id, types=tuple(types), limit=10**9))

    async def stream_version(self, stream_id: str) -> int:
        rows = await self._call(lambda r: r.select_events(UUID(stream_id), desc=True, limit=1))
        return rows[0].originator_version if rows else 0

    def _decoded(self, rows: Sequence[StoredEvent]) -> list[RecordedEvent]:
        """The rows as domain events, in their order; called in the worker thread that read them."""
        cipher = self.cipher
        return [from_stored(row, cipher=cipher) for row in rows]

    async def read_all(
        self, after: int, limit: int, types: Sequence[str] = (), *, rare: bool = False
    ) -> list[RecordedEvent]:
        topics = tuple(types)

        def read(r: Any) -> list[RecordedEvent]:
            # Decoded in the worker thread too: a page of 1,000 events does not hold up the trio loop.
            if rare and topics and hasattr(r, "select_rare"):
                return self._decoded(r.select_rare(after, limit, topics))
            page = r.select_notifications(start=after, limit=limit, topics=topics, inclusive_of_start=False)
            return self._decoded(page)

        return await self._call(read)

    async def timeline(self, query: TimelineQuery) -> list[RecordedEvent]:
        return await self._call(
            lambda r: self._decoded(
                r.select_timeline(
                    UUID(query.stream_id),
                    topics=query.types,
                    after=query.after,
                    before=query.before,
                    start_ts=query.start_ms,
                    end_ts=query.end_ms,
                    desc=query.newest_first,
                    skip=query.skip,
                    limit=query.limit,
                )
            )
        )

    async def count_timeline(self, query: TimelineQuery) -> int:
        return await self._call(
            lambda r: r.count_timeline(
                UUID(query.stream_id), topics=query.types, start_ts=query.start_ms, end_ts=query.end_ms
            )
        )
