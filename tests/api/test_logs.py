"""Structured logs: one JSON line per API request, carrying the request id the client sees."""

from __future__ import annotations

import json

import trio

from tests.harness import Api, ServerProcess


async def test_request_id_round_trip_and_access_line(admin: Api, server: ServerProcess) -> None:
    inst = await admin.create_instance("Logged")
    r = await admin.get(f"/api/instances/{inst['id']}/status", headers={"X-Request-Id": "trace-4711"})
    assert r.headers["X-Request-Id"] == "trace-4711"
    assert len((await admin.get("/api/health")).headers["X-Request-Id"]) >= 8  # generated when absent
    with trio.fail_after(5):
        while True:
            lines = [json.loads(x) for x in server.log().splitlines() if x.startswith("{")]
            mine = [x for x in lines if x.get("request_id") == "trace-4711"]
            if mine:
                break
            await trio.sleep(0.05)
    line = mine[0]
    assert line["logger"] == "wamux.access" and line["status"] == 200 and line["method"] == "GET"
    assert line["route"] == "/api/instances/<instance_id>/status"  # the template, not the raw path
    assert line["instance_id"] == inst["id"] and line["level"] == "info" and line["ts"].endswith("Z")
    assert all("token=" not in json.dumps(x) for x in lines)
