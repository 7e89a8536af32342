"""Sending (text, media by URL, file upload), chat list, chat history and stored media."""

from __future__ import annotations

from typing import Any

import trio
from quart import Blueprint, Response, current_app, jsonify, request

from wamux.core.instance_actor import InstanceActor
from wamux.core.ports import OutgoingMessage
from wamux.domain.errors import InstanceNotConnected, NotFound, ValidationFailed
from wamux.domain.events import ChatRead
from wamux.domain.phones import to_jid
from wamux.domain.text import safe_file_name
from wamux.http.auth import current_user, is_admin, owned_instance
from wamux.http.bodies import body_limit, check_text_pairs, date_arg, int_arg, json_body, pagination, text_field
from wamux.http.errors import ApiError
from wamux.http.media_headers import served_mime, stored_media_headers
from wamux.http.services import Services
from wamux.http.usage import subject_to_limits
from wamux.projections.messages import CHATS, MESSAGES, message_key, public_message
from wamux.projections.ports import Query

bp = Blueprint("messages", __name__)

MAX_TEXT = 65536
MULTIPART_OVERHEAD = 64 * 1024  # room for the form's other fields and boundaries around the file


def services() -> Services:
    s: Services = current_app.config["services"]
    return s


def kind_of(mime: str) -> str:
    """Which WhatsApp message kind a sniffed type travels as."""
    if mime in ("image/jpeg", "image/png", "image/webp", "image/gif"):
        return "image"
    for prefix in ("video/", "audio/"):
        if mime.startswith(prefix):
            return prefix[:-1]
    return "document"


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > 200:
        raise ValidationFailed("Idempotency-Key must be 1..200 characters", details={"Idempotency-Key": "invalid"})
    return key


async def _replayed(actor: InstanceActor, key: str | None) -> str | None:
    """The message id a previous request with this key produced (before a restart too)."""
    if key is None:
        return None
    s = services()
    await s.read_models.synced("messages")
    rows = s.read_models.rm.find(MESSAGES, Query(where={"instanceId": actor.id, "idempotencyKey": key}, limit=1))
    if rows and s.clock.now_ms() - rows[0]["createdMs"] < 24 * 3600 * 1000:
        return str(rows[0]["messageId"])
    return None


async def send_through(actor: InstanceActor, message: OutgoingMessage, media_path: str | None = None) -> Response:
    key = _idempotency_key()
    replay = await _replayed(actor, key)
    if replay is not None:
        response = jsonify({"id": replay})
        response.headers["Idempotent-Replayed"] = "true"
        return response
    meter = services().meter if subject_to_limits(current_user(), request.endpoint) else None

    async def in_turn() -> str:
        # Inside the actor's turn: the limit check and the send cannot interleave with another send.
        if meter is not None:
            await meter.enforce(actor, sending=True)
        return await actor.send(message, media_path=media_path, idempotency_key=key)

    message_id = await actor.ask(in_turn)
    return jsonify({"id": message_id})


@bp.post("/api/whatsapp/<instance_id>/send")
async def send_text(instance_id: str) -> Response:
    actor = owned_instance(services(), instance_id)
    body = await json_body()
    to = to_jid(text_field(body, "phone", max_len=100) or "")
    text = text_field(body, "message", max_len=MAX_TEXT)
    return await send_through(actor, OutgoingMessage(to=to, kind="text", text=text))


async def _send_bytes(
    actor: InstanceActor, to: str, data: bytes, caption: str | None, file_name: str | None
) -> Response:
    s = services()
    assert s.sniff is not None and s.media is not None
    mime = s.sniff(data)
    kind = kind_of(mime)
    file_name = safe_file_name(file_name)  # it travels to WhatsApp and back out in Content-Disposition
    if kind == "document" and not file_name:
        file_name = "file"
    media_path = s.media.save(actor.id, data, mime, file_name)
    message = OutgoingMessage(to=to, kind=kind, caption=caption, data=data, mime_type=mime, file_name=file_name)
    return await send_through(actor, message, media_path)


@bp.post("/api/whatsapp/<instance_id>/send-media")
async def send_media(instance_id: str) -> Response:
    s = services()
    actor = owned_instance(s, instance_id)
    body = await json_body()
    to = to_jid(text_field(body, "phone", max_len=100) or "")
    url = text_field(body, "url", max_len=4096)
    caption = text_field(body, "caption", required=False, max_len=MAX_TEXT)
    file_name = text_field(body, "filename", required=False, max_len=255)
    if actor.status != "connected":  # fail fast, before downloading anything
        raise InstanceNotConnected(f"instance is not connected (status {actor.status})")
    assert s.media_fetcher is not None and url is not None
    fetched = await s.media_fetcher.fetch(url, file_name, trusted=is_admin())
    return await _send_bytes(actor, to, fetched.data, caption, fetched.file_name)


