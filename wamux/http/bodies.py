"""Reading request bodies and query strings into plain values, or a clear 400."""

from __future__ import annotations

import json
from typing import Any

from quart import request

from wamux.domain.clock import parse_iso_ms
from wamux.domain.errors import ValidationFailed
from wamux.http.errors import ApiError


async def json_body(*, required: bool = True) -> dict[str, Any]:
    raw = await request.get_data(as_text=False)
    if not raw.strip():
        if required:
            raise ApiError(400, "invalid_json", "request body must be a JSON object")
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid_json", "request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "request body must be a JSON object")
    return body


def text_field(body: dict[str, Any], name: str, *, required: bool = True, max_len: int = 65536) -> str | None:
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip() and required):
        if required:
            raise ValidationFailed(f"{name} is required", details={name: "required"})
        return None
    if not isinstance(value, str):
        raise ValidationFailed(f"{name} must be a string", details={name: "invalid"})
    if len(value) > max_len:
        raise ValidationFailed(f"{name} is too long (max {max_len})", details={name: "too long"})
    return value


def int_arg(name: str, default: int, *, low: int = 0, high: int = 1000) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationFailed(f"{name} must be a whole number", details={name: "invalid"}) from None
    if not low <= value <= high:
        raise ValidationFailed(f"{name} must be between {low} and {high}", details={name: "out of range"})
    return value


def date_arg(name: str) -> int | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        return parse_iso_ms(raw)
    except ValueError:
        raise ValidationFailed(f"{name} must be an ISO 8601 date", details={name: "invalid"}) from None


def list_arg(name: str, allowed: tuple[str, ...] | None = None) -> tuple[str, ...]:
    raw = request.args.get(name, "")
    items = tuple(x.strip() for x in raw.split(",") if x.strip())
    if allowed is not None:
        unknown = [x for x in items if x not in allowed]
        if unknown:
            raise ValidationFailed(
                f"unknown {name}: {', '.join(unknown)}", details={name: f"allowed: {', '.join(allowed)}"}
            )
    return items


def bool_arg(name: str, default: bool = False) -> bool:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("true", "1", "yes"):
        return True
    if raw.lower() in ("false", "0", "no"):
        return False
    raise ValidationFailed(f"{name} must be true or false", details={name: "invalid"})


def pagination(total: int, limit: int, skip: int) -> dict[str, Any]:
    return {"total": total, "limit": limit, "skip": skip, "hasMore": skip + limit < total}
