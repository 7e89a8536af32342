"""The webhook outbox: a durable delivery row for every (event, target) that wants the event.

A target is the instance's default one (`webhookUrl` + notify flags, id "default") or one of its
added targets (`wamux.domain.webhook_targets`). A row holds the exact body bytes and headers
(signature included) for the target's config, and `seq`, the order the dispatcher follows
(`position << 20 | slot` for a live event). A target's config event moves its pending rows at
once: a new URL, secret or headers rebuild them (attempts 0), disabling or removing it cancels them.
Delivery results and replays come back as events in the target's webhook stream, so rebuilding
the outbox from the log re-creates exactly the rows still owed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from wamux.domain import webhook_targets as targets
from wamux.domain.catalog import ALWAYS_SENT_EVENT_TYPES, PUBLIC_EVENT_TYPES
from wamux.domain.clock import iso_ms
from wamux.domain.events import (
    DEFAULT_WEBHOOK_ID,
    WEBHOOK_TARGET_TYPES,
    InstanceCreated,
    InstanceDeleted,
    MessageEdited,
    MessageFailed,
    MessageReaction,
    MessageReceived,
    MessageRevoked,
    MessageSent,
    MessageStatusChanged,
    PollVoted,
    RecordedEvent,
    WebhookDelivered,
    WebhookFailed,
    WebhookReplayQueued,
    WebhookRetryRequested,
    WebhookTargetAdded,
    WebhookTargetRemoved,
    WebhookTargetUpdated,
    WebhookUpdated,
    type_names,
)
from wamux.domain.webhook_targets import body_bytes, delivery_headers
from wamux.projections.payloads import event_data
from wamux.projections.ports import Collection, Query, ReadSession

DELIVERIES = Collection(
    "webhook_deliveries",
    {
        "instanceId": "text",
        "webhookId": "text",  # absent (NULL) in rows written before targets existed: read as "default"
        "status": "text",
        "position": "int",  # the position of the event that queued the row last (the event, a retry, a replay)
        "eventPosition": "int",
        "seq": "int",
        "createdMs": "int",
        "nextAttemptMs": "int",
    },
    indexes=(
        ("status", "seq"),
        ("instanceId", "webhookId", "status", "seq"),
        ("instanceId", "status", "seq"),
        ("instanceId", "seq"),
    ),
)
SETTINGS = Collection("webhook_settings", {"instanceId": "text"})

_NS = uuid.UUID("6f1d3a2e-9b7c-4c1e-8d2f-5a4b3c2d1e0f")
SEQ_SHIFT = 20  # seq = queuing position << 20 | slot (live) or | item index (replay)
MAX_REPLAY_ITEMS = (1 << SEQ_SHIFT) - 1

# The flag that decides each public event; the catalog's ALWAYS_SENT ones (presence, groups, calls) and
# the others without a flag are always sent (when webhooks are enabled), `message_status` is decided by
# its status (STATUS_FLAG), and an event about an earlier message by who acted (BY_WHO_ACTED: ours follow
# notifySent, theirs notifyReceived).
NOTIFY_FLAG = {MessageReceived.type: "notifyReceived", MessageSent.type: "notifySent", MessageFailed.type: "notifySent"}
STATUS_FLAG = {"delivered": "notifyDelivery", "read": "notifyRead", "played": "notifyRead"}
BY_WHO_ACTED = (MessageReaction, MessageEdited, MessageRevoked, PollVoted)
# The default target's config fields as `webhook_updated` names them; a change of one moves pending rows.
_DEFAULT_FIELD = {"webhookUrl": "url"}


def webhook_stream_id(instance_id: str, webhook_id: str = DEFAULT_WEBHOOK_ID) -> str:
    """The stream where one target's delivery results are recorded (its lane is the one writer)."""
    if webhook_id == DEFAULT_WEBHOOK_ID:
        return str(uuid.uuid5(_NS, f"webhooks:{instance_id}"))
    return str(uuid.uuid5(_NS, f"webhooks:{instance_id}:{webhook_id}"))


def delivery_id(recorded: RecordedEvent) -> str:
    """The event's `X-Webhook-Id`: stable across retries, replays, rebuilds and store switches."""
    return str(uuid.uuid5(_NS, f"{recorded.stream_id}:{recorded.version}"))


