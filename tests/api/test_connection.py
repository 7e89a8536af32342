"""Connection lifecycle over HTTP: QR (json/png/svg), scan, status, drop, logout, reconnect, pairing, simulator."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import trio
from PIL import Image

from tests.harness import Api, ServerProcess, poll

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
NO_PROBLEM = {"lastError": None, "retryingAt": None, "attempts": 0}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


async def actions(api: Api, instance_id: str, which: str) -> list[dict[str, Any]]:
    r = await api.get(f"/api/instances/{instance_id}/activity", params={"actions": which, "limit": 1000})
    assert r.status_code == 200, r.text
    return list(reversed(r.json()["logs"]))  # oldest first


async def test_qr_scan_status_drop_logout_reconnect(admin: Api) -> None:
    inst = await admin.create_instance("Lifecycle")
    iid = inst["id"]
    assert inst["status"] == "connecting"

    # 202 while generating, then 200 with the raw string
    seen: list[int] = []

    async def fetch_qr() -> Any:
        r = await admin.get(f"/api/instances/{iid}/qr")
        seen.append(r.status_code)
        if r.status_code == 202:
            assert r.json() == {
                "message": "QR code generation in progress. Please try again in a few seconds.",
                "status": "generating",
            }
        return r

    r = await poll(fetch_qr, lambda r: r.status_code == 200)
    assert set(seen) <= {200, 202}
    qr = r.json()["qrCode"]
    assert qr.startswith("1@") and len(qr) > 40
    assert (await admin.get(f"/api/whatsapp/{iid}/qr")).json()["qrCode"] == qr  # same route, other path
    assert (await admin.get(f"/api/whatsapp/{iid}/status")).json() == {
        "ready": False,
        "status": "qr",
        "hasQr": True,
        **NO_PROBLEM,
    }

    # scan -> connected
    r = await admin.post(f"/api/simulator/instances/{iid}/scan", json={"phone": "+7 (900) 111-22-33", "pushName": "Me"})
    assert r.status_code == 200, r.text
    await admin.wait_status(iid, "connected")
    assert (await admin.get(f"/api/whatsapp/{iid}/status")).json() == {
        "ready": True,
        "status": "connected",
        "hasQr": False,
        **NO_PROBLEM,
    }
    status = (await admin.get(f"/api/instances/{iid}/status")).json()
    assert status["instanceId"] == iid and status["ready"] is True and status["hasQr"] is False
    assert ISO_MS.match(status["lastActivity"]), status
    assert status["connectionDetails"] == {"ready": True, "status": "connected", "hasQr": False, **NO_PROBLEM}
    got = (await admin.get(f"/api/instances/{iid}")).json()
    assert got["phone"] == "79001112233" and got["jid"] == "79001112233@s.whatsapp.net" and got["pushName"] == "Me"
    for path in (f"/api/instances/{iid}/qr", f"/api/whatsapp/{iid}/qr", f"/api/instances/{iid}/qr?format=png"):
        r = await admin.get(path)
        assert r.status_code == 409 and r.json()["status"] == "connected", (path, r.text)
        assert r.json()["code"] == "already_connected" and r.json()["error"]

    # a drop reconnects by itself, without a QR
    r = await admin.post(f"/api/simulator/instances/{iid}/disconnect", json={"reason": "connection_lost"})
    assert r.status_code == 200, r.text
    log = await poll(
        lambda: actions(admin, iid, "connected,disconnected,qr_received"),
        lambda logs: [entry["action"] for entry in logs][-2:] == ["disconnected", "connected"],
    )
    assert [e["action"] for e in log] == ["qr_received", "connected", "disconnected", "connected"]
    assert log[2]["details"] == {"reason": "connection_lost", "willReconnect": True}
    await admin.wait_status(iid, "connected")

    # logout (both paths) -> logged_out; /qr refuses until /reconnect
    r = await admin.post(f"/api/instances/{iid}/logout")
    assert r.status_code == 200 and r.json() == {"success": True, "message": f"Instance {iid} logged out"}
    assert (await admin.get(f"/api/whatsapp/{iid}/status")).json() == {
        "ready": False,
        "status": "logged_out",
        "hasQr": False,
        **NO_PROBLEM,
    }
    r = await admin.post(f"/api/whatsapp/{iid}/logout")
    assert r.status_code == 200
    for _ in range(3):  # stays there: nothing reconnects a logged-out instance by itself
        r = await admin.get(f"/api/instances/{iid}/qr")
        assert r.status_code == 409, r.text
        assert r.json()["code"] == "qr_unavailable" and r.json()["status"] == "logged_out"
        assert r.json()["details"] == {
            "status": "logged_out",
            "reason": "logged_out",
            "retryingAt": None,
            "lastError": None,
            "attempts": 0,
        }
        await trio.sleep(0.1)
    r = await admin.post(f"/api/instances/{iid}/reconnect")
    assert r.status_code == 200 and r.json() == {"success": True, "status": "qr", "message": "waiting for a QR scan"}
    new_qr = (await admin.wait_qr(iid))["qrCode"]
    assert new_qr.startswith("1@") and new_qr != qr
    log = await actions(admin, iid, "logged_out,reconnect_requested,qr_received")
    assert [e["action"] for e in log][-3:] == ["logged_out", "reconnect_requested", "qr_received"]
    assert log[-1]["details"] == {"attempt": 1}


async def test_qr_formats(admin: Api) -> None:
    inst = await admin.create_instance("Formats")
    raw = (await admin.wait_qr(inst["id"]))["qrCode"]
    r = await admin.get(f"/api/instances/{inst['id']}/qr", params={"format": "png"})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.content.startswith(PNG_MAGIC)
    image = Image.open(io.BytesIO(r.content))
    image.load()
    assert image.format == "PNG" and image.size[0] == image.size[1] and image.size[0] >= 100
    assert len(set(image.convert("L").getdata())) == 2  # black and white modules

    r = await admin.get(f"/api/whatsapp/{inst['id']}/qr", params={"format": "svg"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(r.content)
    assert root.tag.endswith("svg")
    assert root.find(".//{http://www.w3.org/2000/svg}path") is not None

    assert (await admin.get(f"/api/instances/{inst['id']}/qr", params={"format": "JSON"})).json()["qrCode"] == raw
    for bad in ("gif", "jpeg", "png2"):
        r = await admin.get(f"/api/instances/{inst['id']}/qr", params={"format": bad})
        assert r.status_code == 400, r.text
        assert r.json()["code"] == "validation_error" and "format" in r.json()["details"]


async def test_qr_refresh_and_qr_timeout(server_factory: Callable[..., ServerProcess]) -> None:
    srv = server_factory(SIMULATOR_QR_INTERVAL_MS="200", QR_MAX_ATTEMPTS="3")
    async with Api(srv.url, token=srv.admin_token()) as api:
        inst = await api.create_instance("Refresh")
        iid = inst["id"]
        first = await api.wait_qr(iid)
        codes = {first["qrCode"]}

        async def fetch() -> Any:
            r = await api.get(f"/api/instances/{iid}/qr")
            if r.status_code == 200:
                codes.add(r.json()["qrCode"])
            return r

        await poll(fetch, lambda r: r.status_code == 200 and r.json().get("attempt") == 2, timeout=10)
        assert len(codes) >= 2  # a refreshed QR is a new string

        # after QR_MAX_ATTEMPTS the instance stops: disconnected, reason qr_timeout, no endless loop
        status = await api.wait_status(iid, "disconnected", timeout=10)
        assert status["hasQr"] is False and status["ready"] is False
        log = await actions(api, iid, "qr_received,disconnected")
        assert [(e["action"], e["details"]) for e in log] == [
            ("qr_received", {"attempt": 1}),
            ("qr_received", {"attempt": 2}),
            ("qr_received", {"attempt": 3}),
            ("disconnected", {"reason": "qr_timeout", "willReconnect": False}),
        ]
        r = await api.get(f"/api/instances/{iid}/qr")
        assert r.status_code == 409 and r.json()["code"] == "qr_unavailable" and r.json()["status"] == "disconnected"
        assert r.json()["details"]["reason"] == "qr_timeout" and r.json()["details"]["retryingAt"] is None
        assert r.json()["details"]["lastError"] == "no QR code was scanned in time"
        # A witness instance on the same server: once it has shown its third QR, two refresh intervals
        # have passed on the server's own timers since the timeout, and the stopped instance showed none.
        witness = (await api.create_instance("Witness"))["id"]
        await poll(lambda: actions(api, witness, "qr_received"), lambda log: len(log) >= 3)
        assert len(await actions(api, iid, "qr_received,disconnected")) == 4

        assert (await api.post(f"/api/instances/{iid}/reconnect")).status_code == 200
        again = await api.wait_qr(iid)
        assert again["qrCode"] not in codes
        log = await actions(api, iid, "qr_received,reconnect_requested")
        assert [e["action"] for e in log][-2:] == ["reconnect_requested", "qr_received"]
        assert log[-1]["details"] == {"attempt": 1}


async def test_logout_while_showing_a_qr_drops_the_qr_at_once(admin: Api) -> None:
    inst = await admin.create_instance("QrLogout")
    await admin.wait_qr(inst["id"])
    assert (await admin.post(f"/api/instances/{inst['id']}/logout")).status_code == 200
    r = await admin.get(f"/api/instances/{inst['id']}/qr")
    assert r.status_code == 409 and r.json()["status"] == "logged_out", r.text
    assert (await admin.get(f"/api/whatsapp/{inst['id']}/status")).json()["hasQr"] is False


async def test_pairing_code(admin: Api) -> None:
    inst = await admin.create_instance("Pairing")
    iid = inst["id"]
    await admin.wait_qr(iid)
    r = await admin.post(f"/api/instances/{iid}/pair", json={"phone": "+7 (900) 123-45-67"})
    assert r.status_code == 200, r.text
    assert re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}", r.json()["pairingCode"]), r.json()
    log = await actions(admin, iid, "pairing_code_requested")
    assert [e["details"] for e in log] == [{"phone": "79001234567"}]

    for bad in ({"phone": "not a phone"}, {"phone": "120363025246125486@g.us"}, {}, {"phone": 79001234567}):
        r = await admin.post(f"/api/instances/{iid}/pair", json=bad)
        assert r.status_code == 400, (bad, r.text)
        assert r.json()["code"] == "validation_error" and "phone" in r.json()["details"]

    r = await admin.post(f"/api/simulator/instances/{iid}/scan", json={"phone": "79001234567"})
    assert r.status_code == 200
    await admin.wait_status(iid, "connected")
    r = await admin.post(f"/api/instances/{iid}/pair", json={"phone": "79001234567"})
    assert r.status_code == 409, r.text
    assert r.json()["code"] in ("conflict", "already_connected")


async def test_simulator_routes_are_admin_only(admin: Api, server: ServerProcess, unique_email) -> None:
    user = await admin.new_user(unique_email("sim"))
    async with Api(server.url, api_key=user["apiKey"]) as plain:
        inst = await plain.create_instance("Mine")
        await plain.wait_qr(inst["id"])
        for method, path, body in [
            ("POST", "scan", {}),
            ("POST", "incoming", {"from": "79001234567", "body": "hi"}),
            ("POST", "receipt", {"messageId": "x", "status": "read"}),
            ("POST", "disconnect", {}),
            ("PUT", "contacts", {"contacts": []}),
            ("GET", "outbox", None),
            ("POST", "faults", {"failNextSends": 1}),
        ]:
            r = await plain.http.request(method, f"/api/simulator/instances/{inst['id']}/{path}", json=body)
            assert r.status_code == 403, (path, r.status_code, r.text)
            assert r.json()["code"] == "forbidden"
        # nothing happened: still waiting for a scan
        assert (await plain.get(f"/api/whatsapp/{inst['id']}/status")).json()["status"] == "qr"
    # the admin may drive it
    r = await admin.post(f"/api/simulator/instances/{inst['id']}/scan", json={})
    assert r.status_code == 200, r.text


async def test_connect_failures_and_faults_over_http(admin: Api) -> None:
    iid = await admin.connected_instance("Faulty")
    r = await admin.post(f"/api/simulator/instances/{iid}/faults", json={"failNextConnects": 2})
    assert r.status_code == 200 and r.json()["faults"]["failNextConnects"] == 2
    await admin.post(f"/api/simulator/instances/{iid}/disconnect", json={})
    log = await poll(
        lambda: actions(admin, iid, "connected,disconnected"),
        lambda logs: len(logs) >= 5 and logs[-1]["action"] == "connected",
    )
    assert [(e["action"], e["details"].get("reason")) for e in log[1:]] == [
        ("disconnected", "connection_lost"),
        ("disconnected", "connect_failed"),
        ("disconnected", "connect_failed"),
        ("connected", None),
    ]
    r = await admin.post(f"/api/simulator/instances/{iid}/faults", json={"explode": True})
    assert r.status_code == 400


async def test_simulator_is_404_with_neonize_and_an_offline_instance_fails_cleanly(
    server_factory: Callable[..., ServerProcess],
) -> None:
    srv = server_factory(WHATSAPP_TRANSPORT="neonize")
    async with Api(srv.url, token=srv.admin_token()) as api:
        inst = await api.create_instance("Offline")
        iid = inst["id"]
        for method, path in [("POST", "scan"), ("POST", "disconnect"), ("GET", "outbox"), ("POST", "faults")]:
            r = await api.http.request(method, f"/api/simulator/instances/{iid}/{path}", json={})
            assert r.status_code == 404, (path, r.text)
            assert r.json()["code"] == "not_found"
        # no network: the instance ends disconnected (retrying) or failed, with a reason, and the server stays up
        status = await poll(
            lambda: api.get(f"/api/instances/{iid}/status"),
            lambda r: r.json()["status"] in ("disconnected", "failed"),
            timeout=20,
        )
        assert status.json()["ready"] is False and status.json()["hasQr"] is False
        log = await actions(api, iid, "disconnected,failed")
        assert log and all(e["details"].get("reason") for e in log), log
        r = await api.get(f"/api/instances/{iid}/qr")
        assert r.status_code in (202, 409), r.text
        health = await api.get("/api/health")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        assert (await api.get("/api/instances")).status_code == 200
        r = await api.delete(f"/api/instances/{iid}")
        assert r.status_code == 200, r.text
        assert (await api.get("/api/health")).status_code == 200
