"""Sending (text, media by URL, file upload), chat list, chat history and stored media."""

from __future__ import annotations

from typing import Any

import trio
from quart import Blueprint, Response, current_app, jsonify, request

from wamux.core.usecases.messaging import SEND_AS
from wamux.domain.errors import NotFound, ValidationFailed
from wamux.domain.phones import to_jid
from wamux.http.auth import current_user, owned_instance
from wamux.http.bodies import (
    body_limit,
    check_text_pairs,
    date_arg,
    int_arg,
    json_body,
    pagination,
    text_arg,
    text_field,
)
from wamux.http.errors import ApiError
from wamux.http.media_headers import served_mime, stored_media_headers
from wamux.http.routes.message_actions import send_options, sent
from wamux.http.services import Services
from wamux.projections.messages import public_message

bp = Blueprint("messages", __name__)

MAX_TEXT = 65536
MULTIPART_OVERHEAD = 64 * 1024  # room for the form's other fields and boundaries around the file


def services() -> Services:
    s: Services = current_app.config["services"]
    return s


def _send_as(value: Any) -> str:
    if value is None:
        return "auto"
    if value not in SEND_AS:
        raise ValidationFailed("as must be auto, document, voice or sticker", details={"as": "invalid"})
    return str(value)


@bp.post("/api/whatsapp/<instance_id>/send")
async def send_text(instance_id: str) -> Response:
    owned_instance(services(), instance_id)  # 404 before the body is read
    body = await json_body(
        allowed=("phone", "message", "quotedMessageId", "mentions", "linkPreview"), needs=("phone", "message")
    )
    to = to_jid(text_field(body, "phone", max_len=100) or "")
    text = text_field(body, "message", max_len=MAX_TEXT) or ""
    preview = body.get("linkPreview", False)
    if not isinstance(preview, bool):
        raise ValidationFailed("linkPreview must be true or false", details={"linkPreview": "invalid"})
    outcome = await services().usecases.messaging.send_text(
        current_user(), instance_id, to, text, send_options(body), link_preview=preview
    )
    return sent(outcome.message_id, outcome.replayed)


@bp.post("/api/whatsapp/<instance_id>/send-media")
async def send_media(instance_id: str) -> Response:
    owned_instance(services(), instance_id)
    body = await json_body(
        allowed=("phone", "url", "caption", "filename", "as", "quotedMessageId", "mentions"), needs=("phone", "url")
    )
    to = to_jid(text_field(body, "phone", max_len=100) or "")
    url = text_field(body, "url", max_len=4096) or ""
    caption = text_field(body, "caption", required=False, max_len=MAX_TEXT)
    file_name = text_field(body, "filename", required=False, max_len=255)
    outcome = await services().usecases.messaging.send_url(
        current_user(),
        instance_id,
        to,
        url,
        caption=caption,
        file_name=file_name,
        send_as=_send_as(body.get("as")),
        options=send_options(body),
    )
    return sent(outcome.message_id, outcome.replayed)


@bp.post("/api/whatsapp/<instance_id>/send-file")
@body_limit(lambda s: s.max_upload_bytes + MULTIPART_OVERHEAD)
async def send_file(instance_id: str) -> Response:
    s = services()
    owned_instance(s, instance_id)
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
    outcome = await s.usecases.messaging.send_upload(
        current_user(),
        instance_id,
        to,
        data,
        caption=form.get("caption") or None,
        file_name=upload.filename or None,
        send_as=_send_as(form.get("as") or None),
        options=send_options(
            {
                "quotedMessageId": form.get("quotedMessageId") or None,
                "mentions": [m for m in (form.get("mentions") or "").split(",") if m.strip()],
            }
        ),
    )
    return sent(outcome.message_id, outcome.replayed)


def _chat_jid(chat_id: str) -> str:
    return to_jid(chat_id)


@bp.get("/api/instances/<instance_id>/chats")
async def chats(instance_id: str) -> Response:
    s = services()
    actor = owned_instance(s, instance_id)
    limit = int_arg("limit", 50, low=1, high=500)
    skip = int_arg("skip", 0, low=0, high=10**9)
    page = await s.queries.chats(actor.id, skip, limit)
    out = [{k: v for k, v in r.items() if k not in ("key", "updatedMs")} for r in page.rows]
    return jsonify({"chats": out, "pagination": pagination(page.total, limit, skip)})


@bp.get("/api/instances/<instance_id>/chats/<chat_id>/messages")
async def chat_messages(instance_id: str, chat_id: str) -> Response:
    s = services()
    actor = owned_instance(s, instance_id)
    jid = _chat_jid(chat_id)
    limit = int_arg("limit", 50, low=1, high=1000)
    skip = int_arg("skip", 0, low=0, high=10**9)
    start, end = date_arg("startDate"), date_arg("endDate")
    search = text_arg("search", max_len=200).strip() or None
    page = await s.queries.chat_messages(
        actor.id, jid, start_ms=start, end_ms=end, search=search, skip=skip, limit=limit
    )
    return jsonify(
        {"messages": [public_message(r) for r in page.rows], "pagination": pagination(page.total, limit, skip)}
    )


@bp.post("/api/instances/<instance_id>/chats/<chat_id>/read")
async def mark_read(instance_id: str, chat_id: str) -> Response:
    receipts = await services().usecases.chats.mark_read(current_user(), instance_id, _chat_jid(chat_id))
    return jsonify({"success": True, "receipts": receipts})


@bp.get("/api/instances/<instance_id>/messages/<message_id>/media")
async def message_media(instance_id: str, message_id: str) -> Response:
    s = services()
    actor = owned_instance(s, instance_id)
    doc = await s.queries.message(actor.id, message_id)
    assert s.media is not None
    path = s.media.open_path(doc["mediaPath"]) if doc and doc.get("mediaPath") else None
    if path is None or doc is None:
        raise NotFound("media not found")
    mime = served_mime(doc.get("mimeType"))
    data = await trio.to_thread.run_sync(path.read_bytes)
    return Response(data, mimetype=mime, headers=stored_media_headers(mime, doc.get("fileName")))
