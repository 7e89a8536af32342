"""One WhatsApp instance as a trio actor: a mailbox of commands, a connection loop, one writer.

State machine (every transition is a domain event in the instance's stream):

    connecting ──qr──► qr ──scan──► connected ──drop──► disconnected ──back-off──► connecting
         │                │                                   ▲
         │                └─ too many QR codes ─► disconnected (qr_timeout, waits for /reconnect)
         └─ unlinked on the phone / logout ─► logged_out (waits for /reconnect, needs a new QR)

Only this actor appends to its instance's stream. Commands come through the mailbox and run
one at a time in arrival order (which also serializes sends); transport events are handled
under the same lock, so the stream version is always exact.
"""

from __future__ import annotations

import math
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import trio

from wamux.core.ports import (
    ConnectionLost,
    ContactUpdate,
    EventStore,
    IncomingMessage,
    LinkConnected,
    MediaStore,
    OutgoingMessage,
    PairSuccess,
    QrCode,
    Receipt,
    RemoteContact,
    TransportError,
    TransportEvent,
    WhatsAppSession,
)
from wamux.domain.clock import Clock
from wamux.domain.errors import (
    Conflict,
    DomainError,
    InstanceNotConnected,
    TransportFailed,
    Unavailable,
)
from wamux.domain.events import (
    CONNECTION_TYPES,
    INSTANCE_LIFECYCLE_TYPES,
    Connected,
    ContactSaved,
    Disconnected,
    DomainEvent,
    InstanceFailed,
    LoggedOut,
    MessageFailed,
    MessageReceived,
    MessageSent,
    MessageStatusChanged,
    PairingCodeRequested,
    QrReceived,
    ReconnectRequested,
    RecordedEvent,
)
from wamux.domain.instances import Instance
from wamux.domain.phones import is_group, jid_number
from wamux.domain.text import safe_file_name

T = TypeVar("T")
IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class ActorSettings:
    """Timings of the connection loop (tests shrink them on trio's autojump clock)."""

    qr_max_attempts: int = 6
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 60.0
    max_connect_failures: int = 20
    liveness_interval_s: float = 30.0
    liveness_timeout_s: float = 10.0
    send_timeout_s: float = 60.0


@dataclass
class _Reply:
    done: trio.Event
    value: Any = None
    error: BaseException | None = None


class InstanceFailedError(Conflict):
    """The supervisor gave up on this instance; only /reconnect brings it back."""

    code = "instance_failed"


class Stopped(Exception):
    """The actor was asked to stop (instance deleted)."""


