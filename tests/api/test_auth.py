"""Login, tokens, API keys and their rotation, over real HTTP."""

from __future__ import annotations

import time

import httpx
import jwt

from tests.harness import ADMIN_EMAIL, ADMIN_PASSWORD, JWT_SECRET, Api, ServerProcess


async def test_login_returns_token_and_user(server: ServerProcess) -> None:
    async with Api(server.url) as api:
        r = await api.post("/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        assert r.status_code == 200
        body = r.json()
        assert body["user"]["email"] == ADMIN_EMAIL
        assert set(body["user"]) >= {"id", "email", "firstName", "lastName"}
        assert "apiKey" not in body["user"]  # stored hashed: only shown when rotated
        claims = jwt.decode(body["token"], JWT_SECRET, algorithms=["HS256"])
        assert claims["sub"] == body["user"]["id"]


async def test_wrong_password_and_unknown_email_answer_the_same(server: ServerProcess) -> None:
    async with Api(server.url) as api:
        a = await api.post("/api/auth/login", json={"email": ADMIN_EMAIL, "password": "nope-nope"})
        b = await api.post("/api/auth/login", json={"email": "ghost@example.com", "password": "nope-nope"})
        assert a.status_code == b.status_code == 401
        assert a.json() == b.json()
        assert a.json()["code"] == "unauthorized"


async def test_login_validation(server: ServerProcess) -> None:
    async with Api(server.url) as api:
        r = await api.post("/api/auth/login", json={"email": ADMIN_EMAIL})
        assert r.status_code == 400
        assert r.json()["code"] == "validation_error" and "password" in r.json()["details"]


async def test_me_with_token_and_api_key(admin: Api, server: ServerProcess, unique_email) -> None:
    r = await admin.get("/api/auth/me")
    assert r.status_code == 200 and r.json()["role"] == "admin"
    created = await admin.new_user(unique_email())
    async with Api(server.url, api_key=created["apiKey"]) as user:
        me = await user.get("/api/auth/me")
        assert me.status_code == 200
        assert me.json() == {k: me.json()[k] for k in me.json()} and me.json()["email"] == created["email"]
        assert me.json()["role"] == "user"


async def test_no_credentials_bad_token_expired_token(server: ServerProcess, admin: Api) -> None:
    me = (await admin.get("/api/auth/me")).json()
    async with Api(server.url) as anon:
        r = await anon.get("/api/auth/me")
        assert r.status_code == 401 and r.json()["code"] == "unauthorized"
        r = await anon.get("/api/instances", headers={"Authorization": "Bearer not-a-jwt"})
        assert r.status_code == 401
        expired = jwt.encode({"sub": me["id"], "exp": int(time.time()) - 5}, JWT_SECRET, algorithm="HS256")
        r = await anon.get("/api/auth/me", headers={"Authorization": f"Bearer {expired}"})
        assert r.status_code == 401 and "expired" in r.json()["error"]
        forged = jwt.encode(
            {"sub": me["id"], "exp": int(time.time()) + 60},
            "another-secret-xxxxxxxx-xxxxxxxxxxxxxxxx",
            algorithm="HS256",
        )
        r = await anon.get("/api/auth/me", headers={"Authorization": f"Bearer {forged}"})
        assert r.status_code == 401
        r = await anon.get("/api/auth/me", headers={"x-api-key": "wmx_nope"})
        assert r.status_code == 401


async def test_api_key_rotation_kills_old_key_at_once(server: ServerProcess, admin: Api, unique_email) -> None:
    created = await admin.new_user(unique_email())
    old = created["apiKey"]
    async with Api(server.url, api_key=old) as user:
        r = await user.post("/api/auth/api-key")
        assert r.status_code == 200
        new = r.json()["apiKey"]
        assert new != old
        assert (await user.get("/api/auth/me")).status_code == 401
    async with Api(server.url, api_key=new) as user:
        assert (await user.get("/api/auth/me")).status_code == 200


async def test_login_can_issue_a_fresh_api_key(server: ServerProcess, admin: Api, unique_email) -> None:
    created = await admin.new_user(unique_email())
    async with Api(server.url) as anon:
        r = await anon.post(
            "/api/auth/login", json={"email": created["email"], "password": "password-1", "rotateApiKey": True}
        )
        key = r.json()["user"]["apiKey"]
    assert httpx.get(server.url + "/api/auth/me", headers={"x-api-key": key}).status_code == 200
    assert httpx.get(server.url + "/api/auth/me", headers={"x-api-key": created["apiKey"]}).status_code == 401


async def test_health_needs_no_auth(server: ServerProcess, provider: str) -> None:
    r = httpx.get(server.url + "/api/health")
    doc = r.json()
    assert {k: v for k, v in doc.items() if k != "readModels"} == {
        "status": "ok",
        "store": provider,
        "version": doc["version"],
    }
    models = doc["readModels"]
    assert {"messages", "instances", "outbox"} <= models.keys()
    assert all(m["catchingUp"] is False and m["lag"] >= 0 and m["position"] >= 0 for m in models.values())
    assert r.headers["X-Request-Id"]
