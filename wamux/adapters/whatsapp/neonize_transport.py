"""The real WhatsApp transport: one neonize client (whatsmeow, in Go) per instance, bridged into trio.

Threads and who owns them:
- `connect()` runs neonize's blocking `client.connect()` in a worker thread of its own (a private
  capacity limiter, so hundreds of long-lived connections never starve trio's shared thread pool).
- neonize calls our handlers on threads of the Go runtime. A handler maps the event (and downloads
  incoming media) right there, then hands the result to trio with `run_sync_soon`, which never
  blocks: the Go side is not held up by a slow actor. One trio task feeds the actor's `emit`
  in arrival order.
- Every other neonize call (send, pairing code, contacts, logout) runs in a trio worker thread.

neonize's Go side looks the client up in a map on every call and crashes the whole process when
it is missing (before the first connect, after `stop()`). So calls into Go go through one gate:
they run only while a connection is up, and `stop()` waits for the calls in flight first.

`import wamux.adapters.whatsapp.neonize_transport` is cheap: neonize (which loads an 18 MB Go library and
calls `logging.basicConfig`) is imported on first use.
"""

from __future__ import annotations

import ctypes
import math
import re
import shutil
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, closing
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import trio

from wamux.adapters.whatsapp import neonize_mapping as mapping
from wamux.core.ports import (
    ConnectionLost,
    Emit,
    IncomingMessage,
    LinkConnected,
    MediaPayload,
    NotLinked,
    OutgoingMessage,
    RemoteContact,
    TransportError,
    TransportEvent,
)
from wamux.logs import get_logger

if TYPE_CHECKING:
    from neonize.client import NewClient

log = get_logger(__name__)

T = TypeVar("T")

SESSION_FILE = "session.db"
# How long stopping waits for neonize calls already in flight before it pulls the client anyway.
STOP_GRACE_S = 5.0
# Instance ids become directory names: no separators, no dot-dot.
_SAFE_INSTANCE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class _EventPipe:
    """Carries transport events from neonize's threads into one trio task, in order, never blocking.

    Everything after the first `ConnectionLost` is dropped: the port promises that event is last.
    """

    def __init__(self, send_channel: trio.MemorySendChannel[TransportEvent], token: trio.lowlevel.TrioToken):
        self._send_channel = send_channel
        self._token = token
        self._closed = False
        self.lost: ConnectionLost | None = None
        self.ended = trio.Event()
        self.delivered_any = False

    def push(self, event: TransportEvent) -> None:
        """Queue an event for the actor; callable from any thread, returns at once."""
        try:
            self._token.run_sync_soon(self._deliver, event)
        except trio.RunFinishedError:
            log.warning("neonize event arrived after shutdown; dropped", kind=type(event).__name__)

    def _deliver(self, event: TransportEvent) -> None:  # runs in the trio thread
        if self._closed or self.lost is not None:
            return
        if isinstance(event, ConnectionLost):
            self.lost = event
            self.ended.set()
        self.delivered_any = True
        self._send_channel.send_nowait(event)

    async def aclose(self) -> None:
        """Close after everything already queued has been delivered (run_sync_soon is FIFO)."""
        closed = trio.Event()

        def close() -> None:
            self._closed = True
            self._send_channel.close()
            closed.set()

        self._token.run_sync_soon(close)
        await closed.wait()


async def _feed(receive_channel: trio.MemoryReceiveChannel[TransportEvent], emit: Emit) -> None:
    async with receive_channel:
        async for event in receive_channel:
            await emit(event)


# neonize 0.5.2's Go side registers each client in a process-wide map without a lock: two
# `connect()` calls starting at the same moment can abort the whole process ("concurrent map
# writes", seen in the instance benchmark). Dials are therefore spaced out, process-wide.
_DIAL_LOCK = threading.Lock()
DIAL_SPACING_S = 0.25


def _dial(client: Any) -> None:
    """`client.connect()` (blocks for the connection's life), started only after the previous dial."""
    _DIAL_LOCK.acquire()
    threading.Timer(DIAL_SPACING_S, _DIAL_LOCK.release).start()
    client.connect()


