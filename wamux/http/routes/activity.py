"""The activity log: an event-store query over the instance's stream, newest first."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, current_app, jsonify

from wamux.core.ports import TimelineQuery
from wamux.domain.catalog import ACTIVITY_TYPES
from wamux.domain.clock import iso_ms
from wamux.domain.events import (
    CallReceived,
    Connected,
    Disconnected,
    InstanceCreated,
    InstanceFailed,
    InstanceUpdated,
    LimitExceeded,
    LoggedOut,
    PairingCodeRequested,
    QrReceived,
    RecordedEvent,
    WebhookUpdated,
)
from wamux.domain.phones import jid_number
from wamux.domain.proxy import masked_settings
from wamux.http.auth import owned_instance
from wamux.http.bodies import date_arg, int_arg, list_arg, pagination
from wamux.http.services import Services

bp = Blueprint("activity", __name__)


def details(recorded: RecordedEvent) -> dict[str, Any]:
    """The useful fields of each action (never secrets or QR payloads)."""
    e = recorded.event
    if isinstance(e, InstanceCreated):
        return {"name": e.name, "webhookEnabled": e.webhook_enabled, "limits": e.limits}
    if isinstance(e, InstanceUpdated):
        # The proxy's password never leaves the log in clear (API-2 §5).
        changes = {k: masked_settings(v) if k == "settings" else v for k, v in e.changes.items()}
        return {"changed": sorted(changes), **changes}
    if isinstance(e, WebhookUpdated):
        return {"changed": e.changed, "webhookUrl": e.webhook_url, "webhookEnabled": e.webhook_enabled}
    if isinstance(e, QrReceived):
        return {"attempt": e.attempt}
    if isinstance(e, PairingCodeRequested):
        return {"phone": e.phone}
    if isinstance(e, Connected):
        return {"phone": jid_number(e.jid) if e.jid else None, "jid": e.jid, "pushName": e.push_name}
    if isinstance(e, Disconnected):
        return {"reason": e.reason, "willReconnect": e.will_reconnect}
    if isinstance(e, LoggedOut):
        return {"reason": e.reason}
    if isinstance(e, LimitExceeded):
        return {"exceededLimits": e.exceeded_limits, "usage": e.usage, "limits": e.limits, "period": e.period_key}
    if isinstance(e, InstanceFailed):
        return {"reason": e.reason, "restarts": e.restarts}
    if isinstance(e, CallReceived):
        return {
            "summary": call_summary(e),
            "from": e.from_jid,
            "isVideo": e.is_video,
            "isGroup": e.is_group,
            "rejected": e.rejected,
        }
    return {}


def call_summary(e: CallReceived) -> str:
    """`Call from +79001110000 (video), rejected`, in words for the activity list."""
    caller = f"+{jid_number(e.from_jid)}" if e.from_jid.endswith("@s.whatsapp.net") else e.from_jid
    kind = " ".join(word for word, on in (("group", e.is_group), ("video", e.is_video)) if on)
    return f"Call from {caller}" + (f" ({kind})" if kind else "") + (", rejected" if e.rejected else "")


@bp.get("/api/instances/<instance_id>/activity")
async def activity(instance_id: str) -> Response:
    s: Services = current_app.config["services"]
    actor = owned_instance(s, instance_id)
    limit = int_arg("limit", 100, low=1, high=1000)
    skip = int_arg("skip", 0, low=0, high=10**9)
    actions = list_arg("actions", ACTIVITY_TYPES) or ACTIVITY_TYPES
    query = TimelineQuery(
        stream_id=actor.id,
        types=actions,
        start_ms=date_arg("startDate"),
        end_ms=date_arg("endDate"),
        newest_first=True,
        skip=skip,
        limit=limit,
    )
    page = await s.store.timeline(query)
    total = await s.store.count_timeline(query)
    logs = [
        {
            "id": str(r.position),
            "instanceId": actor.id,
            "action": r.type,
            "details": details(r),
            "createdAt": iso_ms(r.timestamp_ms),
        }
        for r in page
    ]
    return jsonify({"logs": logs, "pagination": pagination(total, limit, skip)})
