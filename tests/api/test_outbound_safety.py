"""§8 outbound safety over real HTTP: custom headers, the outbound-URL rule, and deliveries that cannot be sent.

The servers here run with the rule active (no ALLOW_PRIVATE_URLS) unless a test turns it on.
Loopback receivers stand in for "a private address": users may not reach them, admins may.
"""

from __future__ import annotations

import signal
import uuid
from typing import Any

import trio

from tests.harness import Api, ServerProcess
from tests.receiver import Receiver
from wamux.adapters.webhook_http import UNREACHABLE
from wamux.domain.clock import iso_ms
from wamux.projections.outbox import DELIVERIES

BAD_HEADERS = [
    {"X-Note": "日本"},  # not Latin-1 (this crashed the server: UnicodeEncodeError in the dispatcher)
    {"X-Split": "a\r\nX-Injected: 1"},
    {"X-Ctl": "a\x01"},
    {"Bad Name": "v"},
    {"Host": "internal.example"},
    {"Content-Length": "0"},
    {"Transfer-Encoding": "chunked"},
    {"Connection": "close"},
    {"X-Webhook-Signature": "forged"},
    {"X-Big": "v" * 1025},
    {f"X-H{i}": "v" for i in range(21)},
]
PRIVATE_URLS = [
    "http://127.0.0.1:9/hook",
    "http://localhost:9/hook",
    "http://[::1]:9/hook",
    "http://[::ffff:127.0.0.1]:9/hook",
    "http://169.254.169.254/latest/meta-data",
    "http://10.0.0.1/hook",
    "http://192.168.1.1/hook",
    "http://100.64.0.1/hook",
    "http://0.0.0.0:9/hook",
    "http://2130706433/hook",  # 127.0.0.1 as one number
]


async def until(predicate: Any, timeout: float = 15.0) -> None:
    with trio.fail_after(timeout):
        while not await predicate():
            await trio.sleep(0.05)


async def deliveries(api: Api, iid: str, status: str | None = None) -> list[dict[str, Any]]:
    params = {"status": status} if status else {}
    r = await api.get(f"/api/instances/{iid}/webhook/deliveries", params=params)
    assert r.status_code == 200, r.text
    return list(r.json()["deliveries"])


def assert_400(r: Any, code: str, field: str) -> None:
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["code"] == code and body["error"] and field in body["details"], body


async def test_custom_headers_outside_the_rules_are_refused(admin: Api) -> None:
    for headers in BAD_HEADERS:
        assert_400(
            await admin.post("/api/instances", json={"name": "H", "headers": headers}), "validation_error", "headers"
        )
    inst = await admin.create_instance("Headers", headers={"X-Tenant": "acme"})
    url = f"/api/instances/{inst['id']}"
    for headers in BAD_HEADERS:
        r = await admin.put(url, json={"webhookSettings": {"headers": headers}})
        assert_400(r, "validation_error", "headers")
    got = (await admin.get(url)).json()["webhookSettings"]["headers"]
    assert got == {"X-Tenant": "acme"}  # nothing half-stored
    ok = {f"X-H{i}": "v" * 1024 for i in range(20)}
    assert (await admin.put(url, json={"webhookSettings": {"headers": ok}})).status_code == 200


async def test_latin1_header_values_are_delivered_as_latin1(admin: Api) -> None:
    with Receiver() as rx:
        url = rx.on("/latin1")
        await admin.create_instance(
            "Latin1", webhookUrl=url, webhookEnabled=True, headers={"X-Note": "café"}, retryInterval=50
        )
        await until(lambda: _true(rx.at("/latin1", ok_only=True)))
        assert rx.at("/latin1")[0].headers["x-note"] == "café"  # http.server decodes headers as Latin-1


async def _true(value: object) -> bool:
    return bool(value)


async def test_malformed_webhook_urls_are_400_not_500(admin: Api) -> None:
    for bad in ("http://[::1/", "http://host:99999/", "ftp://example.com/", "http://exa mple.com/", 12):
        assert_400(
            await admin.post("/api/instances", json={"name": "U", "webhookUrl": bad}), "validation_error", "webhookUrl"
        )
    inst = await admin.create_instance("U")
    r = await admin.put(f"/api/instances/{inst['id']}", json={"webhookUrl": "http://[::1/"})
    assert_400(r, "validation_error", "webhookUrl")


