"""Use cases of an instance's webhook targets: list, add, change, remove, replay, test, retry.

The default target is the instance's own `webhookUrl` + settings: its changes go through the
instance update (`webhook_updated`, as in part 1 of the contract). Every other target is instance
configuration recorded by the actor (`webhook_target_*`). After a change that moves a target's
pending deliveries (a new URL, disabled, removed, a replay), the target's lane is reset so the
dispatcher delivers them as the outbox now has them, at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from wamux.core import commands as c
from wamux.core.instance_actor import InstanceActor
from wamux.core.ports import EventStore, TimelineQuery
from wamux.core.queries import ReadQueries
from wamux.core.usecases.instances import InstanceUseCases
from wamux.core.webhook_dispatcher import Attempt, WebhookDispatcher
from wamux.domain import webhook_targets as wt
from wamux.domain.catalog import PUBLIC_EVENT_TYPES
from wamux.domain.errors import Conflict, NotFound, WebhookDisabled
from wamux.domain.events import (
    DEFAULT_WEBHOOK_ID,
    DomainEvent,
    RecordedEvent,
    WebhookReplayQueued,
    WebhookRetryRequested,
)
from wamux.domain.outbound import check_outbound_url
from wamux.domain.users import User
from wamux.projections.outbox import default_target_events, delivery_id, target_config, wants, webhook_id_of
from wamux.projections.payloads import event_data

MAX_REPLAY = 100_000  # events one replay call reads from the log
REPLAY_PAGE = 5_000
ITEMS_PER_EVENT = 1_000
BYTES_PER_EVENT = 4 * 1024 * 1024  # well under a MongoDB document's 16 MB
RETRY_CHUNK = 500  # retry requests recorded in one append


@dataclass(frozen=True)
class TargetView:
    """A target as listed: its config, its backlog and what its lane is doing."""

    id: str
    config: dict[str, Any]  # url, events, secret, headers, enabled, maxRetries, retryInterval
    created_ms: int
    updated_ms: int
    counts: dict[str, int]  # pending, failed, cancelled
    retrying: Attempt | None  # the attempts of the row its lane is retrying now


@dataclass(frozen=True)
class ReplayOutcome:
    queued: int
    truncated: bool  # more than MAX_REPLAY events: call again from `resume`
    resume: tuple[int, int] | None  # (timestamp ms, position) of the last event read, for the feed cursor


def config_of(actor: InstanceActor, webhook_id: str) -> dict[str, Any]:
    """A target's config as the actor holds it now; 404 `webhook_not_found` for an unknown id."""
    inst = actor.instance
    if webhook_id == DEFAULT_WEBHOOK_ID:
        settings = {"webhookUrl": inst.webhook_url, "webhookEnabled": inst.webhook_enabled}
        conf = target_config({**settings, "settings": inst.webhook_settings}, DEFAULT_WEBHOOK_ID)
        assert conf is not None
        return {**conf, "events": default_target_events(inst.webhook_settings)}
    return dict(wt.target_of(inst.webhook_targets, webhook_id))


def active_targets(actor: InstanceActor) -> set[str]:
    """The instance's targets that deliver now (enabled, with a URL)."""
    found = {w for w, t in actor.instance.webhook_targets.items() if wt.is_active(t)}
    if actor.instance.webhook_enabled and actor.instance.webhook_url:
        found.add(DEFAULT_WEBHOOK_ID)
    return found


