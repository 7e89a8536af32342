"""The outbound guard at connect time, over real loopback sockets.

DNS answers cannot be staged offline, so each test gives the guard its own resolver (what a
rebinding DNS server would answer) and, where a test needs to reach its loopback server
through the guarded client, a judge that lets that one name through. What is refused is the
connection attempt itself: the servers count every TCP connection they accept.
"""

from __future__ import annotations

import ipaddress
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import trio

from wamux.adapters.media.fetch import MediaFetcher
from wamux.adapters.outbound import OutboundGuard, resolve
from wamux.domain.errors import UrlNotAllowed, ValidationFailed
from wamux.domain.outbound import IPAddress, refuse_address

PUBLIC = "93.184.216.34"


class CountingServer(ThreadingHTTPServer):
    """Loopback HTTP server that counts accepted connections and records (path, Host) per request."""

    daemon_threads = True

    def __init__(self) -> None:
        self.connections = 0
        self.requests: list[tuple[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _answer(self) -> None:
                server.requests.append((self.path, self.headers.get("Host", "")))
                if self.path == "/hop":
                    self.send_response(302)
                    self.send_header("Location", f"http://internal.test:{server.port}/secret")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = b"GIF89a" + b"\0" * 32
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

        super().__init__(("127.0.0.1", 0), Handler)

    def get_request(self) -> tuple[socket.socket, object]:
        conn = super().get_request()
        self.connections += 1
        return conn

    @property
    def port(self) -> int:
        return int(self.server_address[1])


@pytest.fixture
def server() -> Iterator[CountingServer]:
    srv = CountingServer()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


class RebindingResolver:
    """Answers `first` for the first lookup of a name and `then` for every later one."""

    def __init__(self, answers: dict[str, tuple[list[str], list[str]]]) -> None:
        self.answers = answers
        self.lookups: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        first, then = self.answers[host]
        seen = self.lookups.count(host)
        self.lookups.append(host)
        return first if seen == 0 else then


def letting_through(*names: str):  # type: ignore[no-untyped-def]
    """The real rule, except for `names` (the test's own loopback server, reached under a name)."""

    def judge(host: str, ip: IPAddress) -> UrlNotAllowed | None:
        return None if host in names else refuse_address(host, ip)

    return judge


async def test_a_name_rebinding_to_loopback_passes_the_check_but_not_the_connect(server: CountingServer) -> None:
    resolver = RebindingResolver({"rebind.test": ([PUBLIC], ["127.0.0.1"])})
    guard = OutboundGuard(allow_private=False, resolver=resolver)
    url = f"http://rebind.test:{server.port}/hook"
    await guard.check(url, trusted=False)  # the name looked public when checked
    async with guard.client(trusted=False) as client:
        with pytest.raises(UrlNotAllowed) as caught:
            await client.post(url, content=b"{}")
    assert "rebind.test (127.0.0.1) is a loopback address" in caught.value.message
    assert resolver.lookups == ["rebind.test", "rebind.test"]  # the connect resolved again, and judged that answer
    assert server.connections == 0


async def test_the_connection_goes_to_the_checked_address_with_the_original_host(server: CountingServer) -> None:
    resolver = RebindingResolver({"hooks.test": (["127.0.0.1"], ["127.0.0.1"])})
    guard = OutboundGuard(allow_private=False, resolver=resolver, judge=letting_through("hooks.test"))
    async with guard.client(trusted=False) as client:
        r = await client.post(f"http://hooks.test:{server.port}/in", content=b"{}")
    assert r.status_code == 200
    assert server.requests == [("/in", f"hooks.test:{server.port}")]
    assert resolver.lookups == ["hooks.test"]  # resolved once, by the guard; nothing resolved it behind its back


async def test_any_private_answer_refuses_the_name(server: CountingServer) -> None:
    resolver = RebindingResolver({"mixed.test": ([PUBLIC, "10.0.0.5"], [PUBLIC, "10.0.0.5"])})
    guard = OutboundGuard(allow_private=False, resolver=resolver)
    with pytest.raises(UrlNotAllowed):
        await guard.check("http://mixed.test/", trusted=False)
    async with guard.client(trusted=False) as client:
        with pytest.raises(UrlNotAllowed):
            await client.get("http://mixed.test/")


async def test_literal_private_addresses_are_refused_and_trusted_callers_pass(server: CountingServer) -> None:
    guard = OutboundGuard(allow_private=False)
    for url in (
        f"http://127.0.0.1:{server.port}/",
        f"http://[::1]:{server.port}/",
        "http://[::ffff:127.0.0.1]/",
        "http://169.254.169.254/latest/meta-data",
        "http://100.64.1.1/",
        "http://0x7f000001/",  # another spelling of 127.0.0.1
        f"http://localhost:{server.port}/",
    ):
        with pytest.raises(UrlNotAllowed):
            await guard.check(url, trusted=False)
    async with guard.client(trusted=False) as client:
        with pytest.raises(UrlNotAllowed):
            await client.get(f"http://localhost:{server.port}/")
    assert server.connections == 0
    await guard.check(f"http://127.0.0.1:{server.port}/", trusted=True)
    async with guard.client(trusted=True) as admin:
        assert (await admin.get(f"http://localhost:{server.port}/x")).status_code == 200
    everyone = OutboundGuard(allow_private=True)
    await everyone.check(f"http://127.0.0.1:{server.port}/", trusted=False)
    async with everyone.client(trusted=False) as client:
        assert (await client.get(f"http://127.0.0.1:{server.port}/y")).status_code == 200


async def test_check_reports_syntax_and_unresolvable_names_as_400() -> None:
    guard = OutboundGuard(allow_private=False)
    with pytest.raises(ValidationFailed) as caught:
        await guard.check("http://[::1/", trusted=True, field_name="webhookUrl")
    assert caught.value.code == "validation_error" and caught.value.details == {"webhookUrl": "invalid"}
    with pytest.raises(ValidationFailed) as caught:
        await guard.check("http://no-such-host.invalid/", trusted=False)
    assert caught.value.details == {"url": "unresolvable"}
    await guard.check("http://no-such-host.invalid/", trusted=False, must_resolve=False)  # a future webhook target


async def test_every_redirect_hop_is_checked_at_connect_time(server: CountingServer) -> None:
    # cdn.test is the "public" first hop; it redirects to internal.test, which rebinds to loopback.
    resolver = RebindingResolver(
        {"cdn.test": (["127.0.0.1"], ["127.0.0.1"]), "internal.test": ([PUBLIC], ["127.0.0.1"])}
    )
    guard = OutboundGuard(allow_private=False, resolver=resolver, judge=letting_through("cdn.test"))
    fetcher = MediaFetcher(max_bytes=1024 * 1024, timeout_s=5, guard=guard)
    try:
        with pytest.raises(UrlNotAllowed):
            await fetcher.fetch(f"http://cdn.test:{server.port}/hop")
        assert [path for path, _ in server.requests] == ["/hop"]  # /secret was never asked for
        assert resolver.lookups.count("internal.test") == 2  # checked once, refused at its connect
        fetched = await fetcher.fetch(f"http://cdn.test:{server.port}/ok.gif")
        assert fetched.mime_type == "image/gif"
    finally:
        await fetcher.aclose()


async def test_real_resolution_answers_localhost_with_loopback() -> None:
    assert "127.0.0.1" in await resolve("localhost", 80)
    assert all(ipaddress.ip_address(a) for a in await resolve("127.0.0.1", 80))


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
async def test_tls_uses_the_name_for_sni_not_the_address(tmp_path: Path) -> None:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    command = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=hooks.test"]
    subprocess.run(
        [*command, "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    names: list[str | None] = []
    context.sni_callback = lambda sock, name, ctx: names.append(name)  # type: ignore[assignment,return-value]
    listener = trio.socket.socket()
    await listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]

    async def serve_one() -> None:
        conn, _ = await listener.accept()
        stream = trio.SSLStream(trio.SocketStream(conn), context, server_side=True)
        try:
            await stream.do_handshake()
        except trio.BrokenResourceError:
            pass  # the client refuses the self-signed certificate: what matters is the name it asked for
        await stream.transport_stream.aclose()

    resolver = RebindingResolver({"hooks.test": (["127.0.0.1"], ["127.0.0.1"])})
    guard = OutboundGuard(allow_private=False, resolver=resolver, judge=letting_through("hooks.test"))
    async with trio.open_nursery() as nursery, guard.client(trusted=False) as client:
        nursery.start_soon(serve_one)
        with pytest.raises(httpx.ConnectError):  # the self-signed certificate is refused, as it must be
            await client.get(f"https://hooks.test:{port}/")
    listener.close()
    assert names == ["hooks.test"]
