"""The request edge (§8 "Request bodies") and stored media (§8 "Media"), probed as an attacker would."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable

import httpx
import trio

from tests.harness import Api, ServerProcess
from tests.media_server import png_bytes

JSON = {"Content-Type": "application/json"}
MB = 1024 * 1024


def _memory_mb(pid: int, key: str) -> int:
    """`VmRSS` (now) or `VmHWM` (peak so far) of a process, in MB."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) // 1024
    raise AssertionError(f"{key} not in /proc/{pid}/status")


def _nested(depth: int) -> bytes:
    return b'{"name": "deep", "settings": ' + b"[" * depth + b"]" * depth + b"}"


async def _chunks(total: int, sent: list[int], size: int = 256 * 1024) -> AsyncIterator[bytes]:
    """A chunked body (no Content-Length) of `total` bytes that records how much the client got to send."""
    yield b'{"name": "'
    while sum(sent) < total:
        sent.append(size)
        yield b"x" * size
    yield b'"}'


# ---- defect 9: bodies are read only after authentication, and only up to the route's limit ----------------


async def instance_ids(admin: Api) -> list[str]:
    """The instances that exist (their state moves on by itself while other tests' instances reconnect)."""
    return [i["id"] for i in (await admin.get("/api/instances")).json()["instances"]]


async def test_unauthenticated_bodies_are_not_buffered(server_factory: Callable[..., ServerProcess]) -> None:
    srv = server_factory()
    assert srv.proc is not None
    before = _memory_mb(srv.proc.pid, "VmRSS")
    body = b"{" + b" " * (30 * MB) + b"}"
    answers: list[tuple[int, str | None, int]] = []

    async def attack() -> None:
        # One keep-alive client per request: after the 401 the same client must get its next answer.
        async with httpx.AsyncClient(base_url=srv.url, timeout=60) as client:
            r = await client.post("/api/instances", content=body, headers=JSON)
            after = await client.get("/api/health")
            answers.append((r.status_code, r.headers.get("connection"), after.status_code))

    async with trio.open_nursery() as nursery:
        for _ in range(10):
            nursery.start_soon(attack)
    # The peak, not just the current size: before the fix the server held every body at once (≈ +330 MB).
    assert _memory_mb(srv.proc.pid, "VmHWM") - before < 100
    assert answers == [(401, "close", 200)] * 10


async def test_oversized_chunked_body_is_refused_while_streaming(server: ServerProcess, admin_token: str) -> None:
    async with Api(server.url, token=admin_token) as api:
        sent: list[int] = []
        r = await api.post("/api/instances", content=_chunks(8 * MB, sent), headers=JSON)
        assert r.status_code == 413 and r.json()["code"] == "payload_too_large"
        # Refused as the bytes came in: the client never got to push a 1 GB body through.
        endless: list[int] = []
        r = await api.post("/api/instances", content=_chunks(1024 * MB, endless), headers=JSON)
        assert r.status_code == 413 and sum(endless) < 512 * MB
        r = await api.post("/api/instances", content=b"{" + b" " * (2 * MB) + b"}", headers=JSON)
        assert r.status_code == 413 and r.headers["connection"] == "close"
        assert (await api.get("/api/health")).status_code == 200  # the client carries on


async def test_requests_without_a_body_keep_the_connection(server: ServerProcess, admin_token: str) -> None:
    async with Api(server.url, token=admin_token) as api:
        for _ in range(30):  # the answer may be ready before the empty end of the request is seen
            r = await api.get("/api/health")
            assert r.status_code == 200 and "connection" not in r.headers
        r = await api.get("/api/instances/a%00b")
        assert r.status_code == 400 and r.json()["details"] == {"instanceId": r.json()["error"]}


async def test_upload_route_keeps_its_own_limit(server_factory: Callable[..., ServerProcess]) -> None:
    srv = server_factory(MAX_UPLOAD_MB="3")
    async with Api(srv.url, token=srv.admin_token()) as api:
        iid = await api.connected_instance("Upload")
        url = f"/api/whatsapp/{iid}/send-file"
        fits = {"file": ("big.bin", b"\1" * (2 * MB), "application/octet-stream")}
        r = await api.post(url, data={"phone": "79001234567"}, files=fits)
        assert r.status_code == 200, r.text  # over the 1 MB of JSON routes, within MAX_UPLOAD_MB
        too_big = {"file": ("big.bin", b"\1" * (4 * MB), "application/octet-stream")}
        r = await api.post(url, data={"phone": "79001234567"}, files=too_big)
        assert r.status_code == 413 and r.json()["code"] == "payload_too_large"


