"""Groups, profiles and calls in the web manager, in a real browser against a real server (simulator transport).

The simulated network is staged with the simulator routes of API-2 §9 (its directory of numbers, the groups the
account is in, calls); what the page does must reach that network (its outbox: `group_op`, `call_reject`) and
what the network answers must show in words. Screenshots: `groups-tab.png` (a group open), `contact-profile.png`
(a contact's profile panel), `profile-privacy.png` (own profile and privacy), `instance-proxy.png` (the settings
form with a proxy saved, its password masked).
"""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest

from tests.browser.conftest import login
from tests.browser.media_samples import png_picture
from tests.browser.test_chat_kinds import incoming, outbox, wait_outbox
from tests.browser.test_web_manager import create_instance, open_instance, scan

pytestmark = pytest.mark.browser
expect = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is not installed (pip install playwright)"
).expect

ME = "79001112233"
NINA, OLEG, PAVEL, RITA = "79005550101", "79005550102", "79005550103", "79005550104"
NOBODY = "79005550999"  # not on WhatsApp
PEOPLE = {
    NINA: ("Nina Example", "Reading, always", "210000000000101@lid"),
    OLEG: ("Oleg", None, "210000000000102@lid"),
    PAVEL: ("Pavel", None, None),
    RITA: ("Rita", "At the gym", None),
}
BOOK_CLUB = "120363000000000101@g.us"
NEIGHBOURS = "120363000000000202@g.us"


def jid(phone: str) -> str:
    return f"{phone}@s.whatsapp.net"


def connected_instance(admin_http: httpx.Client, name: str) -> str:
    """A connected instance whose network knows PEOPLE (and not NOBODY)."""
    instance_id = create_instance(admin_http, name)
    scan(admin_http, instance_id, phone=ME)
    numbers = [
        {"phone": phone, "exists": True, "name": n, **({"about": a} if a else {}), **({"lid": lid} if lid else {})}
        for phone, (n, a, lid) in PEOPLE.items()
    ]
    numbers[-1]["isBusiness"] = True  # Rita's gym
    r = admin_http.put(f"/api/simulator/instances/{instance_id}/directory", json={"numbers": numbers})
    assert r.status_code == 200, r.text
    return instance_id


def stage_groups(admin_http: httpx.Client, instance_id: str) -> None:
    """Book club (we are an admin) and Neighbours (we are a plain member; Nina is its admin)."""
    groups = [
        {
            "id": BOOK_CLUB,
            "subject": "Book club",
            "participants": [
                {"phone": ME, "isAdmin": True},
                {"phone": NINA, "isAdmin": False},
                {"phone": OLEG, "isAdmin": True},
            ],
        },
        {
            "id": NEIGHBOURS,
            "subject": "Neighbours",
            "participants": [{"phone": ME, "isAdmin": False}, {"phone": NINA, "isAdmin": True}],
        },
    ]
    r = admin_http.put(f"/api/simulator/instances/{instance_id}/groups", json={"groups": groups})
    assert r.status_code == 200, r.text


def group_ops(admin_http: httpx.Client, instance_id: str, op: str) -> list[dict[str, Any]]:
    return [e for e in outbox(admin_http, instance_id) if e["type"] == "group_op" and e.get("op") == op]


def participants_op(admin_http: httpx.Client, instance_id: str, action: str) -> dict[str, Any]:
    """The first `participants` operation of `action` the network carried out."""
    return wait_outbox(
        admin_http,
        instance_id,
        lambda e: e["type"] == "group_op" and e.get("op") == "participants" and e["action"] == action,
    )


def group_url(group_id: str) -> re.Pattern[str]:
    """The address of a group's panel (the id is URL-encoded there: `@` as `%40`)."""
    digits = re.escape(group_id.removesuffix("@g.us"))
    return re.compile(f"/groups/{digits}(@|%40)g\\.us$")


