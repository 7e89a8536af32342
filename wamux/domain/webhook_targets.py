"""Webhook targets of an instance: validation, the limit, slots, and which events each one wants.

An instance always has its **default target** (`webhookUrl` + `webhookEnabled` + `webhookSettings`,
id "default", slot 0, events chosen by the notify flags) and may have up to `MAX_TARGETS` more, each
with its own URL, event list (`["*"]` for every public event), secret, headers and retry policy.
A target is `{url, events, secret, headers, enabled, maxRetries, retryInterval, slot, createdMs}`;
the instance folds `updatedMs` in. Pure rules: no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from typing import Any

from wamux.domain.catalog import PUBLIC_EVENT_TYPES
from wamux.domain.clock import iso_ms
from wamux.domain.errors import TooManyWebhooks, ValidationFailed, WebhookNotFound
from wamux.domain.events import (
    DEFAULT_WEBHOOK_ID,
    DomainEvent,
    RecordedEvent,
    WebhookTargetAdded,
    WebhookTargetRemoved,
    WebhookTargetUpdated,
)
from wamux.domain.events.base import REDACTED
from wamux.domain.outbound import check_custom_headers, check_outbound_url

MAX_TARGETS = 10  # besides the default target
ALL_EVENTS = "*"
MAX_SECRET = 512
MAX_RETRIES = 50
MAX_RETRY_INTERVAL_MS = 86_400_000
TARGET_DEFAULTS: dict[str, Any] = {
    "enabled": True,
    "secret": None,
    "headers": {},
    "maxRetries": 3,
    "retryInterval": 60000,
}
EDITABLE_FIELDS = ("url", "events", "secret", "headers", "enabled", "maxRetries", "retryInterval")
# A change of one of these sends the target's pending deliveries out again with it, at once.
DELIVERY_FIELDS = ("url", "secret", "headers", "maxRetries", "retryInterval")
# Fields of a listed target that a client may send back unchanged (a form that PUTs what it read): ignored.
READ_ONLY_FIELDS = frozenset(
    {
        "id",
        "instanceId",
        "createdAt",
        "updatedAt",
        "pending",
        "failed",
        "cancelled",
        "state",
        "nextAttemptAt",
        "lastError",
    }
)
# The default target's fields on the instance's own settings (`PUT /api/instances/{id}` names).
_DEFAULT_TARGET_SETTINGS = ("secret", "headers", "maxRetries", "retryInterval")
_NOTIFY_FLAGS = ("notifyReceived", "notifySent", "notifyDelivery", "notifyRead")


def _fail(field_name: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, details={field_name: message})


def new_target_id() -> str:
    """`wh_` and 12 random hex digits (never "default")."""
    return "wh_" + secrets.token_hex(6)


def check_max_retries(value: Any, field_name: str = "maxRetries") -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_RETRIES:
        raise _fail(field_name, f"maxRetries must be an integer from 0 to {MAX_RETRIES}")
    return value


def check_retry_interval(value: Any, field_name: str = "retryInterval") -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_RETRY_INTERVAL_MS:
        raise _fail(field_name, f"retryInterval must be milliseconds from 0 to {MAX_RETRY_INTERVAL_MS}")
    return value


def check_secret(value: Any, field_name: str = "secret") -> str | None:
    if value is not None and (not isinstance(value, str) or len(value) > MAX_SECRET):
        raise _fail(field_name, f"secret must be a string of at most {MAX_SECRET} characters")
    return value or None


def check_events(value: Any) -> list[str]:
    """A non-empty list of public event names, or `["*"]`; every unknown name is listed in the 400."""
    if not isinstance(value, list) or not value:
        raise _fail("events", 'events must be a non-empty list of event names, or ["*"]')
    if not all(isinstance(name, str) for name in value):
        raise _fail("events", "events must be a list of strings")
    unknown = [name for name in dict.fromkeys(value) if name != ALL_EVENTS and name not in PUBLIC_EVENT_TYPES]
    if unknown:
        raise ValidationFailed(
            f"unknown event names: {', '.join(unknown)}",
            details={"events": f"unknown event names: {', '.join(unknown)}", "unknown": unknown},
        )
    if ALL_EVENTS in value:
        return [ALL_EVENTS]
    return list(dict.fromkeys(value))


def _check_bool(field_name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _fail(field_name, f"{field_name} must be true or false")
    return value


def _body(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail("body", "the body must be a JSON object")
    for key in value:
        if key not in EDITABLE_FIELDS and key not in READ_ONLY_FIELDS:
            raise _fail(str(key), f"unknown field {key}")
    return value


def check_target(body: Any, current: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The editable fields of a target: `current` (None: a new one) with `body` applied, validated.

    A new target needs `url` and `events`. A `secret` of `"***"` (as listed) keeps the current one.
    """
    given = _body(body)
    out: dict[str, Any] = (
        {k: current[k] for k in EDITABLE_FIELDS if k in current} if current is not None else dict(TARGET_DEFAULTS)
    )
    if current is None:
        for required in ("url", "events"):
            if required not in given:
                raise _fail(required, f"{required} is required")
    for key, value in given.items():
        if key in READ_ONLY_FIELDS:
            continue
        if key == "url":
            check_outbound_url(value, "url")
            out["url"] = value
        elif key == "events":
            out["events"] = check_events(value)
        elif key == "secret":
            if value != REDACTED:
                out["secret"] = check_secret(value)
        elif key == "headers":
            out["headers"] = check_custom_headers(value, "headers")
        elif key == "enabled":
            out["enabled"] = _check_bool("enabled", value)
        elif key == "maxRetries":
            out["maxRetries"] = check_max_retries(value)
        elif key == "retryInterval":
            out["retryInterval"] = check_retry_interval(value)
    return out


