"""Instance management and connection: create, list, get, update, delete, status, QR, pair, reconnect, logout."""

from __future__ import annotations

import io
from typing import Any

import segno
from quart import Blueprint, Response, current_app, jsonify, request

from wamux.core.instance_actor import InstanceActor
from wamux.domain.clock import iso_ms
from wamux.domain.errors import Conflict, QrUnavailable, ValidationFailed
from wamux.domain.phones import jid_number
from wamux.domain.proxy import masked_settings
from wamux.http.auth import current_user, is_admin, owned_instance
from wamux.http.bodies import json_body, text_field
from wamux.http.services import Services

bp = Blueprint("instances", __name__)

# How long `/reconnect` waits for the new attempt to show where it goes (a QR code, connected, a failure).
RECONNECT_SETTLE_S = 5.0
SETTLED = ("qr", "connected", "disconnected", "logged_out", "failed")


def services() -> Services:
    s: Services = current_app.config["services"]
    return s


def retrying_at(actor: InstanceActor) -> str | None:
    """When the next connection attempt starts, while the instance backs off after a failure."""
    at = actor.problem.retrying_at_ms
    return iso_ms(at) if at is not None and actor.reconnecting else None


def connection_status(actor: InstanceActor) -> dict[str, Any]:
    """The status, and the last connection problem: its cause in words, when it retries, failed connects in a row."""
    return {
        "ready": actor.status == "connected",
        "status": actor.status,
        "hasQr": actor.qr_code is not None,
        "lastError": actor.problem.last_error,
        "retryingAt": retrying_at(actor),
        "attempts": actor.problem.attempts,
    }


def instance_json(actor: InstanceActor, *, with_settings: bool = False) -> dict[str, Any]:
    i = actor.instance
    cluster = services().cluster
    out: dict[str, Any] = {
        "id": i.id,
        "name": i.name,
        "description": i.description,
        "userId": i.user_id,
        "status": actor.status,
        "webhookUrl": i.webhook_url,
        "webhookEnabled": i.webhook_enabled,
        "limits": i.limits,
        "settings": masked_settings(i.settings),
        "phone": jid_number(i.jid) if i.jid else None,
        "jid": i.jid,
        "linked": i.linked,
        "pushName": i.push_name,
        "createdAt": iso_ms(i.created_ms),
        "updatedAt": iso_ms(i.updated_ms),
        "lastActivity": iso_ms(actor.last_activity_ms) if actor.last_activity_ms else None,
        "connectionStatus": connection_status(actor),
        "node": cluster.node_of(i.id) if cluster is not None else None,  # the node that runs it (API-2 §10)
    }
    if with_settings:
        out["webhookSettings"] = {"instanceId": i.id, **i.webhook_settings}
    return out


def status_json(actor: InstanceActor) -> dict[str, Any]:
    details = connection_status(actor)
    return {
        "instanceId": actor.id,
        **details,
        "lastActivity": iso_ms(actor.last_activity_ms) if actor.last_activity_ms else None,
        "connectionDetails": details,
    }


@bp.post("/api/instances")
async def create_instance() -> Response:
    body = await json_body(
        allowed=(
            "name",
            "description",
            "webhookUrl",
            "webhookEnabled",
            "notifyReceived",
            "notifySent",
            "notifyDelivery",
            "notifyRead",
            "maxRetries",
            "retryInterval",
            "webhookSecret",
            "headers",
            "webhookSettings",
            "limits",
            "settings",
        )
    )
    actor = await services().usecases.instances.create(current_user(), body)
    response = jsonify(instance_json(actor))
    response.status_code = 201
    return response


@bp.get("/api/instances")
async def list_instances() -> Response:
    s = services()
    rows = await s.queries.instances(None if is_admin() else current_user().id)
    out = []
    for row in rows:
        actor = s.supervisor.actors.get(row["id"])
        if actor is not None and not actor.instance.deleted:
            out.append(instance_json(actor))
    return jsonify({"instances": out})


@bp.get("/api/instances/<instance_id>")
async def get_instance(instance_id: str) -> Response:
    return jsonify(instance_json(owned_instance(services(), instance_id), with_settings=True))


@bp.put("/api/instances/<instance_id>")
async def update_instance(instance_id: str) -> Response:
    owned_instance(services(), instance_id)
    body = await json_body(
        allowed=("name", "description", "webhookUrl", "webhookEnabled", "webhookSettings", "limits", "settings")
    )
    actor = await services().usecases.instances.update(current_user(), instance_id, body)
    return jsonify(instance_json(actor, with_settings=True))  # the same object as GET


@bp.delete("/api/instances/<instance_id>")
async def delete_instance(instance_id: str) -> Response:
    await services().usecases.instances.delete(current_user(), instance_id)
    return jsonify({"success": True, "message": f"Instance {instance_id} deleted successfully"})


