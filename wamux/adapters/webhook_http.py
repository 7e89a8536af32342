"""Webhook POSTs through the outbound guard: the `WebhookPoster` port of the dispatcher.

Two pooled HTTP/1.1 clients (`wamux.adapters.http1`) with a bounded number of connections: one for
instances of users, whose connections the guard checks (§8), one for instances of admins. Users
see one generic error for any failure before a response, so the answer cannot be used to probe
networks.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Mapping
from typing import Any

import httpx
import trio

from wamux import __version__
from wamux.adapters.http1 import ConnectError, Connector, Http1Client, Timeout, UnsupportedUrl, parse_target
from wamux.adapters.outbound import OutboundGuard
from wamux.core.ports import Outcome
from wamux.domain.errors import UrlNotAllowed
from wamux.domain.outbound import encode_headers

USER_AGENT = f"wamux/{__version__} (+webhooks)"
_USER_AGENT = USER_AGENT.encode()
# What users see for any failure before a response: no refused-vs-timeout answer to probe networks with.
UNREACHABLE = "could not reach the webhook URL (no HTTP response: refused, unreachable or timed out)"


def webhook_ssl_context() -> ssl.SSLContext:
    """Certificates verified against the same CA bundle httpx uses (certifi), HTTP/1.1 offered by ALPN."""
    context = httpx.create_ssl_context(trust_env=False)
    context.set_alpn_protocols(["http/1.1"])
    return context


class HttpWebhookPoster:
    """Sends one webhook POST with the client of the caller's policy (trusted: the owner is an admin)."""

    def __init__(
        self,
        guard: OutboundGuard,
        *,
        timeout_s: float = 10.0,
        max_connections: int = 64,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        context = ssl_context or webhook_ssl_context()  # one per poster: building one costs milliseconds
        self.clients = {
            policy: Http1Client(
                _direct if guard.trusts(policy) else _guarded(guard),
                ssl_context=context,
                max_connections=max_connections,
                timeout_s=timeout_s,
            )
            for policy in (False, True)
        }

    async def post(
        self, url: Any, headers: Mapping[str, str] | Any, body: bytes | str | None, *, trusted: bool
    ) -> Outcome:
        """One POST. Never raises (but for cancellation): whatever stops the request is its outcome.

        `trusted` (the instance's owner is an admin) picks the client that may reach private
        addresses, and shows users' network failures as one generic error.
        """
        started = time.perf_counter()
        try:
            # Receivers can always tell wamux by its User-Agent, whatever custom headers say.
            custom = {k: v for k, v in headers.items() if str(k).lower() != "user-agent"}
            content = _content(body)
            target = parse_target(url)
            wire = encode_headers(custom)
            if target.authorization is not None:  # credentials in the URL win over a custom header, as in httpx
                wire = [h for h in wire if h[0].lower() != b"authorization"]
                wire.append((b"Authorization", target.authorization))
            wire.append((b"User-Agent", _USER_AGENT))
        except UnsupportedUrl as exc:  # no http(s) URL with a host: a failure to reach it, as it was with httpx
            return _failure(exc, trusted, started)
        except Exception as exc:  # e.g. a header or URL stored before §8 was enforced: this delivery fails
            return Outcome(None, f"the request cannot be sent: {type(exc).__name__}: {exc}"[:300], 0.0, final=True)
        try:
            status = await self.clients[bool(trusted)].post(target, wire, content)
        except Exception as exc:  # network, TLS or protocol trouble: this delivery's error, never the server's
            return _failure(exc, trusted, started)
        error = None if 200 <= status < 300 else f"HTTP {status}"
        return Outcome(status, error, _since(started))

    async def aclose(self) -> None:
        """Close both pools."""
        for client in self.clients.values():
            await client.aclose()


def _content(body: object) -> bytes:
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode()
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    raise TypeError(f"Unexpected type for 'content', {type(body)}")


def _failure(exc: Exception, trusted: bool, started: float) -> Outcome:
    if isinstance(exc, UrlNotAllowed):
        return Outcome(None, exc.message, _since(started), final=True)
    if isinstance(exc, Timeout):
        return Outcome(None, "timeout" if trusted else UNREACHABLE, _since(started))
    detail = f"{type(exc).__name__}: {exc}"[:300]
    return Outcome(None, detail if trusted else UNREACHABLE, _since(started))


async def _direct(host: str, port: int) -> trio.SocketStream:
    """A trusted caller's connection: any address the name resolves to."""
    try:
        return await trio.open_tcp_stream(host, port)
    except OSError as exc:
        raise ConnectError(f"cannot connect to {host}:{port}: {exc}") from None


def _guarded(guard: OutboundGuard) -> Connector:
    """A user's connection: resolve once, judge every address (UrlNotAllowed), connect to one of those very ones."""

    async def connect(host: str, port: int) -> trio.SocketStream:
        try:
            addresses = await guard.addresses(host, port)
        except trio.TooSlowError:
            raise Timeout(f"resolving {host} timed out") from None
        except OSError as exc:
            raise ConnectError(f"cannot resolve {host}: {exc}") from None
        failure = ConnectError(f"cannot connect to {host}")
        for address in addresses:
            try:
                return await trio.open_tcp_stream(address, port)
            except OSError as exc:
                failure = ConnectError(f"cannot connect to {host} ({address}): {exc}")
        raise failure

    return connect


def _since(started: float) -> float:
    return (time.perf_counter() - started) * 1000
