"""The questions routes ask the read models, answered off the event loop.

Every store call runs in a worker thread (through one `trio.CapacityLimiter`), on every backend:
a MongoDB round trip or a large SQLite scan then blocks no request and no actor. Each query first
waits until its projection has caught up with the log (read-your-writes), then reads the current
store once: the store is looked up at each call, because a store switch replaces it. Answers are the
stored documents (or `Page`s of them); shaping the public JSON stays with the routes and payloads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import trio

from wamux.projections.contacts import CONTACTS, contact_key
from wamux.projections.groups import GROUPS, group_key, group_summary, group_view
from wamux.projections.identities import IDENTITIES, identity_key, is_lid
from wamux.projections.instances import INSTANCES
from wamux.projections.messages import CHATS, MESSAGES, chat_key, chat_of, message_key
from wamux.projections.outbox import DELIVERIES, lane_filters
from wamux.projections.ports import Query, ReadModelStore
from wamux.projections.stats import OWNERS, summed, usage_rows
from wamux.projections.users import USERS

T = TypeVar("T")
Doc = dict[str, Any]

CONTACT_SEARCH_FIELDS = ("name", "number", "pushName")
MESSAGE_SEARCH_FIELDS = ("content", "caption")  # the text, the edited text, a media's caption


class ReadModelsSource(Protocol):
    """The read models as the web layer sees them: the current store and the catch-up wait."""

    @property
    def rm(self) -> ReadModelStore: ...

    async def synced(self, *names: str, timeout: float = 5.0) -> None: ...

    def lease(self) -> AbstractContextManager[object]: ...


@dataclass(frozen=True)
class Page:
    """One page of documents and how many match in all."""

    rows: list[Doc]
    total: int


class ReadQueries:
    """Async queries over the read models; each one is a single worker-thread hop."""

    def __init__(self, view: ReadModelsSource, limiter: trio.CapacityLimiter) -> None:
        self.view = view
        self.limiter = limiter

    async def _read(self, projections: tuple[str, ...], read: Callable[[ReadModelStore], T]) -> T:
        if projections:
            await self.view.synced(*projections)
        # The lease keeps the backend read here open until the thread is done, even if a switch swaps it meanwhile.
        with self.view.lease():
            rm = self.view.rm
            return await trio.to_thread.run_sync(lambda: read(rm), limiter=self.limiter)

    # ---- messages ----------------------------------------------------------------------------

    async def message_by_idempotency_key(self, instance_id: str, key: str) -> Doc | None:
        """The message an earlier send with this Idempotency-Key produced, if any."""
        query = Query(where={"instanceId": instance_id, "idempotencyKey": key}, limit=1)
        rows = await self._read(("messages",), lambda rm: rm.find(MESSAGES, query))
        return rows[0] if rows else None

    async def chats(self, instance_id: str, skip: int, limit: int) -> Page:
        """A page of an instance's chats, the most recently active first: one per person, under the phone
        JID when it is known, with `lid` (the messages read model merges a LID's chat into its phone's)."""
        where = {"instanceId": instance_id}
        page = Query(where=where, order=(("updatedMs", True),), skip=skip, limit=limit)

        def read(rm: ReadModelStore) -> Page:
            rows = [{"lid": None, **row} for row in rm.find(CHATS, page)]  # rows older than `lid` have none
            return Page(rows, rm.count(CHATS, Query(where=where)))

        return await self._read(("messages",), read)

    async def chat_messages(
        self,
        instance_id: str,
        chat_jid: str,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
        search: str | None = None,
        skip: int = 0,
        limit: int = 50,
    ) -> Page:
        """A page of one chat's messages (optionally created between two instants, or whose text or caption
        holds `search`, case-insensitively), newest first.

        A person's chat is one whichever JID names it: a LID whose phone is known reads the phone's chat.
        """
        ranges: dict[str, tuple[Any, Any]] = {}
        if start_ms is not None or end_ms is not None:
            ranges["createdMs"] = (start_ms, end_ms)
        order = (("createdMs", True), ("position", True))
        matching = (MESSAGE_SEARCH_FIELDS, search) if search else None

        def read(rm: ReadModelStore) -> Page:
            where = {"instanceId": instance_id, "remoteJid": chat_of(rm.get, instance_id, chat_jid)[0]}
            page = Query(where=where, ranges=ranges, search=matching, order=order, skip=skip, limit=limit)
            total = rm.count(MESSAGES, Query(where=where, ranges=ranges, search=matching))
            return Page(rm.find(MESSAGES, page), total)

        return await self._read(("messages",), read)

    async def unread_incoming(self, instance_id: str, chat_jid: str, *, at_most: int = 500) -> list[Doc]:
        """The chat's unread incoming messages (as many as its unread count says, the newest first)."""

        def read(rm: ReadModelStore) -> list[Doc]:
            jid = chat_of(rm.get, instance_id, chat_jid)[0]  # the one chat of a person named by LID or phone
            chat = rm.get(CHATS, chat_key(instance_id, jid))
            unread = min(int((chat or {}).get("unreadCount") or 0), at_most)
            if not unread:
                return []
            # `fromMe` is no indexed field: read the chat's latest messages and keep the incoming live ones
            # (a history row is never unread, even when WhatsApp's sync brought one newer than them).
            where = {"instanceId": instance_id, "remoteJid": jid}
            order = (("createdMs", True), ("position", True))
            latest = rm.find(MESSAGES, Query(where=where, order=order, limit=unread * 4 + 50))
            return [m for m in latest if not m.get("fromMe") and not m.get("history")][:unread]

        return await self._read(("messages",), read)

    async def message(self, instance_id: str, message_id: str) -> Doc | None:
        """One message of an instance by its WhatsApp id."""
        key = message_key(instance_id, message_id)
        return await self._read(("messages",), lambda rm: rm.get(MESSAGES, key))

    # ---- contacts ----------------------------------------------------------------------------

    async def contacts(
        self, instance_id: str, *, only_groups: bool = False, search: str | None = None, skip: int = 0, limit: int = 100
    ) -> Page:
        """A page of an instance's contacts by name then number, optionally groups only or matching a search."""
        where: dict[str, Any] = {"instanceId": instance_id}
        if only_groups:
            where["isGroup"] = True
        needle = search.strip() if search else ""
        matching = Query(where=where, search=(CONTACT_SEARCH_FIELDS, needle) if needle else None)
        page = Query(
            where=matching.where,
            search=matching.search,
            order=(("name", False), ("number", False)),
            skip=skip,
            limit=limit,
        )
        return await self._read(("contacts",), lambda rm: Page(rm.find(CONTACTS, page), rm.count(CONTACTS, matching)))

    async def contact(self, instance_id: str, jid: str) -> Doc | None:
        """One contact of an instance by its JID."""
        key = contact_key(instance_id, jid)
        return await self._read(("contacts",), lambda rm: rm.get(CONTACTS, key))

    # ---- groups and identities ---------------------------------------------------------------

    async def groups(self, instance_id: str) -> list[Doc]:
        """The groups an instance's account is in, by subject (case-insensitively), without members."""
        query = Query(where={"instanceId": instance_id}, order=(("sortSubject", False), ("id", False)))
        rows = await self._read(("groups",), lambda rm: rm.find(GROUPS, query))
        return [group_summary(r) for r in rows]

    async def group(self, instance_id: str, group_jid: str) -> Doc | None:
        """One group with its members; a member known only by LID (or only by phone) gets its other JID."""
        key = group_key(instance_id, group_jid)

        def read(rm: ReadModelStore) -> Doc | None:
            row = rm.get(GROUPS, key)
            if row is None:
                return None

            def counterpart(jid: str) -> str | None:
                found = rm.get(IDENTITIES, identity_key(instance_id, jid))
                return None if found is None else str(found["phoneJid"] if is_lid(jid) else found["lid"])

            return group_view(row, counterpart)

        return await self._read(("groups", "identities"), read)

    async def identity(self, instance_id: str, jid: str) -> Doc | None:
        """`{lid, phoneJid}` of the person a LID or a phone JID names, when the instance has learned it."""
        key = identity_key(instance_id, jid)
        row = await self._read(("identities",), lambda rm: rm.get(IDENTITIES, key))
        return None if row is None else {"lid": row["lid"], "phoneJid": row["phoneJid"]}

    async def known_identity(self, instance_id: str, jid: str) -> tuple[str, str] | None:
        """(LID, phone JID) of the person `jid` names, as recorded so far, without waiting for the projection.

        For the instance's actor (`PeopleIndex`): it is the only writer of its identities and keeps the
        pairs it recorded itself, so what the read model has not applied yet it knows already.
        """
        key = identity_key(instance_id, jid)
        row = await self._read((), lambda rm: rm.get(IDENTITIES, key))
        return None if row is None else (str(row["lid"]), str(row["phoneJid"]))

    # ---- instances and users -----------------------------------------------------------------

    async def instances(self, user_id: str | None) -> list[Doc]:
        """The instances of one user (every user's for None), oldest first."""
        where = {} if user_id is None else {"userId": user_id}
        query = Query(where=where, order=(("createdMs", False),))
        return await self._read(("instances",), lambda rm: rm.find(INSTANCES, query))

    async def users(self) -> list[Doc]:
        """Every user, oldest first."""
        query = Query(order=(("createdMs", False),))
        return await self._read(("users",), lambda rm: rm.find(USERS, query))

    async def active_users(self, since_day: str) -> int:
        """How many users made API calls on `since_day` or later."""
        query = Query(ranges={"lastActiveDay": (since_day, None)})
        return await self._read(("users",), lambda rm: rm.count(USERS, query))

    # ---- usage -------------------------------------------------------------------------------

    async def usage(self, instance_id: str | None, since_day: str | None) -> list[Doc]:
        """Daily usage rows of one instance (all instances for None) from `since_day` (all days for None)."""
        where = {} if instance_id is None else {"instanceId": instance_id}
        return await self._read(("stats",), lambda rm: usage_rows(rm, since_day=since_day, **where))

    async def usage_per_instance(self, instance_ids: Sequence[str], since_day: str | None) -> dict[str, dict[str, int]]:
        """Usage counters summed per instance from `since_day` (all for None), in one hop for all of them."""
        ids = tuple(instance_ids)

        def read(rm: ReadModelStore) -> dict[str, dict[str, int]]:
            return {i: summed(usage_rows(rm, since_day=since_day, instanceId=i)) for i in ids}

        return await self._read(("stats",), read)

    async def total_usage(self) -> dict[str, int]:
        """Usage counters summed over every instance and day."""
        return await self._read(("stats",), lambda rm: summed(usage_rows(rm, since_day=None)))

    async def instance_owner(self, instance_id: str) -> Doc | None:
        """The stats owner row of an instance (owner, name, limit periods already notified).

        No catch-up wait, as the limit check reads it right after `usage` waited for the same projection.
        """
        return await self._read((), lambda rm: rm.get(OWNERS, instance_id))

    # ---- webhooks ----------------------------------------------------------------------------

    async def deliveries(
        self,
        instance_id: str,
        *,
        status: str | None = None,
        webhook_id: str | None = None,
        skip: int = 0,
        limit: int = 50,
    ) -> Page:
        """A page of an instance's webhook deliveries (optionally of one status, one target), newest first.

        Newest = the latest queued (`seq` descending: a retried or replayed row moves to the top); rows
        written before targets existed have no `seq` and come last, the latest first.
        """
        status_where = {"status": status} if status else {}
        parts = [{**where, **status_where} for where in _target_filters(instance_id, webhook_id)]
        order = (("seq", True), ("position", True))

        def read(rm: ReadModelStore) -> Page:
            rows: list[Doc] = []
            total, offset = 0, skip
            for where in parts:  # the default target's own rows, then its rows from before targets
                count = rm.count(DELIVERIES, Query(where=where))
                total += count
                if len(rows) < limit and offset < count:
                    rows += rm.find(DELIVERIES, Query(where=where, order=order, skip=offset, limit=limit - len(rows)))
                offset = max(0, offset - count)
            return Page(rows, total)

        return await self._read(("outbox",), read)

    async def target_counts(self, instance_id: str, webhook_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """Pending, failed and cancelled deliveries of each target of an instance, in one hop."""
        ids = tuple(webhook_ids)

        def read(rm: ReadModelStore) -> dict[str, dict[str, int]]:
            return {
                webhook_id: {
                    status: sum(
                        rm.count(DELIVERIES, Query(where={**where, "status": status}))
                        for where in _target_filters(instance_id, webhook_id)
                    )
                    for status in ("pending", "failed", "cancelled")
                }
                for webhook_id in ids
            }

        return await self._read(("outbox",), read)

    async def retryable_deliveries(self, instance_id: str) -> list[Doc]:
        """An instance's failed and cancelled deliveries, in the order they were queued."""

        def read(rm: ReadModelStore) -> list[Doc]:
            found: list[Doc] = []
            for status in ("failed", "cancelled"):
                found += rm.find(DELIVERIES, Query(where={"instanceId": instance_id, "status": status}))
            return sorted(found, key=lambda r: (r.get("seq") is not None, r.get("seq") or 0, r.get("position") or 0))

        return await self._read(("outbox",), read)

    async def delivery(self, delivery_id: str) -> Doc | None:
        """One webhook delivery as it stands (no catch-up wait: a retry answers with the row it retried)."""
        return await self._read((), lambda rm: rm.get(DELIVERIES, delivery_id))


def _target_filters(instance_id: str, webhook_id: str | None) -> list[dict[str, Any]]:
    """The filters of one target's deliveries (every target's for None)."""
    return [{"instanceId": instance_id}] if webhook_id is None else lane_filters(instance_id, webhook_id)
