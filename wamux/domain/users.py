"""The User aggregate: identity, credentials (as hashes only) and role."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from wamux.domain.errors import Conflict, Problems, ValidationFailed
from wamux.domain.events import ApiKeyRotated, DomainEvent, UserActive, UserCreated, UserDeleted, UserUpdated
from wamux.domain.text import check_display_name

ROLES = ("admin", "user")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 6


def normalize_email(email: str) -> str:
    value = email.strip().lower()
    if not EMAIL_RE.match(value) or len(value) > 254:
        raise _fail("email", "email is not a valid address")
    return value


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise _fail("password", f"password must have at least {MIN_PASSWORD} characters")
    if len(password.encode()) > 72:
        # bcrypt only looks at 72 bytes; refuse rather than silently truncate.
        raise _fail("password", "password must be at most 72 bytes")


def check_role(role: str) -> str:
    if role not in ROLES:
        raise _fail("role", "role must be admin or user")
    return role


def _fail(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, details={field: message})


MAX_NAME = 100
_USER_FIELDS = ("email", "password", "firstName", "lastName", "role")


def _check_user_field(name: str, value: Any, *, creating: bool, as_admin: bool) -> None:
    if name in ("email", "role") and not as_admin:
        raise _fail(name, f"only an admin can change {'an email' if name == 'email' else 'a role'}")
    if not isinstance(value, str):
        raise _fail(name, f"{name} must be a string")
    if name == "email":
        normalize_email(value)
    elif name == "password":
        check_password(value)
    elif name == "role":
        check_role(value)
    else:
        check_display_name(name, value)
        if creating and len(value) > MAX_NAME:
            raise _fail(name, f"{name} must be at most {MAX_NAME} characters")


def check_user_body(body: dict[str, Any], *, creating: bool, as_admin: bool) -> None:
    """Every problem of a user create (`creating`) or update body, in one `ValidationFailed`.

    On create, `email` and `password` are required (blank is missing) and a null optional field counts as absent.
    """
    problems = Problems()
    for name in _USER_FIELDS:
        value = body.get(name)
        if creating and name in ("email", "password") and (value is None or str(value).strip() == ""):
            problems.add(_fail(name, f"{name} is required"))
            continue
        if creating and value is None:
            continue
        if name in body:
            try:
                _check_user_field(name, body[name], creating=creating, as_admin=as_admin)
            except ValidationFailed as error:
                problems.add(error)
    problems.raise_any()


@dataclass
class User:
    """State of one user, folded from its stream."""

    id: str
    email: str = ""
    password_hash: str = ""
    api_key_hash: str = ""
    first_name: str = ""
    last_name: str = ""
    role: str = "user"
    created_ms: int = 0
    updated_ms: int = 0
    deleted: bool = False
    last_active_day: str | None = None
    version: int = 0
    # How many times the password changed: a JWT carries it (`tv`) and dies when it moves on.
    # Folded from the log, so it survives restarts, rebuilds and store switches.
    token_version: int = 0

    @classmethod
    def create(
        cls,
        user_id: str,
        *,
        email: str,
        password_hash: str,
        api_key_hash: str,
        first_name: str,
        last_name: str,
        role: str,
    ) -> list[DomainEvent]:
        return [
            UserCreated(
                user_id=user_id,
                email=normalize_email(email),
                password_hash=password_hash,
                api_key_hash=api_key_hash,
                first_name=check_display_name("firstName", first_name).strip(),
                last_name=check_display_name("lastName", last_name).strip(),
                role=check_role(role),
            )
        ]

    def update(self, changes: dict[str, Any]) -> list[DomainEvent]:
        self._alive()
        effective = {k: v for k, v in changes.items() if getattr(self, k) != v}
        return [UserUpdated(user_id=self.id, changes=effective)] if effective else []

    def rotate_api_key(self, api_key_hash: str) -> list[DomainEvent]:
        self._alive()
        return [ApiKeyRotated(user_id=self.id, api_key_hash=api_key_hash)]

    def delete(self) -> list[DomainEvent]:
        self._alive()
        return [UserDeleted(user_id=self.id)]

    def seen(self, day: str) -> list[DomainEvent]:
        """Note API activity on `day` (YYYY-MM-DD), once per day."""
        if self.deleted or self.last_active_day == day:
            return []
        return [UserActive(user_id=self.id, day=day)]

    def _alive(self) -> None:
        if self.deleted:
            raise Conflict("user is deleted")

    def apply(self, event: DomainEvent, timestamp_ms: int) -> None:
        if isinstance(event, UserCreated):
            self.email = event.email
            self.password_hash = event.password_hash
            self.api_key_hash = event.api_key_hash
            self.first_name = event.first_name
            self.last_name = event.last_name
            self.role = event.role
            self.created_ms = timestamp_ms
        elif isinstance(event, UserUpdated):
            for key, value in event.changes.items():
                setattr(self, key, value)
            if "password_hash" in event.changes:
                self.token_version += 1
        elif isinstance(event, ApiKeyRotated):
            self.api_key_hash = event.api_key_hash
        elif isinstance(event, UserDeleted):
            self.deleted = True
        elif isinstance(event, UserActive):
            self.last_active_day = event.day
            self.version += 1
            return  # activity is not a change of the user's data
        self.updated_ms = timestamp_ms
        self.version += 1
