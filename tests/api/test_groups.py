"""Groups over HTTP against the simulator (API-2 §4, §9): the list (and its refresh), create, read, change,
participants, invite links, join by link, leave, the picture; the admin rules (403 before WhatsApp is asked)
and WhatsApp's own per-participant answers; what other members do (`group-event`) in `/events` and webhooks.
Profiles, blocking, privacy and calls are `test_people_calls`.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.api.test_openapi import Checker, escape, spec, validate_event, validator
from tests.api.test_rich_messaging import outbox, serving
from tests.harness import SQLITE_AND_MONGODB, Api, poll, wait_for
from tests.media_server import png_bytes
from tests.receiver import Receiver

ME = "79990000001"
ME_JID = f"{ME}@s.whatsapp.net"
BOB = "79001234567"
BOB_JID = f"{BOB}@s.whatsapp.net"
ANN = "79007654321"
ANN_JID = f"{ANN}@s.whatsapp.net"
CAROL = "79005550001"
CAROL_JID = f"{CAROL}@s.whatsapp.net"
STAGED = "120363000000000001@g.us"
GROUP_EVENTS = "group_joined,group_updated,group_participants"


def template(method: str, path: str) -> str:
    """The docs/openapi.yaml path a request path is an instance of (a literal segment wins over `{param}`)."""
    found = [
        t
        for t, item in spec()["paths"].items()
        if method.lower() in item and re.fullmatch(re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(t)), path)
    ]
    assert found, f"{method} {path} is not in docs/openapi.yaml"
    return str(max(found, key=lambda t: len(re.sub(r"\{\w+\}", "", t))))


async def call(api: Api, method: str, path: str, status: int, **kw: Any) -> Any:
    """The answer's JSON, after checking its status and (but for the simulator's routes) its documented shape."""
    r = await api.http.request(method, path, **kw)
    assert r.status_code == status, f"{method} {path}: {r.status_code} {r.text}"
    if not path.startswith("/api/simulator/"):
        Checker()(r, method, template(method, r.request.url.path))
    return r.json()


async def linked(api: Api, name: str = "Groups", **fields: Any) -> str:
    return await api.connected_instance(name, phone=ME, **fields)


async def create(api: Api, iid: str, subject: str = "Team", participants: tuple[str, ...] = (BOB, ANN)) -> Any:
    body = {"subject": subject, "participants": list(participants)}
    return await call(api, "POST", f"/api/whatsapp/{iid}/groups", 201, json=body)


async def stage(api: Api, iid: str, *groups: dict[str, Any]) -> None:
    """The groups the simulated account is in (read by the core on connect and on `?refresh=true`)."""
    await call(api, "PUT", f"/api/simulator/instances/{iid}/groups", 200, json={"groups": list(groups)})


async def listed(api: Api, iid: str, *, refresh: bool = False) -> list[dict[str, Any]]:
    params = {"refresh": "true"} if refresh else {}
    return list((await call(api, "GET", f"/api/whatsapp/{iid}/groups", 200, params=params))["groups"])


async def group_ops(api: Api, iid: str) -> list[dict[str, Any]]:
    return [m for m in await outbox(api, iid) if m["type"] == "group_op"]


async def feed(api: Api, iid: str, types: str = GROUP_EVENTS) -> list[dict[str, Any]]:
    """The instance's events of `types`, oldest first, each valid against the documented `Event`."""
    page = await call(api, "GET", f"/api/instances/{iid}/events", 200, params={"types": types, "limit": 1000})
    for event in page["events"]:
        validate_event(event)
    return list(page["events"])


def hooks(rx: Receiver, path: str, prefixes: tuple[str, ...]) -> list[dict[str, Any]]:
    """The webhook bodies delivered to `path` whose event starts with one of `prefixes`, each valid as documented."""
    bodies = [r.json for r in rx.at(path, ok_only=True) if r.json["event"].startswith(prefixes)]
    for body in bodies:
        pointer = f"/webhooks/{escape(body['event'])}/post/requestBody/content/application~1json/schema"
        errors = list(validator(pointer).iter_errors(body))
        assert not errors, f"webhook {body['event']}: {errors[0].message}"
    return bodies


