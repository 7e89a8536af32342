"""The chat view and composer speak all of WhatsApp messaging, in a real browser against a real server.

Incoming kinds are staged with the simulator routes (API-2 §9) and must show in the chat view as people see
them in WhatsApp; what the composer does must reach the simulated network (its outbox) with the contract's
fields. Screenshots: `chat-kinds.png` (every kind), `chat-replying.png` (the composer replying).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.conftest import login
from tests.browser.media_samples import b64, png_picture, voice_note_ogg, wav_silence, webp_sticker
from tests.browser.test_web_manager import create_instance, scan

pytestmark = pytest.mark.browser
expect = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is not installed (pip install playwright)"
).expect

Entry = dict[str, Any]


def incoming(admin_http: httpx.Client, instance_id: str, **body: Any) -> str:
    r = admin_http.post(f"/api/simulator/instances/{instance_id}/incoming", json=body)
    assert r.status_code == 200, r.text
    return str(r.json()["messageId"])


def outbox(admin_http: httpx.Client, instance_id: str) -> list[Entry]:
    r = admin_http.get(f"/api/simulator/instances/{instance_id}/outbox")
    assert r.status_code == 200, r.text
    return list(r.json()["messages"])


def wait_outbox(
    admin_http: httpx.Client, instance_id: str, match: Callable[[Entry], bool], timeout: float = 10.0
) -> Entry:
    """The first outbox entry `match` accepts; fails with the outbox at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        entries = outbox(admin_http, instance_id)
        found = next((e for e in entries if match(e)), None)
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"no matching outbox entry in {timeout}s: {entries}")
        time.sleep(0.1)


def sent_text(admin_http: httpx.Client, instance_id: str, body: str) -> Entry:
    return wait_outbox(admin_http, instance_id, lambda e: e["type"] == "text" and e["body"] == body)


def bubble(page: Any, message_id: str) -> Any:
    return page.locator(f'[data-testid="message"][data-message-id="{message_id}"]')


def open_chat(page: Any, instance_id: str, peer: str) -> None:
    page.goto(f"/#/instances/{instance_id}/chats/{peer}")
    expect(page.get_by_test_id("chat-view")).to_be_visible()
    expect(page.get_by_test_id("messages")).to_be_visible()


def open_menu(page: Any, message_id: str) -> Any:
    bubble(page, message_id).get_by_test_id("message-actions").click()
    menu = bubble(page, message_id).get_by_test_id("message-menu")
    expect(menu).to_be_visible()
    return menu


# --- what arrives ------------------------------------------------------------------------------------------


