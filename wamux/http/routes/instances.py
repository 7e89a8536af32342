"""Instance management and connection: create, list, get, update, delete, status, QR, pair, reconnect, logout."""

from __future__ import annotations

import io
from typing import Any

import segno
from quart import Blueprint, Response, current_app, jsonify, request

from wamux.core.instance_actor import InstanceActor
from wamux.domain.clock import iso_ms
from wamux.domain.errors import Conflict, ValidationFailed
from wamux.domain.phones import jid_number, to_jid
from wamux.http.auth import current_user, is_admin, owned_instance
from wamux.http.bodies import json_body, text_field
from wamux.http.outbound import check_webhook_url
from wamux.http.services import Services
from wamux.projections.instances import INSTANCES
from wamux.projections.ports import Query

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
    await check_webhook_url(services(), body.get("webhookUrl"), owner_id=current_user().id)
    actor = await services().supervisor.create(current_user().id, body, unlimited=is_admin())
    response = jsonify(instance_json(actor))
    response.status_code = 201
    return response


@bp.get("/api/instances")
async def list_instances() -> Response:
    s = services()
    await s.read_models.synced("instances")
    where = {} if is_admin() else {"userId": current_user().id}
    rows = s.read_models.rm.find(INSTANCES, Query(where=where, order=(("createdMs", False),)))
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
    actor = owned_instance(services(), instance_id)
    body = await json_body()
    if "webhookUrl" in body:
        await check_webhook_url(services(), body["webhookUrl"], owner_id=actor.instance.user_id)
    await actor.ask(lambda: actor.update(body))
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
    s = services()
    owned_instance(s, instance_id)
    await s.supervisor.delete(instance_id)
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
    actor = owned_instance(services(), instance_id)
    body = await json_body()
    phone = text_field(body, "phone", max_len=40)
    assert phone is not None
    jid = to_jid(phone)
    if "@s.whatsapp.net" not in jid:
        raise ValidationFailed("phone must be a phone number", details={"phone": "invalid"})
    if actor.status == "connected":
        raise Conflict("instance is already connected")
    code = await actor.pair(jid_number(jid))
    return jsonify({"pairingCode": code})


@bp.post("/api/instances/<instance_id>/reconnect")
async def reconnect(instance_id: str) -> Response:
    s = services()
    actor = owned_instance(s, instance_id)
    if not actor.running:
        actor = await s.supervisor.restart_failed(instance_id)
    await actor.ask(actor.reconnect)
    return jsonify({"success": True, "message": f"Instance {instance_id} reconnected"})


@bp.post("/api/instances/<instance_id>/logout")
@bp.post("/api/whatsapp/<instance_id>/logout")
async def logout(instance_id: str) -> Response:
    actor = owned_instance(services(), instance_id)
    await actor.ask(actor.logout)
    return jsonify({"success": True, "message": f"Instance {instance_id} logged out"})
