"""Downloading media for `/send-media`: outbound-URL guard, size limit, timeout, capped redirects, sniffed type.

The content type is read from the bytes (libmagic), never trusted from the response header.
Every hop of a redirect is checked again, and every connection by the guard's client, so a
public URL cannot bounce (or rebind) into the private net.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin, urlparse

import httpx
import magic
import trio

from wamux import __version__
from wamux.adapters.outbound import OutboundGuard
from wamux.domain.errors import DomainError, TransportFailed

MAX_REDIRECTS = 3


class MediaTooLarge(DomainError):
    code = "payload_too_large"


class MediaTimeout(DomainError):
    code = "media_timeout"


@dataclass(frozen=True)
class FetchedMedia:
    data: bytes
    mime_type: str
    file_name: str | None


def sniff(data: bytes) -> str:
    """The MIME type of `data`, from its content."""
    return str(magic.from_buffer(data[:8192], mime=True)) or "application/octet-stream"


class MediaFetcher:
    """Fetches remote media with limits; pooled httpx clients (one per outbound policy) for the server's life."""

    def __init__(self, *, max_bytes: int, timeout_s: float, guard: OutboundGuard) -> None:
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        self.guard = guard
        self.clients = {
            trusted: guard.client(
                trusted=trusted,
                timeout=httpx.Timeout(timeout_s),
                follow_redirects=False,
                headers={"User-Agent": f"wamux/{__version__} media-fetch"},
            )
            for trusted in (False, True)
        }

    async def fetch(self, url: str, file_name: str | None = None, *, trusted: bool = False) -> FetchedMedia:
        """Download `url`; `trusted` callers (admins) may reach private addresses."""
        try:
            with trio.fail_after(self.timeout_s):
                return await self._fetch(url, file_name, trusted)
        except (trio.TooSlowError, httpx.TimeoutException):
            raise MediaTimeout(f"downloading the media took longer than {self.timeout_s:g}s") from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise TransportFailed(f"could not download the media: {exc}") from None

    async def _fetch(self, url: str, file_name: str | None, trusted: bool) -> FetchedMedia:
        client = self.clients[trusted]
        for _hop in range(MAX_REDIRECTS + 1):
            # A clear 400 for a malformed or blocked URL before connecting; the client's own connect-time
            # check closes the rebinding gap. A host that does not resolve is no fault of the request:
            # the download fails (502 transport_failed, as for a host that does not answer).
            await self.guard.check(url, trusted=trusted, must_resolve=False)
            async with client.stream("GET", url) as response:
                if response.is_redirect and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    continue
                if response.status_code >= 400:
                    raise TransportFailed(f"the media URL answered {response.status_code}")
                length = int(response.headers.get("content-length") or 0)
                if length > self.max_bytes:
                    raise MediaTooLarge(f"media is larger than {self.max_bytes // (1024 * 1024)} MB")
                chunks = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise MediaTooLarge(f"media is larger than {self.max_bytes // (1024 * 1024)} MB")
                    chunks.append(chunk)
                data = b"".join(chunks)
                if not data:
                    raise TransportFailed("the media URL returned no content")
                name = file_name or (urlparse(url).path.rsplit("/", 1)[-1] or None)
                return FetchedMedia(data=data, mime_type=sniff(data), file_name=name)
        raise TransportFailed(f"too many redirects (more than {MAX_REDIRECTS})")

    async def aclose(self) -> None:
        for client in self.clients.values():
            await client.aclose()
