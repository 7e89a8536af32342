"""What the instance actor reads back from the read models, through the queries (`SentLookup`, `UsageReader`,
`IdentityLookup`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from wamux.core.queries import ReadQueries
from wamux.projections.stats import summed


class ActorReads:
    """Earlier sends (idempotency after a restart), history (targets of reactions, edits, votes), usage (limits)
    and the LID ⇄ phone pairs recorded before this process (who a message names)."""

    def __init__(self, queries: ReadQueries) -> None:
        self.queries = queries

    async def sent_with_key(self, instance_id: str, key: str) -> tuple[str, int] | None:
        doc = await self.queries.message_by_idempotency_key(instance_id, key)
        return None if doc is None else (str(doc["messageId"]), int(doc["createdMs"]))

    async def message(self, instance_id: str, message_id: str) -> Mapping[str, Any] | None:
        return await self.queries.message(instance_id, message_id)

    async def groups(self, instance_id: str) -> list[dict[str, Any]]:
        return await self.queries.groups(instance_id)

    async def known_identity(self, instance_id: str, jid: str) -> tuple[str, str] | None:
        return await self.queries.known_identity(instance_id, jid)

    async def usage_since(self, instance_id: str, since_day: str | None) -> tuple[int, int]:
        total = summed(await self.queries.usage(instance_id, since_day))
        return total["messagesSent"], total["apiCalls"]

    async def limit_notified(self, instance_id: str) -> Sequence[str]:
        owner = await self.queries.instance_owner(instance_id)
        return list((owner or {}).get("limitNotified", []))