def members(group: dict[str, Any]) -> dict[str, tuple[bool, bool]]:
    return {p["jid"]: (p["isAdmin"], p["isSuperAdmin"]) for p in group["participants"]}


def member_group(subject: str = "Book club", *, locked: bool = False, admin: bool = False) -> dict[str, Any]:
    """A staged group where the account is a plain member (or an admin) and Bob created it."""
    people = [{"phone": ME, "isAdmin": admin}, {"phone": BOB, "isSuperAdmin": True}, {"phone": ANN}]
    return {"id": STAGED, "subject": subject, "locked": locked, "participants": people}


@pytest.mark.store_matters(*SQLITE_AND_MONGODB)
async def test_create_list_get_and_refresh(admin: Api) -> None:
    iid = await linked(admin)
    assert await listed(admin, iid) == []
    group = await create(admin, iid, "Team", (BOB, "+7 (900) 765-43-21"))
    gid = group["id"]
    assert re.fullmatch(r"\d+@g\.us", gid)
    assert (group["subject"], group["owner"], group["participantsCount"]) == ("Team", ME_JID, 3)
    assert members(group) == {ME_JID: (True, True), BOB_JID: (False, False), ANN_JID: (False, False)}
    assert {p["phone"] for p in group["participants"]} == {ME, BOB, ANN}
    assert group["createdAt"] and group["announce"] is False and group["locked"] is False
    assert await call(admin, "GET", f"/api/whatsapp/{iid}/groups/{gid}", 200) == group
    # the `@g.us` may be left out
    assert await call(admin, "GET", f"/api/whatsapp/{iid}/groups/{gid.split('@')[0]}", 200) == group
    summary = {k: v for k, v in group.items() if k != "participants"}
    assert await listed(admin, iid) == [summary]
    (op,) = await group_ops(admin, iid)
    assert (op["op"], op["to"], op["subject"], sorted(op["participants"])) == (
        "create",
        gid,
        "Team",
        sorted([ANN_JID, BOB_JID]),
    )
    (joined,) = await feed(admin, iid)
    assert joined["data"] == {"instanceId": iid, "groupId": gid, "subject": "Team", "by": ME_JID}

    # A group the account is in on WhatsApp shows once the list is read again; the read list replaces the old.
    await stage(admin, iid, member_group("Book club"))
    assert [g["id"] for g in await listed(admin, iid)] == [gid]
    assert [(g["id"], g["subject"], g["participantsCount"]) for g in await listed(admin, iid, refresh=True)] == [
        (STAGED, "Book club", 3)
    ]
    staged = await call(admin, "GET", f"/api/whatsapp/{iid}/groups/{STAGED}", 200)
    assert members(staged) == {ME_JID: (False, False), BOB_JID: (True, True), ANN_JID: (False, False)}
    await call(admin, "GET", f"/api/whatsapp/{iid}/groups/{gid}", 404)
    refused = await call(admin, "GET", f"/api/whatsapp/{iid}/groups", 400, params={"refresh": "maybe"})
    assert refused["details"] == {"refresh": "refresh must be true or false"}


