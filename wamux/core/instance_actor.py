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
from wamux.core.actor_account import AccountHandlers
from wamux.core.actor_base import ActorDeps, ActorSettings
from wamux.core.actor_messaging import MessagingHandlers
from wamux.core.connection_loop import ConnectionLoop
from wamux.core.inbound import InboundEvents
from wamux.core.ports import ConnectionLost, EventStore, MediaStore, RemoteContact, TransportError, WhatsAppSession
from wamux.domain.clock import Clock
from wamux.domain.errors import (
    Conflict,
    DomainError,
    InstanceNotConnected,
    NotFound,
    TransportFailed,
    Unavailable,
)
from wamux.domain.events import (
    ApiCallsRecorded,
    ContactsImported,
    InstanceFailed,
    LoggedOut,
    PairingCodeRequested,
    ReconnectRequested,
    WebhookTargetUpdated,
)
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


class InstanceActor(MessagingHandlers, AccountHandlers, InboundEvents, ConnectionLoop):
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
        self.HANDLERS: dict[type[c.Command[Any]], Callable[[Any], Awaitable[Any]]] = {
            c.Update: self._update,
            c.Delete: self._delete,
            c.Reconnect: self._reconnect,
            c.Logout: self._logout,
            c.Pair: self._pair,
            c.AddWebhookTarget: self._add_webhook_target,
            c.UpdateWebhookTarget: self._update_webhook_target,
            c.RemoveWebhookTarget: self._remove_webhook_target,
            c.Send: self._send,
            c.MarkChatRead: self._mark_chat_read,
            c.React: self._react,
            c.Edit: self._edit,
            c.Revoke: self._revoke,
            c.SetPresence: self._set_presence,
            c.CheckNumbers: self._check_numbers,
            c.SyncGroups: self._sync_groups,
            c.FetchGroup: self._fetch_group,
            c.CreateGroup: self._create_group,
            c.UpdateGroup: self._update_group,
            c.SetGroupPicture: self._set_group_picture,
            c.UpdateParticipants: self._update_participants,
            c.GroupInvite: self._group_invite,
            c.JoinGroup: self._join_group,
            c.LeaveGroup: self._leave_group,
            c.FetchProfile: self._fetch_profile,
            c.FetchOwnProfile: self._fetch_own_profile,
            c.SetProfile: self._set_profile,
            c.SetProfilePicture: self._set_profile_picture,
            c.SetBlocked: self._set_blocked,
            c.FetchBlocklist: self._fetch_blocklist,
            c.FetchPrivacy: self._fetch_privacy,
            c.SetPrivacy: self._set_privacy,
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
                        self.fail_pending(NotFound("instance not found"))  # queued behind the delete
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
            self._groups_synced = None  # a new link (maybe another account) records its groups afresh
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

    async def _add_webhook_target(self, cmd: c.AddWebhookTarget) -> dict[str, Any]:
        async with self._lock:
            await self._append(*self.instance.add_target(cmd.webhook_id, dict(cmd.body), self.clock.now_ms()))
        return dict(self.instance.webhook_targets[cmd.webhook_id])

    async def _update_webhook_target(self, cmd: c.UpdateWebhookTarget) -> list[str]:
        async with self._lock:
            events = self.instance.update_target(cmd.webhook_id, dict(cmd.changes))
            await self._append(*events)
        return [name for e in events if isinstance(e, WebhookTargetUpdated) for name in e.changed]

    async def _remove_webhook_target(self, cmd: c.RemoveWebhookTarget) -> None:
        async with self._lock:
            await self._append(*self.instance.remove_target(cmd.webhook_id))

    async def delete_stopped(self) -> None:
        """Record the deletion of an actor whose task ended (failed): nobody else writes its stream then."""
        assert not self.running
        await self._append(*self.instance.delete())

    async def mark_failed(self, reason: str, restarts: int) -> None:
        """Called by the supervisor (its task ended, not through the mailbox) when it gives up on this actor."""
        self._set_status("failed")
        if not self.instance.deleted:
            await self._append(InstanceFailed(instance_id=self.id, reason=reason, restarts=restarts))

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

    async def _record_api_calls(self, cmd: c.RecordApiCalls) -> None:
        async with self._lock:
            await self._append(ApiCallsRecorded(instance_id=self.id, count=cmd.count))