def confirm(page: Any, text: str) -> None:
    expect(page.get_by_test_id("confirm-text")).to_contain_text(text)
    page.get_by_test_id("confirm-ok").click()


def group_item(page: Any, group_id: str) -> Any:
    return page.locator(f'[data-testid="group-item"][data-group-id="{group_id}"]')


def member(page: Any, phone: str) -> Any:
    return page.locator(f'[data-testid="member-row"][data-phone="{phone}"]')


def open_groups(page: Any, instance_id: str, group_id: str | None = None) -> None:
    open_instance(page, instance_id, "groups" + (f"/{group_id}" if group_id else ""))
    expect(page.get_by_test_id("groups-list-box")).not_to_contain_text("Loading")


# --- groups --------------------------------------------------------------------------------------------------


def test_groups_list_refresh_create_add_and_promote(page: Any, admin_http: httpx.Client, shot: Any) -> None:
    instance_id = connected_instance(admin_http, "Groups")
    login(page)
    open_groups(page, instance_id)
    stage_groups(admin_http, instance_id)  # after connect: only Refresh reads them from WhatsApp

    page.get_by_test_id("groups-refresh").click()
    book = group_item(page, BOOK_CLUB)
    expect(book).to_contain_text("Book club")
    expect(book.get_by_test_id("group-item-count")).to_have_text("3 members")
    expect(group_item(page, NEIGHBOURS).get_by_test_id("group-item-count")).to_have_text("2 members")

    # New group: subject and phones; the page opens it, we are its owner.
    page.get_by_test_id("new-group").locator("summary").click()
    page.get_by_test_id("new-group-subject").fill("Launch team")
    page.get_by_test_id("new-group-phones").fill(f"{NINA}, {OLEG}")
    page.get_by_test_id("new-group-submit").click()
    expect(page.get_by_test_id("group-subject")).to_have_text("Launch team")
    created = wait_outbox(admin_http, instance_id, lambda e: e["type"] == "group_op" and e.get("op") == "create")
    assert created["subject"] == "Launch team"
    assert sorted(created["participants"]) == [jid(NINA), jid(OLEG)]
    group_id = str(created["to"])
    expect(page).to_have_url(group_url(group_id))
    expect(page.get_by_test_id("members-count")).to_have_text("3 members")
    mine = member(page, ME)
    expect(mine.get_by_test_id("member-you")).to_have_text("You")
    expect(mine.get_by_test_id("member-role")).to_have_text("Owner")
    expect(group_item(page, group_id)).to_contain_text("Launch team")

    # Add one number on WhatsApp and one that is not: WhatsApp answers for each.
    page.get_by_test_id("add-members-phones").fill(f"{PAVEL}\n{NOBODY}")
    page.get_by_test_id("add-members-submit").click()
    result = page.get_by_test_id("participants-result")
    expect(result.locator(f'[data-jid="{jid(PAVEL)}"] [data-testid="participant-result-words"]')).to_have_text("done")
    expect(result.locator(f'[data-jid="{jid(NOBODY)}"] [data-testid="participant-result-words"]')).to_have_text(
        "not on WhatsApp"
    )
    expect(member(page, PAVEL)).to_be_visible()
    expect(page.get_by_test_id("members-count")).to_have_text("4 members")
    added = participants_op(admin_http, instance_id, "add")
    assert added["to"] == group_id and added["participants"] == [jid(PAVEL), jid(NOBODY)]

    # Make Nina an admin: her badge turns Admin, and the network was asked.
    expect(member(page, NINA).get_by_test_id("member-role")).to_have_count(0)
    member(page, NINA).get_by_test_id("member-promote").click()
    expect(page.get_by_test_id("participants-result")).to_contain_text("Made admin")
    expect(member(page, NINA).get_by_test_id("member-role")).to_have_text("Admin")
    expect(member(page, NINA)).to_have_attribute("data-admin", "true")
    promoted = participants_op(admin_http, instance_id, "promote")
    assert promoted["participants"] == [jid(NINA)]
    assert promoted["results"] == [{"jid": jid(NINA), "status": "ok"}]

    # ... and remove admin again, then remove Oleg (with a confirmation).
    member(page, NINA).get_by_test_id("member-demote").click()
    expect(member(page, NINA).get_by_test_id("member-role")).to_have_count(0)
    member(page, OLEG).get_by_test_id("member-remove").click()
    confirm(page, "Remove +79005550102")
    expect(member(page, OLEG)).to_have_count(0)
    expect(page.get_by_test_id("members-count")).to_have_text("3 members")

    page.evaluate("document.getElementById('toasts').replaceChildren()")  # a clean picture
    shot(page, "groups-tab")


