"""One place that turns every failure into `{"error", "code"}` JSON with the right status."""

from __future__ import annotations

from typing import Any

from quart import Quart, Response, jsonify, request
from quart.globals import request_ctx
from werkzeug.exceptions import HTTPException

from wamux.domain.errors import (
    CatchingUp,
    ConcurrencyConflict,
    Conflict,
    DomainError,
    Forbidden,
    InstanceNotConnected,
    LimitExceeded,
    NotFound,
    TooManyAttempts,
    TransportFailed,
    Unauthorized,
    Unavailable,
    ValidationFailed,
)


class ApiError(DomainError):
    """An HTTP-level error with an explicit status (bad JSON, too large, ...)."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details=details)
        self.status = status
        self.code = code


STATUS_BY_ERROR: list[tuple[type[DomainError], int]] = [
    (ValidationFailed, 400),
    (Unauthorized, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (InstanceNotConnected, 409),
    (ConcurrencyConflict, 409),
    (Conflict, 409),
    (LimitExceeded, 429),
    (TooManyAttempts, 429),
    (TransportFailed, 502),
    (CatchingUp, 503),
    (Unavailable, 503),
]

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


def error_response(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> Response:
    body: dict[str, Any] = {"error": message, "code": code}
    if details:
        body["details"] = details
    response = jsonify(body)
    response.status_code = status
    return response


# Errors raised by adapters (media download, ...) that the HTTP layer only knows by code.
STATUS_BY_CODE = {
    "payload_too_large": 413,
    "media_timeout": 504,
    "conversion_unavailable": 422,
    "conversion_failed": 422,
}


# Short codes some checks still give as a field's `details` value; the API answers a sentence for people instead.
_DETAIL_CODES = frozenset(
    {"invalid", "required", "too long", "too short", "too many", "unknown", "count", "empty", "duplicate"}
    | {"empty option", "out of range", "unresolvable", "forbidden"}
)


def details_of(error: DomainError) -> dict[str, Any] | None:
    """The error's `details`, each field's value a sentence: a lone field's code becomes the error's message."""
    details = error.details
    if not isinstance(error, ValidationFailed) or not details:
        return details
    out: dict[str, Any] = {}
    for key, value in details.items():
        if isinstance(value, str) and value in _DETAIL_CODES:
            value = error.message if len(details) == 1 else f"{key} is {value}"
        out[key] = value
    return out


def status_of(error: DomainError) -> int:
    if isinstance(error, ApiError):
        return error.status
    if error.code in STATUS_BY_CODE:
        return STATUS_BY_CODE[error.code]
    for cls, status in STATUS_BY_ERROR:
        if isinstance(error, cls):
            return status
    return 400


def route_methods() -> list[str]:
    """The methods some route serves at the request's path, sorted.

    The static-file catch-all (`/<path:filename>`) matches every path for GET and HEAD but never serves
    anything under `/api/`, so there it does not count.
    """
    adapter = request_ctx.url_adapter
    if adapter is None:
        return []
    path = request.path
    out = []
    for method in adapter.allowed_methods(path):
        try:
            rule, _ = adapter.match(path, method=method, return_rule=True)
        except HTTPException:
            continue
        if not (rule.endpoint == "static" and path.startswith("/api/")):
            out.append(method)
    return sorted(out)


def install_error_handlers(app: Quart, log: Any) -> None:
    @app.errorhandler(DomainError)
    async def domain_error(error: DomainError) -> Response:
        response = error_response(status_of(error), error.code, error.message, details_of(error))
        if isinstance(error, TooManyAttempts | CatchingUp):
            response.headers["Retry-After"] = str(error.retry_after_s)
        return response

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        code = _HTTP_CODES.get(status, "http_error")
        messages = {
            404: "route not found",
            405: "method not allowed on this route",
            413: "request body is too large",
        }
        static = request.url_rule is not None and request.url_rule.endpoint == "static"
        allowed = route_methods() if status == 405 or (status == 404 and static) else []
        if status == 404 and allowed:
            # Only the static-file catch-all took this API path: the route exists, with other methods.
            status, code = 405, _HTTP_CODES[405]
        elif status == 405 and not allowed:
            # Only the static-file catch-all's GET/HEAD matched this API path: no route has it.
            status, code = 404, _HTTP_CODES[404]
        message = messages.get(status) or (error.description or error.name)
        response = error_response(status, code, message)
        if status == 405:
            # RFC 9110 §15.5.6: a 405 says which methods the route does take.
            response.headers["Allow"] = ", ".join(allowed)
        return response

    @app.after_request
    async def advertise_methods(response: Response) -> Response:
        # Quart's automatic OPTIONS answer counts the static catch-all's GET/HEAD on API paths too.
        if request.method == "OPTIONS" and "Allow" in response.headers:
            response.headers["Allow"] = ", ".join(route_methods())
        return response

    @app.errorhandler(Exception)
    async def unexpected(error: Exception) -> Response:
        # Never leak a stack trace to the client; the log has it.
        log.exception("unhandled error", error=repr(error))
        return error_response(500, "internal_error", "internal server error")
