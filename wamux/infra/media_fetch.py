"""Downloading media for `/send-media`: SSRF guard, size limit, timeout, capped redirects, sniffed type.

The content type is read from the bytes (libmagic), never trusted from the response header.
Every hop of a redirect is checked again, so a public URL cannot bounce into the private net.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urljoin, urlparse

import httpx
import magic
import trio

from wamux import __version__
from wamux.domain.errors import DomainError, TransportFailed, ValidationFailed

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


def _blocked(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or (isinstance(ip, ipaddress.IPv4Address) and ip in ipaddress.ip_network("100.64.0.0/10"))
    )


async def check_url(url: str, *, allow_private: bool) -> None:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValidationFailed("url must be an http(s) URL", details={"url": "invalid"})
    if allow_private:
        return
    try:
        infos = await trio.to_thread.run_sync(
            lambda: socket.getaddrinfo(parsed.hostname, parsed.port or 443, type=socket.SOCK_STREAM)
        )
    except socket.gaierror:
        raise ValidationFailed("url host does not resolve", details={"url": "unresolvable"}) from None
    for info in infos:
        if _blocked(ipaddress.ip_address(info[4][0])):
            raise ValidationFailed(
                "url points to a private, loopback or link-local address (set MEDIA_ALLOW_PRIVATE_URLS=1 to allow)",
                details={"url": "private address"},
            )


class MediaFetcher:
    """Fetches remote media with limits; one pooled httpx client for the server's life."""

    def __init__(self, *, max_bytes: int, timeout_s: float, allow_private: bool) -> None:
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        self.allow_private = allow_private
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s),
            follow_redirects=False,
            headers={"User-Agent": f"wamux/{__version__} media-fetch"},
        )

    async def fetch(self, url: str, file_name: str | None = None) -> FetchedMedia:
        try:
            with trio.fail_after(self.timeout_s):
                return await self._fetch(url, file_name)
        except (trio.TooSlowError, httpx.TimeoutException):
            raise MediaTimeout(f"downloading the media took longer than {self.timeout_s:g}s") from None
        except httpx.HTTPError as exc:
            raise TransportFailed(f"could not download the media: {exc}") from None

    async def _fetch(self, url: str, file_name: str | None) -> FetchedMedia:
        for _hop in range(MAX_REDIRECTS + 1):
            await check_url(url, allow_private=self.allow_private)
            async with self.client.stream("GET", url) as response:
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
        await self.client.aclose()