def free_slot(targets: Mapping[str, Mapping[str, Any]]) -> int:
    """The lowest slot 1..MAX_TARGETS no target holds (slot 0 is the default target's)."""
    taken = {int(t.get("slot", 0)) for t in targets.values()}
    for slot in range(1, MAX_TARGETS + 1):
        if slot not in taken:
            return slot
    raise _too_many()


def _too_many() -> TooManyWebhooks:
    return TooManyWebhooks(
        f"an instance may have at most {MAX_TARGETS} webhook targets besides the default one",
        details={"webhooks": f"at most {MAX_TARGETS}"},
    )


def add_target(
    targets: Mapping[str, Mapping[str, Any]], instance_id: str, webhook_id: str, body: Any, now_ms: int
) -> list[DomainEvent]:
    """`webhook_target_added`, or 409 `too_many_webhooks` past the limit, 400 for a bad field."""
    if webhook_id == DEFAULT_WEBHOOK_ID or webhook_id in targets:
        raise ValueError(f"webhook id {webhook_id} is taken")
    if len(targets) >= MAX_TARGETS:
        raise _too_many()
    target = check_target(body)
    target.update(slot=free_slot(targets), createdMs=now_ms)
    return [WebhookTargetAdded(instance_id=instance_id, webhook_id=webhook_id, target=target)]


def target_of(targets: Mapping[str, Mapping[str, Any]], webhook_id: str) -> Mapping[str, Any]:
    target = targets.get(webhook_id)
    if target is None:
        raise WebhookNotFound(f"webhook {webhook_id} not found", details={"webhookId": webhook_id})
    return target


def update_target(
    targets: Mapping[str, Mapping[str, Any]], instance_id: str, webhook_id: str, body: Any
) -> list[DomainEvent]:
    """`webhook_target_updated` naming the changed fields; nothing when nothing changes."""
    current = target_of(targets, webhook_id)
    edited = check_target(body, current)
    changed = [k for k in EDITABLE_FIELDS if edited.get(k) != current.get(k)]
    if not changed:
        return []
    target = {**edited, "slot": current.get("slot", 0), "createdMs": current.get("createdMs", 0)}
    return [WebhookTargetUpdated(instance_id=instance_id, webhook_id=webhook_id, target=target, changed=changed)]


