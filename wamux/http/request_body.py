"""Request bodies pulled from the connection only when a route reads them, and never past the route's limit.

Quart's stock connection buffers every body as it arrives, whether or not anyone reads it: an
unauthenticated client could make the server hold `MAX_BODY_MB` per request. Here the receiver waits
until the route asks for the body (after authentication), enforces the per-route limit chunk by chunk,
and a response sent over an unread body closes the connection instead of leaving it half-read.
"""

from __future__ import annotations

from typing import Any

import trio
from hypercorn.typing import ASGIReceiveCallable, ASGISendCallable
from quart import request
from quart.typing import ResponseTypes
from quart_trio.asgi import TrioASGIHTTPConnection
from quart_trio.wrappers.request import TrioBody, TrioRequest

ANSWER_GRACE_S = 5.0  # how long a disconnect waits for the answer already being sent


class GatedBody(TrioBody):
    """A body that is only pulled once `await`ed or iterated, refused (413) once over `limit` bytes."""

    def __init__(self, expected_content_length: int | None, max_content_length: int | None) -> None:
        super().__init__(expected_content_length, max_content_length)
        self._wanted = trio.Event()
        self._discarding = False
        self.received_all = False  # the client sent its last byte: the connection can be reused

    def limit(self, max_bytes: int) -> None:
        """Refuse the body once more than `max_bytes` arrive (checked on every chunk, not after buffering)."""
        self._max_content_length = max_bytes

    def discard(self) -> None:
        """Drop whatever still arrives: the answer is already decided."""
        self._discarding = True
        self._wanted.set()

    @property
    def discarding(self) -> bool:
        """The answer is decided; what still arrives is dropped."""
        return self._discarding

    @property
    def is_wanted(self) -> bool:
        """Someone reads the body (or it is being discarded)."""
        return self._wanted.is_set()

    async def wanted(self) -> None:
        """Wait until someone reads the body (or it is being discarded)."""
        await self._wanted.wait()

    def append(self, data: bytes) -> None:
        if not self._discarding:
            super().append(data)

    def __await__(self) -> Any:
        self._wanted.set()
        return super().__await__()

    async def __anext__(self) -> bytes:
        self._wanted.set()
        return await super().__anext__()


class GatedRequest(TrioRequest):
    """The request class whose body is a `GatedBody`."""

    body_class = GatedBody
    body: GatedBody


def limit_request_body(max_bytes: int) -> None:
    """Cap the current request's body at `max_bytes` (enforced while it streams in)."""
    body = request.body
    if isinstance(body, GatedBody):
        body.limit(max_bytes)


class GatedHTTPConnection(TrioASGIHTTPConnection):
    """Feeds the body to the request on demand; closes the connection when the body was left unread."""

    request: GatedRequest | None = None

    def __init__(self, app: Any, scope: Any) -> None:
        super().__init__(app, scope)
        self._answered = trio.Event()

    def _create_request_from_scope(self, send: ASGISendCallable) -> GatedRequest:
        request = super()._create_request_from_scope(send)
        assert isinstance(request, GatedRequest)
        chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
        # No length and not chunked: HTTP says there is no body, so the connection stays reusable even
        # when the answer is ready before the (empty) end of the request reaches us.
        request.body.received_all = not request.content_length and not chunked
        self.request = request
        return request

    async def handle_messages(  # type: ignore[override]
        self, nursery: trio.Nursery, request: GatedRequest, receive: ASGIReceiveCallable
    ) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.request":
                request.body.append(message.get("body", b""))
                if not message.get("more_body", False):
                    request.body.received_all = True
                    request.body.set_complete()
                elif not request.body.is_wanted:
                    # Backpressure: leave the rest in the socket (hypercorn stops reading) until a route
                    # asks for it; an unauthenticated client cannot make us buffer anything more.
                    await request.body.wanted()
            elif message["type"] == "http.disconnect":
                if request.body.discarding:
                    # The answer's end is what disconnected us: cancelling before it is fully sent would
                    # stop the server from closing the connection, and the client would send on forever.
                    with trio.move_on_after(ANSWER_GRACE_S):
                        await self._answered.wait()
                break
        nursery.cancel_scope.cancel()

    async def _send_response(self, send: ASGISendCallable, response: ResponseTypes) -> None:
        if self.request is not None and not self.request.body.received_all:
            # The rest of the body is never read: say so, and let the server drop the connection
            # rather than keep it half-read (the next request on it would wait behind the body).
            if self.scope["http_version"] in ("1.0", "1.1"):  # HTTP/2 forbids the header; its stream just ends
                response.headers["Connection"] = "close"
            self.request.body.discard()
        await super()._send_response(send, response)
        self._answered.set()
