"""Password and API key hashing. Passwords: bcrypt (slow on purpose, run in a worker thread).
API keys: 256 random bits, so a fast SHA-256 is enough and keeps per-request auth cheap."""

from __future__ import annotations

import hashlib
import hmac
import secrets

import bcrypt
import trio

API_KEY_PREFIX = "wmx_"
# A valid hash to check against when the email is unknown, so both failures cost the same time.
_DUMMY_HASH = bcrypt.hashpw(b"not-a-password", bcrypt.gensalt(rounds=4)).decode()


async def hash_password(password: str, rounds: int) -> str:
    def work() -> str:
        return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=rounds)).decode()

    return await trio.to_thread.run_sync(work)


async def verify_password(password: str, password_hash: str | None) -> bool:
    target = password_hash or _DUMMY_HASH

    def work() -> bool:
        try:
            return bcrypt.checkpw(password.encode()[:72], target.encode())
        except ValueError:
            return False

    ok = await trio.to_thread.run_sync(work)
    return ok and password_hash is not None


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
