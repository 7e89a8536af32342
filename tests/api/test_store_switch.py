"""The live store switch: under load, every store to the next, with failures, and across a restart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import trio

from tests.harness import Api, wait_for
from tests.mongod_fixture import MongodServer, _free_port, _mongod_binary
from wamux.adapters.eventlog.mongo import open_mongo_recorder
from wamux.adapters.eventlog.postgres import open_postgres_recorder
from wamux.adapters.eventlog.sqlite import open_sqlite_recorder
from wamux.adapters.readmodels.mongo import MongoReadModelStore
from wamux.adapters.readmodels.postgres import PostgresReadModelStore
from wamux.adapters.readmodels.sqlite import SQLiteReadModelStore
from wamux.projections.ports import Query

LOAD_BEFORE = 60  # sends acknowledged on the source store before the switch starts
LOAD_AFTER = 15  # and after it ends, on the target


# Each store is once a source and once a target: SQLite → MongoDB → PostgreSQL → SQLite.
NEXT_STORE = {"sqlite": "mongodb", "mongodb": "postgres", "postgres": "sqlite"}


def log_of(provider: str, where: str) -> list[tuple[Any, ...]]:
    opens = {"mongodb": open_mongo_recorder, "postgres": open_postgres_recorder, "sqlite": open_sqlite_recorder}
    recorder = opens[provider](where)
    rows = recorder.select_notifications(start=1, limit=10**7)
    return [(n.id, str(n.originator_id), n.originator_version, n.topic, bytes(n.state)) for n in rows]


def sent_ids(log: list[tuple[Any, ...]]) -> set[str]:
    """The message ids of the `message_sent` events in a log read by `log_of`."""
    return {json.loads(row[4])["data"]["message_id"] for row in log if row[3] == "message_sent"}


def read_models_of(provider: str, where: str) -> dict[str, list[dict[str, Any]]]:
    from wamux.run.bootstrap import all_projections

    stores = {"mongodb": MongoReadModelStore, "postgres": PostgresReadModelStore, "sqlite": SQLiteReadModelStore}
    rm = stores[provider](where)
    out = {}
    for projection in all_projections():
        for c in projection.collections:
            docs = rm.find(c, Query())
            out[c.name] = sorted(docs, key=lambda d: json.dumps(d, sort_keys=True))
    return out


@pytest.mark.store_matters  # every store as the source and as the target
async def test_switch_under_load_both_ways_and_restart(
    server_factory, provider: str, request: pytest.FixtureRequest, tmp_path
) -> None:
    data = tmp_path / "switch"
    target = NEXT_STORE[provider]
    target_url = None
    if target != "sqlite":
        target_server = request.getfixturevalue("mongod_server" if target == "mongodb" else "postgres_server")
        target_url = target_server.url_for(f"switch_{os.getpid()}_{id(data)}")
    srv = server_factory(data)
    source_where = srv.env.get("DATABASE_URL") or str(data / "whatsapp-api.db")
    acknowledged: list[str] = []
    async with Api(srv.url, token=srv.admin_token()) as api:
        iids = [await api.connected_instance(f"load{i}") for i in range(3)]
        stop = trio.Event()

        async def load(iid: str) -> None:
            n = 0
            while not stop.is_set():
                r = await api.post(f"/api/whatsapp/{iid}/send", json={"phone": "79001234567", "message": f"L{n}"})
                assert r.status_code == 200, r.text
                acknowledged.append(r.json()["id"])
                await api.post(
                    f"/api/simulator/instances/{iid}/incoming", json={"from": "79007654321", "body": f"I{n}"}
                )
                n += 1

        async with trio.open_nursery() as nursery:
            for iid in iids:
                nursery.start_soon(load, iid)
            await wait_for(lambda: len(acknowledged) >= LOAD_BEFORE, timeout=30)
            before_switch = list(acknowledged)  # every one of these is in the source log
            body = {"provider": target, **({"url": target_url} if target_url else {})}
            r = await api.post("/api/db/switch", json=body)
            assert r.status_code == 200, r.text
            assert r.json()["provider"] == target and r.json()["success"] is True
            assert r.json()["message"] == f"Database provider switched to {target}"
            assert r.json()["pauseMs"] < 1000
            at_switch = len(acknowledged)
            # The load goes on, on the new store.
            await wait_for(lambda: len(acknowledged) >= at_switch + LOAD_AFTER, timeout=30)
            stop.set()
        status = (await api.get("/api/db/status")).json()
        assert status["provider"] == target and status["switch"]["state"] == "done"
        assert status["projections"] == {"stalled": {}}  # every projection follows the new store
        if target_url:
            assert status["url"].startswith(target_url.split(":", 1)[0] + "://")
        for iid in iids:
            history = (await api.get(f"/api/instances/{iid}/chats/79001234567/messages", params={"limit": 1000})).json()
            ids = {m["messageId"] for m in history["messages"]}
            acknowledged_here = [a for a in acknowledged if a in ids]
            assert acknowledged_here  # each instance sent something
        all_history: set[str] = set()
        for iid in iids:
            rows = (await api.get(f"/api/instances/{iid}/chats/79001234567/messages", params={"limit": 1000})).json()
            all_history |= {m["messageId"] for m in rows["messages"]}
        assert set(acknowledged) <= all_history  # no acknowledged message missing
        assert (
            await api.post("/api/db/switch", json={"provider": target, **({"url": target_url} if target_url else {})})
        ).status_code == 409
    srv.stop()

    choice = json.loads((data / "store-provider.json").read_text())
    target_where = target_url or choice["sqlitePath"]
    source_log = log_of(provider, source_where)
    target_log = log_of(target, target_where)
    assert set(before_switch) <= sent_ids(source_log)  # the switch ran under load: all of it in the source
    assert target_log[: len(source_log)] == source_log  # same ids, order, payloads
    assert set(acknowledged) <= sent_ids(target_log)
    # Appends went on after the switch; at most one send per loader was in flight across it.
    assert len(sent_ids(target_log) - sent_ids(source_log)) >= LOAD_AFTER - len(iids)
    assert [row[0] for row in target_log] == list(range(1, len(target_log) + 1))  # no gap, no duplicate

    rm_where = target_url or str(Path(target_where).with_name(Path(target_where).stem + ".readmodels.db"))
    before = read_models_of(target, rm_where)
    out = srv.cli("rebuild")
    assert out.returncode == 0, out.stderr
    rebuilt = read_models_of(target, rm_where)
    for name in before:  # the switched read models equal a fresh rebuild
        assert rebuilt[name] == before[name], (
            name,
            [d for d in rebuilt[name] if d not in before[name]][:3],
            [d for d in before[name] if d not in rebuilt[name]][:3],
        )

    again = server_factory(data)
    async with Api(again.url, token=again.admin_token()) as api:
        assert (await api.get("/api/health")).json()["store"] == target  # the restart stays on the new store
        assert (await api.get("/api/db/status")).json()["provider"] == target


@pytest.mark.store_matters  # the source store stays
async def test_unreachable_target_is_503_and_nothing_changes(server_factory, provider: str) -> None:
    srv = server_factory(data_dir=None)
    async with Api(srv.url, token=srv.admin_token()) as api:
        iid = await api.connected_instance("Stay")
        port = _free_port()
        dead = f"mongodb://bob:hunter22@127.0.0.1:{port}/nowhere?replicaSet=rs0&serverSelectionTimeoutMS=1000"
        target = {"provider": "mongodb", "url": dead}
        r = await api.post("/api/db/switch", json=target)
        assert r.status_code == 503 and r.json()["code"] == "unavailable"
        # One sentence: the host with its password masked, and the cause; pymongo's dump is in the log only.
        reason = f"cannot reach MongoDB at mongodb://bob:***@127.0.0.1:{port}/nowhere: connection refused"
        assert r.json()["error"] == f"switch to mongodb failed, still on {provider}: {reason}"
        after = (await api.get("/api/db/status")).json()
        assert after["provider"] == provider and after["switch"]["state"] == "failed"
        assert after["switch"]["error"] == reason
        assert "Topology Description" in srv.log() and "hunter22" not in srv.log()
        dead = f"postgresql://bob:hunter22@127.0.0.1:{port}/nowhere"
        r = await api.post("/api/db/switch", json={"provider": "postgres", "url": dead})
        reason = f"cannot reach PostgreSQL at postgresql://bob:***@127.0.0.1:{port}/nowhere: connection refused"
        assert r.status_code == 503 and r.json()["error"] == f"switch to postgres failed, still on {provider}: {reason}"
        assert (await api.get("/api/db/status")).json()["switch"]["error"] == reason
        r = await api.post("/api/db/switch", json={"provider": "postgres", "url": "mongodb://127.0.0.1/x"})
        assert r.status_code == 400 and set(r.json()["details"]) == {"url"}
        assert "hunter22" not in srv.log()
        assert (
            await api.post(f"/api/whatsapp/{iid}/send", json={"phone": "79001234567", "message": "ok"})
        ).status_code == 200
        assert (await api.post("/api/db/switch", json={"provider": "oracle"})).status_code == 400
        if provider == "sqlite":
            assert (await api.post("/api/db/switch", json={"provider": "sqlite"})).status_code == 409
        assert not (srv.data_dir / "store-provider.json").exists()


async def test_switch_is_admin_only(admin: Api, server, unique_email) -> None:
    user = await admin.new_user(unique_email())
    async with Api(server.url, api_key=user["apiKey"]) as u:
        assert (await u.get("/api/db/status")).status_code == 403
        assert (await u.post("/api/db/switch", json={"provider": "sqlite"})).status_code == 403


@pytest.mark.sqlite_only("the SQLite → MongoDB direction is the one with a target this test can kill")
async def test_mongod_dying_mid_copy_leaves_sqlite_untouched(server_factory, tmp_path) -> None:
    data = tmp_path / "big"
    _fill_log(data, events=20_000)
    srv = server_factory(data, start_timeout=90)
    own = MongodServer(_mongod_binary(), Path(tempfile.mkdtemp(prefix="wamux-kill-")), _free_port())
    own.start()
    try:
        async with Api(srv.url, token=srv.admin_token()) as api:
            iid = await api.connected_instance("Survivor")
            head_before = (await api.get("/api/db/status")).json()["events"]
            result: dict[str, Any] = {}

            async def do_switch() -> None:
                # If mongod dies after the copy, during the build, each driver call of the build waits out
                # pymongo's server selection (10 s) before the switch gives up: allow for that here.
                r = await api.post(
                    "/api/db/switch", json={"provider": "mongodb", "url": own.url_for("victim")}, timeout=180
                )
                result["status"], result["body"] = r.status_code, r.json()

            async with trio.open_nursery() as nursery:
                nursery.start_soon(do_switch)
                with trio.fail_after(20):
                    while (await api.get("/api/db/status")).json()["switch"]["copied"] < 2000:
                        await trio.sleep(0.01)
                own.stop()
            assert result["status"] == 503, result
            status = (await api.get("/api/db/status")).json()
            assert status["provider"] == "sqlite" and status["switch"]["state"] == "failed"
            assert status["events"] >= head_before
            r = await api.post(f"/api/whatsapp/{iid}/send", json={"phone": "79001234567", "message": "still here"})
            assert r.status_code == 200
            assert not (data / "store-provider.json").exists()
    finally:
        own.stop()


def _fill_log(data: Path, events: int) -> None:
    """Write many events straight into a fresh SQLite log, as a long-running server would have."""
    code = f"""
import trio, uuid
from pathlib import Path
from wamux.domain.clock import SystemClock
from wamux.domain.events import MessageReceived
from wamux.adapters.eventlog.recorder_store import RecorderEventStore
from wamux.adapters.eventlog.sqlite import open_sqlite_recorder

async def main():
    Path({str(data)!r}).mkdir(parents=True, exist_ok=True)
    recorder = open_sqlite_recorder({str(data / "whatsapp-api.db")!r})
    store = RecorderEventStore.over(recorder, SystemClock(), provider="sqlite")
    async with trio.open_nursery() as n:
        await n.start(store.run_writer)
        sid = str(uuid.uuid4())
        for chunk in range({events} // 500):
            evs = [MessageReceived(instance_id=sid, message_id=f"m{{chunk}}-{{i}}", chat_jid="7900@s.whatsapp.net",
                                   sender_jid="7900@s.whatsapp.net", message_type="text", body="x" * 40)
                   for i in range(500)]
            await store.append(sid, evs, chunk * 500)
        n.cancel_scope.cancel()

trio.run(main)
"""
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