@bp.post("/api/whatsapp/<instance_id>/send-file")
@body_limit(lambda s: s.max_upload_bytes + MULTIPART_OVERHEAD)
async def send_file(instance_id: str) -> Response:
    s = services()
    actor = owned_instance(s, instance_id)
    if not (request.mimetype or "").startswith("multipart/form-data"):
        raise ValidationFailed("send-file takes a multipart/form-data body", details={"file": "required"})
    form = await request.form
    files = await request.files
    upload = files.get("file")
    if upload is None:
        raise ValidationFailed("file is required", details={"file": "required"})
    data = upload.read()
    if len(data) > s.max_upload_bytes:
        raise ApiError(413, "payload_too_large", f"upload is larger than {s.max_upload_bytes // (1024 * 1024)} MB")
    if not data:
        raise ValidationFailed("file is empty", details={"file": "empty"})
    check_text_pairs(form.items(multi=True))
    to = to_jid(form.get("phone") or "")
    caption = form.get("caption") or None
    return await _send_bytes(actor, to, data, caption, upload.filename or None)


def _chat_jid(chat_id: str) -> str:
    return to_jid(chat_id)


@bp.get("/api/instances/<instance_id>/chats")
async def chats(instance_id: str) -> Response:
    s = services()
    actor = owned_instance(s, instance_id)
    limit = int_arg("limit", 50, low=1, high=500)
    skip = int_arg("skip", 0, low=0, high=10**9)
    await s.read_models.synced("messages")
    q = Query(where={"instanceId": actor.id}, order=(("updatedMs", True),), skip=skip, limit=limit)
    rows = s.read_models.rm.find(CHATS, q)
    total = s.read_models.rm.count(CHATS, Query(where={"instanceId": actor.id}))
    out = [{k: v for k, v in r.items() if k not in ("key", "updatedMs")} for r in rows]
    return jsonify({"chats": out, "pagination": pagination(total, limit, skip)})


@bp.get("/api/instances/<instance_id>/chats/<chat_id>/messages")
async def chat_messages(instance_id: str, chat_id: str) -> Response:
    s = services()
    actor = owned_instance(s, instance_id)
    jid = _chat_jid(chat_id)
    limit = int_arg("limit", 50, low=1, high=1000)
    skip = int_arg("skip", 0, low=0, high=10**9)
    ranges: dict[str, tuple[Any, Any]] = {}
    start, end = date_arg("startDate"), date_arg("endDate")
    if start is not None or end is not None:
        ranges["createdMs"] = (start, end)
    await s.read_models.synced("messages")
    where = {"instanceId": actor.id, "remoteJid": jid}
    q = Query(where=where, ranges=ranges, order=(("createdMs", True), ("position", True)), skip=skip, limit=limit)
    rows = s.read_models.rm.find(MESSAGES, q)
    total = s.read_models.rm.count(MESSAGES, Query(where=where, ranges=ranges))
    return jsonify({"messages": [public_message(r) for r in rows], "pagination": pagination(total, limit, skip)})


@bp.post("/api/instances/<instance_id>/chats/<chat_id>/read")
async def mark_read(instance_id: str, chat_id: str) -> Response:
    actor = owned_instance(services(), instance_id)
    jid = _chat_jid(chat_id)
    await actor.ask(lambda: actor.record(ChatRead(instance_id=actor.id, chat_jid=jid)))
    return jsonify({"success": True})


@bp.get("/api/instances/<instance_id>/messages/<message_id>/media")
async def message_media(instance_id: str, message_id: str) -> Response:
    s = services()
    actor = owned_instance(s, instance_id)
    await s.read_models.synced("messages")
    doc = s.read_models.rm.get(MESSAGES, message_key(actor.id, message_id))
    assert s.media is not None
    path = s.media.open_path(doc["mediaPath"]) if doc and doc.get("mediaPath") else None
    if path is None or doc is None:
        raise NotFound("media not found")
    mime = served_mime(doc.get("mimeType"))
    data = await trio.to_thread.run_sync(path.read_bytes)
    return Response(data, mimetype=mime, headers=stored_media_headers(mime, doc.get("fileName")))
