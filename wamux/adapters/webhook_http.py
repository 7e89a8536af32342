"""Webhook POSTs over httpx, through the outbound guard: the `WebhookPoster` port of the dispatcher.

Two pooled clients with a bounded number of connections: one for instances of users, whose
connections the guard checks (§8), one for instances of admins. Users see one generic error for
any failure before a response, so the answer cannot be used to probe networks.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import httpx

from wamux import __version__
from wamux.adapters.outbound import OutboundGuard
from wamux.core.ports import Outcome
from wamux.domain.errors import UrlNotAllowed
from wamux.domain.outbound import encode_headers

USER_AGENT = f"wamux/{__version__} (+webhooks)"
# What users see for any failure before a response: no refused-vs-timeout answer to probe networks with.
UNREACHABLE = "could not reach the webhook URL (no HTTP response: refused, unreachable or timed out)"


class HttpWebhookPoster:
    """Sends one webhook POST with the client of the caller's policy (trusted: the owner is an admin)."""

    def __init__(self, guard: OutboundGuard, *, timeout_s: float = 10.0, max_connections: int = 64) -> None:
        self.clients = {
            policy: guard.client(
                trusted=policy,
                timeout=httpx.Timeout(timeout_s),
                limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
                headers={"User-Agent": USER_AGENT},
                follow_redirects=False,
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
        client = self.clients[trusted]
        try:
            # Receivers can always tell wamux by its User-Agent, whatever custom headers say.
            custom = {k: v for k, v in headers.items() if str(k).lower() != "user-agent"}
            content = body.encode() if isinstance(body, str) else body
            request = client.build_request(
                "POST", url, content=content, headers=[*encode_headers(custom), (b"User-Agent", USER_AGENT.encode())]
            )
        except Exception as exc:  # e.g. a header or URL stored before §8 was enforced: this delivery fails
            return Outcome(None, f"the request cannot be sent: {type(exc).__name__}: {exc}"[:300], 0.0, final=True)
        try:
            response = await client.send(request)
        except UrlNotAllowed as exc:
            return Outcome(None, exc.message, _since(started), final=True)
        except httpx.TimeoutException:
            return Outcome(None, "timeout" if trusted else UNREACHABLE, _since(started))
        except Exception as exc:  # network, TLS or protocol trouble: this delivery's error, never the server's
            detail = f"{type(exc).__name__}: {exc}"[:300]
            return Outcome(None, detail if trusted else UNREACHABLE, _since(started))
        latency = _since(started)
        await response.aclose()
        error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
        return Outcome(response.status_code, error, latency)

    async def aclose(self) -> None:
        """Close both pools."""
        for client in self.clients.values():
            await client.aclose()


def _since(started: float) -> float:
    return (time.perf_counter() - started) * 1000
