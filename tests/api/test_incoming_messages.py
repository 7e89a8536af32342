"""What arrives over HTTP against the simulator (API-2 §3, §9): every message kind with its type and fields, and
reactions, edits, deletes and poll votes on earlier messages, in history and the event feed. Then issue 15's
end-to-end story: an incoming poll is voted on, a message is quoted, reacted to, edited and deleted; history,
`/events`, the SSE stream and a real loopback webhook receiver all agree; `wamux rebuild` and a switch to the
other store give the same history.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trio

from tests.api.test_rich_messaging import (
    ANN,
    ANN_JID,
    BOB,
    BOB_JID,
    GROUP,
    ME,
    ME_JID,
    events,
    history,
    incoming,
    row,
    send,
)
from tests.harness import SQLITE_AND_MONGODB, Api, ServerProcess, wait_for
from tests.receiver import Receiver


@pytest.mark.store_matters(*SQLITE_AND_MONGODB)
async def test_every_incoming_kind_has_its_type_and_fields(admin: Api) -> None:
    iid = await admin.connected_instance("Kinds in", phone=ME)
    first = await incoming(admin, iid, body="plain")
    reply = await incoming(admin, iid, body="re", quotedMessageId=first, mentions=[ANN], forwarded=True)
    place = await incoming(admin, iid, type="location", latitude=-33.8568, longitude=151.2153, name="Opera House")
    one = await incoming(admin, iid, type="contact", contacts=[{"name": "Ann", "phone": ANN}])
    two = await incoming(
        admin, iid, type="contact", contacts=[{"name": "Ann", "phone": ANN}, {"name": "Me", "phone": ME}]
    )
    poll = await incoming(admin, iid, type="poll", question="When?", options=["Mon", "Tue"])
    ogg = base64.b64encode(b"OggS" + b"\0" * 60).decode()
    voice = await incoming(admin, iid, type="voice", media={"data": ogg})
    sticker = await incoming(admin, iid, type="sticker", media={"data": base64.b64encode(b"RIFF\0\0\0\0WEBP").decode()})
    got = {e["data"]["messageId"]: e["data"] for e in await events(admin, iid, "message_received")}
    assert [got[m]["type"] for m in (first, reply, place, one, two, poll, voice, sticker)] == [
        "conversation",
        "extendedTextMessage",
        "locationMessage",
        "contactMessage",
        "contactsArrayMessage",
        "pollCreationMessage",
        "audioMessage",
        "stickerMessage",
    ]
    assert (got[reply]["quotedMessageId"], got[reply]["mentions"], got[reply]["forwarded"]) == (first, [ANN_JID], True)
    assert got[place]["location"] == {
        "latitude": -33.8568,
        "longitude": 151.2153,
        "name": "Opera House",
        "address": None,
    }
    assert [c["name"] for c in got[two]["contacts"]] == ["Ann", "Me"]
    assert all(c["vcard"].startswith("BEGIN:VCARD") for c in got[one]["contacts"] + got[two]["contacts"])
    assert got[poll]["poll"] == {"question": "When?", "options": ["Mon", "Tue"], "selectableCount": 1}
    assert got[voice]["ptt"] is True and got[voice]["mimeType"] == "audio/ogg; codecs=opus"
    rows = {m["messageId"]: m for m in await history(admin, iid, BOB)}
    assert [rows[m]["messageType"] for m in (reply, place, two, poll, voice, sticker)] == [
        "text",
        "location",
        "contact",
        "poll",
        "voice",
        "sticker",
    ]
    assert (rows[reply]["quotedMessageId"], rows[reply]["mentions"], rows[reply]["forwarded"]) == (
        first,
        [ANN_JID],
        True,
    )
    assert rows[place]["location"]["name"] == "Opera House" and rows[voice]["ptt"] is True
    assert [(c["name"], c["phone"]) for c in rows[one]["contacts"]] == [("Ann", ANN)]
    assert rows[poll]["poll"]["votes"] == {"Mon": 0, "Tue": 0}


@pytest.mark.store_matters(*SQLITE_AND_MONGODB)
async def test_incoming_reactions_edits_revokes_and_votes(admin: Api) -> None:
    iid = await admin.connected_instance("Changes in", phone=ME)
    hi = await incoming(admin, iid, body="hi", group=GROUP)
    poll = await incoming(admin, iid, type="poll", question="Where?", options=["Here", "There"], group=GROUP)
    mine = await send(admin, iid, "send", {"phone": GROUP, "message": "mine"})

    async def arrive(sender: str, **body: Any) -> None:
        await incoming(admin, iid, sender, group=GROUP, **body)

    await arrive(ANN, type="reaction", messageId=hi, emoji="😂")
    await arrive(ANN, type="reaction", messageId=hi, emoji="😮")  # one per sender: the latest wins
    await arrive(BOB, type="edit", messageId=hi, body="hi all")
    await arrive(ANN, type="edit", messageId=hi, body="not Ann's")  # ignored: only the sender edits
    await arrive(ANN, type="edit", messageId=mine, body="not Ann's")  # ignored: ours
    await arrive(ANN, type="poll_vote", messageId=poll, options=["Here"])
    await arrive(BOB, type="poll_vote", messageId=poll, options=["Here"])
    await arrive(BOB, type="poll_vote", messageId=poll, options=["There"])  # Bob changes his mind
    await arrive(ANN, type="reaction", messageId="unknown-id", emoji="👍")  # ignored: unknown message
    await arrive(ANN, type="poll_vote", messageId=hi, options=["Here"])  # ignored: not a poll
    await incoming(admin, iid, body="after", group=GROUP)  # handled after everything above
    rows = {m["messageId"]: m for m in await history(admin, iid, GROUP)}
    assert "unknown-id" not in rows
    assert rows[hi]["reactions"] == [{"from": ANN_JID, "emoji": "😮"}]
    assert (rows[hi]["content"], rows[hi]["edited"]) == ("hi all", True) and rows[hi]["editedAt"]
    assert (rows[mine]["content"], rows[mine]["edited"]) == ("mine", False)
    assert rows[poll]["poll"]["votes"] == {"Here": 1, "There": 1}
    await arrive(BOB, type="revoke", messageId=poll)
    gone = await row(admin, iid, GROUP, poll)
    assert gone["revoked"] is True and gone["poll"] is None
    feed = [e for e in await events(admin, iid) if e["type"] not in ("message_received", "message_sent")]
    assert [(e["type"], e["data"]["messageId"], e["data"]["from"], e["data"]["chatId"]) for e in feed] == [
        ("message_reaction", hi, ANN_JID, GROUP),
        ("message_reaction", hi, ANN_JID, GROUP),
        ("message_edited", hi, BOB_JID, GROUP),
        ("poll_vote", poll, ANN_JID, GROUP),
        ("poll_vote", poll, BOB_JID, GROUP),
        ("poll_vote", poll, BOB_JID, GROUP),
        ("message_revoked", poll, BOB_JID, GROUP),
    ]
    assert [e["data"]["selectedOptions"] for e in feed if e["type"] == "poll_vote"] == [["Here"], ["Here"], ["There"]]
    assert feed[2]["data"]["body"] == "hi all" and feed[1]["data"]["emoji"] == "😮"
    assert not any(e["data"]["fromMe"] for e in feed if "fromMe" in e["data"])


# ---- the story of issue 15 ------------------------------------------------------------------


STORY_TYPES = (
    "message_received",
    "message_sent",
    "message_reaction",
    "message_edited",
    "message_revoked",
    "poll_vote",
    "presence_update",
)


async def sse_events(api: Api, iid: str, count: int) -> list[dict[str, Any]]:
    """The first `count` events of the stream, replayed from the start."""
    got: list[dict[str, Any]] = []
    params = {"since": "1970-01-01T00:00:00.000Z", "types": ",".join(STORY_TYPES)}
    with trio.fail_after(15):
        async with api.http.stream("GET", f"/api/instances/{iid}/events/stream", params=params) as r:
            assert r.status_code == 200
            async for line in r.aiter_lines():
                if line.startswith("data: "):
                    got.append(json.loads(line[6:]))
                    if len(got) == count:
                        return got
    raise AssertionError("the stream ended")


async def play_the_story(api: Api, iid: str) -> dict[str, str]:
    """Everything happens in the group; answers the ids of the messages involved."""
    poll = await incoming(api, iid, BOB, group=GROUP, type="poll", question="Cake?", options=["Yes", "No"])
    await incoming(api, iid, ANN, group=GROUP, type="poll_vote", messageId=poll, options=["Yes"])
    await incoming(api, iid, BOB, group=GROUP, type="poll_vote", messageId=poll, options=["No"])
    await incoming(api, iid, BOB, group=GROUP, type="poll_vote", messageId=poll, options=["Yes"])
    question = await incoming(api, iid, BOB, group=GROUP, body="who brings it?", pushName="Bob")
    body = {"phone": GROUP, "message": f"@{ANN} does", "quotedMessageId": question, "mentions": [ANN]}
    reply = await send(api, iid, "send", body)
    await incoming(api, iid, ANN, group=GROUP, type="reaction", messageId=reply, emoji="🎂")
    r = await api.post(f"/api/whatsapp/{iid}/messages/{question}/react", json={"emoji": "👍"})
    assert r.status_code == 200, r.text
    r = await api.put(f"/api/whatsapp/{iid}/messages/{reply}", json={"message": f"@{ANN} does, with candles"})
    assert r.status_code == 200, r.text
    r = await api.post(
        f"/api/simulator/instances/{iid}/presence", json={"from": ANN, "state": "typing", "group": GROUP}
    )
    assert r.status_code == 200, r.text
    assert (await api.delete(f"/api/whatsapp/{iid}/messages/{reply}")).status_code == 200
    return {"poll": poll, "question": question, "reply": reply}


@pytest.mark.store_matters
async def test_the_story_agrees_everywhere_and_survives_rebuild_and_switch(
    server_factory: Callable[..., ServerProcess], switch_body: Callable[[str], dict[str, str]], tmp_path: Path
) -> None:
    data = tmp_path / "story"
    srv = server_factory(data)
    with Receiver() as rx:
        async with Api(srv.url, token=srv.admin_token()) as api:
            hook: dict[str, Any] = {"webhookUrl": rx.on("/story"), "webhookEnabled": True, "retryInterval": 100}
            iid = await api.connected_instance("Story", phone=ME, **hook)
            ids = await play_the_story(api, iid)

            page = await api.get(f"/api/instances/{iid}/events", params={"types": ",".join(STORY_TYPES), "limit": 100})
            feed = page.json()["events"]
            assert [(e["type"], e["data"].get("messageId")) for e in feed] == [
                ("message_received", ids["poll"]),
                ("poll_vote", ids["poll"]),
                ("poll_vote", ids["poll"]),
                ("poll_vote", ids["poll"]),
                ("message_received", ids["question"]),
                ("message_sent", ids["reply"]),
                ("message_reaction", ids["reply"]),
                ("message_reaction", ids["question"]),
                ("message_edited", ids["reply"]),
                ("presence_update", None),
                ("message_revoked", ids["reply"]),
            ]
            assert feed[5]["data"]["quotedMessageId"] == ids["question"] and feed[5]["data"]["mentions"] == [ANN_JID]
            assert (feed[6]["data"]["from"], feed[6]["data"]["fromMe"]) == (ANN_JID, False)
            assert (feed[7]["data"]["from"], feed[7]["data"]["fromMe"]) == (ME_JID, True)
            assert feed[9]["data"] == {
                "instanceId": iid,
                "chatId": GROUP,
                "from": ANN_JID,
                "state": "typing",
                "chatLid": None,
                "fromLid": None,
            }

            streamed = await sse_events(api, iid, len(feed))
            assert streamed == feed
            await wait_for(
                lambda: len([r for r in rx.at("/story", ok_only=True) if r.json["event"] in STORY_TYPES]) >= len(feed)
            )
            hooked = [r.json for r in rx.at("/story", ok_only=True) if r.json["event"] in STORY_TYPES]
            assert [(h["event"], h["timestamp"], h["data"]) for h in hooked] == [
                (e["type"], e["timestamp"], e["data"]) for e in feed
            ]

            rows = {m["messageId"]: m for m in await history(api, iid, GROUP)}
            assert set(rows) == {ids["poll"], ids["question"], ids["reply"]}  # presence is not history
            assert rows[ids["poll"]]["poll"]["votes"] == {"Yes": 2, "No": 0}
            assert rows[ids["question"]]["reactions"] == [{"from": ME_JID, "emoji": "👍"}]
            reply = rows[ids["reply"]]
            assert reply["revoked"] is True and reply["content"] is None and reply["edited"] is True
            assert reply["quotedMessageId"] == ids["question"]
            before = await history(api, iid, GROUP)
            assert BOB_JID in {m.get("sender") for m in before}
    srv.stop()

    out = srv.cli("rebuild")
    assert out.returncode == 0, out.stderr
    again = server_factory(data)
    async with Api(again.url, token=again.admin_token()) as api:
        assert await history(api, iid, GROUP) == before
        switch = switch_body(f"story_{id(data)}")
        target = switch["provider"]
        r = await api.post("/api/db/switch", json=switch)
        assert r.status_code == 200, r.text
        assert (await api.get("/api/db/status")).json()["provider"] == target
        assert await history(api, iid, GROUP) == before
