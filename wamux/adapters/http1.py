"""A lean HTTP/1.1 POST client on trio streams: keep-alive pools, a bounded body, one deadline per request.

Built for webhook deliveries, where httpx's generality cost about 1 ms of CPU per POST. It sends
exactly the headers it is given (plus Host and Content-Length), follows no redirects, reads a
response's body only to keep the connection reusable (at most `MAX_BODY` bytes, else it closes the
connection) and answers the status code. Who may be connected to is the caller's `Connector`.
"""

from __future__ import annotations

import base64
import select
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache

import httpx
import trio

from wamux.adapters.http1_response import (
    MAX_BODY,
    ConnectError,
    HttpError,
    NothingReceived,
    ProtocolError,
    ReadError,
    Timeout,
    UnsupportedUrl,
    read_response,
)

__all__ = [
    "MAX_BODY",
    "ConnectError",
    "Connector",
    "Http1Client",
    "HttpError",
    "ProtocolError",
    "ReadError",
    "Target",
    "Timeout",
    "UnsupportedUrl",
    "parse_target",
]

Connector = Callable[[str, int], Awaitable[trio.SocketStream]]
KEEPALIVE_S = 5.0  # httpx's default keepalive expiry: an idle connection older than this is not reused


@dataclass(frozen=True, slots=True)
class Target:
    """Where a URL leads, parsed once: the pool key, the request line's target and the Host header."""

    scheme: str
    host: str  # IDNA-encoded name or IP literal without brackets, as connected to and sent as SNI
    port: int
    host_header: bytes
    path: bytes  # path and query, percent-encoded; never empty
    authorization: bytes | None  # Basic credentials from the URL's userinfo (httpx sends them too)


@lru_cache(maxsize=4096)
def _parse(url: str) -> Target:
    parsed = httpx.URL(url)  # httpx's parser: the same normalisation, IDNA and errors as before
    scheme = parsed.scheme
    if scheme not in ("http", "https") or not parsed.raw_host:
        raise UnsupportedUrl(f"the URL {url[:100]!r} is not an absolute http(s) URL")
    port = (443 if scheme == "https" else 80) if parsed.port is None else parsed.port
    auth = None
    if parsed.username or parsed.password:
        auth = b"Basic " + base64.b64encode(f"{parsed.username}:{parsed.password}".encode())
    return Target(scheme, parsed.raw_host.decode("ascii"), port, parsed.netloc, parsed.raw_path or b"/", auth)


def parse_target(url: object) -> Target:
    """Parse an http(s) URL as httpx would; raises (TypeError, httpx.InvalidURL) for one that is not a URL.

    A URL with another scheme or no host raises `UnsupportedUrl` (an `HttpError`).
    """
    if not isinstance(url, str):
        httpx.URL(url)  # type: ignore[arg-type]  # raises httpx's own TypeError
        raise TypeError(f"a URL must be a string, not {type(url).__name__}")
    return _parse(url)


class _Connection:
    __slots__ = ("idle_since", "key", "raw", "stream", "uses")

    def __init__(self, key: tuple[str, str, int], raw: trio.SocketStream, stream: trio.abc.Stream) -> None:
        self.key = key
        self.raw = raw
        self.stream = stream
        self.uses = 0  # exchanges completed on it
        self.idle_since = 0.0

    def close(self) -> None:
        """Close at once, without a TLS goodbye: safe under cancellation, never blocks."""
        self.raw.socket.close()

    def reusable(self, now: float) -> bool:
        """Idle for less than the keep-alive expiry, and nothing to read: no EOF, no stray bytes."""
        if now - self.idle_since >= KEEPALIVE_S:
            return False
        try:
            poller = select.poll()
            poller.register(self.raw.socket.fileno(), select.POLLIN)
            return not poller.poll(0)
        except (OSError, ValueError):
            return False


