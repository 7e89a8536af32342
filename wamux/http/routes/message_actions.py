"""Sending more than text (location, contact cards, polls, forwards) and acting on messages in WhatsApp:
react, edit, delete for everyone, presence, number check (API-2 §1, §2).
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, current_app, jsonify, request

from wamux.core.ports import ContactCard, Location, Poll
from wamux.core.usecases.messaging import SendOptions
from wamux.domain.catalog import PRESENCE_STATES
from wamux.domain.errors import ValidationFailed
from wamux.domain.messages import MAX_CONTACT_CARDS, coordinates, poll_options
from wamux.domain.phones import jid_number, to_jid
from wamux.domain.text import check_display_name
from wamux.http.auth import current_user, owned_instance
from wamux.http.bodies import json_body, name_field, text_field
from wamux.http.services import Services

bp = Blueprint("message_actions", __name__)

MAX_TEXT = 65536
MAX_MENTIONS = 100


def services() -> Services:
    s: Services = current_app.config["services"]
    return s


def idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > 200:
        raise ValidationFailed("Idempotency-Key must be 1..200 characters", details={"Idempotency-Key": "invalid"})
    return key


def send_options(body: dict[str, Any]) -> SendOptions:
    """The fields every send route shares: `quotedMessageId`, `mentions`, and the Idempotency-Key header."""
    mentions = body.get("mentions", [])
    if mentions is None:
        mentions = []
    if (
        not isinstance(mentions, list)
        or len(mentions) > MAX_MENTIONS
        or not all(isinstance(m, str) and 0 < len(m) <= 100 for m in mentions)
    ):
        raise ValidationFailed(
            f"mentions must be a list of up to {MAX_MENTIONS} phones or JIDs", details={"mentions": "invalid"}
        )
    return SendOptions(
        quoted_message_id=text_field(body, "quotedMessageId", required=False, max_len=200),
        mentions=tuple(to_jid(m) for m in mentions),
        key=idempotency_key(),
    )


def sent(message_id: str, replayed: bool = False) -> Response:
    response = jsonify({"id": message_id})
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def _phone(body: dict[str, Any]) -> str:
    return to_jid(text_field(body, "phone", max_len=100) or "")


@bp.post("/api/whatsapp/<instance_id>/send-location")
async def send_location(instance_id: str) -> Response:
    owned_instance(services(), instance_id)
    body = await json_body(
        allowed=("phone", "latitude", "longitude", "name", "address", "quotedMessageId", "mentions"),
        needs=("phone", "latitude", "longitude"),
    )
    to = _phone(body)
    latitude, longitude = coordinates(body.get("latitude"), body.get("longitude"))
    location = Location(
        latitude,
        longitude,
        name=name_field(body, "name", required=False, max_len=1000),
        address=name_field(body, "address", required=False, max_len=1000),
    )
    outcome = await services().usecases.messaging.send_location(
        current_user(), instance_id, to, location, send_options(body)
    )
    return sent(outcome.message_id, outcome.replayed)


def _cards(value: Any) -> list[ContactCard]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_CONTACT_CARDS:
        raise ValidationFailed(f"contacts must list 1 to {MAX_CONTACT_CARDS} cards", details={"contacts": "count"})
    cards = []
    for i, raw in enumerate(value):
        if not isinstance(raw, dict):
            raise ValidationFailed("each contact is an object", details={f"contacts[{i}]": "invalid"})
        name = name_field(raw, "name", max_len=200)
        jid = to_jid(text_field(raw, "phone", max_len=100) or "")
        if not jid.endswith("@s.whatsapp.net"):
            raise ValidationFailed(
                "a contact's phone must be a phone number", details={f"contacts[{i}].phone": "invalid"}
            )
        cards.append(
            ContactCard(
                name=name or "",
                phone=jid_number(jid),
                organization=name_field(raw, "organization", required=False, max_len=200),
            )
        )
    return cards


@bp.post("/api/whatsapp/<instance_id>/send-contact")
async def send_contact(instance_id: str) -> Response:
    owned_instance(services(), instance_id)
    body = await json_body(allowed=("phone", "contacts", "quotedMessageId", "mentions"), needs=("phone", "contacts"))
    to = _phone(body)
    cards = _cards(body.get("contacts"))
    outcome = await services().usecases.messaging.send_contacts(
        current_user(), instance_id, to, cards, send_options(body)
    )
    return sent(outcome.message_id, outcome.replayed)


@bp.post("/api/whatsapp/<instance_id>/send-poll")
async def send_poll(instance_id: str) -> Response:
    owned_instance(services(), instance_id)
    body = await json_body(
        allowed=("phone", "question", "options", "selectableCount", "quotedMessageId", "mentions"),
        needs=("phone", "question", "options"),
    )
    to = _phone(body)
    question = name_field(body, "question", max_len=255) or ""
    options = [check_display_name("options", o) for o in poll_options(body.get("options"))]
    if any(len(o) > 100 for o in options):
        raise ValidationFailed("a poll option is at most 100 characters", details={"options": "too long"})
    selectable = body.get("selectableCount", 1)
    if isinstance(selectable, bool) or not isinstance(selectable, int) or not 1 <= selectable <= len(options):
        raise ValidationFailed(
            "selectableCount is between 1 and the number of options", details={"selectableCount": "invalid"}
        )
    poll = Poll(question, tuple(options), selectable)
    outcome = await services().usecases.messaging.send_poll(current_user(), instance_id, to, poll, send_options(body))
    return sent(outcome.message_id, outcome.replayed)


@bp.post("/api/whatsapp/<instance_id>/messages/<message_id>/forward")
async def forward(instance_id: str, message_id: str) -> Response:
    owned_instance(services(), instance_id)
    body = await json_body(allowed=("phone",), needs=("phone",))
    to = _phone(body)
    outcome = await services().usecases.messaging.forward(current_user(), instance_id, message_id, to)
    return sent(outcome.message_id, outcome.replayed)


@bp.post("/api/whatsapp/<instance_id>/messages/<message_id>/react")
async def react(instance_id: str, message_id: str) -> Response:
    owned_instance(services(), instance_id)
    body = await json_body(allowed=("emoji",))
    emoji = body.get("emoji")
    if not isinstance(emoji, str) or len(emoji) > 32 or (emoji and not emoji.strip()):
        raise ValidationFailed('emoji must be an emoji ("" removes the reaction)', details={"emoji": "invalid"})
    reaction_id = await services().usecases.chats.react(current_user(), instance_id, message_id, emoji)
    return jsonify({"success": True, "id": reaction_id, "messageId": message_id, "emoji": emoji})


@bp.put("/api/whatsapp/<instance_id>/messages/<message_id>")
async def edit(instance_id: str, message_id: str) -> Response:
    owned_instance(services(), instance_id)
    body = await json_body(allowed=("message",), needs=("message",))
    text = text_field(body, "message", max_len=MAX_TEXT) or ""
    edit_id = await services().usecases.chats.edit(current_user(), instance_id, message_id, text)
    return jsonify({"success": True, "id": edit_id, "messageId": message_id})


@bp.delete("/api/whatsapp/<instance_id>/messages/<message_id>")
async def revoke(instance_id: str, message_id: str) -> Response:
    revoke_id = await services().usecases.chats.revoke(current_user(), instance_id, message_id)
    return jsonify({"success": True, "id": revoke_id, "messageId": message_id})


@bp.post("/api/whatsapp/<instance_id>/presence")
async def presence(instance_id: str) -> Response:
    owned_instance(services(), instance_id)
    body = await json_body(allowed=("phone", "state"))
    state = body.get("state")
    if state not in PRESENCE_STATES:
        raise ValidationFailed(f"state must be one of {', '.join(PRESENCE_STATES)}", details={"state": "invalid"})
    phone = text_field(body, "phone", required=False, max_len=100)
    await services().usecases.chats.set_presence(current_user(), instance_id, str(state), phone)
    return jsonify({"success": True})


@bp.post("/api/whatsapp/<instance_id>/check")
async def check(instance_id: str) -> Response:
    owned_instance(services(), instance_id)
    body = await json_body(allowed=("phones",), needs=("phones",))
    phones = body.get("phones")
    if not isinstance(phones, list) or not all(isinstance(p, str) and 0 < len(p) <= 100 for p in phones):
        raise ValidationFailed("phones must be a list of phone numbers", details={"phones": "invalid"})
    results = await services().usecases.chats.check(current_user(), instance_id, phones)
    return jsonify({"results": [{"phone": r.phone, "exists": r.exists, "jid": r.jid, "lid": r.lid} for r in results]})
