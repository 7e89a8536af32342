"""Request bodies: a route takes exactly the fields its request schema in docs/openapi.yaml names, and a 400 lists
every problem of a body at once, each as a sentence for people."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_openapi import spec
from tests.harness import Api

BOGUS = "bogusField"
UNKNOWN = "unknown field"
# Routes whose JSON body is read outside `wamux/http/bodies.json_body(allowed=...)`, with the reason.
NOT_YET: dict[tuple[str, str], str] = {}  # operations that still take unknown fields (none)


def _properties(schema: dict[str, Any]) -> set[str]:
    """Every top-level property a request schema allows, through `$ref`, `allOf`, `oneOf` and `anyOf`."""
    if "$ref" in schema:
        return _properties(spec()["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]])
    names = set(schema.get("properties", {}))
    for key in ("allOf", "oneOf", "anyOf"):
        for part in schema.get(key, []):
            names |= _properties(part)
    return names


def json_body_operations() -> list[tuple[str, str, frozenset[str]]]:
    """(METHOD, path, allowed fields) of every operation with a JSON request body."""
    out = []
    for path, item in spec()["paths"].items():
        for method in ("post", "put", "patch", "delete"):
            op = item.get(method)
            content = (op or {}).get("requestBody", {}).get("content", {})
            if "application/json" in content and not op.get("x-wamux-pending"):
                out.append((method.upper(), path, frozenset(_properties(content["application/json"]["schema"]))))
    return sorted(out)


OPERATIONS = [pytest.param(m, p, names, id=f"{m} {p}") for m, p, names in json_body_operations()]
REFUSING = [
    pytest.param(
        m,
        p,
        names,
        id=f"{m} {p}",
        marks=[pytest.mark.xfail(strict=True, reason=NOT_YET[m, p])] if (m, p) in NOT_YET else [],
    )
    for m, p, names in json_body_operations()
]


@pytest.fixture
async def world(admin: Api) -> dict[str, str]:
    instance = await admin.create_instance("Bodies")
    me = (await admin.get("/api/auth/me")).json()
    return {
        "instanceId": instance["id"],
        "userId": me["id"],
        "messageId": "3EB0BODIES",
        "groupId": "120363000000000001@g.us",
        "webhookId": "no-such-webhook",
    }


def _url(path: str, ids: dict[str, str]) -> str:
    for name, value in ids.items():
        path = path.replace("{" + name + "}", value)
    return path


def test_every_json_route_has_a_request_schema_with_properties() -> None:
    assert len(OPERATIONS) > 40
    for method, path, names in json_body_operations():
        assert names, f"{method} {path}: the request schema names no properties"


@pytest.mark.parametrize(("method", "path", "names"), REFUSING)
async def test_a_field_the_schema_does_not_name_is_refused(
    admin: Api, world: dict[str, str], method: str, path: str, names: frozenset[str]
) -> None:
    r = await admin.http.request(method, _url(path, world), json={BOGUS: 1, "otherBogus": 2})
    assert r.status_code == 400, r.text
    error = r.json()
    assert error["code"] == "validation_error", error
    assert error["details"][BOGUS] == UNKNOWN and error["details"]["otherBogus"] == UNKNOWN, error
    assert f"unknown fields: {BOGUS}, otherBogus" in error["error"], error


@pytest.mark.parametrize(("method", "path", "names"), OPERATIONS)
async def test_every_field_the_schema_names_is_taken(
    admin: Api, world: dict[str, str], method: str, path: str, names: frozenset[str]
) -> None:
    """Every property of the schema passes the unknown-field check (its value, null, may still be refused)."""
    body = dict.fromkeys(names)
    if path.endswith("/disconnect") or path.endswith("/faults") or path.endswith("/db/switch"):
        body = {}  # null everywhere would act (drop the link, clear faults) or need a store: an empty body is enough
    r = await admin.http.request(method, _url(path, world), json=body)
    details = r.json().get("details") or {} if r.headers.get("content-type", "").startswith("application/json") else {}
    assert UNKNOWN not in details.values(), (r.status_code, r.text)


async def test_instance_create_reports_every_problem_at_once(admin: Api) -> None:
    body = {"description": 3, "maxRetries": 99, "limits": {"period": "week"}, "bogus": 1}
    r = await admin.post("/api/instances", json=body)
    assert r.status_code == 400 and r.json()["details"] == {"bogus": UNKNOWN}, r.text  # the shape first
    del body["bogus"]
    r = await admin.post("/api/instances", json=body)
    assert r.status_code == 400, r.text
    assert r.json()["details"] == {
        "name": "name is required",
        "description": "description must be a string of at most 1000 characters",
        "maxRetries": "maxRetries must be an integer from 0 to 50",
        "limits.period": "period must be day or month",
    }
    assert r.json()["error"].startswith("name is required; ")


async def test_instance_update_reports_every_problem_and_changes_nothing(admin: Api) -> None:
    instance = await admin.create_instance("Kept")
    url = f"/api/instances/{instance['id']}"
    r = await admin.put(url, json={"bogus": 1, "name": "New"})
    assert r.status_code == 400 and r.json()["details"] == {"bogus": UNKNOWN}, r.text
    r = await admin.put(url, json={"name": "", "webhookEnabled": "yes", "settings": {"colour": 1}})
    assert r.status_code == 400, r.text
    assert set(r.json()["details"]) == {"name", "webhookEnabled", "settings"}
    assert (await admin.get(url)).json()["name"] == "Kept"


async def test_user_create_and_update_report_every_problem(admin: Api, unique_email: Any) -> None:
    r = await admin.post("/api/users", json={"role": "root", "lastName": 5})
    assert r.status_code == 400, r.text
    assert r.json()["details"] == {
        "email": "email is required",
        "password": "password is required",
        "lastName": "lastName must be a string",
        "role": "role must be admin or user",
    }
    user = await admin.post("/api/users", json={"email": unique_email("bodies"), "password": "secret-1"})
    assert user.status_code == 201, user.text
    r = await admin.put(f"/api/users/{user.json()['id']}", json={"email": "nope", "password": "1"})
    assert r.status_code == 400, r.text
    assert r.json()["details"] == {
        "email": "email is not a valid address",
        "password": "password must have at least 6 characters",
    }


async def test_send_reports_every_missing_field(admin: Api, world: dict[str, str]) -> None:
    send = f"/api/whatsapp/{world['instanceId']}/send"
    r = await admin.post(send, json={})
    assert r.status_code == 400, r.text
    assert r.json()["details"] == {"phone": "phone is required", "message": "message is required"}
    assert r.json()["error"] == "phone is required; message is required"
    r = await admin.post(send, json={"phone": " ", "bogus": True})
    assert r.json()["details"] == {"bogus": UNKNOWN, "phone": "phone is required", "message": "message is required"}
    r = await admin.post(f"/api/whatsapp/{world['instanceId']}/send-poll", json={"phone": "79001112233"})
    assert r.json()["details"] == {"question": "question is required", "options": "options is required"}, r.text


async def test_a_lone_code_from_a_rule_is_answered_as_a_sentence(admin: Api, world: dict[str, str]) -> None:
    r = await admin.post(f"/api/whatsapp/{world['instanceId']}/presence", json={"phone": "79001112233", "state": "x"})
    assert r.status_code == 400, r.text
    (detail,) = r.json()["details"].values()
    assert detail == r.json()["error"] and " " in detail, r.text


async def test_a_bad_group_on_the_simulated_incoming_route_names_group(admin: Api, world: dict[str, str]) -> None:
    url = f"/api/simulator/instances/{world['instanceId']}/incoming"
    for group in ("79001112233", "not a jid", 5):
        r = await admin.post(url, json={"from": "79001112233", "body": "hi", "group": group})
        assert r.status_code == 400, r.text
        assert set(r.json()["details"]) == {"group"}, r.text
