"""Sending more than text over HTTP against the simulator (API-2 §1, §9): replies, mentions, locations, contact
cards, polls, reactions, edits, deletes, forwards, voice notes and stickers, in the simulator's outbox, in history
and in the event feed; bad input answers 400/404/409/422 and records nothing. What arrives is
`test_incoming_messages`; read receipts, presence and number checks are `test_chat_actions`.
"""

from __future__ import annotations

import base64
import io
import math
import struct
import threading
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.harness import SQLITE_AND_MONGODB, Api
from tests.media_server import png_bytes

ME = "79990000001"
ME_JID = f"{ME}@s.whatsapp.net"
BOB = "79001234567"
BOB_JID = f"{BOB}@s.whatsapp.net"
ANN = "79007654321"
ANN_JID = f"{ANN}@s.whatsapp.net"
GROUP = "120363012345678901@g.us"
MESSAGE_EVENTS = "message_sent,message_received,message_reaction,message_edited,message_revoked,poll_vote"


# ---- helpers shared with test_chat_actions ----------------------------------------------------


async def outbox(api: Api, iid: str) -> list[dict[str, Any]]:
    r = await api.get(f"/api/simulator/instances/{iid}/outbox")
    assert r.status_code == 200, r.text
    return list(r.json()["messages"])


async def history(api: Api, iid: str, chat: str) -> list[dict[str, Any]]:
    """The chat's history, newest first."""
    r = await api.get(f"/api/instances/{iid}/chats/{chat}/messages", params={"limit": 1000})
    assert r.status_code == 200, r.text
    return list(r.json()["messages"])


async def row(api: Api, iid: str, chat: str, message_id: str) -> dict[str, Any]:
    rows = [m for m in await history(api, iid, chat) if m["messageId"] == message_id]
    assert len(rows) == 1, (message_id, rows)
    return rows[0]


async def events(api: Api, iid: str, types: str = MESSAGE_EVENTS) -> list[dict[str, Any]]:
    r = await api.get(f"/api/instances/{iid}/events", params={"types": types, "limit": 1000})
    assert r.status_code == 200, r.text
    return list(r.json()["events"])


async def incoming(api: Api, iid: str, sender: str = BOB, **body: Any) -> str:
    """Something arrives from `sender`; answers the new message's id (or the one a reaction, edit, … names)."""
    r = await api.post(f"/api/simulator/instances/{iid}/incoming", json={"from": sender, **body})
    assert r.status_code == 200, r.text
    assert body.get("messageId") in (None, r.json()["messageId"]), r.text
    return str(r.json()["messageId"])


async def send(api: Api, iid: str, route: str, body: dict[str, Any]) -> str:
    r = await api.post(f"/api/whatsapp/{iid}/{route}", json=body)
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


async def refused(api: Api, iid: str, method: str, path: str, body: Any, status: int, code: str) -> dict[str, Any]:
    """The call answers `status`/`code` and the network saw nothing and the log recorded no send."""
    before = (len(await outbox(api, iid)), len(await events(api, iid)))
    r = await api.http.request(method, f"/api/whatsapp/{iid}/{path}", json=body)
    assert (r.status_code, r.json()["code"]) == (status, code), (body, r.text)
    if status == 400:
        assert r.json()["details"], r.text
    assert (len(await outbox(api, iid)), len(await events(api, iid))) == before, body
    return dict(r.json())


def wav_bytes(seconds: float = 0.3, rate: int = 8000) -> bytes:
    """A real WAV file (a 440 Hz tone) made with the standard library."""
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate))) for i in range(int(seconds * rate))
    )
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return buf.getvalue()


