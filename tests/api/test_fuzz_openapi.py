"""Schemathesis against the OpenAPI a real server serves: no 5xx, answers as documented, and the server lives on.

The fuzzer runs once as a plain user and once as an admin, with real ids in the path (an instance linked through
the simulator, a stored media message, a webhook delivery, a user), on SQLite only: the store does not change the
HTTP edge. `WAMUX_FUZZ_DEEP=1` turns the small normal run into a long one.
"""

from __future__ import annotations

import base64
import json
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.config import SchemathesisConfig
from schemathesis.schemas import BaseSchema
from schemathesis.specs.openapi import checks as oas_checks

from tests.api.test_openapi import Checker, spec, spec_operations, validator
from tests.harness import ADMIN_EMAIL, ADMIN_PASSWORD, ServerProcess

HOOK_URL = "http://webhook.invalid/fuzz"
DEEP = os.environ.get("WAMUX_FUZZ_DEEP") == "1"
MAX_EXAMPLES = int(os.environ.get("WAMUX_FUZZ_EXAMPLES", 200 if DEEP else 4))
NO_FAULTS = {
    "crashNextConnects": 0,
    "failNextConnects": 0,
    "failNextSends": 0,
    "permanentConnectFailure": False,
    "sendLatencyMs": 0,
    "unreachable": False,  # the network switch (`POST …/network`)
    "unresponsive": False,
}
# Where a 502/504 speaks for someone else (the media URL failed or was too slow), not for the server.
UPSTREAM = {
    ("POST", "/api/whatsapp/{instanceId}/send-media"),
    ("PUT", "/api/whatsapp/{instanceId}/groups/{groupId}/picture"),  # `{url}`: the download may fail
}


def no_server_failure(ctx: Any, response: Any, case: Case[Any]) -> None:
    """A 5xx is a defect, except an upstream's failure reported as 502/504 where the route fetches a URL."""
    status = response.status_code
    if status >= 500 and not (status in (502, 504) and (case.method.upper(), case.path) in UPSTREAM):
        raise AssertionError(f"server failure {status}: {response.text[:500]}")


CHECKS = [
    no_server_failure,
    oas_checks.status_code_conformance,
    oas_checks.content_type_conformance,
    oas_checks.response_schema_conformance,
    oas_checks.response_headers_conformance,
    oas_checks.negative_data_rejection,
    oas_checks.unsupported_method,
    oas_checks.allow_header_conformance,
]

# Calls that would pull the ground from under the rest of the run, with the reason.
EXCLUDED: dict[tuple[str, str], str] = {
    ("POST", "/api/auth/api-key"): "rotates the API key that authenticates the run",
    ("DELETE", "/api/instances/{instanceId}"): "deletes the linked instance every other call uses",
    ("POST", "/api/instances/{instanceId}/logout"): "unlinks the instance (a relink needs a new scan)",
    ("POST", "/api/whatsapp/{instanceId}/logout"): "unlinks the instance (a relink needs a new scan)",
    ("POST", "/api/db/switch"): "moves the whole server to another store",
    ("GET", "/api/instances/{instanceId}/events/stream"): "an endless stream: a call never ends",
    ("POST", "/api/simulator/instances/{instanceId}/history"): (
        "a valid body may push 200,000 messages, half a minute each; its sizes are tested in test_history_import.py"
    ),
}
USER_EXCLUDED: dict[tuple[str, str], str] = {
    ("DELETE", "/api/users/{userId}"): "the user would delete itself, and with it the run's key",
    ("POST", "/api/users/{userId}/api-key"): "rotates the user's own key, the one that authenticates the run",
}


@dataclass
class World:
    """The live server and the real ids the fuzzer puts in paths, per caller."""

    server: ServerProcess
    admin: httpx.Client  # authenticated by `admin_key`; puts the instance back between fuzzed calls
    admin_key: str
    user_key: str
    instance_id: str
    ids: dict[str, dict[str, str]] = field(default_factory=dict)


