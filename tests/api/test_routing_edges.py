"""Small edges of the HTTP contract: routing answers before authentication, a media host that does not resolve."""

from __future__ import annotations

from typing import Any

import httpx

from tests.harness import Api, ServerProcess


def test_routing_answers_before_authentication(server: ServerProcess) -> None:
    """Without credentials: a known path with another method is 405 naming the methods, an unknown path 404,
    and only a route that exists with this method asks for authentication."""
    with httpx.Client(base_url=server.url) as anonymous:
        r = anonymous.delete("/api/health")
        assert r.status_code == 405 and r.headers["Allow"] == "GET, HEAD, OPTIONS", r.text
        assert r.json() == {"error": "method not allowed on this route", "code": "method_not_allowed"}
        # A GET the static-file catch-all would take is no route under /api/ either.
        r = anonymous.get("/api/instances/00000000-0000-4000-8000-000000000000/pair")
        assert r.status_code == 405 and r.headers["Allow"] == "OPTIONS, POST", r.text
        for method in ("GET", "DELETE"):
            r = anonymous.request(method, "/api/no-such-route")
            assert r.status_code == 404 and r.json()["code"] == "not_found", (method, r.text)
            assert "Allow" not in r.headers
        assert anonymous.get("/api/instances").status_code == 401


async def test_a_media_host_that_does_not_resolve_is_502(admin: Api, server: ServerProcess, unique_email: Any) -> None:
    """The URL is fine, the download fails: 502 `transport_failed` as documented, for users as for admins."""
    user = await admin.new_user(unique_email("media"))
    async with Api(server.url, api_key=user["apiKey"]) as plain:
        iid = await plain.connected_instance("Unresolvable", admin=admin)
        body = {"phone": "79001234567", "url": "http://media.example.invalid/photo.png"}
        r = await plain.post(f"/api/whatsapp/{iid}/send-media", json=body)
        assert r.status_code == 502 and r.json()["code"] == "transport_failed", r.text
        assert "media.example.invalid" in r.json()["error"]