async def test_create_refuses_bad_input_and_records_nothing(admin: Api) -> None:
    iid = await linked(admin)
    url = f"/api/whatsapp/{iid}/groups"
    for body, field in [
        ({"participants": [BOB]}, "subject"),
        ({"subject": "  ", "participants": [BOB]}, "subject"),
        ({"subject": "x" * 101, "participants": [BOB]}, "subject"),
        ({"subject": "Team"}, "participants"),
        ({"subject": "Team", "participants": []}, "participants"),
        ({"subject": "Team", "participants": [f"7900{i:07d}" for i in range(257)]}, "participants"),
        ({"subject": "Team", "participants": ["not a phone"]}, "phone"),
    ]:
        error = await call(admin, "POST", url, 400, json=body)
        assert field in error["details"], (body, error)
    assert await group_ops(admin, iid) == [] and await feed(admin, iid) == []
    fresh = (await admin.create_instance("Not linked"))["id"]
    assert (
        await call(admin, "POST", f"/api/whatsapp/{fresh}/groups", 409, json={"subject": "T", "participants": [BOB]})
    )["code"] == "instance_not_connected"
    assert (await call(admin, "GET", f"/api/whatsapp/{fresh}/groups", 409, params={"refresh": "1"}))[
        "code"
    ] == "instance_not_connected"
    assert await listed(admin, fresh) == []  # the read model answers offline


async def test_subject_and_settings_follow_the_admin_rules(admin: Api) -> None:
    iid = await linked(admin)
    gid = (await create(admin, iid))["id"]
    url = f"/api/whatsapp/{iid}/groups/{gid}"
    changed = await call(admin, "PUT", url, 200, json={"subject": "Team (new)", "description": "Plans"})
    assert (changed["subject"], changed["description"]) == ("Team (new)", "Plans")
    changed = await call(admin, "PUT", url, 200, json={"announce": True, "locked": True})
    assert (changed["announce"], changed["locked"], changed["description"]) == (True, True, "Plans")
    updates = [e["data"] for e in await feed(admin, iid, "group_updated")]
    assert updates == [
        {"instanceId": iid, "groupId": gid, "subject": "Team (new)", "description": "Plans", "by": ME_JID},
        {"instanceId": iid, "groupId": gid, "announce": True, "locked": True, "by": ME_JID},
    ]
    assert [op["op"] for op in await group_ops(admin, iid)] == ["create", "update", "update"]
    for body in ({}, {"subject": ""}, {"announce": "yes"}, {"locked": None}, {"description": 5}):
        assert (await call(admin, "PUT", url, 400, json=body))["code"] == "validation_error", body

    # As a plain member: a locked group's info and anyone's settings are for admins, asked of nobody.
    await stage(admin, iid, member_group(locked=True))
    await listed(admin, iid, refresh=True)
    staged = f"/api/whatsapp/{iid}/groups/{STAGED}"
    before = await group_ops(admin, iid)
    changes: list[dict[str, Any]] = [{"subject": "Mine now"}, {"description": "x"}, {"announce": False}]
    for body in changes:
        refused = await call(admin, "PUT", staged, 403, json=body)
        assert refused["code"] == "not_group_admin", refused
    assert await group_ops(admin, iid) == before
    # An unlocked group's info any member may change.
    await stage(admin, iid, member_group(locked=False))
    await listed(admin, iid, refresh=True)
    assert (await call(admin, "PUT", staged, 200, json={"subject": "Books"}))["subject"] == "Books"
    assert (await call(admin, "PUT", staged, 403, json={"locked": True}))["code"] == "not_group_admin"


async def test_a_cleared_description_reads_as_none_like_whatsapps_list(admin: Api) -> None:
    """`description: ""` (or null) clears it: the group then has none, before and after the list is read again."""
    iid = await linked(admin)
    gid = (await create(admin, iid))["id"]
    url = f"/api/whatsapp/{iid}/groups/{gid}"
    await call(admin, "PUT", url, 200, json={"description": "Plans"})
    cleared = await call(admin, "PUT", url, 200, json={"description": None})
    assert [e["data"].get("description") for e in await feed(admin, iid, "group_updated")] == ["Plans", ""]
    refreshed = [g for g in await listed(admin, iid, refresh=True) if g["id"] == gid]
    assert refreshed[0]["description"] is None  # what WhatsApp lists
    assert cleared["description"] is None


