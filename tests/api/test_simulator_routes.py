"""The simulator's routes over HTTP (API-2 §9): every incoming kind, presence, the directory, the outbox."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from tests.harness import Api, ServerProcess

SIM = "/api/simulator/instances/{}"
FROM = "79005550001"
B64 = base64.b64encode(b"OggS-ish bytes").decode()


def sim(iid: str, route: str) -> str:
    return SIM.format(iid) + "/" + route


def bad(response: httpx.Response, field: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "validation_error" and body["error"], body
    assert field in body["details"], body


INVALID_INCOMING: list[tuple[dict[str, Any], str]] = [
    ({"type": "hologram", "body": "x"}, "type"),
    ({"from": "not a phone", "body": "x"}, "from"),
    ({"body": "x", "group": "79001112233"}, "group"),
    ({"body": "x", "mentions": "79001112233"}, "mentions"),
    ({"body": "x", "mentions": ["nope"]}, "mentions[0]"),
    ({"body": "x", "quotedMessageId": 42}, "quotedMessageId"),
    ({"body": "x", "forwarded": "yes"}, "forwarded"),
    ({"type": "text"}, "body"),
    ({"type": "reaction", "emoji": "👍"}, "messageId"),
    ({"type": "reaction", "messageId": "3EB0A"}, "emoji"),
    ({"type": "reaction", "messageId": "3EB0A", "emoji": 1}, "emoji"),
    ({"type": "edit", "messageId": "3EB0A"}, "body"),
    ({"type": "revoke"}, "messageId"),
    ({"type": "location", "latitude": 91, "longitude": 0}, "latitude"),
    ({"type": "location", "latitude": 0, "longitude": -180.5}, "longitude"),
    ({"type": "location", "latitude": True, "longitude": 0}, "latitude"),
    ({"type": "location", "latitude": "55.7", "longitude": 0}, "latitude"),
    ({"type": "location", "latitude": 10}, "longitude"),
    ({"type": "location", "latitude": 1, "longitude": 1, "media": {"data": B64}}, "media"),
    ({"type": "contact", "contacts": []}, "contacts"),
    ({"type": "contact", "contacts": [{"name": "A", "phone": FROM}] * 21}, "contacts"),
    ({"type": "contact", "contacts": [{"name": "A"}]}, "contacts[0].phone"),
    ({"type": "contact", "contacts": [{"phone": FROM}]}, "contacts[0]"),
    ({"type": "contact", "contacts": [{"name": "A", "phone": "120363012345678901@g.us"}]}, "contacts[0].phone"),
    ({"type": "poll", "question": "Q?", "options": ["only one"]}, "options"),
    ({"type": "poll", "question": "Q?", "options": [f"o{i}" for i in range(13)]}, "options"),
    ({"type": "poll", "question": "Q?", "options": ["same", "same"]}, "options"),
    ({"type": "poll", "question": "Q?", "options": ["a", ""]}, "options"),
    ({"type": "poll", "options": ["a", "b"]}, "question"),
    ({"type": "poll", "question": "Q?", "options": ["a", "b"], "selectableCount": 3}, "selectableCount"),
    ({"type": "poll_vote", "messageId": "3EB0P", "options": "a"}, "options"),
    ({"type": "poll_vote", "options": ["a"]}, "messageId"),
    ({"type": "voice"}, "media"),
    ({"type": "voice", "media": {"data": B64, "mimeType": "image/png"}}, "media.mimeType"),
    ({"type": "image", "media": {"data": "***"}}, "media.data"),
    ({"type": "sticker", "media": {"data": B64, "mimeType": 5}}, "mimeType"),
]


@pytest.mark.parametrize(
    ("body", "field"), INVALID_INCOMING, ids=[f"{b.get('type', 'text')}-{f}" for b, f in INVALID_INCOMING]
)
async def test_incoming_refuses_bad_fields_with_a_400_naming_them(admin: Api, body: dict[str, Any], field: str) -> None:
    iid = (await admin.create_instance("Sim bad input"))["id"]  # checked before the network is asked
    bad(await admin.post(sim(iid, "incoming"), json={"from": FROM, **body}), field)


async def test_every_incoming_kind_is_delivered(admin: Api) -> None:
    iid = await admin.connected_instance("Sim kinds")
    since = (await admin.get(f"/api/instances/{iid}/events")).json()["latestTimestamp"]
    messages: list[dict[str, Any]] = [
        {"body": "plain"},
        {"body": "a reply @79005550002", "quotedMessageId": "3EB0Q", "mentions": ["79005550002"]},
        {"type": "voice", "media": {"data": B64}},
        {"type": "sticker", "media": {"data": B64}},
        {"type": "image", "media": {"data": B64, "mimeType": "image/png"}, "body": "a caption"},
        {"type": "location", "latitude": 55.75, "longitude": 37.62, "name": "Red Square"},
        {"type": "contact", "contacts": [{"name": "Ann", "phone": "+7 900 555-00-02"}]},
        {"type": "poll", "question": "Lunch?", "options": ["pizza", "soup"], "group": "120363012345678901@g.us"},
    ]
    ids = []
    for body in messages:
        r = await admin.post(sim(iid, "incoming"), json={"from": FROM, **body})
        assert r.status_code == 200, (body, r.text)
        ids.append(r.json()["messageId"])
    assert len(set(ids)) == len(ids)
    chosen = await admin.post(sim(iid, "incoming"), json={"from": FROM, "messageId": "3EB0MINE", "body": "x"})
    assert chosen.json() == {"messageId": "3EB0MINE"}
    # Reactions, edits, revokes and votes name their target, known or not: the core decides what counts.
    targeted: list[dict[str, Any]] = [
        {"type": "reaction", "messageId": ids[0], "emoji": "👍"},
        {"type": "reaction", "messageId": ids[0], "emoji": ""},
        {"type": "edit", "messageId": ids[0], "body": "plain, edited"},
        {"type": "revoke", "messageId": ids[1]},
        {"type": "poll_vote", "messageId": ids[-1], "options": ["soup"], "group": "120363012345678901@g.us"},
        {"type": "poll_vote", "messageId": ids[-1], "options": []},
        {"type": "reaction", "messageId": "3EB0UNKNOWN", "emoji": "❓"},
    ]
    for body in targeted:
        r = await admin.post(sim(iid, "incoming"), json={"from": FROM, **body})
        assert r.status_code == 200, (body, r.text)
        assert r.json() == {"messageId": body["messageId"]}
    feed = (await admin.get(f"/api/instances/{iid}/events", params={"since": since, "limit": 100})).json()
    received = [e["data"]["messageId"] for e in feed["events"] if e["type"] == "message_received"]
    assert received == [*ids, "3EB0MINE"]


async def test_incoming_needs_a_connected_instance(admin: Api) -> None:
    iid = (await admin.create_instance("Sim offline"))["id"]
    for body in ({"body": "hi"}, {"type": "reaction", "messageId": "3EB0A", "emoji": "👍"}):
        r = await admin.post(sim(iid, "incoming"), json={"from": FROM, **body})
        assert r.status_code == 409 and r.json()["code"] == "conflict", r.text
    r = await admin.post(sim(iid, "presence"), json={"from": FROM, "state": "typing"})
    assert r.status_code == 409


async def test_presence(admin: Api) -> None:
    iid = await admin.connected_instance("Sim presence")
    for body in (
        {"from": FROM, "state": "typing"},
        {"from": FROM, "state": "recording", "group": "120363012345678901@g.us"},
        {"from": FROM, "state": "paused"},
        {"from": FROM, "state": "available"},
        {"from": FROM, "state": "unavailable"},
    ):
        r = await admin.post(sim(iid, "presence"), json=body)
        assert r.status_code == 200 and r.json() == {"success": True}, (body, r.text)
    bad(await admin.post(sim(iid, "presence"), json={"from": FROM, "state": "dancing"}), "state")
    bad(await admin.post(sim(iid, "presence"), json={"from": FROM}), "state")
    bad(await admin.post(sim(iid, "presence"), json={"state": "typing"}), "from")
    group_state = {"from": FROM, "state": "available", "group": "120363012345678901@g.us"}
    bad(await admin.post(sim(iid, "presence"), json=group_state), "group")


async def test_directory(admin: Api) -> None:
    iid = await admin.connected_instance("Sim directory")
    numbers = [
        {"phone": "+7 900 555-00-01", "exists": True, "lid": "123456789012345@lid", "name": "Bob", "about": "hi"},
        {"phone": "79005550002", "exists": False},
        {"phone": "79005550003", "exists": True, "lid": "987654321098765"},
    ]
    r = await admin.put(sim(iid, "directory"), json={"numbers": numbers})
    assert r.status_code == 200 and r.json() == {"success": True, "count": 3}, r.text
    assert (await admin.put(sim(iid, "directory"), json={"numbers": []})).json()["count"] == 0
    for body, field in (
        ({}, "numbers"),
        ({"numbers": {"phone": FROM}}, "numbers"),
        ({"numbers": ["79005550001"]}, "numbers[0]"),
        ({"numbers": [{"phone": "abc", "exists": True}]}, "numbers[0].phone"),
        ({"numbers": [{"phone": FROM}]}, "numbers[0].exists"),
        ({"numbers": [{"phone": FROM, "exists": "yes"}]}, "numbers[0].exists"),
        ({"numbers": [{"phone": FROM, "exists": True, "lid": "12@g.us"}]}, "numbers[0].lid"),
        ({"numbers": [{"phone": FROM, "exists": True, "name": "a\nb"}]}, "numbers[0]"),
    ):
        bad(await admin.put(sim(iid, "directory"), json=body), field)


async def test_the_new_routes_are_admin_only(server: ServerProcess, admin: Api) -> None:
    iid = await admin.connected_instance("Sim admin only")
    user = await admin.new_user("sim-routes-user@example.com")
    login = await admin.post("/api/auth/login", json={"email": user["email"], "password": "password-1"})
    async with Api(server.url, token=login.json()["token"]) as plain:
        for method, route, body in (
            ("POST", "presence", {"from": FROM, "state": "typing"}),
            ("PUT", "directory", {"numbers": []}),
            ("POST", "incoming", {"from": FROM, "type": "revoke", "messageId": "3EB0A"}),
        ):
            r = await plain.http.request(method, sim(iid, route), json=body)
            assert r.status_code == 403, (route, r.text)
    r = await admin.post(
        sim("00000000-0000-0000-0000-000000000000", "presence"), json={"from": FROM, "state": "typing"}
    )
    assert r.status_code == 404


async def test_the_outbox_shows_what_a_send_carries(admin: Api) -> None:
    iid = await admin.connected_instance("Sim outbox")
    r = await admin.post(f"/api/whatsapp/{iid}/send", json={"phone": FROM, "message": "hello"})
    assert r.status_code == 200, r.text
    entry = (await admin.get(sim(iid, "outbox"))).json()["messages"][-1]
    assert entry["id"] == r.json()["id"] and entry["type"] == "text" and entry["body"] == "hello"
    assert {"to", "caption", "mimeType", "fileName", "size", "quotedMessageId", "mentions", "forwarded"} <= set(entry)
