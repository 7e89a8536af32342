"""The Instance aggregate: one WhatsApp account's settings and connection state."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

from wamux.domain import webhook_targets as targets
from wamux.domain.catalog import INITIAL_STATUS, STATUS_AFTER
from wamux.domain.errors import Conflict, Problems, ValidationFailed
from wamux.domain.events import (
    Connected,
    DomainEvent,
    InstanceCreated,
    InstanceDeleted,
    InstanceUpdated,
    LoggedOut,
    QrReceived,
    WebhookUpdated,
)
from wamux.domain.outbound import check_custom_headers, check_outbound_url
from wamux.domain.proxy import check_proxy
from wamux.domain.text import check_display_name

WEBHOOK_DEFAULTS: dict[str, Any] = {
    "notifyReceived": True,
    "notifySent": True,
    "notifyDelivery": False,
    "notifyRead": False,
    "maxRetries": 3,
    "retryInterval": 60000,
    "secret": None,
    "headers": {},
}
_BOOL_SETTINGS = ("notifyReceived", "notifySent", "notifyDelivery", "notifyRead")
LIMIT_PERIODS = ("day", "month")
_SETTINGS = ("sendIntervalMs", "rejectCalls", "alwaysOnline", "syncHistory", "rejectCallMessage", "proxy")
MAX_NAME = 100
MAX_DESCRIPTION = 1000


def _fail(field_name: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, details={field_name: message})


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise _fail("name", "name is required")
    if len(name) > MAX_NAME:
        raise _fail("name", f"name must be at most {MAX_NAME} characters")
    return check_display_name("name", name).strip()


def check_description(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_DESCRIPTION:
        raise _fail("description", f"description must be a string of at most {MAX_DESCRIPTION} characters")
    return value


def check_webhook_url(value: Any) -> str | None:
    if value is None or value == "":
        return None
    check_outbound_url(value, "webhookUrl")
    return str(value)


def check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _fail(name, f"{name} must be true or false")
    return value


def _webhook_setting(key: str, value: Any) -> Any:
    """One webhook setting, validated."""
    if key not in WEBHOOK_DEFAULTS:
        raise _fail(key, f"unknown webhook setting {key}")
    if key in _BOOL_SETTINGS:
        return check_bool(key, value)
    # The same rules as every other webhook target's (`webhook_targets`).
    if key == "maxRetries":
        return targets.check_max_retries(value)
    if key == "retryInterval":
        return targets.check_retry_interval(value)
    if key == "secret":
        return targets.check_secret(value)
    return check_custom_headers(value)  # headers


def merge_webhook_settings(current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Validated webhook settings: `current` with `changes` applied (unknown keys refused, every problem at once)."""
    result = dict(current)
    problems = Problems()
    for key, value in changes.items():
        if key != "instanceId":
            result[key] = problems.attempt(partial(_webhook_setting, key, value), None)
    problems.raise_any()
    return result


def _webhook_settings_in(body: dict[str, Any]) -> dict[str, Any]:
    """The body's `webhookSettings` object; null or absent is "none given", anything else but an object a 400."""
    raw = body.get("webhookSettings")
    if raw is not None and not isinstance(raw, dict):
        raise _fail("webhookSettings", "webhookSettings must be an object")
    return raw or {}


