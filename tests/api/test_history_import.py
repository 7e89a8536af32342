"""History import over HTTP (API-2 §6, §9): the simulator pushes a generated history sync as WhatsApp would.

The messages show in the chat list and in history with `history: true`, among live messages by time,
never as unread and never in usage; `/events` and webhooks get `history_sync` with counts only, and no
`message_received` for them. `settings.syncHistory: false` imports nothing; a `kill -9` right after the
route answered loses nothing, and the same sync pushed again duplicates nothing; `wamux rebuild`
reproduces the rows on both stores.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_openapi import Checker, validate_event, validator
from tests.harness import Api, ServerProcess, poll, wait_for
from tests.receiver import Receiver

LIVE = "79005550001"
MEDIA_TYPES = {"image", "video", "audio", "voice", "document", "sticker"}


async def push_history(api: Api, iid: str, chats: int, per_chat: int) -> dict[str, Any]:
    r = await api.post(
        f"/api/simulator/instances/{iid}/history", json={"chats": chats, "messagesPerChat": per_chat}, timeout=120
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


async def all_chats(api: Api, iid: str) -> list[dict[str, Any]]:
    r = await api.get(f"/api/instances/{iid}/chats", params={"limit": 500})
    assert r.status_code == 200, r.text
    return list(r.json()["chats"])


async def chat_history(api: Api, iid: str, chat_id: str) -> list[dict[str, Any]]:
    r = await api.get(f"/api/instances/{iid}/chats/{chat_id}/messages", params={"limit": 1000})
    assert r.status_code == 200, r.text
    return list(r.json()["messages"])


async def everything(api: Api, iid: str) -> dict[str, list[dict[str, Any]]]:
    """Every chat's history, by chat id."""
    return {c["chatId"]: await chat_history(api, iid, c["chatId"]) for c in await all_chats(api, iid)}


async def history_sync_events(api: Api, iid: str) -> list[dict[str, Any]]:
    r = await api.get(f"/api/instances/{iid}/events", params={"types": "history_sync", "limit": 100})
    assert r.status_code == 200, r.text
    return list(r.json()["events"])


async def test_a_sync_shows_in_chats_and_history_and_only_its_counts_reach_webhooks(admin: Api) -> None:
    with Receiver() as rx:
        url = rx.on("/history")
        iid = await admin.connected_instance("History", webhookUrl=url, webhookEnabled=True, retryInterval=100)
        r = await admin.post(f"/api/simulator/instances/{iid}/incoming", json={"from": LIVE, "body": "live one"})
        live_id = r.json()["messageId"]
        before = (await admin.get(f"/api/stats/instances/{iid}", params={"period": "all"})).json()["usage"]

        assert await push_history(admin, iid, 3, 20) == {"messages": 60, "chats": 3}

        chats = {c["chatId"]: c for c in await all_chats(admin, iid)}
        synced = {jid: c for jid, c in chats.items() if jid != f"{LIVE}@s.whatsapp.net"}
        assert len(synced) == 3 and sum(1 for c in synced.values() if c["isGroup"]) == 1
        for chat in synced.values():
            assert (chat["messageCount"], chat["unreadCount"]) == (20, 0)
            assert chat["lastMessage"]["history"] is True
        assert chats[f"{LIVE}@s.whatsapp.net"]["unreadCount"] == 1  # history adds no unread
        kinds: set[str] = set()
        directions: set[bool] = set()
        for jid in synced:
            rows = await chat_history(admin, iid, jid)
            assert len(rows) == 20 and all(m["history"] is True for m in rows)
            stamps = [m["metadata"]["timestamp"] for m in rows]
            assert stamps == sorted(stamps, reverse=True)  # newest first, as WhatsApp dated them
            assert [m["createdAt"] for m in rows] == sorted((m["createdAt"] for m in rows), reverse=True)
            for m in rows:
                kinds.add(m["messageType"])
                directions.add(m["fromMe"])
                if m["messageType"] in MEDIA_TYPES:  # history media are never downloaded
                    assert (m["hasMedia"], m["mediaUrl"], m["metadata"]["mediaDownloaded"]) == (False, None, False)
                    assert m["mimeType"] and m["mediaSize"] > 0
                if not m["fromMe"]:
                    assert m["pushName"] and m["sender"]
            assert synced[jid]["lastMessage"]["messageId"] == rows[0]["messageId"]
        assert "text" in kinds and kinds & MEDIA_TYPES and directions == {True, False}
        live = await chat_history(admin, iid, LIVE)
        assert [(m["messageId"], m["history"]) for m in live] == [(live_id, False)]

        events = await history_sync_events(admin, iid)
        assert [e["data"] for e in events] == [{"instanceId": iid, "messages": 60, "chats": 3, "progress": 100}]
        # The target's deliveries keep the log's order: once the live message after the sync is in, any
        # message_received of a history message would have arrived before it.
        r = await admin.post(f"/api/simulator/instances/{iid}/incoming", json={"from": LIVE, "body": "after"})
        after_id = r.json()["messageId"]
        await wait_for(
            lambda: any(h.json["data"].get("messageId") == after_id for h in rx.at("/history", ok_only=True))
        )
        hooked = [h.json for h in rx.at("/history", ok_only=True)]
        assert [h["data"] for h in hooked if h["event"] == "history_sync"] == [events[0]["data"]]
        received = [h["data"]["messageId"] for h in hooked if h["event"] == "message_received"]
        assert received == [live_id, after_id]
        usage = (await admin.get(f"/api/stats/instances/{iid}", params={"period": "all"})).json()["usage"]
        assert (usage["messagesReceived"], usage["mediaReceived"]) == (
            before["messagesReceived"] + 1,
            before["mediaReceived"],
        )


