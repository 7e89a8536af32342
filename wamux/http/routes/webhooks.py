"""Webhook deliveries: list (newest first), retry one, retry all failed and cancelled, and a test send.

The targets themselves (list, add, change, remove, replay) are `webhook_targets.py`.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, current_app, jsonify, request

from wamux.core.webhook_dispatcher import Attempt
from wamux.domain.catalog import DELIVERY_STATUSES
from wamux.domain.clock import iso_ms
from wamux.domain.errors import ValidationFailed
from wamux.domain.events import DEFAULT_WEBHOOK_ID
from wamux.http.auth import current_user, owned_instance
from wamux.http.bodies import int_arg, pagination, text_arg
from wamux.http.services import Services
from wamux.projections.outbox import event_id_of, webhook_id_of

bp = Blueprint("webhooks", __name__)


def services() -> Services:
    s: Services = current_app.config["services"]
    return s


def delivery_json(row: dict[str, Any], live: Attempt | None) -> dict[str, Any]:
    """A delivery row as the API shows it; `live`: the dispatcher's attempts of a pending row, if any.

    While pending, `nextAttemptAt` is always set (due now, or the lane's next retry) and `lastError` is
    the last try's; a delivered row has no `lastError`.
    """
    status = row["status"]
    out = {
        "id": row["id"],
        "instanceId": row["instanceId"],
        "webhookId": webhook_id_of(row),
        "eventId": event_id_of(row),
        "event": row["event"],
        "status": status,
        "attempts": row["attempts"],
        "lastStatusCode": row.get("lastStatusCode"),
        "responseStatus": row.get("lastStatusCode"),
        "lastError": None if status == "delivered" else row.get("lastError"),
        "url": row["url"],
        "createdAt": row["createdAt"],
        "updatedAt": row["updatedAt"],
        "deliveredAt": row.get("deliveredAt"),
        "nextAttemptAt": None,
    }
    if status == "pending":
        due = int(row.get("nextAttemptMs") or row.get("createdMs") or 0)
        out.update(lastError=None, nextAttemptAt=iso_ms(due))
        if live is not None and live.attempts:  # being retried right now: the attempts so far
            out.update(
                attempts=live.attempts,
                lastStatusCode=live.status_code,
                responseStatus=live.status_code,
                lastError=live.error,
                nextAttemptAt=iso_ms(max(due, live.next_attempt_ms or 0)),
            )
    return out


def webhook_id_arg() -> str | None:
    raw = text_arg("webhookId", max_len=64)
    return raw or None


@bp.get("/api/instances/<instance_id>/webhook/deliveries")
async def deliveries(instance_id: str) -> Response:
    s = services()
    actor = owned_instance(s, instance_id)
    status = request.args.get("status")
    if status is not None and status not in DELIVERY_STATUSES:
        raise ValidationFailed(f"status must be one of {', '.join(DELIVERY_STATUSES)}", details={"status": "invalid"})
    limit = int_arg("limit", 50, low=1, high=500)
    skip = int_arg("skip", 0, low=0, high=10**9)
    page = await s.queries.deliveries(actor.id, status=status, webhook_id=webhook_id_arg(), skip=skip, limit=limit)
    rows = [delivery_json(r, s.webhooks.attempt_of(r["id"])) for r in page.rows]
    return jsonify({"deliveries": rows, "pagination": pagination(page.total, limit, skip)})


@bp.post("/api/instances/<instance_id>/webhook/deliveries/<delivery_id>/retry")
async def retry(instance_id: str, delivery_id: str) -> Response:
    s = services()
    await s.usecases.webhooks.retry(current_user(), instance_id, delivery_id)
    row = await s.queries.delivery(delivery_id)
    return jsonify(
        {"success": True, "delivery": delivery_json(row, s.webhooks.attempt_of(delivery_id)) if row else None}
    )


@bp.post("/api/instances/<instance_id>/webhook/deliveries/retry-failed")
async def retry_failed(instance_id: str) -> Response:
    s = services()
    count = await s.usecases.webhooks.retry_failed(current_user(), instance_id, webhook_id_arg())
    return jsonify({"success": True, "count": count, "message": f"{count} deliveries queued again"})


@bp.post("/api/instances/<instance_id>/webhook/test")
async def test(instance_id: str) -> Response:
    s = services()
    webhook_id = webhook_id_arg() or DEFAULT_WEBHOOK_ID
    return jsonify(await s.usecases.webhooks.test(current_user(), instance_id, webhook_id))
