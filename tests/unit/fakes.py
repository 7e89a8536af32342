"""In-memory fakes of the core's ports (`wamux.core.ports`), for the use-case tests: no SQLite, no HTTP.

Fakes, not mocks: the event store keeps streams and a global position and refuses a stale expected
version as the real one does; the WhatsApp session connects, shows a QR code, links, drops and
sends like the simulator, and records every call; the readers answer from the store's events (as
the read models would) plus whatever a test sets.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

from wamux.core.ports import (
    ConnectionLost,
    Emit,
    LinkConnected,
    MessageRef,
    NumberCheck,
    OutgoingMessage,
    PairSuccess,
    QrCode,
    RemoteContact,
    TimelineQuery,
    TransportEvent,
)
from wamux.domain.clock import Clock
from wamux.domain.errors import ConcurrencyConflict, UrlNotAllowed
from wamux.domain.events import ApiCallsRecorded, DomainEvent, LimitExceeded, MessageSent, RecordedEvent
from wamux.domain.periods import day_of

EPOCH_MS = 1_768_471_200_000  # 2026-01-15T10:00:00Z


class ShiftClock:
    """The domain clock on trio's (virtual) time, plus a shift a test can add (`advance`) without waiting."""

    def __init__(self, epoch_ms: int = EPOCH_MS) -> None:
        self.epoch_ms = epoch_ms
        self.shift_ms = 0

    def now_ms(self) -> int:
        return self.epoch_ms + self.shift_ms + int(trio.current_time() * 1000)

    def advance(self, ms: int) -> None:
        self.shift_ms += ms


# ---- the event store ---------------------------------------------------------------------------


class MemoryEventStore:
    """The `EventStore` port in memory: streams, versions from 1, a gap-free global position."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.log: list[RecordedEvent] = []
        self.streams: dict[str, list[RecordedEvent]] = {}
        self._changed = trio.Event()

    @property
    def provider(self) -> str:
        return "memory"

    def head(self) -> int:
        return len(self.log)

    async def append(self, stream_id: str, events: Sequence[DomainEvent], expected_version: int) -> list[RecordedEvent]:
        await trio.lowlevel.checkpoint()  # a real store yields here: let other tasks interleave
        stream = self.streams.setdefault(stream_id, [])
        if len(stream) != expected_version:
            raise ConcurrencyConflict(f"stream {stream_id} is at version {len(stream)}, not {expected_version}")
        ts = self.clock.now_ms()
        out = []
        for event in events:
            ts = max(ts, stream[-1].timestamp_ms + 1 if stream else ts)  # strictly increasing per stream
            recorded = RecordedEvent(stream_id, len(stream) + 1, ts, len(self.log) + 1, event)
            stream.append(recorded)
            self.log.append(recorded)
            out.append(recorded)
        if out:
            self._changed.set()
            self._changed = trio.Event()
        return out

    async def read_stream(self, stream_id: str, types: Sequence[str] = ()) -> list[RecordedEvent]:
        await trio.lowlevel.checkpoint()
        return [r for r in self.streams.get(stream_id, []) if not types or r.type in types]

    async def stream_version(self, stream_id: str) -> int:
        await trio.lowlevel.checkpoint()
        return len(self.streams.get(stream_id, []))

    async def read_all(self, after: int, limit: int, types: Sequence[str] = ()) -> list[RecordedEvent]:
        await trio.lowlevel.checkpoint()
        return [r for r in self.log[after:] if not types or r.type in types][:limit]

    def _matching(self, q: TimelineQuery) -> list[RecordedEvent]:
        def keep(r: RecordedEvent) -> bool:
            key = (r.timestamp_ms, r.position)
            return (
                (not q.types or r.type in q.types)
                and (q.after is None or key > q.after)
                and (q.before is None or key < q.before)
                and (q.start_ms is None or r.timestamp_ms >= q.start_ms)
                and (q.end_ms is None or r.timestamp_ms <= q.end_ms)
            )

        return [r for r in self.streams.get(q.stream_id, []) if keep(r)]

    async def timeline(self, query: TimelineQuery) -> list[RecordedEvent]:
        await trio.lowlevel.checkpoint()
        rows = sorted(self._matching(query), key=lambda r: (r.timestamp_ms, r.position), reverse=query.newest_first)
        return rows[query.skip : query.skip + query.limit]

    async def count_timeline(self, query: TimelineQuery) -> int:
        await trio.lowlevel.checkpoint()
        return len(self._matching(query))

    async def wait_beyond(self, position: int) -> None:
        while self.head() <= position:
            await self._changed.wait()

    # ---- for the tests ----

    def types(self, stream_id: str) -> list[str]:
        return [r.type for r in self.streams.get(stream_id, [])]

    def events(self, stream_id: str, cls: type[Any] = DomainEvent) -> list[Any]:
        """The stream's events that are instances of `cls`, in order."""
        return [r.event for r in self.streams.get(stream_id, []) if isinstance(r.event, cls)]


# ---- WhatsApp --------------------------------------------------------------------------------