def remove_target(targets: Mapping[str, Mapping[str, Any]], instance_id: str, webhook_id: str) -> list[DomainEvent]:
    target_of(targets, webhook_id)
    return [WebhookTargetRemoved(instance_id=instance_id, webhook_id=webhook_id)]


def fold_target(targets: dict[str, dict[str, Any]], event: DomainEvent, timestamp_ms: int) -> None:
    """Apply one target event to an instance's targets (id -> target with `updatedMs`)."""
    if isinstance(event, WebhookTargetAdded | WebhookTargetUpdated):
        targets[event.webhook_id] = {**event.target, "updatedMs": timestamp_ms}
    elif isinstance(event, WebhookTargetRemoved):
        targets.pop(event.webhook_id, None)


def is_active(target: Mapping[str, Any]) -> bool:
    """Whether deliveries go to this target now: enabled and with a URL."""
    return bool(target.get("enabled")) and bool(target.get("url"))


def wants(target: Mapping[str, Any], recorded: RecordedEvent) -> bool:
    """Whether a target (not the default one: see `wamux.projections.outbox.wants`) gets this event."""
    if not is_active(target) or recorded.type not in PUBLIC_EVENT_TYPES:
        return False
    events = target.get("events") or ()
    return ALL_EVENTS in events or recorded.type in events


def default_target_changes(body: Any) -> dict[str, Any]:
    """A `PUT .../webhooks/default` body as the instance update it means (its `webhookUrl` and settings).

    `events` is refused: the default target's events follow the notify flags, which may be given too.
    """
    given = _body_with_flags(body)
    if "events" in given:
        raise _fail(
            "events",
            "the default target's events follow notifyReceived, notifySent, notifyDelivery and notifyRead; "
            "add a target for an event list of its own",
        )
    changes: dict[str, Any] = {}
    settings: dict[str, Any] = {}
    for key, value in given.items():
        if key == "url":
            changes["webhookUrl"] = value
        elif key == "enabled":
            changes["webhookEnabled"] = value
        elif key == "secret":
            if value != REDACTED:
                settings["secret"] = value
        elif key in _DEFAULT_TARGET_SETTINGS or key in _NOTIFY_FLAGS:
            settings[key] = value
    if settings:
        changes["webhookSettings"] = settings
    return changes


def _body_with_flags(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail("body", "the body must be a JSON object")
    for key in value:
        if key not in EDITABLE_FIELDS and key not in READ_ONLY_FIELDS and key not in _NOTIFY_FLAGS:
            raise _fail(str(key), f"unknown field {key}")
    return {k: v for k, v in value.items() if k not in READ_ONLY_FIELDS}


# ---- what goes on the wire ------------------------------------------------------------------


def body_bytes(event_type: str, data: dict[str, Any], timestamp_ms: int) -> bytes:
    return json.dumps(
        {"event": event_type, "data": data, "timestamp": iso_ms(timestamp_ms)},
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()


def signature(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def delivery_headers(
    conf: dict[str, Any], event_type: str, event_id: str, webhook_id: str, body: bytes
) -> dict[str, str]:
    """The target's custom headers, then ours (the signature with its current secret over `body`)."""
    headers = {str(k): str(v) for k, v in (conf.get("headers") or {}).items()}
    headers.update(
        {
            "Content-Type": "application/json",
            "X-Webhook-Event": event_type,
            "X-Webhook-Id": event_id,
            "X-Webhook-Target": webhook_id,
        }
    )
    if conf.get("secret"):
        headers["X-Webhook-Signature"] = signature(str(conf["secret"]), body)
    return headers
