"""Reading request bodies and query strings into plain values, or a clear 400."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Iterable
from typing import Any, TypeVar

from quart import request

from wamux.domain.clock import parse_iso_ms
from wamux.domain.errors import ValidationFailed
from wamux.domain.text import check_display_name, has_unstorable_chars
from wamux.http.errors import ApiError
from wamux.http.services import Services

JSON_BODY_LIMIT = 1024 * 1024  # every route's body limit unless it declares a larger one
MAX_JSON_DEPTH = 64
UNKNOWN_FIELD = "unknown field"  # the `details` value of a field the route does not take
_ESCAPES = re.compile(r"\\\\|\\\"")  # escaped backslashes and quotes, so strings end at the next quote
_STRINGS = re.compile(r'"[^"]*"')
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_CAMEL = re.compile(r"_([a-z])")  # instance_id (the route's name) → instanceId (the API's name)

View = TypeVar("View", bound=Callable[..., Any])
_BODY_LIMITS: dict[Callable[..., Any], Callable[[Services], int]] = {}


def body_limit(limit: Callable[[Services], int]) -> Callable[[View], View]:
    """Give a route a body limit other than `JSON_BODY_LIMIT` (uploads); `MAX_BODY_MB` caps it still."""

    def mark(view: View) -> View:
        _BODY_LIMITS[view] = limit
        return view

    return mark


def body_limit_of(view: Callable[..., Any] | None, services: Services) -> int:
    """How many body bytes the route `view` accepts."""
    limit = _BODY_LIMITS.get(view) if view is not None else None
    return min(limit(services) if limit else JSON_BODY_LIMIT, services.max_body_bytes)


def declares_body() -> bool:
    """The request says a body follows (a length above zero, or chunked)."""
    return bool(request.content_length) or "chunked" in request.headers.get("Transfer-Encoding", "").lower()


def _require_json_type() -> None:
    mimetype = request.mimetype
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    is_json = mimetype == "application/json" or (mimetype.startswith("application/") and mimetype.endswith("+json"))
    if not is_json or charset not in ("utf-8", "utf8"):
        raise ApiError(415, "unsupported_media_type", "send the body as Content-Type: application/json (UTF-8)")


def json_depth_exceeds(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when brackets outside strings nest deeper than `limit`; linear, no recursion."""
    brackets = _NOT_BRACKETS.sub("", _STRINGS.sub("", _ESCAPES.sub("", text)))
    depth = 0
    for char in brackets:
        depth += 1 if char in "[{" else -1
        if depth > limit:
            return True
    return False


def _unstorable_string(value: Any) -> bool:
    """Any key or string value, at any depth, holds NUL or a lone surrogate (walked without recursion)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if has_unstorable_chars(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


async def json_body(
    *, allowed: Collection[str] | None = None, needs: Collection[str] = (), required: bool = True
) -> dict[str, Any]:
    """The body as a JSON object: 415 unless it is typed JSON, 400 unless it is a sane, storable object.

    `allowed` names every top-level field the route takes (its request schema's properties): any other is a 400
    naming them all. `needs` are the fields that must be present; every one missing is reported with them.
    """
    raw = b""
    if declares_body():
        _require_json_type()
        raw = await request.get_data(cache=True, as_text=False, parse_form_data=False)
    if not raw.strip():
        if required:
            raise ApiError(400, "invalid_json", "request body must be a JSON object")
        return {}
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_json", "request body is not UTF-8") from None
    if json_depth_exceeds(text):
        raise ApiError(400, "invalid_json", f"JSON is nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        body = json.loads(text)
    except ValueError:
        raise ApiError(400, "invalid_json", "request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "request body must be a JSON object")
    if _unstorable_string(body):
        raise ApiError(400, "invalid_json", "strings must not contain NUL or unpaired surrogates")
    check_fields(body, allowed=allowed, needs=needs)
    return body


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def check_fields(body: dict[str, Any], *, allowed: Collection[str] | None, needs: Collection[str] = ()) -> None:
    """One 400 for every unknown field (when `allowed` is given) and every missing field of `needs`."""
    unknown = [] if allowed is None else [str(key) for key in body if key not in allowed]
    missing = [name for name in needs if _missing(body.get(name))]
    if not unknown and not missing:
        return
    messages = [f"unknown field{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}"] if unknown else []
    messages += [f"{name} is required" for name in missing]
    details = {name: UNKNOWN_FIELD for name in unknown} | {name: f"{name} is required" for name in missing}
    raise ValidationFailed("; ".join(messages), details=details)


def check_text_pairs(pairs: Iterable[tuple[Any, Any]]) -> None:
    """400 when a name or value (path parameter, query or form field) holds a NUL or a lone surrogate."""
    for name, value in pairs:
        if has_unstorable_chars(str(name)) or has_unstorable_chars(str(value)):
            field = str(name).encode("utf-8", "replace").decode()  # the message itself must be encodable
            message = f"{field} holds a NUL or an unpaired surrogate"
            raise ValidationFailed(message, details={field: message})


def check_request_text() -> None:
    """Path parameters and query strings carry no NUL or lone surrogate (they reach storage and logs)."""
    path = [(_CAMEL.sub(lambda m: m.group(1).upper(), k), v) for k, v in (request.view_args or {}).items()]
    check_text_pairs([*path, *request.args.items(multi=True)])


def text_field(body: dict[str, Any], name: str, *, required: bool = True, max_len: int = 65536) -> str | None:
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip() and required):
        if required:
            raise ValidationFailed(f"{name} is required", details={name: f"{name} is required"})
        return None
    if not isinstance(value, str):
        raise ValidationFailed(f"{name} must be a string", details={name: f"{name} must be a string"})
    if len(value) > max_len:
        message = f"{name} must be at most {max_len} characters"
        raise ValidationFailed(message, details={name: message})
    return value


def name_field(body: dict[str, Any], name: str, *, required: bool = True, max_len: int = 200) -> str | None:
    """A display name: a text field without control characters (a CR/LF would forge lines where it is shown)."""
    value = text_field(body, name, required=required, max_len=max_len)
    return None if value is None else check_display_name(name, value)


def int_arg(name: str, default: int, *, low: int = 0, high: int = 1000) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        message = f"{name} must be a whole number"
        raise ValidationFailed(message, details={name: message}) from None
    if not low <= value <= high:
        message = f"{name} must be between {low} and {high}"
        raise ValidationFailed(message, details={name: message})
    return value


def date_arg(name: str) -> int | None:
    """An ISO 8601 query parameter as Unix ms; absent is None, present but empty or unparsable is a 400."""
    raw = request.args.get(name)
    if raw is None:
        return None
    try:
        return parse_iso_ms(raw)
    except ValueError:
        message = f"{name} must be an ISO 8601 date"
        raise ValidationFailed(message, details={name: message}) from None


def text_arg(name: str, *, max_len: int) -> str:
    """A free-text query parameter ("" when absent); longer than `max_len` is a 400, never silently cut."""
    raw = request.args.get(name, "")
    if len(raw) > max_len:
        message = f"{name} must be at most {max_len} characters"
        raise ValidationFailed(message, details={name: message})
    return raw


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
    raise ValidationFailed(f"{name} must be true or false", details={name: f"{name} must be true or false"})


def pagination(total: int, limit: int, skip: int) -> dict[str, Any]:
    return {"total": total, "limit": limit, "skip": skip, "hasMore": skip + limit < total}
