"""One place that turns every failure into `{"error", "code"}` JSON with the right status."""

from __future__ import annotations

from typing import Any

from quart import Quart, Response, jsonify
from werkzeug.exceptions import HTTPException

from wamux.domain.errors import (
    ConcurrencyConflict,
    Conflict,
    DomainError,
    Forbidden,
    InstanceNotConnected,
    LimitExceeded,
    NotFound,
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
    (TransportFailed, 502),
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
STATUS_BY_CODE = {"payload_too_large": 413, "media_timeout": 504}


def status_of(error: DomainError) -> int:
    if isinstance(error, ApiError):
        return error.status
    if error.code in STATUS_BY_CODE:
        return STATUS_BY_CODE[error.code]
    for cls, status in STATUS_BY_ERROR:
        if isinstance(error, cls):
            return status
    return 400


def install_error_handlers(app: Quart, log: Any) -> None:
    @app.errorhandler(DomainError)
    async def domain_error(error: DomainError) -> Response:
        return error_response(status_of(error), error.code, error.message, error.details)

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        code = _HTTP_CODES.get(status, "http_error")
        messages = {
            404: "route not found",
            405: "method not allowed on this route",
            413: "request body is too large",
        }
        message = messages.get(status) or (error.description or error.name)
        return error_response(status, code, message)

    @app.errorhandler(Exception)
    async def unexpected(error: Exception) -> Response:
        # Never leak a stack trace to the client; the log has it.
        log.exception("unhandled error", error=repr(error))
        return error_response(500, "internal_error", "internal server error")
