"""One instance's WhatsApp connection: a neonize client (whatsmeow, in Go) bridged into trio.

Threads and who owns them:
- `connect()` runs neonize's blocking `client.connect()` (through `set_proxy`'s proxy, if any) in a
  worker thread of its own (a private capacity limiter, so hundreds of long-lived connections never
  starve trio's shared thread pool).
- neonize calls our handlers on threads of the Go runtime. A handler maps the event (downloads
  incoming media, decrypts a poll vote) right there, then hands the result to the `EventPipe`.
- Every other neonize call (sending, reacting, receipts, presence, pairing code, contacts, logout,
  and the account's groups, profiles, blocklist, privacy and calls) runs in a trio worker thread;
  what each one sends is built in `neonize_outbound` and `neonize_account`.

With a device store (`neonize_devices`), the device lives in PostgreSQL, not in a session file: the
client is named after the instance and pointed at its device (or a blank one) before each connect.

neonize's Go side looks the client up in a map on every call and crashes the whole process when
it is missing (before the first connect, after `stop()`). So calls into Go go through one gate:
they run only while a connection is up, and `stop()` waits for the calls in flight first.
"""

from __future__ import annotations

import ctypes
import math
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, closing
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, TypeVar

import trio

from wamux.adapters.whatsapp import neonize_mapping as mapping
from wamux.adapters.whatsapp import neonize_messages as messages
from wamux.adapters.whatsapp import neonize_outbound as outbound
from wamux.adapters.whatsapp.neonize_account_calls import NeonizeAccountCalls
from wamux.adapters.whatsapp.neonize_devices import DeviceStore, InstanceDevice
from wamux.adapters.whatsapp.neonize_jids import account_jid
from wamux.adapters.whatsapp.neonize_pipe import EventPipe, dial, feed
from wamux.core.ports import (
    ConnectionLost,
    Emit,
    IncomingMessage,
    LinkConnected,
    MediaPayload,
    MessageRef,
    NotLinked,
    NumberCheck,
    OutgoingMessage,
    PollVoteIn,
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


def _new_neonize_client(name: str, **options: Any) -> NewClient:
    from neonize.client import NewClient

    return NewClient(name, **options)


class NeonizeSession(NeonizeAccountCalls):
    """One instance's WhatsApp connection through a neonize client, stored in `<dir>/session.db` or a `device_store`.

    `new_client` is neonize's `NewClient` (given the session file's path, or the store's DSN with `uuid=` and
    `new_device=`); groups, profiles, the blocklist, privacy and calls are `NeonizeAccountCalls`.
    """

    def __init__(
        self,
        instance_id: str,
        session_dir: Path,
        new_client: Callable[..., NewClient] | None = None,
        device_store: DeviceStore | None = None,
    ) -> None:
        self.instance_id = instance_id
        self.session_dir = session_dir
        self.db_path = session_dir / SESSION_FILE
        self._new_client = new_client or _new_neonize_client
        self._device = InstanceDevice(device_store, instance_id) if device_store is not None else None
        self._client: NewClient | None = None
        self._pipe: EventPipe | None = None
        self._proxy: str | None = None  # `set_proxy`: neonize's `ProxySettings` at each connect
        # The gate around calls into Go (see the module docstring).
        self._gate = threading.Condition()
        self._connection_up = False
        self._calls_in_flight = 0

    # ---- the neonize client and its callbacks ----------------------------------------------

    def client(self) -> NewClient:
        """The instance's neonize client, created (with its directory and handlers) on first use."""
        if self._client is None:
            if self._device is not None:
                client = self._device.new_client(self._new_client)
            else:
                self.session_dir.mkdir(parents=True, exist_ok=True)
                client = self._new_client(str(self.db_path))
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
            completed = [self._completed(client, event, mapped) for mapped in mapping.transport_events(event)]
        except Exception:
            # A foreign thread: an exception here would vanish inside ctypes. Log it, keep going.
            log.exception("could not map a neonize event", instance_id=self.instance_id, kind=type(event).__name__)
            return
        for mapped in completed:
            if mapped is not None:
                self._push(mapped)

    def _completed(self, client: NewClient, event: Any, mapped: TransportEvent) -> TransportEvent | None:
        """What only the client can add: a message's media, a poll vote's choice, the linked JID."""
        if self._device is not None:
            self._device.note(client, event, mapped, self._call_go)
        if isinstance(mapped, IncomingMessage):
            return self._with_media(client, event, mapped)
        if isinstance(mapped, PollVoteIn):
            return self._with_vote(client, event, mapped)
        if isinstance(mapped, LinkConnected) and mapped.jid is None:
            identity = self.linked_identity()
            if identity is not None:
                return LinkConnected(jid=identity[0], push_name=identity[1])
        return mapped

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
        content = messages.unwrap_message(event.Message)
        kind = messages.media_kind(content)
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

    def _with_vote(self, client: NewClient, event: Any, vote: PollVoteIn) -> PollVoteIn | None:
        """Decrypt the voter's choice against the poll's secret in whatsmeow's store; None (dropped) if we cannot."""
        from neonize.exc import NeonizeError

        try:
            decrypted = self._call_go(lambda: client.decrypt_poll_vote(event))
        except (NeonizeError, TransportError) as exc:  # unknown poll, no secret stored, not connected, ...
            log.warning(
                "could not decrypt a poll vote; dropped",
                instance_id=self.instance_id,
                poll_message_id=vote.poll_message_id,
                error=str(exc) or type(exc).__name__,
            )
            return None
        return messages.with_selection(vote, decrypted)

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

    async def _act(self, failure: str, code: str, action: Callable[[NewClient], T]) -> T:
        """Run one neonize action in a worker thread, behind the gate; neonize's errors become TransportError."""
        return await trio.to_thread.run_sync(self._act_blocking, failure, code, action)

    def _act_blocking(self, failure: str, code: str, action: Callable[[NewClient], T]) -> T:
        from neonize.exc import NeonizeError

        client = self._client
        if client is None:
            raise NotLinked("the WhatsApp session is not connected", code="not_connected")
        try:
            return self._call_go(lambda: action(client))
        except NeonizeError as exc:
            raise TransportError(f"{failure}: {exc}", code=code) from exc

    # ---- WhatsAppSession: the connection -----------------------------------------------------

    @property
    def has_credentials(self) -> bool:
        """A linked device is stored in the session file (read directly: works offline, no Go call)."""
        return self.linked_identity() is not None

    def linked_identity(self) -> tuple[str, str | None] | None:
        """(account JID, push name) of the linked device in the session file (or the device store), or None."""
        if self._device is not None:
            return self._device.identity()
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
        return account_jid(str(row[0])), (str(row[1]) if row[1] else None)

    @asynccontextmanager
    async def event_pipeline(self, emit: Emit) -> AsyncIterator[NeonizeClientHandle]:
        """The event path of `connect` without the network: neonize handlers → trio → `emit`.

        While the block runs, events the client's handlers receive (from any thread) reach `emit`
        in order; on exit everything already received has been emitted.
        """
        client = self.client()
        send_channel, receive_channel = trio.open_memory_channel[TransportEvent](math.inf)
        pipe = EventPipe(send_channel, trio.lowlevel.current_trio_token())
        self._pipe = pipe
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(feed, receive_channel, emit)
                try:
                    yield NeonizeClientHandle(client, pipe)
                finally:
                    await pipe.aclose()
        finally:
            self._pipe = None

    def set_proxy(self, url: str | None) -> None:
        self._proxy = url or None

    async def connect(self, emit: Emit) -> None:
        from neonize.client import ProxySettings
        from neonize.exc import NeonizeError

        if self._pipe is not None:
            raise TransportError("this session is already connected", retryable=False, code="already_connected")
        if self._device is not None:  # which device this connect resumes, read from the database
            await trio.to_thread.run_sync(self._device.choose)
            self._device.aim(self.client())
        failure: NeonizeError | None = None
        async with self.event_pipeline(emit) as handle:
            with self._gate:
                self._connection_up = True
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._stop_when_ended, handle.pipe)
                settings = ProxySettings(proxy_address=self._proxy) if self._proxy else None
                dialled = SimpleNamespace(connect=lambda: handle.client.connect(settings))  # what `dial` connects
                try:
                    # Not abandoned on cancel: the sibling task stops the client, which ends this call.
                    await trio.to_thread.run_sync(dial, dialled, limiter=trio.CapacityLimiter(1))
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

    async def _stop_when_ended(self, pipe: EventPipe) -> None:
        """Stop the client once the connection is lost, or when `connect` is cancelled."""
        try:
            await pipe.ended.wait()
        finally:
            with trio.CancelScope(shield=True):
                # A limiter of its own: stopping must not queue behind busy worker threads.
                await trio.to_thread.run_sync(self._stop_client, limiter=trio.CapacityLimiter(1))

    async def pair_phone(self, phone: str) -> str:
        self.client()
        return str(await self._act("no pairing code", "pair_failed", lambda c: c.PairPhone(phone, True)))

    async def contacts(self) -> list[RemoteContact]:
        entries = await self._act("could not read the address book", "contacts_failed", _all_contacts)
        return [mapping.remote_contact(entry) for entry in entries]

    async def logout(self) -> None:
        await self._act("logout failed", "logout_failed", lambda c: c.logout())
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

    # ---- WhatsAppSession: messages, chats, the account -----------------------------------------

    async def send(self, message: OutgoingMessage) -> str:
        return await self._act(
            "WhatsApp did not accept the message", "send_failed", lambda c: outbound.send(c, message)
        )

    async def react(self, target: MessageRef, emoji: str) -> str:
        return await self._act(
            "WhatsApp did not accept the reaction", "send_failed", lambda c: outbound.react(c, target, emoji)
        )

    async def edit(self, target: MessageRef, text: str) -> str:
        return await self._act(
            "WhatsApp did not accept the edit", "send_failed", lambda c: outbound.edit(c, target, text)
        )

    async def revoke(self, target: MessageRef) -> str:
        return await self._act(
            "WhatsApp did not accept the delete", "send_failed", lambda c: outbound.revoke(c, target)
        )

    async def mark_read(self, chat_jid: str, sender_jid: str, message_ids: Sequence[str]) -> None:
        ids = list(message_ids)
        await self._act("no read receipt", "receipt_failed", lambda c: outbound.mark_read(c, chat_jid, sender_jid, ids))

    async def send_chat_presence(self, chat_jid: str, state: str) -> None:
        await self._act("no chat presence", "presence_failed", lambda c: outbound.chat_presence(c, chat_jid, state))

    async def send_presence(self, state: str) -> None:
        await self._act("no presence", "presence_failed", lambda c: outbound.presence(c, state))

    async def check_numbers(self, phones: Sequence[str]) -> list[NumberCheck]:
        asked = list(phones)
        return await self._act(
            "could not check the numbers", "check_failed", lambda c: outbound.check_numbers(c, asked)
        )


def _all_contacts(client: NewClient) -> Any:
    return client.contact.get_all_contacts()


class NeonizeClientHandle:
    """What `NeonizeSession.event_pipeline` yields: the neonize client and the pipe its events take."""

    def __init__(self, client: NewClient, pipe: EventPipe) -> None:
        self.client = client
        self.pipe = pipe