# ---- defect 10: hostile JSON and names answer 400, never 500/503, and nothing is stored -----------------------


async def test_deeply_nested_json_is_400(server: ServerProcess, admin: Api) -> None:
    before = await instance_ids(admin)
    for depth in (65, 1000, 100_000):
        r = await admin.post("/api/instances", content=_nested(depth), headers=JSON)
        assert r.status_code == 400 and r.json()["code"] == "invalid_json", (depth, r.text)
        login = b'{"email": "a@b.c", "password": ' + b"[" * depth + b"]" * depth + b"}"
        r = httpx.post(server.url + "/api/auth/login", content=login, headers=JSON)
        assert r.status_code == 400 and r.json()["code"] == "invalid_json", (depth, r.text)
    # 64 levels are fine as JSON (the route itself judges the field)
    r = await admin.post("/api/instances", content=_nested(63), headers=JSON)
    assert r.status_code == 400 and r.json()["code"] == "validation_error", r.text
    assert await instance_ids(admin) == before


async def test_nul_and_lone_surrogates_are_400(admin: Api) -> None:
    before = await instance_ids(admin)
    for raw in (
        b'{"name": "\\ud800"}',
        b'{"name": "x\\udc00y"}',
        b'{"name": "a\\u0000b"}',
        b'{"name": "ok", "\\ud800": 1}',
        b'{"name": "ok", "settings": {"k\\u0000": ["\\ud83d"]}}',
    ):
        r = await admin.post("/api/instances", content=raw, headers=JSON)
        assert r.status_code == 400 and r.json()["code"] == "invalid_json", (raw, r.text)
        assert "codec" not in r.text
    assert await instance_ids(admin) == before
    # a well-formed surrogate pair is an ordinary emoji
    r = await admin.post("/api/instances", content=b'{"name": "ok \\ud83d\\ude00"}', headers=JSON)
    assert r.status_code == 201 and r.json()["name"] == "ok \U0001f600"
    iid = r.json()["id"]
    r = await admin.get(f"/api/instances/{iid}/contacts/db", params={"search": "a\x00b"})
    assert r.status_code == 400 and r.json()["code"] == "validation_error"
    r = await admin.get(f"/api/instances/{iid}/contacts/db?search=%ED%A0%80")  # surrogate as UTF-8 bytes
    assert r.status_code in (200, 400)  # decoded as replacement characters or refused, never a 5xx


async def test_control_characters_in_names_are_refused(admin: Api, unique_email: Callable[[str], str]) -> None:
    for name in ("evil\r\nX-Injected: 1", "tab\there", "nul\x00", "line\u2028sep"):
        r = await admin.post("/api/instances", json={"name": name})
        assert r.status_code == 400, (name, r.text)
    inst = await admin.create_instance("Plain")
    r = await admin.put(f"/api/instances/{inst['id']}", json={"name": "a\nb"})
    assert r.status_code == 400 and (await admin.get(f"/api/instances/{inst['id']}")).json()["name"] == "Plain"
    user = {"email": unique_email("names"), "password": "password-1", "firstName": "Eve\r\n", "lastName": "U"}
    r = await admin.post("/api/users", json=user)
    assert r.status_code == 400 and r.json()["code"] == "validation_error"
    created = await admin.new_user(unique_email("names"))
    r = await admin.put(f"/api/users/{created['id']}", json={"lastName": "x\ny"})
    assert r.status_code == 400
    iid = inst["id"]
    r = await admin.post(f"/api/instances/{iid}/contacts/add", json={"phone": "79001234567", "name": "a\r\nb"})
    assert r.status_code == 400
    r = await admin.post(f"/api/instances/{iid}/contacts/save", json={"number": "79001234567", "pushName": "\x1b[2J"})
    assert r.status_code == 400


