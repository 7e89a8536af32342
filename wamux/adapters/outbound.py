"""Outbound HTTP (webhooks, `send-media`): connections go only to addresses the caller may reach.

The guard resolves a name once, judges every address it got (`wamux.domain.outbound`) and
connects to one of those very addresses, while the Host header and TLS (SNI and certificate)
still use the name. So a name that resolves to a public address for a check and to 127.0.0.1
a moment later (DNS rebinding) is refused by the connection attempt itself, for the first
request and for every redirect. Callers who may reach private addresses (admins, or everyone
with `ALLOW_PRIVATE_URLS=1`) get a client of their own: pooled connections are never shared
between the two policies.
"""

from __future__ import annotations

import ipaddress
import math
import socket
import typing
from collections.abc import Awaitable, Callable
from typing import Any

import httpcore
import httpx
import trio

from wamux.domain.errors import UrlNotAllowed, ValidationFailed
from wamux.domain.outbound import IPAddress, check_outbound_url, refuse_address

Resolver = Callable[[str, int], Awaitable[list[str]]]
Judge = Callable[[str, IPAddress], UrlNotAllowed | None]
RESOLVE_TIMEOUT_S = 10.0


async def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, in the resolver's order, without repeats."""
    infos = await trio.socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class OutboundGuard:
    """The outbound-URL rule of §8, applied at input (`check`) and at connect time (`client`)."""

    def __init__(self, *, allow_private: bool, resolver: Resolver = resolve, judge: Judge = refuse_address) -> None:
        self.allow_private = allow_private
        self.resolver = resolver  # tests give their own (DNS answers cannot be staged offline)
        self.judge = judge

    def trusts(self, trusted: bool) -> bool:
        """Whether a caller (`trusted`: an admin) may reach private addresses."""
        return trusted or self.allow_private

    async def addresses(self, host: str, port: int) -> list[str]:
        """The addresses of `host`, each one judged; raises UrlNotAllowed if any is blocked, OSError if none."""
        with trio.fail_after(RESOLVE_TIMEOUT_S):
            found = await self.resolver(host, port)
        if not found:
            raise OSError(f"{host} has no address")
        for address in found:
            refused = self.judge(host, ipaddress.ip_address(address))
            if refused is not None:  # any private answer refuses the name: no fallback games
                raise refused
        return found

    async def check(self, url: Any, *, trusted: bool, field_name: str = "url", must_resolve: bool = True) -> None:
        """Refuse (400) a URL that is malformed or leads to a blocked address, before any connection.

        `must_resolve=False` accepts a name that does not resolve now (a webhook target may
        appear later); the connect-time check still applies when it is used.
        """
        host, port = check_outbound_url(url, field_name)
        try:
            httpx.URL(url)
        except (httpx.InvalidURL, ValueError):
            raise ValidationFailed(f"{field_name} is not a valid URL", details={field_name: "invalid"}) from None
        if self.trusts(trusted):
            return
        try:
            await self.addresses(host, port)
        except (OSError, trio.TooSlowError):
            if must_resolve:
                raise ValidationFailed(
                    f"{field_name} host does not resolve", details={field_name: "unresolvable"}
                ) from None

    def client(self, *, trusted: bool, limits: httpx.Limits | None = None, **kwargs: Any) -> httpx.AsyncClient:
        """An httpx client for one policy; untrusted clients check every address they connect to."""
        limits = limits or httpx.Limits()
        transport = (
            httpx.AsyncHTTPTransport(limits=limits, trust_env=False)
            if self.trusts(trusted)
            else GuardedTransport(self, limits=limits)
        )
        # trust_env=False: an HTTP(S)_PROXY from the environment would move the connect out of the guard's sight.
        return httpx.AsyncClient(transport=transport, trust_env=False, **kwargs)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend with the guard in `connect_tcp`: resolve once, judge, connect to that address."""

    def __init__(self, guard: OutboundGuard, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.guard = guard
        self.inner = inner or httpcore.TrioBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            with trio.fail_after(math.inf if timeout is None else timeout):
                addresses = await self.guard.addresses(host, port)
        except trio.TooSlowError:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from None
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from None
        failure: Exception = httpcore.ConnectError(f"cannot connect to {host}")
        for address in addresses:
            try:
                return await self.inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                failure = exc
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not outbound URLs")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a connection pool whose connections go through `GuardedBackend`."""

    def __init__(self, guard: OutboundGuard, *, limits: httpx.Limits) -> None:
        super().__init__(limits=limits, trust_env=False)
        # httpx builds its pool without a way to pass a network backend (0.28): build the same pool with ours.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(guard),
        )
