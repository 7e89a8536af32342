"""Instance management: create, list, get, update (webhook_updated), delete, isolation, validation."""

from __future__ import annotations

from typing import Any

import pytest

from tests.harness import SQLITE_AND_MONGODB, Api, ServerProcess

FULL = {
    "name": "Main WhatsApp",
    "description": "Business account",
    "webhookUrl": "https://example.com/webhook",
    "webhookEnabled": True,
    "notifyReceived": True,
    "notifySent": True,
    "notifyDelivery": False,
    "notifyRead": False,
    "maxRetries": 3,
    "retryInterval": 60000,
    "webhookSecret": "optional-secret-key",
    "headers": {"Custom-Header": "custom-value"},
}


@pytest.mark.store_matters(*SQLITE_AND_MONGODB)  # the instance document round-trips through the read model
async def test_create_with_every_field(admin: Api) -> None:
    r = await admin.post("/api/instances", json=FULL)
    assert r.status_code == 201
    body = r.json()
    for key in (
        "id",
        "name",
        "description",
        "userId",
        "status",
        "webhookUrl",
        "webhookEnabled",
        "createdAt",
        "updatedAt",
    ):
        assert key in body
    assert body["status"] == "connecting"
    assert body["name"] == "Main WhatsApp" and body["webhookEnabled"] is True
    got = (await admin.get(f"/api/instances/{body['id']}")).json()
    assert got["webhookSettings"] == {
        "instanceId": body["id"],
        "notifyReceived": True,
        "notifySent": True,
        "notifyDelivery": False,
        "notifyRead": False,
        "maxRetries": 3,
        "retryInterval": 60000,
        "secret": "optional-secret-key",
        "headers": {"Custom-Header": "custom-value"},
    }


async def test_only_name_is_required_and_defaults_apply(admin: Api) -> None:
    inst = await admin.create_instance("Minimal")
    got = (await admin.get(f"/api/instances/{inst['id']}")).json()
    assert got["webhookUrl"] is None and got["webhookEnabled"] is False
    assert got["webhookSettings"]["maxRetries"] == 3 and got["webhookSettings"]["notifyDelivery"] is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": 5}, "name"),
        ({"name": "x", "webhookUrl": "ftp://nope"}, "webhookUrl"),
        ({"name": "x", "maxRetries": -1}, "maxRetries"),
        ({"name": "x", "headers": {"a": 1}}, "headers"),
        ({"name": "x", "limits": {"maxMessagesSent": "ten"}}, "limits.maxMessagesSent"),
        ({"name": "x", "limits": {"period": "week"}}, "limits.period"),
        ({"name": "x", "webhookEnabled": "yes"}, "webhookEnabled"),
    ],
)
async def test_create_validation(admin: Api, body: dict[str, Any], field: str) -> None:
    r = await admin.post("/api/instances", json=body)
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "validation_error"
    assert field in r.json()["details"]


async def test_list_has_connection_status(admin: Api) -> None:
    inst = await admin.create_instance("Listed")
    await admin.wait_qr(inst["id"])
    listed = (await admin.get("/api/instances")).json()["instances"]
    mine = next(i for i in listed if i["id"] == inst["id"])
    assert mine["connectionStatus"] == {
        "ready": False,
        "status": "qr",
        "hasQr": True,
        "lastError": None,
        "retryingAt": None,
        "attempts": 0,
    }
    assert "webhookSettings" not in mine


@pytest.mark.store_matters(*SQLITE_AND_MONGODB)  # the instance document round-trips through the read model
async def test_update_plain_fields_and_webhook_settings(admin: Api) -> None:
    inst = await admin.create_instance("Before")
    r = await admin.put(f"/api/instances/{inst['id']}", json={"name": "After", "description": "d"})
    assert r.status_code == 200 and r.json()["name"] == "After" and r.json()["description"] == "d"
    r = await admin.put(
        f"/api/instances/{inst['id']}",
        json={
            "webhookUrl": "https://hooks.example.com/x",
            "webhookEnabled": True,
            "webhookSettings": {"notifyRead": True, "secret": "s3", "headers": {"X-A": "b"}},
        },
    )
    assert r.status_code == 200
    got = (await admin.get(f"/api/instances/{inst['id']}")).json()
    assert got["webhookUrl"] == "https://hooks.example.com/x"
    assert got["webhookSettings"]["notifyRead"] is True and got["webhookSettings"]["secret"] == "s3"
    assert got["webhookSettings"]["notifyReceived"] is True  # untouched settings stay
    r = await admin.put(f"/api/instances/{inst['id']}", json={"webhookSettings": {"bogus": 1}})
    assert r.status_code == 400