async def test_hostile_upload_names_are_sanitised_and_served(admin: Api) -> None:
    iid = await admin.connected_instance("Names")
    url = f"/api/whatsapp/{iid}/send-file"
    for sent_name in ("report." + "x" * 300, "../../etc/passwd\r\nX-Evil: 1.txt", "a" * 400 + ".pdf"):
        files = {"file": (sent_name, b"%PDF-1.4 " + sent_name.encode()[:50], "application/pdf")}
        r = await admin.post(url, data={"phone": "79001234567"}, files=files)
        assert r.status_code == 200, (sent_name, r.text)
        message_id = r.json()["id"]
        msgs = (await admin.get(f"/api/instances/{iid}/chats/79001234567/messages")).json()["messages"]
        stored = next(m for m in msgs if m["messageId"] == message_id)
        name = stored["fileName"]
        assert len(name) <= 200 and "/" not in name and "\r" not in name and "\n" not in name
        media = await admin.get(f"/api/instances/{iid}/messages/{message_id}/media")
        assert media.status_code == 200 and media.content.startswith(b"%PDF")
        assert media.headers["content-disposition"].startswith("attachment; filename=")
    assert name.endswith(".pdf")  # an over-long name keeps its extension
    r = await admin.post(url, data={"phone": "79001234567", "caption": "a\x00b"}, files=files)
    assert r.status_code == 400


# ---- JSON routes take JSON only (defect 15) -------------------------------------------------------------------


async def test_json_routes_require_a_json_content_type(admin: Api) -> None:
    body = json.dumps({"name": "typed"})
    for headers, content in (
        ({}, body.encode()),
        ({"Content-Type": "text/plain"}, body.encode()),
        ({"Content-Type": "application/x-www-form-urlencoded"}, body.encode()),
        ({"Content-Type": "application/json; charset=utf-16"}, body.encode("utf-16")),
    ):
        r = await admin.post("/api/instances", content=content, headers=headers)
        assert r.status_code == 415 and r.json()["code"] == "unsupported_media_type", (headers, r.text)
    r = await admin.post("/api/instances", content=body.encode("utf-16"), headers=JSON)
    assert r.status_code == 400 and r.json()["code"] == "invalid_json"
    for ctype in ("application/json; charset=UTF-8", "application/merge-patch+json"):
        r = await admin.post("/api/instances", content=body.encode(), headers={"Content-Type": ctype})
        assert r.status_code == 201, (ctype, r.text)
    # a route whose body is optional still takes none at all
    inst = await admin.create_instance("NoBody")
    await admin.wait_qr(inst["id"])
    r = await admin.post(f"/api/simulator/instances/{inst['id']}/scan")
    assert r.status_code == 200, r.text


# ---- defect 11: stored media cannot run as a page on the API's origin -----------------------------------------


async def test_stored_media_is_served_as_an_attachment_in_a_sandbox(admin: Api) -> None:
    iid = await admin.connected_instance("Served")
    page = b"<html><script>alert(document.cookie)</script></html>"
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    cases = [
        ("text/html", "x.html", page, "attachment"),
        ("image/svg+xml", "logo.svg", svg, "attachment"),
        ("application/pdf", 'q"uo\\te\r\nX-Evil: 1.pdf', b"%PDF-1.4", "attachment"),
        ("image/png", "фото.png", png_bytes("red"), "inline"),
        ("audio/ogg", None, b"OggS", "inline"),
        ("text/html\r\nX-Evil: 1", "y.html", page, "attachment"),
    ]
    for mime, name, data, disposition in cases:
        media = {"mimeType": mime, "data": base64.b64encode(data).decode(), **({"fileName": name} if name else {})}
        r = await admin.post(
            f"/api/simulator/instances/{iid}/incoming", json={"from": "79001234567", "body": "f", "media": media}
        )
        assert r.status_code == 200, r.text
        got = await admin.get(f"/api/instances/{iid}/messages/{r.json()['messageId']}/media")
        assert got.status_code == 200 and got.content == data, (mime, got.text)
        assert got.headers["x-content-type-options"] == "nosniff"
        assert got.headers["content-security-policy"] == "sandbox"
        assert got.headers["content-disposition"].split(";")[0] == disposition, (mime, got.headers)
        assert "x-evil" not in got.headers
        if name == "фото.png":  # RFC 6266: an ASCII fallback, and the real name RFC 5987-encoded
            expected = "inline; filename=\"____.png\"; filename*=UTF-8''%D1%84%D0%BE%D1%82%D0%BE.png"
            assert got.headers["content-disposition"] == expected
    msgs = (await admin.get(f"/api/instances/{iid}/chats/79001234567/messages")).json()["messages"]
    names = [m["fileName"] for m in msgs]
    assert "фото.png" in names and all("\n" not in (n or "") for n in names)
