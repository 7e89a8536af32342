"""The web manager while the server catches up after a restart, in a real browser against a real server.

The server of this module restarts on a filled log with an empty read-model store (as
`tests/api/test_catching_up.py` builds it, with a smaller log): it serves at once and rebuilds its read
models in the background. The manager must say so in a banner under the top bar, in words for people, with
how far it got; a list still being rebuilt says when to try again; a health call that fails keeps the banner,
saying the server does not answer; once the server is up to date the banner goes and a toast says so, and a
fresh load asks the health once, never again. Screenshots: `catching-up.png`, `catching-up-phone.png` (390 px,
dark).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import trio

from tests.browser.conftest import login
from tests.harness import JWT_SECRET, SECRET_KEY, ServerProcess
from tests.log_fill import CHAT_JID, fill_messages

pytestmark = pytest.mark.browser
expect = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is not installed (pip install playwright)"
).expect

EVENTS = 35_000  # about 2 s to fill here, and some 10 s to catch up: long enough to see, short enough to wait for


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory, chromium: Any) -> Iterator[ServerProcess]:
    """A server restarted on a log of EVENTS messages with an empty read-model store: it starts catching up."""
    data = tmp_path_factory.mktemp("web-catching-up")
    first = ServerProcess(data).start()
    try:
        r = httpx.post(
            first.url + "/api/instances",
            json={"name": "Big history"},
            headers={"Authorization": f"Bearer {first.admin_token()}"},
        )
        assert r.status_code == 201, r.text
        instance_id = str(r.json()["id"])
    finally:
        first.stop()
    env = {"JWT_SECRET": JWT_SECRET, "WAMUX_SECRET_KEY": SECRET_KEY, "WHATSAPP_TRANSPORT": "simulator"}
    with ThreadPoolExecutor(1) as pool:  # its own thread: the browser's event loop runs in this one
        pool.submit(lambda: trio.run(fill_messages, data, env, {instance_id: EVENTS})).result()
    for path in data.glob("*.readmodels.db*"):  # an empty read-model store: every read model starts at 0
        path.unlink()
    proc = ServerProcess(data).start(timeout=60)
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def big_instance(web: ServerProcess) -> str:
    """The one instance, whose stream holds the filled messages."""
    r = httpx.get(web.url + "/api/instances", headers={"Authorization": f"Bearer {web.admin_token()}"})
    assert r.status_code == 200, r.text
    [instance] = r.json()["instances"]
    return str(instance["id"])


def health(web: ServerProcess) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(web.url + "/api/health").json()
    return body


def progress(state: dict[str, Any]) -> float:
    done = state["position"] + state["lag"]
    return float(state["position"] / done) if done else 1.0


def test_the_banner_says_the_server_catches_up_then_goes(
    chromium: Any, page: Any, web: ServerProcess, big_instance: str, shot: Any
) -> None:
    assert health(web)["status"] == "catching_up"
    started = time.monotonic()
    login(page)

    banner = page.get_by_test_id("catching-up")
    expect(banner).to_be_visible()
    expect(banner).to_have_attribute("role", "status")
    expect(banner).to_contain_text("The server restarted and is still rebuilding its lists from its history")
    expect(banner).to_contain_text(re.compile(r"messages and chats[^()]*\b\d{1,2} %"))
    expect(banner).to_contain_text("Sending works; some lists will ask you to try again in a moment.")
    text = banner.inner_text()
    assert "catching_up" not in text and "/api/" not in text and "read model" not in text, text  # words, not API text
    shot(page, "catching-up")

    # On a phone, in dark mode, before signing in: the banner is there too, and fits the screen.
    phone = chromium.new_context(viewport={"width": 390, "height": 844}, base_url=web.url, color_scheme="dark")
    try:
        small = phone.new_page()
        small.goto("/")
        expect(small.get_by_test_id("catching-up")).to_contain_text("still rebuilding its lists")
        assert small.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
        shot(small, "catching-up-phone")
    finally:
        phone.close()

    # A list still being rebuilt says so in words, with how far and when to try again (the 503 catching_up).
    messages = health(web)["readModels"]["messages"]
    page.goto(f"/#/instances/{big_instance}/chats/{CHAT_JID.split('@')[0]}")
    if messages["catchingUp"] and progress(messages) < 0.6:  # far enough from the end to outlast the read's 2 s wait
        rebuilding = re.compile(r"^Still rebuilding this list after a restart \(\d{1,2} %\)\. Try again in \d+ s\.$")
        expect(page.get_by_test_id("chats-error")).to_have_text(rebuilding, timeout=15_000)

    # A health call that fails keeps the banner, which then says the server does not answer (the browser
    # refuses the calls here, as a dropped network would; the server may have caught up meanwhile).
    page.route("**/api/health", lambda route: route.abort("connectionrefused"))
    expect(banner).to_have_attribute("data-state", "unreachable", timeout=10_000)
    expect(banner).to_contain_text("The server does not answer.")
    page.unroute("**/api/health")

    # The banner follows the server's progress, then goes when the server is up to date, with a toast.
    expect(banner).to_be_hidden(timeout=60_000)
    expect(page.get_by_test_id("toast")).to_have_text("The server is up to date")
    assert health(web)["status"] == "ok"
    assert time.monotonic() - started > 2, "the catch-up ended before the banner could be seen: make EVENTS bigger"

    # Up to date at boot: no banner, and /api/health is asked once, never polled.
    asked: list[str] = []
    page.on("request", lambda req: asked.append(req.url) if req.url.endswith("/api/health") else None)
    page.reload()
    expect(page.get_by_test_id("chats-error")).to_be_hidden()
    page.wait_for_timeout(3_500)  # longer than the banner's polling interval
    assert len(asked) == 1, asked
    expect(banner).to_have_count(0)
