"""Use cases that act on messages and chats in WhatsApp: read receipts, reactions, edits, deletes for
everyone, presence (typing, online) and which numbers have WhatsApp (API-2 §1, §2).
"""

from __future__ import annotations

from collections.abc import Sequence

from wamux.core import commands as c
from wamux.core.ports import NumberCheck, UnreadLookup
from wamux.core.supervisor import Supervisor
from wamux.core.usecases.access import owned
from wamux.core.usecases.messaging import MessagingUseCases, ref_of
from wamux.domain.catalog import ACCOUNT_PRESENCE_STATES, CHAT_PRESENCE_STATES
from wamux.domain.clock import Clock
from wamux.domain.errors import ValidationFailed
from wamux.domain.messages import MAX_CHECK_PHONES, check_editable, check_reactable, check_revocable
from wamux.domain.phones import jid_number, to_jid
from wamux.domain.users import User


class ChatActionUseCases:
    def __init__(self, registry: Supervisor, unread: UnreadLookup, messaging: MessagingUseCases, clock: Clock) -> None:
        self.registry = registry
        self.unread = unread
        self.messaging = messaging
        self.clock = clock

    async def mark_read(self, caller: User, instance_id: str, chat_jid: str) -> int:
        """Read receipts for the chat's unread incoming messages, then its unread count is zero; answers how many."""
        actor = owned(self.registry, caller, instance_id)
        unread = await self.unread.unread_incoming(actor.id, chat_jid)
        pairs = tuple((str(m["messageId"]), str(m.get("sender") or chat_jid)) for m in unread)
        if pairs and actor.status != "connected":
            pairs = ()  # offline: the count is zeroed locally, as before; receipts need a connection
        await actor.execute(c.MarkChatRead(chat_jid, pairs))
        return len(pairs)

    async def react(self, caller: User, instance_id: str, message_id: str, emoji: str) -> str:
        actor = owned(self.registry, caller, instance_id)
        doc = await self.messaging.message(actor, message_id)
        check_reactable(doc)
        return await actor.execute(c.React(ref_of(doc), emoji))

    async def edit(self, caller: User, instance_id: str, message_id: str, text: str) -> str:
        actor = owned(self.registry, caller, instance_id)
        doc = await self.messaging.message(actor, message_id)
        check_editable(doc, self.clock.now_ms())
        return await actor.execute(c.Edit(ref_of(doc), text))

    async def revoke(self, caller: User, instance_id: str, message_id: str) -> str:
        actor = owned(self.registry, caller, instance_id)
        doc = await self.messaging.message(actor, message_id)
        check_revocable(doc, group_admin=False)  # group admin rights come with the groups read model
        return await actor.execute(c.Revoke(ref_of(doc)))

    async def set_presence(self, caller: User, instance_id: str, state: str, phone: str | None) -> None:
        actor = owned(self.registry, caller, instance_id)
        if phone:
            if state not in CHAT_PRESENCE_STATES:
                raise ValidationFailed(
                    "with a phone, state is typing, recording or paused", details={"state": "invalid"}
                )
            await actor.execute(c.SetPresence(state, to_jid(phone)))
            return
        if state not in ACCOUNT_PRESENCE_STATES:
            raise ValidationFailed(
                "without a phone, state is available or unavailable (typing needs a phone)",
                details={"state": "invalid"},
            )
        await actor.execute(c.SetPresence(state))

    async def check(self, caller: User, instance_id: str, phones: Sequence[str]) -> list[NumberCheck]:
        actor = owned(self.registry, caller, instance_id)
        if not 1 <= len(phones) <= MAX_CHECK_PHONES:
            raise ValidationFailed(f"phones: 1 to {MAX_CHECK_PHONES} numbers", details={"phones": "count"})
        digits = []
        for phone in phones:
            jid = to_jid(phone)
            if not jid.endswith("@s.whatsapp.net"):
                raise ValidationFailed("phones must be phone numbers", details={"phones": phone})
            digits.append(jid_number(jid))
        return await actor.execute(c.CheckNumbers(tuple(digits)))
