"""Headers for serving stored media: bytes from strangers must never run as a page on the API's origin."""

from __future__ import annotations

import re
from urllib.parse import quote

from wamux.domain.text import safe_file_name

_MIME = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}")
_INLINE_KINDS = ("image/", "audio/", "video/")
_SCRIPTABLE = {"image/svg+xml"}  # an "image" that runs script when opened directly
_NOT_QUOTABLE = re.compile(r'[^\x20-\x7e]|["\\%]')


def served_mime(stored: str | None) -> str:
    """The stored media type if it is a plain `type/subtype` (parameters dropped), else octet-stream."""
    base = (stored or "").split(";", 1)[0].strip().lower()
    return base if _MIME.fullmatch(base) else "application/octet-stream"


def content_disposition(disposition: str, file_name: str | None) -> str:
    """`inline`/`attachment` with an ASCII `filename` fallback and an RFC 5987 `filename*` (RFC 6266)."""
    name = safe_file_name(file_name)
    if not name:
        return disposition
    fallback = _NOT_QUOTABLE.sub("_", name)
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def stored_media_headers(mime: str, file_name: str | None) -> dict[str, str]:
    """nosniff, a sandboxing CSP, and `attachment` for anything but (non-scriptable) images, audio, video."""
    inline = mime.startswith(_INLINE_KINDS) and mime not in _SCRIPTABLE
    return {
        "Content-Disposition": content_disposition("inline" if inline else "attachment", file_name),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox",
        "Cache-Control": "private, max-age=86400",
    }
