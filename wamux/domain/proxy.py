"""An instance's proxy (`settings.proxy`, API-2 §5): the URL rule, and the password never shown.

A proxy is `http://`, `https://` or `socks5://`, a host (a name, IPv4, or `[IPv6]`), an optional port
(1..65535) and optional `user:password@` credentials (percent-encoded where needed), with no path
but `/`, no query and no fragment. It may be a private or loopback address: it is the operator's own
proxy, not a URL a tenant makes the server fetch, so the outbound rule of §8 does not apply to it.

Every answer shows the URL with its password as `***` (`mask_proxy`); a change that sends the
masked URL back unchanged keeps the stored password (`check_proxy` with `stored`), so a form can
round-trip what it was shown.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

from wamux.domain.errors import ValidationFailed

PROXY_SCHEMES = ("http", "https", "socks5")
MAX_PROXY_URL = 2000
MASK = "***"
FIELD = "settings.proxy"

# RFC 3986 userinfo characters, percent-escapes checked apart.
_USERINFO = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=%]*")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")


def _fail(message: str) -> ValidationFailed:
    return ValidationFailed(message, details={FIELD: message})


def check_proxy(value: Any, stored: str | None = None) -> str | None:
    """The proxy URL to store (None: no proxy), or a 400 naming `settings.proxy`.

    A URL whose password is `***` is the masked one an answer showed: it stands for `stored` when
    it matches it (same scheme, user, host and port); otherwise the password must be typed again.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _fail("proxy must be a URL or null")
    if len(value) > MAX_PROXY_URL:
        raise _fail(f"proxy must be at most {MAX_PROXY_URL} characters")
    if not value.isascii() or not value.isprintable() or " " in value:
        raise _fail("proxy must be a URL without spaces or non-ASCII characters (percent-encode them)")
    scheme, sep, rest = value.partition("://")
    if not sep or scheme.lower() not in PROXY_SCHEMES:
        raise _fail("proxy must start with http://, https:// or socks5://")
    url = scheme.lower() + sep + rest
    if "?" in rest or "#" in rest:
        raise _fail("proxy must not have a query or a fragment")
    netloc, slash, path = rest.partition("/")
    if slash and path:
        raise _fail("proxy must not have a path")
    userinfo, at, hostport = netloc.rpartition("@")
    if at:
        _check_userinfo(userinfo)
    _check_hostport(url, hostport)
    if at and userinfo.partition(":")[2] == MASK:
        if stored is not None and mask_proxy(stored) == url:
            return stored
        raise _fail("the proxy password is hidden as ***: type it again to change the proxy address or user")
    return url


def _check_userinfo(userinfo: str) -> None:
    user, _, password = userinfo.partition(":")
    if not user:
        raise _fail("proxy credentials need a user name (user:password@)")
    for part in (user, password):
        if not _USERINFO.fullmatch(part) or _BAD_ESCAPE.search(part):
            raise _fail("proxy user and password must be percent-encoded (@ as %40, : in a user as %3A)")


def _check_hostport(url: str, hostport: str) -> None:
    if hostport.startswith("["):
        host, bracket, tail = hostport[1:].partition("]")
        if not bracket:
            raise _fail("proxy has an unclosed [IPv6] host")
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise _fail("proxy has an invalid IPv6 host") from None
        if tail and not tail.startswith(":"):
            raise _fail("proxy has an invalid host")
        port = tail[1:] if tail else None
    else:
        host, colon, port_text = hostport.partition(":")
        port = port_text if colon else None
        if not host:
            raise _fail("proxy must name a host")
        labels = host[:-1].split(".") if host.endswith(".") else host.split(".")
        if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
            raise _fail("proxy has an invalid host name")
    if port is not None and (not port.isdigit() or not 1 <= int(port) <= 65535):
        raise _fail("proxy port must be 1..65535")
    try:
        urlsplit(url).port  # noqa: B018 - the standard parser must agree
    except ValueError:
        raise _fail("proxy is not a valid URL") from None


def mask_proxy(url: str | None) -> str | None:
    """`socks5://user:***@host:1080`: the URL with its password hidden (unchanged without one)."""
    if not url:
        return url
    scheme, sep, rest = url.partition("://")
    netloc, slash, path = rest.partition("/")
    userinfo, at, hostport = netloc.rpartition("@")
    user, colon, password = userinfo.partition(":")
    if not sep or not at or not colon or not password:
        return url
    return f"{scheme}{sep}{user}:{MASK}@{hostport}{slash}{path}"


def masked_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """An instance's settings as answers show them: the proxy's password as `***`."""
    if not settings.get("proxy"):
        return settings
    return {**settings, "proxy": mask_proxy(settings["proxy"])}
