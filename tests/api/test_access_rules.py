"""Who gets in (API-2 §8): login throttling, sessions ended by a password change, the instance quota,
and usage limits that never lock an owner out of its own instance nor limit admins."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import trio

from tests.harness import ADMIN_EMAIL, ADMIN_PASSWORD, Api, ServerProcess

WINDOW_S = 15 * 60


async def login(api: Api, email: str, password: str, **headers: str) -> httpx.Response:
    return await api.post("/api/auth/login", json={"email": email, "password": password}, headers=headers)


def assert_throttled(r: httpx.Response) -> None:
    assert r.status_code == 429, r.text
    assert r.json()["code"] == "too_many_attempts" and r.json()["error"]
    assert 0 < int(r.headers["Retry-After"]) <= WINDOW_S
    assert r.json()["details"]["retryAfter"] == int(r.headers["Retry-After"])


# ---- login throttling --------------------------------------------------------------------------


async def test_failed_logins_are_throttled_per_email_and_per_peer_address(server_factory) -> None:
    srv = server_factory()  # its own server: the shared one must not see 50 failures from this address
    async with Api(srv.url, token=srv.admin_token()) as admin, Api(srv.url) as anon:
        victim = (await admin.new_user("victim@example.com"))["email"]
        bystander = (await admin.new_user("bystander@example.com"))["email"]
        for _ in range(9):
            assert (await login(anon, victim, "wrong-password")).status_code == 401
        assert (await login(anon, victim, "password-1")).status_code == 200  # a success resets the email
        for i in range(10):  # X-Forwarded-For is not trusted by default: it changes nothing
            r = await login(anon, victim.upper(), "wrong-password", **{"X-Forwarded-For": f"198.51.100.{i}"})
            assert r.status_code == 401
        assert_throttled(await login(anon, victim, "password-1"))  # the 11th, even with the right password
        assert (await login(anon, bystander, "password-1")).status_code == 200
        # 19 failures from this address so far; 31 more reach the 50 of one address
        for i in range(31):
            assert (await login(anon, f"ghost{i}@example.com", "wrong-password")).status_code == 401
        assert_throttled(await login(anon, bystander, "password-1"))
        assert (await admin.get("/api/auth/me")).status_code == 200  # sessions already open keep working


async def test_trust_proxy_throttles_the_forwarded_client_address(server_factory) -> None:
    srv = server_factory(TRUST_PROXY="1")
    async with Api(srv.url) as anon:
        for i in range(50):
            r = await login(
                anon, f"ghost{i}@example.com", "wrong-password", **{"X-Forwarded-For": "10.9.9.9, 10.0.0.1"}
            )
            assert r.status_code == 401
        # The last hop is the one the proxy saw; what the client wrote before it is not believed.
        assert_throttled(await login(anon, ADMIN_EMAIL, ADMIN_PASSWORD, **{"X-Forwarded-For": "10.0.0.1"}))
        r = await login(anon, ADMIN_EMAIL, ADMIN_PASSWORD, **{"X-Forwarded-For": "10.0.0.1, 10.0.0.2"})
        assert r.status_code == 200


# ---- sessions ----------------------------------------------------------------------------------


async def test_a_password_change_ends_existing_tokens(
    server: ServerProcess, admin: Api, unique_email: Callable[[str], str]
) -> None:
    created = await admin.new_user(unique_email("session"))
    email, uid = created["email"], created["id"]
    async with Api(server.url) as anon:
        first = (await login(anon, email, "password-1")).json()["token"]
        second = (await login(anon, email, "password-1")).json()["token"]
    async with Api(server.url, token=first) as user:
        assert (await user.post("/api/auth/api-key")).status_code == 200  # a new API key ends no session
        assert (await user.get("/api/auth/me")).status_code == 200
        assert (await user.put(f"/api/users/{uid}", json={"password": "password-2"})).status_code == 200
        r = await user.get("/api/auth/me")
        assert r.status_code == 401 and r.json()["code"] == "unauthorized"
    async with Api(server.url, token=second) as other_session:
        assert (await other_session.get("/api/auth/me")).status_code == 401
    async with Api(server.url) as anon:
        assert (await login(anon, email, "password-1")).status_code == 401
        fresh = (await login(anon, email, "password-2")).json()["token"]
    async with Api(server.url, token=fresh) as user:
        assert (await user.get("/api/auth/me")).status_code == 200
        assert (await admin.put(f"/api/users/{uid}", json={"password": "password-3"})).status_code == 200
        assert (await user.get("/api/auth/me")).status_code == 401  # an admin's reset ends it too
        async with Api(server.url) as anon:
            last = (await login(anon, email, "password-3")).json()["token"]
        assert (await admin.delete(f"/api/users/{uid}")).status_code == 200
    async with Api(server.url, token=last) as user:
        assert (await user.get("/api/auth/me")).status_code == 401  # a deleted user's token is dead


async def test_ended_sessions_stay_ended_across_restarts_and_the_cli_reset(server_factory) -> None:
    srv = server_factory()
    async with Api(srv.url, token=srv.admin_token()) as admin:
        email = (await admin.new_user("restart@example.com"))["email"]
    async with Api(srv.url) as anon:
        before = (await login(anon, email, "password-1")).json()["token"]
        async with Api(srv.url, token=before) as user:
            me = (await user.get("/api/auth/me")).json()
            assert (await user.put(f"/api/users/{me['id']}", json={"password": "password-2"})).status_code == 200
        current = (await login(anon, email, "password-2")).json()["token"]
    srv.stop()
    srv.start()  # the token version is folded from the log again: old stays dead, current stays valid
    async with Api(srv.url, token=before) as old, Api(srv.url, token=current) as user:
        assert (await old.get("/api/auth/me")).status_code == 401
        assert (await user.get("/api/auth/me")).status_code == 200
    srv.stop()
    out = srv.cli("user", "reset-password", email, "password-3")
    assert out.returncode == 0, out.stderr
    srv.start()
    async with Api(srv.url, token=current) as user, Api(srv.url) as anon:
        assert (await user.get("/api/auth/me")).status_code == 401
        assert (await login(anon, email, "password-3")).status_code == 200


# ---- instance quota ----------------------------------------------------------------------------


async def test_instance_quota_per_user_and_none_for_admins(server_factory) -> None:
    srv = server_factory(MAX_INSTANCES_PER_USER="2")
    async with Api(srv.url, token=srv.admin_token()) as admin:
        alice = await admin.new_user("alice@example.com")
        bob = await admin.new_user("bob@example.com")
        async with Api(srv.url, api_key=alice["apiKey"]) as a, Api(srv.url, api_key=bob["apiKey"]) as b:
            first = await a.create_instance("A1")
            await a.create_instance("A2")
            r = await a.post("/api/instances", json={"name": "A3"})
            assert r.status_code == 409 and r.json()["code"] == "instance_quota_exceeded", r.text
            assert (await a.delete(f"/api/instances/{first['id']}")).status_code == 200
            await a.create_instance("A3")  # a deleted instance frees its place

            codes: list[int] = []

            async def create(i: int) -> None:
                codes.append((await b.post("/api/instances", json={"name": f"B{i}"})).status_code)

            async with trio.open_nursery() as nursery:  # at the limit concurrently: exactly two get in
                for i in range(6):
                    nursery.start_soon(create, i)
            assert sorted(codes) == [201, 201, 409, 409, 409, 409]
            assert len((await b.get("/api/instances")).json()["instances"]) == 2
        for i in range(3):
            await admin.create_instance(f"Admin{i}")


# ---- usage limits ------------------------------------------------------------------------------


async def test_a_reached_api_limit_leaves_the_owner_its_instance_and_never_limits_admins(
    server: ServerProcess, admin: Api, unique_email: Callable[[str], str]
) -> None:
    created = await admin.new_user(unique_email("limited"))
    async with Api(server.url, api_key=created["apiKey"]) as owner:
        iid = await owner.connected_instance("Capped", admin=admin)
        put = await owner.put(f"/api/instances/{iid}", json={"limits": {"maxApiCalls": 1, "maxMessagesSent": 0}})
        assert put.status_code == 200, put.text
        send = {"phone": "79001234567", "message": "hi"}
        for method, path, body in (
            ("GET", f"/api/instances/{iid}/status", None),
            ("GET", f"/api/instances/{iid}/activity", None),
            ("POST", f"/api/whatsapp/{iid}/send", send),
        ):
            r = await owner.http.request(method, path, json=body)
            assert r.status_code == 429 and r.json()["code"] == "limit_exceeded", (path, r.text)
        # An admin is never limited: reads and sends go through.
        assert (await admin.get(f"/api/instances/{iid}/status")).status_code == 200
        assert (await admin.post(f"/api/whatsapp/{iid}/send", json=send)).status_code == 200
        # The owner can still see the instance and lift the limit ...
        got = await owner.get(f"/api/instances/{iid}")
        assert got.status_code == 200 and got.json()["limits"]["maxApiCalls"] == 1
        lifted = await owner.put(f"/api/instances/{iid}", json={"limits": None})
        assert lifted.status_code == 200 and lifted.json()["limits"] is None, lifted.text
        assert (await owner.get(f"/api/instances/{iid}/status")).status_code == 200
        assert (await owner.post(f"/api/whatsapp/{iid}/send", json=send)).status_code == 200
        # ... or delete it while over the limit.
        assert (await owner.put(f"/api/instances/{iid}", json={"limits": {"maxApiCalls": 1}})).status_code == 200
        assert (await owner.get(f"/api/instances/{iid}/status")).status_code == 429
        assert (await owner.delete(f"/api/instances/{iid}")).status_code == 200
        assert (await owner.get(f"/api/instances/{iid}")).status_code == 404
