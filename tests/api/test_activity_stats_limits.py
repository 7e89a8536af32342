"""Activity log, statistics (and their rebuild), usage limits."""

from __future__ import annotations

import pytest
import trio

from tests.harness import Api, ServerProcess

pytestmark = pytest.mark.store_matters  # the activity feed, the stats and the limit counters are read-model queries


async def test_activity_of_a_scripted_lifecycle(server_factory) -> None:
    srv = server_factory(SIMULATOR_QR_INTERVAL_MS="400", QR_MAX_ATTEMPTS="10")
    async with Api(srv.url, token=srv.admin_token()) as api:
        iid = (await api.create_instance("Life"))["id"]
        with trio.fail_after(10):
            while (await api.get(f"/api/instances/{iid}/qr")).json().get("attempt") != 3:
                await trio.sleep(0.02)
        await api.post(f"/api/simulator/instances/{iid}/scan", json={"phone": "79001234567"})
        await api.wait_status(iid, "connected")
        await api.post(f"/api/simulator/instances/{iid}/disconnect", json={"reason": "connection_lost"})
        await api.wait_status(iid, "disconnected")
        await api.wait_status(iid, "connected")
        assert (await api.post(f"/api/instances/{iid}/reconnect")).status_code == 200
        await api.wait_status(iid, "connected")
        with trio.fail_after(5):
            while True:
                acts = (await api.get(f"/api/instances/{iid}/activity")).json()["logs"]
                if sum(a["action"] == "connected" for a in acts) == 3:
                    break
                await trio.sleep(0.02)
        await api.put(f"/api/instances/{iid}", json={"webhookUrl": "https://example.com/h2"})
        await api.post(f"/api/instances/{iid}/logout")
        body = (await api.get(f"/api/instances/{iid}/activity")).json()
        actions = [log["action"] for log in reversed(body["logs"])]
        assert actions == [
            "created",
            "qr_received",
            "qr_received",
            "qr_received",
            "connected",
            "disconnected",
            "connected",
            "reconnect_requested",
            "connected",
            "webhook_updated",
            "logged_out",
        ]
        logs = list(reversed(body["logs"]))
        assert [log["details"]["attempt"] for log in logs[1:4]] == [1, 2, 3]
        assert logs[5]["details"] == {"reason": "connection_lost", "willReconnect": True}
        assert logs[9]["details"]["changed"] == ["webhookUrl"]
        assert body["pagination"] == {"total": 11, "limit": 100, "skip": 0, "hasMore": False}
        assert all(log["instanceId"] == iid and log["createdAt"].endswith("Z") for log in logs)

        only = (await api.get(f"/api/instances/{iid}/activity", params={"actions": "connected,disconnected"})).json()
        assert [log["action"] for log in only["logs"]] == ["connected", "connected", "disconnected", "connected"]
        page = (await api.get(f"/api/instances/{iid}/activity", params={"limit": 4, "skip": 4})).json()
        assert [log["action"] for log in page["logs"]] == [a for a in reversed(actions)][4:8]
        assert page["pagination"] == {"total": 11, "limit": 4, "skip": 4, "hasMore": True}
        cut = logs[4]["createdAt"]
        since = (await api.get(f"/api/instances/{iid}/activity", params={"startDate": cut})).json()
        assert since["pagination"]["total"] == 7
        until = (await api.get(f"/api/instances/{iid}/activity", params={"endDate": cut})).json()
        assert until["pagination"]["total"] == 5
        r = await api.get(f"/api/instances/{iid}/activity", params={"actions": "bogus"})
        assert r.status_code == 400


