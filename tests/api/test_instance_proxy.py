"""`settings.proxy` and `settings.alwaysOnline` over HTTP against the simulator (API-2 §5, §8): the URL rule,
the password shown as `***` in every answer and kept by a masked round trip, the simulated session connecting
through the proxy (again after a change), presence `available` after connecting, and the password neither in
the raw event log (with the proxy's host) nor anywhere else in DATA_DIR, the logs included.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.api.test_groups import call, template
from tests.api.test_openapi import Checker
from tests.api.test_rich_messaging import outbox
from tests.api.test_secrets_and_data_dir import raw_log
from tests.harness import Api, ServerProcess, poll

PASSWORD = "pr0xy-Pa55-7d1e"
HOST = "proxy-7d1e.example.net"
PROXY = f"socks5://alice:{PASSWORD}@{HOST}:1080"
MASKED = f"socks5://alice:***@{HOST}:1080"
OTHER_PASSWORD = "second-Pa55-40c2"
OTHER = f"http://bob:{OTHER_PASSWORD}@10.20.30.40:3128"
OTHER_MASKED = "http://bob:***@10.20.30.40:3128"


async def connection(api: Api, iid: str) -> dict[str, Any]:
    path = f"/api/simulator/instances/{iid}/connection"
    r = await api.get(path)
    return dict(Checker()(r, "GET", template("GET", path), 200))


async def settings_of(api: Api, iid: str) -> dict[str, Any]:
    return dict((await call(api, "GET", f"/api/instances/{iid}", 200))["settings"])


async def test_bad_proxies_are_refused_on_create_and_update(admin: Api) -> None:
    for bad in (
        "ftp://proxy.example.com:21",
        "socks5://",
        "proxy.example.com:1080",
        "http://proxy.example.com:70000",
        "http://proxy.example.com/path",
        "http://proxy.example.com?x=1",
        "http://user:p@ss@proxy.example.com",
        "http://" + "a" * 2000,
        12,
    ):
        error = await call(admin, "POST", "/api/instances", 400, json={"name": "Bad", "settings": {"proxy": bad}})
        assert error["code"] == "validation_error" and "settings.proxy" in error["details"], bad
    iid = (await admin.create_instance("Direct"))["id"]
    error = await call(admin, "PUT", f"/api/instances/{iid}", 400, json={"settings": {"proxy": "gopher://x"}})
    assert "settings.proxy" in error["details"]
    # A masked URL stands only for the password stored: there is none here.
    error = await call(admin, "PUT", f"/api/instances/{iid}", 400, json={"settings": {"proxy": MASKED}})
    assert "settings.proxy" in error["details"]
    assert "proxy" not in await settings_of(admin, iid)


async def test_the_password_is_masked_kept_on_a_round_trip_and_a_change_reconnects(admin: Api) -> None:
    created = await call(admin, "POST", "/api/instances", 201, json={"name": "Proxied", "settings": {"proxy": PROXY}})
    iid = created["id"]
    assert created["settings"] == {"proxy": MASKED}
    await admin.wait_qr(iid)
    assert await connection(admin, iid) == {"connected": False, "connects": 1, "proxy": MASKED}
    await call(admin, "POST", f"/api/simulator/instances/{iid}/scan", 200, json={"phone": "79005550101"})
    await admin.wait_status(iid, "connected")

    listed = await call(admin, "GET", "/api/instances", 200)
    [row] = [i for i in listed["instances"] if i["id"] == iid]
    assert row["settings"] == {"proxy": MASKED}
    assert await settings_of(admin, iid) == {"proxy": MASKED}

    # The form sends back what it was shown: nothing changes, no reconnect.
    same = await call(admin, "PUT", f"/api/instances/{iid}", 200, json={"settings": {"proxy": MASKED}})
    assert same["settings"] == {"proxy": MASKED}
    both = {"proxy": MASKED, "alwaysOnline": True}
    assert (await call(admin, "PUT", f"/api/instances/{iid}", 200, json={"settings": both}))["settings"] == both
    assert (await connection(admin, iid))["connects"] == 1
    updates = await call(admin, "GET", f"/api/instances/{iid}/activity", 200, params={"actions": "updated"})
    assert updates["pagination"]["total"] == 1  # only alwaysOnline changed

    # A new proxy on a connected instance: it reconnects through it (still linked: no QR).
    changed = await call(admin, "PUT", f"/api/instances/{iid}", 200, json={"settings": {"proxy": OTHER}})
    assert changed["settings"] == {"proxy": OTHER_MASKED, "alwaysOnline": True}
    state = await poll(lambda: connection(admin, iid), lambda s: s["connects"] == 2 and s["connected"])
    assert state["proxy"] == OTHER_MASKED
    await admin.wait_status(iid, "connected")
    reconnects = await call(
        admin, "GET", f"/api/instances/{iid}/activity", 200, params={"actions": "reconnect_requested"}
    )
    assert reconnects["pagination"]["total"] == 1

    # Cleared: the next connect is direct.
    cleared = await call(admin, "PUT", f"/api/instances/{iid}", 200, json={"settings": {"proxy": ""}})
    assert cleared["settings"] == {"proxy": None, "alwaysOnline": True}
    state = await poll(lambda: connection(admin, iid), lambda s: s["connects"] == 3 and s["connected"])
    assert state["proxy"] is None


async def test_always_online_shows_the_account_available_after_connecting(admin: Api) -> None:
    iid = await admin.connected_instance("Online", settings={"alwaysOnline": True})

    def presences(entries: list[dict[str, Any]]) -> list[str]:
        return [e["state"] for e in entries if e["type"] == "presence" and e["to"] is None]

    await poll(lambda: outbox(admin, iid), lambda entries: presences(entries) == ["available"])
    await call(admin, "POST", f"/api/simulator/instances/{iid}/disconnect", 200, json={})
    await poll(lambda: outbox(admin, iid), lambda entries: presences(entries) == ["available", "available"])

    quiet = await admin.connected_instance("Not always online")
    await call(admin, "POST", f"/api/whatsapp/{quiet}/presence", 200, json={"state": "unavailable"})
    assert presences(await outbox(admin, quiet)) == ["unavailable"]  # only what was asked


@pytest.mark.store_matters  # the raw documents of each store
async def test_the_proxy_password_is_never_stored_or_logged_in_clear(
    server_factory: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    srv = server_factory(data)
    async with Api(srv.url, token=srv.admin_token()) as api:
        iid = await api.connected_instance("Vault proxy", settings={"proxy": PROXY})
        r = await api.put(f"/api/instances/{iid}", json={"name": "Vault proxy 2", "settings": {"proxy": OTHER}})
        assert r.status_code == 200, r.text
        await poll(lambda: connection(api, iid), lambda s: s["connects"] == 2 and s["connected"])
        shown = [
            (await api.get(path)).text
            for path in (f"/api/instances/{iid}", "/api/instances", f"/api/simulator/instances/{iid}/connection")
        ]
        assert MASKED not in "".join(shown) and OTHER_MASKED in "".join(shown)
    srv.stop()

    raw = raw_log(data, srv.env.get("DATABASE_URL"))
    assert b"Vault proxy" in raw  # the events are there...
    for clear in (PASSWORD, OTHER_PASSWORD, HOST, "10.20.30.40"):
        assert clear.encode() not in raw, clear  # ...the proxies are not
    for path in data.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert PASSWORD.encode() not in content and OTHER_PASSWORD.encode() not in content, path
    log = srv.log()
    assert MASKED in log and OTHER_MASKED in log  # each connect says which proxy, masked

    out = srv.cli("events", "export", "--instance", iid)
    assert out.returncode == 0, out.stderr
    assert PASSWORD not in out.stdout and OTHER_PASSWORD not in out.stdout and HOST not in out.stdout
    out = srv.cli("rebuild")
    assert out.returncode == 0, out.stderr

    srv = server_factory(data)  # the actor folds the clear proxy from the log again
    async with Api(srv.url, token=srv.admin_token()) as api:
        await api.wait_status(iid, "connected")
        assert (await connection(api, iid))["proxy"] == OTHER_MASKED
        assert (await settings_of(api, iid)) == {"proxy": OTHER_MASKED}
        listed = await call(api, "GET", "/api/instances", 200)
        assert [i["settings"] for i in listed["instances"] if i["id"] == iid] == [{"proxy": OTHER_MASKED}]
    srv.stop()