async def test_users_may_not_target_private_addresses_admins_may(
    admin: Api, server: ServerProcess, unique_email: Any
) -> None:
    user = await admin.new_user(unique_email("ssrf"))
    async with Api(server.url, api_key=user["apiKey"]) as plain:
        for url in PRIVATE_URLS:
            r = await plain.post("/api/instances", json={"name": "S", "webhookUrl": url})
            assert_400(r, "url_not_allowed", "url")
        # A name that does not resolve (yet) is accepted; the connect-time check still applies later.
        inst = await plain.create_instance("Public", webhookUrl="https://hooks.example.invalid/x")
        for url in PRIVATE_URLS[:3]:
            r = await plain.put(f"/api/instances/{inst['id']}", json={"webhookUrl": url})
            assert_400(r, "url_not_allowed", "url")
        # webhook/test on a public target: one generic error for any failure before a response.
        r = await plain.post(f"/api/instances/{inst['id']}/webhook/test")
        assert r.status_code == 200 and r.json()["success"] is False and r.json()["error"] == UNREACHABLE
        # send-media: the same rule.
        iid = await plain.connected_instance("Media", admin=admin)
        for url in ("http://127.0.0.1:9/x.png", "http://[::1]:9/x.png", "http://169.254.169.254/x"):
            r = await plain.post(f"/api/whatsapp/{iid}/send-media", json={"phone": "79001234567", "url": url})
            assert_400(r, "url_not_allowed", "url")
    # Admins may use private targets (their instances, their fetches).
    owned = await admin.create_instance("AdminHook", webhookUrl="http://127.0.0.1:9/hook")
    r = await admin.post(f"/api/instances/{owned['id']}/webhook/test")
    assert r.status_code == 200 and r.json()["success"] is False and r.json()["error"] != UNREACHABLE
    # An admin cannot hand a user's instance a private target either: the owner's policy decides.
    r = await admin.put(f"/api/instances/{inst['id']}", json={"webhookUrl": "http://127.0.0.1:9/hook"})
    assert_400(r, "url_not_allowed", "url")


async def test_allow_private_urls_then_the_rule_at_connect_time(server_factory, tmp_path, unique_email) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "data"
    with Receiver() as rx:
        hook = rx.on("/user-hook")
        admin_hook = rx.on("/admin-hook")
        first: ServerProcess = server_factory(data, ALLOW_PRIVATE_URLS="1")
        async with Api(first.url, token=first.admin_token()) as admin:
            user = await admin.new_user(unique_email("private"))
            async with Api(first.url, api_key=user["apiKey"]) as plain:
                iid = await plain.connected_instance(
                    "Private", admin=admin, webhookUrl=hook, webhookEnabled=True, retryInterval=50
                )
            admin_iid = await admin.connected_instance(
                "Mine", phone="79007654321", webhookUrl=admin_hook, webhookEnabled=True, retryInterval=50
            )
            await until(lambda: _true(rx.at("/user-hook", ok_only=True)))  # with the flag, users may
        first.stop()
        before = len(rx.at("/user-hook"))

        # Same data, the rule back on: the stored private target is refused where it is used.
        second: ServerProcess = server_factory(data)
        async with (
            Api(second.url, token=second.admin_token()) as admin,
            Api(second.url, api_key=user["apiKey"]) as plain,
        ):
            r = await plain.post(f"/api/instances/{iid}/webhook/test")
            assert_400(r, "url_not_allowed", "url")
            for target in (iid, admin_iid):
                r = await admin.post(
                    f"/api/simulator/instances/{target}/incoming", json={"from": "79005554433", "body": "ping"}
                )
                assert r.status_code == 200, r.text

            async def refused() -> bool:
                return any(d["event"] == "message_received" for d in await deliveries(plain, iid, "failed"))

            await until(refused)
            row = next(d for d in await deliveries(plain, iid, "failed") if d["event"] == "message_received")
            assert row["lastError"].startswith("url_not_allowed:") and row["attempts"] == 1
            assert len(rx.at("/user-hook")) == before  # no connection was made for the user's instance
            await until(lambda: _admin_got_ping(rx))  # the admin's instance delivers to loopback as before


async def _admin_got_ping(rx: Receiver) -> bool:
    return any(r.json["event"] == "message_received" for r in rx.at("/admin-hook", ok_only=True))


