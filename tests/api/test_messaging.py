"""Messaging over HTTP against the simulator: send, receive, receipts, history, the event feed."""

from __future__ import annotations

import base64

import httpx
import pytest
import trio

from tests.harness import Api, ServerProcess
from tests.media_server import MediaServer, png_bytes

pytestmark = pytest.mark.store_matters  # history, receipts and the event feed are read-model queries


async def test_customer_flow(admin: Api) -> None:
    """The customer's own client: create → poll /qr → scan → ready → send → monitor /events."""
    r = await admin.post(
        "/api/instances",
        json={"name": "Flow", "webhookUrl": "https://example.com/hook", "notifyReceived": True, "notifySent": True},
    )
    assert r.status_code == 201
    iid = r.json()["id"]
    codes = []
    with trio.fail_after(10):
        while True:
            qr = await admin.get(f"/api/instances/{iid}/qr")
            codes.append(qr.status_code)
            if qr.status_code == 200:
                break
            await trio.sleep(0.01)
    assert qr.json()["qrCode"].startswith("1@")
    assert (await admin.post(f"/api/simulator/instances/{iid}/scan", json={"phone": "79990001122"})).status_code == 200
    status = (await admin.get(f"/api/whatsapp/{iid}/status")).json()
    no_problem = {"lastError": None, "retryingAt": None, "attempts": 0}
    assert status == {"ready": True, "status": "connected", "hasQr": False, **no_problem}

    start = (await admin.get(f"/api/instances/{iid}/events")).json()
    since = start["latestTimestamp"]
    sent = await admin.post(f"/api/whatsapp/{iid}/send", json={"phone": "+7 (900) 123-45-67", "message": "Hello"})
    assert sent.status_code == 200
    message_id = sent.json()["id"]
    outbox = (await admin.get(f"/api/simulator/instances/{iid}/outbox")).json()["messages"]
    assert outbox[-1]["id"] == message_id and outbox[-1]["to"] == "79001234567@s.whatsapp.net"
    await admin.post(
        f"/api/simulator/instances/{iid}/incoming",
        json={"from": "79001234567", "body": "Hi! How are you?", "pushName": "John"},
    )
    feed = (await admin.get(f"/api/instances/{iid}/events", params={"since": since})).json()
    types = [e["type"] for e in feed["events"]]
    assert types == ["message_sent", "message_received"]
    incoming = feed["events"][1]["data"]
    assert incoming["from"] == "79001234567@s.whatsapp.net" and incoming["body"] == "Hi! How are you?"
    assert incoming["pushName"] == "John" and incoming["type"] == "conversation" and incoming["hasMedia"] is False
    assert incoming["metadata"]["pushName"] == "John" and incoming["fromMe"] is False
    assert feed["events"][0]["data"]["messageId"] == message_id
    again = (await admin.get(f"/api/instances/{iid}/events", params={"since": feed["latestTimestamp"]})).json()
    assert again["events"] == [] and again["count"] == 0


async def test_send_validation_and_not_connected(admin: Api) -> None:
    inst = await admin.create_instance("Offline")
    r = await admin.post(f"/api/whatsapp/{inst['id']}/send", json={"phone": "79001234567", "message": "x"})
    assert r.status_code == 409 and r.json()["code"] == "instance_not_connected"
    feed = (await admin.get(f"/api/instances/{inst['id']}/events", params={"types": "message_sent"})).json()
    assert feed["events"] == []
    iid = await admin.connected_instance("Validation")
    for body in (
        {"phone": "abc", "message": "x"},
        {"phone": "123", "message": "x"},
        {"message": "x"},
        {"phone": "79001234567"},
    ):
        r = await admin.post(f"/api/whatsapp/{iid}/send", json=body)
        assert r.status_code == 400, body
    r = await admin.post(f"/api/whatsapp/{iid}/send", json={"phone": "120363012345678901@g.us", "message": "group hi"})
    assert r.status_code == 200


async def test_transport_failure_is_502_or_503_and_recorded_failed(admin: Api) -> None:
    iid = await admin.connected_instance("Faulty")
    await admin.post(f"/api/simulator/instances/{iid}/faults", json={"failNextSends": 1})
    r = await admin.post(f"/api/whatsapp/{iid}/send", json={"phone": "79001234567", "message": "doomed"})
    assert r.status_code in (502, 503) and r.json()["code"] in ("unavailable", "transport_failed")
    history = (await admin.get(f"/api/instances/{iid}/chats/79001234567/messages")).json()["messages"]
    assert [m["status"] for m in history] == ["failed"]
    feed = (await admin.get(f"/api/instances/{iid}/events", params={"types": "message_sent,message_failed"})).json()
    assert [e["type"] for e in feed["events"]] == ["message_failed"]
    r = await admin.post(f"/api/whatsapp/{iid}/send", json={"phone": "79001234567", "message": "ok now"})
    assert r.status_code == 200


