"""The webhook outbox: a durable delivery row for every event an instance's settings ask to notify.

The row holds the exact body bytes and headers (signature included), decided with the
settings in force when the event happened. Delivery results come back as events
(`webhook_delivered`, `webhook_failed`, `webhook_retry_requested`) in the instance's webhook
stream, so rebuilding the outbox from the log re-creates exactly the rows still owed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from typing import Any

from wamux.domain.catalog import ALWAYS_SENT_EVENT_TYPES, PUBLIC_EVENT_TYPES
from wamux.domain.clock import iso_ms
from wamux.domain.events import (
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
    WebhookRetryRequested,
    WebhookUpdated,
)
from wamux.projections.payloads import event_data
from wamux.projections.ports import Collection, ReadSession

DELIVERIES = Collection(
    "webhook_deliveries",
    {"instanceId": "text", "status": "text", "position": "int", "createdMs": "int"},
    indexes=(("instanceId", "status", "position"), ("status", "position"), ("position",)),
)
SETTINGS = Collection("webhook_settings", {"instanceId": "text"})

_NS = uuid.UUID("6f1d3a2e-9b7c-4c1e-8d2f-5a4b3c2d1e0f")

# The flag that decides each public event; the catalog's ALWAYS_SENT ones (presence, groups, calls) and
# the others without a flag are always sent (when webhooks are enabled), `message_status` is decided by
# its status (STATUS_FLAG), and an event about an earlier message by who acted (BY_WHO_ACTED: ours follow
# notifySent, theirs notifyReceived).
NOTIFY_FLAG = {MessageReceived.type: "notifyReceived", MessageSent.type: "notifySent", MessageFailed.type: "notifySent"}
STATUS_FLAG = {"delivered": "notifyDelivery", "read": "notifyRead", "played": "notifyRead"}
BY_WHO_ACTED = (MessageReaction, MessageEdited, MessageRevoked, PollVoted)


def webhook_stream_id(instance_id: str) -> str:
    """The stream where an instance's delivery results are recorded (its sender is the one writer)."""
    return str(uuid.uuid5(_NS, f"webhooks:{instance_id}"))


def delivery_id(recorded: RecordedEvent) -> str:
    """Stable per event, across retries, rebuilds and store switches: (stream, version) never changes."""
    return str(uuid.uuid5(_NS, f"{recorded.stream_id}:{recorded.version}"))


def body_bytes(event_type: str, data: dict[str, Any], timestamp_ms: int) -> bytes:
    return json.dumps(
        {"event": event_type, "data": data, "timestamp": iso_ms(timestamp_ms)},
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()


def signature(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


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
    if not settings.get("webhookEnabled") or not settings.get("webhookUrl"):
        return False
    if recorded.type not in PUBLIC_EVENT_TYPES:
        return False
    flag = notify_flag(recorded)
    return flag is None or bool(settings["settings"].get(flag))


class OutboxProjection:
    name: str = "outbox"
    collections: tuple[Collection, ...] = (DELIVERIES, SETTINGS)
    topics: tuple[str, ...] = (
        InstanceCreated.type,
        InstanceDeleted.type,
        WebhookDelivered.type,
        WebhookFailed.type,
        WebhookRetryRequested.type,
        *PUBLIC_EVENT_TYPES,  # every event that may become a webhook, `webhook_updated` among them
    )

    def apply(self, session: ReadSession, recorded: RecordedEvent) -> None:
        e = recorded.event
        ts = recorded.timestamp_ms
        if isinstance(e, InstanceCreated):
            session.put(
                SETTINGS,
                e.instance_id,
                {
                    "instanceId": e.instance_id,
                    "webhookUrl": e.webhook_url,
                    "webhookEnabled": e.webhook_enabled,
                    "settings": e.webhook_settings,
                },
            )
        elif isinstance(e, InstanceDeleted):
            session.delete(SETTINGS, e.instance_id)
            return
        elif isinstance(e, WebhookDelivered | WebhookFailed | WebhookRetryRequested):
            self._result(session, recorded)
            return
        settings = session.get(SETTINGS, recorded.stream_id)
        if settings is None:
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
        if not wants(settings, recorded):
            return
        body = body_bytes(recorded.type, event_data(recorded), ts)
        did = delivery_id(recorded)
        conf = settings["settings"]
        headers = {str(k): str(v) for k, v in (conf.get("headers") or {}).items()}
        headers.update(
            {
                "Content-Type": "application/json",
                "X-Webhook-Event": recorded.type,
                "X-Webhook-Id": did,
            }
        )
        if conf.get("secret"):
            headers["X-Webhook-Signature"] = signature(conf["secret"], body)
        session.put(
            DELIVERIES,
            did,
            {
                "id": did,
                "instanceId": recorded.stream_id,
                "event": recorded.type,
                "url": settings["webhookUrl"],
                "headers": headers,
                "body": body.decode(),
                "maxRetries": int(conf.get("maxRetries", 3)),
                "retryInterval": int(conf.get("retryInterval", 60000)),
                "status": "pending",
                "attempts": 0,
                "lastStatusCode": None,
                "lastError": None,
                "position": recorded.position,
                "createdMs": ts,
                "createdAt": iso_ms(ts),
                "updatedAt": iso_ms(ts),
                "deliveredAt": None,
            },
        )

    @staticmethod
    def _result(session: ReadSession, recorded: RecordedEvent) -> None:
        e = recorded.event
        row = session.get(DELIVERIES, e.delivery_id)  # type: ignore[attr-defined]
        if row is None:
            return
        row["updatedAt"] = iso_ms(recorded.timestamp_ms)
        if isinstance(e, WebhookDelivered):
            row.update(
                status="delivered",
                attempts=e.attempts,
                lastStatusCode=e.status_code,
                lastError=None,
                deliveredAt=iso_ms(recorded.timestamp_ms),
                latencyMs=e.latency_ms,
            )
        elif isinstance(e, WebhookFailed):
            row.update(status="failed", attempts=e.attempts, lastStatusCode=e.status_code, lastError=e.error)
        elif isinstance(e, WebhookRetryRequested):
            row.update(status="pending", attempts=0, position=recorded.position)
        session.put(DELIVERIES, row["id"], row)
