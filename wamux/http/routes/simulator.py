"""Admin-only routes that drive the simulated WhatsApp network (only with WHATSAPP_TRANSPORT=simulator)."""

from __future__ import annotations

import time
from typing import Any

from quart import Blueprint, Response, current_app, jsonify

from wamux.core.ports import IncomingMessage, PollVoteIn, RemoteContact, SimulatorControl
from wamux.domain.errors import NotFound, ValidationFailed
from wamux.domain.phones import is_group, jid_number, to_jid
from wamux.http.auth import owned_instance, require_admin
from wamux.http.bodies import body_limit, json_body, text_field
from wamux.http.routes.simulator_events import directory_numbers, incoming_event, presence_event
from wamux.http.services import Services

bp = Blueprint("simulator", __name__)


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


@bp.post("/api/simulator/instances/<instance_id>/incoming")
@body_limit(lambda s: s.max_upload_bytes * 4 // 3 + 64 * 1024)  # base64 media up to MAX_UPLOAD_MB
async def incoming(instance_id: str) -> Response:
    """A message of any kind arrives, or a reaction, edit, revoke or poll vote on `messageId`."""
    s, sim = control()
    owned_instance(s, instance_id)
    event = incoming_event(await json_body(), int(time.time()))
    if isinstance(event, IncomingMessage):
        await sim.incoming(instance_id, event)
        return jsonify({"messageId": event.message_id})
    await sim.deliver(instance_id, event)
    target = event.poll_message_id if isinstance(event, PollVoteIn) else event.message_id
    return jsonify({"messageId": target})


@bp.post("/api/simulator/instances/<instance_id>/presence")
async def presence(instance_id: str) -> Response:
    s, sim = control()
    owned_instance(s, instance_id)
    await sim.deliver(instance_id, presence_event(await json_body()))
    return ok()


@bp.put("/api/simulator/instances/<instance_id>/directory")
async def directory(instance_id: str) -> Response:
    """Who has WhatsApp, as `check` will answer for this instance's account."""
    s, sim = control()
    owned_instance(s, instance_id)
    numbers = directory_numbers(await json_body())
    sim.set_directory(instance_id, numbers)
    return ok({"count": len(numbers)})


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