@pytest.mark.store_matters(*SQLITE_AND_MONGODB)
async def test_participants_get_whatsapps_answer_each(admin: Api) -> None:
    iid = await linked(admin)
    directory = [{"phone": p, "exists": True} for p in (BOB, ANN, CAROL)] + [{"phone": "79000000000", "exists": False}]
    await call(admin, "PUT", f"/api/simulator/instances/{iid}/directory", 200, json={"numbers": directory})
    gid = (await create(admin, iid, participants=(BOB,)))["id"]
    url = f"/api/whatsapp/{iid}/groups/{gid}/participants"
    added = await call(admin, "POST", url, 200, json={"action": "add", "participants": [ANN, BOB, "79000000000"]})
    assert added["results"] == [
        {"jid": ANN_JID, "status": "ok"},
        {"jid": BOB_JID, "status": "conflict"},
        {"jid": "79000000000@s.whatsapp.net", "status": "not_found"},
    ]
    promoted = await call(
        admin, "POST", url, 200, json={"action": "promote", "participants": [f"{BOB}@s.whatsapp.net"]}
    )
    assert promoted["results"] == [{"jid": BOB_JID, "status": "ok"}]
    removed = await call(admin, "POST", url, 200, json={"action": "remove", "participants": [CAROL]})
    assert removed["results"] == [{"jid": CAROL_JID, "status": "not_found"}]  # never a member: nothing recorded
    group = await call(admin, "GET", f"/api/whatsapp/{iid}/groups/{gid}", 200)
    assert members(group) == {ME_JID: (True, True), BOB_JID: (True, False), ANN_JID: (False, False)}
    assert group["participantsCount"] == 3
    changes = [
        (e["data"]["action"], e["data"]["participants"], e["data"]["by"])
        for e in await feed(admin, iid, "group_participants")
    ]
    assert changes == [("add", [ANN_JID], ME_JID), ("promote", [BOB_JID], ME_JID)]  # only what WhatsApp accepted
    ops = [op for op in await group_ops(admin, iid) if op["op"] == "participants"]
    assert [op["action"] for op in ops] == ["add", "promote", "remove"]

    many = [f"7900{i:07d}" for i in range(257)]
    too_many = await call(admin, "POST", url, 400, json={"action": "add", "participants": many})
    assert too_many["details"] == {"participants": too_many["error"]} and "256" in too_many["error"]
    for body in ({"action": "kick", "participants": [BOB]}, {"action": "add"}, {"action": "add", "participants": []}):
        assert (await call(admin, "POST", url, 400, json=body))["code"] == "validation_error", body
    assert len([op for op in await group_ops(admin, iid) if op["op"] == "participants"]) == 3

    await stage(admin, iid, member_group())
    await listed(admin, iid, refresh=True)
    staged = f"/api/whatsapp/{iid}/groups/{STAGED}/participants"
    refused = await call(admin, "POST", staged, 403, json={"action": "add", "participants": [CAROL]})
    assert refused["code"] == "not_group_admin"
    assert (await call(admin, "POST", staged, 403, json={"action": "add", "participants": many}))["code"] == (
        "not_group_admin"
    )


