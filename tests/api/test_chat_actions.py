"""Chat actions that reach WhatsApp over HTTP against the simulator (API-2 §2, §3, §9): read receipts, typing
and online presence (ours and theirs), and which numbers have WhatsApp.
"""

from __future__ import annotations

import pytest

from tests.api.test_openapi import Checker, Flow, escape, validate_event, validator
from tests.api.test_rich_messaging import (
    ANN,
    ANN_JID,
    BOB,
    BOB_JID,
    GROUP,
    ME,
    events,
    history,
    incoming,
    outbox,
    serving,
    wav_bytes,
)
from tests.harness import SQLITE_AND_MONGODB, Api, poll, wait_for
from tests.media_server import png_bytes
from tests.receiver import Receiver


async def chat(api: Api, iid: str, jid: str) -> dict[str, object]:
    chats = (await api.get(f"/api/instances/{iid}/chats")).json()["chats"]
    return next(c for c in chats if c["remoteJid"] == jid)


@pytest.mark.store_matters(*SQLITE_AND_MONGODB)  # the unread messages come from the messages read model
async def test_reading_a_chat_sends_one_read_receipt_with_its_unread_messages(admin: Api) -> None:
    iid = await admin.connected_instance("Read", phone=ME)
    unread = [await incoming(admin, iid, body=f"b{i}") for i in range(3)]
    other = await incoming(admin, iid, ANN, body="not this chat")
    await admin.post(f"/api/whatsapp/{iid}/send", json={"phone": BOB, "message": "ours: no receipt"})
    assert (await chat(admin, iid, BOB_JID))["unreadCount"] == 3
    r = await admin.post(f"/api/instances/{iid}/chats/{BOB}/read")
    assert r.status_code == 200 and r.json() == {"success": True, "receipts": 3}, r.text
    receipts = [m for m in await outbox(admin, iid) if m["type"] == "read_receipt"]
    assert len(receipts) == 1
    assert (receipts[0]["to"], sorted(receipts[0]["messageIds"]), receipts[0]["senders"]) == (
        BOB_JID,
        sorted(unread),
        [BOB_JID],
    )
    assert other not in receipts[0]["messageIds"]
    assert (await chat(admin, iid, BOB_JID))["unreadCount"] == 0
    assert (await chat(admin, iid, ANN_JID))["unreadCount"] == 1
    again = await admin.post(f"/api/instances/{iid}/chats/{BOB}@s.whatsapp.net/read")
    assert again.json() == {"success": True, "receipts": 0}
    assert len([m for m in await outbox(admin, iid) if m["type"] == "read_receipt"]) == 1  # nothing new to read

    # A group: one entry for the chat, naming every sender whose messages were read.
    in_group = [await incoming(admin, iid, sender, group=GROUP, body="g") for sender in (BOB, ANN, BOB)]
    assert (await admin.post(f"/api/instances/{iid}/chats/{GROUP}/read")).json()["receipts"] == 3
    last = (await outbox(admin, iid))[-1]
    assert (last["type"], last["to"], sorted(last["messageIds"])) == ("read_receipt", GROUP, sorted(in_group))
    assert set(last["senders"]) == {ANN_JID, BOB_JID}
    r = await admin.post(f"/api/instances/{iid}/chats/not-a-chat/read")
    assert r.status_code == 400 and r.json()["code"] == "validation_error"


@pytest.mark.store_matters(*SQLITE_AND_MONGODB)
async def test_reading_offline_zeroes_the_count_and_sends_nothing(admin: Api) -> None:
    iid = await admin.connected_instance("Read offline", phone=ME)
    await incoming(admin, iid, body="while you were out")
    sent_before = len(await outbox(admin, iid))
    await admin.post(f"/api/simulator/instances/{iid}/faults", json={"failNextConnects": 1000})
    await admin.post(f"/api/simulator/instances/{iid}/disconnect", json={"reason": "connection_lost"})

    async def status() -> str:
        return str((await admin.get(f"/api/instances/{iid}/status")).json()["status"])

    await poll(status, lambda s: s != "connected")
    r = await admin.post(f"/api/instances/{iid}/chats/{BOB}/read")
    assert r.status_code == 200 and r.json() == {"success": True, "receipts": 0}, r.text
    assert (await chat(admin, iid, BOB_JID))["unreadCount"] == 0
    assert len(await outbox(admin, iid)) == sent_before


