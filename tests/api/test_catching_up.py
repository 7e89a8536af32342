"""A server on a big log and an empty read-model store serves at once; reads of a read model still catching
up wait (bounded) or answer 503 catching_up with Retry-After and progress, never stale rows."""

from __future__ import annotations

import time

import httpx
import trio

from tests.harness import JWT_SECRET, SECRET_KEY, Api, ServerProcess
from tests.log_fill import CHAT_JID, fill_messages, spread

EVENTS = 60_000  # about 4 s to fill here, and longer to catch up than the first health call takes


async def test_a_big_log_is_served_at_once_and_reads_wait_or_say_catching_up(server_factory, tmp_path) -> None:
    data = tmp_path / "data"
    first = server_factory(data)
    async with Api(first.url, token=first.admin_token()) as admin:
        user = await admin.new_user("big@example.com")
        async with Api(first.url, api_key=user["apiKey"]) as u:
            linked = await u.connected_instance("Linked", admin=admin)
            other = (await u.create_instance("Other"))["id"]
    first.stop()
    env = {"JWT_SECRET": JWT_SECRET, "WAMUX_SECRET_KEY": SECRET_KEY, "WHATSAPP_TRANSPORT": "simulator", **first.env}
    per_instance = spread([linked, other], EVENTS)
    await fill_messages(data, env, per_instance)
    for path in data.glob("*.readmodels.db*"):  # an empty read-model store: every read model starts at 0
        path.unlink()

    started = time.monotonic()
    second = ServerProcess(data, **first.env).start(timeout=60)
    try:
        health = httpx.get(second.url + "/api/health").json()
        assert time.monotonic() - started < 10
        assert health["status"] == "catching_up"
        assert health["readModels"]["messages"]["catchingUp"] is True
        assert health["readModels"]["messages"]["lag"] > 0
        async with Api(second.url, api_key=user["apiKey"]) as u:
            # Commands do not wait for the big read models: the instance is there and sends at once.
            ids = [i["id"] for i in (await u.get("/api/instances")).json()["instances"]]
            assert set(ids) == {linked, other}
            sent = await u.post(f"/api/whatsapp/{linked}/send", json={"phone": CHAT_JID.split("@")[0], "message": "hi"})
            assert sent.status_code == 200, sent.text
            history = f"/api/instances/{linked}/chats/{CHAT_JID.split('@')[0]}/messages"
            r = await u.get(history, params={"limit": 1})
            if r.status_code == 503:
                body = r.json()
                assert body["code"] == "catching_up" and body["details"]["readModel"] == "messages"
                assert 0 <= body["details"]["progress"] < 1
                assert body["details"]["position"] < body["details"]["head"]
                assert int(r.headers["Retry-After"]) >= 1
            else:  # caught up already: then complete, with the message just sent
                assert r.status_code == 200, r.text
                assert r.json()["messages"][0]["fromMe"] is True

            with trio.fail_after(240):
                while httpx.get(second.url + "/api/health").json()["status"] != "ok":
                    await trio.sleep(0.5)
            health = httpx.get(second.url + "/api/health").json()
            assert all(not m["catchingUp"] and m["lag"] == 0 for m in health["readModels"].values())
            r = await u.get(history, params={"limit": 1})
            assert r.status_code == 200, r.text
            page = r.json()
            assert page["messages"][0]["fromMe"] is True  # the send made during the catch-up is there
            assert page["pagination"]["total"] == per_instance[linked] + 1
    finally:
        second.stop()