async def test_invite_link_revoke_leave_and_join_by_link(admin: Api) -> None:
    iid = await linked(admin)
    gid = (await create(admin, iid))["id"]
    base = f"/api/whatsapp/{iid}/groups"
    invite = await call(admin, "GET", f"{base}/{gid}/invite", 200)
    assert (
        re.fullmatch(r"[A-Za-z0-9]{10,40}", invite["code"])
        and invite["link"] == f"https://chat.whatsapp.com/{invite['code']}"
    )
    assert await call(admin, "GET", f"{base}/{gid}/invite", 200) == invite  # the same until revoked
    new = await call(admin, "POST", f"{base}/{gid}/invite/revoke", 200)
    assert new["code"] != invite["code"] and new["link"] == f"https://chat.whatsapp.com/{new['code']}"
    last = (await group_ops(admin, iid))[-1]
    assert (last["op"], last["code"]) == ("revoke_invite", new["code"])

    assert await call(admin, "POST", f"{base}/{gid}/leave", 200) == {"success": True}
    for method, path in (("GET", ""), ("PUT", ""), ("GET", "/invite"), ("POST", "/leave")):
        body = {"subject": "x"} if method == "PUT" else None
        assert (await call(admin, method, f"{base}/{gid}{path}", 404, json=body))["code"] == "group_not_found"
    assert gid not in [g["id"] for g in await listed(admin, iid)]
    left = (await feed(admin, iid, "group_participants"))[-1]["data"]
    assert (left["action"], left["participants"], left["by"]) == ("remove", [ME_JID], ME_JID)

    # The revoked link is WhatsApp's refusal; the live one joins the group again.
    refused = await call(admin, "POST", f"{base}/join", 404, json={"link": invite["link"]})
    assert (refused["code"], refused["details"]) == ("not_found", {"whatsapp": "not_found"}), refused
    assert await call(admin, "POST", f"{base}/join", 200, json={"link": new["link"]}) == {"groupId": gid}
    assert gid in [g["id"] for g in await listed(admin, iid)]
    rejoined = (await feed(admin, iid, "group_joined"))[-1]["data"]
    assert (rejoined["groupId"], rejoined["by"]) == (gid, ME_JID)
    assert (await group_ops(admin, iid))[-1]["op"] == "join"
    for body, field in [
        ({}, "link"),
        ({"link": "https://example.com/AbCdEfGhIjKl"}, "link"),
        ({"link": "https://chat.whatsapp.com/short"}, "link"),
        ({"code": "not a code!"}, "code"),
    ]:
        assert field in (await call(admin, "POST", f"{base}/join", 400, json=body))["details"], body

    # Sharing the link is for admins.
    await stage(admin, iid, member_group())
    await listed(admin, iid, refresh=True)
    for method, path in (("GET", "invite"), ("POST", "invite/revoke")):
        assert (await call(admin, method, f"{base}/{STAGED}/{path}", 403))["code"] == "not_group_admin"


async def test_unknown_and_malformed_groups(admin: Api) -> None:
    iid = await linked(admin)
    base = f"/api/whatsapp/{iid}/groups"
    unknown = "120363999999999999@g.us"
    calls: list[tuple[str, str, Any]] = [
        ("GET", "", None),
        ("PUT", "", {"subject": "x"}),
        ("POST", "/participants", {"action": "add", "participants": [BOB]}),
        ("GET", "/invite", None),
        ("POST", "/invite/revoke", None),
        ("POST", "/leave", None),
    ]
    for method, path, body in calls:
        error = await call(admin, method, f"{base}/{unknown}{path}", 404, json=body)
        assert error["code"] == "group_not_found", (method, path, error)
        error = await call(admin, method, f"{base}/not-a-group{path}", 400, json=body)
        assert error["details"] == {"groupId": error["error"]}, (method, path, error)
    assert await group_ops(admin, iid) == []


async def test_group_picture(admin: Api) -> None:
    iid = await linked(admin)
    gid = (await create(admin, iid))["id"]
    url = f"/api/whatsapp/{iid}/groups/{gid}/picture"
    png = png_bytes()
    assert await call(admin, "PUT", url, 200, files={"file": ("logo.png", png, "image/png")}) == {"success": True}
    op = (await group_ops(admin, iid))[-1]
    assert (op["op"], op["mimeType"]) == ("picture", "image/jpeg") and op["size"] > 0
    with serving(png) as address:  # a loopback URL: allowed for admins
        assert await call(admin, "PUT", url, 200, json={"url": address}) == {"success": True}
    assert [o["op"] for o in await group_ops(admin, iid)].count("picture") == 2
    text = {"file": ("notes.txt", b"not a picture at all\n", "text/plain")}
    assert (await call(admin, "PUT", url, 422, files=text))["code"] == "conversion_failed"
    no_file = await call(admin, "PUT", url, 400, files={"other": ("a.png", png, "image/png")})
    assert no_file["details"] == {"file": "file is required"}
    empty = await call(admin, "PUT", url, 400, files={"file": ("empty.png", b"", "image/png")})
    assert empty["details"] == {"file": "file is empty"}
    assert [o["op"] for o in await group_ops(admin, iid)].count("picture") == 2