async def test_presence_ours_in_a_chat_and_for_the_account(admin: Api) -> None:
    iid = await admin.connected_instance("Presence", phone=ME)
    url = f"/api/whatsapp/{iid}/presence"
    for body in ({"phone": BOB, "state": "typing"}, {"phone": GROUP, "state": "recording"}, {"state": "available"}):
        r = await admin.post(url, json=body)
        assert r.status_code == 200 and r.json() == {"success": True}, r.text
    sent = [(m["type"], m["to"], m["state"]) for m in await outbox(admin, iid)]
    assert sent == [("presence", BOB_JID, "typing"), ("presence", GROUP, "recording"), ("presence", None, "available")]
    for body in (
        {"state": "typing"},  # typing needs a chat
        {"phone": BOB, "state": "available"},  # the account's own state takes no chat
        {"phone": BOB, "state": "dancing"},
        {"phone": BOB},
        {"phone": "abc", "state": "paused"},
    ):
        r = await admin.post(url, json=body)
        assert r.status_code == 400 and r.json()["code"] == "validation_error" and r.json()["details"], body
    assert len(await outbox(admin, iid)) == 3
    offline = (await admin.create_instance("Presence offline"))["id"]
    r = await admin.post(f"/api/whatsapp/{offline}/presence", json={"state": "unavailable"})
    assert r.status_code == 409 and r.json()["code"] == "instance_not_connected"


@pytest.mark.store_matters(*SQLITE_AND_MONGODB)
async def test_their_presence_is_an_event_and_never_history(admin: Api) -> None:
    iid = await admin.connected_instance("Their presence", phone=ME)
    for body in (
        {"from": BOB, "state": "typing"},
        {"from": ANN, "state": "recording", "group": GROUP},
        {"from": BOB, "state": "available"},
    ):
        assert (await admin.post(f"/api/simulator/instances/{iid}/presence", json=body)).status_code == 200
    await incoming(admin, iid, body="typed it")
    got = [e["data"] for e in await events(admin, iid, "presence_update")]
    assert got == [
        {"instanceId": iid, "chatId": BOB_JID, "from": BOB_JID, "state": "typing", "chatLid": None, "fromLid": None},
        {"instanceId": iid, "chatId": GROUP, "from": ANN_JID, "state": "recording", "chatLid": None, "fromLid": None},
        {"instanceId": iid, "chatId": BOB_JID, "from": BOB_JID, "state": "available", "chatLid": None, "fromLid": None},
    ]
    assert [m["content"] for m in await history(admin, iid, BOB)] == ["typed it"]
    assert await history(admin, iid, GROUP) == []
    chats = (await admin.get(f"/api/instances/{iid}/chats")).json()["chats"]
    assert [c["remoteJid"] for c in chats] == [BOB_JID]
    r = await admin.post(f"/api/simulator/instances/{iid}/presence", json={"from": BOB, "state": "asleep"})
    assert r.status_code == 400 and r.json()["details"] == {"state": r.json()["error"]}


async def test_check_which_numbers_have_whatsapp(admin: Api) -> None:
    iid = await admin.connected_instance("Check", phone=ME)
    directory = {
        "numbers": [{"phone": BOB, "exists": True, "lid": "123456789012345@lid"}, {"phone": ANN, "exists": False}]
    }
    assert (await admin.put(f"/api/simulator/instances/{iid}/directory", json=directory)).json()["count"] == 2
    url = f"/api/whatsapp/{iid}/check"
    r = await admin.post(url, json={"phones": [BOB, f"+{ANN[0]} ({ANN[1:4]}) {ANN[4:]}", "79005550000"]})
    assert r.status_code == 200, r.text
    assert r.json()["results"] == [
        {"phone": BOB, "exists": True, "jid": BOB_JID, "lid": "123456789012345@lid"},
        {"phone": ANN, "exists": False, "jid": None, "lid": None},  # in order, as digits
        {"phone": "79005550000", "exists": False, "jid": None, "lid": None},
    ]
    fifty = [f"7900{i:07d}" for i in range(50)]
    assert len((await admin.post(url, json={"phones": fifty})).json()["results"]) == 50
    for phones in ([*fifty, "79009999999"], [], None, "79001234567", [GROUP], ["abc"], [5]):
        r = await admin.post(url, json={"phones": phones})
        assert r.status_code == 400 and r.json()["code"] == "validation_error" and r.json()["details"], phones
    offline = (await admin.create_instance("Check offline"))["id"]
    r = await admin.post(f"/api/whatsapp/{offline}/check", json={"phones": [BOB]})
    assert r.status_code == 409 and r.json()["code"] == "instance_not_connected"