def target_delivery_id(event_id: str, webhook_id: str) -> str:
    """The row of one (event, target): the event's id for the default target (as before targets existed)."""
    if webhook_id == DEFAULT_WEBHOOK_ID:
        return event_id
    return str(uuid.uuid5(_NS, f"{event_id}:{webhook_id}"))


def notify_flag(recorded: RecordedEvent) -> str | None:
    """The setting that decides whether this public event is notified; None: always (when webhooks are on)."""
    e = recorded.event
    if recorded.type in ALWAYS_SENT_EVENT_TYPES:
        return None
    if isinstance(e, MessageStatusChanged):
        return STATUS_FLAG.get(e.status, "")  # no flag asks for the other statuses: never notified
    if isinstance(e, BY_WHO_ACTED):
        return "notifySent" if e.from_me else "notifyReceived"
    return NOTIFY_FLAG.get(recorded.type)


def wants(settings: dict[str, Any], recorded: RecordedEvent) -> bool:
    """Whether the default target gets this event (webhooks on, a URL, and its notify flag set)."""
    if not settings.get("webhookEnabled") or not settings.get("webhookUrl"):
        return False
    if recorded.type not in PUBLIC_EVENT_TYPES:
        return False
    flag = notify_flag(recorded)
    return flag is None or bool(settings["settings"].get(flag))


def default_target_events(flags: dict[str, Any]) -> list[str]:
    """The public event names the default target's notify flags let through (some of them, for some)."""
    by_who = type_names(*BY_WHO_ACTED)
    out = []
    for name in PUBLIC_EVENT_TYPES:
        if name in ALWAYS_SENT_EVENT_TYPES:
            needs: tuple[str, ...] = ()
        elif name == MessageStatusChanged.type:
            needs = tuple(dict.fromkeys(STATUS_FLAG.values()))
        elif name in by_who:
            needs = ("notifySent", "notifyReceived")
        else:
            needs = (NOTIFY_FLAG[name],) if name in NOTIFY_FLAG else ()
        if not needs or any(flags.get(flag) for flag in needs):
            out.append(name)
    return out


def target_config(settings: dict[str, Any], webhook_id: str) -> dict[str, Any] | None:
    """One target's config from an instance's settings row (None: no such target, e.g. removed)."""
    if webhook_id == DEFAULT_WEBHOOK_ID:
        conf = settings.get("settings") or {}
        return {
            "url": settings.get("webhookUrl"),
            "enabled": bool(settings.get("webhookEnabled")),
            "secret": conf.get("secret"),
            "headers": conf.get("headers") or {},
            "maxRetries": int(conf.get("maxRetries", 3)),
            "retryInterval": int(conf.get("retryInterval", 60000)),
            "slot": 0,
        }
    target = (settings.get("targets") or {}).get(webhook_id)
    return dict(target) if target is not None else None


def delivery_row(
    *,
    instance_id: str,
    webhook_id: str,
    conf: dict[str, Any],
    event_id: str,
    event_type: str,
    data: dict[str, Any],
    timestamp_ms: int,
    event_position: int,
    seq: int,
    queued_ms: int,
) -> dict[str, Any]:
    """A pending row for one (event, target): live events and replayed ones are built alike."""
    body = body_bytes(event_type, data, timestamp_ms)
    row_id = target_delivery_id(event_id, webhook_id)
    return {
        "id": row_id,
        "instanceId": instance_id,
        "webhookId": webhook_id,
        "eventId": event_id,
        "event": event_type,
        "url": conf.get("url"),
        "headers": delivery_headers(conf, event_type, event_id, webhook_id, body),
        "body": body.decode(),
        "maxRetries": int(conf.get("maxRetries", 3)),
        "retryInterval": int(conf.get("retryInterval", 60000)),
        "status": "pending",
        "attempts": 0,
        "lastStatusCode": None,
        "lastError": None,
        "position": seq >> SEQ_SHIFT,
        "eventPosition": event_position,
        "seq": seq,
        "nextAttemptMs": queued_ms,
        "createdMs": queued_ms,
        "createdAt": iso_ms(queued_ms),
        "updatedAt": iso_ms(queued_ms),
        "deliveredAt": None,
    }


def webhook_id_of(row: dict[str, Any]) -> str:
    return str(row.get("webhookId") or DEFAULT_WEBHOOK_ID)


def event_id_of(row: dict[str, Any]) -> str:
    """The row's `X-Webhook-Id` (rows written before targets existed: their own id)."""
    return str(row.get("eventId") or row["id"])


