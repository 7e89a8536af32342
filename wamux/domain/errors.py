"""The domain's error tree. The HTTP layer maps each class to a status and a code in one place."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class DomainError(Exception):
    """Base of every expected failure; `code` is the stable snake_case name clients see."""

    code = "domain_error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class ValidationFailed(DomainError):
    code = "validation_error"


class Problems:
    """Every field's problem of one body, gathered and raised as one `ValidationFailed` (all `details` at once)."""

    def __init__(self) -> None:
        self.errors: list[ValidationFailed] = []

    def add(self, error: ValidationFailed) -> None:
        self.errors.append(error)

    def attempt(self, check: Callable[[], T], fallback: T) -> T:
        """`check()`'s value; its `ValidationFailed` is noted and `fallback` stands in until `raise_any`."""
        try:
            return check()
        except ValidationFailed as error:
            self.add(error)
            return fallback

    def raise_any(self) -> None:
        """Raise the one problem as it is (its own code), or all of them together."""
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            details: dict[str, Any] = {}
            for error in self.errors:
                for key, value in (error.details or {"body": error.message}).items():
                    details.setdefault(key, value)
            raise ValidationFailed("; ".join(e.message for e in self.errors), details=details)


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


class InstanceQuotaExceeded(Conflict):
    """The user already owns as many instances as `MAX_INSTANCES_PER_USER` allows."""

    code = "instance_quota_exceeded"


class TooManyAttempts(DomainError):
    """Login throttled: too many failures for one email or one client address; retry later."""

    code = "too_many_attempts"

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message, details={"retryAfter": retry_after_s})
        self.retry_after_s = retry_after_s


class ConcurrencyConflict(Conflict):
    """Two writers raced on one stream; the store's version check refused the second."""

    code = "concurrency_conflict"


class Unavailable(DomainError):
    """A dependency (store, WhatsApp) cannot serve the request now."""

    code = "unavailable"


RETRY_AFTER_MAX_S = 30


class CatchingUp(Unavailable):
    """A read model that started this run far behind the log has not yet reached what a read needs.

    The answer is 503 with `Retry-After` (from the measured catch-up rate): never rows older than the
    log's head the read asked for.
    """

    code = "catching_up"

    def __init__(self, projection: str, position: int, head: int, eta_s: float | None, *, progress: float) -> None:
        self.projection = projection
        self.position = position
        self.head = head
        self.eta_s = eta_s
        # Retry-After is when to ask again, at most RETRY_AFTER_MAX_S: the estimate is rough early on (the first
        # batches are the slowest), and a model that finishes sooner must not leave clients waiting for minutes.
        self.retry_after_s = max(1, math.ceil(min(eta_s, RETRY_AFTER_MAX_S))) if eta_s is not None else 2
        details: dict[str, Any] = {"readModel": projection, "position": position, "head": head, "progress": progress}
        if eta_s is not None:
            details["etaSeconds"] = math.ceil(eta_s)  # when the whole catch-up should be done, at the rate so far
        super().__init__(
            f"the {projection} read model is catching up with the event log; retry in {self.retry_after_s} s",
            details=details,
        )


class TransportFailed(DomainError):
    """WhatsApp refused or failed the operation."""

    code = "transport_failed"


class UrlNotAllowed(ValidationFailed):
    """An outbound URL leads to an address this caller may not reach (loopback, private, ...)."""

    code = "url_not_allowed"


class MessageNotFound(NotFound):
    """A route names a message the instance's history does not know."""

    code = "message_not_found"


class NotEditable(Conflict):
    code = "not_editable"


class NotRevocable(Conflict):
    code = "not_revocable"


class ConversionUnavailable(DomainError):
    """A media conversion needs a tool this server lacks (ffmpeg for voice notes): 422 with the fix."""

    code = "conversion_unavailable"


class ConversionFailed(ValidationFailed):
    """Media that could not be converted (not audio / not an image, damaged, too slow): 422."""

    code = "conversion_failed"


class GroupNotFound(NotFound):
    code = "group_not_found"


class NotGroupAdmin(Forbidden):
    code = "not_group_admin"


class WebhookNotFound(NotFound):
    """A route names a webhook target the instance does not have."""

    code = "webhook_not_found"


class TooManyWebhooks(Conflict):
    """The instance already has as many webhook targets (besides the default one) as allowed."""

    code = "too_many_webhooks"


class WebhookDisabled(Conflict):
    """A delivery or a replay for a webhook target that is disabled (or removed, or has no URL)."""

    code = "webhook_disabled"


class QrUnavailable(Conflict):
    """No QR code can come now (`GET …/qr`); `details` say the status, the reason, the next attempt.

    Logged out, failed, backing off after a failed connect, or linked (it connects without a QR code).
    """

    code = "qr_unavailable"
