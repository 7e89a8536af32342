"""Which WhatsApp message kind a media type travels as (pure)."""

from __future__ import annotations

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"})


def kind_of(mime: str) -> str:
    """image, video, audio or document, by the sniffed MIME type."""
    if mime in IMAGE_TYPES:
        return "image"
    for prefix in ("video/", "audio/"):
        if mime.startswith(prefix):
            return prefix[:-1]
    return "document"