def _json(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, f"{r.request.method} {r.request.url}: {r.status_code} {r.text[:300]}"
    return r.json()


def _within(probe: Callable[[], Any], timeout: float) -> Any:
    """`probe()`'s first truthy value within `timeout` seconds, else None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.05)
    return None


def _wait(what: str, probe: Callable[[], Any], timeout: float = 15.0) -> Any:
    value = _within(probe, timeout)
    assert value, f"timed out waiting for {what}"
    return value


def relink(admin: httpx.Client, instance_id: str, timeout: float = 30.0, *, settle: bool = False) -> None:
    """Bring the instance back to `connected` (a fuzzed disconnect, reconnect, scan or fault may have moved it).

    A loop, not a sequence: right after a fuzzed disconnect the status may still read `connected` for a moment
    and then settle on `disconnected` (a reason such as `qr_timeout` does not reconnect by itself).
    """
    inst = f"/api/instances/{instance_id}"

    def status() -> str:
        return str(_json(admin.get(inst + "/status"))["status"])

    deadline = time.monotonic() + timeout
    nudged = -math.inf
    while time.monotonic() < deadline:
        current = status()
        if current == "connected":
            if not settle:
                return
            time.sleep(0.3)  # after a disconnect: is it still connected a moment later?
            if status() == "connected":
                return
            continue
        if current == "qr":
            _json(admin.post(f"/api/simulator/instances/{instance_id}/scan", json={"phone": "79001112233"}))
        elif current in ("disconnected", "logged_out", "failed") and time.monotonic() - nudged > 2.0:
            # Failed, waiting for /reconnect, or in a back-off: /reconnect starts it again at once.
            _json(admin.post(inst + "/reconnect"))
            nudged = time.monotonic()
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for the instance to connect (status {status()})")


def restore(admin: httpx.Client, instance_id: str, *, settle: bool = False) -> None:
    """Undo what a fuzzed call may have changed that would starve the calls after it (as the admin: never limited)."""
    _json(admin.post(f"/api/simulator/instances/{instance_id}/faults", json=NO_FAULTS))
    relink(admin, instance_id, settle=settle)
    unlimited = {"limits": None, "settings": {"sendIntervalMs": 0}, "webhookEnabled": True}
    _json(admin.put(f"/api/instances/{instance_id}", json=unlimited))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    server = ServerProcess(tmp_path_factory.mktemp("fuzz")).start()
    login = {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "rotateApiKey": True}
    admin_key = _json(httpx.post(server.url + "/api/auth/login", json=login, timeout=30))["user"]["apiKey"]
    admin = httpx.Client(base_url=server.url, timeout=30, headers={"x-api-key": admin_key})
    try:
        yield _populate(server, admin, admin_key)
        # Nothing the fuzzer sent may have ended the process.
        assert server.proc is not None and server.proc.poll() is None, f"server exited:\n{server.log()[-3000:]}"
        assert httpx.get(server.url + "/api/health", timeout=10).status_code == 200
    finally:
        admin.close()
        server.stop()


def _populate(server: ServerProcess, admin: httpx.Client, admin_key: str) -> World:
    new = {"password": "password-1", "firstName": "Fuzz", "lastName": "User", "role": "user"}
    user = _json(admin.post("/api/users", json={**new, "email": "fuzz-user@example.com"}), 201)
    victim = _json(admin.post("/api/users", json={**new, "email": "fuzz-victim@example.com"}), 201)
    with httpx.Client(base_url=server.url, timeout=30, headers={"x-api-key": user["apiKey"]}) as plain:
        iid = _json(plain.post("/api/instances", json={"name": "Fuzzed"}), 201)["id"]
    # A name that never resolves (RFC 2606): deliveries are recorded, and fail, without a receiver.
    _json(admin.put(f"/api/instances/{iid}", json={"webhookUrl": HOOK_URL, "webhookEnabled": True}))
    relink(admin, iid)
    sim = f"/api/simulator/instances/{iid}"
    _json(admin.post(f"/api/whatsapp/{iid}/send", json={"phone": "79005554433", "message": "hello"}))
    media = {"mimeType": "image/png", "fileName": "a.png", "data": base64.b64encode(_PNG).decode()}
    got = _json(admin.post(sim + "/incoming", json={"from": "79005554433", "body": "hi", "media": media}))
    hooks = f"/api/instances/{iid}/webhook/deliveries"
    delivery = _wait("a webhook delivery", lambda: _json(admin.get(hooks))["deliveries"])[0]
    common = {"instanceId": iid, "chatId": "79005554433", "messageId": got["messageId"]}
    common["deliveryId"] = delivery["id"]
    return World(
        server=server,
        admin=admin,
        admin_key=admin_key,
        user_key=user["apiKey"],
        instance_id=iid,
        ids={"user": {**common, "userId": user["id"]}, "admin": {**common, "userId": victim["id"]}},
    )


_PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


def _load() -> BaseSchema:
    """The OpenAPI document the server serves (`test_openapi` checks it is this file), with the run's settings."""
    config = SchemathesisConfig.from_dict(
        {
            "generation": {"max-examples": MAX_EXAMPLES},
            "phases": {"stateful": {"enabled": False}},
            "request-timeout": 30,
        }
    )
    schema = schemathesis.openapi.from_dict(json.loads(json.dumps(spec())), config=config)
    return schema.exclude(lambda ctx: (ctx.operation.method.upper(), ctx.operation.path) in EXCLUDED)


ADMIN_SCHEMA = _load()
USER_SCHEMA = ADMIN_SCHEMA.exclude(lambda ctx: (ctx.operation.method.upper(), ctx.operation.path) in USER_EXCLUDED)

# After these, the instance may be unlinked, limited or muted: `restore` puts it back.
_STATEFUL = {
    ("PUT", "/api/instances/{instanceId}"),
    ("POST", "/api/instances/{instanceId}/reconnect"),
    ("POST", "/api/instances/{instanceId}/pair"),
    ("POST", "/api/simulator/instances/{instanceId}/disconnect"),
    ("POST", "/api/simulator/instances/{instanceId}/scan"),
    ("POST", "/api/simulator/instances/{instanceId}/faults"),
    ("POST", "/api/simulator/instances/{instanceId}/network"),
}


def _call(case: Case[Any], world: World, role: str) -> None:
    ids = world.ids[role]
    for name in list(case.path_parameters or {}):
        if name in ids:
            case.path_parameters[name] = ids[name]
    key = world.admin_key if role == "admin" else world.user_key
    operation = (case.method.upper(), case.path)
    response = case.call(base_url=world.server.url, headers={"x-api-key": key})
    try:
        case.validate_response(response, checks=CHECKS, headers={"x-api-key": key})
    finally:
        proc = world.server.proc
        assert proc is not None and proc.poll() is None, f"server exited:\n{world.server.log()[-3000:]}"
        if operation in _STATEFUL:
            restore(world.admin, world.instance_id, settle=operation[1].endswith("/disconnect"))
        if operation == ("POST", "/api/instances") and response.status_code == 201:
            # Every live instance runs an actor: hundreds of them would slow the rest of the run down.
            _json(world.admin.delete(f"/api/instances/{response.json()['id']}"))


_SETTINGS = settings(
    deadline=None,
    max_examples=MAX_EXAMPLES,
    suppress_health_check=list(HealthCheck),
    derandomize=not DEEP,
)


@USER_SCHEMA.parametrize()
@_SETTINGS
def test_fuzz_as_user(case: Case[Any], world: World) -> None:
    _call(case, world, "user")


@ADMIN_SCHEMA.parametrize()
@_SETTINGS
def test_fuzz_as_admin(case: Case[Any], world: World) -> None:
    _call(case, world, "admin")


def test_excluded_operations_exist() -> None:
    """An exclusion that names no operation any more would silently widen what the fuzzer skips."""
    assert set(EXCLUDED) | set(USER_EXCLUDED) <= spec_operations()


# ---- what the fuzzer found once, pinned as plain requests (issue 13, defect 15) -----------------------


@pytest.fixture
def admin_http(world: World) -> httpx.Client:
    return world.admin


def test_405_names_the_methods_the_route_takes(admin_http: httpx.Client, world: World) -> None:
    iid = world.instance_id
    r = admin_http.delete("/api/health")
    assert r.status_code == 405 and r.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert r.json()["code"] == "method_not_allowed"
    # The static-file catch-all matches any GET: on an API path it is no route, so GET is not offered.
    pair = f"/api/instances/{iid}/pair"
    for method in ("GET", "PUT"):
        r = admin_http.request(method, pair)
        assert r.status_code == 405 and r.headers["Allow"] == "OPTIONS, POST", f"{method}: {r.status_code}"
        assert r.json()["code"] == "method_not_allowed" and r.headers["x-request-id"]
    assert admin_http.options(pair).headers["Allow"] == "OPTIONS, POST"
    assert admin_http.get("/api/no-such-route").status_code == 404
    assert "GET" in admin_http.options("/").headers["Allow"]


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/api/instances/{iid}/events", "since"),
        ("/api/instances/{iid}/events/stream", "since"),
        ("/api/instances/{iid}/activity", "startDate"),
        ("/api/instances/{iid}/activity", "endDate"),
        ("/api/instances/{iid}/chats/79005554433/messages", "startDate"),
        ("/api/instances/{iid}/chats/79005554433/messages", "endDate"),
    ],
)
def test_an_empty_date_is_a_400(admin_http: httpx.Client, world: World, path: str, name: str) -> None:
    r = admin_http.get(path.format(iid=world.instance_id), params={name: ""})
    assert r.status_code == 400 and r.json()["details"] == {name: f"{name} must be an ISO 8601 date"}, r.text