def test_group_settings_invite_copy_reset_leave_and_join(page: Any, context: Any, admin_http: httpx.Client) -> None:
    instance_id = connected_instance(admin_http, "Group settings")
    r = admin_http.post(f"/api/whatsapp/{instance_id}/groups", json={"subject": "Launch team", "participants": [NINA]})
    assert r.status_code == 201, r.text
    group_id = r.json()["id"]
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    login(page)
    open_groups(page, instance_id, group_id)
    expect(page.get_by_test_id("group-subject")).to_have_text("Launch team")

    # Subject and "only admins can send": saved on WhatsApp, marked in the list.
    page.get_by_test_id("group-settings").locator("summary").click()
    page.get_by_test_id("group-subject-input").fill("Launch crew")
    page.get_by_test_id("group-description-input").fill("Everything about the launch")
    page.get_by_test_id("group-announce").check()
    page.get_by_test_id("group-settings-save").click()
    expect(page.get_by_test_id("group-subject")).to_have_text("Launch crew")
    expect(page.get_by_test_id("group-description")).to_have_text("Everything about the launch")
    expect(group_item(page, group_id).get_by_test_id("group-mark-announce")).to_have_text("only admins can send")
    expect(group_item(page, group_id).get_by_test_id("group-mark-locked")).to_have_count(0)
    update = wait_outbox(admin_http, instance_id, lambda e: e["type"] == "group_op" and e.get("op") == "update")
    assert update["subject"] == "Launch crew" and update["announce"] is True and update["locked"] is None

    # A new picture.
    page.get_by_test_id("group-picture").locator("summary").click()
    page.get_by_test_id("group-picture-file").set_input_files(
        {"name": "team.png", "mimeType": "image/png", "buffer": png_picture()}
    )
    page.get_by_test_id("group-picture-save").click()
    expect(page.get_by_test_id("group-picture-saved")).to_be_visible()
    picture = wait_outbox(admin_http, instance_id, lambda e: e["type"] == "group_op" and e.get("op") == "picture")
    assert picture["mimeType"] == "image/jpeg"

    # The invite link: shown, copied, reset (the old one then no longer works).
    page.get_by_test_id("invite-show").click()
    link = page.get_by_test_id("invite-link")
    expect(link).to_have_text(re.compile(r"^https://chat\.whatsapp\.com/[A-Za-z0-9]{10,}$"))
    first = link.inner_text()
    page.get_by_test_id("invite-copy").click()
    expect(page.get_by_test_id("toast").filter(has_text="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == first
    page.get_by_test_id("invite-reset").click()
    confirm(page, "Reset the invite link?")
    expect(page.get_by_test_id("invite-reset-done")).to_be_visible()
    expect(link).not_to_have_text(first)
    second = link.inner_text()
    revoked = wait_outbox(admin_http, instance_id, lambda e: e["type"] == "group_op" and e.get("op") == "revoke_invite")
    assert second.endswith(revoked["code"])

    # Leave (confirmed): back to the list, without the group.
    page.get_by_test_id("group-leave").click()
    confirm(page, "Leave “Launch crew”?")
    expect(page).to_have_url(re.compile(r"/groups$"))
    expect(page.get_by_test_id("no-group-selected")).to_be_visible()
    expect(group_item(page, group_id)).to_have_count(0)
    assert len(group_ops(admin_http, instance_id, "leave")) == 1

    # Join with a link: the old link is refused in the server's words, the current one joins.
    page.get_by_test_id("join-group").locator("summary").click()
    page.get_by_test_id("join-group-link").fill(first)
    page.get_by_test_id("join-group-submit").click()
    expect(page.get_by_test_id("join-group-error")).to_contain_text("invite link is not valid")
    page.get_by_test_id("join-group-link").fill(second)
    page.get_by_test_id("join-group-submit").click()
    expect(page).to_have_url(group_url(group_id))
    expect(page.get_by_test_id("group-subject")).to_have_text("Launch crew")
    expect(group_item(page, group_id)).to_be_visible()
    assert group_ops(admin_http, instance_id, "join")[0]["code"] == revoked["code"]


def test_a_member_who_is_not_admin_sees_whatsapps_refusal(page: Any, admin_http: httpx.Client) -> None:
    instance_id = connected_instance(admin_http, "Not admin")
    stage_groups(admin_http, instance_id)
    assert admin_http.get(f"/api/whatsapp/{instance_id}/groups", params={"refresh": "true"}).status_code == 200
    login(page)
    open_groups(page, instance_id, NEIGHBOURS)
    expect(page.get_by_test_id("group-subject")).to_have_text("Neighbours")
    expect(page.get_by_test_id("group-not-admin")).to_contain_text("You are not an admin")
    expect(member(page, NINA).get_by_test_id("member-role")).to_have_text("Admin")

    member(page, NINA).get_by_test_id("member-demote").click()
    expect(page.get_by_test_id("participants-error")).to_contain_text("only group admins may")
    page.get_by_test_id("invite-show").click()
    expect(page.get_by_test_id("invite-error")).to_contain_text("only group admins may")
    assert group_ops(admin_http, instance_id, "participants") == []

    # A group the account is not in: the server's 404 text.
    open_groups(page, instance_id, "120363999999999999@g.us")
    expect(page.get_by_test_id("group-error")).to_contain_text("group not found")


def test_group_events_from_others_show_live(page: Any, admin_http: httpx.Client) -> None:
    instance_id = connected_instance(admin_http, "Group events")
    stage_groups(admin_http, instance_id)
    assert admin_http.get(f"/api/whatsapp/{instance_id}/groups", params={"refresh": "true"}).status_code == 200
    login(page)
    open_groups(page, instance_id, BOOK_CLUB)
    expect(page.get_by_test_id("members-count")).to_have_text("3 members")

    def group_event(**body: Any) -> None:
        r = admin_http.post(f"/api/simulator/instances/{instance_id}/group-event", json={"groupId": BOOK_CLUB, **body})
        assert r.status_code == 200, r.text

    group_event(action="add", participants=[RITA], by=OLEG)
    expect(member(page, RITA)).to_be_visible()
    group_event(action="remove", participants=[NINA], by=OLEG)  # Nina leaves
    expect(member(page, NINA)).to_have_count(0)
    expect(page.get_by_test_id("members-count")).to_have_text("3 members")
    group_event(action="updated", subject="Book club (autumn)", by=OLEG)
    expect(page.get_by_test_id("group-subject")).to_have_text("Book club (autumn)")
    expect(group_item(page, BOOK_CLUB)).to_contain_text("Book club (autumn)")


# --- people --------------------------------------------------------------------------------------------------


def test_contact_profile_block_from_contacts_and_chat(page: Any, admin_http: httpx.Client, shot: Any) -> None:
    instance_id = connected_instance(admin_http, "Profiles")
    incoming(admin_http, instance_id, **{"from": NINA, "pushName": "Nina", "body": "hello"})
    login(page)
    open_instance(page, instance_id, "contacts")
    row = page.locator(f'[data-testid="contact-row"][data-number="{NINA}"]')
    row.get_by_test_id("contact-profile-open").click()

    dialog = page.get_by_test_id("contact-profile")
    expect(dialog.get_by_test_id("profile-name")).to_have_text("Nina Example")
    expect(dialog.get_by_test_id("profile-about")).to_have_text("Reading, always")
    expect(dialog.get_by_test_id("profile-phone")).to_have_text(f"+{NINA}")
    expect(dialog.get_by_test_id("profile-lid")).to_have_text(PEOPLE[NINA][2])
    expect(dialog.get_by_test_id("avatar-initials")).to_have_text("NE")
    expect(dialog.get_by_test_id("profile-blocked-mark")).to_be_hidden()
    shot(page, "contact-profile")

    dialog.get_by_test_id("profile-block").click()
    confirm(page, "Block Nina Example?")
    expect(dialog.get_by_test_id("profile-blocked-mark")).to_be_visible()
    expect(dialog.get_by_test_id("profile-unblock")).to_be_visible()
    expect(dialog.get_by_test_id("profile-block")).to_be_hidden()
    assert admin_http.get(f"/api/whatsapp/{instance_id}/blocklist").json()["blocked"] == [jid(NINA)]
    dialog.get_by_test_id("profile-close").click()
    expect(dialog).to_have_count(0)

    # The Blocked list shows her; Unblock there empties it.
    open_instance(page, instance_id, "profile")
    blocked = page.locator(f'[data-testid="blocked-row"][data-jid="{jid(NINA)}"]')
    expect(blocked).to_contain_text(f"+{NINA}")
    blocked.get_by_test_id("blocked-unblock").click()
    expect(page.get_by_test_id("blocked-empty")).to_be_visible()
    assert admin_http.get(f"/api/whatsapp/{instance_id}/blocklist").json()["blocked"] == []

    # From the chat header; her profile opens there too, unblocked.
    open_instance(page, instance_id, f"chats/{NINA}")
    page.get_by_test_id("chat-profile").click()
    expect(dialog.get_by_test_id("profile-name")).to_have_text("Nina Example")
    expect(dialog.get_by_test_id("profile-block")).to_be_visible()
    expect(dialog.get_by_test_id("profile-business")).to_have_count(0)
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)

    # A business account is marked as one.
    open_instance(page, instance_id, f"chats/{RITA}")
    page.get_by_test_id("chat-profile").click()
    expect(dialog.get_by_test_id("profile-business")).to_have_text("Business account")
    expect(dialog.get_by_test_id("profile-about")).to_have_text("At the gym")
    dialog.get_by_test_id("profile-close").click()

    # Someone WhatsApp does not know: the server's 404 text.
    open_instance(page, instance_id, f"chats/{NOBODY}")
    page.get_by_test_id("chat-profile").click()
    expect(dialog.get_by_test_id("profile-error")).to_contain_text("not on WhatsApp")


def test_own_profile_picture_and_privacy(page: Any, admin_http: httpx.Client, shot: Any) -> None:
    instance_id = connected_instance(admin_http, "Own profile")
    login(page)
    open_instance(page, instance_id, "profile")
    expect(page.get_by_test_id("own-name")).to_have_value("Me")

    page.get_by_test_id("own-name").fill("Wamux Desk")
    page.get_by_test_id("own-about").fill("Open 9 to 18")
    page.get_by_test_id("own-profile-save").click()
    expect(page.get_by_test_id("own-profile-saved")).to_be_visible()
    own = admin_http.get(f"/api/whatsapp/{instance_id}/profile").json()
    assert (own["name"], own["about"]) == ("Wamux Desk", "Open 9 to 18")
    page.get_by_test_id("own-profile-save").click()
    expect(page.get_by_test_id("own-profile-unchanged")).to_be_visible()

    page.get_by_test_id("own-picture-file").set_input_files(
        {"name": "me.png", "mimeType": "image/png", "buffer": png_picture()}
    )
    page.get_by_test_id("own-picture-save").click()
    expect(page.get_by_test_id("own-picture-saved")).to_be_visible()

    # Privacy in WhatsApp's words, saved as the API's values.
    expect(page.get_by_test_id("privacy-lastSeen")).to_be_enabled()
    labels = page.get_by_test_id("privacy-lastSeen").locator("option").all_inner_texts()
    assert labels == ["Everyone", "My contacts", "My contacts except…", "Nobody"]
    page.get_by_test_id("privacy-lastSeen").select_option(label="Nobody")
    page.get_by_test_id("privacy-online").select_option(label="Same as last seen")
    page.get_by_test_id("privacy-groupAdd").select_option(label="My contacts except…")
    page.get_by_test_id("privacy-readReceipts").select_option(label="Off")
    page.get_by_test_id("privacy-save").click()
    expect(page.get_by_test_id("privacy-saved")).to_be_visible()
    privacy = admin_http.get(f"/api/whatsapp/{instance_id}/privacy").json()
    assert {k: privacy[k] for k in ("lastSeen", "online", "groupAdd", "readReceipts")} == {
        "lastSeen": "none",
        "online": "match_last_seen",
        "groupAdd": "contact_blacklist",
        "readReceipts": "none",
    }

    page.reload()
    expect(page.get_by_test_id("own-name")).to_have_value("Wamux Desk")
    expect(page.get_by_test_id("privacy-readReceipts")).to_have_value("none")
    expect(page.get_by_test_id("privacy-lastSeen")).to_have_value("none")
    shot(page, "profile-privacy")


# --- calls ---------------------------------------------------------------------------------------------------


def test_call_rejected_with_the_setting_shows_in_activity(page: Any, admin_http: httpx.Client) -> None:
    instance_id = connected_instance(admin_http, "Calls")
    login(page)
    page.goto(f"/#/instances/{instance_id}/edit")
    expect(page.get_by_test_id("sync-history")).to_be_checked()  # WhatsApp's history is imported by default
    expect(page.get_by_test_id("reject-call-message")).to_be_disabled()
    page.get_by_test_id("reject-calls").check()
    page.get_by_test_id("reject-call-message").fill("Sorry, no calls here. Please write.")
    page.get_by_test_id("always-online").check()
    page.get_by_test_id("sync-history").uncheck()
    page.get_by_test_id("save-instance").click()
    expect(page.get_by_test_id("settings-calls")).to_contain_text("rejected, then answered")
    settings = admin_http.get(f"/api/instances/{instance_id}").json()["settings"]
    assert settings == {
        "rejectCalls": True,
        "rejectCallMessage": "Sorry, no calls here. Please write.",
        "alwaysOnline": True,
        "syncHistory": False,
    }

    r = admin_http.post(f"/api/simulator/instances/{instance_id}/call", json={"from": NINA})
    assert r.status_code == 200, r.text
    reject = wait_outbox(admin_http, instance_id, lambda e: e["type"] == "call_reject")
    assert reject["to"] == jid(NINA)
    wait_outbox(admin_http, instance_id, lambda e: e["type"] == "text" and e["body"] == settings["rejectCallMessage"])

    open_instance(page, instance_id, "activity")
    call = page.locator('[data-testid="activity-row"][data-action="call_received"]')
    expect(call.get_by_test_id("activity-words")).to_have_text(f"Call from +{NINA}, rejected")

    # Saving the form again with nothing changed records no change.
    before = admin_http.get(f"/api/instances/{instance_id}/activity", params={"actions": "updated"}).json()
    page.goto(f"/#/instances/{instance_id}/edit")
    expect(page.get_by_test_id("reject-calls")).to_be_checked()
    expect(page.get_by_test_id("sync-history")).not_to_be_checked()
    page.get_by_test_id("save-instance").click()
    expect(page.get_by_test_id("settings-calls")).to_be_visible()
    after = admin_http.get(f"/api/instances/{instance_id}/activity", params={"actions": "updated"}).json()
    assert after["pagination"]["total"] == before["pagination"]["total"]


# --- proxy and presence --------------------------------------------------------------------------------------

PROXY_PASSWORD = "br0wser-Pa55"
PROXY = f"socks5://desk:{PROXY_PASSWORD}@proxy.example.com:1080"
PROXY_MASKED = "socks5://desk:***@proxy.example.com:1080"


def connection_when(admin_http: httpx.Client, instance_id: str, connects: int, timeout: float = 10.0) -> Any:
    """The simulated session's connection once it made `connects` connects and is up again."""
    deadline = time.monotonic() + timeout
    while True:
        state = admin_http.get(f"/api/simulator/instances/{instance_id}/connection").json()
        if state["connects"] == connects and state["connected"]:
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"not reconnected in {timeout}s: {state}")
        time.sleep(0.1)