def check_limits(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _fail("limits", "limits must be an object")
    out: dict[str, Any] = {}
    problems = Problems()
    for key in ("maxMessagesSent", "maxApiCalls"):
        if value.get(key) is not None:
            n = value[key]
            if not isinstance(n, int) or isinstance(n, bool) or n < 0:
                problems.add(_fail(f"limits.{key}", f"{key} must be a non-negative integer"))
            out[key] = n
    period = value.get("period", "day")
    if period not in LIMIT_PERIODS:
        problems.add(_fail("limits.period", "period must be day or month"))
    unknown = sorted(set(value) - {"maxMessagesSent", "maxApiCalls", "period"})
    if unknown:
        problems.add(_fail("limits", f"unknown limit{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}"))
    problems.raise_any()
    out["period"] = period
    return out


def check_settings(value: Any, current: dict[str, Any] | None = None) -> dict[str, Any]:
    """The account settings given (unknown keys refused); `current` lets a masked proxy keep its password."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _fail("settings", "settings must be an object")
    problems = Problems()
    unknown = [str(key) for key in value if key not in _SETTINGS]
    if unknown:
        problems.add(_fail("settings", f"unknown setting{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}"))
    out = {
        key: problems.attempt(partial(_setting, key, item, current or {}), None)
        for key, item in value.items()
        if key in _SETTINGS
    }
    problems.raise_any()
    return out


def _setting(key: str, item: Any, current: dict[str, Any]) -> Any:
    """One account setting, validated."""
    if key == "sendIntervalMs":
        if not isinstance(item, int) or isinstance(item, bool) or not 0 <= item <= 60_000:
            raise _fail("settings.sendIntervalMs", "sendIntervalMs must be 0..60000")
        return item
    if key in ("rejectCalls", "alwaysOnline", "syncHistory"):
        return check_bool(f"settings.{key}", item)
    if key == "rejectCallMessage":
        if item is not None and (not isinstance(item, str) or len(item) > 1000):
            raise _fail("settings.rejectCallMessage", "rejectCallMessage must be text of at most 1000 characters")
        return item or None
    return check_proxy(item, current.get("proxy"))  # proxy


@dataclass
class Instance:
    """State of one instance, folded from its lifecycle and connection events."""

    id: str
    user_id: str = ""
    name: str = ""
    description: str | None = None
    webhook_url: str | None = None
    webhook_enabled: bool = False
    webhook_settings: dict[str, Any] = field(default_factory=lambda: dict(WEBHOOK_DEFAULTS))
    webhook_targets: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> target (not the default)
    limits: dict[str, Any] | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    status: str = INITIAL_STATUS
    jid: str | None = None
    push_name: str | None = None
    linked: bool = False
    qr_attempt: int = 0
    created_ms: int = 0
    updated_ms: int = 0
    deleted: bool = False

    @classmethod
    def create(cls, instance_id: str, user_id: str, body: dict[str, Any]) -> list[DomainEvent]:
        settings_in = {k: body[k] for k in WEBHOOK_DEFAULTS if k in body and k not in ("secret",)}
        if "webhookSecret" in body:
            settings_in["secret"] = body["webhookSecret"]
        p = Problems()  # every field's problem in one 400
        settings_in.update(p.attempt(partial(_webhook_settings_in, body), dict[str, Any]()))
        enabled = body.get("webhookEnabled")
        url = p.attempt(partial(check_webhook_url, body.get("webhookUrl")), None)
        event = InstanceCreated(
            instance_id=instance_id,
            user_id=user_id,
            name=p.attempt(partial(check_name, body.get("name")), ""),
            description=p.attempt(partial(check_description, body.get("description")), None),
            webhook_url=url,
            webhook_enabled=p.attempt(partial(check_bool, "webhookEnabled", enabled), False)
            if enabled is not None
            else bool(url),
            webhook_settings=p.attempt(partial(merge_webhook_settings, WEBHOOK_DEFAULTS, settings_in), {}),
            limits=p.attempt(partial(check_limits, body.get("limits")), None),
            settings=p.attempt(partial(check_settings, body.get("settings")), {}),
        )
        p.raise_any()
        return [event]

    def update(self, body: dict[str, Any]) -> list[DomainEvent]:
        """`updated` for plain fields, `webhook_updated` when any webhook setting changes."""
        self._alive()
        p = Problems()  # every field's problem in one 400
        changes: dict[str, Any] = {}
        if "name" in body:
            changes["name"] = p.attempt(partial(check_name, body["name"]), "")
        if "description" in body:
            changes["description"] = p.attempt(partial(check_description, body["description"]), None)
        if "limits" in body:
            changes["limits"] = p.attempt(partial(check_limits, body["limits"]), None)
        if "settings" in body:
            given = p.attempt(partial(check_settings, body["settings"], self.settings), dict[str, Any]())
            changes["settings"] = {**self.settings, **given}
        changes = {k: v for k, v in changes.items() if getattr(self, k) != v}

        url = self.webhook_url
        if "webhookUrl" in body:
            url = p.attempt(partial(check_webhook_url, body["webhookUrl"]), None)
        enabled = self.webhook_enabled
        if "webhookEnabled" in body:
            enabled = p.attempt(partial(check_bool, "webhookEnabled", body["webhookEnabled"]), False)
        given_settings = p.attempt(partial(_webhook_settings_in, body), dict[str, Any]())
        settings = p.attempt(partial(merge_webhook_settings, self.webhook_settings, given_settings), dict[str, Any]())
        p.raise_any()
        changed = [
            name
            for name, before, after in (
                ("webhookUrl", self.webhook_url, url),
                ("webhookEnabled", self.webhook_enabled, enabled),
            )
            if before != after
        ] + sorted(k for k in settings if settings[k] != self.webhook_settings.get(k))

        events: list[DomainEvent] = []
        if changes:
            events.append(InstanceUpdated(instance_id=self.id, changes=changes))
        if changed:
            events.append(
                WebhookUpdated(
                    instance_id=self.id,
                    webhook_url=url,
                    webhook_enabled=enabled,
                    webhook_settings=settings,
                    changed=changed,
                )
            )
        return events

    def add_target(self, webhook_id: str, body: Any, now_ms: int) -> list[DomainEvent]:
        """A new webhook target (`wamux.domain.webhook_targets`: validation, limit, slot)."""
        self._alive()
        return targets.add_target(self.webhook_targets, self.id, webhook_id, body, now_ms)

    def update_target(self, webhook_id: str, body: Any) -> list[DomainEvent]:
        self._alive()
        return targets.update_target(self.webhook_targets, self.id, webhook_id, body)

    def remove_target(self, webhook_id: str) -> list[DomainEvent]:
        self._alive()
        return targets.remove_target(self.webhook_targets, self.id, webhook_id)

    def delete(self) -> list[DomainEvent]:
        self._alive()
        return [InstanceDeleted(instance_id=self.id)]

    def _alive(self) -> None:
        if self.deleted:
            raise Conflict("instance is deleted")

    def apply(self, event: DomainEvent, timestamp_ms: int) -> None:
        if isinstance(event, InstanceCreated):
            self.user_id = event.user_id
            self.name = event.name
            self.description = event.description
            self.webhook_url = event.webhook_url
            self.webhook_enabled = event.webhook_enabled
            self.webhook_settings = dict(event.webhook_settings)
            self.limits = event.limits
            self.settings = dict(event.settings)
            self.created_ms = timestamp_ms
        elif isinstance(event, InstanceUpdated):
            for key, value in event.changes.items():
                setattr(self, key, value)
        elif isinstance(event, WebhookUpdated):
            self.webhook_url = event.webhook_url
            self.webhook_enabled = event.webhook_enabled
            self.webhook_settings = dict(event.webhook_settings)
        elif isinstance(event, InstanceDeleted):
            self.deleted = True
        elif isinstance(event, QrReceived):
            self.qr_attempt = event.attempt
        elif isinstance(event, Connected):
            self.linked = True
            self.jid = event.jid or self.jid
            self.push_name = event.push_name or self.push_name
        elif isinstance(event, LoggedOut):
            self.linked = False
        targets.fold_target(self.webhook_targets, event, timestamp_ms)
        self.status = STATUS_AFTER.get(type(event), self.status)
        if isinstance(event, InstanceCreated | InstanceUpdated | WebhookUpdated):
            self.updated_ms = timestamp_ms
