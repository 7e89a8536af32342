"""`GET /metrics`: exact counts after a scripted flow against a real server, and who may read it."""

from __future__ import annotations

import httpx
import trio
from prometheus_client.parser import text_string_to_metric_families

from tests.harness import Api
from tests.receiver import Receiver

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    """Every sample by (sample name, sorted labels)."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


async def scrape(api: Api) -> Samples:
    r = await api.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return parse(r.text)


async def scrape_until(api: Api, done, timeout: float = 10.0) -> Samples:  # type: ignore[no-untyped-def]
    """Scrape until `done(samples)` holds (counts that move after the HTTP answer, e.g. incoming messages)."""
    with trio.fail_after(timeout):
        while True:
            samples = await scrape(api)
            if done(samples):
                return samples
            await trio.sleep(0.05)


async def test_metrics_after_a_scripted_flow(server_factory) -> None:
    srv = server_factory()
    with Receiver() as rx:
        hook = rx.on("/hook", fail_first=1)
        async with Api(srv.url, token=srv.admin_token()) as admin:
            linked = await admin.create_instance(
                "Linked", webhookUrl=hook, webhookEnabled=True, retryInterval=50, maxRetries=3
            )
            waiting = await admin.create_instance("Waiting")
            await admin.wait_qr(linked["id"])
            await admin.wait_qr(waiting["id"])
            r = await admin.post(
                f"/api/simulator/instances/{linked['id']}/scan", json={"phone": "79001234567", "pushName": "Me"}
            )
            assert r.status_code == 200, r.text
            await admin.wait_status(linked["id"], "connected")
            for i in range(3):
                r = await admin.post(
                    f"/api/whatsapp/{linked['id']}/send", json={"phone": "79001112233", "message": f"m{i}"}
                )
                assert r.status_code in (200, 201), r.text
            for i in range(2):
                r = await admin.post(
                    f"/api/simulator/instances/{linked['id']}/incoming", json={"from": "79004445566", "body": f"in{i}"}
                )
                assert r.status_code == 200, r.text
            bad = await admin.get("/api/instances/not-an-instance")
            assert bad.status_code == 404

            m = await scrape_until(
                admin,
                lambda s: (
                    value(s, "wamux_messages_total", direction="received") == 2
                    and (value(s, "wamux_webhook_deliveries_total", result="delivered") or 0) >= 1
                ),
            )
            arrived = len(rx.at("/hook", ok_only=True))

    # messages: exactly what the flow did
    assert value(m, "wamux_messages_total", direction="sent") == 3
    assert value(m, "wamux_messages_total", direction="received") == 2
    assert value(m, "wamux_message_sends_failed_total") == 0
    assert value(m, "wamux_events_appended_total", type="message_sent") == 3
    assert value(m, "wamux_events_appended_total", type="created") == 2
    # instances by status, every status present
    assert value(m, "wamux_instances", status="connected") == 1
    assert value(m, "wamux_instances", status="qr") == 1
    assert value(m, "wamux_instances", status="failed") == 0
    # HTTP by route template (never the raw path) and status
    assert value(m, "wamux_http_requests_total", route="/api/instances", method="POST", status="201") == 2
    assert value(m, "wamux_http_requests_total", route="/api/auth/login", method="POST", status="200") == 1
    send = "/api/whatsapp/<instance_id>/send"
    assert value(m, "wamux_http_requests_total", route=send, method="POST", status="200") == 3
    incoming = "/api/simulator/instances/<instance_id>/incoming"
    assert value(m, "wamux_http_requests_total", route=incoming, method="POST", status="200") == 2
    scan = "/api/simulator/instances/<instance_id>/scan"
    assert value(m, "wamux_http_requests_total", route=scan, method="POST", status="200") == 1
    one = "/api/instances/<instance_id>"
    assert value(m, "wamux_http_requests_total", route=one, method="GET", status="404") == 1
    assert not any(name == "wamux_http_requests_total" and linked["id"] in str(labels) for name, labels in m)
    assert value(m, "wamux_http_request_duration_seconds_count", route=send, method="POST") == 3
    # the event store: every commit timed, batch sizes add up to the events appended
    appended = sum(v for (name, _), v in m.items() if name == "wamux_events_appended_total")
    assert (value(m, "wamux_event_store_append_duration_seconds_count") or 0) > 0
    assert value(m, "wamux_event_store_batch_events_sum") == appended
    assert value(m, "wamux_event_store_head_position") == appended
    # projections: a lag and a position for each
    for projection in ("users", "instances", "messages", "contacts", "stats", "outbox"):
        assert value(m, "wamux_projection_lag_events", projection=projection) is not None
        assert value(m, "wamux_projection_position", projection=projection) is not None
    # webhooks: the first POST failed once and was retried; each delivery counted is one the receiver accepted
    delivered = value(m, "wamux_webhook_deliveries_total", result="delivered")
    assert delivered is not None and 1 <= delivered <= arrived
    assert value(m, "wamux_webhook_deliveries_total", result="failed") == 0
    assert value(m, "wamux_webhook_retries_total") == 1
    assert value(m, "wamux_webhook_delivery_duration_seconds_count") == delivered


async def test_metrics_auth(server_factory) -> None:
    srv = server_factory()
    async with httpx.AsyncClient(base_url=srv.url) as anonymous:
        r = await anonymous.get("/metrics")
        assert r.status_code == 401 and r.json()["code"] == "unauthorized"
        r = await anonymous.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert r.status_code == 401 and "error" in r.json()
    async with Api(srv.url, token=srv.admin_token()) as admin:
        user = await admin.new_user("metrics-user@example.com")
        assert (await admin.get("/metrics")).status_code == 200
    async with Api(srv.url, api_key=user["apiKey"]) as plain:
        r = await plain.get("/metrics")
        assert r.status_code == 403 and r.json()["code"] == "forbidden"
    async with Api(srv.url, api_key=admin_key(srv.url, srv.admin_token())) as by_key:
        assert (await by_key.get("/metrics")).status_code == 200


def admin_key(url: str, token: str) -> str:
    r = httpx.post(url + "/api/auth/api-key", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return str(r.json()["apiKey"])


async def test_metrics_token(server_factory) -> None:
    token = "scrape-me-0123456789"
    srv = server_factory(METRICS_TOKEN=token)
    async with httpx.AsyncClient(base_url=srv.url) as scraper:
        r = await scraper.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and "wamux_instances" in r.text
        r = await scraper.get("/metrics", params={"token": token})
        assert r.status_code == 200
        assert (await scraper.get("/metrics", params={"token": token + "x"})).status_code == 401
        assert (await scraper.get("/metrics")).status_code == 401
    async with Api(srv.url, token=srv.admin_token()) as admin:
        assert (await admin.get("/metrics")).status_code == 200  # admins still may
