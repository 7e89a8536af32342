"""People named by LID over HTTP against the simulator (API-2 §5, §9): every payload names a person by phone
when it is known, with `fromLid` / `toLid` / `chatLid` beside it; a person's chat is one in the chats list and
in history whichever JID names it, messages from before the pair was learned included; sending to a `@lid`
works; a pair learned before a restart still names the phone.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.api.test_groups import call, feed, hooks
from tests.api.test_rich_messaging import history, outbox
from tests.harness import Api, ServerProcess, poll, wait_for
from tests.receiver import Receiver

ME = "79990000001"
BOB = "79001234567"
BOB_JID = f"{BOB}@s.whatsapp.net"
BOB_LID = "111111111111111@lid"
CAROL = "79005550003"
CAROL_JID = f"{CAROL}@s.whatsapp.net"
CAROL_LID = "333333333333333@lid"
PEOPLE_EVENTS = "message_received,message_sent,message_reaction,presence_update,message_status"


async def directory(api: Api, iid: str, *numbers: dict[str, Any]) -> None:
    await call(api, "PUT", f"/api/simulator/instances/{iid}/directory", 200, json={"numbers": list(numbers)})


async def deliver(api: Api, iid: str, route: str = "incoming", **body: Any) -> Any:
    return await call(api, "POST", f"/api/simulator/instances/{iid}/{route}", 200, json=body)


async def chats(api: Api, iid: str) -> list[dict[str, Any]]:
    return list((await call(api, "GET", f"/api/instances/{iid}/chats", 200))["chats"])


async def test_a_lid_whose_phone_is_known_is_named_by_phone_everywhere(admin: Api) -> None:
    with Receiver() as rx:
        hook: dict[str, Any] = {"webhookUrl": rx.on("/lid"), "webhookEnabled": True, "retryInterval": 100}
        iid = await admin.connected_instance("LID people", phone=ME, notifyRead=True, **hook)
        await directory(admin, iid, {"phone": BOB, "exists": True, "lid": BOB_LID, "name": "Bob"})
        mid = (await deliver(admin, iid, **{"from": BOB_LID, "body": "hi from my LID"}))["messageId"]
        await deliver(admin, iid, type="reaction", messageId=mid, emoji="👍", **{"from": BOB_LID})
        await deliver(admin, iid, "presence", state="typing", **{"from": BOB_LID})
        sent = await call(admin, "POST", f"/api/whatsapp/{iid}/send", 200, json={"phone": BOB_LID, "message": "re"})
        await deliver(admin, iid, "receipt", messageId=sent["id"], status="read")

        events = await poll(lambda: feed(admin, iid, PEOPLE_EVENTS), lambda es: len(es) >= 5)
        by_type = {e["type"]: e["data"] for e in events}
        incoming = by_type["message_received"]
        assert (incoming["from"], incoming["fromLid"], incoming["chatId"], incoming["chatLid"]) == (
            BOB_JID,
            BOB_LID,
            BOB_JID,
            BOB_LID,
        )
        assert incoming["remoteJid"] == BOB_JID
        for kind in ("message_reaction", "presence_update"):
            data = by_type[kind]
            assert (data["from"], data["fromLid"], data["chatId"], data["chatLid"]) == (
                BOB_JID,
                BOB_LID,
                BOB_JID,
                BOB_LID,
            ), kind
        assert (by_type["message_sent"]["to"], by_type["message_sent"]["toLid"]) == (BOB_JID, BOB_LID)
        assert (by_type["message_status"]["from"], by_type["message_status"]["fromLid"]) == (BOB_JID, BOB_LID)
        [wire] = [m for m in await outbox(admin, iid) if m["id"] == sent["id"]]
        assert (wire["to"], wire["body"]) == (BOB_LID, "re")  # sent to the LID, as asked

        wanted = tuple(PEOPLE_EVENTS.split(","))
        await wait_for(lambda: len(hooks(rx, "/lid", wanted)) >= 5)
        hooked = {h["event"]: h["data"] for h in hooks(rx, "/lid", wanted)}
        assert hooked == by_type

    for chat in (BOB, BOB_JID, BOB_LID):
        rows = await history(admin, iid, chat)
        assert [m["messageId"] for m in rows] == [sent["id"], mid], chat
        assert (rows[1]["remoteJid"], rows[1]["chatLid"], rows[1]["sender"], rows[1]["fromLid"]) == (
            BOB_JID,
            BOB_LID,
            BOB_JID,
            BOB_LID,
        )
        assert rows[1]["reactions"] == [{"from": BOB_JID, "emoji": "👍"}]
    [listed] = await chats(admin, iid)
    assert (listed["chatId"], listed["lid"], listed["unreadCount"], listed["messageCount"]) == (BOB_JID, BOB_LID, 1, 2)


async def test_a_lids_messages_before_its_phone_was_known_join_the_phones_chat(admin: Api) -> None:
    iid = await admin.connected_instance("LID learned later", phone=ME)
    await directory(admin, iid, {"phone": CAROL, "exists": True})  # the network does not name her LID yet
    first = (await deliver(admin, iid, **{"from": CAROL_LID, "body": "who am I?"}))["messageId"]
    [stranger] = await poll(lambda: feed(admin, iid, "message_received"), bool)
    assert (stranger["data"]["from"], stranger["data"]["fromLid"]) == (CAROL_LID, CAROL_LID)
    [alone] = await chats(admin, iid)
    assert (alone["chatId"], alone["lid"]) == (CAROL_LID, CAROL_LID)
    assert [m["messageId"] for m in await history(admin, iid, CAROL)] == []
    by_phone = await call(admin, "POST", f"/api/whatsapp/{iid}/send", 200, json={"phone": CAROL, "message": "yo"})

    await directory(admin, iid, {"phone": CAROL, "exists": True, "lid": CAROL_LID})
    second = (await deliver(admin, iid, **{"from": CAROL_LID, "body": "it's Carol"}))["messageId"]
    for chat in (CAROL, CAROL_LID):
        rows = await history(admin, iid, chat)
        assert [m["messageId"] for m in rows] == [second, by_phone["id"], first], chat
        assert {m["remoteJid"] for m in rows} == {CAROL_JID}
    [one] = await chats(admin, iid)
    assert (one["chatId"], one["lid"], one["unreadCount"], one["messageCount"]) == (CAROL_JID, CAROL_LID, 2, 3)
    assert one["lastMessage"]["messageId"] == second

    read = await call(admin, "POST", f"/api/instances/{iid}/chats/{CAROL_LID}/read", 200)
    assert read == {"success": True, "receipts": 2}
    [after] = await chats(admin, iid)
    assert (after["chatId"], after["unreadCount"]) == (CAROL_JID, 0)
    received = [e["data"] for e in await feed(admin, iid, "message_received")]
    assert [(d["from"], d["fromLid"]) for d in received] == [(CAROL_LID, CAROL_LID), (CAROL_JID, CAROL_LID)]


async def test_sending_to_a_lid_on_every_send_route(admin: Api) -> None:
    iid = await admin.connected_instance("Send to LID", phone=ME)
    wa = f"/api/whatsapp/{iid}"
    bodies = [
        ("send", {"phone": CAROL_LID, "message": "text"}),
        ("send-location", {"phone": CAROL_LID, "latitude": 1.5, "longitude": 2.5}),
        ("send-contact", {"phone": CAROL_LID, "contacts": [{"name": "Bob", "phone": BOB}]}),
        ("send-poll", {"phone": CAROL_LID, "question": "Q?", "options": ["a", "b"]}),
    ]
    ids = [(await call(admin, "POST", f"{wa}/{route}", 200, json=body))["id"] for route, body in bodies]
    ids.append((await call(admin, "POST", f"{wa}/messages/{ids[0]}/forward", 200, json={"phone": CAROL_LID}))["id"])
    files = {"file": ("note.txt", b"plain text file")}
    ids.append((await call(admin, "POST", f"{wa}/send-file", 200, data={"phone": CAROL_LID}, files=files))["id"])
    wire = {m["id"]: m["to"] for m in await outbox(admin, iid)}
    assert [wire[i] for i in ids] == [CAROL_LID] * 6
    sent = {e["data"]["messageId"]: e["data"] for e in await feed(admin, iid, "message_sent")}
    assert [(sent[i]["to"], sent[i]["toLid"]) for i in ids] == [(CAROL_LID, CAROL_LID)] * 6  # her phone is unknown
    assert [c["chatId"] for c in await chats(admin, iid)] == [CAROL_LID]
    bad = await admin.post(f"{wa}/send", json={"phone": "12@lid", "message": "x"})
    assert bad.status_code == 400 and bad.json()["details"] == {"phone": bad.json()["error"]}


async def test_a_pair_learned_before_a_restart_still_names_the_phone(
    server_factory: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    data = tmp_path / "identities"
    first = server_factory(data)
    async with Api(first.url, token=first.admin_token()) as api:
        iid = await api.connected_instance("Remembers", phone=ME)
        await directory(api, iid, {"phone": BOB, "exists": True, "lid": BOB_LID})
        await deliver(api, iid, **{"from": BOB_LID, "body": "hello"})
        await poll(lambda: feed(api, iid, "message_received"), bool)
    first.stop()

    second = server_factory(data)
    async with Api(second.url, token=second.admin_token()) as api:
        await api.wait_status(iid, "connected")
        await directory(api, iid, {"phone": BOB, "exists": True})  # the network no longer names the pair
        await deliver(api, iid, **{"from": BOB_LID, "body": "again"})
        sent = await call(api, "POST", f"/api/whatsapp/{iid}/send", 200, json={"phone": BOB_LID, "message": "ok"})
        events = await poll(lambda: feed(api, iid, "message_received,message_sent"), lambda es: len(es) >= 3)
        later = events[-2]["data"]
        assert (later["body"], later["from"], later["fromLid"]) == ("again", BOB_JID, BOB_LID)
        assert (events[-1]["data"]["messageId"], events[-1]["data"]["to"]) == (sent["id"], BOB_JID)
        assert [m["content"] for m in await history(api, iid, BOB_LID)] == ["ok", "again", "hello"]
