"""Reading one HTTP/1.1 response off a stream: status line, headers, and the body framed and dropped.

Hand-written rather than h11: the webhook client needs the status code and whether the connection
may be reused, nothing else, and this costs a fraction of h11's CPU per response. The body is read
(to keep the connection usable) up to `MAX_BODY` bytes; a longer one ends the connection instead.
"""

from __future__ import annotations

import re

import trio

MAX_HEAD = 64 * 1024  # status line and headers, per response
MAX_BODY = 64 * 1024  # body bytes read and dropped; beyond that the connection is closed, not drained
RECEIVE = 65536
_END_OF_HEAD = re.compile(rb"\r?\n\r?\n")
_STATUS = re.compile(rb"HTTP/1\.([01]) ([1-9][0-9][0-9])(?:[ \t][^\r\n]*)?\r?")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")
_BROKEN = (trio.BrokenResourceError, trio.ClosedResourceError, OSError)


class HttpError(Exception):
    """A request that got no usable response (network, TLS or protocol trouble)."""


class ConnectError(HttpError):
    """No connection could be made (refused, unresolvable, TLS handshake or certificate refused)."""


class Timeout(HttpError):
    """The request's deadline passed."""


class UnsupportedUrl(HttpError):
    """A URL that is not absolute http(s) with a host: it fails as a network failure, as with httpx."""


class ReadError(HttpError):
    """The connection broke or closed before the response was complete."""


class ProtocolError(HttpError):
    """The peer answered something that is not an HTTP/1.x response."""


class NothingReceived(Exception):
    """The exchange failed before any response byte: the request may be sent again on a new connection."""

    def __init__(self, error: HttpError) -> None:
        super().__init__(str(error))
        self.error = error


async def read_response(stream: trio.abc.ReceiveStream) -> tuple[int, bool]:
    """Read the final response (1xx skipped); answer its status and whether the connection may be reused.

    Raises `NothingReceived` when the stream ends or breaks before any byte, `HttpError` after.
    """
    reader = _Reader(stream)
    while True:
        status, http11, fields = _parse_head(await reader.head())
        if status >= 200:
            break
        if status == 101:  # nobody asked to switch protocols
            raise ProtocolError("unexpected 101 Switching Protocols")
    tokens = {t.strip().lower() for t in fields.get(b"connection", b"").split(b",")}
    keep = b"close" not in tokens if http11 else b"keep-alive" in tokens
    if status in (204, 304):
        complete = True
    elif b"transfer-encoding" in fields:
        codings = fields[b"transfer-encoding"].lower().split(b",")
        if codings[-1].strip() == b"chunked":
            complete = await reader.chunked()
        else:
            complete = keep = await reader.until_close()
    elif b"content-length" in fields:
        complete = await reader.exact(_content_length(fields[b"content-length"]))
    else:
        complete = keep = await reader.until_close()
    return status, keep and complete and not reader.buf


def _parse_head(head: bytes) -> tuple[int, bool, dict[bytes, bytes]]:
    lines = head.split(b"\n")
    match = _STATUS.fullmatch(lines[0])
    if match is None:
        raise ProtocolError(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
    fields: dict[bytes, bytes] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not name or name[-1:] in (b" ", b"\t") or name[:1] in (b" ", b"\t"):
            raise ProtocolError(f"not a header line: {line[:80]!r}")
        name = name.lower()
        value = value.strip()
        fields[name] = fields[name] + b", " + value if name in fields else value
    return int(match[2]), match[1] == b"1", fields


def _content_length(value: bytes) -> int:
    lengths = {v.strip() for v in value.split(b",")}
    if len(lengths) != 1 or not (length := lengths.pop()).isdigit() or len(length) > 18:
        raise ProtocolError(f"invalid Content-Length: {value[:40]!r}")
    return int(length)


class _Reader:
    __slots__ = ("buf", "got", "stream")

    def __init__(self, stream: trio.abc.ReceiveStream) -> None:
        self.stream = stream
        self.buf = bytearray()
        self.got = False  # any response byte yet

    async def more(self) -> bool:
        """Receive once into the buffer; False at the end of the stream."""
        try:
            data = await self.stream.receive_some(RECEIVE)
        except _BROKEN as exc:
            error = ReadError(f"the connection broke while reading: {exc or type(exc).__name__}")
            if not self.got:
                raise NothingReceived(error) from None
            raise error from None
        if not data:
            if not self.got:
                raise NothingReceived(ReadError("the server closed the connection without answering"))
            return False
        self.got = True
        self.buf += data
        return True

    async def head(self) -> bytes:
        while True:
            found = _END_OF_HEAD.search(self.buf)
            if found is not None:
                head = bytes(self.buf[: found.start()])
                del self.buf[: found.end()]
                return head.lstrip(b"\r\n")
            if len(self.buf) > MAX_HEAD:
                raise ProtocolError(f"response head over {MAX_HEAD} bytes")
            if not await self.more():
                raise ReadError("the connection closed within the response head")

    async def line(self) -> bytes:
        while (end := self.buf.find(b"\n")) < 0:
            if len(self.buf) > MAX_HEAD:
                raise ProtocolError("chunk line too long")
            if not await self.more():
                raise ReadError("the connection closed within a chunked body")
        line = bytes(self.buf[:end]).rstrip(b"\r")
        del self.buf[: end + 1]
        return line

    async def exact(self, size: int) -> bool:
        """Drop `size` body bytes; False (the connection must close) when they are more than `MAX_BODY`."""
        if size > MAX_BODY:
            return False
        while len(self.buf) < size:
            if not await self.more():
                raise ReadError("the connection closed before the body ended")
        del self.buf[:size]
        return True

    async def chunked(self) -> bool:
        total = 0
        while True:
            size_text = (await self.line()).split(b";", 1)[0].strip()
            if not _HEX.fullmatch(size_text):
                raise ProtocolError(f"invalid chunk size: {size_text[:40]!r}")
            size = int(size_text, 16)
            if size == 0:
                while await self.line():  # trailer fields, up to the empty line
                    pass
                return True
            total += size
            if total > MAX_BODY:
                return False
            await self.exact(size)
            if await self.line():
                raise ProtocolError("chunk data longer than its size")

    async def until_close(self) -> bool:
        """Drop a close-delimited body; answers False: the connection cannot be reused."""
        total = len(self.buf)
        self.buf.clear()
        while total <= MAX_BODY and await self.more():
            total += len(self.buf)
            self.buf.clear()
        return False