class NeonizeSession:
    """One instance's WhatsApp connection through a neonize client, stored in `<dir>/session.db`."""

    def __init__(self, instance_id: str, session_dir: Path) -> None:
        self.instance_id = instance_id
        self.session_dir = session_dir
        self.db_path = session_dir / SESSION_FILE
        self._client: NewClient | None = None
        self._pipe: _EventPipe | None = None
        # The gate around calls into Go (see the module docstring).
        self._gate = threading.Condition()
        self._connection_up = False
        self._calls_in_flight = 0

    # ---- the neonize client and its callbacks ----------------------------------------------

    def client(self) -> NewClient:
        """The instance's neonize client, created (with its directory and handlers) on first use."""
        if self._client is None:
            from neonize.client import NewClient

            self.session_dir.mkdir(parents=True, exist_ok=True)
            client = NewClient(name=str(self.db_path))
            for event_type in mapping.event_mappers():
                # Bound methods: neonize keeps them as weak references, so no cycle through the client.
                client.event(event_type)(self._on_event)
            client.event.qr(self._on_qr)  # replaces neonize's default, which prints to the terminal
            # neonize 0.5.2 reports the end of QR pairing only to this private callback (by default it
            # prints the status to stdout); without it a QR timeout would leave `connect` hanging.
            setattr(client, "_NewClient__onLoginStatus", self._on_login_status)  # noqa: B010
            self._client = client
        return self._client

    def _push(self, event: TransportEvent) -> None:
        pipe = self._pipe
        if pipe is None:
            log.debug("neonize event outside a connection; dropped", instance_id=self.instance_id)
            return
        pipe.push(event)

    def _on_event(self, client: NewClient, event: Any) -> None:  # runs on a Go thread
        try:
            mapped = mapping.transport_event(event)
            if isinstance(mapped, IncomingMessage):
                mapped = self._with_media(client, event, mapped)
            elif isinstance(mapped, LinkConnected) and mapped.jid is None:
                identity = self.linked_identity()
                if identity is not None:
                    mapped = LinkConnected(jid=identity[0], push_name=identity[1])
        except Exception:
            # A foreign thread: an exception here would vanish inside ctypes. Log it, keep going.
            log.exception("could not map a neonize event", instance_id=self.instance_id, kind=type(event).__name__)
            return
        if mapped is not None:
            self._push(mapped)

    def _on_qr(self, _client: NewClient, data: bytes) -> None:  # runs on a Go thread
        self._push(mapping.qr_code_from_bytes(data))

    def _on_login_status(self, _uuid: int, status_address: int) -> None:  # runs on a Go thread
        if not status_address:
            return
        status = ctypes.string_at(status_address).decode("utf-8", "replace")
        log.info("whatsapp pairing status", instance_id=self.instance_id, status=status)
        lost = mapping.connection_lost_from_login_status(status)
        if lost is not None:
            self._push(lost)

    def _with_media(self, client: NewClient, event: Any, message: IncomingMessage) -> IncomingMessage:
        """Download the file of a media message; on failure deliver the message without it."""
        content = mapping.unwrap_message(event.Message)
        kind = mapping.media_kind(content)
        if kind is None:
            return message
        try:
            data = self._call_go(lambda: client.download_any(content))
        except Exception as exc:  # NotLinked, neonize's DownloadError, or whatever the Go side returns
            log.warning(
                "could not download incoming media; delivering the message without it",
                instance_id=self.instance_id,
                message_id=message.message_id,
                kind=kind,
                error=str(exc) or type(exc).__name__,
            )
            return message
        if not data:
            return message
        payload = MediaPayload(data=bytes(data), mime_type=message.mime_type, file_name=message.file_name)
        return replace(message, media=payload)

    # ---- the gate around calls into Go -----------------------------------------------------

    def _call_go(self, call: Callable[[], T]) -> T:
        """Run a blocking neonize call, only while the connection is up; NotLinked otherwise."""
        with self._gate:
            client = self._client
            if not self._connection_up or client is None or not client.is_connected:
                raise NotLinked("the WhatsApp session is not connected", code="not_connected")
            self._calls_in_flight += 1
        try:
            return call()
        finally:
            with self._gate:
                self._calls_in_flight -= 1
                self._gate.notify_all()

    def _stop_client(self) -> None:
        """Close the gate, let calls in flight finish (briefly), then stop the Go client. Idempotent."""
        with self._gate:
            self._connection_up = False
            self._gate.wait_for(lambda: self._calls_in_flight == 0, timeout=STOP_GRACE_S)
        if self._client is not None:
            self._client.stop()

    # ---- WhatsAppSession ---------------------------------------------------------------------

    @property
    def has_credentials(self) -> bool:
        """A linked device is stored in the session file (read directly: works offline, no Go call)."""
        return self.linked_identity() is not None

    def linked_identity(self) -> tuple[str, str | None] | None:
        """(account JID, push name) of the linked device in the session file, or None."""
        if not self.db_path.is_file():
            return None
        uri = self.db_path.resolve().as_uri() + "?mode=ro"
        try:
            with closing(sqlite3.connect(uri, uri=True, timeout=2.0)) as db:
                row = db.execute("SELECT jid, push_name FROM whatsmeow_device LIMIT 1").fetchone()
        except sqlite3.Error as exc:  # no schema yet (never connected), or busy
            log.debug("no linked device readable", instance_id=self.instance_id, error=str(exc))
            return None
        if row is None or not row[0]:
            return None
        return mapping.account_jid(str(row[0])), (str(row[1]) if row[1] else None)

    @asynccontextmanager
    async def event_pipeline(self, emit: Emit) -> AsyncIterator[NeonizeClientHandle]:
        """The event path of `connect` without the network: neonize handlers → trio → `emit`.

        While the block runs, events the client's handlers receive (from any thread) reach `emit`
        in order; on exit everything already received has been emitted.
        """
        client = self.client()
        send_channel, receive_channel = trio.open_memory_channel[TransportEvent](math.inf)
        pipe = _EventPipe(send_channel, trio.lowlevel.current_trio_token())
        self._pipe = pipe
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_feed, receive_channel, emit)
                try:
                    yield NeonizeClientHandle(client, pipe)
                finally:
                    await pipe.aclose()
        finally:
            self._pipe = None

    async def connect(self, emit: Emit) -> None:
        from neonize.exc import NeonizeError

        if self._pipe is not None:
            raise TransportError("this session is already connected", retryable=False, code="already_connected")
        failure: NeonizeError | None = None
        async with self.event_pipeline(emit) as handle:
            with self._gate:
                self._connection_up = True
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._stop_when_ended, handle.pipe)
                try:
                    # Not abandoned on cancel: the sibling task stops the client, which ends this call.
                    await trio.to_thread.run_sync(_dial, handle.client, limiter=trio.CapacityLimiter(1))
                except NeonizeError as exc:
                    failure = exc
                nursery.cancel_scope.cancel()
            # Failing before anything happened is an error to the caller; failing later, or neonize
            # returning without a word, is a lost connection like any other.
            never_connected = failure is not None and not handle.pipe.delivered_any
            if not never_connected and handle.pipe.lost is None:
                reason = "connection_closed" if failure is None else "connection_failed"
                log.info(
                    "whatsapp connection ended",
                    instance_id=self.instance_id,
                    reason=reason,
                    error=str(failure) if failure else None,
                )
                handle.pipe.push(ConnectionLost(reason=reason))
        if never_connected:
            raise TransportError(f"could not connect to WhatsApp: {failure}", retryable=True, code="connect_failed")

    async def _stop_when_ended(self, pipe: _EventPipe) -> None:
        """Stop the client once the connection is lost, or when `connect` is cancelled."""
        try:
            await pipe.ended.wait()
        finally:
            with trio.CancelScope(shield=True):
                # A limiter of its own: stopping must not queue behind busy worker threads.
                await trio.to_thread.run_sync(self._stop_client, limiter=trio.CapacityLimiter(1))

    async def send(self, message: OutgoingMessage) -> str:
        return await trio.to_thread.run_sync(self._send_blocking, message)

    def _send_blocking(self, message: OutgoingMessage) -> str:
        from neonize.exc import NeonizeError

        client = self._client
        if client is None:
            raise NotLinked("the WhatsApp session is not connected", code="not_connected")
        to = mapping.jid_from_string(message.to)
        try:
            response = self._call_go(lambda: client.send_message(to, _build_outgoing(client, message)))
        except NeonizeError as exc:
            raise TransportError(f"WhatsApp did not accept the message: {exc}", code="send_failed") from exc
        except (OSError, ValueError) as exc:  # PIL cannot read the image, magic cannot type the bytes, ...
            raise TransportError(f"unusable media: {exc}", retryable=False, code="invalid_media") from exc
        return str(response.ID)

    async def pair_phone(self, phone: str) -> str:
        from neonize.exc import NeonizeError

        client = self.client()
        try:
            code = await trio.to_thread.run_sync(self._call_go, lambda: client.PairPhone(phone, True))
        except NeonizeError as exc:
            raise TransportError(f"no pairing code: {exc}", code="pair_failed") from exc
        return str(code)

    async def contacts(self) -> list[RemoteContact]:
        from neonize.exc import NeonizeError

        client = self.client()
        try:
            entries = await trio.to_thread.run_sync(self._call_go, client.contact.get_all_contacts)
        except NeonizeError as exc:
            raise TransportError(f"could not read the address book: {exc}", code="contacts_failed") from exc
        return [mapping.remote_contact(entry) for entry in entries]

    async def logout(self) -> None:
        from neonize.exc import NeonizeError

        client = self.client()
        try:
            await trio.to_thread.run_sync(self._call_go, client.logout)
        except NeonizeError as exc:
            raise TransportError(f"logout failed: {exc}", code="logout_failed") from exc
        # whatsmeow disconnects quietly after a logout: end `connect` ourselves.
        self._push(ConnectionLost(reason="logout", logged_out=True))

    async def ping(self) -> bool:
        client = self._client
        if client is None or not self._connection_up:
            return False
        return bool(await trio.to_thread.run_sync(lambda: client.is_connected))

    async def close(self) -> None:
        if self._client is None:
            return
        self._push(ConnectionLost(reason="closed"))
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(self._stop_client, limiter=trio.CapacityLimiter(1))

    def release(self) -> None:
        """Stop the Go client for good and drop its finalizer (the instance is being forgotten)."""
        client, self._client = self._client, None
        if client is None:
            return
        with self._gate:
            self._connection_up = False
        client.stop()
        # neonize stops the Go client again when the Python object is collected, by session file
        # name; a later client for the same instance must not be stopped by this one's garbage.
        finalizer = getattr(client, "_stop_finalizer", None)
        if finalizer is not None:
            finalizer.detach()