async def test_receipts_move_status_forward_only(admin: Api) -> None:
    iid = await admin.connected_instance("Receipts")
    mid = (await admin.post(f"/api/whatsapp/{iid}/send", json={"phone": "79001112233", "message": "track"})).json()[
        "id"
    ]
    assert (
        await admin.post(f"/api/simulator/instances/{iid}/receipt", json={"messageId": mid, "status": "read"})
    ).status_code == 200
    await admin.post(f"/api/simulator/instances/{iid}/receipt", json={"messageId": mid, "status": "delivered"})
    msgs = (await admin.get(f"/api/instances/{iid}/chats/79001112233@s.whatsapp.net/messages")).json()["messages"]
    assert msgs[0]["messageId"] == mid and msgs[0]["status"] == "read"
    statuses = (await admin.get(f"/api/instances/{iid}/events", params={"types": "message_status"})).json()["events"]
    assert [e["data"]["status"] for e in statuses] == ["read", "delivered"]  # the log keeps both facts


async def test_history_pagination_dates_and_chats(admin: Api) -> None:
    iid = await admin.connected_instance("History")
    for i in range(7):
        await admin.post(f"/api/whatsapp/{iid}/send", json={"phone": "79005556677", "message": f"m{i}"})
    await admin.post(
        f"/api/simulator/instances/{iid}/incoming", json={"from": "79005556677", "body": "reply", "pushName": "Ann"}
    )
    await admin.post(f"/api/simulator/instances/{iid}/incoming", json={"from": "79008889900", "body": "other"})
    page = (await admin.get(f"/api/instances/{iid}/chats/79005556677/messages", params={"limit": 3})).json()
    assert [m["content"] for m in page["messages"]] == ["reply", "m6", "m5"]
    assert page["pagination"] == {"total": 8, "limit": 3, "skip": 0, "hasMore": True}
    page2 = (await admin.get(f"/api/instances/{iid}/chats/79005556677/messages", params={"limit": 3, "skip": 6})).json()
    assert [m["content"] for m in page2["messages"]] == ["m1", "m0"] and page2["pagination"]["hasMore"] is False
    first = page["messages"][0]
    assert set(first) >= {
        "id",
        "instanceId",
        "remoteJid",
        "fromMe",
        "messageType",
        "content",
        "messageId",
        "hasMedia",
        "mediaUrl",
        "caption",
        "mimeType",
        "fileName",
        "status",
        "metadata",
        "createdAt",
        "updatedAt",
        "statusUpdatedAt",
    }
    late = (
        await admin.get(f"/api/instances/{iid}/chats/79005556677/messages", params={"startDate": first["createdAt"]})
    ).json()
    assert [m["content"] for m in late["messages"]] == ["reply"]
    r = await admin.get(f"/api/instances/{iid}/chats/79005556677/messages", params={"startDate": "yesterday"})
    assert r.status_code == 400
    chats = (await admin.get(f"/api/instances/{iid}/chats")).json()["chats"]
    assert [c["remoteJid"] for c in chats] == ["79008889900@s.whatsapp.net", "79005556677@s.whatsapp.net"]
    ann = chats[1]
    assert ann["unreadCount"] == 1 and ann["lastMessage"]["content"] == "reply" and ann["name"] == "Ann"
    assert (await admin.post(f"/api/instances/{iid}/chats/79005556677/read")).status_code == 200
    chats = (await admin.get(f"/api/instances/{iid}/chats")).json()["chats"]
    assert chats[1]["unreadCount"] == 0