@pytest.mark.store_matters(*SQLITE_AND_MONGODB)  # the instance document round-trips through the read model
async def test_delete_then_404_everywhere(admin: Api) -> None:
    inst = await admin.create_instance("Doomed")
    r = await admin.delete(f"/api/instances/{inst['id']}")
    assert r.status_code == 200
    assert r.json() == {"success": True, "message": f"Instance {inst['id']} deleted successfully"}
    for method, path in [
        ("GET", ""),
        ("PUT", ""),
        ("DELETE", ""),
        ("GET", "/status"),
        ("GET", "/qr"),
        ("POST", "/reconnect"),
        ("POST", "/logout"),
    ]:
        r = await admin.http.request(method, f"/api/instances/{inst['id']}{path}", json={})
        assert r.status_code == 404, (method, path, r.text)
    assert inst["id"] not in [i["id"] for i in (await admin.get("/api/instances")).json()["instances"]]


INSTANCE_ROUTES = [
    ("GET", "/api/instances/{id}"),
    ("PUT", "/api/instances/{id}"),
    ("DELETE", "/api/instances/{id}"),
    ("GET", "/api/instances/{id}/status"),
    ("GET", "/api/instances/{id}/qr"),
    ("POST", "/api/instances/{id}/pair"),
    ("POST", "/api/instances/{id}/reconnect"),
    ("POST", "/api/instances/{id}/logout"),
    ("GET", "/api/whatsapp/{id}/status"),
    ("GET", "/api/whatsapp/{id}/qr"),
    ("POST", "/api/whatsapp/{id}/logout"),
    ("POST", "/api/whatsapp/{id}/send"),
    ("POST", "/api/whatsapp/{id}/send-media"),
    ("GET", "/api/instances/{id}/events"),
    ("GET", "/api/instances/{id}/activity"),
    ("GET", "/api/instances/{id}/chats"),
    ("GET", "/api/instances/{id}/contacts/db"),
    ("GET", "/api/whatsapp/{id}/contacts"),
    ("GET", "/api/stats/instances/{id}"),
]


async def test_tenant_isolation_matrix(admin: Api, server: ServerProcess, unique_email) -> None:
    a = await admin.new_user(unique_email("a"))
    b = await admin.new_user(unique_email("b"))
    async with Api(server.url, api_key=a["apiKey"]) as user_a, Api(server.url, api_key=b["apiKey"]) as user_b:
        inst = await user_a.create_instance("A's")
        for method, template in INSTANCE_ROUTES:
            path = template.format(id=inst["id"])
            r = await user_b.http.request(method, path, json={"phone": "79001234567", "message": "x", "name": "x"})
            assert r.status_code == 404, (method, path, r.status_code, r.text)
            assert r.json()["code"] == "not_found"
        assert inst["id"] not in [i["id"] for i in (await user_b.get("/api/instances")).json()["instances"]]
        # the owner and an admin still see it
        assert (await user_a.get(f"/api/instances/{inst['id']}")).status_code == 200
        assert (await admin.get(f"/api/instances/{inst['id']}")).status_code == 200
        assert inst["id"] in [i["id"] for i in (await admin.get("/api/instances")).json()["instances"]]


async def test_errors_are_json(admin: Api) -> None:
    r = await admin.post("/api/instances", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["code"] == "invalid_json"
    r = await admin.get("/api/no/such/route")
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    r = await admin.http.request("PATCH", "/api/instances")
    assert r.status_code == 405 and r.json()["code"] == "method_not_allowed"
    r = await admin.post("/api/instances", content=b"[1,2]", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["code"] == "invalid_json"


async def test_body_over_limit_is_413(server: ServerProcess, admin_token: str) -> None:
    async with Api(server.url, token=admin_token) as api:
        r = await api.post("/api/instances", content=b"{" + b" " * (33 * 1024 * 1024) + b"}")
        assert r.status_code == 413 and r.json()["code"] == "payload_too_large"
