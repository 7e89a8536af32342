"""`GET /api/meta`: the server's own lists (the ones its routes accept) and its configured limits."""

from __future__ import annotations

from collections.abc import Callable

from tests.harness import Api, ServerProcess
from wamux.domain.catalog import (
    ACTIVITY_TYPES,
    DELIVERY_STATUSES,
    GROUP_EVENT_TYPES,
    INSTANCE_STATUSES,
    PUBLIC_EVENT_TYPES,
    STATUS_EVENT_TYPES,
    WEBHOOK_EVENT_TYPES,
)


async def test_meta_needs_a_login(server: ServerProcess) -> None:
    async with Api(server.url) as anon:
        r = await anon.get("/api/meta")
    assert r.status_code == 401
    assert r.json()["code"] == "unauthorized"


async def test_meta_serves_the_domain_lists_and_the_version(admin: Api) -> None:
    body = (await admin.get("/api/meta")).json()
    assert body["version"] == (await admin.get("/api/health")).json()["version"]
    assert body["instanceStatuses"] == list(INSTANCE_STATUSES)
    assert body["eventTypes"] == list(PUBLIC_EVENT_TYPES)
    assert body["statusEventTypes"] == list(STATUS_EVENT_TYPES)
    assert body["groupEventTypes"] == list(GROUP_EVENT_TYPES)
    assert body["webhookEvents"] == list(WEBHOOK_EVENT_TYPES)
    assert body["activityActions"] == list(ACTIVITY_TYPES)
    assert body["deliveryStatuses"] == list(DELIVERY_STATUSES)
    assert body["transport"] == "simulator"  # the test servers run the simulator


async def test_every_served_value_is_accepted_by_its_route(admin: Api) -> None:
    """The lists are the routes' own: each value filters without a 400, and a value off the list is refused."""
    meta = (await admin.get("/api/meta")).json()
    iid = (await admin.create_instance("Meta"))["id"]
    for path, arg, values in (
        ("events", "types", meta["eventTypes"]),
        ("events/stream", "types", []),  # a stream never ends: only the refusal is checked here
        ("activity", "actions", meta["activityActions"]),
        ("webhook/deliveries", "status", meta["deliveryStatuses"]),
    ):
        for value in values:
            r = await admin.get(f"/api/instances/{iid}/{path}", params={arg: value})
            assert r.status_code == 200, (path, value, r.text)
        r = await admin.get(f"/api/instances/{iid}/{path}", params={arg: "no_such_value"})
        assert r.status_code == 400, (path, r.text)
        assert r.json()["code"] == "validation_error"
    r = await admin.get(f"/api/instances/{iid}/events", params={"types": ",".join(meta["eventTypes"])})
    assert r.status_code == 200, r.text


async def test_limits_follow_the_configuration_and_the_callers_quota(
    server_factory: Callable[..., ServerProcess],
) -> None:
    srv = server_factory(MAX_UPLOAD_MB="3", MAX_INSTANCES_PER_USER="7")
    async with Api(srv.url, token=srv.admin_token()) as admin:
        limits = (await admin.get("/api/meta")).json()["limits"]
        assert limits["maxUploadBytes"] == 3 * 1024 * 1024
        assert limits["maxInstances"] is None  # admins have no quota
        user = await admin.new_user("meta-user@example.com")
    async with Api(srv.url, api_key=user["apiKey"]) as plain:
        limits = (await plain.get("/api/meta")).json()["limits"]
    assert limits["maxInstances"] == 7
    assert limits["maxUploadBytes"] == 3 * 1024 * 1024
    assert limits["maxTextLength"] > 0 and limits["maxNameLength"] > 0 and limits["maxDescriptionLength"] > 0
