"""Admin-only routes that drive the simulated WhatsApp network (only with WHATSAPP_TRANSPORT=simulator)."""

from __future__ import annotations

import base64
import binascii
import time
from typing import Any

from quart import Blueprint, Response, current_app, jsonify

from wamux.core.ports import IncomingMessage, MediaPayload, RemoteContact, SimulatorControl
from wamux.domain.errors import NotFound, ValidationFailed
from wamux.domain.ids import random_message_id
from wamux.domain.phones import is_group, jid_number, to_jid
from wamux.http.auth import owned_instance, require_admin
from wamux.http.bodies import body_limit, json_body, text_field
from wamux.http.services import Services

bp = Blueprint("simulator", __name__)

MEDIA_TYPES = (("image/", "image"), ("video/", "video"), ("audio/", "audio"))


def control() -> tuple[Services, SimulatorControl]:
    s: Services = current_app.config["services"]
    if s.simulator is None:
        raise NotFound("route not found")
    require_admin()
    return s, s.simulator


def ok(extra: dict[str, Any] | None = None) -> Response:
    return jsonify({"success": True, **(extra or {})})


@bp.post("/api/simulator/instances/<instance_id>/scan")
async def scan(instance_id: str) -> Response:
    s, sim = control()
    actor = owned_instance(s, instance_id)
    body = await json_body(required=False)
    phone = text_field(body, "phone", required=False, max_len=40)
    number = jid_number(to_jid(phone)) if phone else None
    await sim.scan(instance_id, number, text_field(body, "pushName", required=False, max_len=100))
    await actor.wait_status(("connected",), 10.0)
    return ok({"status": actor.status})


def _media(body: dict[str, Any]) -> tuple[str, MediaPayload | None]:
    raw = body.get("media")
    if raw is None:
        return "text", None
    if not isinstance(raw, dict) or not isinstance(raw.get("data"), str):
        raise ValidationFailed("media must be an object with base64 data", details={"media": "invalid"})
    try:
        data = base64.b64decode(raw["data"], validate=True)
    except (binascii.Error, ValueError):
        raise ValidationFailed("media.data is not valid base64", details={"media.data": "invalid"}) from None
    mime = raw.get("mimeType") or "application/octet-stream"
    kind = next((k for prefix, k in MEDIA_TYPES if mime.startswith(prefix)), "document")
    if mime == "image/webp" and raw.get("sticker"):
        kind = "sticker"
    return kind, MediaPayload(data=data, mime_type=mime, file_name=raw.get("fileName"))


@bp.post("/api/simulator/instances/<instance_id>/incoming")
@body_limit(lambda s: s.max_upload_bytes * 4 // 3 + 64 * 1024)  # base64 media up to MAX_UPLOAD_MB
async def incoming(instance_id: str) -> Response:
    s, sim = control()
    owned_instance(s, instance_id)
    body = await json_body()
    sender = to_jid(text_field(body, "from", max_len=60) or "")
    group = body.get("group")
    if group is not None:
        group = to_jid(str(group))
        if not is_group(group):
            raise ValidationFailed("group must be a <id>@g.us JID", details={"group": "invalid"})
    kind, media = _media(body)
    text = text_field(body, "body", required=media is None)
    message_id = text_field(body, "messageId", required=False, max_len=100) or random_message_id()
    message = IncomingMessage(
        message_id=message_id,
        chat_jid=group or sender,
        sender_jid=sender,
        message_type=kind,
        body=text if media is None else None,
        caption=text if media is not None else None,
        push_name=text_field(body, "pushName", required=False, max_len=100),
        is_group=group is not None,
        timestamp=int(time.time()),
        mime_type=media.mime_type if media else None,
        file_name=media.file_name if media else None,
        media=media,
    )
    await sim.incoming(instance_id, message)
    return jsonify({"messageId": message_id})


@bp.post("/api/simulator/instances/<instance_id>/receipt")
async def receipt(instance_id: str) -> Response:
    s, sim = control()
    owned_instance(s, instance_id)
    body = await json_body()
    message_id = text_field(body, "messageId", max_len=100)
    status = text_field(body, "status", max_len=20)
    assert message_id is not None and status is not None
    await sim.receipt(instance_id, message_id, status)
    return ok()


@bp.post("/api/simulator/instances/<instance_id>/disconnect")
async def disconnect(instance_id: str) -> Response:
    s, sim = control()
    owned_instance(s, instance_id)
    body = await json_body(required=False)
    logged_out = body.get("loggedOut", False)
    if not isinstance(logged_out, bool):
        raise ValidationFailed("loggedOut must be true or false", details={"loggedOut": "invalid"})
    reason = text_field(body, "reason", required=False, max_len=100) or (
        "logged_out_from_phone" if logged_out else "connection_lost"
    )
    await sim.disconnect(instance_id, reason, logged_out)
    return ok()


@bp.put("/api/simulator/instances/<instance_id>/contacts")
async def contacts(instance_id: str) -> Response:
    s, sim = control()
    owned_instance(s, instance_id)
    body = await json_body()
    items = body.get("contacts")
    if not isinstance(items, list):
        raise ValidationFailed("contacts must be a list", details={"contacts": "invalid"})
    book = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise ValidationFailed(f"contacts[{i}] must be an object", details={f"contacts[{i}]": "invalid"})
        jid = to_jid(str(item.get("phone") or item.get("id") or ""))
        flag = item.get("isGroup", False)
        if not isinstance(flag, bool):
            raise ValidationFailed(
                f"contacts[{i}].isGroup must be true or false", details={f"contacts[{i}]": "invalid"}
            )
        name = text_field(item, "name", required=False, max_len=200)
        book.append(RemoteContact(jid=jid, name=name, number=jid_number(jid), is_group=flag or is_group(jid)))
    sim.set_contacts(instance_id, book)
    return ok({"count": len(book)})


@bp.get("/api/simulator/instances/<instance_id>/outbox")
async def outbox(instance_id: str) -> Response:
    s, sim = control()
    owned_instance(s, instance_id)
    return jsonify({"messages": sim.outbox(instance_id)})


@bp.post("/api/simulator/instances/<instance_id>/faults")
async def faults(instance_id: str) -> Response:
    s, sim = control()
    owned_instance(s, instance_id)
    body = await json_body()
    return ok({"faults": sim.set_faults(instance_id, body)})