async def test_stats_match_and_survive_a_rebuild(server_factory, tmp_path) -> None:
    data = tmp_path / "stats"
    srv = server_factory(data)
    async with Api(srv.url, token=srv.admin_token()) as admin:
        alice = await admin.new_user("alice-stats@example.com")
        bob = await admin.new_user("bob-stats@example.com")
        async with Api(srv.url, api_key=alice["apiKey"]) as a, Api(srv.url, api_key=bob["apiKey"]) as b:
            a1 = await a.connected_instance("a1", admin=admin)
            a2 = await a.connected_instance("a2", admin=admin)
            b1 = await b.connected_instance("b1", admin=admin)
            for _ in range(3):
                await a.post(f"/api/whatsapp/{a1}/send", json={"phone": "79001234567", "message": "x"})
            await a.post(f"/api/whatsapp/{a2}/send", json={"phone": "79001234567", "message": "y"})
            for _ in range(2):
                await b.post(f"/api/whatsapp/{b1}/send", json={"phone": "79001234567", "message": "z"})
            png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
            await admin.post(f"/api/simulator/instances/{a1}/incoming", json={"from": "79001", "body": "m"})
            await admin.post(
                f"/api/simulator/instances/{a1}/incoming",
                json={"from": "790012", "body": "p", "media": {"mimeType": "image/png", "data": png}},
            )
            await admin.post(f"/api/simulator/instances/{b1}/incoming", json={"from": "790013", "body": "n"})
            user_a = (await a.get("/api/stats/user", params={"period": "all"})).json()
            user_b = (await b.get("/api/stats/user")).json()
            inst_a1 = (await a.get(f"/api/stats/instances/{a1}", params={"period": "today"})).json()
            system = (await admin.get("/api/stats/system")).json()
            assert (await a.get("/api/stats/system")).status_code == 403
    total = user_a["total"]
    assert total["messagesSent"] == 4 and total["messagesReceived"] == 2 and total["instanceCount"] == 2
    assert total["mediaReceived"] == 1 and total["totalMediaSize"] == 70 and total["mediaSent"] == 0
    assert {i["instanceId"]: i["messagesSent"] for i in user_a["instances"]} == {a1: 3, a2: 1}
    assert user_b["total"]["messagesSent"] == 2 and user_b["total"]["messagesReceived"] == 1
    usage = inst_a1["usage"]
    assert usage["messagesSent"] == 3 and usage["messagesReceived"] == 2 and len(usage["dailyStats"]) == 1
    assert usage["dailyStats"][0]["date"].endswith("T00:00:00.000Z") and usage["dailyStats"][0]["messagesSent"] == 3
    assert system["instances"] == {"total": 3, "active": 3}
    assert system["users"]["total"] == 3
    assert system["usage"]["messagesSent"] == 6 and system["usage"]["messagesReceived"] == 3
    srv.stop()

    out = srv.cli("rebuild")
    assert out.returncode == 0, out.stderr
    again = server_factory(data)
    async with Api(again.url, api_key=alice["apiKey"]) as a:
        after = (await a.get("/api/stats/user", params={"period": "all"})).json()
        after_a1 = (await a.get(f"/api/stats/instances/{a1}", params={"period": "today"})).json()
    # api calls made before the rebuild were flushed as events at shutdown, so they rebuild too
    assert after["total"] == {**user_a["total"], "apiCalls": after["total"]["apiCalls"]}
    assert after["total"]["apiCalls"] >= user_a["total"]["apiCalls"]
    assert after_a1["usage"]["messagesSent"] == inst_a1["usage"]["messagesSent"]
    assert after_a1["usage"]["dailyStats"][0]["messagesReceived"] == 2


async def test_message_limit_refuses_the_next_send_and_records_once(
    admin: Api, server: ServerProcess, unique_email
) -> None:
    owner = await admin.new_user(unique_email("sender"))
    async with Api(server.url, api_key=owner["apiKey"]) as user:  # admins are never limited: a plain user's
        iid = await user.connected_instance("Limited", admin=admin, limits={"maxMessagesSent": 3, "period": "day"})
        for i in range(3):
            r = await user.post(f"/api/whatsapp/{iid}/send", json={"phone": "79001234567", "message": f"ok{i}"})
            assert r.status_code == 200
        for _ in range(2):
            r = await user.post(f"/api/whatsapp/{iid}/send", json={"phone": "79001234567", "message": "too many"})
            assert r.status_code == 429 and r.json()["code"] == "limit_exceeded"
            details = r.json()["details"]
            assert details["exceededLimits"] == ["maxMessagesSent"] and details["usage"]["messagesSent"] == 3
    outbox = (await admin.get(f"/api/simulator/instances/{iid}/outbox")).json()["messages"]
    assert len(outbox) == 3
    logs = (await admin.get(f"/api/instances/{iid}/activity", params={"actions": "limit_exceeded"})).json()["logs"]
    assert len(logs) == 1 and logs[0]["details"]["exceededLimits"] == ["maxMessagesSent"]
    feed = (await admin.get(f"/api/instances/{iid}/events", params={"types": "limit_exceeded"})).json()["events"]
    assert len(feed) == 1 and feed[0]["data"]["usage"]["messagesSent"] == 3


async def test_api_call_limit(admin: Api, server: ServerProcess, unique_email) -> None:
    owner = await admin.new_user(unique_email("caller"))
    async with Api(server.url, api_key=owner["apiKey"]) as user:
        inst = await user.create_instance("Calls", limits={"maxApiCalls": 5, "period": "month"})
        codes = [(await user.get(f"/api/instances/{inst['id']}/status")).status_code for _ in range(7)]
        assert codes == [200] * 5 + [429, 429]
        r = await user.get(f"/api/instances/{inst['id']}/status")
        assert r.json()["details"]["exceededLimits"] == ["maxApiCalls"]
        logs = (await user.get("/api/instances")).json()
        assert any(i["id"] == inst["id"] for i in logs["instances"])  # other routes still work