async def test_the_new_routes_and_events_answer_as_documented(admin: Api) -> None:
    """Every route of API-2 §1–§2, its errors and the new events (feed, webhook bodies) against docs/openapi.yaml."""
    check = Checker()
    with Receiver() as rx:
        iid = await admin.connected_instance("Spec", phone=ME, webhookUrl=rx.on("/spec"), webhookEnabled=True)
        call = Flow(check)
        call.ids.update(instanceId=iid)
        wa = "/api/whatsapp/{instanceId}"
        hers = await incoming(admin, iid, body="hi")
        call.ids["messageId"] = hers
        mine = await call(
            admin, "POST", wa + "/send", 200, json={"phone": BOB, "message": "re", "quotedMessageId": hers}
        )
        await call(admin, "POST", wa + "/send", 404, json={"phone": BOB, "message": "x", "quotedMessageId": "nope"})
        await call(admin, "POST", wa + "/send-location", 200, json={"phone": BOB, "latitude": 1.5, "longitude": 2})
        await call(admin, "POST", wa + "/send-location", 400, json={"phone": BOB, "latitude": 91, "longitude": 2})
        cards = {"phone": BOB, "contacts": [{"name": "Ann", "phone": ANN}]}
        await call(admin, "POST", wa + "/send-contact", 200, json=cards)
        await call(admin, "POST", wa + "/send-contact", 400, json={"phone": BOB, "contacts": []})
        poll = {"phone": BOB, "question": "Q?", "options": ["a", "b"]}
        call.ids["pollId"] = (await call(admin, "POST", wa + "/send-poll", 200, json=poll))["id"]
        await call(admin, "POST", wa + "/send-poll", 400, json={**poll, "options": ["a"]})
        files = {"file": ("a.wav", wav_bytes())}
        await call(admin, "POST", wa + "/send-file", 200, data={"phone": BOB, "as": "voice"}, files=files)
        broken = {"file": ("a.png", png_bytes()[:40])}
        await call(admin, "POST", wa + "/send-file", 422, data={"phone": BOB, "as": "sticker"}, files=broken)
        with serving(b"RIFF\x24\x00\x00\x00WAVE" + b"junk" * 40) as url:
            await call(admin, "POST", wa + "/send-media", 422, json={"phone": BOB, "url": url, "as": "voice"})
        await call(admin, "POST", wa + "/messages/{messageId}/forward", 200, json={"phone": ANN})
        await call(admin, "POST", wa + "/messages/{messageId}/react", 200, json={"emoji": "👍"})
        await call(admin, "POST", wa + "/messages/{messageId}/react", 400, json={"emoji": 1})
        await call(admin, "POST", wa + "/messages/{messageId}/react", 404, json={"emoji": "👍"}, ids={"messageId": "x"})
        await call(admin, "PUT", wa + "/messages/{messageId}", 409, json={"message": "mine"})
        await call(admin, "DELETE", wa + "/messages/{messageId}", 409)
        own = {"messageId": mine["id"]}
        await call(admin, "PUT", wa + "/messages/{messageId}", 200, json={"message": "re!"}, ids=own)
        await call(admin, "DELETE", wa + "/messages/{messageId}", 200, ids=own)
        await call(admin, "DELETE", wa + "/messages/{messageId}", 404, ids={"messageId": "x"})
        await call(admin, "POST", wa + "/presence", 200, json={"phone": BOB, "state": "typing"})
        await call(admin, "POST", wa + "/presence", 200, json={"state": "unavailable"})
        await call(admin, "POST", wa + "/presence", 400, json={"state": "typing"})
        await call(admin, "POST", wa + "/check", 200, json={"phones": [BOB]})
        await call(admin, "POST", wa + "/check", 400, json={"phones": []})
        await incoming(admin, iid, ANN, type="poll_vote", messageId=call.ids["pollId"], options=["a"])
        await incoming(admin, iid, type="reaction", messageId=mine["id"], emoji="😮")  # ignored: deleted
        await admin.post(f"/api/simulator/instances/{iid}/presence", json={"from": BOB, "state": "paused"})
        call.ids["chatId"] = BOB
        await call(admin, "GET", "/api/instances/{instanceId}/chats/{chatId}/messages", 200)
        await call(admin, "POST", "/api/instances/{instanceId}/chats/{chatId}/read", 200)
        offline = {"instanceId": (await admin.create_instance("Spec offline"))["id"]}
        await call(admin, "POST", wa + "/presence", 409, json={"state": "available"}, ids=offline)
        feed = await call(admin, "GET", "/api/instances/{instanceId}/events", 200, params={"limit": 1000})
        for event in feed["events"]:
            validate_event(event)
        new_types = {"message_reaction", "message_edited", "message_revoked", "poll_vote", "presence_update"}
        assert new_types <= {e["type"] for e in feed["events"]}
        await wait_for(lambda: new_types <= {r.json["event"] for r in rx.at("/spec")})
        for req in rx.at("/spec"):
            pointer = f"/webhooks/{escape(req.json['event'])}/post/requestBody/content/application~1json/schema"
            errors = list(validator(pointer).iter_errors(req.json))
            assert not errors, f"webhook {req.json['event']}: {errors[0].message}"
