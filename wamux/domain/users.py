"""The User aggregate: identity, credentials (as hashes only) and role."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from wamux.domain.errors import Conflict, ValidationFailed
from wamux.domain.events import ApiKeyRotated, DomainEvent, UserActive, UserCreated, UserDeleted, UserUpdated
from wamux.domain.text import check_display_name

ROLES = ("admin", "user")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 6


def normalize_email(email: str) -> str:
    value = email.strip().lower()
    if not EMAIL_RE.match(value) or len(value) > 254:
        raise ValidationFailed("email is not a valid address", details={"email": "invalid"})
    return value


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed(
            f"password must have at least {MIN_PASSWORD} characters", details={"password": "too short"}
        )
    if len(password.encode()) > 72:
        # bcrypt only looks at 72 bytes; refuse rather than silently truncate.
        raise ValidationFailed("password must be at most 72 bytes", details={"password": "too long"})


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ValidationFailed("role must be admin or user", details={"role": "invalid"})
    return role


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
