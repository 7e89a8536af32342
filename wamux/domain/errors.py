"""The domain's error tree. The HTTP layer maps each class to a status and a code in one place."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every expected failure; `code` is the stable snake_case name clients see."""

    code = "domain_error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class ValidationFailed(DomainError):
    code = "validation_error"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


class Forbidden(DomainError):
    code = "forbidden"


class Unauthorized(DomainError):
    code = "unauthorized"


class InstanceNotConnected(Conflict):
    code = "instance_not_connected"


class LimitExceeded(DomainError):
    code = "limit_exceeded"


class ConcurrencyConflict(Conflict):
    """Two writers raced on one stream; the store's version check refused the second."""

    code = "concurrency_conflict"


class Unavailable(DomainError):
    """A dependency (store, WhatsApp) cannot serve the request now."""

    code = "unavailable"


class TransportFailed(DomainError):
    """WhatsApp refused or failed the operation."""

    code = "transport_failed"