class Http1Client:
    """POSTs over pooled HTTP/1.1 connections: at most `max_connections` open at once, idle ones included."""

    def __init__(
        self,
        connect: Connector,
        *,
        ssl_context: ssl.SSLContext,
        max_connections: int = 64,
        timeout_s: float = 10.0,
    ) -> None:
        self.connect = connect
        self.ssl_context = ssl_context
        self.max_connections = max_connections
        self.timeout_s = timeout_s
        self.idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self.open = 0
        self.freed = trio.lowlevel.ParkingLot()
        self.closed = False

    async def post(self, target: Target, headers: list[tuple[bytes, bytes]], body: bytes) -> int:
        """Send one POST within the deadline and answer the final response's status code.

        Raises `HttpError` (`Timeout` when the deadline passed), or whatever the connector raises.
        A kept-alive connection that fails before any response byte is retried once on a new one.
        """
        parts = [b"POST ", target.path, b" HTTP/1.1\r\nHost: ", target.host_header, b"\r\n"]
        for name, value in headers:
            parts += (name, b": ", value, b"\r\n")
        parts += (b"Content-Length: ", str(len(body)).encode(), b"\r\n\r\n", body)
        request = b"".join(parts)
        with trio.move_on_after(self.timeout_s):
            try:
                return await self._exchange(target, request)
            except trio.TooSlowError:  # e.g. the guard's own resolve timeout
                raise Timeout("timed out") from None
        raise Timeout("timed out")

    async def _exchange(self, target: Target, request: bytes) -> int:
        key = (target.scheme, target.host, target.port)
        fresh = False
        while True:
            conn = await self._acquire(key, target, fresh)
            try:
                status, keep = await self._send(conn, request)
            except NothingReceived as exc:
                self._drop(conn)
                if conn.uses == 0:  # a new connection: the failure is the answer
                    raise exc.error from None
                fresh = True  # a stale kept-alive connection: the receiver got nothing, try once more
                continue
            except BaseException:
                self._drop(conn)
                raise
            self._release(conn, keep)
            return status

    @staticmethod
    async def _send(conn: _Connection, request: bytes) -> tuple[int, bool]:
        try:
            await conn.stream.send_all(request)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            raise NothingReceived(ReadError(f"the connection broke while sending: {exc}")) from None
        return await read_response(conn.stream)

    async def _acquire(self, key: tuple[str, str, int], target: Target, fresh: bool) -> _Connection:
        while True:
            if self.closed:
                raise HttpError("the client is closed")
            stack = self.idle.get(key)
            now = time.monotonic()
            while stack and not fresh:
                conn = stack.pop()
                if conn.reusable(now):
                    return conn
                self._drop(conn)
            if self.open < self.max_connections:
                break
            if not self._evict_oldest():
                await self.freed.park()
        self.open += 1
        try:
            return await self._open(key, target)
        except BaseException:
            self.open -= 1
            self.freed.unpark()
            raise

    async def _open(self, key: tuple[str, str, int], target: Target) -> _Connection:
        raw = await self.connect(target.host, target.port)
        if target.scheme != "https":
            return _Connection(key, raw, raw)
        stream = trio.SSLStream(raw, self.ssl_context, server_hostname=target.host, https_compatible=True)
        try:
            await stream.do_handshake()
        except BaseException as exc:
            raw.socket.close()
            if isinstance(exc, trio.BrokenResourceError | ssl.SSLError | OSError):
                cause = exc.__cause__ or exc
                raise ConnectError(f"TLS with {target.host} failed: {cause}") from None
            raise
        return _Connection(key, raw, stream)

    def _release(self, conn: _Connection, keep: bool) -> None:
        if keep and not self.closed:
            conn.uses += 1
            conn.idle_since = time.monotonic()
            self.idle.setdefault(conn.key, []).append(conn)
            self.freed.unpark()  # a waiter for another host may now close it to make room
        else:
            self._drop(conn)

    def _drop(self, conn: _Connection) -> None:
        conn.close()
        self.open -= 1
        self.freed.unpark()

    def _evict_oldest(self) -> bool:
        oldest: _Connection | None = None
        for stack in self.idle.values():
            if stack and (oldest is None or stack[0].idle_since < oldest.idle_since):
                oldest = stack[0]
        if oldest is None:
            return False
        self.idle[oldest.key].remove(oldest)
        self._drop(oldest)
        return True

    async def aclose(self) -> None:
        """Close every idle connection; connections in use close when their request ends."""
        self.closed = True
        for stack in self.idle.values():
            for conn in stack:
                self._drop(conn)
        self.idle.clear()
        self.freed.unpark_all()
