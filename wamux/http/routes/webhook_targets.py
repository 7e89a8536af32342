"""Webhook targets of an instance (API-2 §7): list, add, change, remove, replay.

The default target (`id: "default"`) is the instance's own `webhookUrl` and settings; up to 10 more
targets each have their own URL, event list, secret, headers and retries. Deliveries are
`webhooks.py`.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, current_app, jsonify

from wamux.core.usecases.webhooks import TargetView
from wamux.domain.clock import iso_ms, parse_iso_ms
from wamux.domain.errors import ValidationFailed
from wamux.domain.events.base import REDACTED
from wamux.domain.webhook_targets import is_active
from wamux.http.auth import current_user
from wamux.http.bodies import json_body
from wamux.http.routes.events import decode_cursor, encode_cursor
from wamux.http.services import Services

bp = Blueprint("webhook_targets", __name__)


def services() -> Services:
    s: Services = current_app.config["services"]
    return s


def target_json(view: TargetView) -> dict[str, Any]:
    """A target as listed: its config (the secret masked), its backlog and its lane's state.

    `state`: `disabled` (off, or no URL), `retrying` (its lane retries a delivery: `nextAttemptAt`,
    `lastError`), else `ok`.
    """
    conf, retrying = view.config, view.retrying
    state = "disabled" if not is_active(conf) else ("retrying" if retrying is not None else "ok")
    return {
        "id": view.id,
        "url": conf.get("url"),
        "events": list(conf.get("events") or []),
        "secret": REDACTED if conf.get("secret") else None,
        "headers": dict(conf.get("headers") or {}),
        "enabled": bool(conf.get("enabled")),
        "maxRetries": conf.get("maxRetries"),
        "retryInterval": conf.get("retryInterval"),
        "createdAt": iso_ms(view.created_ms),
        "updatedAt": iso_ms(view.updated_ms),
        "pending": view.counts.get("pending", 0),
        "failed": view.counts.get("failed", 0),
        "cancelled": view.counts.get("cancelled", 0),
        "state": state,
        "nextAttemptAt": iso_ms(retrying.next_attempt_ms) if retrying and retrying.next_attempt_ms else None,
        "lastError": retrying.error if retrying else None,
    }


@bp.get("/api/instances/<instance_id>/webhooks")
async def list_targets(instance_id: str) -> Response:
    views = await services().usecases.webhooks.targets(current_user(), instance_id)
    return jsonify({"webhooks": [target_json(v) for v in views]})


@bp.post("/api/instances/<instance_id>/webhooks")
async def add_target(instance_id: str) -> tuple[Response, int]:
    body = await json_body(allowed=("url", "events", "secret", "headers", "enabled", "maxRetries", "retryInterval"))
    view = await services().usecases.webhooks.add(current_user(), instance_id, body)
    return jsonify(target_json(view)), 201


@bp.put("/api/instances/<instance_id>/webhooks/<webhook_id>")
async def update_target(instance_id: str, webhook_id: str) -> Response:
    body = await json_body(allowed=("url", "events", "secret", "headers", "enabled", "maxRetries", "retryInterval"))
    view = await services().usecases.webhooks.update(current_user(), instance_id, webhook_id, body)
    return jsonify(target_json(view))


@bp.delete("/api/instances/<instance_id>/webhooks/<webhook_id>")
async def remove_target(instance_id: str, webhook_id: str) -> Response:
    await services().usecases.webhooks.remove(current_user(), instance_id, webhook_id)
    return jsonify({"success": True, "message": f"Webhook {webhook_id} deleted"})


@bp.post("/api/instances/<instance_id>/webhooks/<webhook_id>/replay")
async def replay(instance_id: str, webhook_id: str) -> Response:
    """`{since}` (ISO 8601, inclusive) or `{after}` (an `/events` cursor, exclusive): exactly one."""
    body = await json_body(allowed=("since", "after"))
    given = [name for name in ("since", "after") if body.get(name) is not None]
    if len(given) != 1:
        message = "give exactly one of since (an ISO 8601 date) or after (a cursor from /events)"
        raise ValidationFailed(message, details={"since": message, "after": message})
    after: tuple[int, int]
    if given == ["after"]:
        if not isinstance(body["after"], str):
            raise ValidationFailed("after is not a cursor from this API", details={"after": "invalid"})
        after = decode_cursor(body["after"])
    else:
        try:
            since = parse_iso_ms(body["since"]) if isinstance(body["since"], str) else None
        except ValueError:
            since = None
        if since is None:
            raise ValidationFailed("since must be an ISO 8601 date", details={"since": "invalid"})
        after = (since - 1, 2**62)  # every event stamped `since` or later
    outcome = await services().usecases.webhooks.replay(current_user(), instance_id, webhook_id, after)
    return jsonify(
        {
            "queued": outcome.queued,
            "truncated": outcome.truncated,
            "cursor": encode_cursor(*outcome.resume) if outcome.resume else None,
        }
    )
