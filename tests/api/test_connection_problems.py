"""An instance that cannot reach WhatsApp, over HTTP: what it answers, what it logs, what a restart does.

The simulator's network switch (`POST /api/simulator/instances/{id}/network`) refuses every connect as a
machine without network would. Also the shapes of the instance answers: `PUT` answers the same object as
`GET`, and `phone` (digits) with `jid` beside it wherever the linked account is named.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from tests.harness import Api, ServerProcess, poll

REFUSED = "cannot reach WhatsApp: connection refused"
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


async def network(api: Api, instance_id: str, reachable: bool) -> None:
    r = await api.post(f"/api/simulator/instances/{instance_id}/network", json={"reachable": reachable})
    assert r.status_code == 200 and r.json() == {"success": True, "reachable": reachable}, r.text


async def backing_off(api: Api, instance_id: str) -> dict[str, Any]:
    """The `/qr` answer of an instance between two failed connects (after the drop, the first one failed)."""

    async def qr() -> Any:
        return await api.get(f"/api/instances/{instance_id}/qr")

    def between(r: Any) -> bool:
        details = r.json().get("details") or {}
        return r.status_code == 409 and details.get("retryingAt") is not None and details["attempts"] >= 1

    r = await poll(qr, between)
    return dict(r.json())


def log_lines(server: ServerProcess, instance_id: str) -> list[dict[str, Any]]:
    out = []
    for line in server.log().splitlines():
        if line.startswith("{") and instance_id in line:
            doc = json.loads(line)
            if doc.get("instance_id") == instance_id and doc.get("logger") == "wamux.actor":
                out.append(doc)
    return out


async def test_without_network_the_instance_says_why_and_retries(admin: Api, server: ServerProcess) -> None:
    iid = (await admin.create_instance("No network"))["id"]
    await admin.wait_qr(iid)
    await network(admin, iid, False)

    body = await backing_off(admin, iid)
    assert body["code"] == "qr_unavailable" and body["status"] == "disconnected"
    details = body["details"]
    assert details["status"] == "disconnected" and details["reason"] == "connect_failed"
    assert details["lastError"] == REFUSED and details["attempts"] >= 1 and ISO_MS.match(details["retryingAt"])
    assert "connection refused" in body["error"] and "/reconnect" in body["error"]  # the API's precise words

    status = (await admin.get(f"/api/instances/{iid}/status")).json()
    assert status["lastError"] == REFUSED and status["attempts"] >= 1
    assert status["connectionDetails"]["lastError"] == REFUSED
    listed = next(i for i in (await admin.get("/api/instances")).json()["instances"] if i["id"] == iid)
    assert listed["connectionStatus"]["lastError"] == REFUSED

    # A reconnect while the network is still away says what happened, not "reconnected".
    r = await admin.post(f"/api/instances/{iid}/reconnect")
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["success"] is True and answer["status"] == "disconnected"
    assert answer["message"].startswith(f"could not connect: {REFUSED}; retrying at ")

    # The server log has the cause, once for the first minute (however many attempts that was).
    failures = [x for x in log_lines(server, iid) if x["msg"].startswith("cannot reach WhatsApp")]
    assert [x["msg"] for x in failures] == [REFUSED] and failures[0]["level"] == "warning"
    assert "connection refused" in failures[0]["error"] and failures[0]["attempts"] == 1

    await network(admin, iid, True)
    r = await admin.post(f"/api/instances/{iid}/reconnect")
    assert r.json() == {"success": True, "status": "qr", "message": "waiting for a QR scan"}
    status = (await admin.get(f"/api/instances/{iid}/status")).json()
    assert (status["lastError"], status["retryingAt"], status["attempts"]) == (None, None, 0)
    back = [x["msg"] for x in log_lines(server, iid) if "after" in x["msg"]]
    assert len(back) == 1 and re.fullmatch(
        r"reached WhatsApp \(waiting for a QR scan\) after \d+ failed attempts?", back[0]
    )


async def test_a_linked_instance_without_network(admin: Api) -> None:
    iid = await admin.connected_instance("Linked, then offline", phone="79005550101")
    await network(admin, iid, False)  # the connection drops, and every connect is refused
    body = await backing_off(admin, iid)
    assert body["details"]["lastError"] == REFUSED and body["details"]["reason"] == "connect_failed"
    await network(admin, iid, True)
    await admin.wait_status(iid, "connected", timeout=90)  # by itself, at the next attempt of the back-off
    r = await admin.get(f"/api/instances/{iid}/qr")
    assert r.status_code == 409 and r.json()["code"] == "already_connected" and r.json()["status"] == "connected"

    r = await admin.post(f"/api/simulator/instances/{iid}/network", json={"reachable": "no"})
    assert r.status_code == 400 and r.json()["details"] == {"reachable": "reachable must be true or false"}, r.text
    r = await admin.post(f"/api/simulator/instances/{iid}/network", json={})
    assert r.status_code == 400 and r.json()["details"] == {"reachable": "reachable must be true or false"}, r.text


async def test_a_restart_resumes_an_instance_that_was_retrying(server_factory: Callable[..., ServerProcess]) -> None:
    first = server_factory()
    async with Api(first.url, token=first.admin_token()) as api:
        iid = (await api.create_instance("Offline at the stop"))["id"]
        await api.wait_qr(iid)
        await network(api, iid, False)
        await backing_off(api, iid)
    first.stop()

    second = server_factory(first.data_dir)  # its network is reachable again
    async with Api(second.url, token=second.admin_token()) as api:
        await api.wait_qr(iid)  # resumed by itself: a QR code, with no /reconnect


async def test_put_answers_the_same_object_as_get_and_phone_is_digits_beside_the_jid(admin: Api) -> None:
    iid = await admin.connected_instance("Shapes", phone="79005550102")
    r = await admin.put(f"/api/instances/{iid}", json={"name": "Shapes renamed", "settings": {"alwaysOnline": False}})
    assert r.status_code == 200, r.text
    got = (await admin.get(f"/api/instances/{iid}")).json()
    assert r.json() == got
    assert got["name"] == "Shapes renamed" and got["status"] == "connected" and got["userId"]
    assert (got["phone"], got["jid"]) == ("79005550102", "79005550102@s.whatsapp.net")
    assert got["connectionStatus"]["ready"] is True and "webhookSettings" in got

    events = (await admin.get(f"/api/instances/{iid}/events", params={"types": "connected"})).json()["events"]
    assert events[-1]["data"]["phone"] == "79005550102"
    assert events[-1]["data"]["jid"] == "79005550102@s.whatsapp.net"
    logs = (await admin.get(f"/api/instances/{iid}/activity", params={"actions": "connected"})).json()["logs"]
    assert logs[0]["details"] == {"phone": "79005550102", "jid": "79005550102@s.whatsapp.net", "pushName": "Me"}