def test_chat_view_shows_every_kind_of_message_live(
    page: Any, admin_http: httpx.Client, shot: Any, tmp_path: Path
) -> None:
    instance_id = create_instance(admin_http, "Every kind")
    scan(admin_http, instance_id)
    peer = "79005550101"

    def send(**body: Any) -> str:
        return incoming(admin_http, instance_id, **{"from": peer, "pushName": "Nina", **body})

    question = send(body="Lunch at noon?")
    answer = send(body="Yes, see you there", quotedMessageId=question)
    send(type="reaction", messageId=question, emoji="👍")
    changed = send(body="Meet at 12")
    send(type="edit", messageId=changed, body="Meet at 12:30")
    gone = send(body="a secret I regret")
    send(type="revoke", messageId=gone)
    place = send(type="location", latitude=52.516275, longitude=13.377704, name="Brandenburg Gate")
    card = send(type="contact", contacts=[{"name": "Ann Example", "phone": "79005550199"}])
    poll = send(type="poll", question="Where shall we eat?", options=["Pizza", "Sushi", "Tacos"])
    send(type="poll_vote", messageId=poll, options=["Sushi"])
    voice = send(type="voice", media={"data": b64(voice_note_ogg(tmp_path)), "mimeType": "audio/ogg; codecs=opus"})
    sticker = send(type="sticker", media={"data": b64(webp_sticker()), "mimeType": "image/webp"})
    forwarded = send(body="Passing this on", forwarded=True)

    login(page)
    open_chat(page, instance_id, peer)

    # A reply shows a quote of the original; clicking it brings the original into view.
    quote = bubble(page, answer).get_by_test_id("message-quote")
    expect(quote).to_contain_text("Lunch at noon?")
    expect(quote).to_contain_text("Nina")
    bubble(page, question).evaluate("el => el.parentElement.scrollTop = el.parentElement.scrollHeight")
    quote.click()
    expect(bubble(page, question)).to_have_class(re.compile(r"\bflash\b"))
    expect(bubble(page, question)).to_be_in_viewport()

    # Reactions under the bubble, with their counts.
    reaction = bubble(page, question).locator('[data-testid="reaction"][data-emoji="👍"]')
    expect(reaction).to_have_attribute("data-count", "1")
    expect(reaction).to_contain_text("1")

    # An edit shows the new text and says so; a deleted message shows neither its text nor a menu to act on it.
    expect(bubble(page, changed).get_by_test_id("message-text")).to_have_text("Meet at 12:30")
    expect(bubble(page, changed).get_by_test_id("message-edited")).to_have_text("Edited")
    expect(bubble(page, gone).get_by_test_id("message-deleted")).to_have_text(re.compile("This message was deleted"))
    expect(bubble(page, gone)).not_to_contain_text("a secret I regret")

    # A location: coordinates and a link to the map (no map tiles or scripts are loaded).
    location = bubble(page, place).get_by_test_id("message-location")
    expect(location).to_contain_text("Brandenburg Gate")
    expect(location.get_by_test_id("location-coords")).to_have_text("52.51628, 13.37770")
    link = location.get_by_test_id("location-link")
    expect(link).to_have_attribute(
        "href", re.compile(r"^https://www\.openstreetmap\.org/\?mlat=52\.51628&mlon=13\.37770")
    )
    expect(link).to_have_attribute("rel", re.compile("noopener"))

    # A contact card: the name and the phone, with a way to write to them.
    contact = bubble(page, card).get_by_test_id("contact-card")
    expect(contact.get_by_test_id("contact-card-name")).to_have_text("Ann Example")
    expect(contact.get_by_test_id("contact-card-phone")).to_have_text("+79005550199")

    # A poll with its options and vote counts.
    options = bubble(page, poll).get_by_test_id("poll-option")
    expect(bubble(page, poll).get_by_test_id("poll-question")).to_have_text("Where shall we eat?")
    expect(options).to_have_count(3)
    expect(options.nth(1)).to_have_attribute("data-votes", "1")
    expect(options.nth(0)).to_have_attribute("data-votes", "0")

    # A voice note plays (the real Ogg/Opus loads: the player knows its length); a sticker is a picture.
    audio = bubble(page, voice).get_by_test_id("message-voice").get_by_test_id("message-audio")
    expect(audio).to_have_attribute("src", re.compile(r"^blob:"))
    page.wait_for_function("el => el.readyState >= 1 && el.duration > 0.5", arg=audio.element_handle(), timeout=10_000)
    sticker_img = bubble(page, sticker).get_by_test_id("message-sticker")
    expect(sticker_img).to_have_attribute("src", re.compile(r"^blob:"))
    page.wait_for_function("el => el.complete && el.naturalWidth === 512", arg=sticker_img.element_handle())
    expect(bubble(page, forwarded).get_by_test_id("message-forwarded")).to_have_text(re.compile("Forwarded"))

    # Live, without a reload: a changed vote, a new reaction, the other side typing and recording.
    page.evaluate("window.__noReload = 'still here'")
    send(type="poll_vote", messageId=poll, options=["Pizza"])
    expect(options.nth(0)).to_have_attribute("data-votes", "1")
    expect(options.nth(1)).to_have_attribute("data-votes", "0")
    send(type="reaction", messageId=answer, emoji="😂")
    expect(bubble(page, answer).locator('[data-testid="reaction"][data-emoji="😂"]')).to_be_visible()

    typing = page.get_by_test_id("typing-indicator")
    expect(typing).to_be_hidden()
    r = admin_http.post(f"/api/simulator/instances/{instance_id}/presence", json={"from": peer, "state": "typing"})
    assert r.status_code == 200, r.text
    expect(typing).to_have_text("typing…")
    # The whole conversation in one picture: let the list grow to its content for the screenshot.
    page.get_by_test_id("messages").evaluate("el => { el.style.maxHeight = 'none'; }")
    shot(page, "chat-kinds")
    page.get_by_test_id("messages").evaluate("el => { el.style.maxHeight = ''; }")
    r = admin_http.post(f"/api/simulator/instances/{instance_id}/presence", json={"from": peer, "state": "recording"})
    assert r.status_code == 200, r.text
    expect(typing).to_have_text("recording audio…")
    r = admin_http.post(f"/api/simulator/instances/{instance_id}/presence", json={"from": peer, "state": "paused"})
    assert r.status_code == 200, r.text
    expect(typing).to_be_hidden()
    # Someone else typing in another chat is not shown here.
    r = admin_http.post(
        f"/api/simulator/instances/{instance_id}/presence", json={"from": "79005550102", "state": "typing"}
    )
    assert r.status_code == 200, r.text
    page.wait_for_timeout(700)
    expect(typing).to_be_hidden()
    assert page.evaluate("window.__noReload") == "still here", "the page reloaded"


