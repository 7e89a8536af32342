"""Webhook deliveries: list, retry one, retry all failed, and a test send."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, current_app, jsonify, request

from wamux.domain.catalog import DELIVERY_STATUSES
from wamux.domain.clock import iso_ms
from wamux.domain.errors import Conflict, NotFound, ValidationFailed
from wamux.http.auth import owned_instance
from wamux.http.bodies import int_arg, pagination
from wamux.http.services import Services

bp = Blueprint("webhooks", __name__)


def services() -> Services:
    s: Services = current_app.config["services"]
    return s


def delivery_json(row: dict[str, Any]) -> dict[str, Any]:
    out = {
        "id": row["id"],
        "instanceId": row["instanceId"],
        "event": row["event"],
        "status": row["status"],
        "attempts": row["attempts"],
        "lastStatusCode": row["lastStatusCode"],
        "responseStatus": row["lastStatusCode"],
        "lastError": row["lastError"],
        "url": row["url"],
        "createdAt": row["createdAt"],
        "updatedAt": row["updatedAt"],
        "deliveredAt": row.get("deliveredAt"),
        "nextAttemptAt": None,
    }
    live = services().webhooks.attempt_of(row["id"]) if row["status"] == "pending" else None
    if live is not None:  # a row being retried right now: show the attempts so far
        out.update(
            attempts=live.attempts,
            lastStatusCode=live.status_code,
            responseStatus=live.status_code,
            lastError=live.error,
            nextAttemptAt=iso_ms(live.next_attempt_ms) if live.next_attempt_ms else None,
        )
    return out


@bp.get("/api/instances/<instance_id>/webhook/deliveries")
async def deliveries(instance_id: str) -> Response:
    s = services()
    actor = owned_instance(s, instance_id)
    status = request.args.get("status")
    if status is not None and status not in DELIVERY_STATUSES:
        raise ValidationFailed("status must be pending, delivered or failed", details={"status": "invalid"})
    limit = int_arg("limit", 50, low=1, high=500)
    skip = int_arg("skip", 0, low=0, high=10**9)
    page = await s.queries.deliveries(actor.id, status=status, skip=skip, limit=limit)
    return jsonify(
        {"deliveries": [delivery_json(r) for r in page.rows], "pagination": pagination(page.total, limit, skip)}
    )


@bp.post("/api/instances/<instance_id>/webhook/deliveries/<delivery_id>/retry")
async def retry(instance_id: str, delivery_id: str) -> Response:
    s = services()
    actor = owned_instance(s, instance_id)
    if not await s.webhooks.retry(actor.id, delivery_id):
        raise NotFound("delivery not found")
    row = await s.queries.delivery(delivery_id)
    return jsonify({"success": True, "delivery": delivery_json(row) if row else None})


@bp.post("/api/instances/<instance_id>/webhook/deliveries/retry-failed")
async def retry_failed(instance_id: str) -> Response:
    s = services()
    actor = owned_instance(s, instance_id)
    count = await s.webhooks.retry_failed(actor.id)
    return jsonify({"success": True, "count": count, "message": f"{count} deliveries queued again"})


@bp.post("/api/instances/<instance_id>/webhook/test")
async def test(instance_id: str) -> Response:
    s = services()
    actor = owned_instance(s, instance_id)
    url = actor.instance.webhook_url
    if not url:
        raise Conflict("the instance has no webhookUrl", details={"webhookUrl": "missing"})
    # Refused before any connection: for users this route must not probe private networks.
    await s.usecases.instances.check_webhook_url(url, owner_id=actor.instance.user_id)
    return jsonify(await s.webhooks.test(actor.id, url, actor.instance.webhook_settings))
