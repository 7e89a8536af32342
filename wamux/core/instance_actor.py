"""One WhatsApp instance as a trio actor: typed commands through a mailbox, one writer of its stream.

Commands (`wamux.core.commands`) come through `execute` and run one at a time in arrival order,
each by the handler `HANDLERS` names (which also serializes sends and their pacing). Transport
events are handled under the same lock, so the stream version is always exact. A command marked
`beside_mailbox` (pairing, which waits for the connection) runs in the actor's nursery instead,
so it does not hold up the commands queued after it.

Only the actor appends to its instance's stream, with one exception: the stream's first event,
`instance_created`, is written by the supervisor before there is an actor (`Supervisor.create`).
The connection state machine lives in `wamux.core.connection_loop`, the wire's events in
`wamux.core.inbound`.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import trio

from wamux.core import commands as c
from wamux.core.actor_base import ActorDeps, ActorSettings
from wamux.core.connection_loop import ConnectionLoop
from wamux.core.inbound import InboundEvents
from wamux.core.ports import ConnectionLost, EventStore, MediaStore, RemoteContact, TransportError, WhatsAppSession
from wamux.domain.clock import Clock
from wamux.domain.errors import (
    Conflict,
    DomainError,
    InstanceNotConnected,
    LimitExceeded,
    TransportFailed,
    Unavailable,
)
from wamux.domain.events import (
    ApiCallsRecorded,
    ChatRead,
    ContactsImported,
    InstanceFailed,
    LoggedOut,
    MessageFailed,
    MessageSent,
    PairingCodeRequested,
    ReconnectRequested,
)
from wamux.domain.events import LimitExceeded as LimitExceededEvent
from wamux.domain.instances import Instance

__all__ = ["ActorDeps", "ActorSettings", "InstanceActor", "InstanceFailedError"]

R = TypeVar("R")
IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000


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


class InstanceActor(InboundEvents, ConnectionLoop):
    """Owns one instance: its stream, its WhatsApp session and its connection state."""

    def __init__(
        self,
        instance_id: str,
        store: EventStore,
        session: WhatsAppSession,
        clock: Clock,
        media: MediaStore,
        settings: ActorSettings | None = None,
        deps: ActorDeps | None = None,
    ) -> None:
        super().__init__(instance_id, store, session, clock, media, settings, deps)
        self._mailbox_send, self._mailbox = trio.open_memory_channel[tuple[c.Command[Any], _Reply]](math.inf)
        self._nursery: trio.Nursery | None = None
        self._next_send_ms = 0
        self._idempotency: dict[str, tuple[str, int]] = {}  # key -> (message id, sent at ms), this process
        self.limit_notified: set[str] = set()  # limit periods already announced with limit_exceeded
        self.HANDLERS: dict[type[c.Command[Any]], Callable[[Any], Awaitable[Any]]] = {
            c.Update: self._update,
            c.Delete: self._delete,
            c.Reconnect: self._reconnect,
            c.Logout: self._logout,
            c.Pair: self._pair,
            c.Send: self._send,
            c.MarkChatRead: self._mark_chat_read,
            c.FetchContacts: self._fetch_contacts,
            c.SaveContact: self._save_contact,
            c.ImportContacts: self._import_contacts,
            c.CheckLimits: self._check_call_limits,
            c.RecordApiCalls: self._record_api_calls,
        }

    # ---- mailbox -------------------------------------------------------------------------

    async def execute(self, command: c.Command[R]) -> R:
        """Run `command` inside the actor, after every command queued before it; answers its result."""
        if self.stopping:
            if self.status == "failed":
                raise InstanceFailedError(
                    "instance failed and was stopped; POST /api/instances/{id}/reconnect restarts it",
                    details={"status": "failed"},
                )
            raise Unavailable("instance is shutting down")
        reply = _Reply(trio.Event())
        self._mailbox_send.send_nowait((command, reply))
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
                self._nursery = nursery
                nursery.start_soon(self._connection_loop)
                task_status.started()
                async for command, reply in self._mailbox:
                    if command.beside_mailbox:
                        nursery.start_soon(self._run_beside, command, reply)
                        continue
                    try:
                        reply.value = await self.HANDLERS[type(command)](command)
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
            self._nursery = None

    async def _run_beside(self, command: c.Command[Any], reply: _Reply) -> None:
        reply.error = Unavailable("instance stopped before it answered")  # if cancelled with the actor
        try:
            reply.value = await self.HANDLERS[type(command)](command)
            reply.error = None
        except (DomainError, TransportError) as exc:
            reply.error = exc
        finally:
            reply.done.set()

    def fail_pending(self, error: DomainError) -> None:
        """Answer every queued command with `error` (the supervisor gave up on this actor)."""
        while True:
            try:
                _command, reply = self._mailbox.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                return
            reply.error = error
            reply.done.set()

    # ---- lifecycle commands ----------------------------------------------------------------

    async def _update(self, cmd: c.Update) -> Instance:
        async with self._lock:
            await self._append(*self.instance.update(dict(cmd.changes)))
        return self.instance

    async def _delete(self, _cmd: c.Delete) -> None:
        async with self._lock:
            await self._append(*self.instance.delete())
        self.stopping = True
        self._end_connection(ConnectionLost(reason="stopped"))
        self._wake.set()
        raise Stopped

    async def _reconnect(self, _cmd: c.Reconnect) -> None:
        async with self._lock:
            self._failures = 0
            await self._append(ReconnectRequested(instance_id=self.id))
            # Unconditionally: a connection that ended but is not recorded yet (e.g. after a logout) is stale too.
            self._end_connection(ConnectionLost(reason="reconnect_requested"))
            self._set_status("connecting")
            self._wake.set()

    async def _logout(self, _cmd: c.Logout) -> None:
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

    async def _pair(self, cmd: c.Pair) -> str:
        """Beside the mailbox: waits (bounded) for the connection to offer a QR code, then asks for a code."""
        if self.status == "connected":
            raise Conflict("instance is already connected")
        if not self._wants_connection():
            await self._reconnect(c.Reconnect())
        if not await self.wait_status(("qr",), self.settings.pair_wait_s):
            raise Unavailable("the WhatsApp connection is not ready for pairing yet; try again")
        try:
            code = await self.session.pair_phone(cmd.phone)
        except TransportError as exc:
            raise TransportFailed(f"pairing failed: {exc}") from exc
        async with self._lock:
            await self._append(PairingCodeRequested(instance_id=self.id, phone=cmd.phone))
        return code

    async def delete_stopped(self) -> None:
        """Record the deletion of an actor whose task ended (failed): nobody else writes its stream then."""
        assert not self.running
        await self._append(*self.instance.delete())

    async def mark_failed(self, reason: str, restarts: int) -> None:
        """Called by the supervisor (its task ended, not through the mailbox) when it gives up on this actor."""
        self._set_status("failed")
        if not self.instance.deleted:
            await self._append(InstanceFailed(instance_id=self.id, reason=reason, restarts=restarts))

    # ---- messaging -------------------------------------------------------------------------

    async def _send(self, cmd: c.Send) -> c.SendOutcome:
        """Send with the instance's pacing; the id is answered only after `message_sent` is committed.

        Idempotency is decided here, once: a key seen in the last 24 h (in this process, or in the
        history after a restart) answers the first message's id without sending again.
        """
        key = cmd.idempotency_key
        if key is not None:
            seen = await self._sent_with_key(key)
            if seen is not None:
                return c.SendOutcome(seen, replayed=True)
        if cmd.enforce_limits:
            await self._enforce_limits(sending=True)
        if self.status != "connected":
            raise InstanceNotConnected(f"instance is not connected (status {self.status})")
        message = cmd.message
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
                    media_path=cmd.media_path,
                    idempotency_key=key,
                    **base,
                )
            )
        if key is not None:
            self._remember_idempotency(key, message_id, recorded.timestamp_ms)
        return c.SendOutcome(message_id)

    async def _sent_with_key(self, key: str) -> str | None:
        now = self.clock.now_ms()
        seen = self._idempotency.get(key)
        if seen is None and self.deps.sent is not None:
            seen = await self.deps.sent.sent_with_key(self.id, key)  # sent before a restart
        if seen is not None and now - seen[1] < IDEMPOTENCY_TTL_MS:
            return seen[0]
        return None

    def _remember_idempotency(self, key: str, message_id: str, ts: int) -> None:
        self._idempotency[key] = (message_id, ts)
        if len(self._idempotency) > 10_000:  # keep memory bounded: drop what is past the 24 h window
            cutoff = ts - IDEMPOTENCY_TTL_MS
            self._idempotency = {k: v for k, v in self._idempotency.items() if v[1] >= cutoff}

    async def _mark_chat_read(self, cmd: c.MarkChatRead) -> None:
        async with self._lock:
            await self._append(ChatRead(instance_id=self.id, chat_jid=cmd.chat_jid))

    # ---- contacts --------------------------------------------------------------------------

    async def _fetch_contacts(self, _cmd: c.FetchContacts | c.ImportContacts) -> list[RemoteContact]:
        if self.status != "connected":
            raise InstanceNotConnected(f"instance is not connected (status {self.status})")
        try:
            return await self.session.contacts()
        except TransportError as exc:
            raise TransportFailed(f"could not read contacts: {exc}") from exc

    async def _save_contact(self, cmd: c.SaveContact) -> None:
        if cmd.contact.instance_id != self.id:
            raise ValueError("a contact of another instance")
        async with self._lock:
            await self._append(cmd.contact)

    async def _import_contacts(self, cmd: c.ImportContacts) -> int:
        contacts = await self._fetch_contacts(cmd)
        event = ContactsImported(
            instance_id=self.id,
            contacts=[
                {"jid": x.jid, "name": x.name, "push_name": x.push_name, "is_group": x.is_group} for x in contacts
            ],
        )
        async with self._lock:
            await self._append(event)
        return len(contacts)

    # ---- usage -----------------------------------------------------------------------------

    async def _check_call_limits(self, _cmd: c.CheckLimits) -> None:
        await self._enforce_limits(sending=False)

    async def _enforce_limits(self, *, sending: bool) -> None:
        """Raise LimitExceeded when over a limit; `limit_exceeded` is recorded once per period."""
        gate = self.deps.limits
        if gate is None:
            return
        reached = await gate.check(self.id, self.instance.limits, sending=sending)
        if reached is None:
            return
        key = reached.period_key
        if key not in self.limit_notified and not await gate.announced(self.id, key):
            self.limit_notified.add(key)
            async with self._lock:
                await self._append(
                    LimitExceededEvent(
                        instance_id=self.id,
                        exceeded_limits=list(reached.exceeded),
                        usage=reached.usage.as_json(),
                        limits=dict(reached.limits),
                        period_key=key,
                    )
                )
        raise LimitExceeded(
            "usage limit reached for this period",
            details={
                "exceededLimits": list(reached.exceeded),
                "usage": reached.usage.as_json(),
                "limits": dict(reached.limits),
                "period": key,
            },
        )

    async def _record_api_calls(self, cmd: c.RecordApiCalls) -> None:
        async with self._lock:
            await self._append(ApiCallsRecorded(instance_id=self.id, count=cmd.count))