class InstanceActor:
    """Owns one instance: its stream, its WhatsApp session and its connection state."""

    def __init__(
        self,
        instance_id: str,
        store: EventStore,
        session: WhatsAppSession,
        clock: Clock,
        media: MediaStore,
        settings: ActorSettings | None = None,
    ) -> None:
        self.id = instance_id
        self.store = store
        self.session = session
        self.clock = clock
        self.media = media
        self.settings = settings or ActorSettings()
        self.instance = Instance(id=instance_id)
        self.version = 0
        self.status = "connecting"
        self.qr_code: str | None = None
        self.last_activity_ms = 0
        self.running = False
        self.stopping = False
        self._mailbox_send, self._mailbox = trio.open_memory_channel[tuple[Callable[[], Awaitable[Any]], _Reply]](
            math.inf
        )
        self._lock = trio.Lock()
        self._wake = trio.Event()
        self._connection: trio.CancelScope | None = None
        self._outcome: ConnectionLost | None = None
        self._qr_attempt = 0
        self._failures = 0
        self._next_send_ms = 0
        self._status_changed = trio.Event()
        self.linked_jid: str | None = None
        self.reconnecting = False  # in the back-off pause between two connection attempts
        self._idempotency: dict[str, tuple[str, int]] = {}  # key -> (message id, sent at ms)
        self.limit_notified: set[str] = set()  # limit periods already announced with limit_exceeded

    @property
    def idle(self) -> bool:
        """Not trying to connect: needs a /reconnect (logged out, failed, QR timed out)."""
        return self.status in ("logged_out", "failed") or (self.status == "disconnected" and not self.reconnecting)

    # ---- mailbox -------------------------------------------------------------------------

    async def ask(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Run `fn` inside the actor, after every command queued before it; returns its result."""
        if self.stopping:
            if self.status == "failed":
                raise InstanceFailedError(
                    "instance failed and was stopped; POST /api/instances/{id}/reconnect restarts it",
                    details={"status": "failed"},
                )
            raise Unavailable("instance is shutting down")
        reply = _Reply(trio.Event())
        self._mailbox_send.send_nowait((fn, reply))
        await reply.done.wait()
        if reply.error is not None:
            raise reply.error
        return reply.value  # type: ignore[no-any-return]

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Load state, then serve the mailbox and keep the connection up. Exceptions escape to the supervisor."""
        await self._load()
        self.running = True
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._connection_loop)
                task_status.started()
                async for fn, reply in self._mailbox:
                    try:
                        reply.value = await fn()
                    except (DomainError, TransportError) as exc:
                        reply.error = exc
                    except Stopped:
                        reply.done.set()
                        nursery.cancel_scope.cancel()
                        return
                    except BaseException as exc:
                        reply.error = Unavailable("instance failed; it is being restarted")
                        reply.done.set()
                        raise exc
                    reply.done.set()
        finally:
            self.running = False

    def fail_pending(self, error: DomainError) -> None:
        """Answer every queued command with `error` (the supervisor gave up on this actor)."""
        while True:
            try:
                _fn, reply = self._mailbox.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                return
            reply.error = error
            reply.done.set()

    async def _load(self) -> None:
        history = await self.store.read_stream(self.id, INSTANCE_LIFECYCLE_TYPES + CONNECTION_TYPES)
        self.instance = Instance(id=self.id)
        for recorded in history:
            self.instance.apply(recorded.event, recorded.timestamp_ms)
            self.last_activity_ms = recorded.timestamp_ms
        self.version = await self.store.stream_version(self.id)
        # "qr"/"connected" were true of the previous process; this one has to connect first.
        loaded = self.instance.status
        self._set_status("connecting" if loaded in ("qr", "connected") else loaded)
        self.linked_jid = self.instance.jid

    async def _append(self, *events: DomainEvent) -> list[RecordedEvent]:
        recorded = await self.store.append(self.id, events, self.version)
        for r in recorded:
            self.instance.apply(r.event, r.timestamp_ms)
            self.version = r.version
            self.last_activity_ms = r.timestamp_ms
        return recorded

    def _set_status(self, status: str) -> None:
        if status != self.status:
            self.status = status
            self._status_changed.set()
            self._status_changed = trio.Event()

    async def wait_status(self, statuses: Sequence[str], timeout: float) -> bool:
        with trio.move_on_after(timeout):
            while self.status not in statuses:
                await self._status_changed.wait()
            return True
        return False

    # ---- connection loop ----------------------------------------------------------------

    def _wants_connection(self) -> bool:
        return not self.instance.deleted and self.status not in ("logged_out", "failed", "disconnected")

    async def _connection_loop(self) -> None:
        if self.status == "disconnected" and self.instance.linked:
            self._set_status("connecting")  # was dropped when the server stopped: come back by itself
        backoff = self.settings.backoff_initial_s
        while True:
            if not self._wants_connection():
                await self._wake.wait()
                self._wake = trio.Event()
                backoff = self.settings.backoff_initial_s
                continue
            outcome = await self._connect_once()
            if self._failures == 0:
                backoff = self.settings.backoff_initial_s  # that attempt got through: a new drop starts over
            async with self._lock:
                outcome = self._outcome or outcome  # a /reconnect or /logout since the end wins over it
                will_reconnect = await self._record_outcome(outcome)
            if outcome.reason == "reconnect_requested":
                backoff = self.settings.backoff_initial_s
                self._wake = trio.Event()
                continue
            if not will_reconnect:
                continue
            delay = min(backoff, self.settings.backoff_max_s) * random.uniform(0.8, 1.2)
            backoff = min(backoff * 2, self.settings.backoff_max_s)
            self.reconnecting = True
            with trio.move_on_after(delay):
                await self._wake.wait()  # a /reconnect cuts the wait short
            self.reconnecting = False
            self._wake = trio.Event()
            if self.status == "disconnected":
                self._set_status("connecting")

    async def _connect_once(self) -> ConnectionLost:
        self._outcome = None
        self._qr_attempt = 0
        self.qr_code = None
        if self.status not in ("connecting",):
            self._set_status("connecting")
        with trio.CancelScope() as scope:
            self._connection = scope
            failure: TransportError | None = None
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._liveness)
                try:
                    await self.session.connect(self._on_transport)
                except TransportError as exc:  # caught here: a nursery would wrap it in an ExceptionGroup
                    failure = exc
                nursery.cancel_scope.cancel()
            if failure is not None:
                self._outcome = self._outcome or ConnectionLost(
                    reason=failure.code if failure.code != "transport_error" else str(failure) or "connect_failed",
                    permanent=not failure.retryable,
                )
                self._failures += 1
        self._connection = None
        self.qr_code = None
        return self._outcome or ConnectionLost(reason="connection_closed")

    async def _record_outcome(self, outcome: ConnectionLost) -> bool:
        """Append what the end of a connection means; True when the loop should reconnect by itself."""
        if self.instance.deleted or outcome.reason == "stopped":
            return False
        if outcome.reason == "reconnect_requested":
            return False
        if outcome.logged_out:
            if self.status != "logged_out":
                await self._append(LoggedOut(instance_id=self.id, reason=outcome.reason))
            self._set_status("logged_out")
            return False
        if outcome.reason == "qr_timeout" or outcome.permanent:
            await self._append(Disconnected(instance_id=self.id, reason=outcome.reason, will_reconnect=False))
            self._set_status("disconnected")
            return False
        if self._failures >= self.settings.max_connect_failures and not self.instance.linked:
            # A linked device keeps trying (at the back-off cap) through long outages; an instance
            # that never got as far as a QR code gives up and waits for /reconnect.
            await self._append(
                InstanceFailed(
                    instance_id=self.id, reason=f"{self._failures} connection attempts failed: {outcome.reason}"
                )
            )
            self._set_status("failed")
            return False
        await self._append(Disconnected(instance_id=self.id, reason=outcome.reason, will_reconnect=True))
        self._set_status("disconnected")
        return True

    def _end_connection(self, outcome: ConnectionLost) -> None:
        self._outcome = outcome
        self.qr_code = None  # at once: /qr must not hand out the dead connection's code
        if self._connection is not None:
            self._connection.cancel()

    async def _liveness(self) -> None:
        misses = 0
        while True:
            await trio.sleep(self.settings.liveness_interval_s)
            if self.status != "connected":
                misses = 0
                continue
            alive = False
            with trio.move_on_after(self.settings.liveness_timeout_s):
                alive = await self.session.ping()
            misses = 0 if alive else misses + 1
            if misses >= 2:
                self._end_connection(ConnectionLost(reason="unresponsive"))
                return

    async def _on_transport(self, event: TransportEvent) -> None:
        async with self._lock:
            await self._handle_transport(event)

    async def _handle_transport(self, event: TransportEvent) -> None:
        if isinstance(event, QrCode):
            if self.status == "connected":
                return
            self._qr_attempt += 1
            if self._qr_attempt > self.settings.qr_max_attempts:
                self._end_connection(ConnectionLost(reason="qr_timeout"))
                return
            await self._append(QrReceived(instance_id=self.id, qr_code=event.code, attempt=self._qr_attempt))
            self.qr_code = event.code
            self._set_status("qr")
        elif isinstance(event, PairSuccess):
            self.linked_jid = event.jid
        elif isinstance(event, LinkConnected):
            self.qr_code = None
            self._failures = 0
            jid = event.jid or self.linked_jid or self.instance.jid
            await self._append(Connected(instance_id=self.id, jid=jid, push_name=event.push_name))
            self._set_status("connected")
        elif isinstance(event, ConnectionLost):
            self._outcome = event
        elif isinstance(event, IncomingMessage):
            await self._append(self._received(event))
        elif isinstance(event, Receipt):
            await self._append(
                *(
                    MessageStatusChanged(
                        instance_id=self.id,
                        message_id=mid,
                        status=event.status,
                        chat_jid=event.chat_jid,
                        from_me=True,
                    )
                    for mid in event.message_ids
                )
            )
        elif isinstance(event, ContactUpdate):
            await self._append(
                ContactSaved(
                    instance_id=self.id,
                    jid=event.jid,
                    number=jid_number(event.jid),
                    name=event.name,
                    push_name=event.push_name,
                    is_group=is_group(event.jid),
                )
            )

    def _received(self, m: IncomingMessage) -> MessageReceived:
        media_path = None
        size = 0
        mime = m.mime_type
        file_name = m.file_name
        if m.media is not None:
            media_path = self.media.save(
                self.id, m.media.data, m.media.mime_type or mime, m.media.file_name or file_name
            )
            size = len(m.media.data)
            mime = m.media.mime_type or mime
            file_name = m.media.file_name or file_name
        file_name = safe_file_name(file_name)  # the sender chose it: no paths, controls or endless names
        return MessageReceived(
            instance_id=self.id,
            message_id=m.message_id,
            chat_jid=m.chat_jid,
            sender_jid=m.sender_jid,
            message_type=m.message_type,
            body=m.body,
            push_name=m.push_name,
            is_group=m.is_group,
            from_me=m.from_me,
            sent_at=m.timestamp,
            caption=m.caption,
            mime_type=mime,
            file_name=file_name,
            media_size=size,
            media_path=media_path,
            extra=dict(m.extra),
        )

    # ---- commands (run through `ask`) ----------------------------------------------------

    async def update(self, body: dict[str, Any]) -> Instance:
        async with self._lock:
            await self._append(*self.instance.update(body))
        return self.instance

    async def delete(self) -> None:
        async with self._lock:
            await self._append(*self.instance.delete())
        self.stopping = True
        self._end_connection(ConnectionLost(reason="stopped"))
        self._wake.set()
        raise Stopped

    async def reconnect(self) -> None:
        async with self._lock:
            self._failures = 0
            await self._append(ReconnectRequested(instance_id=self.id))
            # Unconditionally: a connection that ended but is not recorded yet (e.g. after a logout) is stale too.
            self._end_connection(ConnectionLost(reason="reconnect_requested"))
            self._set_status("connecting")
            self._wake.set()

    async def logout(self) -> None:
        async with self._lock:
            if self.status == "connected":
                try:
                    with trio.fail_after(self.settings.send_timeout_s):
                        await self.session.logout()
                except (TransportError, trio.TooSlowError):
                    pass  # unlinking locally below is what the user asked for
            await self._append(LoggedOut(instance_id=self.id, reason="logout"))
            self._set_status("logged_out")
            self._end_connection(ConnectionLost(reason="logout", logged_out=True))
            self.linked_jid = None

    async def pair(self, phone_digits: str) -> str:
        if self.status == "connected":
            raise Conflict("instance is already connected")
        if not self._wants_connection():
            await self.reconnect()
        if not await self.wait_status(("qr",), 30.0):
            raise Unavailable("the WhatsApp connection is not ready for pairing yet; try again")
        try:
            code = await self.session.pair_phone(phone_digits)
        except TransportError as exc:
            raise TransportFailed(f"pairing failed: {exc}") from exc
        async with self._lock:
            await self._append(PairingCodeRequested(instance_id=self.id, phone=phone_digits))
        return code

    async def send(
        self, message: OutgoingMessage, *, media_path: str | None = None, idempotency_key: str | None = None
    ) -> str:
        """Send in mailbox order (with the instance's pacing); returns WhatsApp's message id.

        The id is returned only after `message_sent` is committed. A repeated `idempotency_key`
        (within 24 h) returns the first message's id without sending again.
        """
        if idempotency_key is not None:
            seen = self._idempotency.get(idempotency_key)
            if seen is not None and self.clock.now_ms() - seen[1] < IDEMPOTENCY_TTL_MS:
                return seen[0]
        if self.status != "connected":
            raise InstanceNotConnected(f"instance is not connected (status {self.status})")
        interval = int(self.instance.settings.get("sendIntervalMs", 0) or 0)
        wait_ms = self._next_send_ms - self.clock.now_ms()
        if interval and wait_ms > 0:
            await trio.sleep(wait_ms / 1000)
        base: dict[str, Any] = {
            "instance_id": self.id,
            "to": message.to,
            "message_type": message.kind,
            "body": message.text,
        }
        try:
            with trio.fail_after(self.settings.send_timeout_s):
                message_id = await self.session.send(message)
        except (TransportError, trio.TooSlowError) as exc:
            reason = "timeout" if isinstance(exc, trio.TooSlowError) else str(exc) or exc.code
            async with self._lock:
                await self._append(
                    MessageFailed(message_id=f"failed-{self.clock.now_ms()}-{self.version}", reason=reason, **base)
                )
            if isinstance(exc, TransportError) and not exc.retryable:
                raise TransportFailed(f"WhatsApp refused the message: {reason}") from exc
            raise Unavailable(f"WhatsApp did not accept the message: {reason}") from exc
        finally:
            self._next_send_ms = self.clock.now_ms() + interval
        async with self._lock:
            (recorded,) = await self._append(
                MessageSent(
                    message_id=message_id,
                    caption=message.caption,
                    mime_type=message.mime_type,
                    file_name=message.file_name,
                    media_size=len(message.data or b""),
                    media_path=media_path,
                    idempotency_key=idempotency_key,
                    **base,
                )
            )
        if idempotency_key is not None:
            self._remember_idempotency(idempotency_key, message_id, recorded.timestamp_ms)
        return message_id

    def _remember_idempotency(self, key: str, message_id: str, ts: int) -> None:
        self._idempotency[key] = (message_id, ts)
        if len(self._idempotency) > 10_000:  # keep memory bounded: drop what is past the 24 h window
            cutoff = ts - IDEMPOTENCY_TTL_MS
            self._idempotency = {k: v for k, v in self._idempotency.items() if v[1] >= cutoff}

    async def contacts(self) -> list[RemoteContact]:
        if self.status != "connected":
            raise InstanceNotConnected(f"instance is not connected (status {self.status})")
        try:
            return await self.session.contacts()
        except TransportError as exc:
            raise TransportFailed(f"could not read contacts: {exc}") from exc

    async def record(self, *events: DomainEvent) -> list[RecordedEvent]:
        """Append facts decided outside (contacts saved, usage, limits) in mailbox order."""
        async with self._lock:
            return await self._append(*events)

    async def mark_failed(self, reason: str, restarts: int) -> None:
        """Called by the supervisor (not through the mailbox) when it gives up on this actor."""
        self._set_status("failed")
        if not self.instance.deleted:
            await self._append(InstanceFailed(instance_id=self.id, reason=reason, restarts=restarts))
