"""The Webhooks tab with several targets (API-2 §7), in a real browser against a real server (simulator transport).

The targets are real receivers on loopback (the admin owns the instances, so private addresses are allowed): what
the page sets up must reach the server in the contract's shape, and what the receivers get must follow it (a test
event, only the chosen events, nothing while paused, the same ids again on "send again"). Screenshots:
`webhook-targets.png` (desktop), `webhook-targets-phone.png` (390 px), `webhook-targets-retrying.png`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.browser.conftest import login, require_route
from tests.browser.test_chat_kinds import incoming
from tests.browser.test_web_manager import create_instance, open_instance, scan
from tests.receiver import Received, Receiver

pytestmark = pytest.mark.browser
expect = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is not installed (pip install playwright)"
).expect

PEER = "79005550321"


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with Receiver() as rx:
        yield rx


def wait_until(found: Callable[[], list[Received]], count: int = 1, timeout: float = 15.0) -> list[Received]:
    """What `found` returns once it holds at least `count` requests; fails at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        got = found()
        if len(got) >= count:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"expected {count} request(s) in {timeout}s, got {len(got)}")
        time.sleep(0.05)


def events_at(receiver: Receiver, path: str, event: str) -> list[Received]:
    return [r for r in receiver.at(path, ok_only=True) if r.headers.get("x-webhook-event") == event]


def targets(admin_http: httpx.Client, instance_id: str) -> list[dict[str, Any]]:
    r = admin_http.get(f"/api/instances/{instance_id}/webhooks")
    assert r.status_code == 200, r.text
    return list(r.json()["webhooks"])


def target(page: Any, webhook_id: str) -> Any:
    return page.locator(f'[data-testid="webhook-target"][data-webhook-id="{webhook_id}"]')


def quiet(page: Any) -> None:
    """Take the toasts away before a screenshot (they would cover the page)."""
    page.evaluate("document.getElementById('toasts').replaceChildren()")


def no_horizontal_overflow(page: Any) -> None:
    widths = page.evaluate(
        "() => ({doc: document.documentElement.scrollWidth, view: window.innerWidth,"
        " tab: document.querySelector('[data-testid=tab-body]').scrollWidth,"
        " tabBox: document.querySelector('[data-testid=tab-body]').clientWidth})"
    )
    assert widths["doc"] <= widths["view"], widths
    assert widths["tab"] <= widths["tabBox"], widths