def _poison_rows(srv: ServerProcess, instance_id: str) -> list[str]:
    """Write pending outbox rows that cannot be sent straight into the stopped server's read-model store."""
    rm: Any
    if srv.env.get("DATABASE_PROVIDER") == "mongodb":
        from wamux.adapters.readmodels.mongo import MongoReadModelStore

        rm = MongoReadModelStore(srv.env["DATABASE_URL"])
    elif srv.env.get("DATABASE_PROVIDER") == "postgres":
        from wamux.adapters.readmodels.postgres import PostgresReadModelStore

        rm = PostgresReadModelStore(srv.env["DATABASE_URL"])
    else:
        from wamux.adapters.readmodels.sqlite import SQLiteReadModelStore

        rm = SQLiteReadModelStore(str(srv.data_dir / "whatsapp-api.readmodels.db"))
    now = 1_700_000_000_000
    poisons: list[tuple[str, Any]] = [
        ("http://127.0.0.1:1/x", {"X-Note": "日本"}),  # written before header validation existed
        ("http://[::1/", {}),  # a URL httpx cannot parse (InvalidURL is no httpx.HTTPError)
        ("http://127.0.0.1:1/x", {"X-Split": "a\r\nHost: evil"}),
        ("http://127.0.0.1:1/x", ["not", "an", "object"]),
    ]
    ids = []
    position = rm.position("outbox")

    def work(session: Any) -> None:
        for url, headers in poisons:
            did = str(uuid.uuid4())
            ids.append(did)
            session.put(
                DELIVERIES,
                did,
                {
                    "id": did,
                    "instanceId": instance_id,
                    "event": "message_received",
                    "url": url,
                    "headers": {**headers, "X-Webhook-Id": did} if isinstance(headers, dict) else headers,
                    "body": '{"event":"message_received","data":{}}',
                    "maxRetries": 3,
                    "retryInterval": 50,
                    "status": "pending",
                    "attempts": 0,
                    "lastStatusCode": None,
                    "lastError": None,
                    "position": position,
                    "createdMs": now,
                    "createdAt": iso_ms(now),
                    "updatedAt": iso_ms(now),
                    "deliveredAt": None,
                },
            )

    rm.apply("outbox", position, work)  # at the position the outbox already has: only rows are added
    rm.close()
    return ids


def _stop_cleanly(srv: ServerProcess) -> None:
    assert srv.proc is not None
    srv.proc.send_signal(signal.SIGTERM)
    assert srv.proc.wait(15) == 0, srv.log()[-3000:]


async def test_poisoned_outbox_rows_fail_alone_and_the_server_serves(server_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "data"
    with Receiver() as rx:
        hook = rx.on("/hook")
        first: ServerProcess = server_factory(data)
        async with Api(first.url, token=first.admin_token()) as admin:
            iid = await admin.connected_instance("Poisoned", webhookUrl=hook, webhookEnabled=True, retryInterval=50)
            await until(lambda: _true(rx.at("/hook", ok_only=True)))
        _stop_cleanly(first)
        poisoned = _poison_rows(first, iid)

        # A restart on this data directory serves, and answers SIGTERM.
        second: ServerProcess = server_factory(data)
        async with Api(second.url, token=second.admin_token()) as admin:
            assert (await admin.get("/api/health")).status_code == 200
        _stop_cleanly(second)

        third: ServerProcess = server_factory(data)
        async with Api(third.url, token=third.admin_token()) as admin:

            async def all_failed() -> bool:
                failed = {d["id"]: d for d in await deliveries(admin, iid, "failed")}
                return all(p in failed for p in poisoned)

            await until(all_failed)
            failed = {d["id"]: d for d in await deliveries(admin, iid, "failed")}
            for did in poisoned:
                assert failed[did]["lastError"] and failed[did]["attempts"] >= 1, failed[did]
            for did in (poisoned[0], poisoned[2], poisoned[3]):
                assert "cannot be sent" in failed[did]["lastError"], failed[did]
            # Other deliveries of the same instance (same lane) still go.
            r = await admin.post(
                f"/api/simulator/instances/{iid}/incoming", json={"from": "79005554433", "body": "after"}
            )
            assert r.status_code == 200
            await until(lambda: _got_body(rx, "after"))
            # A failed row stays retryable (and fails again, visibly).
            r = await admin.post(f"/api/instances/{iid}/webhook/deliveries/{poisoned[1]}/retry")
            assert r.status_code == 200
            assert (await admin.get("/api/health")).status_code == 200
        _stop_cleanly(third)


async def _got_body(rx: Receiver, body: str) -> bool:
    return any(
        r.json["event"] == "message_received" and r.json["data"].get("body") == body
        for r in rx.at("/hook", ok_only=True)
    )
