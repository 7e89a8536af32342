"""The simulator's routes over HTTP (API-2 §9): every incoming kind, presence, the directory, groups and group
events, calls, the outbox."""

from __future__ import annotations

import base64
from functools import partial
from typing import Any

import httpx
import pytest

from tests.api.test_openapi import validator
from tests.harness import Api, ServerProcess, poll

SIM = "/api/simulator/instances/{}"
FROM = "79005550001"
FROM_JID = f"{FROM}@s.whatsapp.net"
FROM_LID = "123456789012345@lid"
ME = "79001234567"  # the phone `connected_instance` links
ANN, CARL = "79005550002", "79005550003"
GROUP_ID = "120363012345678901@g.us"
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
        ({"numbers": [{"phone": FROM, "exists": True, "isBusiness": "yes"}]}, "numbers[0]"),
        ({"numbers": [{"phone": FROM, "exists": True, "about": 7}]}, "numbers[0]"),
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
            ("PUT", "groups", {"groups": []}),
            ("POST", "group-event", {"groupId": GROUP_ID, "action": "updated", "subject": "x"}),
            ("POST", "call", {"from": FROM}),
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


async def sent(api: Api, iid: str) -> list[dict[str, Any]]:
    """The outbox, each entry checked against its schema in docs/openapi.yaml."""
    entries: list[dict[str, Any]] = (await api.get(sim(iid, "outbox"))).json()["messages"]
    for entry in entries:
        errors = list(validator("/components/schemas/SimOutboxMessage").iter_errors(entry))
        assert not errors, (entry, errors[0].message)
    return entries


async def account_events(api: Api, iid: str, types: str) -> list[dict[str, Any]]:
    r = await api.get(f"/api/instances/{iid}/events", params={"types": types, "limit": 1000})
    assert r.status_code == 200, r.text
    return list(r.json()["events"])


def jid(phone: str) -> str:
    return f"{phone}@s.whatsapp.net"


def staged(participants: Any) -> dict[str, Any]:
    return {"groups": [{**GOOD_GROUP, "participants": participants}]}


GOOD_GROUP = {"id": GROUP_ID, "subject": "Team"}