class WebhookUseCases:
    def __init__(
        self, instances: InstanceUseCases, queries: ReadQueries, dispatcher: WebhookDispatcher, store: EventStore
    ) -> None:
        self.instances = instances
        self.queries = queries
        self.dispatcher = dispatcher
        self.store = store

    async def targets(self, caller: User, instance_id: str) -> list[TargetView]:
        """Every target of the instance, the default one first, then the others as they were added."""
        actor = self.instances.owned(caller, instance_id)
        ids = [DEFAULT_WEBHOOK_ID, *sorted(actor.instance.webhook_targets, key=self._added_at(actor))]
        counts = await self.queries.target_counts(actor.id, ids)
        return [self._view(actor, webhook_id, counts[webhook_id]) for webhook_id in ids]

    async def target(self, caller: User, instance_id: str, webhook_id: str) -> TargetView:
        actor = self.instances.owned(caller, instance_id)
        config_of(actor, webhook_id)  # 404 first
        counts = await self.queries.target_counts(actor.id, [webhook_id])
        return self._view(actor, webhook_id, counts[webhook_id])

    async def add(self, caller: User, instance_id: str, body: Mapping[str, Any]) -> TargetView:
        actor = self.instances.owned(caller, instance_id)
        await self._check_url(actor, body)
        webhook_id = wt.new_target_id()
        await actor.execute(c.AddWebhookTarget(webhook_id, body))
        return await self.target(caller, instance_id, webhook_id)

    async def update(self, caller: User, instance_id: str, webhook_id: str, body: Mapping[str, Any]) -> TargetView:
        """Change a target; a new URL, secret, headers or retry policy applies to its pending deliveries at once."""
        actor = self.instances.owned(caller, instance_id)
        if webhook_id == DEFAULT_WEBHOOK_ID:
            await self.instances.update(caller, instance_id, wt.default_target_changes(body))  # resets the lane
        else:
            config_of(actor, webhook_id)
            await self._check_url(actor, body)
            changed = await actor.execute(c.UpdateWebhookTarget(webhook_id, body))
            if set(changed) & {*wt.DELIVERY_FIELDS, "enabled"}:
                await self.dispatcher.reset_lane(actor.id, webhook_id)
        return await self.target(caller, instance_id, webhook_id)

    async def remove(self, caller: User, instance_id: str, webhook_id: str) -> None:
        """Remove a target (the default one: clear its URL); its owed deliveries become `cancelled`."""
        actor = self.instances.owned(caller, instance_id)
        if webhook_id == DEFAULT_WEBHOOK_ID:
            await self.instances.update(caller, instance_id, {"webhookUrl": None, "webhookEnabled": False})
            return
        await actor.execute(c.RemoveWebhookTarget(webhook_id))
        await self.dispatcher.reset_lane(actor.id, webhook_id)

    async def replay(self, caller: User, instance_id: str, webhook_id: str, after: tuple[int, int]) -> ReplayOutcome:
        """Queue again, for one target, the public events after `after` (timestamp ms, position) it wants now.

        Reads at most MAX_REPLAY events up to the latest one, and records them all in ONE append
        (`webhook_replay_queued` events in the target's stream): a crash leaves nothing half queued.
        Each delivery keeps its event's `X-Webhook-Id`; a row that exists is queued again, not doubled.
        """
        actor = self.instances.owned(caller, instance_id)
        conf = config_of(actor, webhook_id)
        if webhook_id not in active_targets(actor):
            raise WebhookDisabled(
                f"webhook {webhook_id} is disabled: enable it to replay", details={"webhookId": webhook_id}
            )
        latest = await self.store.timeline(TimelineQuery(stream_id=actor.id, newest_first=True, limit=1))
        if not latest:
            return ReplayOutcome(0, False, None)
        upto = (latest[0].timestamp_ms, latest[0].position + 1)
        types = tuple(t for t in conf["events"] if t in PUBLIC_EVENT_TYPES) or PUBLIC_EVENT_TYPES
        read, cursor, items = 0, after, []
        keep = self._wanted(actor, webhook_id, conf)
        while read < MAX_REPLAY:
            limit = min(REPLAY_PAGE, MAX_REPLAY - read)
            query = TimelineQuery(stream_id=actor.id, types=types, after=cursor, before=upto, limit=limit)
            page = await self.store.timeline(query)
            read += len(page)
            items += [_item(r) for r in page if keep(r)]
            if page:
                cursor = (page[-1].timestamp_ms, page[-1].position)
            if len(page) < limit:
                break
        truncated = read >= MAX_REPLAY and bool(
            await self.store.timeline(
                TimelineQuery(stream_id=actor.id, types=types, after=cursor, before=upto, limit=1)
            )
        )
        if items:
            events = _replay_events(actor.id, webhook_id, items)
            await self.dispatcher.record(actor.id, webhook_id, events)
            await self.dispatcher.reset_lane(actor.id, webhook_id)
        return ReplayOutcome(len(items), truncated, cursor if truncated else None)

    async def test(self, caller: User, instance_id: str, webhook_id: str) -> dict[str, Any]:
        """POST a `test` event to a target's URL now; 409 when it has none."""
        actor = self.instances.owned(caller, instance_id)
        conf = config_of(actor, webhook_id)
        if not conf.get("url"):
            field_name = "webhookUrl" if webhook_id == DEFAULT_WEBHOOK_ID else "url"
            raise Conflict(f"webhook {webhook_id} has no URL", details={field_name: "missing"})
        # Refused before any connection: for users this route must not probe private networks.
        await self.instances.check_webhook_url(conf["url"], owner_id=actor.instance.user_id)
        return await self.dispatcher.test(actor.id, webhook_id, conf)

    async def retry(self, caller: User, instance_id: str, delivery_id: str) -> None:
        """Queue one delivery again (to its target's current URL); 404 if unknown, 409 if its target is off."""
        actor = self.instances.owned(caller, instance_id)
        row = await self.queries.delivery(delivery_id)
        if row is None or row["instanceId"] != actor.id:
            raise NotFound("delivery not found")
        webhook_id = webhook_id_of(row)
        if webhook_id not in active_targets(actor):
            message = f"webhook {webhook_id} is disabled or removed: enable it first"
            raise WebhookDisabled(message, details={"webhookId": webhook_id})
        if row["status"] != "pending":  # a pending one is owed already
            retry = WebhookRetryRequested(instance_id=actor.id, delivery_id=delivery_id, webhook_id=webhook_id)
            await self.dispatcher.record(actor.id, webhook_id, [retry])

    async def retry_failed(self, caller: User, instance_id: str, webhook_id: str | None = None) -> int:
        """Queue again the failed and cancelled deliveries of the instance's enabled targets (or of one)."""
        actor = self.instances.owned(caller, instance_id)
        if webhook_id is not None:
            config_of(actor, webhook_id)
        active = active_targets(actor)
        by_target: dict[str, list[DomainEvent]] = {}
        for row in await self.queries.retryable_deliveries(actor.id):
            target = webhook_id_of(row)
            if target in active and webhook_id in (None, target):
                retry = WebhookRetryRequested(instance_id=actor.id, delivery_id=row["id"], webhook_id=target)
                by_target.setdefault(target, []).append(retry)
        for target, events in by_target.items():
            for start in range(0, len(events), RETRY_CHUNK):
                await self.dispatcher.record(actor.id, target, events[start : start + RETRY_CHUNK])
        return sum(len(events) for events in by_target.values())

    # ---- helpers ----------------------------------------------------------------------------

    async def _check_url(self, actor: InstanceActor, body: Mapping[str, Any]) -> None:
        if "url" in body and isinstance(body["url"], str):
            check_outbound_url(body["url"], "url")  # the syntax first, as for the default target
            await self.instances.check_webhook_url(body["url"], owner_id=actor.instance.user_id, field_name="url")

    @staticmethod
    def _added_at(actor: InstanceActor) -> Callable[[str], tuple[int, str]]:
        return lambda webhook_id: (int(actor.instance.webhook_targets[webhook_id].get("createdMs", 0)), webhook_id)

    def _view(self, actor: InstanceActor, webhook_id: str, counts: dict[str, int]) -> TargetView:
        conf = config_of(actor, webhook_id)
        inst = actor.instance
        created = inst.created_ms if webhook_id == DEFAULT_WEBHOOK_ID else int(conf.get("createdMs", 0))
        updated = inst.updated_ms if webhook_id == DEFAULT_WEBHOOK_ID else int(conf.get("updatedMs", created))
        editable = {k: conf.get(k) for k in wt.EDITABLE_FIELDS}
        return TargetView(
            id=webhook_id,
            config=editable,
            created_ms=created,
            updated_ms=updated,
            counts=counts,
            retrying=self.dispatcher.lane_attempt(actor.id, webhook_id),
        )

    @staticmethod
    def _wanted(actor: InstanceActor, webhook_id: str, conf: dict[str, Any]) -> Callable[[RecordedEvent], bool]:
        """Which recorded events the target gets with its config of now."""
        if webhook_id == DEFAULT_WEBHOOK_ID:
            inst = actor.instance
            settings = {"webhookUrl": inst.webhook_url, "webhookEnabled": True, "settings": inst.webhook_settings}
            return lambda recorded: wants(settings, recorded)
        return lambda recorded: wt.wants(conf, recorded)


def _item(recorded: RecordedEvent) -> dict[str, Any]:
    return {
        "id": delivery_id(recorded),
        "type": recorded.type,
        "data": event_data(recorded),
        "timestamp_ms": recorded.timestamp_ms,
        "position": recorded.position,
    }


def _replay_events(instance_id: str, webhook_id: str, items: list[dict[str, Any]]) -> list[DomainEvent]:
    """The items in events of at most ITEMS_PER_EVENT items and about BYTES_PER_EVENT of data each."""
    events: list[DomainEvent] = []
    chunk: list[dict[str, Any]] = []
    size = 0
    for item in items:
        weight = len(repr(item["data"]))
        if chunk and (len(chunk) >= ITEMS_PER_EVENT or size + weight > BYTES_PER_EVENT):
            events.append(WebhookReplayQueued(instance_id=instance_id, webhook_id=webhook_id, items=chunk))
            chunk, size = [], 0
        chunk.append(item)
        size += weight
    if chunk:
        events.append(WebhookReplayQueued(instance_id=instance_id, webhook_id=webhook_id, items=chunk))
    return events
