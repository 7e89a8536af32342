"""Admin-only routes that drive the simulated WhatsApp network (only with WHATSAPP_TRANSPORT=simulator).

What arrives is read in `simulator_events`; what stages the network (the directory of people, the
groups the account is in) is read here.
"""

from __future__ import annotations

import time
from typing import Any

from quart import Blueprint, Response, current_app, jsonify

from wamux.core.ports import (
    DirectoryEntry,
    GroupInfo,
    GroupParticipant,
    IncomingMessage,
    PollVoteIn,
    RemoteContact,
    SimulatorControl,
)
from wamux.domain.errors import NotFound, ValidationFailed
from wamux.domain.groups import MAX_GROUP_DESCRIPTION, MAX_SUBJECT
from wamux.domain.phones import is_group, jid_number, to_jid
from wamux.http.auth import owned_instance, require_admin
from wamux.http.bodies import body_limit, json_body, name_field, text_field
from wamux.http.routes.simulator_events import (
    MAX_GROUP_SIZE,
    bool_field,
    call_event,
    group_event,
    group_id_field,
    incoming_event,
    invalid,
    lid_field,
    list_field,
    optional_bool,
    phone_field,
    presence_event,
)
from wamux.http.services import Services

bp = Blueprint("simulator", __name__)
MAX_DIRECTORY = 10_000
MAX_GROUPS = 1_000
# A simulated history sync: at most this many chats, messages per chat, and messages in all.
HISTORY_CHATS = 1_000
HISTORY_PER_CHAT = 1_000
HISTORY_MESSAGES = 200_000


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
    body = await json_body(allowed=("phone", "pushName"), required=False)
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
    event = incoming_event(
        await json_body(
            allowed=(
                "from",
                "group",
                "messageId",
                "pushName",
                "quotedMessageId",
                "mentions",
                "forwarded",
                "type",
                "body",
                "media",
                "latitude",
                "longitude",
                "name",
                "address",
                "contacts",
                "question",
                "options",
                "selectableCount",
                "emoji",
            )
        ),
        int(time.time()),
    )
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
    await sim.deliver(instance_id, presence_event(await json_body(allowed=("from", "state", "group"))))
    return ok()


@bp.put("/api/simulator/instances/<instance_id>/directory")
async def directory(instance_id: str) -> Response:
    """Who has WhatsApp, as `check`, profiles and groups will answer for this instance's account."""
    s, sim = control()
    owned_instance(s, instance_id)
    numbers = directory_entries(await json_body(allowed=("numbers",)))
    sim.set_directory(instance_id, numbers)
    return ok({"count": len(numbers)})


@bp.put("/api/simulator/instances/<instance_id>/groups")
async def groups(instance_id: str) -> Response:
    """The groups the simulated account is in; the core reads them on connect and on `?refresh=true`."""
    s, sim = control()
    owned_instance(s, instance_id)
    staged = group_list(await json_body(allowed=("groups",)))
    sim.set_groups(instance_id, staged)
    return ok({"count": len(staged)})


@bp.post("/api/simulator/instances/<instance_id>/group-event")
async def group_event_route(instance_id: str) -> Response:
    """Another member changed a group (or added us to one): the network's group changes, the event arrives."""
    s, sim = control()
    owned_instance(s, instance_id)
    await sim.deliver(
        instance_id,
        group_event(
            await json_body(
                allowed=("groupId", "action", "subject", "description", "announce", "locked", "participants", "by")
            )
        ),
    )
    return ok()


@bp.post("/api/simulator/instances/<instance_id>/call")
async def call(instance_id: str) -> Response:
    s, sim = control()
    owned_instance(s, instance_id)
    event = call_event(await json_body(allowed=("from", "isVideo", "isGroup", "callId")), int(time.time()))
    await sim.deliver(instance_id, event)
    return ok({"callId": event.call_id})


@bp.post("/api/simulator/instances/<instance_id>/history")
async def history(instance_id: str) -> Response:
    """WhatsApp pushes a generated history sync of `chats` × `messagesPerChat` messages; answers once it is recorded."""
    s, sim = control()
    owned_instance(s, instance_id)
    body = await json_body(allowed=("chats", "messagesPerChat"))
    chats = _count(body, "chats", HISTORY_CHATS)
    per_chat = _count(body, "messagesPerChat", HISTORY_PER_CHAT)
    if chats * per_chat > HISTORY_MESSAGES:
        raise invalid("messagesPerChat", f"chats × messagesPerChat must be at most {HISTORY_MESSAGES:,}")
    return jsonify({"messages": await sim.history(instance_id, chats, per_chat), "chats": chats})


@bp.post("/api/simulator/instances/<instance_id>/receipt")
async def receipt(instance_id: str) -> Response:
    s, sim = control()
    owned_instance(s, instance_id)
    body = await json_body(allowed=("messageId", "status"))
    message_id = text_field(body, "messageId", max_len=100)
    status = text_field(body, "status", max_len=20)
    assert message_id is not None and status is not None
    await sim.receipt(instance_id, message_id, status)
    return ok()