@pytest.mark.store_matters(*SQLITE_AND_MONGODB)
async def test_group_events_from_other_members_reach_events_and_webhooks(admin: Api) -> None:
    with Receiver() as rx:
        # Every notify flag off: group events are sent all the same.
        flags: dict[str, Any] = {
            "notifyReceived": False,
            "notifySent": False,
            "notifyDelivery": False,
            "notifyRead": False,
        }
        iid = await linked(admin, webhookUrl=rx.on("/groups"), webhookEnabled=True, retryInterval=100, **flags)
        sim = f"/api/simulator/instances/{iid}/group-event"
        gid = "120363000000000042@g.us"
        steps: list[dict[str, Any]] = [
            {"groupId": gid, "action": "joined", "subject": "Neighbours", "by": BOB, "participants": [ANN]},
            {"groupId": gid, "action": "updated", "subject": "Neighbours (2)", "by": BOB},
            {"groupId": gid, "action": "add", "participants": [CAROL], "by": BOB},
            {"groupId": gid, "action": "promote", "participants": [ANN, ME], "by": BOB},
            {"groupId": gid, "action": "remove", "participants": [CAROL], "by": ANN},
        ]
        for step in steps:
            await call(admin, "POST", sim, 200, json=step)
        events = await feed(admin, iid)
        assert [(e["type"], e["data"]) for e in events] == [
            ("group_joined", {"instanceId": iid, "groupId": gid, "subject": "Neighbours", "by": BOB_JID}),
            ("group_updated", {"instanceId": iid, "groupId": gid, "subject": "Neighbours (2)", "by": BOB_JID}),
            (
                "group_participants",
                {"instanceId": iid, "groupId": gid, "action": "add", "participants": [CAROL_JID], "by": BOB_JID},
            ),
            (
                "group_participants",
                {
                    "instanceId": iid,
                    "groupId": gid,
                    "action": "promote",
                    "participants": [ANN_JID, ME_JID],
                    "by": BOB_JID,
                },
            ),
            (
                "group_participants",
                {"instanceId": iid, "groupId": gid, "action": "remove", "participants": [CAROL_JID], "by": ANN_JID},
            ),
        ]
        await wait_for(lambda: len(hooks(rx, "/groups", ("group_",))) >= 5)
        hooked = hooks(rx, "/groups", ("group_",))
        assert [(h["event"], h["timestamp"], h["data"]) for h in hooked] == [
            (e["type"], e["timestamp"], e["data"]) for e in events
        ]
        group = await call(admin, "GET", f"/api/whatsapp/{iid}/groups/{gid}", 200)
        assert group["subject"] == "Neighbours (2)"
        assert members(group) == {ME_JID: (True, False), BOB_JID: (True, True), ANN_JID: (True, False)}
        # Promoted by Bob, we may now change the group ourselves.
        result = await call(
            admin,
            "POST",
            f"/api/whatsapp/{iid}/groups/{gid}/participants",
            200,
            json={"action": "add", "participants": [CAROL]},
        )
        assert result["results"] == [{"jid": CAROL_JID, "status": "ok"}]
        # Being removed by someone else is leaving: the group is gone.
        await call(admin, "POST", sim, 200, json={"groupId": gid, "action": "remove", "participants": [ME], "by": BOB})
        await poll(lambda: listed(admin, iid), lambda gs: gid not in [g["id"] for g in gs])
        assert (await call(admin, "GET", f"/api/whatsapp/{iid}/groups/{gid}", 404))["code"] == "group_not_found"
        # What the network would not do is refused, and nothing arrives.
        bad = await call(admin, "POST", sim, 404, json={"groupId": gid, "action": "updated", "subject": "x", "by": BOB})
        assert bad["code"] == "not_found"
        assert len(await feed(admin, iid)) == 7