@contextmanager
def serving(data: bytes) -> Iterator[str]:
    """A loopback HTTP server that answers every GET with `data` (as octet-stream: the server must sniff)."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/media"
    finally:
        httpd.shutdown()
        httpd.server_close()


# ---- sending more than text (§1) -------------------------------------------------------------


@pytest.mark.store_matters(*SQLITE_AND_MONGODB)
async def test_reply_with_mentions_and_an_unknown_quote(admin: Api) -> None:
    iid = await admin.connected_instance("Reply", phone=ME)
    asked = await incoming(admin, iid, body="lunch?")
    mid = await send(
        admin, iid, "send", {"phone": BOB, "message": f"yes @{ANN}", "quotedMessageId": asked, "mentions": [ANN]}
    )
    sent = (await outbox(admin, iid))[-1]
    assert (sent["id"], sent["type"], sent["body"]) == (mid, "text", f"yes @{ANN}")
    assert sent["quotedMessageId"] == asked and sent["mentions"] == [ANN_JID] and sent["forwarded"] is False
    reply = await row(admin, iid, BOB, mid)
    assert reply["quotedMessageId"] == asked and reply["mentions"] == [ANN_JID] and reply["forwarded"] is False
    assert reply["messageType"] == "text" and reply["content"] == f"yes @{ANN}"
    unknown = {"phone": BOB, "message": "x", "quotedMessageId": "nope"}
    await refused(admin, iid, "POST", "send", unknown, 404, "message_not_found")
    for bad in ({"mentions": "79001234567"}, {"mentions": [""]}, {"mentions": ["abc"]}, {"linkPreview": "yes"}):
        await refused(admin, iid, "POST", "send", {"phone": BOB, "message": "x", **bad}, 400, "validation_error")


@pytest.mark.store_matters(*SQLITE_AND_MONGODB)
async def test_location_contacts_and_polls(admin: Api) -> None:
    iid = await admin.connected_instance("Kinds", phone=ME)
    place = {"latitude": 55.7558, "longitude": 37.6173, "name": "Red Square", "address": "Moscow"}
    loc = await send(admin, iid, "send-location", {"phone": BOB, **place})
    card = {"name": "Ann Lee", "phone": ANN, "organization": "Acme"}
    cards = await send(admin, iid, "send-contact", {"phone": BOB, "contacts": [card]})
    poll = await send(admin, iid, "send-poll", {"phone": BOB, "question": "Lunch?", "options": ["Pizza", "Sushi"]})
    out = {m["id"]: m for m in await outbox(admin, iid)}
    assert {k: out[loc][k] for k in place} == place and out[loc]["type"] == "location"
    (shared,) = out[cards]["contacts"]
    assert out[cards]["type"] == "contact" and (shared["name"], shared["phone"]) == ("Ann Lee", ANN)
    assert "BEGIN:VCARD" in shared["vcard"] and ANN in shared["vcard"] and "Acme" in shared["vcard"]
    assert (out[poll]["type"], out[poll]["question"], out[poll]["options"]) == ("poll", "Lunch?", ["Pizza", "Sushi"])
    assert out[poll]["selectableCount"] == 1

    assert (await row(admin, iid, BOB, loc))["location"] == place
    saved = await row(admin, iid, BOB, cards)
    assert saved["messageType"] == "contact"
    assert [(c["name"], c["phone"]) for c in saved["contacts"]] == [("Ann Lee", ANN)]
    polled = await row(admin, iid, BOB, poll)
    assert polled["messageType"] == "poll" and polled["poll"]["question"] == "Lunch?"
    assert polled["poll"]["options"] == ["Pizza", "Sushi"] and polled["poll"]["selectableCount"] == 1
    assert polled["poll"]["votes"] == {"Pizza": 0, "Sushi": 0}
    sent = [e["data"]["messageType"] for e in await events(admin, iid, "message_sent")]
    assert sent == ["location", "contact", "poll"]

    for bad in (
        {"latitude": 90.5, "longitude": 0},
        {"latitude": 0, "longitude": -180.1},
        {"latitude": "1", "longitude": 0},
        {"longitude": 10},
        {"latitude": True, "longitude": 0},
    ):
        error = await refused(admin, iid, "POST", "send-location", {"phone": BOB, **bad}, 400, "validation_error")
        assert set(error["details"]) <= {"latitude", "longitude"}, error
    many = [{"name": f"N{i}", "phone": f"7900000{i:04d}"} for i in range(21)]
    for contacts in ([], many, None, [{"name": "No phone"}], [{"name": "Group", "phone": GROUP}]):
        body = {"phone": BOB, "contacts": contacts}
        await refused(admin, iid, "POST", "send-contact", body, 400, "validation_error")
    await send(admin, iid, "send-contact", {"phone": BOB, "contacts": many[:20]})  # 20 is the most
    for options, extra in (
        (["only"], {}),
        ([f"o{i}" for i in range(13)], {}),
        (["a", "a"], {}),
        (["a", " "], {}),
        (["a", "b"], {"selectableCount": 3}),
        (["a", "b"], {"selectableCount": 0}),
    ):
        poll_body: dict[str, Any] = {"phone": BOB, "question": "Q?", "options": options, **extra}
        await refused(admin, iid, "POST", "send-poll", poll_body, 400, "validation_error")
    await refused(admin, iid, "POST", "send-poll", {"phone": BOB, "options": ["a", "b"]}, 400, "validation_error")


@pytest.mark.store_matters(*SQLITE_AND_MONGODB)
async def test_react_and_remove_a_reaction(admin: Api) -> None:
    iid = await admin.connected_instance("React", phone=ME)
    hello = await incoming(admin, iid, body="hello")
    r = await admin.post(f"/api/whatsapp/{iid}/messages/{hello}/react", json={"emoji": "👍"})
    assert r.status_code == 200, r.text
    assert r.json()["success"] is True and r.json()["messageId"] == hello and r.json()["emoji"] == "👍"
    sent = (await outbox(admin, iid))[-1]
    assert (sent["type"], sent["to"], sent["targetMessageId"], sent["emoji"]) == ("reaction", BOB_JID, hello, "👍")
    assert (await row(admin, iid, BOB, hello))["reactions"] == [{"from": ME_JID, "emoji": "👍"}]
    await incoming(admin, iid, type="reaction", messageId=hello, emoji="❤️")  # Bob reacts to his own message
    reactions = (await row(admin, iid, BOB, hello))["reactions"]
    assert sorted(reactions, key=lambda x: x["from"]) == [
        {"from": BOB_JID, "emoji": "❤️"},
        {"from": ME_JID, "emoji": "👍"},
    ]
    assert (await admin.post(f"/api/whatsapp/{iid}/messages/{hello}/react", json={"emoji": ""})).status_code == 200
    assert (await outbox(admin, iid))[-1]["emoji"] == ""
    assert (await row(admin, iid, BOB, hello))["reactions"] == [{"from": BOB_JID, "emoji": "❤️"}]
    got = [e["data"] for e in await events(admin, iid, "message_reaction")]
    assert [(d["messageId"], d["chatId"], d["from"], d["fromMe"], d["emoji"]) for d in got] == [
        (hello, BOB_JID, ME_JID, True, "👍"),
        (hello, BOB_JID, BOB_JID, False, "❤️"),
        (hello, BOB_JID, ME_JID, True, ""),
    ]
    await refused(admin, iid, "POST", "messages/nope/react", {"emoji": "👍"}, 404, "message_not_found")
    for emoji in (None, 5, " ", "x" * 33):
        await refused(admin, iid, "POST", f"messages/{hello}/react", {"emoji": emoji}, 400, "validation_error")


@pytest.mark.store_matters(*SQLITE_AND_MONGODB)
async def test_edit_own_text_only(admin: Api) -> None:
    iid = await admin.connected_instance("Edit", phone=ME)
    mid = await send(admin, iid, "send", {"phone": BOB, "message": "helo"})
    r = await admin.put(f"/api/whatsapp/{iid}/messages/{mid}", json={"message": "hello"})
    assert r.status_code == 200 and r.json()["success"] is True and r.json()["messageId"] == mid, r.text
    sent = (await outbox(admin, iid))[-1]
    assert (sent["type"], sent["to"], sent["targetMessageId"], sent["body"]) == ("edit", BOB_JID, mid, "hello")
    edited = await row(admin, iid, BOB, mid)
    assert edited["content"] == "hello" and edited["edited"] is True and edited["editedAt"].endswith("Z")
    (event,) = [e["data"] for e in await events(admin, iid, "message_edited")]
    assert (event["messageId"], event["chatId"], event["fromMe"], event["body"]) == (mid, BOB_JID, True, "hello")
    theirs = await incoming(admin, iid, body="not yours")
    await refused(admin, iid, "PUT", f"messages/{theirs}", {"message": "mine now"}, 409, "not_editable")
    loc = await send(admin, iid, "send-location", {"phone": BOB, "latitude": 1, "longitude": 2})
    await refused(admin, iid, "PUT", f"messages/{loc}", {"message": "text now"}, 409, "not_editable")
    await refused(admin, iid, "PUT", "messages/nope", {"message": "x"}, 404, "message_not_found")
    await refused(admin, iid, "PUT", f"messages/{mid}", {"message": ""}, 400, "validation_error")
    assert (await row(admin, iid, BOB, theirs))["content"] == "not yours"


@pytest.mark.store_matters(*SQLITE_AND_MONGODB)
async def test_revoke_own_and_not_theirs(admin: Api) -> None:
    iid = await admin.connected_instance("Revoke", phone=ME)
    files = {"file": ("dot.png", png_bytes("red"), "application/octet-stream")}
    r = await admin.post(f"/api/whatsapp/{iid}/send-file", data={"phone": BOB, "caption": "oops"}, files=files)
    assert r.status_code == 200, r.text
    mid = r.json()["id"]
    media = (await row(admin, iid, BOB, mid))["mediaUrl"]
    assert (await admin.get(media)).status_code == 200
    r = await admin.delete(f"/api/whatsapp/{iid}/messages/{mid}")
    assert r.status_code == 200 and r.json()["success"] is True and r.json()["messageId"] == mid, r.text
    sent = (await outbox(admin, iid))[-1]
    assert (sent["type"], sent["to"], sent["targetMessageId"]) == ("revoke", BOB_JID, mid)
    gone = await row(admin, iid, BOB, mid)
    assert gone["revoked"] is True and gone["content"] is None and gone["caption"] is None
    assert gone["mediaUrl"] is None and (await admin.get(media)).status_code == 404
    (event,) = [e["data"] for e in await events(admin, iid, "message_revoked")]
    assert (event["messageId"], event["chatId"], event["fromMe"]) == (mid, BOB_JID, True)
    await refused(admin, iid, "DELETE", f"messages/{mid}", None, 409, "not_revocable")  # already deleted
    theirs = await incoming(admin, iid, body="keep me")
    await refused(admin, iid, "DELETE", f"messages/{theirs}", None, 409, "not_revocable")
    await refused(admin, iid, "DELETE", "messages/nope", None, 404, "message_not_found")
    assert (await row(admin, iid, BOB, theirs))["revoked"] is False


@pytest.mark.store_matters(*SQLITE_AND_MONGODB)
async def test_forward_keeps_the_type(admin: Api) -> None:
    iid = await admin.connected_instance("Forward", phone=ME)
    data = png_bytes("blue")
    media = {"mimeType": "image/png", "fileName": "b.png", "data": base64.b64encode(data).decode()}
    pic = await incoming(admin, iid, type="image", body="look", media=media)
    text = await incoming(admin, iid, body="pass it on")
    fwd_pic = await send(admin, iid, f"messages/{pic}/forward", {"phone": ANN})
    fwd_text = await send(admin, iid, f"messages/{text}/forward", {"phone": ANN})
    out = {m["id"]: m for m in await outbox(admin, iid)}
    assert (out[fwd_pic]["type"], out[fwd_pic]["to"], out[fwd_pic]["forwarded"]) == ("image", ANN_JID, True)
    assert out[fwd_pic]["mimeType"] == "image/png" and out[fwd_pic]["size"] == len(data)
    assert (out[fwd_text]["type"], out[fwd_text]["body"], out[fwd_text]["forwarded"]) == ("text", "pass it on", True)
    copy = await row(admin, iid, ANN, fwd_pic)
    assert copy["messageType"] == "image" and copy["forwarded"] is True and copy["caption"] == "look"
    assert (await admin.get(copy["mediaUrl"])).content == data
    assert (await row(admin, iid, ANN, fwd_text))["forwarded"] is True
    await refused(admin, iid, "POST", "messages/nope/forward", {"phone": ANN}, 404, "message_not_found")
    await refused(admin, iid, "POST", f"messages/{text}/forward", {"phone": "abc"}, 400, "validation_error")


async def test_voice_notes_and_stickers_are_converted(admin: Api) -> None:
    iid = await admin.connected_instance("Convert", phone=ME)
    asked = await incoming(admin, iid, body="say it")
    wav = wav_bytes()
    form = {"phone": BOB, "as": "voice", "quotedMessageId": asked, "mentions": f"{ANN},{BOB}"}
    r = await admin.post(f"/api/whatsapp/{iid}/send-file", data=form, files={"file": ("a.wav", wav, "audio/wav")})
    assert r.status_code == 200, r.text
    with serving(wav) as url:
        by_url = await send(admin, iid, "send-media", {"phone": BOB, "url": url, "as": "voice"})
    r_sticker = await admin.post(
        f"/api/whatsapp/{iid}/send-file", data={"phone": BOB, "as": "sticker"}, files={"file": ("s.png", png_bytes())}
    )
    assert r_sticker.status_code == 200, r_sticker.text
    out = {m["id"]: m for m in await outbox(admin, iid)}
    for mid in (r.json()["id"], by_url):
        voice = out[mid]
        assert (voice["type"], voice["ptt"], voice["mimeType"]) == ("voice", True, "audio/ogg; codecs=opus")
        assert voice["size"] > 0 and voice["caption"] is None
    assert out[r.json()["id"]]["quotedMessageId"] == asked and out[r.json()["id"]]["mentions"] == [ANN_JID, BOB_JID]
    sticker = out[r_sticker.json()["id"]]
    assert (sticker["type"], sticker["mimeType"]) == ("sticker", "image/webp")
    note = await row(admin, iid, BOB, r.json()["id"])
    assert note["messageType"] == "voice" and note["ptt"] is True and note["mimeType"] == "audio/ogg; codecs=opus"
    assert (await admin.get(note["mediaUrl"])).content[:4] == b"OggS"
    stored = await row(admin, iid, BOB, r_sticker.json()["id"])
    assert stored["messageType"] == "sticker" and (await admin.get(stored["mediaUrl"])).content[8:12] == b"WEBP"

    upload = f"/api/whatsapp/{iid}/send-file"
    before = len(await outbox(admin, iid))
    errors = []
    for as_, file, status, code in (
        ("voice", png_bytes(), 400, "validation_error"),  # not audio
        ("sticker", wav, 400, "validation_error"),  # not an image
        ("gif", png_bytes(), 400, "validation_error"),
        ("voice", b"RIFF\x24\x00\x00\x00WAVE" + b"junk" * 40, 422, "conversion_failed"),  # a WAV without audio
        ("sticker", png_bytes()[:40], 422, "conversion_failed"),  # a cut PNG
    ):
        r = await admin.post(upload, data={"phone": BOB, "as": as_}, files={"file": ("f", file)})
        assert (r.status_code, r.json().get("code")) == (status, code), (as_, r.text)
        errors.append(r.json()["error"])
    with serving(png_bytes()) as url:
        r = await admin.post(f"/api/whatsapp/{iid}/send-media", json={"phone": BOB, "url": url, "as": "voice"})
        assert (r.status_code, r.json()["code"]) == (400, "validation_error"), r.text
    assert len(await outbox(admin, iid)) == before
    leaks = [e for e in errors if "/tmp" in e or "wamux-" in e or "object at 0x" in e]
    assert not leaks, leaks  # an answer names the problem, not server paths or objects