def test_proxy_saves_shows_masked_and_always_online_sends_available(
    page: Any, admin_http: httpx.Client, shot: Any
) -> None:
    instance_id = connected_instance(admin_http, "Behind a proxy")
    assert connection_when(admin_http, instance_id, 1)["proxy"] is None
    login(page)
    page.goto(f"/#/instances/{instance_id}/edit")
    proxy = page.get_by_test_id("proxy-url")
    expect(proxy).to_have_value("")
    expect(proxy).to_have_attribute("placeholder", "socks5://user:password@host:1080")
    proxy.fill("ftp://proxy.example.com")  # the server's rule, in words
    page.get_by_test_id("save-instance").click()
    expect(page.get_by_test_id("form-error")).to_contain_text("http://, https:// or socks5://")

    proxy.fill(PROXY)
    page.get_by_test_id("always-online").check()
    page.get_by_test_id("save-instance").click()
    expect(page.get_by_test_id("settings-calls")).to_be_visible()
    assert admin_http.get(f"/api/instances/{instance_id}").json()["settings"] == {
        "proxy": PROXY_MASKED,
        "alwaysOnline": True,
    }
    assert connection_when(admin_http, instance_id, 2)["proxy"] == PROXY_MASKED  # reconnected through it
    wait_outbox(admin_http, instance_id, lambda e: e["type"] == "presence" and e["state"] == "available")

    page.goto(f"/#/instances/{instance_id}/edit")
    expect(proxy).to_have_value(PROXY_MASKED)
    expect(page.get_by_test_id("always-online")).to_be_checked()
    assert PROXY_PASSWORD not in page.content()
    page.get_by_test_id("connection-settings").scroll_into_view_if_needed()
    shot(page, "instance-proxy")

    # Saved again as shown: the stored password stays, nothing is recorded, no reconnect.
    before = admin_http.get(f"/api/instances/{instance_id}/activity", params={"actions": "updated"}).json()
    page.get_by_test_id("save-instance").click()
    expect(page.get_by_test_id("settings-calls")).to_be_visible()
    after = admin_http.get(f"/api/instances/{instance_id}/activity", params={"actions": "updated"}).json()
    assert after["pagination"]["total"] == before["pagination"]["total"]
    assert admin_http.get(f"/api/simulator/instances/{instance_id}/connection").json()["connects"] == 2

    # Emptied: no proxy, the next connect is direct.
    page.goto(f"/#/instances/{instance_id}/edit")
    proxy.fill("")
    page.get_by_test_id("save-instance").click()
    expect(page.get_by_test_id("settings-calls")).to_be_visible()
    assert admin_http.get(f"/api/instances/{instance_id}").json()["settings"]["proxy"] is None
    assert connection_when(admin_http, instance_id, 3)["proxy"] is None
