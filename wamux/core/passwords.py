"""Password and API key hashing. Passwords: bcrypt (slow on purpose, run in a worker thread).
API keys: 256 random bits, so a fast SHA-256 is enough and keeps per-request auth cheap."""

from __future__ import annotations

import hashlib
import hmac
import secrets

import bcrypt
import trio

API_KEY_PREFIX = "wmx_"


async def hash_password(password: str, rounds: int) -> str:
    def work() -> str:
        return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=rounds)).decode()

    return await trio.to_thread.run_sync(work)


async def verify_password(password: str, password_hash: str) -> bool:
    """Check a password against a bcrypt hash in a worker thread; a malformed hash never matches."""

    def work() -> bool:
        try:
            return bcrypt.checkpw(password.encode()[:72], password_hash.encode())
        except ValueError:
            return False

    return await trio.to_thread.run_sync(work)


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