def lane_filters(instance_id: str, webhook_id: str) -> list[dict[str, Any]]:
    """Equality filters that find one target's rows (the default target also owns rows without webhookId)."""
    where: list[dict[str, Any]] = [{"instanceId": instance_id, "webhookId": webhook_id}]
    if webhook_id == DEFAULT_WEBHOOK_ID:
        where.append({"instanceId": instance_id, "webhookId": None})
    return where


def _pending(session: ReadSession, instance_id: str, webhook_id: str) -> Iterator[dict[str, Any]]:
    for where in lane_filters(instance_id, webhook_id):
        yield from session.find(DELIVERIES, Query(where={**where, "status": "pending"}))


def _configured(row: dict[str, Any], conf: dict[str, Any], ts: int) -> dict[str, Any]:
    """`row` sent with the target's current config from now on: URL, headers, retry policy; attempts 0."""
    webhook_id = webhook_id_of(row)
    body = str(row.get("body") or "").encode()
    row.update(
        webhookId=webhook_id,
        url=conf.get("url"),
        headers=delivery_headers(conf, str(row.get("event")), event_id_of(row), webhook_id, body),
        maxRetries=int(conf.get("maxRetries", 3)),
        retryInterval=int(conf.get("retryInterval", 60000)),
        attempts=0,
        nextAttemptMs=ts,
        updatedAt=iso_ms(ts),
    )
    return row


