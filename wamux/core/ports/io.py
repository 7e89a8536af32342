"""Media bytes, media downloads, the outbound-URL rule and webhook POSTs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

# ---- media and outbound HTTP -----------------------------------------------------------------


class MediaStore(Protocol):
    """Where media bytes go; the events only carry the path and size."""

    def save(self, instance_id: str, data: bytes, mime_type: str | None, file_name: str | None) -> str: ...


class MediaFiles(MediaStore, Protocol):
    """Media bytes as the routes see them: saved uploads, and stored files served back."""

    def open_path(self, rel: str) -> Path | None: ...


class MediaFetch(Protocol):
    """Downloads a `send-media` URL under the outbound-URL rule."""

    async def fetch(self, url: str, file_name: str | None = None, *, trusted: bool = False) -> Any: ...


class OutboundCheck(Protocol):
    """The outbound-URL rule of §8 at input: 400 for a URL the caller may not use."""

    def trusts(self, trusted: bool) -> bool: ...

    async def check(self, url: Any, *, trusted: bool, field_name: str = "url", must_resolve: bool = True) -> None: ...


@dataclass(frozen=True)
class Outcome:
    """What one webhook POST gave. `final`: the same request would fail again (no retries by the policy)."""

    status_code: int | None
    error: str | None
    latency_ms: float
    final: bool = False


class WebhookPoster(Protocol):
    """Sends one webhook POST under the outbound-URL rule; `trusted`: the instance's owner is an admin."""

    async def post(
        self, url: Any, headers: Mapping[str, str] | Any, body: bytes | str | None, *, trusted: bool
    ) -> Outcome:
        """Never raises (but for cancellation): whatever stops the request is its outcome."""

    async def aclose(self) -> None: ...


class MediaConverter(Protocol):
    """Media made the way WhatsApp wants it: voice notes as Ogg/Opus (ffmpeg), stickers as 512x512 WebP."""

    def voice_available(self) -> bool:
        """Whether other audio can be turned into a voice note here (ffmpeg with libopus)."""

    async def voice_note(self, data: bytes, mime_type: str | None) -> tuple[bytes, str]:
        """(Ogg/Opus bytes, their MIME type); ConversionUnavailable without ffmpeg, ConversionFailed on bad input."""

    async def sticker(self, data: bytes) -> bytes: ...

    async def picture(self, data: bytes) -> bytes:
        """A profile or group picture: a square JPEG (640x640); ConversionFailed when it is not an image."""
