"""User management routes: roles, self-service, duplicates, deletion."""

from __future__ import annotations

from tests.harness import Api, ServerProcess


async def test_admin_creates_lists_gets_updates_deletes(admin: Api, server: ServerProcess, unique_email) -> None:
    email = unique_email()
    created = await admin.new_user(email)
    assert created["apiKey"].startswith("wmx_") and created["role"] == "user"
    listed = (await admin.get("/api/users")).json()["users"]
    assert email in [u["email"] for u in listed]
    assert all("apiKey" not in u and "passwordHash" not in u for u in listed)
    r = await admin.get(f"/api/users/{created['id']}")
    assert r.status_code == 200 and r.json()["email"] == email
    r = await admin.put(f"/api/users/{created['id']}", json={"firstName": "Renamed", "role": "admin"})
    assert r.status_code == 200 and r.json()["firstName"] == "Renamed" and r.json()["role"] == "admin"
    r = await admin.delete(f"/api/users/{created['id']}")
    assert r.status_code == 200 and r.json()["success"] is True
    assert (await admin.get(f"/api/users/{created['id']}")).status_code == 404
    async with Api(server.url, api_key=created["apiKey"]) as gone:
        assert (await gone.get("/api/auth/me")).status_code == 401
    assert email not in [u["email"] for u in (await admin.get("/api/users")).json()["users"]]


async def test_duplicate_email_is_409(admin: Api, unique_email) -> None:
    email = unique_email()
    await admin.new_user(email)
    r = await admin.post("/api/users", json={"email": email.upper(), "password": "password-1"})
    assert r.status_code == 409 and r.json()["code"] == "conflict"


async def test_user_validation(admin: Api) -> None:
    r = await admin.post("/api/users", json={"email": "not-an-email", "password": "password-1"})
    assert r.status_code == 400 and "email" in r.json()["details"]
    r = await admin.post("/api/users", json={"email": "short@example.com", "password": "123"})
    assert r.status_code == 400 and "password" in r.json()["details"]
    r = await admin.post("/api/users", json={"email": "role@example.com", "password": "password-1", "role": "root"})
    assert r.status_code == 400 and "role" in r.json()["details"]


async def test_plain_user_rights(admin: Api, server: ServerProcess, unique_email) -> None:
    a = await admin.new_user(unique_email())
    b = await admin.new_user(unique_email())
    async with Api(server.url, api_key=a["apiKey"]) as user:
        assert (await user.get("/api/users")).status_code == 403
        assert (
            await user.post("/api/users", json={"email": "x@example.com", "password": "password-1"})
        ).status_code == 403
        assert (await user.get(f"/api/users/{a['id']}")).status_code == 200
        assert (await user.get(f"/api/users/{b['id']}")).status_code == 403
        r = await user.put(f"/api/users/{a['id']}", json={"lastName": "Self", "password": "new-password-1"})
        assert r.status_code == 200 and r.json()["lastName"] == "Self"
        r = await user.put(f"/api/users/{a['id']}", json={"role": "admin"})
        assert r.status_code == 400
        assert (await user.delete(f"/api/users/{b['id']}")).status_code == 403
        assert (await user.get("/api/stats/system")).status_code in (403, 404)
    async with Api(server.url) as anon:
        r = await anon.post("/api/auth/login", json={"email": a["email"], "password": "new-password-1"})
        assert r.status_code == 200


async def test_deleting_a_user_deletes_its_instances(admin: Api, server: ServerProcess, unique_email) -> None:
    u = await admin.new_user(unique_email())
    async with Api(server.url, api_key=u["apiKey"]) as user:
        inst = await user.create_instance("doomed")
    assert (await admin.delete(f"/api/users/{u['id']}")).status_code == 200
    assert (await admin.get(f"/api/instances/{inst['id']}")).status_code == 404