class OutboxProjection:
    name: str = "outbox"
    collections: tuple[Collection, ...] = (DELIVERIES, SETTINGS)
    topics: tuple[str, ...] = (
        InstanceCreated.type,
        InstanceDeleted.type,
        *WEBHOOK_TARGET_TYPES,
        WebhookDelivered.type,
        WebhookFailed.type,
        WebhookRetryRequested.type,
        WebhookReplayQueued.type,
        *PUBLIC_EVENT_TYPES,  # every event that may become a webhook, `webhook_updated` among them
    )

    def apply(self, session: ReadSession, recorded: RecordedEvent) -> None:
        e = recorded.event
        if isinstance(e, InstanceCreated):
            session.put(
                SETTINGS,
                e.instance_id,
                {
                    "instanceId": e.instance_id,
                    "webhookUrl": e.webhook_url,
                    "webhookEnabled": e.webhook_enabled,
                    "settings": e.webhook_settings,
                    "targets": {},
                },
            )
            return
        if isinstance(e, InstanceDeleted):
            session.delete(SETTINGS, e.instance_id)
            return
        if isinstance(e, WebhookDelivered | WebhookFailed | WebhookRetryRequested):
            self._result(session, recorded)
            return
        if isinstance(e, WebhookReplayQueued):
            self._replay(session, recorded, e)
            return
        settings = session.get(SETTINGS, recorded.stream_id)
        if settings is None:
            return
        if isinstance(e, WebhookTargetAdded | WebhookTargetUpdated | WebhookTargetRemoved):
            found = dict(settings.get("targets") or {})
            if isinstance(e, WebhookTargetRemoved):
                found.pop(e.webhook_id, None)
            else:
                found[e.webhook_id] = e.target
            settings = {**settings, "targets": found}
            session.put(SETTINGS, recorded.stream_id, settings)
            changed = e.changed if isinstance(e, WebhookTargetUpdated) else []
            self._config_changed(session, settings, e.webhook_id, changed, recorded)
            return
        if isinstance(e, WebhookUpdated):
            # The update itself is notified with the settings it brings in.
            settings = {
                **settings,
                "webhookUrl": e.webhook_url,
                "webhookEnabled": e.webhook_enabled,
                "settings": e.webhook_settings,
            }
            session.put(SETTINGS, recorded.stream_id, settings)
            changed = [_DEFAULT_FIELD.get(name, name) for name in e.changed]
            self._config_changed(session, settings, DEFAULT_WEBHOOK_ID, changed, recorded)
        self._queue(session, settings, recorded)

    @staticmethod
    def _config_changed(
        session: ReadSession, settings: dict[str, Any], webhook_id: str, changed: list[str], recorded: RecordedEvent
    ) -> None:
        """A target's pending rows follow its config: cancelled when it is off or gone, rebuilt when it moved."""
        conf = target_config(settings, webhook_id)
        ts = recorded.timestamp_ms
        if conf is None or not targets.is_active(conf):
            for row in list(_pending(session, recorded.stream_id, webhook_id)):
                row.update(status="cancelled", updatedAt=iso_ms(ts))
                session.put(DELIVERIES, row["id"], row)
        elif any(name in targets.DELIVERY_FIELDS for name in changed):
            for row in list(_pending(session, recorded.stream_id, webhook_id)):
                session.put(DELIVERIES, row["id"], _configured(row, conf, ts))

    @staticmethod
    def _queue(session: ReadSession, settings: dict[str, Any], recorded: RecordedEvent) -> None:
        """A live public event: one row per target that wants it, the default target first."""
        if recorded.type not in PUBLIC_EVENT_TYPES:
            return
        lanes: list[tuple[str, dict[str, Any]]] = []
        if wants(settings, recorded):
            conf = target_config(settings, DEFAULT_WEBHOOK_ID)
            assert conf is not None
            lanes.append((DEFAULT_WEBHOOK_ID, conf))
        for webhook_id, target in sorted((settings.get("targets") or {}).items(), key=lambda t: t[1].get("slot", 0)):
            if targets.wants(target, recorded):
                lanes.append((webhook_id, target))
        if not lanes:
            return
        data = event_data(recorded)
        event_id = delivery_id(recorded)
        for webhook_id, conf in lanes:
            row = delivery_row(
                instance_id=recorded.stream_id,
                webhook_id=webhook_id,
                conf=conf,
                event_id=event_id,
                event_type=recorded.type,
                data=data,
                timestamp_ms=recorded.timestamp_ms,
                event_position=recorded.position,
                seq=recorded.position << SEQ_SHIFT | int(conf.get("slot", 0)),
                queued_ms=recorded.timestamp_ms,
            )
            session.put(DELIVERIES, row["id"], row)

    @staticmethod
    def _replay(session: ReadSession, recorded: RecordedEvent, e: WebhookReplayQueued) -> None:
        """Each item becomes a pending row of the target again (an existing row is queued again, never doubled)."""
        settings = session.get(SETTINGS, e.instance_id)
        conf = None if settings is None else target_config(settings, e.webhook_id)
        if conf is None:
            return  # the target (or the instance) is gone
        ts = recorded.timestamp_ms
        for i, item in enumerate(e.items[: MAX_REPLAY_ITEMS + 1]):
            row = delivery_row(
                instance_id=e.instance_id,
                webhook_id=e.webhook_id,
                conf=conf,
                event_id=str(item["id"]),
                event_type=str(item["type"]),
                data=dict(item["data"]),
                timestamp_ms=int(item["timestamp_ms"]),
                event_position=int(item["position"]),
                seq=recorded.position << SEQ_SHIFT | i,
                queued_ms=ts,
            )
            existing = session.get(DELIVERIES, row["id"])
            if existing is not None:
                row.update(createdMs=existing["createdMs"], createdAt=existing["createdAt"])
            if not targets.is_active(conf):
                row["status"] = "cancelled"
            session.put(DELIVERIES, row["id"], row)

    @staticmethod
    def _result(session: ReadSession, recorded: RecordedEvent) -> None:
        e = recorded.event
        assert isinstance(e, WebhookDelivered | WebhookFailed | WebhookRetryRequested)
        row = session.get(DELIVERIES, e.delivery_id)
        if row is None:
            return
        ts = recorded.timestamp_ms
        current = row.get("seq")
        if isinstance(e, WebhookDelivered | WebhookFailed) and None not in (e.seq, current) and e.seq != current:
            return  # the row was queued again (a replay) after this try began: that queuing still stands
        row["updatedAt"] = iso_ms(ts)
        if isinstance(e, WebhookDelivered):
            row.update(
                status="delivered",
                attempts=e.attempts,
                lastStatusCode=e.status_code,
                lastError=None,
                deliveredAt=iso_ms(ts),
                latencyMs=e.latency_ms,
            )
        elif isinstance(e, WebhookFailed):
            row.update(status="failed", attempts=e.attempts, lastStatusCode=e.status_code, lastError=e.error)
        else:
            settings = session.get(SETTINGS, row["instanceId"])
            conf = None if settings is None else target_config(settings, webhook_id_of(row))
            if conf is None or not targets.is_active(conf):
                return  # its target is off or gone: nothing to send it to (the retry routes refuse it first)
            _configured(row, conf, ts)
            seq = recorded.position << SEQ_SHIFT
            row.update(status="pending", seq=seq, position=recorded.position, lastStatusCode=None, lastError=None)
        session.put(DELIVERIES, row["id"], row)
