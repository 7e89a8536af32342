"""The web manager for people (issue 19, items 4–6), in a real browser against a real server.

A connected instance's page on a fresh load (no stray "null", no QR request, no pairing panel) at desktop and
phone size, where the header is one row and the tabs scroll with a hint; a chat that opens at its newest
message, reads itself, marks history and media that were not downloaded, and searches; the composer's media
with a preview; the simulator panel driving a whole demo; the owner column, toasts that stay on their page,
activity in words, the API docs link, and server messages in words for people. Screenshots go to
`tests/artifacts/` (`first-hour-*.png`, desktop and 390 px).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.conftest import login
from tests.browser.media_samples import png_picture
from tests.browser.test_web_manager import create_instance, open_instance, scan, wait_qr
from tests.harness import ServerProcess

pytestmark = pytest.mark.browser
expect = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is not installed (pip install playwright)"
).expect

PEER = "79005551901"
PUBLIC_JS = Path(__file__).resolve().parents[2] / "public" / "js"


@pytest.fixture
def phone(chromium: Any, web: ServerProcess) -> Iterator[Any]:
    """A 390 px wide page (a phone), failing on any script error."""
    ctx = chromium.new_context(viewport={"width": 390, "height": 844}, base_url=web.url, is_mobile=True, has_touch=True)
    ctx.set_default_timeout(10_000)
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    ctx.close()
    assert not errors, errors


def incoming(admin_http: httpx.Client, instance_id: str, body: str, **extra: Any) -> str:
    r = admin_http.post(f"/api/simulator/instances/{instance_id}/incoming", json={"from": PEER, "body": body, **extra})
    assert r.status_code == 200, r.text
    return str(r.json()["messageId"])


def at_bottom(page: Any) -> bool:
    return bool(
        page.evaluate(
            "(() => { const l = document.querySelector('[data-testid=messages]');"
            " return l.scrollHeight - l.scrollTop - l.clientHeight < 4 && l.scrollHeight > l.clientHeight; })()"
        )
    )


def wait_bottom(page: Any) -> None:
    deadline = time.monotonic() + 5
    while not at_bottom(page):
        assert time.monotonic() < deadline, "the chat is not at its newest message"
        page.wait_for_timeout(50)


def no_null(page: Any) -> None:
    """No left-out part of the page shows as the text "null" (what native append() makes of it)."""
    shown = page.get_by_test_id("main").inner_text()
    assert not re.search(r"\bnull\b", shown), shown


# --- item 4: the connection page, the header, the tabs ------------------------------------------------------


def test_connected_page_on_a_fresh_load_and_on_a_phone(
    page: Any, phone: Any, admin_http: httpx.Client, shot: Any
) -> None:
    instance_id = create_instance(admin_http, "First hour")
    scan(admin_http, instance_id, phone="79005551900")
    waiting = create_instance(admin_http, "Waiting for a scan")
    wait_qr(admin_http, waiting)
    phone.goto("/")
    expect(phone.get_by_test_id("login-form")).to_be_visible()
    expect(phone.get_by_test_id("menu-toggle")).to_be_hidden()  # no menu before signing in
    for pg, size in ((page, "desktop"), (phone, "phone")):
        qr_requests: list[str] = []
        pg.on("request", lambda r, seen=qr_requests: seen.append(r.url) if "/qr" in r.url else None)
        login(pg)
        open_instance(pg, instance_id)
        pg.reload()  # a fresh load of a connected instance
        expect(pg.get_by_test_id("connected-message")).to_have_text("Connected to WhatsApp")
        expect(pg.get_by_test_id("connected-phone")).to_have_text("+79005551900 (Me)")
        expect(pg.get_by_test_id("instance-status")).to_have_attribute("data-status", "connected")
        no_null(pg)
        expect(pg.get_by_test_id("pair-card")).to_be_hidden()
        expect(pg.get_by_test_id("logout-instance-button")).to_be_enabled()
        pg.wait_for_timeout(300)  # what the live feed's first events would ask for
        assert qr_requests == [], qr_requests  # no GET /qr, so no 409 in the console
        shot(pg, f"first-hour-connected-{size}")

        # Waiting for a scan: nothing to log out of, and the pairing panel is there.
        open_instance(pg, waiting)
        expect(pg.get_by_test_id("qr-image")).to_be_visible()
        expect(pg.get_by_test_id("logout-instance-button")).to_be_disabled()
        expect(pg.get_by_test_id("pair-card")).to_be_visible()

    # At 390 px the header is one row, its menu behind a button; the tabs scroll with a visible hint.
    header = phone.get_by_test_id("topbar").bounding_box()
    assert header["height"] < 64, header
    expect(phone.get_by_test_id("nav-instances")).to_be_hidden()
    phone.get_by_test_id("menu-toggle").click()
    expect(phone.get_by_test_id("menu-toggle")).to_have_attribute("aria-expanded", "true")
    expect(phone.get_by_test_id("nav-account")).to_be_visible()
    expect(phone.get_by_test_id("nav-docs")).to_have_attribute("href", "/docs")
    shot(phone, "first-hour-phone-menu")
    phone.keyboard.press("Escape")
    expect(phone.get_by_test_id("nav-account")).to_be_hidden()
    tabs = phone.get_by_test_id("instance-tabs")
    assert tabs.evaluate("t => t.scrollWidth > t.clientWidth")
    wrap = phone.get_by_test_id("instance-tabs-wrap")
    expect(wrap).to_have_class(re.compile(r"\bmore-right\b"))
    assert wrap.evaluate("w => getComputedStyle(w, '::after').opacity") == "1"
    tabs.evaluate("t => t.scrollTo({left: t.scrollWidth})")
    expect(wrap).to_have_class(re.compile(r"\bmore-left\b"))
    expect(wrap).not_to_have_class(re.compile(r"\bmore-right\b"))
    assert phone.evaluate("document.documentElement.scrollWidth") <= 391


# --- item 4 and 6c: a chat opens at its newest message, reads itself, searches; history marks -----------------


def test_chat_opens_at_the_newest_reads_itself_and_searches(
    page: Any, phone: Any, admin_http: httpx.Client, shot: Any
) -> None:
    instance_id = create_instance(admin_http, "Chatty")
    scan(admin_http, instance_id, phone="79005551902")
    r = admin_http.post(f"/api/simulator/instances/{instance_id}/history", json={"chats": 1, "messagesPerChat": 60})
    assert r.status_code == 200, r.text
    history_chat = next(c for c in admin_http.get(f"/api/instances/{instance_id}/chats").json()["chats"])["chatId"]
    for i in range(25):
        incoming(admin_http, instance_id, f"note {i}: the Blue door" if i == 3 else f"note {i}", pushName="Dana")
    login(page)
    open_instance(page, instance_id, "chats")
    item = page.locator(f'[data-testid="chat-item"][data-chat-id="{PEER}@s.whatsapp.net"]')
    expect(item.get_by_test_id("chat-unread")).to_have_text("25")

    item.click()
    expect(page.get_by_test_id("message").last).to_contain_text("note 24")
    wait_bottom(page)
    expect(item.get_by_test_id("chat-unread")).to_have_count(0)  # the open chat shows no unread count
    deadline = time.monotonic() + 5
    while True:  # and reading it marked it read on the server
        chats = admin_http.get(f"/api/instances/{instance_id}/chats").json()["chats"]
        if next(c for c in chats if c["chatId"] == f"{PEER}@s.whatsapp.net")["unreadCount"] == 0:
            break
        assert time.monotonic() < deadline, chats
        time.sleep(0.1)
    # At the bottom, a new message keeps it there, and it counts as read at once.
    incoming(admin_http, instance_id, "a fresh one")
    expect(page.get_by_test_id("message").last).to_contain_text("a fresh one")
    wait_bottom(page)
    expect(item.get_by_test_id("chat-unread")).to_have_count(0)

    # Search: the box in the chat's header, case-insensitive, with the words marked; back to the chat.
    page.get_by_test_id("chat-search").fill("blue DOOR")
    expect(page.get_by_test_id("search-status")).to_have_text("1 message holds “blue DOOR”.")
    found = page.get_by_test_id("search-results").get_by_test_id("message")
    expect(found).to_have_count(1)
    expect(found.locator("mark")).to_have_text("Blue door")
    expect(page.get_by_test_id("messages")).to_be_hidden()
    shot(page, "first-hour-chat-search-desktop")
    found.get_by_test_id("search-show").click()
    expect(page.get_by_test_id("messages")).to_be_visible()
    expect(page.get_by_test_id("chat-search")).to_have_value("")
    page.get_by_test_id("chat-search").fill("nothing like this")
    expect(page.get_by_test_id("search-status")).to_have_text("No message here holds “nothing like this”.")
    page.get_by_test_id("chat-search").press("Escape")
    expect(page.get_by_test_id("messages")).to_be_visible()

    # History: marked "from history"; its media say they were not downloaded, with no broken player.
    page.goto(f"/#/instances/{instance_id}/chats/{history_chat}")
    expect(page.get_by_test_id("message").first).to_be_visible()
    wait_bottom(page)
    expect(
        page.locator('[data-testid="message"][data-history="true"]').first.get_by_test_id("message-history")
    ).to_have_text("from history")
    missing = page.get_by_test_id("media-not-downloaded")
    expect(missing.first).to_contain_text("media not downloaded")
    assert page.locator('[data-history="true"] audio, [data-history="true"] img.media').count() == 0
    no_null(page)
    shot(page, "first-hour-chat-history-desktop")

    login(phone)
    phone.goto(f"/#/instances/{instance_id}/chats/{PEER}")
    expect(phone.get_by_test_id("message").last).to_contain_text("a fresh one")
    wait_bottom(phone)
    shot(phone, "first-hour-chat-phone")


# --- item 6d: media from the composer ---------------------------------------------------------------------


def test_composer_sends_a_photo_with_a_preview_and_a_caption(page: Any, admin_http: httpx.Client, shot: Any) -> None:
    instance_id = create_instance(admin_http, "Media")
    scan(admin_http, instance_id, phone="79005551903")
    login(page)
    page.goto(f"/#/instances/{instance_id}/chats/{PEER}")
    page.get_by_test_id("composer-attach").click()
    page.get_by_test_id("attach-file").set_input_files(
        files=[{"name": "door.png", "mimeType": "image/png", "buffer": png_picture()}]
    )
    expect(page.get_by_test_id("attach-preview-image")).to_be_visible()
    expect(page.get_by_test_id("attach-kind")).to_have_attribute("data-kind", "image")
    values = page.get_by_test_id("attach-as").locator("option").evaluate_all("os => os.map((o) => o.value)")
    assert values == ["auto", "document", "sticker"]  # a voice note is for audio
    page.get_by_test_id("attach-caption").fill("the blue door")
    no_null(page)
    shot(page, "first-hour-attach-desktop")
    page.get_by_test_id("attach-send").click()
    sent = page.locator('[data-testid="message"][data-from-me="true"]').last
    expect(sent.get_by_test_id("message-image")).to_be_visible()
    expect(sent.get_by_test_id("message-text")).to_have_text("the blue door")
    expect(page.get_by_test_id("attach-form")).to_be_hidden()
    entry = admin_http.get(f"/api/simulator/instances/{instance_id}/outbox").json()["messages"][-1]
    assert (entry["type"], entry["caption"], entry["fileName"]) == ("image", "the blue door", "door.png")
    # A sticker goes without a caption: the field says so.
    page.get_by_test_id("composer-attach").click()
    page.get_by_test_id("attach-file").set_input_files(
        files=[{"name": "smile.png", "mimeType": "image/png", "buffer": png_picture()}]
    )
    page.get_by_test_id("attach-as").select_option("sticker")
    expect(page.get_by_test_id("attach-caption")).to_be_disabled()
    page.get_by_test_id("attach-send").click()
    expect(page.locator('[data-testid="message"][data-kind="sticker"]').last).to_be_visible()


# --- item 6a: the simulator panel ---------------------------------------------------------------------------


def test_simulator_panel_runs_a_demo_without_curl(page: Any, phone: Any, admin_http: httpx.Client, shot: Any) -> None:
    instance_id = create_instance(admin_http, "Demo")
    wait_qr(admin_http, instance_id)
    login(page)
    open_instance(page, instance_id)
    page.get_by_test_id("tab-simulator").click()
    expect(page.get_by_test_id("sim-panel")).to_be_visible()
    page.get_by_test_id("sim-scan").click()
    expect(page.get_by_test_id("sim-result-scan")).to_contain_text("Linked")
    expect(page.get_by_test_id("instance-status")).to_have_attribute("data-status", "connected")

    page.get_by_test_id("sim-peer-phone").fill(PEER)
    page.get_by_test_id("sim-incoming-text").fill("Hi, is the shop open?")
    page.get_by_test_id("sim-incoming").click()
    expect(page.get_by_test_id("sim-result-incoming")).to_contain_text("wrote to you")
    last = page.get_by_test_id("sim-last-sent")
    expect(last).to_contain_text("Nothing was sent")
    r = admin_http.post(f"/api/whatsapp/{instance_id}/send", json={"phone": PEER, "message": "Yes, until six"})
    assert r.status_code == 200, r.text
    sent_id = r.json()["id"]
    expect(last).to_have_attribute("data-message-id", sent_id)  # the live message_sent brings it
    page.get_by_test_id("sim-receipt-read").click()
    expect(page.get_by_test_id("sim-result-receipt")).to_contain_text("They read it")
    page.get_by_test_id("sim-typing").click()
    expect(page.get_by_test_id("sim-result-typing")).to_contain_text("is typing")
    page.get_by_test_id("sim-call").click()
    expect(page.get_by_test_id("sim-result-call")).to_contain_text("called")
    page.get_by_test_id("sim-history-chats").fill("2")
    page.get_by_test_id("sim-history-per-chat").fill("5")
    page.get_by_test_id("sim-history").click()
    expect(page.get_by_test_id("sim-result-history")).to_contain_text("10 messages in 2 chats")
    no_null(page)
    shot(page, "first-hour-simulator-desktop")

    page.get_by_test_id("sim-network-off").click()
    expect(page.get_by_test_id("sim-network-state")).to_have_attribute("data-reachable", "false")
    expect(page.get_by_test_id("instance-status")).not_to_have_attribute("data-status", "connected")
    page.get_by_test_id("sim-network-on").click()
    expect(page.get_by_test_id("sim-network-state")).to_have_attribute("data-reachable", "true")
    expect(page.get_by_test_id("instance-status")).to_have_attribute("data-status", "connected")
    page.get_by_test_id("sim-drop").click()
    expect(page.get_by_test_id("sim-result-connection")).to_contain_text("reconnects by itself")
    expect(page.get_by_test_id("instance-status")).to_have_attribute("data-status", "connected")

    # What the panel did is in the chat and the activity, as it would be with a real phone.
    page.get_by_test_id("sim-open-chat").click()
    expect(page.get_by_test_id("message").filter(has_text="Hi, is the shop open?")).to_be_visible()
    read = page.locator(f'[data-testid="message"][data-message-id="{sent_id}"]')
    expect(read).to_have_attribute("data-status", "read")
    page.get_by_test_id("tab-activity").click()
    expect(page.locator('[data-testid="activity-row"][data-action="call_received"]')).to_contain_text(
        f"Call from +{PEER}"
    )

    login(phone)
    phone.goto(f"/#/instances/{instance_id}/simulator")
    expect(phone.get_by_test_id("sim-panel")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 391
    shot(phone, "first-hour-simulator-phone")


def test_no_simulator_panel_on_a_server_without_the_simulator(page: Any, admin_http: httpx.Client) -> None:
    """As a server with the real transport answers: its simulator routes are 404 (and /api/meta may say so)."""
    instance_id = create_instance(admin_http, "Real network")
    gone = {"error": "route not found", "code": "not_found"}
    served = {**admin_http.get("/api/meta").json(), "transport": "whatsapp"}
    page.route(re.compile(r".*/api/simulator/.*"), lambda route: route.fulfill(status=404, json=gone))
    page.route(re.compile(r".*/api/meta$"), lambda route: route.fulfill(json=served))
    login(page)
    open_instance(page, instance_id)
    expect(page.get_by_test_id("tab-stats")).to_be_visible()
    expect(page.get_by_test_id("tab-simulator")).to_be_hidden()
    page.goto(f"/#/instances/{instance_id}/simulator")
    expect(page.get_by_test_id("sim-unavailable")).to_be_visible()
    expect(page.get_by_test_id("sim-panel")).to_be_hidden()


# --- items 4 and 5: owners, toasts, activity in words, the docs link, words for people ---------------------------


def test_owner_column_toasts_activity_words_docs_and_messages_for_people(
    page: Any, admin_http: httpx.Client, web: ServerProcess, shot: Any
) -> None:
    mine = create_instance(admin_http, "The admin's")
    scan(admin_http, mine, phone="79005551904")
    email = f"owner-{time.time_ns()}@example.com"
    assert admin_http.post("/api/users", json={"email": email, "password": "password-123"}).status_code == 201
    token = httpx.post(f"{web.url}/api/auth/login", json={"email": email, "password": "password-123"}).json()["token"]
    r = httpx.post(f"{web.url}/api/instances", json={"name": "A user's"}, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201, r.text
    theirs = r.json()["id"]

    login(page)
    card = page.locator(f'[data-testid="instance-card"][data-instance-id="{theirs}"]')
    expect(card.get_by_test_id("instance-owner")).to_contain_text(email)
    own = page.locator(f'[data-testid="instance-card"][data-instance-id="{mine}"]')
    expect(own.get_by_test_id("instance-owner")).to_contain_text("you")
    shot(page, "first-hour-owners-desktop")

    # A toast stays on the page it was said on.
    open_instance(page, mine, "groups")
    page.get_by_test_id("groups-refresh").click()
    expect(page.get_by_test_id("toast")).to_have_text("Groups read again from WhatsApp")
    page.get_by_test_id("tab-activity").click()
    expect(page.get_by_test_id("toast")).to_have_count(0)

    # Activity: a line in words per action, the raw fields behind "details".
    row = page.locator('[data-testid="activity-row"][data-action="connected"]')
    expect(row.get_by_test_id("activity-words")).to_have_text("Connected to WhatsApp as +79005551904 (Me)")
    expect(row.get_by_test_id("activity-action")).to_have_text("Connected")
    expect(row.get_by_test_id("activity-raw")).to_be_hidden()
    row.get_by_test_id("activity-details").locator("summary").click()
    expect(row.get_by_test_id("activity-raw")).to_contain_text('"jid": "79005551904@s.whatsapp.net"')
    created = page.locator('[data-testid="activity-row"][data-action="created"]')
    expect(created.get_by_test_id("activity-words")).to_have_text("Instance “The admin's” created")
    shot(page, "first-hour-activity-desktop")

    # The API reference is one click away, and served.
    expect(page.get_by_test_id("nav-docs")).to_have_attribute("href", "/docs")
    assert httpx.get(f"{web.url}/docs").status_code == 200

    # A server message written for API clients names the button instead of the route.
    said = "no QR code: the instance is failed; POST /api/instances/x/reconnect to get one"
    page.route(
        re.compile(r".*/reconnect$"),
        lambda route: route.fulfill(status=409, json={"error": said, "code": "conflict"}),
    )
    open_instance(page, mine)
    page.get_by_test_id("reconnect-button").click()
    error = page.get_by_test_id("connection-error")
    expect(error).to_have_text(
        "no QR code: the instance is failed; use the Reconnect button on the Connection tab to get one"
    )


def test_no_api_route_or_method_in_what_the_web_manager_says() -> None:
    """Item 5: the strings people read never name an HTTP method or an API path; a string that *is* a path
    (what a call goes to) starts with it."""
    literal = re.compile(r"""(["'`])((?:(?!\1)[^\\]|\\.)*)\1""")
    offending: list[str] = []
    for path in sorted(PUBLIC_JS.rglob("*.js")):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if line.lstrip().startswith(("//", "*", "/*")):
                continue
            for match in literal.finditer(line.split(" // ", 1)[0]):
                text = match.group(2)
                names_route = re.search(r"\b(?:GET|POST|PUT|PATCH|DELETE) /", text)
                if names_route or ("/api/" in text and not text.startswith("/api/")):
                    offending.append(f"{path.relative_to(PUBLIC_JS)}:{n}: {match.group(0)}")
    assert not offending, "\n".join(offending)