@pytest.mark.parametrize("prefix", ["/api/instances", "/api/whatsapp"])
def test_contact_search_over_its_max_length_is_a_400(admin_http: httpx.Client, world: World, prefix: str) -> None:
    url = f"{prefix}/{world.instance_id}/contacts/db"
    maximum = spec()["paths"]["/api/instances/{instanceId}/contacts/db"]["parameters"][3]["schema"]["maxLength"]
    assert admin_http.get(url, params={"search": "a" * maximum}).status_code == 200
    r = admin_http.get(url, params={"search": "a" * (maximum + 1)})
    assert r.status_code == 400 and r.json()["details"] == {"search": f"search must be at most {maximum} characters"}


@pytest.mark.parametrize("name", ["", "   "])
def test_a_blank_contact_name_is_refused_by_server_and_schema(
    admin_http: httpx.Client, world: World, name: str
) -> None:
    body = {"phone": "79001230009", "name": name}
    pointer = "/paths/~1api~1whatsapp~1{instanceId}~1contacts~1add/post/requestBody/content/application~1json/schema"
    assert list(validator(pointer).iter_errors(body)), "the schema accepts a blank name"
    r = admin_http.post(f"/api/whatsapp/{world.instance_id}/contacts/add", json=body)
    assert r.status_code == 400 and r.json()["details"] == {"name": "name is required"}
    assert not list(validator(pointer).iter_errors({**body, "name": "Ann"}))


