"""The verified-token cache: a hit answers the same claims, an expired token is refused even when cached."""

from __future__ import annotations

import time

import jwt
import pytest

from wamux.domain.errors import Unauthorized
from wamux.http.auth import TokenCache

SECRET = "s" * 32


def token(sub: str = "u1", tv: int = 3, exp_in: float = 60.0, secret: str = SECRET) -> str:
    return jwt.encode({"sub": sub, "tv": tv, "exp": time.time() + exp_in}, secret, algorithm="HS256")


def test_a_verified_token_answers_its_claims_from_the_cache() -> None:
    cache = TokenCache()
    t = token()
    assert cache.claims(t, SECRET) == ("u1", 3)
    assert (SECRET, t) in cache._claims
    assert cache.claims(t, SECRET) == ("u1", 3)


def test_a_cached_token_still_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = TokenCache()
    t = token(exp_in=5)
    assert cache.claims(t, SECRET) == ("u1", 3)
    later = time.time() + 10
    monkeypatch.setattr(time, "time", lambda: later)
    with pytest.raises(Unauthorized, match="expired"):
        cache.claims(t, SECRET)
    assert (SECRET, t) not in cache._claims


def test_bad_tokens_are_refused_and_never_cached() -> None:
    cache = TokenCache()
    for bad in (token(secret="x" * 32), token(exp_in=-5), "not-a-jwt", token()[:-2]):
        with pytest.raises(Unauthorized):
            cache.claims(bad, SECRET)
    assert not cache._claims
    # the cache is per secret: a token signed with another secret is checked again, and refused
    other = token(secret="o" * 32)
    assert cache.claims(other, "o" * 32) == ("u1", 3)
    with pytest.raises(Unauthorized):
        cache.claims(other, SECRET)


def test_the_cache_is_bounded() -> None:
    cache = TokenCache(size=3)
    tokens = [token(sub=f"u{i}") for i in range(5)]
    for t in tokens:
        cache.claims(t, SECRET)
    assert len(cache._claims) == 3
    assert (SECRET, tokens[0]) not in cache._claims and (SECRET, tokens[-1]) in cache._claims