async def test_history_is_not_imported_when_sync_history_is_off(admin: Api) -> None:
    iid = await admin.connected_instance("No history", settings={"syncHistory": False})
    assert await push_history(admin, iid, 2, 5) == {"messages": 10, "chats": 2}  # what the network pushed
    assert await all_chats(admin, iid) == []
    assert await history_sync_events(admin, iid) == []
    r = await admin.put(f"/api/instances/{iid}", json={"settings": {"syncHistory": True}})
    assert r.status_code == 200, r.text
    assert await push_history(admin, iid, 2, 5) == {"messages": 10, "chats": 2}
    assert sum(c["messageCount"] for c in await all_chats(admin, iid)) == 10


async def test_the_answers_and_the_webhook_match_the_spec(admin: Api) -> None:
    check = Checker()
    sim, inst = "/api/simulator/instances/{instanceId}", "/api/instances/{instanceId}"
    with Receiver() as rx:
        iid = await admin.connected_instance("Spec history", webhookUrl=rx.on("/spec"), webhookEnabled=True)
        r = await admin.post(f"/api/simulator/instances/{iid}/history", json={"chats": 2, "messagesPerChat": 40})
        assert check(r, "POST", f"{sim}/history", 200) == {"messages": 80, "chats": 2}
        chats = check(await admin.get(f"/api/instances/{iid}/chats"), "GET", f"{inst}/chats", 200)["chats"]
        for chat in chats:
            r = await admin.get(f"/api/instances/{iid}/chats/{chat['chatId']}/messages", params={"limit": 100})
            assert all(m["history"] for m in check(r, "GET", f"{inst}/chats/{{chatId}}/messages", 200)["messages"])
        for event in await history_sync_events(admin, iid):
            validate_event(event)
        await wait_for(lambda: any(h.json["event"] == "history_sync" for h in rx.at("/spec", ok_only=True)))
        [hook] = [h.json for h in rx.at("/spec", ok_only=True) if h.json["event"] == "history_sync"]
    errors = list(
        validator("/webhooks/history_sync/post/requestBody/content/application~1json/schema").iter_errors(hook)
    )
    assert not errors, errors[0].message
    r = await admin.post(f"/api/simulator/instances/{iid}/history", json={"chats": 0, "messagesPerChat": 1})
    check(r, "POST", f"{sim}/history", 400)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"chats": 0, "messagesPerChat": 5}, "chats"),
        ({"chats": 1001, "messagesPerChat": 5}, "chats"),
        ({"chats": 3, "messagesPerChat": 1001}, "messagesPerChat"),
        ({"chats": 1000, "messagesPerChat": 201}, "messagesPerChat"),  # 201,000 in all
        ({"chats": "3", "messagesPerChat": 5}, "chats"),
        ({"chats": True, "messagesPerChat": 5}, "chats"),
        ({"messagesPerChat": 5}, "chats"),
    ],
)
async def test_the_history_route_refuses_sizes_out_of_range(admin: Api, body: dict[str, Any], field: str) -> None:
    iid = (await admin.create_instance("Bad history"))["id"]
    r = await admin.post(f"/api/simulator/instances/{iid}/history", json=body)
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "validation_error" and field in r.json()["details"]


async def test_a_kill_9_after_the_answer_loses_nothing_and_a_repeated_sync_duplicates_nothing(
    server_factory, tmp_path
) -> None:
    data = tmp_path / "history-crash"
    first = server_factory(data)
    async with Api(first.url, token=first.admin_token()) as api:
        iid = await api.connected_instance("Crash history")
        assert await push_history(api, iid, 12, 250) == {"messages": 3000, "chats": 12}
    first.kill()

    second = server_factory(data)
    async with Api(second.url, token=second.admin_token()) as api:
        await api.wait_status(iid, "connected")
        rows = await everything(api, iid)
        assert len(rows) == 12 and sum(len(r) for r in rows.values()) == 3000
        ids = {m["messageId"] for r in rows.values() for m in r}
        assert len(ids) == 3000
        counts = {c["chatId"]: c["messageCount"] for c in await all_chats(api, iid)}

        assert await push_history(api, iid, 12, 250) == {"messages": 3000, "chats": 12}
        assert len(await history_sync_events(api, iid)) == 6  # 3,000 messages: 3 batches per sync, twice
        again = await everything(api, iid)
        assert again == rows  # the first rows stay, nothing added
        assert {c["chatId"]: c["messageCount"] for c in await all_chats(api, iid)} == counts


@pytest.mark.store_matters
async def test_rebuild_reproduces_the_history_rows(server_factory, tmp_path) -> None:
    data = tmp_path / "history-rebuild"
    srv: ServerProcess = server_factory(data)
    async with Api(srv.url, token=srv.admin_token()) as api:
        iid = await api.connected_instance("Rebuild history")
        await api.post(f"/api/simulator/instances/{iid}/incoming", json={"from": LIVE, "body": "live"})
        await push_history(api, iid, 4, 30)
        before = await poll(lambda: everything(api, iid), lambda rows: len(rows) == 5)
        chats = await all_chats(api, iid)
    srv.stop()
    out = srv.cli("rebuild")
    assert out.returncode == 0, out.stderr
    again = server_factory(data)
    async with Api(again.url, token=again.admin_token()) as api:
        assert await everything(api, iid) == before
        assert await all_chats(api, iid) == chats
        assert sum(len(rows) for rows in before.values()) == 121
