"""The Connection tab when WhatsApp cannot be reached, in a real browser against a real server.

The simulator's network switch refuses every connect as a machine without network would; this module's
server backs off from 3 s, so the countdown is readable. The page must explain it in words for people
("Cannot reach WhatsApp: connection refused. Retrying in 6 s."), count down, and try again on "Try now".
Screenshots: `connection-problem.png` (desktop), `connection-problem-phone.png` (390 px).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.browser.conftest import login
from tests.browser.test_web_manager import create_instance, open_instance, scan
from tests.harness import ServerProcess

pytestmark = pytest.mark.browser
expect = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is not installed (pip install playwright)"
).expect

REFUSED = "Cannot reach WhatsApp: connection refused."


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory, chromium: Any) -> Iterator[ServerProcess]:
    """A server whose reconnects back off from 3 s (the default fixture's 50 ms would make no countdown)."""
    proc = ServerProcess(tmp_path_factory.mktemp("web-offline"), RECONNECT_BACKOFF_MS="3000").start()
    yield proc
    proc.stop()


def network(admin_http: httpx.Client, instance_id: str, reachable: bool) -> None:
    r = admin_http.post(f"/api/simulator/instances/{instance_id}/network", json={"reachable": reachable})
    assert r.status_code == 200, r.text


def seconds_left(page: Any) -> int:
    text = page.get_by_test_id("retry-countdown").inner_text()
    found = re.fullmatch(r"Retrying in (\d+) s\.", text)
    return int(found.group(1)) if found else 0


def test_no_network_is_explained_with_a_countdown_and_try_now(page: Any, admin_http: httpx.Client, shot: Any) -> None:
    instance_id = create_instance(admin_http, "Offline office")
    scan(admin_http, instance_id, phone="79005550111")
    login(page)
    open_instance(page, instance_id)
    expect(page.get_by_test_id("connected-message")).to_be_visible()

    network(admin_http, instance_id, False)
    problem = page.get_by_test_id("connection-problem")
    expect(problem).to_be_visible()
    # After the drop, the first reconnect is refused: the page names the cause and when it tries again.
    expect(page.get_by_test_id("problem-text")).to_contain_text(REFUSED, timeout=15_000)
    expect(page.get_by_test_id("retry-countdown")).to_have_text(re.compile(r"Retrying in \d+ s\.|Retrying now…"))
    expect(page.get_by_test_id("instance-status")).to_have_attribute("data-status", "disconnected")
    expect(page.get_by_test_id("problem-more")).to_have_text(re.compile(r"\d+ failed attempts? so far\."))
    expect(page.get_by_test_id("pair-problem")).to_contain_text(REFUSED)
    text = problem.inner_text()
    assert "/api/" not in text and "POST" not in text and "connect_failed" not in text, text  # words, not API text

    # It counts down (the page keeps time itself between two answers of the server).
    expect(page.get_by_test_id("retry-countdown")).to_have_text(re.compile(r"Retrying in [3-9] s\."), timeout=15_000)
    before = seconds_left(page)
    time.sleep(1.3)
    assert seconds_left(page) < before
    page.evaluate("document.getElementById('toasts').replaceChildren()")
    shot(page, "connection-problem")

    # Try now while the network is still away: the attempt is refused again, and the page says so.
    attempts_before = int(re.match(r"\d+", page.get_by_test_id("problem-more").inner_text()).group(0))
    page.get_by_test_id("retry-now").click()
    expect(page.get_by_test_id("toast-error")).to_have_text("Could not connect to WhatsApp")
    expect(page.get_by_test_id("problem-more")).not_to_have_text(f"{attempts_before} failed attempts so far.")
    expect(page.get_by_test_id("problem-text")).to_contain_text(REFUSED)

    page.set_viewport_size({"width": 390, "height": 844})
    expect(page.get_by_test_id("retry-now")).to_be_visible()
    page.evaluate("document.getElementById('toasts').replaceChildren()")
    shot(page, "connection-problem-phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    # The network is back: "Try now" connects at once, and the explanation goes away.
    network(admin_http, instance_id, True)
    page.get_by_test_id("retry-now").click()
    expect(page.get_by_test_id("instance-status")).to_have_attribute("data-status", "connected")
    expect(page.get_by_test_id("connected-message")).to_be_visible()
    expect(page.get_by_test_id("connection-problem")).to_have_count(0)
    expect(page.get_by_test_id("pair-problem")).to_be_hidden()
    status = admin_http.get(f"/api/instances/{instance_id}/status").json()
    assert (status["lastError"], status["attempts"]) == (None, 0)


def test_a_qr_code_that_cannot_come_says_why(page: Any, admin_http: httpx.Client) -> None:
    instance_id = create_instance(admin_http, "Offline before the scan")
    login(page)
    open_instance(page, instance_id)
    expect(page.get_by_test_id("qr-image")).to_be_visible()
    network(admin_http, instance_id, False)  # the QR code's wait ends with the network
    expect(page.get_by_test_id("qr-image")).to_have_count(0)
    expect(page.get_by_test_id("problem-text")).to_contain_text(REFUSED, timeout=15_000)
    expect(page.get_by_test_id("retry-now")).to_be_visible()
    network(admin_http, instance_id, True)
    page.get_by_test_id("retry-now").click()
    expect(page.get_by_test_id("toast")).to_have_text("Waiting for a QR scan")
    expect(page.get_by_test_id("qr-image")).to_be_visible()
