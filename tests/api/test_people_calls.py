"""People and calls over HTTP against the simulator (API-2 §5, §9): a contact's profile from the simulated
directory, blocking, our own profile and picture, privacy settings, calls rejected with a reply; and issue 16's
story end to end (a group's life, a member known by LID, a rejected call) agreeing in webhooks, `/events` and
activity, and surviving `wamux rebuild`. Groups alone are `test_groups`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.api.test_groups import (
    ANN,
    ANN_JID,
    BOB,
    BOB_JID,
    ME,
    ME_JID,
    call,
    create,
    feed,
    hooks,
    linked,
    listed,
    members,
)
from tests.api.test_rich_messaging import history, outbox
from tests.harness import SQLITE_AND_MONGODB, Api, ServerProcess, poll, wait_for
from tests.media_server import png_bytes
from tests.receiver import Receiver

BOB_LID = "111111111111111@lid"
DAVE = "79005550004"
DAVE_JID = f"{DAVE}@s.whatsapp.net"
DAVE_LID = "444444444444444@lid"
PRIVACY_DEFAULTS = {
    "lastSeen": "all",
    "online": "all",
    "profilePhoto": "contacts",
    "about": "contacts",
    "groupAdd": "all",
    "readReceipts": "all",
}


async def directory(api: Api, iid: str, *numbers: dict[str, Any]) -> None:
    await call(api, "PUT", f"/api/simulator/instances/{iid}/directory", 200, json={"numbers": list(numbers)})


async def activity(api: Api, iid: str, actions: str) -> list[dict[str, Any]]:
    return list((await call(api, "GET", f"/api/instances/{iid}/activity", 200, params={"actions": actions}))["logs"])


async def test_a_contacts_profile_comes_from_whatsapp(admin: Api) -> None:
    iid = await linked(admin, "People")
    bob = {"phone": BOB, "exists": True, "lid": BOB_LID, "name": "Bob's Bakery", "about": "Fresh", "isBusiness": True}
    await directory(admin, iid, bob, {"phone": ANN, "exists": False})
    expected = {
        "jid": BOB_JID,
        "phone": BOB,
        "lid": BOB_LID,
        "name": "Bob's Bakery",
        "pushName": "Bob's Bakery",
        "about": "Fresh",
        "pictureUrl": None,
        "isBusiness": True,
    }
    for contact in (BOB, "+7 (900) 123-45-67", BOB_JID, BOB_LID):
        assert await call(admin, "GET", f"/api/whatsapp/{iid}/contacts/{contact}/profile", 200) == expected, contact
    for unknown in (ANN, "79000000009", "999999999999999@lid"):
        error = await call(admin, "GET", f"/api/whatsapp/{iid}/contacts/{unknown}/profile", 404)
        assert error["code"] == "not_found", unknown
    for bad in ("120363012345678901@g.us", "not-a-phone"):
        assert (await call(admin, "GET", f"/api/whatsapp/{iid}/contacts/{bad}/profile", 400))["code"] == (
            "validation_error"
        )
    fresh = (await admin.create_instance("Not linked"))["id"]
    error = await call(admin, "GET", f"/api/whatsapp/{fresh}/contacts/{BOB}/profile", 409)
    assert error["code"] == "instance_not_connected"


async def test_block_unblock_and_the_blocklist(admin: Api) -> None:
    iid = await linked(admin, "Blocking")
    await directory(admin, iid, {"phone": BOB, "exists": True, "lid": BOB_LID}, {"phone": ANN, "exists": True})
    base = f"/api/whatsapp/{iid}"
    assert await call(admin, "GET", f"{base}/blocklist", 200) == {"blocked": []}
    assert await call(admin, "POST", f"{base}/contacts/{BOB}/block", 200) == {"success": True}
    await call(admin, "POST", f"{base}/contacts/{BOB_LID}/block", 200)  # the same person: listed once
    await call(admin, "POST", f"{base}/contacts/{ANN_JID}/block", 200)
    assert await call(admin, "GET", f"{base}/blocklist", 200) == {"blocked": [BOB_JID, ANN_JID]}
    assert await call(admin, "POST", f"{base}/contacts/{BOB}/unblock", 200) == {"success": True}
    await call(admin, "POST", f"{base}/contacts/{BOB}/unblock", 200)  # not blocked: nothing changes
    assert await call(admin, "GET", f"{base}/blocklist", 200) == {"blocked": [ANN_JID]}
    for bad in ("120363012345678901@g.us", "abc", "1@broadcast"):
        for action in ("block", "unblock"):
            error = await call(admin, "POST", f"{base}/contacts/{bad}/{action}", 400)
            assert error["details"], (bad, error)
    assert await call(admin, "GET", f"{base}/blocklist", 200) == {"blocked": [ANN_JID]}


async def test_own_profile_and_picture(admin: Api) -> None:
    iid = await linked(admin, "Own profile")
    url = f"/api/whatsapp/{iid}/profile"
    own = await call(admin, "GET", url, 200)
    assert (own["jid"], own["phone"], own["name"]) == (ME_JID, ME, "Me")
    assert set(own) == {"jid", "phone", "lid", "name", "about", "pictureUrl"}
    changed = await call(admin, "PUT", url, 200, json={"name": "Acme Support", "about": "9-18 on weekdays"})
    assert (changed["name"], changed["about"]) == ("Acme Support", "9-18 on weekdays")
    assert (await call(admin, "PUT", url, 200, json={"about": "Closed today"}))["name"] == "Acme Support"
    assert await call(admin, "GET", url, 200) == {**changed, "about": "Closed today"}
    for body, field in [({}, "name"), ({"name": None, "about": None}, "name"), ({"name": "x" * 26}, "name")]:
        assert field in (await call(admin, "PUT", url, 400, json=body))["details"], body
    too_long = await call(admin, "PUT", url, 400, json={"about": "x" * 140})
    assert too_long["details"] == {"about": too_long["error"]} and "at most" in too_long["error"]
    assert (await call(admin, "PUT", url, 400, json={"name": "two\nlines"}))["code"] == "validation_error"

    picture = f"{url}/picture"
    assert await call(admin, "PUT", picture, 200, files={"file": ("me.png", png_bytes(), "image/png")}) == {
        "success": True
    }
    text = {"file": ("notes.txt", b"not a picture\n", "text/plain")}
    assert (await call(admin, "PUT", picture, 422, files=text))["code"] == "conversion_failed"
    no_url = await call(admin, "PUT", picture, 400, json={"url": "https://example.com/me.png"})
    assert no_url["details"] == {"file": no_url["error"]} and "multipart" in no_url["error"]
    no_file = await call(admin, "PUT", picture, 400, files={"photo": ("me.png", png_bytes(), "image/png")})
    assert no_file["details"] == {"file": "file is required"}


async def test_privacy_settings(admin: Api) -> None:
    iid = await linked(admin, "Privacy")
    url = f"/api/whatsapp/{iid}/privacy"
    assert await call(admin, "GET", url, 200) == PRIVACY_DEFAULTS
    changed = await call(admin, "PUT", url, 200, json={"lastSeen": "contacts", "readReceipts": "none"})
    assert changed == {**PRIVACY_DEFAULTS, "lastSeen": "contacts", "readReceipts": "none"}
    assert await call(admin, "GET", url, 200) == changed
    for body, field in [
        ({"lastSeen": "friends"}, "lastSeen"),
        ({"online": "contacts"}, "online"),
        ({"readReceipts": True}, "readReceipts"),
        ({"lastSeen": "none", "typing": "all"}, "typing"),
        ({}, "privacy"),
    ]:
        assert field in (await call(admin, "PUT", url, 400, json=body))["details"], body
    assert await call(admin, "GET", url, 200) == changed  # a refused change changes nothing, not even its valid part


async def test_calls_are_recorded_and_rejected_with_a_reply(admin: Api) -> None:
    settings = {"rejectCalls": True, "rejectCallMessage": "Sorry, we do not take calls: write to us here."}
    iid = await linked(admin, "Calls", settings=settings)
    assert (await call(admin, "GET", f"/api/instances/{iid}", 200))["settings"] == settings
    sim = f"/api/simulator/instances/{iid}/call"
    call_id = (await call(admin, "POST", sim, 200, json={"from": BOB, "isVideo": True}))["callId"]
    group_call = (await call(admin, "POST", sim, 200, json={"from": ANN, "isGroup": True}))["callId"]

    calls = await poll(lambda: feed(admin, iid, "call_received"), lambda es: len(es) == 2)
    assert [e["data"] for e in calls] == [
        {
            "instanceId": iid,
            "callId": call_id,
            "from": BOB_JID,
            "fromLid": None,
            "isVideo": True,
            "isGroup": False,
            "rejected": True,
        },
        {
            "instanceId": iid,
            "callId": group_call,
            "from": ANN_JID,
            "fromLid": None,
            "isVideo": False,
            "isGroup": True,
            "rejected": True,
        },
    ]
    sent = await outbox(admin, iid)
    assert [(m["type"], m["to"], m.get("callId")) for m in sent if m["type"] == "call_reject"] == [
        ("call_reject", BOB_JID, call_id),
        ("call_reject", ANN_JID, group_call),
    ]
    replies = [m for m in sent if m["type"] == "text"]  # a group call gets no reply
    assert [(m["to"], m["body"]) for m in replies] == [(BOB_JID, settings["rejectCallMessage"])]
    (row,) = await history(admin, iid, BOB)
    assert (row["messageId"], row["fromMe"], row["content"]) == (replies[0]["id"], True, settings["rejectCallMessage"])
    logged = await activity(admin, iid, "call_received")
    assert [log["details"] for log in logged] == [
        {
            "summary": "Call from +79007654321 (group), rejected",
            "from": ANN_JID,
            "isVideo": False,
            "isGroup": True,
            "rejected": True,
        },
        {
            "summary": "Call from +79001234567 (video), rejected",
            "from": BOB_JID,
            "isVideo": True,
            "isGroup": False,
            "rejected": True,
        },
    ]

    # Without rejectCalls a call is only recorded.
    await call(admin, "PUT", f"/api/instances/{iid}", 200, json={"settings": {"rejectCalls": False}})
    quiet = (await call(admin, "POST", sim, 200, json={"from": BOB}))["callId"]
    last = (await poll(lambda: feed(admin, iid, "call_received"), lambda es: len(es) == 3))[-1]
    assert (last["data"]["callId"], last["data"]["rejected"]) == (quiet, False)
    assert len(await outbox(admin, iid)) == len(sent)
    for bad in ({"rejectCalls": "yes"}, {"rejectCallMessage": 5}, {"rejectCallMessage": "x" * 1001}):
        error = await call(admin, "PUT", f"/api/instances/{iid}", 400, json={"settings": bad})
        assert error["code"] == "validation_error", bad


STORY = "group_joined,group_updated,group_participants,call_received,message_received,message_sent"


async def play_the_story(api: Api, iid: str) -> str:
    """Issue 16's story; answers the group's id."""
    await directory(
        api,
        iid,
        {"phone": BOB, "exists": True, "lid": BOB_LID, "name": "Bob"},
        {"phone": ANN, "exists": True},
        {"phone": DAVE, "exists": True},
    )
    gid = str((await create(api, iid, "Launch", (BOB, ANN)))["id"])
    base = f"/api/whatsapp/{iid}/groups/{gid}"
    await call(api, "POST", f"{base}/participants", 200, json={"action": "add", "participants": [DAVE]})
    await call(api, "POST", f"{base}/participants", 200, json={"action": "promote", "participants": [BOB]})
    await call(api, "PUT", base, 200, json={"subject": "Launch day"})
    sim = f"/api/simulator/instances/{iid}"
    await call(
        api,
        "POST",
        f"{sim}/group-event",
        200,
        json={"groupId": gid, "action": "remove", "participants": [ANN], "by": ANN},
    )
    # WhatsApp starts naming Dave by his LID; his first message from it carries his phone beside it.
    await directory(
        api,
        iid,
        {"phone": BOB, "exists": True, "lid": BOB_LID, "name": "Bob"},
        {"phone": DAVE, "exists": True, "lid": DAVE_LID},
    )
    await call(api, "POST", f"{sim}/incoming", 200, json={"from": DAVE_LID, "group": gid, "body": "Ready!"})
    await call(api, "POST", f"{sim}/call", 200, json={"from": BOB})
    return gid


@pytest.mark.store_matters(*SQLITE_AND_MONGODB)
async def test_issue_16_story_agrees_everywhere_and_survives_rebuild(
    server_factory: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    data = tmp_path / "story16"
    srv = server_factory(data)
    with Receiver() as rx:
        async with Api(srv.url, token=srv.admin_token()) as api:
            settings = {"rejectCalls": True, "rejectCallMessage": "Busy, write to me"}
            hook = {"webhookUrl": rx.on("/story"), "webhookEnabled": True, "retryInterval": 100}
            iid = await linked(api, "Story 16", settings=settings, **hook)
            gid = await play_the_story(api, iid)

            events = await poll(
                lambda: feed(api, iid, STORY), lambda es: bool(es) and es[-1]["type"] == "call_received"
            )
            assert [(e["type"], e["data"].get("action")) for e in events] == [
                ("group_joined", None),
                ("group_participants", "add"),
                ("group_participants", "promote"),
                ("group_updated", None),
                ("group_participants", "remove"),
                ("message_received", None),
                ("message_sent", None),
                ("call_received", None),
            ]
            assert events[4]["data"] == {
                "instanceId": iid,
                "groupId": gid,
                "action": "remove",
                "participants": [ANN_JID],
                "by": ANN_JID,
            }
            assert (events[5]["data"]["remoteJid"], events[5]["data"]["body"]) == (gid, "Ready!")
            assert (events[6]["data"]["to"], events[6]["data"]["body"]) == (BOB_JID, "Busy, write to me")
            assert (events[7]["data"]["from"], events[7]["data"]["rejected"]) == (BOB_JID, True)
            wanted = STORY.split(",")
            await wait_for(lambda: len(hooks(rx, "/story", tuple(wanted))) >= 8)
            hooked = hooks(rx, "/story", tuple(wanted))
            assert [(h["event"], h["timestamp"], h["data"]) for h in hooked] == [
                (e["type"], e["timestamp"], e["data"]) for e in events
            ]
            (logged,) = await activity(api, iid, "call_received")
            assert (logged["createdAt"], logged["details"]["rejected"]) == (events[7]["timestamp"], True)

            group = await call(api, "GET", f"/api/whatsapp/{iid}/groups/{gid}", 200)
            assert group["subject"] == "Launch day"
            assert members(group) == {ME_JID: (True, True), BOB_JID: (True, False), DAVE_JID: (False, False)}
            dave = next(p for p in group["participants"] if p["jid"] == DAVE_JID)
            assert (dave["phone"], dave["lid"]) == (DAVE, DAVE_LID)  # the identity was learned from his message
            before = (await listed(api, iid), group)
    srv.stop()

    out = srv.cli("rebuild")
    assert out.returncode == 0, out.stderr
    again = server_factory(data)
    async with Api(again.url, token=again.admin_token()) as api:
        after = (await listed(api, iid), await call(api, "GET", f"/api/whatsapp/{iid}/groups/{gid}", 200))
        assert after == before
