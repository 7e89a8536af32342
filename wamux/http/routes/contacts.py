"""Contacts: live from WhatsApp, the contacts read model, add / save / import."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, current_app, jsonify

from wamux.domain.errors import ValidationFailed
from wamux.domain.phones import is_group, jid_number, to_jid
from wamux.http.auth import current_user, owned_instance
from wamux.http.bodies import bool_arg, int_arg, json_body, name_field, pagination, text_arg, text_field
from wamux.http.services import Services

bp = Blueprint("contacts", __name__)


def services() -> Services:
    s: Services = current_app.config["services"]
    return s


def _public(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "updatedMs"}


@bp.get("/api/whatsapp/<instance_id>/contacts")
@bp.get("/api/instances/<instance_id>/contacts")
async def live_contacts(instance_id: str) -> Response:
    contacts = await services().usecases.contacts.live(current_user(), instance_id)
    return jsonify(
        {"contacts": [{"id": c.jid, "name": c.name, "number": c.number, "isGroup": c.is_group} for c in contacts]}
    )


@bp.post("/api/whatsapp/<instance_id>/contacts/add")
@bp.post("/api/instances/<instance_id>/contacts/add")
async def add_contact(instance_id: str) -> Response:
    owned_instance(services(), instance_id)
    body = await json_body(allowed=("phone", "name"), needs=("phone", "name"))
    jid = to_jid(text_field(body, "phone", max_len=100) or "")
    name = name_field(body, "name", max_len=200)
    await services().usecases.contacts.add(current_user(), instance_id, jid, name)
    return jsonify(
        {
            "success": True,
            "message": f"Contact {name} added",
            "contact": {"id": jid, "number": jid_number(jid), "name": name},
        }
    )


@bp.get("/api/whatsapp/<instance_id>/contacts/db")
@bp.get("/api/instances/<instance_id>/contacts/db")
async def stored_contacts(instance_id: str) -> Response:
    s = services()
    actor = owned_instance(s, instance_id)
    limit = int_arg("limit", 100, low=1, high=1000)
    skip = int_arg("skip", 0, low=0, high=10**9)
    search = (text_arg("search", max_len=200) or "").strip() or None
    page = await s.queries.contacts(actor.id, only_groups=bool_arg("onlyGroups"), search=search, skip=skip, limit=limit)
    return jsonify({"contacts": [_public(r) for r in page.rows], "pagination": pagination(page.total, limit, skip)})


@bp.post("/api/whatsapp/<instance_id>/contacts/import")
@bp.post("/api/instances/<instance_id>/contacts/import")
async def import_contacts(instance_id: str) -> Response:
    count = await services().usecases.contacts.import_all(current_user(), instance_id)
    return jsonify({"success": True, "message": f"Imported {count} contacts", "importedCount": count})


@bp.post("/api/whatsapp/<instance_id>/contacts/save")
@bp.post("/api/instances/<instance_id>/contacts/save")
async def save_contact(instance_id: str) -> Response:
    s = services()
    actor = owned_instance(s, instance_id)
    body = await json_body(
        allowed=("number", "name", "pushName", "isGroup", "profilePicture", "about"), needs=("number",)
    )
    jid = to_jid(text_field(body, "number", max_len=100) or "")
    group = body.get("isGroup", is_group(jid))
    if not isinstance(group, bool):
        raise ValidationFailed("isGroup must be true or false", details={"isGroup": "invalid"})
    await s.usecases.contacts.save(
        current_user(),
        instance_id,
        jid,
        name=name_field(body, "name", required=False, max_len=200),
        push_name=name_field(body, "pushName", required=False, max_len=200),
        is_group_chat=group,
        profile_picture=text_field(body, "profilePicture", required=False, max_len=2048),
        about=text_field(body, "about", required=False, max_len=1024),
    )
    doc = await s.queries.contact(actor.id, jid)
    return jsonify(_public(doc or {}))