def test_add_a_target_test_it_pause_it_send_again_and_see_its_deliveries(
    page: Any, admin_http: httpx.Client, receiver: Receiver, shot: Any
) -> None:
    instance_id = create_instance(
        admin_http, "Targets", webhookUrl=receiver.on("/default"), webhookEnabled=True, maxRetries=0
    )
    require_route(admin_http, "GET", f"/api/instances/{instance_id}/webhooks")
    scan(admin_http, instance_id)
    login(page)
    open_instance(page, instance_id, "webhooks")

    # The default target comes first: the instance's own webhook, in words.
    default = target(page, "default")
    expect(page.get_by_test_id("webhook-target").first).to_have_attribute("data-webhook-id", "default")
    expect(default.get_by_test_id("webhook-url")).to_have_text(receiver.url + "/default")
    expect(default.get_by_test_id("webhook-events")).to_contain_text("Messages received, messages sent")
    expect(default.get_by_test_id("webhook-state")).to_have_attribute("data-state", "ok")
    expect(default.get_by_test_id("webhook-state-label")).to_have_text("Delivering normally")

    # Add a second target with two events, a header and its retries (seconds in the page, ms in the API).
    page.get_by_test_id("webhook-add").click()
    form = page.get_by_test_id("webhook-form")
    expect(form.get_by_test_id("webhook-event-group").locator("legend")).to_have_text(
        ["Messages", "Receipts and statuses", "Groups", "Calls", "Connection", "Other"]
    )
    form.get_by_test_id("webhook-form-url").fill(receiver.on("/second"))
    form.get_by_test_id("webhook-event-all").uncheck()
    form.locator('[data-testid="webhook-event"][data-event="message_received"]').check()
    form.locator('[data-testid="webhook-event"][data-event="message_sent"]').check()
    form.get_by_test_id("webhook-header-add").click()
    form.get_by_test_id("webhook-header-name").fill("Host")  # refused by the server: shown next to the headers
    form.get_by_test_id("webhook-header-value").fill("example.com")
    form.get_by_test_id("webhook-form-secret").fill("s3cret-for-second")
    form.get_by_test_id("webhook-form-retries").fill("2")
    form.get_by_test_id("webhook-form-interval").fill("1.5")
    form.get_by_test_id("webhook-form-save").click()
    expect(form.locator('[data-testid="webhook-field-error"][data-field="headers"]')).to_be_visible()
    assert len(targets(admin_http, instance_id)) == 1
    form.get_by_test_id("webhook-header-name").fill("X-Team")
    form.get_by_test_id("webhook-header-value").fill("ops")
    form.get_by_test_id("webhook-form-save").click()
    expect(page.get_by_test_id("webhook-editor")).to_be_hidden()

    listed = targets(admin_http, instance_id)
    assert [t["id"] for t in listed][0] == "default" and len(listed) == 2
    created = listed[1]
    assert created["url"] == receiver.url + "/second"
    assert created["events"] == ["message_received", "message_sent"]
    assert created["headers"] == {"X-Team": "ops"}
    assert created["secret"] == "***"
    assert created["maxRetries"] == 2 and created["retryInterval"] == 1500
    wid = str(created["id"])
    second = target(page, wid)
    expect(second.get_by_test_id("webhook-events")).to_have_text("Messages received, Messages sent")
    expect(second.get_by_test_id("webhook-enabled")).to_be_checked()

    # The edit form never shows the secret: only that one is set.
    second.get_by_test_id("webhook-edit-target").click()
    expect(form.get_by_test_id("webhook-secret-set")).to_be_visible()
    expect(form.get_by_test_id("webhook-form-secret")).to_have_value("")
    assert "s3cret-for-second" not in page.content()
    form.get_by_test_id("webhook-form-cancel").click()

    # A test event to this target only: the receiver's status code and the latency show.
    second.get_by_test_id("webhook-test").click()
    ok = second.get_by_test_id("webhook-test-ok")
    expect(ok.get_by_test_id("webhook-test-code")).to_have_text("HTTP 200")
    expect(ok.get_by_test_id("webhook-test-latency")).to_have_text(re.compile(r"^\d+ ms$"))
    assert wait_until(lambda: events_at(receiver, "/second", "test"))
    assert not events_at(receiver, "/default", "test")

    # A message reaches both; the second target gets only its two events.
    incoming(admin_http, instance_id, **{"from": PEER, "body": "hello targets"})
    first = wait_until(lambda: events_at(receiver, "/second", "message_received"))[0]
    wait_until(lambda: events_at(receiver, "/default", "message_received"))
    assert first.headers["x-team"] == "ops"
    assert {r.headers.get("x-webhook-event") for r in receiver.at("/second")} <= {
        "test",
        "message_received",
        "message_sent",
    }

    # Its deliveries, filtered by target: newest first, delivered rows have no error.
    second.get_by_test_id("webhook-show-deliveries").click()
    expect(page.get_by_test_id("deliveries-target-filter")).to_have_value(wid)
    expect(page.locator(f'[data-testid="delivery-row"]:not([data-webhook-id="{wid}"])')).to_have_count(0)
    row = page.locator('[data-testid="delivery-row"][data-event="message_received"]').first
    expect(row).to_have_attribute("data-status", "delivered")
    expect(row.get_by_test_id("delivery-error")).to_have_text("")
    expect(row.get_by_test_id("delivery-answer")).to_contain_text("HTTP 200")
    page.get_by_test_id("deliveries-filter").select_option("delivered")
    expect(page.locator('[data-testid="delivery-row"]:not([data-status="delivered"])')).to_have_count(0)
    page.get_by_test_id("deliveries-filter").select_option("")
    quiet(page)
    shot(page, "webhook-targets")

    # Pause it: nothing more goes there, the default target still gets everything.
    second.get_by_test_id("webhook-enabled").uncheck()
    expect(second).to_have_attribute("data-enabled", "false")
    expect(second.get_by_test_id("webhook-state-label")).to_have_text("Paused")
    assert next(t for t in targets(admin_http, instance_id) if t["id"] == wid)["enabled"] is False
    incoming(admin_http, instance_id, **{"from": PEER, "body": "while paused"})
    wait_until(lambda: events_at(receiver, "/default", "message_received"), count=2)
    time.sleep(0.5)
    assert len(events_at(receiver, "/second", "message_received")) == 1

    # On again, then send again everything since ten minutes ago: the same events, with their original ids.
    second.get_by_test_id("webhook-enabled").check()
    expect(second).to_have_attribute("data-enabled", "true")
    expect(second.get_by_test_id("webhook-state")).to_have_attribute("data-state", "ok")
    second.get_by_test_id("webhook-replay").click()
    since = (datetime.now() - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M")
    page.get_by_test_id("webhook-replay-since").fill(since)
    page.get_by_test_id("webhook-replay-submit").click()
    result = page.get_by_test_id("webhook-replay-result")
    expect(result).to_contain_text("events queued")
    assert int(result.get_attribute("data-queued") or 0) >= 2
    again = wait_until(lambda: events_at(receiver, "/second", "message_received"), count=3)
    ids = [r.headers["x-webhook-id"] for r in again]
    assert ids[0] in ids[1:], ids  # the first message came again with its id
    bodies = [r.json["data"].get("body") for r in again]
    assert "while paused" in bodies  # and the one missed while paused
    page.get_by_test_id("webhook-replay-cancel").click()

    # A phone: everything fits, nothing scrolls sideways.
    page.set_viewport_size({"width": 390, "height": 844})
    expect(second.get_by_test_id("webhook-test")).to_be_visible()
    no_horizontal_overflow(page)
    quiet(page)
    shot(page, "webhook-targets-phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    # Delete, after a confirmation that says its history is kept; its deliveries stay listed.
    second.get_by_test_id("webhook-delete").click()
    expect(page.get_by_test_id("confirm-text")).to_contain_text("history is kept")
    page.get_by_test_id("confirm-ok").click()
    expect(target(page, wid)).to_have_count(0)
    assert [t["id"] for t in targets(admin_http, instance_id)] == ["default"]
    expect(page.get_by_test_id("deliveries-target-filter")).to_have_value(wid)
    expect(page.get_by_test_id("delivery-row").first).to_be_visible()


def test_a_failing_target_shows_retrying_and_failed_deliveries_can_be_sent_again(
    page: Any, admin_http: httpx.Client, receiver: Receiver, shot: Any
) -> None:
    instance_id = create_instance(admin_http, "Failing targets")
    require_route(admin_http, "GET", f"/api/instances/{instance_id}/webhooks")
    base = f"/api/instances/{instance_id}/webhooks"
    # One that answers 500 and is tried again in a minute; one nobody listens on, never retried.
    flaky = admin_http.post(
        base, json={"url": receiver.on("/flaky", status=500), "events": ["*"], "maxRetries": 5, "retryInterval": 60000}
    )
    assert flaky.status_code == 201, flaky.text
    dead = admin_http.post(
        base, json={"url": "http://127.0.0.1:9/dead", "events": ["connected"], "maxRetries": 0, "retryInterval": 0}
    )
    assert dead.status_code == 201, dead.text
    flaky_id, dead_id = str(flaky.json()["id"]), str(dead.json()["id"])
    scan(admin_http, instance_id)  # `connected` goes to both
    wait_until(lambda: receiver.at("/flaky"))

    login(page)
    open_instance(page, instance_id, "webhooks")
    flaky_row = target(page, flaky_id)
    expect(flaky_row.get_by_test_id("webhook-state")).to_have_attribute("data-state", "retrying", timeout=15_000)
    expect(flaky_row.get_by_test_id("webhook-state-detail")).to_contain_text("next try at")
    expect(flaky_row.get_by_test_id("webhook-state-detail")).to_contain_text("last error")
    expect(flaky_row.get_by_test_id("webhook-backlog")).to_contain_text("waiting to be sent")

    # The test event says what the receiver answered.
    flaky_row.get_by_test_id("webhook-test").click()
    failed_test = flaky_row.get_by_test_id("webhook-test-failed")
    expect(failed_test).to_have_attribute("data-status-code", "500")
    expect(failed_test.get_by_test_id("webhook-test-code")).to_have_text("HTTP 500")

    dead_row = target(page, dead_id)
    expect(dead_row.get_by_test_id("webhook-backlog")).to_have_attribute("data-failed", "1", timeout=15_000)
    dead_row.get_by_test_id("webhook-show-deliveries").click()
    failed = page.locator('[data-testid="delivery-row"][data-status="failed"]').first
    expect(failed).to_be_visible()
    expect(failed.get_by_test_id("delivery-error")).not_to_have_text("")
    expect(failed.get_by_test_id("delivery-retry")).to_be_visible()
    quiet(page)
    shot(page, "webhook-targets-retrying")
    page.get_by_test_id("deliveries-retry-failed").click()
    expect(page.get_by_test_id("toast").filter(has_text="sent again")).to_be_visible()
