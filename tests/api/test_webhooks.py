"""Webhooks with a real HTTP receiver on loopback: payloads, headers, signatures, retries, order, crashes."""

from __future__ import annotations

import hashlib
import hmac
import json

import httpx
import pytest
import trio

from tests.harness import Api, ServerProcess, poll, wait_for
from tests.receiver import Receiver

pytestmark = pytest.mark.store_matters  # the outbox and the SSE feed are read models


def hook_settings(url: str, **extra: object) -> dict[str, object]:
    return {"webhookUrl": url, "webhookEnabled": True, "retryInterval": 100, "maxRetries": 3, **extra}


async def test_every_event_with_body_headers_and_signature(server_factory) -> None:
    srv = server_factory(MEDIA_ALLOW_PRIVATE_URLS="1")
    with Receiver() as rx:
        url = rx.on("/all")
        async with Api(srv.url, token=srv.admin_token()) as api:
            owner = await api.new_user("hooks-owner@example.com")
            async with Api(srv.url, api_key=owner["apiKey"]) as user:  # admins are never limited
                iid = await user.connected_instance(
                    "Hooks",
                    admin=api,
                    **hook_settings(
                        url,
                        webhookSecret="s3cret",
                        headers={"X-Tenant": "acme"},
                        notifyDelivery=True,
                        notifyRead=True,
                        limits={"maxMessagesSent": 1},
                    ),
                )
                send = f"/api/whatsapp/{iid}/send"
                mid = (await user.post(send, json={"phone": "79001234567", "message": "hi"})).json()["id"]
                assert (await user.post(send, json={"phone": "79001234567", "message": "2"})).status_code == 429
            await api.post(f"/api/simulator/instances/{iid}/receipt", json={"messageId": mid, "status": "delivered"})
            await api.post(f"/api/simulator/instances/{iid}/receipt", json={"messageId": mid, "status": "read"})
            await api.post(
                f"/api/simulator/instances/{iid}/incoming",
                json={"from": "79005554433", "body": "yo", "pushName": "Zed"},
            )
            await api.put(f"/api/instances/{iid}", json={"webhookSettings": {"maxRetries": 4}})
            await api.post(f"/api/simulator/instances/{iid}/disconnect", json={"reason": "connection_lost"})
            want = [
                "qr_received",
                "connected",
                "message_sent",
                "limit_exceeded",
                "message_status",
                "message_status",
                "message_received",
                "webhook_updated",
                "disconnected",
            ]
            await wait_for(lambda: [r.json["event"] for r in rx.at("/all")][: len(want)] == want)
    got = {
        r.json["event"] + (":" + r.json["data"].get("status", "") if r.json["event"] == "message_status" else ""): r
        for r in rx.at("/all")
    }
    for r in rx.at("/all"):
        assert r.headers["content-type"] == "application/json"
        assert r.headers["x-tenant"] == "acme"
        assert r.headers["x-webhook-event"] == r.json["event"]
        assert r.headers["user-agent"].startswith("wamux/")
        expected = hmac.new(b"s3cret", r.body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(r.headers["x-webhook-signature"], expected)
        assert r.json["data"]["instanceId"] == iid and r.json["timestamp"].endswith("Z")
    assert len({r.headers["x-webhook-id"] for r in rx.at("/all")}) == len(rx.at("/all"))
    assert got["qr_received"].json["data"]["qrCode"].startswith("1@")
    sent = got["message_sent"].json["data"]
    assert sent["messageId"] == mid and sent["to"] == "79001234567@s.whatsapp.net" and sent["body"] == "hi"
    assert sent["type"] == "conversation" and sent["hasMedia"] is False and isinstance(sent["timestamp"], int)
    assert got["message_status:delivered"].json["data"] == {
        "instanceId": iid,
        "messageId": mid,
        "status": "delivered",
        "from": "79001234567@s.whatsapp.net",
        "remoteJid": "79001234567@s.whatsapp.net",
        "fromMe": True,
        "fromLid": None,
    }
    rec = got["message_received"].json["data"]
    assert (rec["from"], rec["body"], rec["pushName"], rec["type"]) == (
        "79005554433@s.whatsapp.net",
        "yo",
        "Zed",
        "conversation",
    )
    assert got["limit_exceeded"].json["data"]["exceededLimits"] == ["maxMessagesSent"]
    assert got["limit_exceeded"].json["data"]["usage"]["messagesSent"] == 1
    assert got["disconnected"].json["data"] == {"instanceId": iid, "reason": "connection_lost", "willReconnect": True}
    assert "timestamp" in got["webhook_updated"].json["data"]


async def test_notify_flags_are_respected(admin: Api) -> None:
    with Receiver() as rx:
        url = rx.on("/quiet")
        iid = await admin.connected_instance("Quiet", **hook_settings(url, notifySent=False))
        mid = (await admin.post(f"/api/whatsapp/{iid}/send", json={"phone": "79001234567", "message": "x"})).json()[
            "id"
        ]
        await admin.post(f"/api/simulator/instances/{iid}/receipt", json={"messageId": mid, "status": "read"})
        await admin.post(f"/api/simulator/instances/{iid}/incoming", json={"from": "79001234567", "body": "in"})
        # One instance's deliveries go out in event order: once message_received (the last event) is in,
        # a message_sent or message_status that slipped through the flags would have arrived before it.
        await wait_for(lambda: any(r.json["event"] == "message_received" for r in rx.at("/quiet")))
        events = [r.json["event"] for r in rx.at("/quiet")]
    assert "message_status" not in events and "message_sent" not in events
    assert events == ["qr_received", "connected", "message_received"]


async def test_retries_until_delivered_with_the_interval(admin: Api) -> None:
    with Receiver() as rx:
        url = rx.on("/flaky", fail_first=2)
        inst = await admin.create_instance("Flaky", **hook_settings(url, retryInterval=300, maxRetries=3))
        await wait_for(lambda: len(rx.at("/flaky")) >= 3)
        tries = rx.at("/flaky")[:3]
        assert [t.status for t in tries] == [500, 500, 200]
        assert len({t.headers["x-webhook-id"] for t in tries}) == 1
        assert [t.headers["x-webhook-attempt"] for t in tries] == ["1", "2", "3"]
        gaps = [b.at - a.at for a, b in zip(tries, tries[1:], strict=False)]
        assert all(0.25 <= g <= 1.5 for g in gaps), gaps

        async def delivered() -> list[dict]:  # type: ignore[type-arg]
            r = await admin.get(f"/api/instances/{inst['id']}/webhook/deliveries", params={"status": "delivered"})
            return list(r.json()["deliveries"])

        # The receiver has the third try before the dispatcher records its result: poll for the row.
        rows = await poll(delivered, bool)
        assert rows[0]["attempts"] == 3 and rows[0]["lastStatusCode"] == 200


async def test_dead_endpoint_fails_then_retry_route_resends(admin: Api) -> None:
    with Receiver() as rx:
        url = rx.on("/dead", status=503)
        inst = await admin.create_instance("Dead", **hook_settings(url, retryInterval=50, maxRetries=2))
        iid = inst["id"]

        async def failed() -> list[dict]:  # type: ignore[type-arg]
            r = await admin.get(f"/api/instances/{iid}/webhook/deliveries", params={"status": "failed"})
            return list(r.json()["deliveries"])

        with trio.fail_after(10):
            while not await failed():
                await trio.sleep(0.05)
        row = (await failed())[0]
        assert row["event"] == "qr_received" and row["attempts"] == 3 and row["lastStatusCode"] == 503
        assert row["lastError"] == "HTTP 503"
        rx.on("/dead", status=200)
        r = await admin.post(f"/api/instances/{iid}/webhook/deliveries/{row['id']}/retry")
        assert r.status_code == 200
        await wait_for(lambda: any(x.status == 200 for x in rx.at("/dead")))
        ok = [x for x in rx.at("/dead") if x.status == 200][0]
        assert ok.headers["x-webhook-id"] == row["id"]
        assert (await admin.post(f"/api/instances/{iid}/webhook/deliveries/nope/retry")).status_code == 404
        r = await admin.post(f"/api/instances/{iid}/webhook/deliveries/retry-failed")
        assert r.status_code == 200 and isinstance(r.json()["count"], int)
        r = await admin.get(f"/api/instances/{iid}/webhook/deliveries", params={"status": "bogus"})
        assert r.status_code == 400


async def test_order_is_kept_while_the_receiver_fails_a_fifth(admin: Api) -> None:
    with Receiver() as rx:
        url = rx.on("/order", fail_rate=0.2)
        iid = await admin.connected_instance("Order", **hook_settings(url, retryInterval=10, maxRetries=20))
        for i in range(200):
            r = await admin.post(
                f"/api/simulator/instances/{iid}/incoming", json={"from": "79001234567", "body": f"n{i}"}
            )
            assert r.status_code == 200
        await wait_for(
            lambda: sum(1 for r in rx.at("/order", ok_only=True) if r.json["event"] == "message_received") == 200,
            timeout=60,
        )
        bodies = [
            r.json["data"]["body"] for r in rx.at("/order", ok_only=True) if r.json["event"] == "message_received"
        ]
    assert bodies == [f"n{i}" for i in range(200)]
    assert sum(1 for r in rx.requests if r.status == 500) > 10  # the failures really happened


async def test_webhook_test_route(admin: Api) -> None:
    with Receiver() as rx:
        url = rx.on("/probe")
        inst = await admin.create_instance("Probe", webhookUrl=url, webhookEnabled=False, webhookSecret="k")
        r = await admin.post(f"/api/instances/{inst['id']}/webhook/test")
        assert r.status_code == 200
        body = r.json()
        assert body["success"] is True and body["statusCode"] == 200 and body["latencyMs"] >= 0
        probe = rx.at("/probe")[0]
        assert probe.json["event"] == "test"
        assert probe.headers["x-webhook-signature"] == hmac.new(b"k", probe.body, hashlib.sha256).hexdigest()
    bare = await admin.create_instance("NoHook")
    assert (await admin.post(f"/api/instances/{bare['id']}/webhook/test")).status_code == 409


async def test_no_delivery_lost_across_kill_9(server_factory, tmp_path) -> None:
    data = tmp_path / "hooks"
    with Receiver() as rx:
        url = rx.on("/crash", status=503)  # nothing gets through before the crash
        first = server_factory(data)
        async with Api(first.url, token=first.admin_token()) as api:
            iid = await api.connected_instance("Crash", **hook_settings(url, retryInterval=200, maxRetries=50))
            for i in range(30):
                await api.post(
                    f"/api/simulator/instances/{iid}/incoming", json={"from": "79001234567", "body": f"k{i}"}
                )
            events = (await api.get(f"/api/instances/{iid}/events", params={"limit": 1000})).json()["events"]
        first.kill()
        expected_bodies = {f"k{i}" for i in range(30)}
        rx.on("/crash", status=200)
        second = server_factory(data)
        await wait_for(
            lambda: {r.json["data"].get("body") for r in rx.at("/crash", ok_only=True)} >= expected_bodies, timeout=30
        )
        ids_before = {r.headers["x-webhook-id"] for r in rx.at("/crash") if r.status != 200}
        ids_after = {r.headers["x-webhook-id"] for r in rx.at("/crash", ok_only=True)}
        assert ids_before <= ids_after  # the same X-Webhook-Id after the restart
        assert len(events) >= 32
        second.stop()


async def test_sse_stream_live_and_resume(admin: Api, server: ServerProcess, admin_token: str) -> None:
    iid = await admin.connected_instance("Stream")
    got: list[dict] = []  # type: ignore[type-arg]
    last_id = None
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        async with client.stream("GET", f"/api/instances/{iid}/events/stream", params={"token": admin_token}) as resp:
            assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")

            async def feed() -> None:
                for i in range(3):
                    await admin.post(
                        f"/api/simulator/instances/{iid}/incoming", json={"from": "79001234567", "body": f"s{i}"}
                    )

            async with trio.open_nursery() as nursery:
                nursery.start_soon(feed)
                event_id = None
                async for line in resp.aiter_lines():
                    if line.startswith("id: "):
                        event_id = line[4:]
                    if line.startswith("data: "):
                        got.append(json.loads(line[6:]))
                        last_id = event_id
                        if len(got) == 2:
                            break
        assert [g["data"]["body"] for g in got] == ["s0", "s1"]
        # reconnect with Last-Event-ID: the third message, nothing repeated
        async with client.stream(
            "GET",
            f"/api/instances/{iid}/events/stream",
            headers={"Authorization": f"Bearer {admin_token}", "Last-Event-ID": last_id},
        ) as resp:
            async for line in resp.aiter_lines():
                if line.startswith("data: "):
                    assert json.loads(line[6:])["data"]["body"] == "s2"
                    break
        r = await client.get(f"/api/instances/{iid}/events/stream")
        assert r.status_code == 401