async def test_feed_under_a_burst_every_message_once_in_order(admin: Api) -> None:
    iid = await admin.connected_instance("Burst")
    total = 500
    seen_since: list[str] = []
    seen_cursor: list[str] = []
    done = trio.Event()

    async def push() -> None:
        async with trio.open_nursery() as nursery:
            for lane in range(5):

                async def send_lane(lane: int = lane) -> None:
                    for i in range(total // 5):
                        r = await admin.post(
                            f"/api/simulator/instances/{iid}/incoming",
                            json={"from": "79001230000", "body": f"{lane}-{i}", "messageId": f"B{lane}-{i:04d}"},
                        )
                        assert r.status_code == 200

                nursery.start_soon(send_lane)
        done.set()

    async def poll_since() -> None:
        since = "1970-01-01T00:00:00.000Z"
        while True:
            finished = done.is_set()
            r = (
                await admin.get(
                    f"/api/instances/{iid}/events", params={"since": since, "types": "message_received", "limit": 37}
                )
            ).json()
            seen_since.extend(e["data"]["messageId"] for e in r["events"])
            since = r["latestTimestamp"] or since
            if finished and not r["hasMore"] and not r["events"]:
                return
            await trio.sleep(0.005)

    async def poll_cursor() -> None:
        cursor = None
        while True:
            finished = done.is_set()
            params = {"types": "message_received", "limit": 50}
            if cursor:
                params["after"] = cursor
            else:
                params["since"] = "1970-01-01T00:00:00.000Z"
            r = (await admin.get(f"/api/instances/{iid}/events", params=params)).json()
            seen_cursor.extend(e["data"]["messageId"] for e in r["events"])
            cursor = r["cursor"]
            if finished and not r["hasMore"] and not r["events"]:
                return
            await trio.sleep(0.005)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(push)
        nursery.start_soon(poll_since)
        nursery.start_soon(poll_cursor)
    expected = {f"B{lane}-{i:04d}" for lane in range(5) for i in range(total // 5)}
    for seen in (seen_since, seen_cursor):
        assert len(seen) == total and set(seen) == expected  # exactly once
        for lane in range(5):  # each sender's messages in the order they were sent
            mine = [m for m in seen if m.startswith(f"B{lane}-")]
            assert mine == sorted(mine)
    assert seen_since == seen_cursor  # both ways see the one store order


async def test_idempotency_key_returns_the_first_answer(admin: Api) -> None:
    iid = await admin.connected_instance("Idem")
    headers = {"Idempotency-Key": "order-42"}
    a = await admin.post(f"/api/whatsapp/{iid}/send", json={"phone": "79001234567", "message": "once"}, headers=headers)
    b = await admin.post(f"/api/whatsapp/{iid}/send", json={"phone": "79001234567", "message": "once"}, headers=headers)
    assert a.status_code == b.status_code == 200 and a.json() == b.json()
    assert b.headers.get("Idempotent-Replayed") == "true"
    outbox = (await admin.get(f"/api/simulator/instances/{iid}/outbox")).json()["messages"]
    assert [m["body"] for m in outbox] == ["once"]


async def test_private_media_url_refused_by_default(admin: Api, server: ServerProcess, unique_email) -> None:  # type: ignore[no-untyped-def]
    # §8: users may not make the server fetch private addresses; admins may (a plain user here).
    user = await admin.new_user(unique_email("media-ssrf"))
    async with Api(server.url, api_key=user["apiKey"]) as plain:
        iid = await plain.connected_instance("SSRF", admin=admin)
        for url, code in (
            ("http://127.0.0.1:9/x.png", "url_not_allowed"),
            ("http://169.254.169.254/latest/meta-data", "url_not_allowed"),
            ("http://10.0.0.1/a", "url_not_allowed"),
            ("file:///etc/passwd", "validation_error"),
        ):
            r = await plain.post(f"/api/whatsapp/{iid}/send-media", json={"phone": "79001234567", "url": url})
            assert r.status_code == 400 and r.json()["code"] == code, (url, r.text)


async def test_send_media_and_files(server_factory) -> None:
    srv: ServerProcess = server_factory(
        MEDIA_ALLOW_PRIVATE_URLS="1", MEDIA_MAX_MB="1", MAX_UPLOAD_MB="1", MEDIA_TIMEOUT_S="1"
    )
    with MediaServer() as media:
        async with Api(srv.url, token=srv.admin_token()) as api:
            iid = await api.connected_instance("Media")
            url = f"/api/whatsapp/{iid}/send-media"
            r = await api.post(url, json={"phone": "79001234567", "url": media.url + "/image.png", "caption": "look"})
            assert r.status_code == 200, r.text
            r = await api.post(
                url, json={"phone": "79001234567", "url": media.url + "/doc.pdf", "filename": "report.pdf"}
            )
            assert r.status_code == 200, r.text
            r = await api.post(url, json={"phone": "79001234567", "url": media.url + "/redirect"})
            assert r.status_code == 200, r.text
            r = await api.post(url, json={"phone": "79001234567", "url": media.url + "/big"})
            assert r.status_code == 413 and r.json()["code"] == "payload_too_large"
            r = await api.post(url, json={"phone": "79001234567", "url": media.url + "/slow"})
            assert r.status_code in (502, 504) and r.json()["code"] == "media_timeout"
            r = await api.post(url, json={"phone": "79001234567", "url": media.url + "/loop"})
            assert r.status_code == 502
            r = await api.post(url, json={"phone": "79001234567", "url": media.url + "/missing"})
            assert r.status_code == 502
            out = (await api.get(f"/api/simulator/instances/{iid}/outbox")).json()["messages"]
            assert [(m["type"], m["mimeType"]) for m in out] == [
                ("image", "image/png"),
                ("document", "application/pdf"),
                ("image", "image/png"),
            ]
            assert out[0]["caption"] == "look" and out[1]["fileName"] == "report.pdf"

            files = {"file": ("photo.png", png_bytes("blue"), "application/octet-stream")}
            r = await api.post(
                f"/api/whatsapp/{iid}/send-file", data={"phone": "79001234567", "caption": "up"}, files=files
            )
            assert r.status_code == 200, r.text
            big = {"file": ("big.bin", b"\1" * (1024 * 1024 + 10), "application/octet-stream")}
            r = await api.post(f"/api/whatsapp/{iid}/send-file", data={"phone": "79001234567"}, files=big)
            assert r.status_code == 413
            r = await api.post(f"/api/whatsapp/{iid}/send-file", data={"phone": "79001234567"})
            assert r.status_code == 400
            out = (await api.get(f"/api/simulator/instances/{iid}/outbox")).json()["messages"]
            assert out[-1]["type"] == "image" and out[-1]["caption"] == "up"


async def test_incoming_media_is_stored_and_served_only_with_auth(admin: Api, server: ServerProcess) -> None:
    iid = await admin.connected_instance("InMedia")
    data = png_bytes("green")
    r = await admin.post(
        f"/api/simulator/instances/{iid}/incoming",
        json={
            "from": "79001234567",
            "body": "pic",
            "media": {"mimeType": "image/png", "fileName": "g.png", "data": base64.b64encode(data).decode()},
        },
    )
    mid = r.json()["messageId"]
    msgs = (await admin.get(f"/api/instances/{iid}/chats/79001234567/messages")).json()["messages"]
    m = msgs[0]
    assert m["messageId"] == mid and m["hasMedia"] is True and m["messageType"] == "image" and m["caption"] == "pic"
    got = await admin.get(m["mediaUrl"])
    assert got.status_code == 200 and got.content == data and got.headers["content-type"] == "image/png"
    assert httpx.get(server.url + m["mediaUrl"]).status_code == 401


async def test_acknowledged_message_survives_kill_9(server_factory, tmp_path) -> None:
    data_dir = tmp_path / "crash"
    first = server_factory(data_dir)
    async with Api(first.url, token=first.admin_token()) as api:
        iid = await api.connected_instance("Crash")
        ids = []
        for i in range(20):
            r = await api.post(f"/api/whatsapp/{iid}/send", json={"phone": "79001234567", "message": f"c{i}"})
            ids.append(r.json()["id"])
    first.kill()
    second = server_factory(data_dir)
    async with Api(second.url, token=second.admin_token()) as api:
        msgs = (await api.get(f"/api/instances/{iid}/chats/79001234567/messages", params={"limit": 100})).json()
        assert {m["messageId"] for m in msgs["messages"]} == set(ids)


async def test_send_pacing_spaces_sends_in_arrival_order(admin: Api) -> None:
    iid = await admin.connected_instance("Paced", settings={"sendIntervalMs": 300})
    started = trio.current_time()
    async with trio.open_nursery() as nursery:
        for i in range(4):

            async def send(i: int = i) -> None:
                await trio.sleep(i * 0.1)  # arrival order 0..3, well apart: a loaded machine reorders close ones
                r = await admin.post(f"/api/whatsapp/{iid}/send", json={"phone": "79001234567", "message": f"p{i}"})
                assert r.status_code == 200

            nursery.start_soon(send)
    elapsed = trio.current_time() - started
    assert elapsed >= 0.85  # three gaps of 300 ms between four sends
    outbox = (await admin.get(f"/api/simulator/instances/{iid}/outbox")).json()["messages"]
    assert [m["body"] for m in outbox] == ["p0", "p1", "p2", "p3"]
    r = await admin.put(f"/api/instances/{iid}", json={"settings": {"sendIntervalMs": 999999}})
    assert r.status_code == 400