def test_a_failed_instance_answers_contacts_and_chats_as_documented(admin_http: httpx.Client) -> None:
    """Contacts and chat routes go through the instance actor: a failed one answers 409 `instance_failed`."""
    check = Checker()
    iid = _json(admin_http.post("/api/instances", json={"name": "Crashing"}), 201)["id"]
    relink(admin_http, iid)
    sim = f"/api/simulator/instances/{iid}"
    _json(admin_http.post(sim + "/faults", json={**NO_FAULTS, "crashNextConnects": 50}))
    _json(admin_http.post(sim + "/disconnect", json={"reason": "connection_lost"}))
    inst = f"/api/instances/{iid}"
    _wait("the instance to fail", lambda: _json(admin_http.get(inst + "/status"))["status"] == "failed")
    calls = [
        ("POST", "/api/whatsapp/{instanceId}/contacts/add", {"phone": "79001230001", "name": "Bob"}),
        ("POST", "/api/instances/{instanceId}/contacts/add", {"phone": "79001230001", "name": "Bob"}),
        ("POST", "/api/instances/{instanceId}/contacts/save", {"number": "79001230001"}),
        ("POST", "/api/whatsapp/{instanceId}/contacts/save", {"number": "79001230001"}),
        ("POST", "/api/instances/{instanceId}/contacts/import", None),
        ("GET", "/api/instances/{instanceId}/contacts", None),
        ("POST", "/api/instances/{instanceId}/chats/{chatId}/read", None),
    ]
    for method, template, body in calls:
        r = admin_http.request(method, template.format(instanceId=iid, chatId="79001230001"), json=body)
        assert check(r, method, template, 409)["code"] == "instance_failed"
    _json(admin_http.post(sim + "/faults", json=NO_FAULTS))
    _json(admin_http.delete(inst))


def test_simulated_contacts_check_their_fields(admin_http: httpx.Client, world: World) -> None:
    url = f"/api/simulator/instances/{world.instance_id}/contacts"
    for bad in ({"phone": "79001230001", "isGroup": {}}, {"phone": "79001230001", "name": {"x": 1}}):
        assert admin_http.put(url, json={"contacts": [bad]}).status_code == 400, bad
    assert admin_http.put(url, json={"contacts": [{"phone": "79001230001", "name": None}]}).status_code == 200


def test_null_settings_change_nothing(admin_http: httpx.Client, world: World) -> None:
    """`settings: null` is accepted (the schema says so) and means "not given", like `webhookSettings: null`."""
    inst = f"/api/instances/{world.instance_id}"
    # Other settings the fuzzer set may be there too: only sendIntervalMs is this test's.
    slow = _json(admin_http.put(inst, json={"settings": {"sendIntervalMs": 5}}))["settings"]
    assert slow["sendIntervalMs"] == 5
    assert _json(admin_http.put(inst, json={"settings": None}))["settings"] == slow
    assert _json(admin_http.put(inst, json={"settings": {"sendIntervalMs": 0}}))["settings"]["sendIntervalMs"] == 0
    assert not list(validator("/components/schemas/InstanceUpdate").iter_errors({"settings": None}))


def test_webhook_settings_must_be_an_object_on_create_too(admin_http: httpx.Client) -> None:
    """Create ignored a non-object `webhookSettings` that update refused; both refuse it now, both take null."""
    r = admin_http.post("/api/instances", json={"name": "Bad", "webhookSettings": [None, None]})
    assert r.status_code == 400 and r.json()["details"] == {"webhookSettings": "webhookSettings must be an object"}
    made = _json(admin_http.post("/api/instances", json={"name": "Nulls", "webhookSettings": None}), 201)
    _json(admin_http.put(f"/api/instances/{made['id']}", json={"webhookSettings": None}))
    _json(admin_http.delete(f"/api/instances/{made['id']}"))