# --- what the composer sends ----------------------------------------------------------------------------------


def test_composer_replies_reacts_edits_and_deletes(page: Any, admin_http: httpx.Client, shot: Any) -> None:
    instance_id = create_instance(admin_http, "Composer actions")
    scan(admin_http, instance_id)
    peer = "79005550201"
    asked = incoming(admin_http, instance_id, **{"from": peer, "body": "Can you send the address?", "pushName": "Omar"})
    login(page)
    open_chat(page, instance_id, peer)
    expect(bubble(page, asked)).to_contain_text("Can you send the address?")

    # Reply: pick the message, a "Replying to" bar shows it; cancel takes it away, pick again and send.
    open_menu(page, asked).get_by_test_id("action-reply").click()
    bar = page.get_by_test_id("reply-bar")
    expect(bar).to_contain_text("Replying to Omar")
    expect(bar).to_contain_text("Can you send the address?")
    page.get_by_test_id("reply-cancel").click()
    expect(bar).to_have_count(0)
    open_menu(page, asked).get_by_test_id("action-reply").click()
    page.get_by_test_id("composer-input").fill("Sure, here it is")
    shot(page, "chat-replying")
    page.get_by_test_id("composer-send").click()
    expect(bar).to_have_count(0)
    sent = sent_text(admin_http, instance_id, "Sure, here it is")
    assert sent["quotedMessageId"] == asked
    mine = sent["id"]
    expect(bubble(page, mine).get_by_test_id("message-quote")).to_contain_text("Can you send the address?")

    # React with the picker, then take the reaction back.
    open_menu(page, asked).locator('[data-testid="react-option"][data-emoji="❤️"]').click()
    reacted = wait_outbox(admin_http, instance_id, lambda e: e["type"] == "reaction" and e["emoji"] == "❤️")
    assert reacted["targetMessageId"] == asked
    heart = bubble(page, asked).locator('[data-testid="reaction"][data-emoji="❤️"]')
    expect(heart).to_have_attribute("data-count", "1")
    expect(heart).to_have_class(re.compile(r"\bmine\b"))
    open_menu(page, asked).get_by_test_id("react-remove").click()
    removed = wait_outbox(admin_http, instance_id, lambda e: e["type"] == "reaction" and e["emoji"] == "")
    assert removed["targetMessageId"] == asked
    expect(heart).to_have_count(0)

    # Someone else's message offers neither Edit nor Delete for everyone.
    menu = open_menu(page, asked)
    expect(menu.get_by_test_id("action-edit")).to_have_count(0)
    expect(menu.get_by_test_id("action-delete")).to_have_count(0)
    page.keyboard.press("Escape")
    expect(menu).to_have_count(0)

    # Edit my own message: the composer holds its text, Save sends the edit.
    open_menu(page, mine).get_by_test_id("action-edit").click()
    expect(page.get_by_test_id("edit-bar")).to_contain_text("Editing your message")
    expect(page.get_by_test_id("composer-input")).to_have_value("Sure, here it is")
    expect(page.get_by_test_id("composer-send")).to_have_text("Save")
    page.get_by_test_id("composer-input").fill("Sure, here it is: 1 Main Street")
    page.get_by_test_id("composer-send").click()
    edit = wait_outbox(admin_http, instance_id, lambda e: e["type"] == "edit")
    assert edit["targetMessageId"] == mine and edit["body"] == "Sure, here it is: 1 Main Street"
    expect(bubble(page, mine).get_by_test_id("message-text")).to_have_text("Sure, here it is: 1 Main Street")
    expect(bubble(page, mine).get_by_test_id("message-edited")).to_be_visible()
    expect(page.get_by_test_id("composer-send")).to_have_text("Send")

    # Delete for everyone, after a confirmation.
    page.get_by_test_id("composer-input").fill("wrong chat, sorry")
    page.get_by_test_id("composer-send").click()
    wrong = sent_text(admin_http, instance_id, "wrong chat, sorry")["id"]
    open_menu(page, wrong).get_by_test_id("action-delete").click()
    expect(page.get_by_test_id("confirm-dialog")).to_be_visible()
    page.get_by_test_id("confirm-ok").click()
    revoke = wait_outbox(admin_http, instance_id, lambda e: e["type"] == "revoke")
    assert revoke["targetMessageId"] == wrong
    expect(bubble(page, wrong).get_by_test_id("message-deleted")).to_be_visible()
    expect(bubble(page, wrong)).not_to_contain_text("wrong chat, sorry")

    # What the server refuses shows its text: this message was deleted (elsewhere) while being edited.
    page.get_by_test_id("composer-input").fill("typo hree")
    page.get_by_test_id("composer-send").click()
    typo = sent_text(admin_http, instance_id, "typo hree")["id"]
    open_menu(page, typo).get_by_test_id("action-edit").click()
    r = admin_http.delete(f"/api/whatsapp/{instance_id}/messages/{typo}")
    assert r.status_code == 200, r.text
    page.get_by_test_id("composer-input").fill("typo here")
    page.get_by_test_id("composer-send").click()
    expect(page.get_by_test_id("composer-error")).to_have_text("the message was deleted")
    page.get_by_test_id("edit-cancel").click()
    expect(page.get_by_test_id("edit-bar")).to_have_count(0)
    expect(page.get_by_test_id("composer-input")).to_have_value("")


