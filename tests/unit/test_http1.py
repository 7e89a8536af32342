"""The webhook HTTP/1.1 client against real loopback servers: framing, keep-alive, retries, deadlines, the guard, TLS.

Two kinds of servers: `http.server` (what a plain receiver looks like) and a scripted raw socket server
that answers each request with given bytes, so chunked, close-delimited, 1xx, garbage and slow
answers can be staged. Both count the connections they accept: reuse is counted, not assumed.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import trio

from wamux.adapters.http1 import ConnectError, Http1Client, ProtocolError, ReadError, Timeout, parse_target
from wamux.adapters.outbound import OutboundGuard
from wamux.adapters.webhook_http import UNREACHABLE, USER_AGENT, HttpWebhookPoster, webhook_ssl_context
from wamux.domain.errors import UrlNotAllowed
from wamux.domain.outbound import IPAddress, refuse_address

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class Receiver(ThreadingHTTPServer):
    """http.server speaking HTTP/1.1 (keep-alive), recording each request's raw head and body."""

    daemon_threads = True

    def __init__(self) -> None:
        self.connections = 0
        self.requests: list[tuple[str, list[tuple[str, str]], bytes]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                server.requests.append((self.requestline, list(self.headers.items()), body))
                code = 302 if self.path == "/moved" else 200
                self.send_response(code)
                if code == 302:
                    self.send_header("Location", "/elsewhere")
                self.send_header("Content-Length", "4")
                self.end_headers()
                self.wfile.write(b"done")

        super().__init__(("127.0.0.1", 0), Handler)

    def get_request(self) -> tuple[socket.socket, object]:
        conn = super().get_request()
        self.connections += 1
        return conn

    @property
    def port(self) -> int:
        return int(self.server_address[1])


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    srv = Receiver()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@dataclass
class Scripted:
    """Answers the n-th request (over all connections) with `replies[n]`: bytes, then close if `closes`.

    A reply of None closes the connection without answering; "hang" never answers.
    """

    port: int = 0
    replies: list[bytes | str | None] = field(default_factory=list)
    closes: set[int] = field(default_factory=set)
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)

    async def handle(self, stream: trio.abc.Stream) -> None:
        self.connections += 1
        try:
            await self.answer(stream)
        except trio.BrokenResourceError:
            pass  # the client closed a connection it would not drain

    async def answer(self, stream: trio.abc.Stream) -> None:
        buf = b""
        while True:
            while b"\r\n\r\n" not in buf:
                data = await stream.receive_some(65536)
                if not data:
                    return
                buf += data
            head, _, buf = buf.partition(b"\r\n\r\n")
            length = int(next(ln.split(b":")[1] for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-l")))
            while len(buf) < length:
                buf += await stream.receive_some(65536)
            self.requests.append(head + b"\r\n\r\n" + buf[:length])
            buf = buf[length:]
            n = len(self.requests) - 1
            reply = self.replies.pop(0) if self.replies else OK
            if reply == "hang":
                await trio.sleep_forever()
            if reply is None:
                await stream.aclose()
                return
            assert isinstance(reply, bytes)
            await stream.send_all(reply)
            if n in self.closes:
                await stream.aclose()
                return


serve = partial(trio.serve_tcp, port=0, host="127.0.0.1")


@pytest.fixture
async def raw() -> AsyncIterator[Scripted]:
    server = Scripted()
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(serve, server.handle)
        server.port = listeners[0].socket.getsockname()[1]
        yield server
        nursery.cancel_scope.cancel()


async def _direct(host: str, port: int) -> trio.SocketStream:
    return await trio.open_tcp_stream(host, port)


def client(**kwargs: float) -> Http1Client:
    return Http1Client(_direct, ssl_context=ssl.create_default_context(), **kwargs)  # type: ignore[arg-type]


async def post(c: Http1Client, port: int, path: str = "/hook") -> int:
    return await c.post(parse_target(f"http://127.0.0.1:{port}{path}"), [(b"User-Agent", b"t")], b"{}")


def test_targets_are_parsed_as_httpx_parses_them() -> None:
    t = parse_target("http://[::1]:8080/a/b?x=1#frag")
    assert (t.host, t.port, t.host_header, t.path) == ("::1", 8080, b"[::1]:8080", b"/a/b?x=1")
    t = parse_target("https://Hooks.Example:443")
    assert (t.scheme, t.host, t.port, t.host_header, t.path) == ("https", "hooks.example", 443, b"hooks.example", b"/")
    assert parse_target("http://bücher.de/ü").host == "xn--bcher-kva.de"
    assert parse_target("http://bücher.de/ü").path == b"/%C3%BC"
    assert parse_target("http://us%40er:p%3Aw@h.test/").authorization == b"Basic dXNAZXI6cDp3"  # us@er:p:w
    assert parse_target("http://h.test:0/").port == 0  # not the default: a connect to it fails, as before
    with pytest.raises(TypeError):
        parse_target(None)


async def test_the_request_carries_exactly_the_given_headers_and_reuses_one_connection(receiver: Receiver) -> None:
    poster = HttpWebhookPoster(OutboundGuard(allow_private=False))
    url = f"http://127.0.0.1:{receiver.port}/in?x=1"
    try:
        for i in range(3):
            outcome = await poster.post(url, {"X-Tenant": "acme", "user-agent": "fake"}, f"body{i}", trusted=True)
            assert (outcome.status_code, outcome.error, outcome.final) == (200, None, False)
    finally:
        await poster.aclose()
    assert receiver.connections == 1  # keep-alive: one connection for the three POSTs
    line, headers, body = receiver.requests[0]
    assert line == "POST /in?x=1 HTTP/1.1" and body == b"body0"
    assert headers == [
        ("Host", f"127.0.0.1:{receiver.port}"),
        ("X-Tenant", "acme"),
        ("User-Agent", USER_AGENT),  # forced, and last of the headers given
        ("Content-Length", "5"),
    ]


async def test_a_redirect_is_the_outcome_not_followed(receiver: Receiver) -> None:
    poster = HttpWebhookPoster(OutboundGuard(allow_private=True))
    try:
        outcome = await poster.post(f"http://127.0.0.1:{receiver.port}/moved", {}, b"{}", trusted=False)
    finally:
        await poster.aclose()
    assert (outcome.status_code, outcome.error) == (302, "HTTP 302")
    assert [r[0] for r in receiver.requests] == ["POST /moved HTTP/1.1"]


CHUNKED = b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nabcd\r\n0\r\nX-T: 1\r\n\r\n"
BIG = b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 1_000_000
BIG_CHUNK = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10001\r\n" + b"y" * 0x10001 + b"\r\n0\r\n\r\n"


@pytest.mark.parametrize(
    ("reply", "status", "reused", "server_closes"),
    [
        (CHUNKED, 201, True, False),
        (b"HTTP/1.1 200 OK\r\n\r\nuntil the end", 200, False, True),  # close-delimited
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", 200, False, False),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 200, False, False),
        (b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", 200, True, False),
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n" + OK, 200, True, False),
        (b"HTTP/1.1 204 No Content\r\n\r\n", 204, True, False),
        (b"HTTP/1.1 500 Oops\nContent-Length: 1\n\nx", 500, True, False),  # bare LF line ends
        (BIG, 200, False, False),  # too big to drain: closed instead
        (BIG_CHUNK, 200, False, False),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA", 200, False, False),  # stray bytes after it
    ],
)
async def test_response_framing_and_reuse(
    raw: Scripted, reply: bytes, status: int, reused: bool, server_closes: bool
) -> None:
    raw.replies = [reply]
    raw.closes = {0} if server_closes else set()
    c = client()
    assert await post(c, raw.port) == status
    await trio.sleep(0.02)  # a closing server's FIN arrives
    assert await post(c, raw.port) == 200
    await c.aclose()
    assert raw.connections == (1 if reused else 2)


@pytest.mark.parametrize(
    "reply",
    [
        b"SSH-2.0-OpenSSH_9.2\r\n\r\n",
        b"HTTP/1.1 abc nope\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nbad header line\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
    ],
)
async def test_garbage_is_a_protocol_error(raw: Scripted, reply: bytes) -> None:
    raw.replies = [reply]
    c = client()
    with pytest.raises(ProtocolError):
        await post(c, raw.port)
    await c.aclose()


async def test_a_stale_kept_alive_connection_is_retried_once_on_a_new_one(raw: Scripted) -> None:
    raw.replies = [OK, None, OK]  # the 2nd request reaches a connection the server then closes unanswered
    c = client()
    assert await post(c, raw.port) == 200
    assert await post(c, raw.port) == 200
    await c.aclose()
    assert raw.connections == 2 and len(raw.requests) == 3


async def test_no_retry_after_response_bytes_nor_on_a_new_connection(raw: Scripted) -> None:
    raw.replies = [OK, b"HTTP/1.1 200 OK\r\nContent-Le", None]
    raw.closes = {1}
    c = client()
    assert await post(c, raw.port) == 200
    with pytest.raises(ReadError):  # part of an answer came: the receiver may have acted on it
        await post(c, raw.port)
    with pytest.raises(ReadError):  # a new connection that fails is the answer
        await post(c, raw.port)
    await c.aclose()
    assert len(raw.requests) == 3 and raw.connections == 2


async def test_the_deadline_covers_the_whole_request(raw: Scripted) -> None:
    raw.replies = ["hang"]
    c = client(timeout_s=0.2)
    started = trio.current_time()
    with pytest.raises(Timeout):
        await post(c, raw.port)
    assert 0.2 <= trio.current_time() - started < 2
    assert c.open == 0  # the connection of a request that timed out is closed, not pooled
    await c.aclose()


async def test_the_connection_bound_makes_requests_wait_and_evicts_idle_ones(raw: Scripted) -> None:
    c = client(max_connections=1)
    async with trio.open_nursery() as nursery:
        for _ in range(3):
            nursery.start_soon(post, c, raw.port)
    assert raw.connections == 1 and c.open == 1  # the others waited and reused it
    other = Scripted()
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(serve, other.handle)
        assert await post(c, listeners[0].socket.getsockname()[1]) == 200  # the idle one was closed for it
        nursery.cancel_scope.cancel()
    assert c.open == 1 and other.connections == 1
    await c.aclose()
    assert c.open == 0


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def letting_through(*names: str):  # type: ignore[no-untyped-def]
    def judge(host: str, ip: IPAddress) -> UrlNotAllowed | None:
        return None if host in names else refuse_address(host, ip)

    return judge


async def loopback(host: str, port: int) -> list[str]:
    return ["127.0.0.1"]


async def to_loopback(host: str, port: int) -> trio.SocketStream:
    return await trio.open_tcp_stream("127.0.0.1", port)


async def test_outcomes_of_the_guard_refusals_and_timeouts(raw: Scripted) -> None:
    guard = OutboundGuard(allow_private=False, resolver=loopback, judge=letting_through("hooks.test"))
    poster = HttpWebhookPoster(guard, timeout_s=0.3)
    try:
        refused = await poster.post(f"http://127.0.0.1:{raw.port}/x", {}, b"{}", trusted=False)
        assert refused.final and refused.error is not None and refused.error.startswith("url_not_allowed: 127.0.0.1")
        assert raw.connections == 0  # refused before connecting
        assert (await poster.post(f"http://127.0.0.1:{raw.port}/x", {}, b"{}", trusted=True)).status_code == 200
        assert (await poster.post(f"http://hooks.test:{raw.port}/x", {}, b"{}", trusted=False)).status_code == 200
        assert raw.requests[-1].startswith(b"POST /x HTTP/1.1\r\nHost: hooks.test:")
        port = closed_port()
        user = await poster.post(f"http://hooks.test:{port}/", {}, b"{}", trusted=False)
        admin = await poster.post(f"http://127.0.0.1:{port}/", {}, b"{}", trusted=True)
        assert (user.error, user.final) == (UNREACHABLE, False)
        assert admin.error is not None and admin.error.startswith("ConnectError") and not admin.final
        raw.replies = ["hang", "hang"]
        slow_user = await poster.post(f"http://hooks.test:{raw.port}/", {}, b"{}", trusted=False)
        slow_admin = await poster.post(f"http://127.0.0.1:{raw.port}/", {}, b"{}", trusted=True)
        assert (slow_user.error, slow_admin.error) == (UNREACHABLE, "timeout")
    finally:
        await poster.aclose()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
async def test_https_verifies_the_certificate_with_the_name_as_sni(tmp_path: Path) -> None:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    command = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=hooks.test"]
    subprocess.run(
        [*command, "-addext", "subjectAltName=DNS:hooks.test", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    names: list[str | None] = []
    server_context.sni_callback = lambda sock, name, ctx: names.append(name)
    served = Scripted()

    async def handle(stream: trio.SocketStream) -> None:
        tls = trio.SSLStream(stream, server_context, server_side=True)
        try:
            await tls.do_handshake()
        except trio.BrokenResourceError:
            return  # the client refused the certificate
        await served.handle(tls)

    guard = OutboundGuard(allow_private=False, resolver=loopback, judge=letting_through("hooks.test"))
    trusting = webhook_ssl_context()
    trusting.load_verify_locations(cert)
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(serve, handle)
        url = f"https://hooks.test:{listeners[0].socket.getsockname()[1]}/tls"
        strict = Http1Client(to_loopback, ssl_context=webhook_ssl_context())
        with pytest.raises(ConnectError, match="certificate verify failed"):
            await strict.post(parse_target(url), [], b"{}")
        poster = HttpWebhookPoster(guard, ssl_context=trusting)
        for _ in range(2):
            assert (await poster.post(url, {}, b"{}", trusted=False)).status_code == 200
        await strict.aclose()
        await poster.aclose()
        nursery.cancel_scope.cancel()
    assert names == ["hooks.test", "hooks.test"]  # SNI is the name, not the address connected to
    assert served.connections == 1 and served.requests[0].startswith(b"POST /tls HTTP/1.1\r\nHost: hooks.test:")
