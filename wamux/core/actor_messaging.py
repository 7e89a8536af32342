"""The actor's messaging commands: send (idempotency, limits, pacing), read receipts, reactions,
edits, revokes, presence and number checks. Each runs in the actor's turn and appends what happened.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, TypeVar

import trio

from wamux.core import commands as c
from wamux.core.actor_base import ActorBase
from wamux.core.inbound import rich_content
from wamux.core.ports import MessageRef, NumberCheck, OutgoingMessage, TransportError
from wamux.domain.errors import InstanceNotConnected, LimitExceeded, TransportFailed, Unavailable
from wamux.domain.events import (
    ChatRead,
    MessageEdited,
    MessageFailed,
    MessageReaction,
    MessageRevoked,
    MessageSent,
)
from wamux.domain.events import LimitExceeded as LimitExceededEvent

T = TypeVar("T")
IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000


def content_fields(message: OutgoingMessage) -> dict[str, Any]:
    """What a rich message adds to `message_sent` (quote, mentions, forward, location, cards, poll)."""
    return {
        "quoted_message_id": message.quoted.message_id if message.quoted else None,
        "mentions": list(message.mentions),
        "forwarded": message.forwarded,
        "ptt": message.kind == "voice",
        **rich_content(message.location, message.contacts, message.poll),
    }


class MessagingHandlers(ActorBase):
    """Messaging commands of the instance actor (registered in `InstanceActor.HANDLERS`)."""

    def _own(self, target: MessageRef) -> MessageRef:
        """The target with our own JID as its sender when it is ours (history stores no sender for sends)."""
        if target.from_me and not target.sender_jid:
            return MessageRef(
                target.message_id, target.chat_jid, self.instance.jid or "", True, target.body, target.message_type
            )
        return target

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
        if message.quoted is not None:
            message = replace(message, quoted=self._own(message.quoted))  # a reply to our own message quotes us
        interval = int(self.instance.settings.get("sendIntervalMs", 0) or 0)
        wait_ms = self._next_send_ms - self.clock.now_ms()
        if interval and wait_ms > 0:
            await trio.sleep(wait_ms / 1000)
        base: dict[str, Any] = {"instance_id": self.id, "message_type": message.kind, "body": message.text}
        try:
            with trio.fail_after(self.settings.send_timeout_s):
                message_id = await self.session.send(message)  # to the JID as asked: a LID goes as a LID
        except (TransportError, trio.TooSlowError) as exc:
            reason = "timeout" if isinstance(exc, trio.TooSlowError) else str(exc) or exc.code
            base.update(await self._recipient(message.to))
            async with self._lock:
                await self._append(
                    MessageFailed(message_id=f"failed-{self.clock.now_ms()}-{self.version}", reason=reason, **base)
                )
            if isinstance(exc, TransportError) and not exc.retryable:
                raise TransportFailed(f"WhatsApp refused the message: {reason}") from exc
            raise Unavailable(f"WhatsApp did not accept the message: {reason}") from exc
        finally:
            self._next_send_ms = self.clock.now_ms() + interval
        # After the send: the network may have named the person behind a LID meanwhile (an `IdentityIn`).
        base.update(await self._recipient(message.to))
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
                    **content_fields(message),
                    **base,
                )
            )
        if key is not None:
            self._remember_idempotency(key, message_id, recorded.timestamp_ms)
        return c.SendOutcome(message_id)

    async def _recipient(self, to: str) -> dict[str, Any]:
        """`to` and `to_lid` of a send: the phone JID when known, and the LID (API-2 §5)."""
        shown, lid = await self._people.resolve(to)
        return {"to": shown, "to_lid": lid}

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
        """Read receipts to WhatsApp for the unread incoming messages (one call per sender), then `chat_read`."""
        sent: list[str] = []
        if cmd.unread:
            self._connected()
            by_sender: dict[str, list[str]] = {}
            for message_id, sender in cmd.unread:
                by_sender.setdefault(sender or cmd.chat_jid, []).append(message_id)
            for sender, ids in by_sender.items():
                await self._on_wire(self.session.mark_read(cmd.chat_jid, sender, ids), "read receipts")
                sent += ids
        async with self._lock:
            await self._append(ChatRead(instance_id=self.id, chat_jid=cmd.chat_jid, message_ids=sent))

    async def _react(self, cmd: c.React) -> str:
        self._connected()
        target = self._own(cmd.target)
        reaction_id = await self._on_wire(self.session.react(target, cmd.emoji), "reaction")
        who = await self._acting(target, self.instance.jid or "")
        async with self._lock:
            await self._append(
                MessageReaction(
                    message_id=target.message_id, emoji=cmd.emoji, from_me=True, reaction_id=reaction_id, **who
                )
            )
        return reaction_id

    async def _edit(self, cmd: c.Edit) -> str:
        self._connected()
        target = self._own(cmd.target)
        edit_id = await self._on_wire(self.session.edit(target, cmd.text), "edit")
        who = await self._acting(target, target.sender_jid)
        async with self._lock:
            await self._append(MessageEdited(message_id=target.message_id, body=cmd.text, from_me=True, **who))
        return edit_id

    async def _revoke(self, cmd: c.Revoke) -> str:
        self._connected()
        target = self._own(cmd.target)
        revoke_id = await self._on_wire(self.session.revoke(target), "deletion")
        who = await self._acting(target, target.sender_jid)
        async with self._lock:
            await self._append(MessageRevoked(message_id=target.message_id, from_me=target.from_me, **who))
        return revoke_id

    async def _acting(self, target: MessageRef, sender: str) -> dict[str, Any]:
        """Who acts on `target` and in which chat, each with their LID, as a reaction/edit/revoke records them."""
        chat, chat_lid = await self._people.resolve(target.chat_jid)
        shown, from_lid = await self._people.resolve(sender)
        return {
            "instance_id": self.id,
            "chat_jid": chat,
            "sender_jid": shown,
            "from_lid": from_lid,
            "chat_lid": chat_lid,
        }

    async def _set_presence(self, cmd: c.SetPresence) -> None:
        self._connected()
        if cmd.chat_jid is None:
            await self._on_wire(self.session.send_presence(cmd.state), "presence")
        else:
            await self._on_wire(self.session.send_chat_presence(cmd.chat_jid, cmd.state), "presence")

    async def _check_numbers(self, cmd: c.CheckNumbers) -> list[NumberCheck]:
        self._connected()
        return await self._on_wire(self.session.check_numbers(list(cmd.phones)), "number check")

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
