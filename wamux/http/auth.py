"""Authentication (JWT bearer or `x-api-key`) and the helpers routes use to authorize."""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

import jwt
from quart import g, request

from wamux.core.instance_actor import InstanceActor
from wamux.core.usecases.access import owned
from wamux.domain.errors import Forbidden, Unauthorized
from wamux.domain.users import User
from wamux.http.services import Services

PUBLIC_ROUTES = {("POST", "/api/auth/login"), ("GET", "/api/health"), ("GET", "/api/openapi.json")}
VERIFIED_TOKENS = 4096  # tokens whose signature was checked, kept with their claims (a client sends the same one)


class TokenCache:
    """Tokens whose HS256 signature was verified, with the claims wamux uses: a hit skips the HMAC and
    the JSON decode. Expiry is checked on every use, so a cached token still expires on time; the user
    and token-version checks run on every request as before (a password change still ends sessions)."""

    def __init__(self, size: int = VERIFIED_TOKENS) -> None:
        self.size = size
        self._claims: OrderedDict[tuple[str, str], tuple[str, Any, float]] = OrderedDict()

    def claims(self, token: str, secret: str) -> tuple[str, Any]:
        """(sub, tv) of a valid token; Unauthorized otherwise."""
        key = (secret, token)
        hit = self._claims.get(key)
        if hit is not None:
            sub, tv, exp = hit
            if exp > time.time():
                self._claims.move_to_end(key)
                return sub, tv
            del self._claims[key]
            raise Unauthorized("token expired")
        try:
            claims: dict[str, Any] = jwt.decode(
                token, secret, algorithms=["HS256"], options={"require": ["exp", "sub"]}
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("token expired") from None
        except jwt.PyJWTError:
            raise Unauthorized("invalid token") from None
        sub, tv = str(claims["sub"]), claims.get("tv")
        self._claims[key] = (sub, tv, float(claims["exp"]))
        if len(self._claims) > self.size:
            self._claims.popitem(last=False)
        return sub, tv


TOKENS = TokenCache()


def issue_token(services: Services, user: User) -> str:
    now = int(time.time())
    claims = {
        "sub": user.id,
        "role": user.role,
        "tv": user.token_version,
        "iat": now,
        "exp": now + services.jwt_expiration_s,
    }
    return jwt.encode(claims, services.jwt_secret, algorithm="HS256")


def authenticate(services: Services) -> User:
    """The caller, from `Authorization: Bearer`, `x-api-key`, or `?token=` (for EventSource)."""
    header = request.headers.get("Authorization", "")
    api_key = request.headers.get("x-api-key")
    token = None
    if header.lower().startswith("bearer "):
        token = header[7:].strip()
    elif request.args.get("token"):
        token = request.args["token"]
    if token:
        sub, tv = TOKENS.claims(token, services.jwt_secret)
        user = services.users.get(sub)
        if user is None:
            raise Unauthorized("invalid token")
        if tv != user.token_version:
            # The password changed since this token was issued (or it predates token versions).
            raise Unauthorized("session ended: log in again")
        return user
    if api_key:
        user = services.users.by_api_key(api_key)
        if user is None:
            raise Unauthorized("invalid API key")
        return user
    raise Unauthorized("authentication required: send a Bearer token or an x-api-key header")


def client_address(services: Services) -> str | None:
    """The caller's address: the peer, or with TRUST_PROXY the last `X-Forwarded-For` hop (the proxy's view)."""
    if services.trust_proxy:
        hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
        if hops:
            return hops[-1][:64]
    return request.remote_addr


def current_user() -> User:
    user: User = g.user
    return user


def is_admin() -> bool:
    return current_user().role == "admin"


def require_admin() -> User:
    user = current_user()
    if user.role != "admin":
        raise Forbidden("admin role required")
    return user


def owned_instance(services: Services, instance_id: str) -> InstanceActor:
    """The instance if the caller may see it; another user's instance is simply not found."""
    return owned(services.supervisor, current_user(), instance_id)
