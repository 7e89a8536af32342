"""`GET /api/meta`: the server's lists and limits, so clients (the web manager first) keep no copy of them."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, current_app, jsonify

from wamux.domain.catalog import (
    ACTIVITY_TYPES,
    DELIVERY_STATUSES,
    GROUP_EVENT_TYPES,
    INSTANCE_STATUSES,
    PUBLIC_EVENT_TYPES,
    STATUS_EVENT_TYPES,
    WEBHOOK_EVENT_TYPES,
)
from wamux.domain.instances import MAX_DESCRIPTION, MAX_NAME
from wamux.http.auth import is_admin
from wamux.http.bodies import JSON_BODY_LIMIT
from wamux.http.routes.messages import MAX_TEXT
from wamux.http.services import Services

bp = Blueprint("meta", __name__)


def limits(s: Services) -> dict[str, Any]:
    """The limits a client can check before sending; `maxInstances` is the caller's quota (null: none)."""
    return {
        "maxUploadBytes": s.max_upload_bytes,
        "maxJsonBodyBytes": min(JSON_BODY_LIMIT, s.max_body_bytes),
        "maxTextLength": MAX_TEXT,
        "maxNameLength": MAX_NAME,
        "maxDescriptionLength": MAX_DESCRIPTION,
        "maxInstances": None if is_admin() else s.supervisor.max_instances_per_user,
    }


@bp.get("/api/meta")
async def meta() -> Response:
    s: Services = current_app.config["services"]
    return jsonify(
        {
            "version": s.version,
            "instanceStatuses": list(INSTANCE_STATUSES),
            "eventTypes": list(PUBLIC_EVENT_TYPES),
            "statusEventTypes": list(STATUS_EVENT_TYPES),
            "groupEventTypes": list(GROUP_EVENT_TYPES),
            "webhookEvents": list(WEBHOOK_EVENT_TYPES),
            "activityActions": list(ACTIVITY_TYPES),
            "deliveryStatuses": list(DELIVERY_STATUSES),
            "limits": limits(s),
            # Which WhatsApp the server speaks to: the web manager offers its simulator panel only for `simulator`.
            "transport": "simulator" if s.simulator is not None else "neonize",
        }
    )
