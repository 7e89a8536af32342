"""Groups (API-2 §4): list, create, read, change, picture, participants, invite links, join, leave."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, current_app, jsonify

from wamux.domain.errors import ValidationFailed
from wamux.domain.groups import MAX_GROUP_DESCRIPTION, MAX_SUBJECT, group_jid
from wamux.http.auth import current_user, owned_instance
from wamux.http.bodies import body_limit, bool_arg, json_body, name_field, text_field
from wamux.http.services import Services
from wamux.http.uploads import PICTURE_MAX_BYTES, picture_bytes

bp = Blueprint("groups", __name__)


def services() -> Services:
    s: Services = current_app.config["services"]
    return s


def _participants(body: dict[str, Any]) -> list[str]:
    value = body.get("participants")
    if not isinstance(value, list):
        raise ValidationFailed("participants must be a list of phones", details={"participants": "invalid"})
    return value


@bp.get("/api/whatsapp/<instance_id>/groups")
async def list_groups(instance_id: str) -> Response:
    groups = await services().usecases.groups.joined(current_user(), instance_id, refresh=bool_arg("refresh"))
    return jsonify({"groups": [{k: v for k, v in g.items() if k != "participants"} for g in groups]})


@bp.post("/api/whatsapp/<instance_id>/groups")
async def create_group(instance_id: str) -> Response:
    owned_instance(services(), instance_id)
    body = await json_body(allowed=("subject", "participants"), needs=("subject", "participants"))
    subject = name_field(body, "subject", max_len=MAX_SUBJECT) or ""
    group = await services().usecases.groups.create(current_user(), instance_id, subject, _participants(body))
    response = jsonify(group)
    response.status_code = 201
    return response


@bp.post("/api/whatsapp/<instance_id>/groups/join")
async def join_group(instance_id: str) -> Response:
    owned_instance(services(), instance_id)
    body = await json_body(allowed=("link", "code"))
    link = text_field(body, "link", required=False, max_len=300)
    code = text_field(body, "code", required=False, max_len=100)
    if link is None and code is None:
        raise ValidationFailed("give an invite link or its code", details={"link": "required"})
    group_id = await services().usecases.groups.join(current_user(), instance_id, link=link, code=code)
    return jsonify({"groupId": group_id})


@bp.get("/api/whatsapp/<instance_id>/groups/<group:group_id>")
async def get_group(instance_id: str, group_id: str) -> Response:
    return jsonify(await services().usecases.groups.get(current_user(), instance_id, group_jid(group_id)))


@bp.put("/api/whatsapp/<instance_id>/groups/<group:group_id>")
async def update_group(instance_id: str, group_id: str) -> Response:
    owned_instance(services(), instance_id)
    gid = group_jid(group_id)
    body = await json_body(allowed=("subject", "description", "announce", "locked"))
    changes: dict[str, Any] = {}
    if "subject" in body:
        changes["subject"] = name_field(body, "subject", max_len=MAX_SUBJECT)
    if "description" in body:
        changes["description"] = text_field(body, "description", required=False, max_len=MAX_GROUP_DESCRIPTION) or ""
    for flag in ("announce", "locked"):
        if flag in body:
            if not isinstance(body[flag], bool):
                raise ValidationFailed(f"{flag} must be true or false", details={flag: "invalid"})
            changes[flag] = body[flag]
    if not changes:
        raise ValidationFailed("give subject, description, announce or locked", details={"subject": "required"})
    group = await services().usecases.groups.update(current_user(), instance_id, gid, changes)
    return jsonify(group)


@bp.put("/api/whatsapp/<instance_id>/groups/<group:group_id>/picture")
@body_limit(lambda s: PICTURE_MAX_BYTES + 64 * 1024)
async def group_picture(instance_id: str, group_id: str) -> Response:
    s = services()
    owned_instance(s, instance_id)
    gid = group_jid(group_id)
    data = await picture_bytes(s, allow_url=True)
    await s.usecases.groups.set_picture(current_user(), instance_id, gid, data)
    return jsonify({"success": True})


@bp.post("/api/whatsapp/<instance_id>/groups/<group:group_id>/participants")
async def participants(instance_id: str, group_id: str) -> Response:
    owned_instance(services(), instance_id)
    gid = group_jid(group_id)
    body = await json_body(allowed=("action", "participants"), needs=("action", "participants"))
    action = body.get("action")
    if not isinstance(action, str):
        raise ValidationFailed("action must be add, remove, promote or demote", details={"action": "invalid"})
    results = await services().usecases.groups.participants(
        current_user(), instance_id, gid, action, _participants(body)
    )
    return jsonify({"results": [{"jid": r.jid, "status": r.status} for r in results]})


@bp.get("/api/whatsapp/<instance_id>/groups/<group:group_id>/invite")
async def invite(instance_id: str, group_id: str) -> Response:
    return jsonify(await services().usecases.groups.invite(current_user(), instance_id, group_jid(group_id)))


@bp.post("/api/whatsapp/<instance_id>/groups/<group:group_id>/invite/revoke")
async def revoke_invite(instance_id: str, group_id: str) -> Response:
    gid = group_jid(group_id)
    return jsonify(await services().usecases.groups.invite(current_user(), instance_id, gid, revoke=True))


@bp.post("/api/whatsapp/<instance_id>/groups/<group:group_id>/leave")
async def leave(instance_id: str, group_id: str) -> Response:
    await services().usecases.groups.leave(current_user(), instance_id, group_jid(group_id))
    return jsonify({"success": True})