INVALID_ACCOUNT_BODIES: list[tuple[str, dict[str, Any], str]] = [
    ("group-event", {"action": "add", "participants": [FROM]}, "groupId"),
    ("group-event", {"groupId": "not-a-group", "action": "add", "participants": [FROM]}, "groupId"),
    ("group-event", {"groupId": GROUP_ID}, "action"),
    ("group-event", {"groupId": GROUP_ID, "action": "left"}, "action"),
    ("group-event", {"groupId": GROUP_ID, "action": "add"}, "participants"),
    ("group-event", {"groupId": GROUP_ID, "action": "add", "participants": []}, "participants"),
    ("group-event", {"groupId": GROUP_ID, "action": "add", "participants": [FROM] * 257}, "participants"),
    ("group-event", {"groupId": GROUP_ID, "action": "remove", "participants": ["nope"]}, "participants[0]"),
    ("group-event", {"groupId": GROUP_ID, "action": "remove", "participants": [GROUP_ID]}, "participants[0]"),
    ("group-event", {"groupId": GROUP_ID, "action": "updated"}, "subject"),
    ("group-event", {"groupId": GROUP_ID, "action": "updated", "locked": "yes"}, "locked"),
    ("group-event", {"groupId": GROUP_ID, "action": "updated", "subject": "a\nb"}, "subject"),
    ("group-event", {"groupId": GROUP_ID, "action": "updated", "subject": "x" * 101}, "subject"),
    ("group-event", {"groupId": GROUP_ID, "action": "add", "participants": [FROM], "subject": "x"}, "subject"),
    ("group-event", {"groupId": GROUP_ID, "action": "joined", "by": "nope"}, "by"),
    ("group-event", {"groupId": GROUP_ID, "action": "joined", "participants": "x"}, "participants"),
    ("groups", {}, "groups"),
    ("groups", {"groups": [1]}, "groups[0]"),
    ("groups", {"groups": [{"subject": "Team"}]}, "groups[0].id"),
    ("groups", {"groups": [{"id": "abc", "subject": "Team"}]}, "groups[0].id"),
    ("groups", {"groups": [{"id": GROUP_ID}]}, "groups[0]"),
    ("groups", {"groups": [{**GOOD_GROUP, "subject": "x" * 101}]}, "groups[0]"),
    ("groups", {"groups": [{**GOOD_GROUP, "locked": "yes"}]}, "groups[0]"),
    ("groups", staged({"phone": FROM}), "groups[0].participants"),
    ("groups", staged([FROM]), "groups[0].participants[0]"),
    ("groups", staged([{"phone": "x"}]), "groups[0].participants[0].phone"),
    ("groups", staged([{"phone": FROM_LID}]), "groups[0].participants[0].phone"),
    ("groups", staged([{"phone": FROM, "isAdmin": 1}]), "groups[0].participants[0]"),
    ("groups", staged([{"phone": FROM, "lid": "1@g"}]), "groups[0].participants[0].lid"),
    ("call", {}, "from"),
    ("call", {"from": "nope"}, "from"),
    ("call", {"from": GROUP_ID}, "from"),
    ("call", {"from": FROM, "isVideo": "yes"}, "isVideo"),
    ("call", {"from": FROM, "isGroup": 1}, "isGroup"),
    ("call", {"from": FROM, "callId": 5}, "callId"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("route", "body", "field"), INVALID_ACCOUNT_BODIES, ids=[f"{r}-{f}" for r, _, f in INVALID_ACCOUNT_BODIES]
)
async def test_group_and_call_routes_refuse_bad_fields(
    admin: Api, route: str, body: dict[str, Any], field: str
) -> None:
    iid = (await admin.create_instance("Sim bad group or call"))["id"]  # checked before the network is asked
    bad(await admin.http.request("PUT" if route == "groups" else "POST", sim(iid, route), json=body), field)


async def test_staging_needs_no_connection_but_what_arrives_does(admin: Api) -> None:
    iid = (await admin.create_instance("Sim offline groups"))["id"]
    r = await admin.put(sim(iid, "groups"), json={"groups": [GOOD_GROUP]})
    assert r.json() == {"success": True, "count": 1}, r.text
    assert (await admin.post(sim(iid, "call"), json={"from": FROM})).status_code == 409
    r = await admin.post(sim(iid, "group-event"), json={"groupId": GROUP_ID, "action": "updated", "subject": "x"})
    assert r.status_code == 409, r.text


async def test_group_events_change_the_simulated_group_and_arrive(admin: Api) -> None:
    iid = await admin.connected_instance("Sim group events")
    event = sim(iid, "group-event")
    steps: list[dict[str, Any]] = [
        {"action": "joined", "subject": "Party", "participants": [ANN], "by": FROM},
        {"action": "updated", "subject": "Renamed", "locked": True, "by": FROM},
        {"action": "add", "participants": [CARL], "by": FROM},
        {"action": "promote", "participants": [ME], "by": FROM},
        {"action": "remove", "participants": [ANN], "by": FROM},
    ]
    for step in steps:
        r = await admin.post(event, json={"groupId": GROUP_ID.removesuffix("@g.us"), **step})
        assert r.status_code == 200 and r.json() == {"success": True}, (step, r.text)
    # What WhatsApp would not send: the network refuses it, and nothing arrives.
    for body, status in (
        ({"action": "joined", "subject": "Again"}, 409),  # already in it
        ({"action": "add", "participants": [CARL]}, 409),  # already a member
        ({"action": "remove", "participants": [ANN]}, 409),  # no longer one
        ({"groupId": "120363000000000009@g.us", "action": "updated", "subject": "x"}, 404),
        ({"groupId": "120363000000000009@g.us", "action": "joined"}, 400),  # a new group needs its subject
    ):
        r = await admin.post(event, json={"groupId": GROUP_ID, **body})
        assert r.status_code == status, (body, r.text)
    types = "group_joined,group_updated,group_participants"
    arrived = await poll(lambda: account_events(admin, iid, types), lambda e: len(e) >= len(steps))
    assert [(e["type"], e["data"].get("action")) for e in arrived] == [
        ("group_joined", None),
        ("group_updated", None),
        ("group_participants", "add"),
        ("group_participants", "promote"),
        ("group_participants", "remove"),
    ]
    joined, updated, added, promoted, removed = (e["data"] for e in arrived)
    assert (joined["groupId"], joined["subject"], joined["by"]) == (GROUP_ID, "Party", FROM_JID)
    assert (updated["subject"], updated["locked"], updated["by"]) == ("Renamed", True, FROM_JID)
    assert (added["participants"], promoted["participants"], removed["participants"]) == (
        [jid(CARL)],
        [jid(ME)],
        [jid(ANN)],
    )
    # Promoted by another member: the account may now edit the locked group.
    r = await admin.get(f"/api/whatsapp/{iid}/groups/{GROUP_ID}")
    assert r.status_code == 200, r.text
    mine = [p for p in r.json()["participants"] if p["jid"] == jid(ME)]
    assert mine and mine[0]["isAdmin"] is True, r.text


async def test_staged_groups_follow_whatsapps_rules(admin: Api) -> None:
    iid = await admin.connected_instance("Sim staged groups")
    await admin.put(sim(iid, "directory"), json={"numbers": [{"phone": p, "exists": True} for p in (FROM, CARL)]})
    ours, theirs = "120363000000000011@g.us", "120363000000000012@g.us"
    groups = [
        {"id": ours, "subject": "Ours", "participants": [{"phone": ME, "isAdmin": True}, {"phone": FROM}]},
        {"id": theirs, "subject": "Theirs", "locked": True, "participants": [{"phone": FROM, "isSuperAdmin": True}]},
    ]
    assert (await admin.put(sim(iid, "groups"), json={"groups": groups})).json() == {"success": True, "count": 2}
    listed = (await admin.get(f"/api/whatsapp/{iid}/groups", params={"refresh": "true"})).json()["groups"]
    assert sorted(g["id"] for g in listed) == [ours, theirs]
    base = f"/api/whatsapp/{iid}/groups"
    r = await admin.post(f"{base}/{theirs}/participants", json={"action": "add", "participants": [CARL]})
    assert r.status_code == 403 and r.json()["code"] == "not_group_admin", r.text
    r = await admin.post(f"{base}/{ours}/participants", json={"action": "add", "participants": [CARL, FROM, ANN]})
    assert r.status_code == 200, r.text
    assert r.json()["results"] == [
        {"jid": jid(CARL), "status": "ok"},
        {"jid": jid(FROM), "status": "conflict"},  # already in it
        {"jid": jid(ANN), "status": "not_found"},  # not on WhatsApp, by the directory
    ]
    first = (await admin.get(f"{base}/{ours}/invite")).json()
    second = (await admin.post(f"{base}/{ours}/invite/revoke")).json()
    assert first["code"] != second["code"] and second["link"] == "https://chat.whatsapp.com/" + second["code"]
    assert (await admin.post(f"{base}/{ours}/leave")).status_code == 200
    r = await admin.post(f"{base}/join", json={"link": first["link"]})  # revoked: WhatsApp knows no such link
    assert r.status_code >= 400, r.text
    r = await admin.post(f"{base}/join", json={"link": second["link"]})
    assert r.status_code == 200 and r.json() == {"groupId": ours}, r.text
    r = await admin.put(f"{base}/{ours}", json={"subject": "Still ours"})  # a member may edit an unlocked group
    assert r.status_code == 200 and r.json()["subject"] == "Still ours", r.text
    r = await admin.post(base, json={"subject": "New", "participants": [CARL, ANN]})
    assert r.status_code == 201, r.text
    created = {p["jid"]: p["isSuperAdmin"] for p in r.json()["participants"]}
    assert created == {jid(ME): True, jid(CARL): False}  # Ann has no WhatsApp: not added
    ops = [m for m in await sent(admin, iid) if m["type"] == "group_op"]
    assert [o["op"] for o in ops] == ["participants", "revoke_invite", "leave", "join", "update", "create"]
    assert ops[0]["to"] == ours and ops[0]["results"][0] == {"jid": jid(CARL), "status": "ok"}


async def test_a_call_arrives_and_is_rejected_when_the_settings_say_so(admin: Api) -> None:
    settings = {"rejectCalls": True, "rejectCallMessage": "Busy, write to me"}
    rejecting = await admin.connected_instance("Sim calls rejected", settings=settings)
    ringing = await admin.connected_instance("Sim calls ringing")
    ids = {}
    for iid in (rejecting, ringing):
        r = await admin.post(sim(iid, "call"), json={"from": FROM, "isVideo": True})
        assert r.status_code == 200 and r.json()["success"] is True, r.text
        ids[iid] = r.json()["callId"]
    assert ids[rejecting] != ids[ringing]
    for iid, rejected in ((rejecting, True), (ringing, False)):
        [call] = await poll(partial(account_events, admin, iid, "call_received"), lambda e: len(e) == 1)
        data = call["data"]
        assert (data["callId"], data["from"], data["isVideo"], data["rejected"]) == (ids[iid], FROM_JID, True, rejected)
    reject, reply = (await sent(admin, rejecting))[-2:]
    assert (reject["type"], reject["to"], reject["callId"]) == ("call_reject", FROM_JID, ids[rejecting])
    assert (reply["type"], reply["to"], reply["body"]) == ("text", FROM_JID, "Busy, write to me")
    assert await sent(admin, ringing) == []


async def test_the_directory_answers_profiles_and_a_known_lid_may_write(admin: Api) -> None:
    iid = await admin.connected_instance("Sim people")
    numbers = [
        {"phone": FROM, "exists": True, "lid": FROM_LID, "name": "Bob", "about": "Hey there", "isBusiness": True},
        {"phone": ANN, "exists": False},
    ]
    assert (await admin.put(sim(iid, "directory"), json={"numbers": numbers})).status_code == 200
    r = await admin.get(f"/api/whatsapp/{iid}/contacts/{FROM}/profile")
    assert r.status_code == 200, r.text
    profile = {k: r.json()[k] for k in ("jid", "lid", "about", "isBusiness")}
    assert profile == {"jid": FROM_JID, "lid": FROM_LID, "about": "Hey there", "isBusiness": True}
    assert (await admin.get(f"/api/whatsapp/{iid}/contacts/{ANN}/profile")).status_code == 404
    r = await admin.post(sim(iid, "incoming"), json={"from": FROM_LID, "body": "from my LID"})
    assert r.status_code == 200, r.text
    arrived = partial(account_events, admin, iid, "message_received")
    await poll(arrived, lambda e: any(x["data"]["messageId"] == r.json()["messageId"] for x in e))
