"""In-memory fakes of the core's ports (`wamux.core.ports`), for the use-case tests: no SQLite, no HTTP.

Fakes, not mocks: the event store keeps streams and a global position and refuses a stale expected
version as the real one does; the WhatsApp session connects, shows a QR code, links, drops and
sends like the simulator, and records every call; the media converter marks what it converted.
The readers (what the actor and the use cases read back) are in `tests.unit.fake_reads`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PosixPath
from typing import Any

import trio

from tests.unit.fake_account import Call, FakeAccount
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
from wamux.domain.errors import ConcurrencyConflict, ConversionFailed, ConversionUnavailable, UrlNotAllowed
from wamux.domain.events import DomainEvent, RecordedEvent

# ---- the event store ---------------------------------------------------------------------------


class MemoryEventStore:
    """The `EventStore` port in memory: streams, versions from 1, a gap-free global position."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.log: list[RecordedEvent] = []
        self.streams: dict[str, list[RecordedEvent]] = {}
        self._changed = trio.Event()
        self.held: trio.Event | None = None  # set by `hold`: appends wait until `release`

    def hold(self) -> None:
        """Make appends wait (a slow disk), so a test can queue work behind a write in progress."""
        self.held = trio.Event()

    def release(self) -> None:
        if self.held is not None:
            self.held.set()
            self.held = None

    @property
    def provider(self) -> str:
        return "memory"

    def head(self) -> int:
        return len(self.log)

    async def append(self, stream_id: str, events: Sequence[DomainEvent], expected_version: int) -> list[RecordedEvent]:
        await trio.lowlevel.checkpoint()  # a real store yields here: let other tasks interleave
        if self.held is not None:
            await self.held.wait()
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

    async def read_all(
        self, after: int, limit: int, types: Sequence[str] = (), *, rare: bool = False
    ) -> list[RecordedEvent]:
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


class FakeSession(FakeAccount):
    """A `WhatsAppSession` that records every call, fails when told to, and reports what a test stages.

    `connect` shows a QR code (or links at once with credentials), then stays up until `drop`.
    `fail(method, error, times)` makes the next `times` calls of `method` raise `error`;
    `hang(method)` makes its calls wait forever (a network that never answers). Groups, profiles,
    the blocklist, privacy and calls are `FakeAccount`'s (`tests.unit.fake_account`).
    """

    def __init__(self, instance_id: str) -> None:
        super().__init__()
        self.instance_id = instance_id
        self.linked_jid: str | None = None
        self.contact_list: list[RemoteContact] = []
        self.pairing_code = "ABCD-EFGH"
        self.proxy: str | None = None  # what the actor last told the session (`set_proxy`)
        self.directory: dict[str, NumberCheck] = {}  # what check_numbers answers (unknown phones: no WhatsApp)
        self.emit: Emit | None = None
        self._dropped = trio.Event()
        self._drop = ConnectionLost(reason="connection_lost")

    @property
    def has_credentials(self) -> bool:
        return self.linked_jid is not None

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
        return await self._sent("send", message)

    async def pair_phone(self, phone: str) -> str:
        await self._call("pair_phone", phone)
        return self.pairing_code

    async def contacts(self) -> list[RemoteContact]:
        await self._call("contacts")
        return list(self.contact_list)

    async def react(self, target: MessageRef, emoji: str) -> str:
        return await self._sent("react", target, emoji)

    async def edit(self, target: MessageRef, text: str) -> str:
        return await self._sent("edit", target, text)

    async def revoke(self, target: MessageRef) -> str:
        return await self._sent("revoke", target)

    async def mark_read(self, chat_jid: str, sender_jid: str, message_ids: Sequence[str]) -> None:
        await self._call("mark_read", chat_jid, sender_jid, tuple(message_ids))

    async def send_chat_presence(self, chat_jid: str, state: str) -> None:
        await self._call("send_chat_presence", chat_jid, state)

    async def send_presence(self, state: str) -> None:
        await self._call("send_presence", state)

    def set_proxy(self, url: str | None) -> None:
        self.proxy = url

    async def check_numbers(self, phones: Sequence[str]) -> list[NumberCheck]:
        await self._call("check_numbers", tuple(phones))
        return [self.directory.get(p, NumberCheck(phone=p, exists=False)) for p in phones]

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


class StoredPath(PosixPath):
    """The name of an in-memory media entry; reading it gives the entry's bytes (there is no file on disk)."""

    data: bytes

    def read_bytes(self) -> bytes:
        return self.data


class MemoryMediaFiles:
    """`MediaFiles` in memory: `files` maps each saved path to (bytes, MIME type, file name)."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, str | None, str | None]] = {}

    def save(self, instance_id: str, data: bytes, mime_type: str | None, file_name: str | None) -> str:
        rel = f"{instance_id}/{len(self.files) + 1}"
        self.files[rel] = (data, mime_type, file_name)
        return rel

    def open_path(self, rel: str) -> StoredPath | None:
        """A readable name for a saved entry, None for an unknown one."""
        if rel not in self.files:
            return None
        path = StoredPath(rel)
        path.data = self.files[rel][0]
        return path


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


class FakeMediaConverter:
    """A `MediaConverter` that marks what it converted (`voice_of`, `sticker_of`, `picture_of`), recording each call.

    `ffmpeg = False` makes voice notes `ConversionUnavailable` (a server without ffmpeg);
    `broken = True` makes every conversion `ConversionFailed` (input the tools cannot read).
    """

    VOICE_MIME = "audio/ogg; codecs=opus"

    def __init__(self) -> None:
        self.calls: list[tuple[str, bytes, str | None]] = []
        self.ffmpeg = True
        self.broken = False

    @staticmethod
    def voice_of(data: bytes) -> bytes:
        return b"OggS-opus:" + data

    @staticmethod
    def sticker_of(data: bytes) -> bytes:
        return b"RIFF\x00\x00\x00\x00WEBP:" + data

    @staticmethod
    def picture_of(data: bytes) -> bytes:
        return b"\xff\xd8\xff-jpeg640:" + data

    def voice_available(self) -> bool:
        return self.ffmpeg

    async def voice_note(self, data: bytes, mime_type: str | None) -> tuple[bytes, str]:
        self.calls.append(("voice_note", data, mime_type))
        await trio.lowlevel.checkpoint()
        if not self.ffmpeg:
            raise ConversionUnavailable("a voice note needs ffmpeg to convert it to Ogg/Opus")
        if self.broken:
            raise ConversionFailed("the audio could not be converted", details={"file": "not audio"})
        return self.voice_of(data), self.VOICE_MIME

    async def sticker(self, data: bytes) -> bytes:
        self.calls.append(("sticker", data, None))
        await trio.lowlevel.checkpoint()
        if self.broken:
            raise ConversionFailed("the image could not be converted", details={"file": "not an image"})
        return self.sticker_of(data)

    async def picture(self, data: bytes) -> bytes:
        self.calls.append(("picture", data, None))
        await trio.lowlevel.checkpoint()
        if self.broken:
            raise ConversionFailed("the image could not be converted", details={"file": "not an image"})
        return self.picture_of(data)