@bp.post("/api/simulator/instances/<instance_id>/disconnect")
async def disconnect(instance_id: str) -> Response:
    s, sim = control()
    owned_instance(s, instance_id)
    body = await json_body(allowed=("reason", "loggedOut"), required=False)
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
    body = await json_body(allowed=("contacts",))
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


@bp.get("/api/simulator/instances/<instance_id>/connection")
async def connection(instance_id: str) -> Response:
    """How the simulated session connects: `connected`, `connects` so far, the last connect's `proxy` (masked)."""
    s, sim = control()
    owned_instance(s, instance_id)
    return jsonify(sim.connection(instance_id))


@bp.post("/api/simulator/instances/<instance_id>/faults")
async def faults(instance_id: str) -> Response:
    s, sim = control()
    owned_instance(s, instance_id)
    body = await json_body(
        allowed=(
            "failNextSends",
            "sendLatencyMs",
            "failNextConnects",
            "crashNextConnects",
            "unresponsive",
            "permanentConnectFailure",
            "unreachable",
        )
    )
    return ok({"faults": sim.set_faults(instance_id, body)})


@bp.post("/api/simulator/instances/<instance_id>/network")
async def network(instance_id: str) -> Response:
    """`{"reachable": false}`: every connect is refused ("connection refused") until `true` again."""
    s, sim = control()
    owned_instance(s, instance_id)
    body = await json_body(allowed=("reachable",))
    reachable = body.get("reachable")
    if not isinstance(reachable, bool):
        raise invalid("reachable", "reachable must be true or false", "required" if reachable is None else "invalid")
    sim.set_faults(instance_id, {"unreachable": not reachable})
    return ok({"reachable": reachable})


# ---- what stages the network ----------------------------------------------------------------------


def _count(body: dict[str, object], name: str, high: int) -> int:
    value = body.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= high:
        raise invalid(name, f"{name} must be an integer from 1 to {high:,}", "required" if value is None else "invalid")
    return value


def _object(item: object, field: str) -> dict[str, object]:
    if not isinstance(item, dict):
        raise invalid(field, f"{field} must be an object")
    return item


def directory_entries(body: dict[str, object]) -> list[DirectoryEntry]:
    """`{numbers: [{phone, exists, lid?, name?, about?, isBusiness?}]}`: what the network knows of people."""
    entries = []
    for i, raw in enumerate(list_field(body, "numbers", low=0, high=MAX_DIRECTORY)):
        field = f"numbers[{i}]"
        item = _object(raw, field)
        jid = phone_field(item.get("phone"), f"{field}.phone")
        exists = item.get("exists")
        if not isinstance(exists, bool):
            raise invalid(f"{field}.exists", f"{field}.exists must be true or false", "required")
        try:
            name = name_field(item, "name", required=False, max_len=200)
            about = text_field(item, "about", required=False, max_len=500)
            business = bool_field(item, "isBusiness")
        except ValidationFailed as exc:
            raise invalid(field, f"{field}: {exc.message}") from None
        lid = lid_field(item.get("lid"), f"{field}.lid")
        entries.append(DirectoryEntry(jid_number(jid), exists, lid=lid, name=name, about=about, is_business=business))
    return entries


def group_list(body: dict[str, object]) -> list[GroupInfo]:
    """`{groups: [{id, subject, description?, announce?, locked?, participants: [{phone, isAdmin?, lid?}]}]}`."""
    out = []
    for i, raw in enumerate(list_field(body, "groups", low=0, high=MAX_GROUPS)):
        field = f"groups[{i}]"
        item = _object(raw, field)
        jid = group_id_field(item.get("id"), f"{field}.id")
        try:
            subject = name_field(item, "subject", max_len=MAX_SUBJECT)
            description = text_field(item, "description", required=False, max_len=MAX_GROUP_DESCRIPTION)
            announce, locked = optional_bool(item, "announce"), optional_bool(item, "locked")
        except ValidationFailed as exc:
            raise invalid(field, f"{field}: {exc.message}") from None
        assert subject is not None
        members = [_participant(p, f"{field}.participants[{j}]") for j, p in enumerate(_members(item, field))]
        out.append(
            GroupInfo(
                jid, subject, description, announce=bool(announce), locked=bool(locked), participants=tuple(members)
            )
        )
    return out


def _members(item: dict[str, object], field: str) -> list[object]:
    """The other members of a staged group (none given: the account alone)."""
    if item.get("participants") is None:
        return []
    try:
        return list_field(item, "participants", low=0, high=MAX_GROUP_SIZE)
    except ValidationFailed as exc:
        raise invalid(f"{field}.participants", f"{field}.{exc.message}") from None


def _participant(raw: object, field: str) -> GroupParticipant:
    item = _object(raw, field)
    jid = phone_field(item.get("phone"), f"{field}.phone")
    try:
        admin, super_admin = bool_field(item, "isAdmin"), bool_field(item, "isSuperAdmin")
    except ValidationFailed as exc:
        raise invalid(field, f"{field}: {exc.message}") from None
    lid = lid_field(item.get("lid"), f"{field}.lid")
    return GroupParticipant(jid=jid, lid=lid, is_admin=admin or super_admin, is_super_admin=super_admin)
