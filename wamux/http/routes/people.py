"""People (API-2 §5): a contact's profile, our own profile and picture, blocking, privacy."""

from __future__ import annotations

from quart import Blueprint, Response, current_app, jsonify

from wamux.core.ports import Profile
from wamux.domain.phones import jid_number
from wamux.http.auth import current_user, owned_instance
from wamux.http.bodies import body_limit, json_body, name_field
from wamux.http.services import Services
from wamux.http.uploads import PICTURE_MAX_BYTES, picture_bytes

bp = Blueprint("people", __name__)

MAX_ABOUT = 139  # WhatsApp's limit for the about text


def services() -> Services:
    s: Services = current_app.config["services"]
    return s


def profile_json(p: Profile, *, own: bool = False) -> dict[str, object]:
    phone = jid_number(p.jid) if p.jid.endswith("@s.whatsapp.net") else None
    out: dict[str, object] = {
        "jid": p.jid,
        "phone": phone,
        "lid": p.lid,
        "name": p.name,
        "about": p.about,
        "pictureUrl": p.picture_url,
    }
    if not own:
        out["pushName"] = p.push_name
        out["isBusiness"] = p.is_business
    return out


@bp.get("/api/whatsapp/<instance_id>/contacts/<contact_id>/profile")
async def contact_profile(instance_id: str, contact_id: str) -> Response:
    profile = await services().usecases.people.profile(current_user(), instance_id, contact_id)
    return jsonify(profile_json(profile))


@bp.post("/api/whatsapp/<instance_id>/contacts/<contact_id>/block")
async def block(instance_id: str, contact_id: str) -> Response:
    await services().usecases.people.set_blocked(current_user(), instance_id, contact_id, True)
    return jsonify({"success": True})


@bp.post("/api/whatsapp/<instance_id>/contacts/<contact_id>/unblock")
async def unblock(instance_id: str, contact_id: str) -> Response:
    await services().usecases.people.set_blocked(current_user(), instance_id, contact_id, False)
    return jsonify({"success": True})


@bp.get("/api/whatsapp/<instance_id>/blocklist")
async def blocklist(instance_id: str) -> Response:
    return jsonify({"blocked": await services().usecases.people.blocklist(current_user(), instance_id)})


@bp.get("/api/whatsapp/<instance_id>/profile")
async def own_profile(instance_id: str) -> Response:
    return jsonify(profile_json(await services().usecases.people.own_profile(current_user(), instance_id), own=True))


@bp.put("/api/whatsapp/<instance_id>/profile")
async def update_own_profile(instance_id: str) -> Response:
    owned_instance(services(), instance_id)
    body = await json_body(allowed=("name", "about"))
    profile = await services().usecases.people.set_own_profile(
        current_user(),
        instance_id,
        name=name_field(body, "name", required=False, max_len=25),
        about=name_field(body, "about", required=False, max_len=MAX_ABOUT),
    )
    return jsonify(profile_json(profile, own=True))


@bp.put("/api/whatsapp/<instance_id>/profile/picture")
@body_limit(lambda s: PICTURE_MAX_BYTES + 64 * 1024)
async def own_picture(instance_id: str) -> Response:
    s = services()
    owned_instance(s, instance_id)
    data = await picture_bytes(s, allow_url=False)
    await s.usecases.people.set_own_picture(current_user(), instance_id, data)
    return jsonify({"success": True})


@bp.get("/api/whatsapp/<instance_id>/privacy")
async def privacy(instance_id: str) -> Response:
    return jsonify(await services().usecases.people.privacy(current_user(), instance_id))


@bp.put("/api/whatsapp/<instance_id>/privacy")
async def set_privacy(instance_id: str) -> Response:
    owned_instance(services(), instance_id)
    body = await json_body(allowed=("lastSeen", "online", "profilePhoto", "about", "groupAdd", "readReceipts"))
    return jsonify(await services().usecases.people.set_privacy(current_user(), instance_id, body))
