"""Searching a chat's history (`?search=`): a case-insensitive substring of the message's text or caption."""

from __future__ import annotations

import base64

import pytest

from tests.api.test_openapi import Checker
from tests.harness import Api
from tests.media_server import png_bytes

pytestmark = pytest.mark.store_matters  # the search is a read-model query, on each store's own terms

PEER = "79005557001"
PATH = "/api/instances/{instanceId}/chats/{chatId}/messages"


async def test_search_finds_text_captions_and_edits_case_insensitively(admin: Api) -> None:
    check = Checker()
    iid = await admin.connected_instance("Search", phone="79005557000")
    sim = f"/api/simulator/instances/{iid}/incoming"

    async def incoming(**body: object) -> str:
        r = await admin.post(sim, json={"from": PEER, **body})
        assert r.status_code == 200, r.text
        return str(r.json()["messageId"])

    hello = await incoming(body="Hello World, see you at 100% tomorrow")
    nothing = await incoming(body="nothing to see here")
    photo = await incoming(
        type="image", media={"data": base64.b64encode(png_bytes()).decode(), "mimeType": "image/png"}, body="HOLIDAY"
    )
    r = await admin.post(f"/api/whatsapp/{iid}/send", json={"phone": PEER, "message": "first draft"})
    assert r.status_code == 200, r.text
    edited = r.json()["id"]
    r = await admin.put(f"/api/whatsapp/{iid}/messages/{edited}", json={"message": "Final WORDING"})
    assert r.status_code == 200, r.text

    async def found(search: str) -> list[str]:
        r = await admin.get(f"/api/instances/{iid}/chats/{PEER}/messages", params={"search": search})
        body = check(r, "GET", PATH, 200)
        ids = [m["messageId"] for m in body["messages"]]
        assert body["pagination"]["total"] == len(ids)
        return ids

    assert await found("hello world") == [hello]
    assert await found("holiday") == [photo]  # a photo's caption
    assert await found("wording") == [edited]  # the edited text, not the first one
    assert await found("draft") == []
    assert await found("100%") == [hello]  # LIKE's wildcards are literal
    assert await found("_") == []
    assert await found("  SEE ") == [nothing, hello]  # trimmed, newest first
    # Newest first and paged like the unfiltered history; the total counts the matches only.
    r = await admin.get(f"/api/instances/{iid}/chats/{PEER}/messages", params={"search": "I", "limit": 1})
    body = check(r, "GET", PATH, 200)
    assert [m["messageId"] for m in body["messages"]] == [edited] and body["pagination"]["total"] == 3
    # No search (or only spaces) is the whole chat; too long a search is refused, naming the parameter.
    everything = check(await admin.get(f"/api/instances/{iid}/chats/{PEER}/messages"), "GET", PATH, 200)
    blank = await admin.get(f"/api/instances/{iid}/chats/{PEER}/messages", params={"search": "   "})
    assert check(blank, "GET", PATH, 200)["pagination"]["total"] == everything["pagination"]["total"] == 4
    r = await admin.get(f"/api/instances/{iid}/chats/{PEER}/messages", params={"search": "x" * 201})
    assert check(r, "GET", PATH, 400)["details"] == {"search": "search must be at most 200 characters"}
