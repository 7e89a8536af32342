"""docs/openapi.yaml against the code: the same routes, and real answers that validate against its schemas."""

from __future__ import annotations

import base64
import json
import re
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import trio
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.harness import Api, ServerProcess, wait_for
from tests.receiver import Receiver

ROOT = Path(__file__).resolve().parents[2]
SPEC_PATH = ROOT / "docs" / "openapi.yaml"
SPEC_URI = "urn:wamux:openapi"
METHODS = ("get", "post", "put", "patch", "delete")
Operation = tuple[str, str]  # (METHOD, /path/{template})


@cache
def spec() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    return doc


@cache
def registry() -> Registry:
    return Registry().with_resource(SPEC_URI, Resource(contents=spec(), specification=DRAFT202012))


def validator(pointer: str) -> Draft202012Validator:
    return Draft202012Validator(
        {"$ref": f"{SPEC_URI}#{pointer}"}, registry=registry(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part.title() for part in rest)


def openapi_path(rule: str) -> str:
    """`/api/instances/<instance_id>` -> `/api/instances/{instanceId}`."""
    return re.sub(r"<(?:\w+(?:\([^)]*\))?:)?(\w+)>", lambda m: "{" + camel(m.group(1)) + "}", rule)


def spec_operations(*, pending: bool | None = None) -> set[Operation]:
    """Every operation; only the pending (`x-wamux-pending`) ones, or only the others."""
    out = set()
    for path, item in spec()["paths"].items():
        for method in METHODS:
            op = item.get(method)
            if op is not None and (pending is None or bool(op.get("x-wamux-pending")) == pending):
                out.add((method.upper(), path))
    return out


def app_operations() -> set[Operation]:
    """What the Quart app routes (static files aside), built the way `run.bootstrap` builds it."""
    from wamux.http.app import create_app
    from wamux.run.bootstrap import PUBLIC_DIR

    stub = SimpleNamespace(max_body_bytes=1024, usecases=SimpleNamespace(usage=None))
    app = create_app(stub, log=None, public_dir=PUBLIC_DIR)  # type: ignore[arg-type]
    out = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            out.add((method, openapi_path(rule.rule)))
    return out


# ---- (a) the same routes ---------------------------------------------------------------------


def test_spec_is_openapi_3_1_and_every_schema_is_valid_json_schema() -> None:
    doc = spec()
    assert doc["openapi"].startswith("3.1")
    assert {"bearerAuth", "apiKeyAuth"} <= set(doc["components"]["securitySchemes"])
    for name, schema in doc["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema)
        for example in schema.get("examples", []):
            errors = list(validator(f"/components/schemas/{name}").iter_errors(example))
            assert not errors, f"example of {name}: {errors[0].message}"
    error = doc["components"]["schemas"]["Error"]
    assert error["required"] == ["error", "code"] and "details" in error["properties"]


def test_every_served_route_is_described() -> None:
    missing = app_operations() - spec_operations()
    assert not missing, f"served but not in docs/openapi.yaml: {sorted(missing)}"


def test_every_described_route_is_served() -> None:
    served = app_operations()
    missing = spec_operations(pending=False) - served
    assert not missing, f"in docs/openapi.yaml but not served: {sorted(missing)}"
    now_served = spec_operations(pending=True) & served
    assert not now_served, f"served now: drop `x-wamux-pending` from these in docs/openapi.yaml: {sorted(now_served)}"


async def test_every_described_route_answers_on_the_live_server(server: ServerProcess, admin: Api) -> None:
    """Probe each operation as a plain user with fake ids: never a routing 404 or a 405."""
    user = await admin.new_user(f"probe-{id(object())}@example.com")
    async with Api(server.url, api_key=user["apiKey"]) as api:
        for method, path in sorted(spec_operations(pending=False)):
            url = re.sub(r"\{\w+\}", "no-such-id", path)
            r = await api.http.request(method, url, json={} if method in ("POST", "PUT") else None)
            routed_404 = r.status_code == 404 and r.headers.get("content-type", "").startswith("application/json")
            assert not (routed_404 and r.json().get("error") == "route not found"), f"{method} {path}: not routed"
            assert r.status_code != 405, f"{method} {path}: method not allowed"


# ---- (b) real answers validate -------------------------------------------------------------


class Checker:
    """Validates each response against the operation's documented answer for its status code."""

    def __init__(self) -> None:
        self.seen: set[tuple[str, str, int]] = set()

    def __call__(self, r: httpx.Response, method: str, path: str, status: int | None = None) -> Any:
        if status is not None:
            assert r.status_code == status, f"{method} {path}: {r.status_code} {r.text[:300]}"
        op = spec()["paths"][path][method.lower()]
        code = str(r.status_code)
        assert code in op["responses"], f"{method} {path} answered undocumented {code}: {r.text[:300]}"
        pointer = f"/paths/{escape(path)}/{method.lower()}/responses/{code}"
        response = op["responses"][code]
        if "$ref" in response:
            pointer = response["$ref"][1:]
            response = spec()["components"]["responses"][pointer.rsplit("/", 1)[-1]]
        content = response.get("content", {})
        mime = r.headers.get("content-type", "").split(";")[0].strip()
        self.seen.add((method, path, r.status_code))
        assert r.headers.get("x-request-id"), f"{method} {path}: no X-Request-Id"
        if mime == "application/json":
            assert mime in content, f"{method} {path} {code}: JSON is not documented"
            body = r.json()
            errors = sorted(validator(f"{pointer}/content/{escape(mime)}/schema").iter_errors(body), key=str)
            assert not errors, f"{method} {path} {code}: {errors[0].message} at {list(errors[0].absolute_path)}"
            return body
        assert mime in content or "application/octet-stream" in content, f"{method} {path} {code}: {mime}"
        return r.content if r.is_stream_consumed or not isinstance(r.stream, httpx.AsyncByteStream) else None


def validate_event(doc: dict[str, Any]) -> None:
    errors = list(validator("/components/schemas/Event").iter_errors(doc))
    assert not errors, f"event {doc.get('type')}: {errors[0].message}"


async def test_responses_of_a_scripted_flow_match_the_spec(server: ServerProcess, admin: Api) -> None:
    check = Checker()
    anon = httpx.AsyncClient(base_url=server.url, timeout=30)
    rx = Receiver().__enter__()
    try:
        await _flow(check, admin, anon, server, rx)
    finally:
        await anon.aclose()
        rx.__exit__(None, None, None)
    # Webhook bodies as received validate against the `webhooks` section, with the documented headers.
    events = set()
    for req in rx.at("/hook"):
        body = req.json
        events.add(body["event"])
        pointer = f"/webhooks/{escape(body['event'])}/post/requestBody/content/application~1json/schema"
        errors = list(validator(pointer).iter_errors(body))
        assert not errors, f"webhook {body['event']}: {errors[0].message}"
        expected = {h["name"] for h in spec()["webhooks"][body["event"]]["post"]["parameters"] if h["required"]}
        expected |= {"X-Webhook-Signature"} | ({"X-Webhook-Attempt"} if body["event"] != "test" else set())
        for name in expected:
            assert name.lower() in req.headers, f"{body['event']}: no {name}"
    assert {"qr_received", "connected", "message_sent", "message_received", "message_status", "test"} <= events
    covered = {(m, p) for m, p, _ in check.seen}
    assert len(covered) >= 50, f"only {len(covered)} operations exercised"


class Flow:
    """Calls `METHOD template` with the flow's ids filled in, and checks the answer against the spec."""

    def __init__(self, check: Checker) -> None:
        self.check = check
        self.ids: dict[str, str] = {}

    async def __call__(
        self, client: Api | httpx.AsyncClient, method: str, template: str, status: int | None = None, **kw: Any
    ) -> Any:
        ids = {**self.ids, **kw.pop("ids", {})}
        http = client.http if isinstance(client, Api) else client
        r = await http.request(method, template.format(**ids), **kw)
        return self.check(r, method, template, status)


async def _flow(check: Checker, admin: Api, anon: httpx.AsyncClient, server: ServerProcess, rx: Receiver) -> None:
    call = Flow(check)
    inst = "/api/instances/{instanceId}"
    wa = "/api/whatsapp/{instanceId}"
    sim = "/api/simulator/instances/{instanceId}"

    # System and auth
    await call(anon, "GET", "/api/health", 200)
    await call(anon, "GET", "/api/auth/me", 401)
    await call(anon, "POST", "/api/auth/login", 401, json={"email": "nobody@example.com", "password": "wrong-pass"})
    await call(anon, "POST", "/api/auth/login", 400, content=b"{", headers={"Content-Type": "application/json"})
    await call(anon, "POST", "/api/auth/login", 415, content=b"{}")
    await call(admin, "GET", "/api/auth/me", 200)
    await call(anon, "GET", "/api/meta", 401)
    await call(admin, "GET", "/api/meta", 200)

    # Users
    email = f"oas-{id(object())}@example.com"
    new = {"email": email, "password": "password-1", "firstName": "Ann", "lastName": "Lee", "role": "user"}
    user = await call(admin, "POST", "/api/users", 201, json=new)
    await call(admin, "POST", "/api/users", 409, json=new)
    await call(admin, "POST", "/api/users", 400, json={"email": "x"})
    await call(admin, "GET", "/api/users", 200)
    call.ids["userId"] = uid = user["id"]
    await call(admin, "GET", "/api/users/{userId}", 200)
    await call(admin, "GET", "/api/users/{userId}", 404, ids={"userId": "no-such-user"})
    await call(admin, "PUT", "/api/users/{userId}", 200, json={"firstName": "Anna"})
    login = {"email": email, "password": "password-1", "rotateApiKey": True}
    session = await call(anon, "POST", "/api/auth/login", 200, json=login)
    assert session["user"]["apiKey"]
    async with Api(server.url, token=session["token"]) as plain:
        await call(plain, "POST", "/api/auth/api-key", 200)
        await call(plain, "GET", "/api/stats/system", 403)
        await call(plain, "GET", "/api/users", 403)
        await call(plain, "GET", "/api/users/{userId}", 200)

    # Instances
    body = {
        "name": "OpenAPI",
        "description": "checked against the spec",
        "webhookUrl": rx.on("/hook"),
        "webhookEnabled": True,
        "notifyDelivery": True,
        "notifyRead": True,
        "maxRetries": 1,
        "retryInterval": 100,
        "webhookSecret": "s3cret",
        "headers": {"X-Tenant": "acme"},
        "limits": {"maxApiCalls": 100000, "period": "month"},
    }
    created = await call(admin, "POST", "/api/instances", 201, json=body)
    call.ids["instanceId"] = iid = created["id"]
    await call(admin, "POST", "/api/instances", 400, json={"description": "no name"})
    await call(admin, "GET", "/api/instances", 200)
    await call(admin, "GET", inst, 200)
    await call(admin, "GET", inst, 404, ids={"instanceId": "no-such-instance"})
    await call(admin, "PUT", inst, 200, json={"description": "changed", "webhookSettings": {"maxRetries": 2}})
    await call(admin, "PUT", inst, 400, json={"name": ""})
    await call(admin, "GET", inst + "/status", 200)
    await call(admin, "GET", wa + "/status", 200)

    # QR, scan, connected
    with trio.fail_after(10):
        while "qrCode" not in await call(admin, "GET", inst + "/qr"):
            await trio.sleep(0.02)
    await call(admin, "GET", wa + "/qr", 200)
    assert (await call(admin, "GET", inst + "/qr", 200, params={"format": "svg"})).lstrip().startswith(b"<svg")
    assert (await call(admin, "GET", wa + "/qr", 200, params={"format": "png"})).startswith(b"\x89PNG")
    await call(admin, "GET", inst + "/qr", 400, params={"format": "gif"})
    await call(admin, "POST", wa + "/send", 409, json={"phone": "79001234567", "message": "too early"})
    await call(admin, "POST", sim + "/scan", 200, json={"phone": "79001112233", "pushName": "Me"})
    await admin.wait_status(iid, "connected")
    await call(admin, "GET", inst + "/qr", 409)
    await call(admin, "POST", inst + "/pair", 409, json={"phone": "79001112233"})

    # Sending
    sent = await call(admin, "POST", wa + "/send", 200, json={"phone": "+7 (900) 123-45-67", "message": "hello"})
    once = {"json": {"phone": "79001234567", "message": "once"}, "headers": {"Idempotency-Key": f"oas-{iid}"}}
    first = await call(admin, "POST", wa + "/send", 200, **once)
    replay = await admin.post(f"/api/whatsapp/{iid}/send", **once)
    assert check(replay, "POST", wa + "/send", 200) == first and replay.headers["Idempotent-Replayed"] == "true"
    await call(admin, "POST", wa + "/send", 400, json={"phone": "abc", "message": "x"})
    upload = {"file": ("note.txt", b"plain text file for the spec check\n", "text/plain")}
    await call(admin, "POST", wa + "/send-file", 200, data={"phone": "79001234567", "caption": "a"}, files=upload)
    await call(admin, "POST", wa + "/send-file", 400, json={})
    await call(admin, "POST", wa + "/send-media", 400, json={"phone": "79001234567", "url": "ftp://example.com/x.png"})
    await call(admin, "GET", sim + "/outbox", 200)
    await call(admin, "POST", sim + "/receipt", 200, json={"messageId": sent["id"], "status": "delivered"})
    await call(admin, "POST", sim + "/receipt", 200, json={"messageId": sent["id"], "status": "read"})

    # Incoming (text and media), chats, history, stored media
    await call(admin, "POST", sim + "/incoming", 200, json={"from": "79005554433", "body": "Hi!", "pushName": "John"})
    pdf = {"mimeType": "application/pdf", "fileName": "a.pdf", "data": base64.b64encode(b"%PDF-1.4\n%%EOF\n").decode()}
    got = await call(admin, "POST", sim + "/incoming", 200, json={"from": "79005554433", "media": pdf})
    await call(admin, "POST", sim + "/incoming", 400, json={})
    assert (await call(admin, "GET", inst + "/chats", 200))["chats"]
    chat = inst + "/chats/{chatId}"
    call.ids["chatId"] = "79005554433"
    with trio.fail_after(10):
        while len((await call(admin, "GET", chat + "/messages", 200))["messages"]) < 2:
            await trio.sleep(0.05)
    window = {"startDate": "2000-01-01T00:00:00.000Z", "endDate": "2100-01-01T00:00:00.000Z", "limit": 1}
    await call(admin, "GET", chat + "/messages", 200, params=window)
    await call(admin, "GET", chat + "/messages", 400, params={"limit": 0})
    await call(admin, "POST", chat + "/read", 200)
    media = inst + "/messages/{messageId}/media"
    await call(admin, "GET", media, 200, ids={"messageId": got["messageId"]})
    await call(admin, "GET", media, 404, ids={"messageId": "nope"})

    # Events: latest page, since=latestTimestamp, after=cursor, types filter, the SSE stream
    page = await call(admin, "GET", inst + "/events", 200, params={"limit": 1000})
    for event in page["events"]:
        validate_event(event)
    assert {"qr_received", "connected", "message_sent", "message_received", "message_status"} <= {
        e["type"] for e in page["events"]
    }
    received = [e["data"] for e in page["events"] if e["type"] == "message_received"]
    assert received[0]["from"] == "79005554433@s.whatsapp.net" and received[0]["body"] == "Hi!"
    since = {"since": page["events"][0]["timestamp"], "types": "message_received,message_sent"}
    await call(admin, "GET", inst + "/events", 200, params=since)
    assert (await call(admin, "GET", inst + "/events", 200, params={"after": page["cursor"]}))["count"] == 0
    await call(admin, "GET", inst + "/events", 400, params={"types": "nope"})
    await call(admin, "GET", inst + "/events", 400, params={"after": "%%%"})
    with trio.fail_after(10):
        stream = f"/api/instances/{iid}/events/stream"
        async with admin.http.stream("GET", stream, params={"since": "2000-01-01T00:00:00.000Z"}) as r:
            check(r, "GET", inst + "/events/stream", 200)
            async for line in r.aiter_lines():
                if line.startswith("data: "):
                    validate_event(json.loads(line[6:]))
                    break

    # Activity and statistics
    await call(admin, "GET", inst + "/activity", 200)
    acts = {"actions": "connected,qr_received", "startDate": "2000-01-01T00:00:00Z", "limit": 5}
    await call(admin, "GET", inst + "/activity", 200, params=acts)
    await call(admin, "GET", inst + "/activity", 400, params={"actions": "x"})
    for period in ("today", "week", "month", "year", "all"):
        await call(admin, "GET", "/api/stats/user", 200, params={"period": period})
        await call(admin, "GET", "/api/stats/instances/{instanceId}", 200, params={"period": period})
    await call(admin, "GET", "/api/stats/user", 400, params={"period": "decade"})
    await call(admin, "GET", "/api/stats/system", 200)

    # Contacts, under both prefixes
    book = {"contacts": [{"phone": "79001230001", "name": "Bob"}, {"phone": "1203630@g.us", "name": "Team"}]}
    await call(admin, "PUT", sim + "/contacts", 200, json=book)
    for prefix in (inst, wa):
        await call(admin, "GET", prefix + "/contacts", 200)
        await call(admin, "POST", prefix + "/contacts/import", 200)
        await call(admin, "POST", prefix + "/contacts/add", 200, json={"phone": "79001230002", "name": "Carol"})
        await call(admin, "POST", prefix + "/contacts/add", 400, json={"phone": "x"})
        save = {"number": "79001230003", "name": "Dan", "pushName": "D", "about": "hi"}
        await call(admin, "POST", prefix + "/contacts/save", 200, json=save)
        await call(admin, "GET", prefix + "/contacts/db", 200, params={"search": "a", "onlyGroups": "false"})
        await call(admin, "GET", prefix + "/contacts/db", 400, params={"onlyGroups": "maybe"})

    # Webhooks: wait for the deliveries, then the routes
    await wait_for(lambda: {"message_status", "message_received"} <= {r.json["event"] for r in rx.at("/hook")})
    hooks = inst + "/webhook/deliveries"
    deliveries = await call(admin, "GET", hooks, 200)
    await call(admin, "GET", hooks, 200, params={"status": "failed"})
    await call(admin, "GET", hooks, 400, params={"status": "lost"})
    await call(admin, "POST", hooks + "/{deliveryId}/retry", 200, ids={"deliveryId": deliveries["deliveries"][0]["id"]})
    await call(admin, "POST", hooks + "/{deliveryId}/retry", 404, ids={"deliveryId": "nope"})
    await call(admin, "POST", hooks + "/retry-failed", 200)
    await call(admin, "POST", inst + "/webhook/test", 200)

    # Faults, disconnect, reconnect, logout, pairing, deletion
    await call(admin, "POST", sim + "/faults", 200, json={"failNextSends": 1})
    await call(admin, "POST", sim + "/faults", 400, json={"nope": 1})
    failing = await admin.post(f"/api/whatsapp/{iid}/send", json={"phone": "79001234567", "message": "fails"})
    assert failing.status_code in (502, 503)
    check(failing, "POST", wa + "/send")
    await call(admin, "POST", sim + "/disconnect", 200, json={"reason": "connection_lost"})
    await admin.wait_status(iid, "connected")
    await call(admin, "POST", inst + "/reconnect", 200)
    await admin.wait_status(iid, "connected")
    await call(admin, "POST", wa + "/logout", 200)
    await admin.wait_status(iid, "logged_out")
    await call(admin, "GET", inst + "/qr", 409)
    await call(admin, "POST", inst + "/logout")
    await call(admin, "POST", inst + "/reconnect", 200)
    await admin.wait_qr(iid)
    assert (await call(admin, "POST", inst + "/pair", 200, json={"phone": "79001112233"}))["pairingCode"]
    await call(admin, "POST", inst + "/pair", 400, json={"phone": "1203630@g.us"})
    async with Api(server.url, token=session["token"]) as plain:  # another user's instance is not found
        await call(plain, "GET", inst, 404)
        await call(plain, "POST", sim + "/scan", 403)
    await call(admin, "DELETE", inst, 200)
    await call(admin, "GET", inst + "/status", 404)
    await call(admin, "DELETE", "/api/users/{userId}", 200)
    assert uid

    # Limits: a plain user's (N+1)th send is 429 (admins are never limited) and `limit_exceeded` is in the feed
    one_send = {"name": "Limited", "limits": {"maxMessagesSent": 1}}
    owner = await admin.new_user(f"limited-{id(object())}@example.com")
    async with Api(server.url, api_key=owner["apiKey"]) as plain:
        limited = await call(plain, "POST", "/api/instances", 201, json=one_send)
        call.ids["instanceId"] = limited["id"]
        await plain.wait_qr(limited["id"])
        await call(admin, "POST", sim + "/scan", 200, json={})
        await plain.wait_status(limited["id"], "connected")
        await call(plain, "POST", wa + "/send", 200, json={"phone": "79001234567", "message": "one"})
        await call(plain, "POST", wa + "/send", 429, json={"phone": "79001234567", "message": "two"})
        page = await call(plain, "GET", inst + "/events", 200)
        assert "limit_exceeded" in {e["type"] for e in page["events"]}
        await call(plain, "DELETE", inst, 200)

    # Database (read-only here: a real switch is test_store_switch's business)
    status = await call(admin, "GET", "/api/db/status", 200)
    await call(admin, "POST", "/api/db/switch", 400, json={"provider": "postgres"})
    await call(admin, "POST", "/api/db/switch", 409, json={"provider": status["provider"]})
    async with Api(server.url, api_key=user["apiKey"]) as plain:
        await call(plain, "GET", "/api/db/status", 401)  # the user was deleted above: its key is dead

    # The request id comes back; the description itself is public
    r = await admin.get("/api/auth/me", headers={"X-Request-Id": "trace-123"})
    assert r.headers["X-Request-Id"] == "trace-123"
    await call(anon, "GET", "/api/openapi.json", 200)


# ---- (c) public -----------------------------------------------------------------------------


async def test_openapi_json_and_docs_page_need_no_auth(server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as anon:
        r = await anon.get("/api/openapi.json")
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
        assert r.json() == json.loads(json.dumps(spec()))
        page = await anon.get("/docs")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert "<script>" not in page.text  # no inline script: the CSP forbids it
        assets = re.findall(r'(?:src|href)="(/vendor/swagger-ui/[^"]+)"', page.text)
        assert len(assets) == 3
        for asset in assets:
            got = await anon.get(asset)
            assert got.status_code == 200 and len(got.content) > 100, asset
        assert "/api/openapi.json" in (await anon.get("/vendor/swagger-ui/wamux-init.js")).text
        # The guides the reference links to are served; nothing else of the folder or outside it.
        linked = set(re.findall(r"\(/docs/guide/([a-z0-9-]+\.md)\)", spec()["info"]["description"]))
        assert linked >= {"api.md", "webhooks.md"}
        for name in linked:
            got = await anon.get(f"/docs/guide/{name}")
            assert got.status_code == 200 and got.headers["content-type"].startswith("text/markdown"), name
        assert (await anon.get("/docs/guide/api.md")).text.startswith("#")
        for bad in ("openapi.yaml", "nope.md", "API.md"):
            assert (await anon.get(f"/docs/guide/{bad}")).status_code == 404, bad
        outside = await anon.get("/docs/guide/..%2F..%2FREADME.md")
        assert outside.status_code >= 400 and "wamux" not in outside.text.lower()[:200], outside.text[:200]


@pytest.mark.parametrize("path", ["/api/openapi.json", "/docs"])
async def test_public_pages_ignore_a_bad_token(server: ServerProcess, path: str) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as anon:
        r = await anon.get(path, headers={"Authorization": "Bearer not-a-token"})
        assert r.status_code == 200
