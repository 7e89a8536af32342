"""Instance management and connection: create, list, get, update, delete, status, QR, pair, reconnect, logout."""

from __future__ import annotations

import io
from typing import Any

import segno
from quart import Blueprint, Response, current_app, jsonify, request

from wamux.core.instance_actor import InstanceActor
from wamux.domain.clock import iso_ms
from wamux.domain.errors import ValidationFailed
from wamux.domain.phones import jid_number
from wamux.http.auth import current_user, is_admin, owned_instance
from wamux.http.bodies import json_body, text_field
from wamux.http.services import Services

bp = Blueprint("instances", __name__)


def services() -> Services:
    s: Services = current_app.config["services"]
    return s


def connection_status(actor: InstanceActor) -> dict[str, Any]:
    return {"ready": actor.status == "connected", "status": actor.status, "hasQr": actor.qr_code is not None}


def instance_json(actor: InstanceActor, *, with_settings: bool = False) -> dict[str, Any]:
    i = actor.instance
    out: dict[str, Any] = {
        "id": i.id,
        "name": i.name,
        "description": i.description,
        "userId": i.user_id,
        "status": actor.status,
        "webhookUrl": i.webhook_url,
        "webhookEnabled": i.webhook_enabled,
        "limits": i.limits,
        "settings": i.settings,
        "phone": jid_number(i.jid) if i.jid else None,
        "pushName": i.push_name,
        "createdAt": iso_ms(i.created_ms),
        "updatedAt": iso_ms(i.updated_ms),
        "lastActivity": iso_ms(actor.last_activity_ms) if actor.last_activity_ms else None,
        "connectionStatus": connection_status(actor),
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
    body = await json_body()
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
    body = await json_body()
    actor = await services().usecases.instances.update(current_user(), instance_id, body)
    i = actor.instance
    return jsonify(
        {
            "id": i.id,
            "name": i.name,
            "description": i.description,
            "webhookUrl": i.webhook_url,
            "webhookEnabled": i.webhook_enabled,
            "limits": i.limits,
            "settings": i.settings,
            "webhookSettings": {"instanceId": i.id, **i.webhook_settings},
            "updatedAt": iso_ms(i.updated_ms),
        }
    )


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
        response = jsonify(
            {"error": "instance is already connected", "code": "already_connected", "status": "connected"}
        )
        response.status_code = 409
        return response
    if actor.qr_code is None:
        if actor.idle:
            response = jsonify(
                {
                    "error": f"instance is {actor.status}; "
                    f"POST /api/instances/{instance_id}/reconnect to get a QR code",
                    "code": "not_connecting",
                    "status": actor.status,
                }
            )
            response.status_code = 409
            return response
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


@bp.post("/api/instances/<instance_id>/pair")
async def pair(instance_id: str) -> Response:
    owned_instance(services(), instance_id)
    body = await json_body()
    phone = text_field(body, "phone", max_len=40) or ""
    code = await services().usecases.instances.pair(current_user(), instance_id, phone)
    return jsonify({"pairingCode": code})


@bp.post("/api/instances/<instance_id>/reconnect")
async def reconnect(instance_id: str) -> Response:
    await services().usecases.instances.reconnect(current_user(), instance_id)
    return jsonify({"success": True, "message": f"Instance {instance_id} reconnected"})


@bp.post("/api/instances/<instance_id>/logout")
@bp.post("/api/whatsapp/<instance_id>/logout")
async def logout(instance_id: str) -> Response:
    await services().usecases.instances.logout(current_user(), instance_id)
    return jsonify({"success": True, "message": f"Instance {instance_id} logged out"})
