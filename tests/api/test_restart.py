"""Everything survives a restart on the same DATA_DIR: users, keys, instances, links."""

from __future__ import annotations

import pytest

from tests.harness import Api

pytestmark = pytest.mark.store_matters  # everything read back after a restart comes from the store


async def test_restart_keeps_users_keys_and_instances(server_factory, tmp_path) -> None:
    data = tmp_path / "data"
    first = server_factory(data)
    async with Api(first.url, token=first.admin_token()) as admin:
        user = await admin.new_user("persist@example.com")
        async with Api(first.url, api_key=user["apiKey"]) as u:
            inst = await u.create_instance("Survivor", webhookUrl="https://example.com/h", webhookSecret="s")
            linked = await u.connected_instance("Linked", admin=admin)
    first.stop()

    second = server_factory(data)
    async with Api(second.url, api_key=user["apiKey"]) as u:
        me = await u.get("/api/auth/me")
        assert me.status_code == 200 and me.json()["email"] == "persist@example.com"
        got = await u.get(f"/api/instances/{inst['id']}")
        assert got.status_code == 200
        assert got.json()["webhookSettings"]["secret"] == "s"
        ids = [i["id"] for i in (await u.get("/api/instances")).json()["instances"]]
        assert inst["id"] in ids and linked in ids
        # a linked instance comes back connected by itself, without a new QR
        await u.wait_status(linked, "connected")
    async with Api(second.url) as anon:
        r = await anon.post("/api/auth/login", json={"email": "persist@example.com", "password": "password-1"})
        assert r.status_code == 200
