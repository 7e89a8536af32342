"""What wamux may send out: which addresses it may connect to, and which custom headers it may send.

Pure rules (no I/O): the outbound guard (`wamux.adapters.outbound`) resolves names and calls
`refuse_address` on every address it is about to connect to; instance settings call
`check_outbound_url` and `check_custom_headers`.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

from wamux.domain.errors import UrlNotAllowed, ValidationFailed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL = 2048
MAX_HEADERS = 20
MAX_HEADER_BYTES = 1024
# Headers that decide how a request is framed or routed: a tenant must not set them (request smuggling
# through a shared connection pool), and `X-Webhook-*` is what receivers trust as wamux's own.
RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})
RESERVED_PREFIX = "x-webhook-"
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")  # RFC 7230 `token`
_VALUE = re.compile(r"^[\x20-\x7e\xa0-\xff]*$")  # printable ASCII and Latin-1, no control characters
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


def blocked_reason(ip: IPAddress) -> str | None:
    """Why a user may not reach `ip` (loopback, private, ...), or None for a public unicast address."""
    # An IPv6 address that carries an IPv4 one (mapped, NAT64, 6to4) is judged by the IPv4 address it reaches.
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return blocked_reason(embedded)
    for reason, hit in (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("carrier-grade NAT", isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
        ("non-public", not ip.is_global),
    ):
        if hit:
            return reason
    return None


def refuse_address(host: str, ip: IPAddress) -> UrlNotAllowed | None:
    """The error to raise when `host` leads to a blocked `ip` (None when the address is public)."""
    reason = blocked_reason(ip)
    if reason is None:
        return None
    shown = host if host == str(ip) else f"{host} ({ip})"
    return UrlNotAllowed(
        f"url_not_allowed: {shown} is a {reason} address; only admins (or ALLOW_PRIVATE_URLS=1) may use it",
        details={"url": f"{reason} address"},
    )


def check_outbound_url(value: Any, field_name: str = "url") -> tuple[str, int]:
    """Syntax of an outbound http(s) URL; returns (host, port). A literal blocked IP is not judged here."""
    if not isinstance(value, str):
        raise ValidationFailed(f"{field_name} must be a string", details={field_name: "invalid"})
    if len(value) > MAX_URL or any(ord(c) < 0x21 or ord(c) == 0x7F for c in value):
        raise ValidationFailed(
            f"{field_name} must be an http(s) URL of at most {MAX_URL} characters without spaces or control characters",
            details={field_name: "invalid"},
        )
    try:
        parts = urlsplit(value)
        host, port = parts.hostname, parts.port  # `.port` raises for a port that is not 0..65535
    except ValueError:  # e.g. "http://[::1/" (unbalanced brackets), "http://h:99999"
        host = port = None
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not host:
        raise ValidationFailed(f"{field_name} must be an http(s) URL", details={field_name: "invalid"})
    if port == 0:
        raise ValidationFailed(f"{field_name} has an invalid port", details={field_name: "invalid"})
    return host, port or (443 if parts.scheme == "https" else 80)


def check_custom_headers(value: Any, field_name: str = "headers") -> dict[str, str]:
    """Custom webhook headers as §8 allows them: at most 20 tokens with short printable values."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationFailed(f"{field_name} must be an object of string values", details={field_name: "invalid"})
    if len(value) > MAX_HEADERS:
        raise ValidationFailed(
            f"{field_name}: at most {MAX_HEADERS} custom headers", details={field_name: f"{len(value)} headers"}
        )
    seen: set[str] = set()
    for name, item in value.items():
        problem = _header_problem(name, item, seen)
        if problem is not None:
            raise ValidationFailed(f"{field_name}: {problem}", details={field_name: problem, "header": str(name)[:64]})
        seen.add(name.lower())
    return dict(value)


def _header_problem(name: Any, value: Any, seen: set[str]) -> str | None:
    if not isinstance(name, str) or len(name) > MAX_HEADER_BYTES or not _TOKEN.match(name):
        return f"header name {str(name)[:64]!r} is not an HTTP token (letters, digits and !#$%&'*+-.^_`|~)"
    lowered = name.lower()
    if lowered in RESERVED_HEADERS or lowered.startswith(RESERVED_PREFIX):
        return f"header {name} is set by wamux and cannot be given"
    if lowered in seen:
        return f"header {name} is given twice"
    if not isinstance(value, str):
        return f"header {name} must have a string value"
    if len(value) > MAX_HEADER_BYTES:
        return f"header {name} is longer than {MAX_HEADER_BYTES} bytes"
    if not _VALUE.match(value):
        return f"header {name} may hold only printable ASCII or Latin-1 characters (no CR, LF or controls)"
    return None


def encode_headers(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    """Headers as wire bytes (Latin-1, as HTTP/1.1 allows); raises ValueError for one that cannot be sent.

    Framing headers are dropped: the HTTP client sets them, and a row stored before §8 was enforced
    may still carry them.
    """
    out = []
    for name, value in headers.items():
        if not isinstance(name, str) or not isinstance(value, str) or not _TOKEN.match(name) or not _VALUE.match(value):
            raise ValueError(f"header {str(name)[:64]!r} cannot be sent (not a token, or a value with controls)")
        if name.lower() not in RESERVED_HEADERS:
            out.append((name.encode("ascii"), value.encode("latin-1")))
    return out