@dataclass
class Call:
    method: str
    args: tuple[Any, ...] = ()


class FakeSession:
    """A `WhatsAppSession` that records every call, fails when told to, and reports what a test stages.

    `connect` shows a QR code (or links at once with credentials), then stays up until `drop`.
    `fail(method, error, times)` makes the next `times` calls of `method` raise `error`;
    `hang(method)` makes its calls wait forever (a network that never answers).
    """

    def __init__(self, instance_id: str) -> None:
        self.instance_id = instance_id
        self.calls: list[Call] = []
        self.linked_jid: str | None = None
        self.contact_list: list[RemoteContact] = []
        self.pairing_code = "ABCD-EFGH"
        self.emit: Emit | None = None
        self._failures: dict[str, list[BaseException]] = {}
        self._hanging: set[str] = set()
        self._ids = itertools.count(1)
        self._dropped = trio.Event()
        self._drop = ConnectionLost(reason="connection_lost")

    @property
    def has_credentials(self) -> bool:
        return self.linked_jid is not None

    def fail(self, method: str, error: BaseException, times: int = 1) -> None:
        self._failures.setdefault(method, []).extend([error] * times)

    def hang(self, method: str) -> None:
        self._hanging.add(method)

    def called(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    async def _call(self, method: str, *args: Any) -> None:
        self.calls.append(Call(method, args))
        await trio.lowlevel.checkpoint()
        if method in self._hanging:
            await trio.sleep(math.inf)
        failures = self._failures.get(method)
        if failures:
            raise failures.pop(0)

    # ---- what a test stages, as the network would ----

    async def report(self, event: TransportEvent) -> None:
        """Deliver a transport event to the actor through the connection's `emit`."""
        assert self.emit is not None, "the session is not connected"
        await self.emit(event)

    async def link(self, jid: str, push_name: str | None = "Me") -> None:
        """The phone scanned the QR code: paired, then online."""
        self.linked_jid = jid
        await self.report(PairSuccess(jid=jid, push_name=push_name))
        await self.report(LinkConnected(jid=jid, push_name=push_name))

    def drop(self, reason: str = "connection_lost", *, logged_out: bool = False) -> None:
        self._drop = ConnectionLost(reason=reason, logged_out=logged_out)
        self._dropped.set()

    # ---- the port ----

    async def connect(self, emit: Emit) -> None:
        await self._call("connect")
        self.emit = emit
        self._dropped = trio.Event()
        try:
            if self.has_credentials:
                await emit(LinkConnected(jid=self.linked_jid))
            else:
                await emit(QrCode(f"1@qr-{self.instance_id}-{len(self.called('connect'))}"))
            await self._dropped.wait()
            if self._drop.logged_out:
                self.linked_jid = None
            await emit(self._drop)
        finally:
            self.emit = None

    async def send(self, message: OutgoingMessage) -> str:
        await self._call("send", message)
        return f"MSG-{next(self._ids)}"

    async def pair_phone(self, phone: str) -> str:
        await self._call("pair_phone", phone)
        return self.pairing_code

    async def contacts(self) -> list[RemoteContact]:
        await self._call("contacts")
        return list(self.contact_list)

    async def react(self, target: MessageRef, emoji: str) -> str:
        await self._call("react", target, emoji)
        return f"MSG-{next(self._ids)}"

    async def edit(self, target: MessageRef, text: str) -> str:
        await self._call("edit", target, text)
        return f"MSG-{next(self._ids)}"

    async def revoke(self, target: MessageRef) -> str:
        await self._call("revoke", target)
        return f"MSG-{next(self._ids)}"

    async def mark_read(self, chat_jid: str, sender_jid: str, message_ids: Sequence[str]) -> None:
        await self._call("mark_read", chat_jid, sender_jid, tuple(message_ids))

    async def send_chat_presence(self, chat_jid: str, state: str) -> None:
        await self._call("send_chat_presence", chat_jid, state)

    async def send_presence(self, state: str) -> None:
        await self._call("send_presence", state)

    async def check_numbers(self, phones: Sequence[str]) -> list[NumberCheck]:
        await self._call("check_numbers", tuple(phones))
        return [NumberCheck(phone=p, exists=False) for p in phones]

    async def logout(self) -> None:
        await self._call("logout")
        self.linked_jid = None

    async def ping(self) -> bool:
        await self._call("ping")
        return True

    async def close(self) -> None:
        self.calls.append(Call("close"))


class FakeTransport:
    """A `Transport` of `FakeSession`s, one per instance, kept across restarts of the supervisor."""

    name = "fake"

    def __init__(self) -> None:
        self.sessions: dict[str, FakeSession] = {}
        self.forgotten: list[str] = []

    def session(self, instance_id: str) -> FakeSession:
        return self.sessions.setdefault(instance_id, FakeSession(instance_id))

    def forget(self, instance_id: str) -> None:
        self.forgotten.append(instance_id)


# ---- media and outbound ------------------------------------------------------------------------


class MemoryMediaFiles:
    """`MediaFiles` in memory: `files` maps each saved path to (bytes, MIME type, file name)."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, str | None, str | None]] = {}

    def save(self, instance_id: str, data: bytes, mime_type: str | None, file_name: str | None) -> str:
        rel = f"{instance_id}/{len(self.files) + 1}"
        self.files[rel] = (data, mime_type, file_name)
        return rel

    def open_path(self, rel: str) -> Path | None:
        """A name for a saved entry (there is no file on disk: read `files`), None for an unknown one."""
        return Path(rel) if rel in self.files else None


@dataclass(frozen=True)
class Fetched:
    """What a media download gives (the shape of the adapter's `FetchedMedia`)."""

    data: bytes
    mime_type: str
    file_name: str | None = None


class FakeMediaFetch:
    """A `MediaFetch` answering from `pages` (url -> Fetched); records (url, file name, trusted)."""

    def __init__(self) -> None:
        self.pages: dict[str, Fetched] = {}
        self.calls: list[tuple[str, str | None, bool]] = []

    async def fetch(self, url: str, file_name: str | None = None, *, trusted: bool = False) -> Fetched:
        self.calls.append((url, file_name, trusted))
        await trio.lowlevel.checkpoint()
        page = self.pages[url]
        return Fetched(page.data, page.mime_type, file_name or page.file_name)


MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG", "image/png"),
    (b"ID3", "audio/mpeg"),
    (b"OggS", "audio/ogg"),
    (b"%PDF", "application/pdf"),
)


def sniff(data: bytes) -> str:
    """A MIME type by the first bytes, as libmagic would answer for these few kinds."""
    if data[4:8] == b"ftyp":
        return "video/mp4"
    return next((mime for magic, mime in MAGIC if data.startswith(magic)), "application/octet-stream")


@dataclass(frozen=True)
class Check:
    url: Any
    trusted: bool
    field_name: str
    must_resolve: bool


class FakeOutboundCheck:
    """An `OutboundCheck` that refuses the URLs in `refused` and records every check."""

    def __init__(self) -> None:
        self.refused: set[str] = set()
        self.checks: list[Check] = []

    def trusts(self, trusted: bool) -> bool:
        return trusted

    async def check(self, url: Any, *, trusted: bool, field_name: str = "url", must_resolve: bool = True) -> None:
        self.checks.append(Check(url, trusted, field_name, must_resolve))
        await trio.lowlevel.checkpoint()
        if str(url) in self.refused and not trusted:
            raise UrlNotAllowed(f"{field_name} leads to a private address", details={field_name: "not_allowed"})


# ---- what the actor reads back ---------------------------------------------------------------


class FakeSentLookup:
    """A `SentLookup` answering from `answers` ((instance, key) -> (message id, sent at ms)), then the store.

    With a store it finds a `message_sent` by its key as the messages read model does, so a new
    actor (after a restart) finds what an earlier one sent.
    """

    def __init__(self, store: MemoryEventStore | None = None) -> None:
        self.store = store
        self.answers: dict[tuple[str, str], tuple[str, int]] = {}
        self.asked: list[tuple[str, str]] = []

    async def sent_with_key(self, instance_id: str, key: str) -> tuple[str, int] | None:
        self.asked.append((instance_id, key))
        await trio.lowlevel.checkpoint()
        if (instance_id, key) in self.answers:
            return self.answers[instance_id, key]
        for r in reversed(self.store.streams.get(instance_id, []) if self.store else []):
            if isinstance(r.event, MessageSent) and r.event.idempotency_key == key:
                return r.event.message_id, r.timestamp_ms
        return None


@dataclass
class FakeUsageReader:
    """A `UsageReader` counting the store's events (as the stats read model does) plus settable answers.

    `extra[instance]` is added to the counted (messages sent, API calls); `notified[instance]` lists
    periods announced besides the store's `limit_exceeded` events.
    """

    store: MemoryEventStore | None = None
    extra: dict[str, tuple[int, int]] = field(default_factory=dict)
    notified: dict[str, list[str]] = field(default_factory=dict)
    asked: list[tuple[str, str | None]] = field(default_factory=list)

    def _records(self, instance_id: str) -> list[RecordedEvent]:
        return self.store.streams.get(instance_id, []) if self.store else []

    async def usage_since(self, instance_id: str, since_day: str | None) -> tuple[int, int]:
        self.asked.append((instance_id, since_day))
        await trio.lowlevel.checkpoint()
        counted = [r for r in self._records(instance_id) if since_day is None or day_of(r.timestamp_ms) >= since_day]
        sent = sum(1 for r in counted if isinstance(r.event, MessageSent))
        calls = sum(r.event.count for r in counted if isinstance(r.event, ApiCallsRecorded))
        extra_sent, extra_calls = self.extra.get(instance_id, (0, 0))
        return sent + extra_sent, calls + extra_calls

    async def limit_notified(self, instance_id: str) -> Sequence[str]:
        await trio.lowlevel.checkpoint()
        stored = [r.event.period_key for r in self._records(instance_id) if isinstance(r.event, LimitExceeded)]
        return [*self.notified.get(instance_id, []), *stored]