class NeonizeClientHandle:
    """What `NeonizeSession.event_pipeline` yields: the neonize client and the pipe its events take."""

    def __init__(self, client: NewClient, pipe: _EventPipe) -> None:
        self.client = client
        self.pipe = pipe


def _ffmpeg_available() -> bool:
    return shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None


def _build_outgoing(client: NewClient, message: OutgoingMessage) -> Any:
    """The neonize message for `message`: plain text, or media uploaded first (needs the connection)."""
    if message.kind == "text":
        if not message.text:
            raise TransportError("a text message needs text", retryable=False, code="invalid_message")
        return message.text
    data = message.data
    if not data:
        raise TransportError(f"a {message.kind} message needs data", retryable=False, code="invalid_message")
    kind = message.kind
    if kind in ("video", "audio") and not _ffmpeg_available():
        kind = "document"  # neonize's video/audio builders probe the file with ffmpeg
    if kind == "image":
        built = client.build_image_message(data, caption=message.caption)
        if message.mime_type:
            built.imageMessage.mimetype = message.mime_type
        return built
    if kind == "video":
        built = client.build_video_message(data, caption=message.caption)
        if message.mime_type:
            built.videoMessage.mimetype = message.mime_type
        return built
    if kind == "audio":
        built = client.build_audio_message(data)
        if message.mime_type:
            built.audioMessage.mimetype = message.mime_type
        return built
    if kind == "document":
        return client.build_document_message(
            data,
            caption=message.caption,
            title=message.file_name,
            filename=message.file_name,
            mimetype=message.mime_type,
        )
    raise TransportError(f"cannot send a {message.kind!r} message", retryable=False, code="unsupported_kind")


class NeonizeTransport:
    """WhatsApp through neonize: one session file per instance under `DATA_DIR/instances/<id>/`."""

    name = "neonize"

    def __init__(self, data_dir: str | Path) -> None:
        self.data_dir = Path(data_dir)
        # One session per instance for the life of the process: neonize names its Go client after
        # the session file, so two live clients for one instance would stop each other.
        self._sessions: dict[str, NeonizeSession] = {}

    def instance_dir(self, instance_id: str) -> Path:
        if not _SAFE_INSTANCE_ID.match(instance_id):
            raise ValueError(f"unusable instance id for a directory name: {instance_id!r}")
        return self.data_dir / "instances" / instance_id

    def session(self, instance_id: str) -> NeonizeSession:
        session = self._sessions.get(instance_id)
        if session is None:
            session = NeonizeSession(instance_id, self.instance_dir(instance_id))
            self._sessions[instance_id] = session
        return session

    def forget(self, instance_id: str) -> None:
        directory = self.instance_dir(instance_id)
        session = self._sessions.pop(instance_id, None)
        if session is not None:
            session.release()
        if directory.exists():
            shutil.rmtree(directory)
