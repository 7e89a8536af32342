"""Webhook targets (API-2 §7) over real HTTP with loopback receivers: own events, own lanes, URL changes at
once, disable/enable, replay with the original ids, bad input, a rebuild, and kill -9 in a replay.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import time
from typing import Any

import pytest
import trio

from tests.harness import SQLITE_AND_MONGODB, Api, poll, wait_for
from tests.receiver import Receiver
from wamux.domain.clock import iso_ms

FROM = "79005554433"
EPOCH = "2000-01-01T00:00:00Z"


async def add_target(api: Api, iid: str, **body: Any) -> dict[str, Any]:
    r = await api.post(f"/api/instances/{iid}/webhooks", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def targets(api: Api, iid: str) -> list[dict[str, Any]]:
    r = await api.get(f"/api/instances/{iid}/webhooks")
    assert r.status_code == 200, r.text
    return list(r.json()["webhooks"])


async def deliveries(api: Api, iid: str, **params: Any) -> list[dict[str, Any]]:
    r = await api.get(f"/api/instances/{iid}/webhook/deliveries", params={"limit": 500, **params})
    assert r.status_code == 200, r.text
    return list(r.json()["deliveries"])


async def incoming(api: Api, iid: str, *bodies: str) -> None:
    for body in bodies:
        r = await api.post(f"/api/simulator/instances/{iid}/incoming", json={"from": FROM, "body": body})
        assert r.status_code == 200, r.text


def bodies(rx: Receiver, path: str, event: str = "message_received") -> list[str]:
    return [r.json["data"]["body"] for r in rx.at(path, ok_only=True) if r.json["event"] == event]


def error(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status and r.json()["code"] == code, r.text
    return dict(r.json())


async def test_each_target_gets_its_own_events_in_order_and_a_dead_one_delays_none(admin: Api) -> None:
    with Receiver() as rx:
        dead = rx.on("/dead", status=500)
        iid = await admin.connected_instance(
            "Lanes", webhookUrl=dead, webhookEnabled=True, retryInterval=60000, maxRetries=5
        )
        only_in = await add_target(admin, iid, url=rx.on("/a"), events=["message_received"])
        every = await add_target(admin, iid, url=rx.on("/b"), events=["*"], secret="b-key", retryInterval=100)
        assert only_in["id"].startswith("wh_") and every["secret"] == "***" and every["state"] == "ok"
        started = time.monotonic()
        await incoming(admin, iid, *(f"n{i}" for i in range(20)))
        r = await admin.post(f"/api/whatsapp/{iid}/send", json={"phone": FROM, "message": "out"})
        assert r.status_code == 200
        await wait_for(lambda: len(bodies(rx, "/a")) == 20 and bodies(rx, "/b", "message_sent") == ["out"])
        took = time.monotonic() - started
        tries = len(rx.at("/dead"))
        print(f"\nlive targets: all 20 messages in {took:.2f} s while the dead default target retries ({tries} tries)")
        assert took < 30  # the dead target's first row alone waits 60 s between its tries

        assert bodies(rx, "/a") == [f"n{i}" for i in range(20)]
        assert {r.json["event"] for r in rx.at("/a")} == {"message_received"}
        got_b = [r for r in rx.at("/b") if r.json["event"] in ("message_received", "message_sent")]
        assert [r.json["data"]["body"] for r in got_b] == [*(f"n{i}" for i in range(20)), "out"]
        ids_a = [r.headers["x-webhook-id"] for r in rx.at("/a")]
        assert ids_a == [r.headers["x-webhook-id"] for r in got_b[:20]]  # one id per event, whatever the target
        assert {r.headers["x-webhook-target"] for r in got_b} == {every["id"]}
        assert all(
            r.headers["x-webhook-signature"] == hmac.new(b"b-key", r.body, hashlib.sha256).hexdigest() for r in got_b
        )
        assert rx.at("/dead")[0].headers["x-webhook-target"] == "default"

        listed = await poll(lambda: targets(admin, iid), lambda ts: ts[0]["state"] == "retrying")
        assert [t["id"] for t in listed] == ["default", only_in["id"], every["id"]]
        default = listed[0]
        assert default["url"] == dead and default["lastError"] == "HTTP 500" and default["nextAttemptAt"]
        assert default["pending"] >= 21 and "message_received" in default["events"]
        assert "message_status" not in default["events"]  # notifyDelivery and notifyRead are off
        rows = await deliveries(admin, iid, webhookId="default", status="pending")
        assert all(row["nextAttemptAt"] for row in rows) and rows[-1]["lastError"] == "HTTP 500"
        assert rows[-1]["attempts"] >= 1 and all(row["lastError"] is None for row in rows[:-1])
        delivered = await deliveries(admin, iid, webhookId=only_in["id"], status="delivered")
        assert len(delivered) == 20 and all(d["lastError"] is None and d["lastStatusCode"] == 200 for d in delivered)
        created = [d["createdAt"] for d in delivered]
        assert created == sorted(created, reverse=True) and created[0] > created[-1]  # newest first
        first_page = await deliveries(admin, iid, webhookId=only_in["id"], limit=1)
        assert first_page[0]["id"] == delivered[0]["id"]  # newest first
        await admin.delete(f"/api/instances/{iid}")


async def test_a_url_change_sends_the_backlog_to_the_new_url_at_once(admin: Api) -> None:
    with Receiver() as rx:
        iid = await admin.connected_instance("Move")
        moving = await add_target(
            admin, iid, url=rx.on("/gone", status=500), events=["message_received"], retryInterval=60000, maxRetries=10
        )
        wid = moving["id"]
        await incoming(admin, iid, *(f"q{i}" for i in range(5)))
        await wait_for(lambda: len(rx.at("/gone")) == 1)  # the first failed once and waits a minute
        rows = await poll(lambda: deliveries(admin, iid, webhookId=wid), lambda rs: rs[-1]["attempts"] == 1)
        assert [r["status"] for r in rows] == ["pending"] * 5 and all(r["nextAttemptAt"] for r in rows)
        assert rows[-1]["lastError"] == "HTTP 500" and rows[-1]["nextAttemptAt"] > rows[-1]["createdAt"]
        started = time.monotonic()
        r = await admin.put(f"/api/instances/{iid}/webhooks/{wid}", json={"url": rx.on("/new")})
        assert r.status_code == 200 and r.json()["url"].endswith("/new"), r.text
        await wait_for(lambda: len(bodies(rx, "/new")) == 1)
        first = time.monotonic() - started
        await wait_for(lambda: len(bodies(rx, "/new")) == 5)
        every = time.monotonic() - started
        print(f"\nURL change: first delivery at the new URL {first:.2f} s after the PUT, all 5 in {every:.2f} s")
        assert every < 10  # not after the minute the first row had left to wait
        assert bodies(rx, "/new") == [f"q{i}" for i in range(5)]
        assert [r.headers["x-webhook-attempt"] for r in rx.at("/new")] == ["1"] * 5
        assert rx.at("/new")[0].headers["x-webhook-id"] == rx.at("/gone")[0].headers["x-webhook-id"]
        done = await poll(lambda: deliveries(admin, iid, webhookId=wid), lambda rs: rs[0]["status"] == "delivered")
        assert {(d["status"], d["url"].endswith("/new"), d["lastError"]) for d in done} == {("delivered", True, None)}
        await trio.sleep(0.3)
        assert len(rx.at("/gone")) == 1  # the old URL got nothing more
        await admin.delete(f"/api/instances/{iid}")


async def test_disable_cancels_then_enable_and_retry_failed_delivers_and_delete_keeps_history(admin: Api) -> None:
    with Receiver() as rx:
        iid = await admin.connected_instance("Toggle")
        t = await add_target(admin, iid, url=rx.on("/t", status=500), events=["*"], retryInterval=60000)
        url = f"/api/instances/{iid}/webhooks/{t['id']}"
        await incoming(admin, iid, "c0", "c1", "c2")
        await wait_for(lambda: len(rx.at("/t")) == 1)
        r = await admin.put(url, json={"enabled": False})
        assert r.status_code == 200 and r.json()["state"] == "disabled" and r.json()["cancelled"] == 3, r.text
        cancelled = await deliveries(admin, iid, webhookId=t["id"], status="cancelled")
        assert len(cancelled) == 3 and all(d["nextAttemptAt"] is None for d in cancelled)
        error(
            await admin.post(f"/api/instances/{iid}/webhook/deliveries/{cancelled[0]['id']}/retry"),
            409,
            "webhook_disabled",
        )
        r = await admin.put(url, json={"enabled": True, "url": rx.on("/ok")})
        assert r.status_code == 200 and r.json()["state"] == "ok"
        await trio.sleep(0.3)
        assert rx.at("/ok") == []  # cancelled stays cancelled until retried
        r = await admin.post(f"/api/instances/{iid}/webhook/deliveries/retry-failed", params={"webhookId": t["id"]})
        assert r.status_code == 200 and r.json()["count"] == 3
        await wait_for(lambda: bodies(rx, "/ok") == ["c0", "c1", "c2"])
        await poll(lambda: deliveries(admin, iid, webhookId=t["id"], status="delivered"), lambda rs: len(rs) == 3)

        assert (await admin.delete(url)).status_code == 200
        assert [x["id"] for x in await targets(admin, iid)] == ["default"]
        assert len(await deliveries(admin, iid, webhookId=t["id"])) == 3  # its history stays
        error(await admin.put(url, json={"enabled": True}), 404, "webhook_not_found")
        error(await admin.delete(url), 404, "webhook_not_found")

        default = f"/api/instances/{iid}/webhooks/default"
        r = await admin.put(default, json={"url": rx.on("/d"), "enabled": True, "secret": "k", "maxRetries": 1})
        assert r.status_code == 200 and r.json()["secret"] == "***" and r.json()["maxRetries"] == 1, r.text
        inst = (await admin.get(f"/api/instances/{iid}")).json()
        assert inst["webhookUrl"].endswith("/d") and inst["webhookSettings"]["maxRetries"] == 1
        assert error(await admin.put(default, json={"events": ["*"]}), 400, "validation_error")["details"]["events"]
        assert (await admin.delete(default)).status_code == 200
        inst = (await admin.get(f"/api/instances/{iid}")).json()
        assert inst["webhookUrl"] is None and inst["webhookEnabled"] is False
        await admin.delete(f"/api/instances/{iid}")


async def test_replay_keeps_the_original_ids_and_bad_input_is_refused(admin: Api, unique_email: Any) -> None:
    with Receiver() as rx:
        iid = await admin.connected_instance("Replay")
        t = await add_target(admin, iid, url=rx.on("/r"), events=["message_received"])
        replay = f"/api/instances/{iid}/webhooks/{t['id']}/replay"
        before = (await admin.get(f"/api/instances/{iid}/events", params={"limit": 1})).json()["cursor"]
        since = iso_ms(int(time.time() * 1000))
        await trio.sleep(0.01)
        await incoming(admin, iid, "p0", "p1", "p2")
        await wait_for(lambda: bodies(rx, "/r") == ["p0", "p1", "p2"])
        await poll(lambda: deliveries(admin, iid, webhookId=t["id"], status="delivered"), lambda rs: len(rs) == 3)
        original = {r.json["data"]["body"]: (r.headers["x-webhook-id"], r.body) for r in rx.at("/r")}

        r = await admin.post(replay, json={"since": since})
        assert r.status_code == 200 and r.json() == {"queued": 3, "truncated": False, "cursor": None}, r.text
        await wait_for(lambda: len(bodies(rx, "/r")) == 6)
        r = await admin.post(replay, json={"after": before})
        assert r.status_code == 200 and r.json()["queued"] == 3
        await wait_for(lambda: len(bodies(rx, "/r")) == 9)
        for got in rx.at("/r")[3:]:
            assert (got.headers["x-webhook-id"], got.body) == original[got.json["data"]["body"]]
        assert bodies(rx, "/r")[3:] == ["p0", "p1", "p2"] * 2
        assert len(await deliveries(admin, iid, webhookId=t["id"])) == 3  # queued again, never doubled

        for bad in ({"since": since, "after": before}, {}, {"since": "yesterday"}, {"after": "%%%"}):
            error(await admin.post(replay, json=bad), 400, "validation_error")
        error(
            await admin.post(f"/api/instances/{iid}/webhooks/wh_nope/replay", json={"since": since}),
            404,
            "webhook_not_found",
        )

        unknown = await admin.post(f"/api/instances/{iid}/webhooks", json={"url": rx.url, "events": ["x", "y"]})
        assert error(unknown, 400, "validation_error")["details"]["unknown"] == ["x", "y"]
        for i in range(9):
            await add_target(admin, iid, url=rx.on(f"/more{i}"), events=["*"])
        r = await admin.post(f"/api/instances/{iid}/webhooks", json={"url": rx.url, "events": ["*"]})
        error(r, 409, "too_many_webhooks")
        assert len(await targets(admin, iid)) == 11

        user = await admin.new_user(unique_email("targets"))
        async with Api(str(admin.http.base_url), api_key=user["apiKey"]) as plain:
            mine = await plain.create_instance("Mine")
            r = await plain.post(f"/api/instances/{mine['id']}/webhooks", json={"url": rx.url, "events": ["*"]})
            error(r, 400, "url_not_allowed")
            error(await plain.get(f"/api/instances/{iid}/webhooks"), 404, "not_found")
            await plain.delete(f"/api/instances/{mine['id']}")
        await admin.delete(f"/api/instances/{iid}")


@pytest.mark.store_matters(*SQLITE_AND_MONGODB)
async def test_a_rebuild_reproduces_targets_and_delivery_states(server_factory: Any, tmp_path: Any) -> None:
    data = tmp_path / "rebuild"
    with Receiver() as rx:
        srv = server_factory(data, ALLOW_PRIVATE_URLS="1")
        async with Api(srv.url, token=srv.admin_token()) as api:
            iid = await api.connected_instance("Rebuild", webhookUrl=rx.on("/d"), webhookEnabled=True)
            ok = await add_target(api, iid, url=rx.on("/ok"), events=["message_received"], secret="s")
            failing = await add_target(api, iid, url=rx.on("/no", status=500), events=["*"], maxRetries=0)
            off = await add_target(api, iid, url=rx.on("/off", status=500), events=["*"], retryInterval=60000)
            await incoming(api, iid, "z0", "z1")
            await wait_for(lambda: len(rx.at("/off")) == 1)
            assert (
                await api.put(f"/api/instances/{iid}/webhooks/{off['id']}", json={"enabled": False})
            ).status_code == 200
            r = await api.post(
                f"/api/instances/{iid}/webhooks/{ok['id']}/replay", json={"since": "2000-01-01T00:00:00Z"}
            )
            assert r.json()["queued"] == 2

            def settled(rows: list[dict[str, Any]]) -> bool:
                return len(rows) >= 8 and not any(x["status"] == "pending" for x in rows)

            rows = await poll(lambda: deliveries(api, iid), settled)
            listed = await targets(api, iid)
        srv.stop()
        assert {x["status"] for x in rows} == {"delivered", "failed", "cancelled"}
        out = srv.cli("rebuild")
        assert out.returncode == 0, out.stderr
        again = server_factory(data, ALLOW_PRIVATE_URLS="1")
        async with Api(again.url, token=again.admin_token()) as api:
            after = await deliveries(api, iid)
            relisted = await targets(api, iid)

    def shape(row: dict[str, Any]) -> tuple[Any, ...]:
        return row["id"], row["webhookId"], row["event"], row["status"], row["attempts"], row["url"], row["lastError"]

    # The restarted instance connects again: rows of its new events come on top; the old ones are as they were.
    before_ids = {x["id"] for x in rows}
    assert [shape(x) for x in after if x["id"] in before_ids] == [shape(x) for x in rows]
    volatile = ("state", "nextAttemptAt", "lastError", "pending", "failed", "cancelled")
    assert [{k: v for k, v in t.items() if k not in volatile} for t in relisted] == [
        {k: v for k, v in t.items() if k not in volatile} for t in listed
    ]
    assert [t["id"] for t in relisted] == ["default", ok["id"], failing["id"], off["id"]]


async def test_kill_9_during_a_replay_queues_all_or_nothing_and_never_twice(server_factory: Any, tmp_path: Any) -> None:
    data = tmp_path / "replay-crash"
    count = 1500  # two replay events (at most 1000 items each), recorded in one append
    with Receiver() as rx:
        srv = server_factory(data, ALLOW_PRIVATE_URLS="1")
        async with Api(srv.url, token=srv.admin_token()) as api:
            iid = await api.connected_instance("Crash replay")
            async with trio.open_nursery() as nursery:
                for worker in range(10):
                    nursery.start_soon(incoming, api, iid, *(f"k{worker}-{i}" for i in range(count // 10)))
            # Added afterwards: it has no rows until the replay queues the past for it.
            t = await add_target(
                api, iid, url=rx.on("/k", status=500), events=["message_received"], retryInterval=60000
            )
            answered: list[int] = []

            async def replay() -> None:
                try:
                    r = await api.post(f"/api/instances/{iid}/webhooks/{t['id']}/replay", json={"since": EPOCH})
                    answered.append(r.json()["queued"])
                except Exception:  # killed while it ran: no answer
                    pass

            async with trio.open_nursery() as nursery:
                nursery.start_soon(replay)
                await trio.sleep(random.uniform(0.05, 0.5))
                srv.kill()
        again = server_factory(data, ALLOW_PRIVATE_URLS="1")
        async with Api(again.url, token=again.admin_token()) as api:

            async def total() -> int:
                params = {"webhookId": t["id"], "limit": 1}
                r = await api.get(f"/api/instances/{iid}/webhook/deliveries", params=params)
                return int(r.json()["pagination"]["total"])

            queued = await total()
            print(f"\nkill -9 during a replay of {count} events: {queued} queued (answered: {answered})")
            assert queued in (0, count)  # all of the replay or none of it
            assert queued == count or not answered  # an answered replay is all there
            r = await api.post(f"/api/instances/{iid}/webhooks/{t['id']}/replay", json={"since": EPOCH})
            assert r.status_code == 200 and r.json()["queued"] == count
            assert await total() == count  # queued again, never a second row for one event and target
            again.stop()
