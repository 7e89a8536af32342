"""The user directory: the single writer of user streams, with an in-memory index for auth.

Auth must see a rotated or deleted key as dead at once, so the directory keeps users in
memory (few, small) and applies its own events right after they commit; the persistent
users listing is a projection like every other read model.
"""

from __future__ import annotations

import secrets
from typing import Any

import trio

from wamux.core.login_throttle import LoginThrottle
from wamux.core.passwords import hash_api_key, hash_password, new_api_key, verify_password
from wamux.core.ports import EventStore
from wamux.domain.clock import Clock, SystemClock
from wamux.domain.errors import Conflict, NotFound, TooManyAttempts, ValidationFailed
from wamux.domain.events import USER_EVENT_TYPES, RecordedEvent
from wamux.domain.ids import new_id
from wamux.domain.text import check_display_name
from wamux.domain.users import User, check_password, check_role, normalize_email


class UserDirectory:
    """Creates, changes and authenticates users."""

    def __init__(self, store: EventStore, *, bcrypt_rounds: int = 12, clock: Clock | None = None) -> None:
        self.store = store
        self.bcrypt_rounds = bcrypt_rounds
        self.throttle = LoginThrottle(clock or SystemClock())
        self._unknown_hash: str | None = None
        self.users: dict[str, User] = {}
        self._by_email: dict[str, str] = {}
        self._by_key: dict[str, str] = {}
        self._lock = trio.Lock()

    async def load(self) -> None:
        position = 0
        while True:
            batch = await self.store.read_all(position, 5000, USER_EVENT_TYPES, rare=True)
            for recorded in batch:
                self._apply(recorded)
            if len(batch) < 5000:
                return
            position = batch[-1].position

    def _apply(self, recorded: RecordedEvent) -> None:
        user = self.users.get(recorded.stream_id) or User(id=recorded.stream_id)
        old_email, old_key = user.email, user.api_key_hash
        user.apply(recorded.event, recorded.timestamp_ms)
        self._by_email.pop(old_email, None)
        self._by_key.pop(old_key, None)
        if user.deleted:
            self.users.pop(user.id, None)
            return
        self.users[user.id] = user
        self._by_email[user.email] = user.id
        self._by_key[user.api_key_hash] = user.id

    async def _append(self, user_id: str, version: int, events: list[Any]) -> None:
        for recorded in await self.store.append(user_id, events, version):
            self._apply(recorded)

    # ---- queries ---------------------------------------------------------------------------

    def get(self, user_id: str) -> User | None:
        return self.users.get(user_id)

    def require(self, user_id: str) -> User:
        user = self.users.get(user_id)
        if user is None:
            raise NotFound("user not found")
        return user

    def by_api_key(self, key: str) -> User | None:
        user_id = self._by_key.get(hash_api_key(key))
        return self.users.get(user_id) if user_id else None

    def count(self) -> int:
        return len(self.users)

    async def login(self, email: str, password: str, *, client: str | None = None) -> User | None:
        """The user if the password is right, else None; raises TooManyAttempts when throttled.

        `client` is the caller's address (None: not known, only the email is throttled).
        """
        email = email.strip().lower()
        retry_after = self.throttle.begin(email, client)
        if retry_after is not None:
            raise TooManyAttempts(f"too many failed logins; retry in {retry_after} s", retry_after_s=retry_after)
        user_id = self._by_email.get(email)
        user = self.users.get(user_id) if user_id else None
        # An unknown email is checked against a hash of the same cost, so it takes as long as a wrong password.
        ok = await verify_password(password, user.password_hash if user else await self._dummy_hash())
        if not (ok and user):
            return None
        self.throttle.succeeded(email, client)
        return user

    async def _dummy_hash(self) -> str:
        if self._unknown_hash is None:
            self._unknown_hash = await hash_password(secrets.token_urlsafe(16), self.bcrypt_rounds)
        return self._unknown_hash

    # ---- commands --------------------------------------------------------------------------

    async def create(
        self, *, email: str, password: str, first_name: str, last_name: str, role: str = "user"
    ) -> tuple[User, str]:
        """A new user and its API key (the only time the key is shown)."""
        check_password(password)
        email = normalize_email(email)
        check_role(role)
        password_hash = await hash_password(password, self.bcrypt_rounds)
        api_key = new_api_key()
        async with self._lock:
            if email in self._by_email:
                raise Conflict("a user with this email already exists", details={"email": "taken"})
            user_id = new_id()
            events = User.create(
                user_id,
                email=email,
                password_hash=password_hash,
                api_key_hash=hash_api_key(api_key),
                first_name=first_name,
                last_name=last_name,
                role=role,
            )
            await self._append(user_id, 0, events)
        return self.users[user_id], api_key

    async def update(self, user_id: str, body: dict[str, Any], *, as_admin: bool) -> User:
        changes: dict[str, Any] = {}
        for api_name, field in (("firstName", "first_name"), ("lastName", "last_name")):
            if api_name in body:
                if not isinstance(body[api_name], str):
                    raise ValidationFailed(f"{api_name} must be a string", details={api_name: "invalid"})
                changes[field] = check_display_name(api_name, body[api_name]).strip()
        if "email" in body:
            if not as_admin:
                raise ValidationFailed("only an admin can change an email", details={"email": "forbidden"})
            changes["email"] = normalize_email(str(body["email"]))
        if "role" in body:
            if not as_admin:
                raise ValidationFailed("only an admin can change a role", details={"role": "forbidden"})
            changes["role"] = check_role(str(body["role"]))
        if "password" in body:
            password = body["password"]
            if not isinstance(password, str):
                raise ValidationFailed("password must be a string", details={"password": "invalid"})
            check_password(password)
            changes["password_hash"] = await hash_password(password, self.bcrypt_rounds)
        async with self._lock:
            user = self.require(user_id)
            if "email" in changes and changes["email"] != user.email and changes["email"] in self._by_email:
                raise Conflict("a user with this email already exists", details={"email": "taken"})
            await self._append(user_id, user.version, user.update(changes))
        return self.require(user_id)

    async def rotate_api_key(self, user_id: str) -> str:
        api_key = new_api_key()
        async with self._lock:
            user = self.require(user_id)
            await self._append(user_id, user.version, user.rotate_api_key(hash_api_key(api_key)))
        return api_key

    async def delete(self, user_id: str) -> None:
        async with self._lock:
            user = self.require(user_id)
            await self._append(user_id, user.version, user.delete())

    async def mark_active(self, user_ids: set[str], day: str) -> None:
        """Record that these users made API calls today (no-op for those already seen today)."""
        async with self._lock:
            for user_id in user_ids:
                user = self.users.get(user_id)
                if user is not None:
                    await self._append(user_id, user.version, user.seen(day))

    async def seed_ignored(self, email: str, password: str | None) -> str | None:
        """Why ADMIN_EMAIL/ADMIN_PASSWORD had no effect at this start (users exist already), or None.

        The seed only creates the first admin; a password set later must not be silently ignored.
        """
        if not password or not self.users:
            return None
        email = email.strip().lower()
        user_id = self._by_email.get(email)
        user = self.users.get(user_id) if user_id else None
        if user is None:
            return (
                f"ADMIN_PASSWORD is set but users exist and none is {email}; nothing was created (use `wamux user add`)"
            )
        if await verify_password(password, user.password_hash):
            return None
        return (
            f"ADMIN_PASSWORD is set but {email} already exists with another password; it was not changed "
            f"(use `wamux user reset-password {email}`)"
        )

    async def ensure_admin(self, email: str, password: str | None, first: str, last: str) -> str | None:
        """At first start (no user at all) create the admin; returns a generated password, if any."""
        if self.users:
            return None
        generated = None
        if not password:
            generated = password = secrets.token_urlsafe(12)
        await self.create(email=email, password=password, first_name=first, last_name=last, role="admin")
        return generated