def test_composer_sends_a_location_a_poll_and_files_and_shows_typing(
    page: Any, admin_http: httpx.Client, shot: Any
) -> None:
    instance_id = create_instance(admin_http, "Composer kinds")
    scan(admin_http, instance_id)
    peer = "79005550301"
    incoming(admin_http, instance_id, **{"from": peer, "body": "Where are you?"})
    login(page)
    open_chat(page, instance_id, peer)

    # Typing in the composer tells the other side, then stops ("paused") when the user stops.
    page.get_by_test_id("composer-input").press_sequentially("On my", delay=30)
    typing = wait_outbox(admin_http, instance_id, lambda e: e["type"] == "presence" and e["state"] == "typing")
    assert typing["to"] == f"{peer}@s.whatsapp.net"
    wait_outbox(admin_http, instance_id, lambda e: e["type"] == "presence" and e["state"] == "paused", timeout=8)
    presences = [e for e in outbox(admin_http, instance_id) if e["type"] == "presence"]
    assert len(presences) == 2, presences  # debounced: one "typing" for the whole burst of keystrokes
    page.get_by_test_id("composer-input").fill("")

    # A location.
    page.get_by_test_id("composer-location").click()
    page.get_by_test_id("location-latitude").fill("48.8584")
    page.get_by_test_id("location-longitude").fill("2.2945")
    page.get_by_test_id("location-name").fill("Eiffel Tower")
    page.get_by_test_id("location-send").click()
    location = wait_outbox(admin_http, instance_id, lambda e: e["type"] == "location")
    assert (location["latitude"], location["longitude"], location["name"]) == (48.8584, 2.2945, "Eiffel Tower")
    expect(page.get_by_test_id("location-form")).to_be_hidden()
    sent_location = bubble(page, location["id"]).get_by_test_id("message-location")
    expect(sent_location.get_by_test_id("location-coords")).to_have_text("48.85840, 2.29450")

    # A poll: 2 options to start with, up to 12; the server's refusal (duplicates) shows its text.
    page.get_by_test_id("composer-poll").click()
    page.get_by_test_id("poll-question-input").fill("Which day?")
    inputs = page.get_by_test_id("poll-option-input")
    expect(inputs).to_have_count(2)
    inputs.nth(0).fill("Monday")
    inputs.nth(1).fill("Monday")
    page.get_by_test_id("poll-send").click()
    expect(page.get_by_test_id("composer-error")).to_contain_text("distinct")
    inputs.nth(1).fill("Tuesday")
    page.get_by_test_id("poll-add-option").click()
    inputs.nth(2).fill("Friday")
    for _ in range(9):
        page.get_by_test_id("poll-add-option").click()
    expect(inputs).to_have_count(12)
    expect(page.get_by_test_id("poll-add-option")).to_be_disabled()
    for _ in range(9):
        page.get_by_test_id("poll-remove-option").last.click()
    expect(inputs).to_have_count(3)
    page.get_by_test_id("poll-send").click()
    poll = wait_outbox(admin_http, instance_id, lambda e: e["type"] == "poll")
    assert poll["question"] == "Which day?" and poll["options"] == ["Monday", "Tuesday", "Friday"]
    assert poll["selectableCount"] == 1
    expect(page.get_by_test_id("composer-error")).to_have_count(0)
    expect(bubble(page, poll["id"]).get_by_test_id("poll-option")).to_have_count(3)

    # A file as a voice note (the server converts the WAV to Ogg/Opus) and a picture as a sticker.
    page.get_by_test_id("composer-attach").click()
    page.get_by_test_id("attach-file").set_input_files(
        files=[{"name": "hello.wav", "mimeType": "audio/wav", "buffer": wav_silence()}]
    )
    page.get_by_test_id("attach-as").select_option("voice")
    page.get_by_test_id("attach-send").click()
    voice = wait_outbox(admin_http, instance_id, lambda e: e["type"] == "voice")
    assert voice["ptt"] is True and voice["mimeType"].startswith("audio/ogg")
    expect(bubble(page, voice["id"]).get_by_test_id("message-voice")).to_be_visible()

    page.get_by_test_id("composer-attach").click()
    page.get_by_test_id("attach-file").set_input_files(
        files=[{"name": "smile.png", "mimeType": "image/png", "buffer": png_picture()}]
    )
    page.get_by_test_id("attach-as").select_option("sticker")
    page.get_by_test_id("attach-send").click()
    sticker = wait_outbox(admin_http, instance_id, lambda e: e["type"] == "sticker")
    assert sticker["mimeType"] == "image/webp"
    expect(bubble(page, sticker["id"]).get_by_test_id("message-sticker")).to_be_visible()