@bp.get("/api/instances/<instance_id>/status")
async def instance_status(instance_id: str) -> Response:
    return jsonify(status_json(owned_instance(services(), instance_id)))


@bp.get("/api/whatsapp/<instance_id>/status")
async def whatsapp_status(instance_id: str) -> Response:
    return jsonify(connection_status(owned_instance(services(), instance_id)))


@bp.get("/api/instances/<instance_id>/qr")
@bp.get("/api/whatsapp/<instance_id>/qr")
async def qr(instance_id: str) -> Response:
    actor = owned_instance(services(), instance_id)
    fmt = request.args.get("format", "json").lower()
    if fmt not in ("json", "png", "svg"):
        raise ValidationFailed("format must be png or svg", details={"format": "invalid"})
    if actor.status == "connected":
        return qr_conflict(
            Conflict("instance is already connected", details={"status": "connected", "reason": "connected"}),
            code="already_connected",
            status="connected",
        )
    if actor.qr_code is None:
        reason = actor.why_no_qr()
        if reason is not None:
            return qr_conflict(qr_unavailable(actor, reason), code=QrUnavailable.code, status=actor.status)
        response = jsonify(
            {
                "message": "QR code generation in progress. Please try again in a few seconds.",
                "status": "generating",
            }
        )
        response.status_code = 202
        return response
    if fmt == "json":
        return jsonify({"qrCode": actor.qr_code, "attempt": actor.instance.qr_attempt})
    code = segno.make(actor.qr_code, error="l")
    buf = io.BytesIO()
    if fmt == "png":
        code.save(buf, kind="png", scale=6, border=2)
        return Response(buf.getvalue(), mimetype="image/png", headers={"Cache-Control": "no-store"})
    code.save(buf, kind="svg", scale=6, border=2, xmldecl=False)
    return Response(buf.getvalue(), mimetype="image/svg+xml", headers={"Cache-Control": "no-store"})


def qr_conflict(error: Conflict, *, code: str, status: str) -> Response:
    """A 409 of `/qr`: the error with the status beside it, as API.md has it for a connected instance."""
    response = jsonify({"error": error.message, "code": code, "status": status, "details": error.details})
    response.status_code = 409
    return response


def qr_unavailable(actor: InstanceActor, reason: str) -> QrUnavailable:
    """409 `qr_unavailable`: why no QR code can come now, and what brings one."""
    p, at = actor.problem, retrying_at(actor)
    cause = f" ({p.last_error})" if p.last_error else ""
    again = f"POST /api/instances/{actor.id}/reconnect"
    if actor.status == "logged_out":
        message = f"no QR code: the instance is logged out; {again} to link it again"
    elif reason == "linked":
        message = "no QR code needed: the device is linked and connecting"
    elif at is not None:
        message = f"no QR code now: the instance is disconnected{cause}; it tries again at {at} (or {again})"
    else:
        message = f"no QR code: the instance is {actor.status}{cause}; {again} to get one"
    details = {"status": actor.status, "reason": reason, "retryingAt": at, "lastError": p.last_error}
    return QrUnavailable(message, details={**details, "attempts": p.attempts})


@bp.post("/api/instances/<instance_id>/pair")
async def pair(instance_id: str) -> Response:
    owned_instance(services(), instance_id)
    body = await json_body(allowed=("phone",), needs=("phone",))
    phone = text_field(body, "phone", max_len=40) or ""
    code = await services().usecases.instances.pair(current_user(), instance_id, phone)
    return jsonify({"pairingCode": code})


@bp.post("/api/instances/<instance_id>/reconnect")
async def reconnect(instance_id: str) -> Response:
    actor = await services().usecases.instances.reconnect(current_user(), instance_id)
    await actor.wait_status(SETTLED, RECONNECT_SETTLE_S)  # a moment, to say where the new attempt went
    return jsonify({"success": True, "status": actor.status, "message": reconnect_message(actor)})


def reconnect_message(actor: InstanceActor) -> str:
    """What a /reconnect led to, in a few words."""
    p, at = actor.problem, retrying_at(actor)
    if actor.status == "qr":
        return "waiting for a QR scan"
    if actor.status in ("connected", "connecting"):
        return actor.status
    if actor.status == "disconnected":
        cause = f": {p.last_error}" if p.last_error else ""
        return f"could not connect{cause}" + (f"; retrying at {at}" if at else "")
    if actor.status == "failed":
        return "failed" + (f": {p.last_error}" if p.last_error else "")
    return actor.status.replace("_", " ")


@bp.post("/api/instances/<instance_id>/logout")
@bp.post("/api/whatsapp/<instance_id>/logout")
async def logout(instance_id: str) -> Response:
    await services().usecases.instances.logout(current_user(), instance_id)
    return jsonify({"success": True, "message": f"Instance {instance_id} logged out"})
