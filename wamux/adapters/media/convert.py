"""Media conversion with real tools: voice notes to Ogg/Opus with ffmpeg, stickers to 512x512 WebP and
profile or group pictures to 640x640 JPEG with Pillow.

WhatsApp plays a voice note only as Ogg/Opus, shows a sticker only as a 512x512 WebP and takes a
profile or group picture as a square JPEG (640x640 is the size its apps upload). The sync
functions do the work (ffmpeg in a subprocess, Pillow in-process); `MediaConverter` runs them in
worker threads for the trio side. Both refuse input they cannot trust: ffmpeg may read only the
one local file with a known audio demuxer (no playlists, no network), Pillow opens only plain
image formats (no EPS, which would start Ghostscript).
"""

from __future__ import annotations

import functools
import io
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TypeVar

import trio

from wamux.domain.errors import ConversionFailed, ConversionUnavailable

VOICE_MIME = "audio/ogg; codecs=opus"
STICKER_MIME = "image/webp"
STICKER_SIZE = 512
STICKER_MAX_BYTES = 100 * 1024  # WhatsApp's limit for a static sticker
STICKER_MAX_SOURCE_PIXELS = 40_000_000  # bigger images are refused before they are decoded
PICTURE_SIZE = 640
PICTURE_MIME = "image/jpeg"
PICTURE_QUALITY = 85
FFMPEG_TIMEOUT_S = 60.0
# Demuxers of audio (and audio-in-video) containers: playlists, concat lists and images are not among them.
AUDIO_DEMUXERS = "wav,w64,mp3,ogg,flac,aac,mov,matroska,amr,amrnb,amrwb,caf,aiff,au,asf,ac3"
IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF")
INSTALL_HINT = "install ffmpeg (Debian/Ubuntu: apt-get install ffmpeg) or send the audio as Ogg/Opus"

T = TypeVar("T")


def is_ogg_opus(data: bytes) -> bool:
    """The bytes are an Ogg stream whose first page holds an Opus header (`OggS` ... `OpusHead`)."""
    if len(data) < 28 or data[:4] != b"OggS":
        return False
    start = 27 + data[26]  # the page header, then one byte per segment of the segment table
    return data[start : start + 8] == b"OpusHead"


def is_webp(data: bytes) -> bool:
    """The bytes are a RIFF WebP file."""
    return len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP"


def ffmpeg_path(ffmpeg: str = "ffmpeg") -> str | None:
    """Where the ffmpeg binary is (looked up on PATH), or None when it is not installed."""
    return shutil.which(ffmpeg)


def to_voice_note(
    data: bytes, mime_type: str | None, *, ffmpeg: str = "ffmpeg", timeout_s: float = FFMPEG_TIMEOUT_S
) -> tuple[bytes, str]:
    """Audio of any common format as a WhatsApp voice note: mono Opus at 32 kbit/s in Ogg, 48 kHz.

    Input that already is Ogg/Opus (by its bytes, whatever `mime_type` claims) is returned unchanged.
    Raises `ConversionUnavailable` without ffmpeg (or without its Opus encoder), `ConversionFailed`
    for input that holds no audio ffmpeg can decode, or that takes longer than `timeout_s`.
    """
    if is_ogg_opus(data):
        return data, VOICE_MIME
    if not data:
        raise ConversionFailed("the audio is empty", details={"file": "empty"})
    what = mime_type or "this audio"
    binary = ffmpeg_path(ffmpeg)
    if binary is None:
        raise ConversionUnavailable(f"a voice note from {what} needs ffmpeg to convert it to Ogg/Opus: {INSTALL_HINT}")
    with tempfile.TemporaryDirectory(prefix="wamux-voice-") as tmp:
        source, target = Path(tmp) / "input", Path(tmp) / "voice.ogg"
        source.write_bytes(data)
        command = [
            binary, "-nostdin", "-hide_banner", "-loglevel", "error", "-threads", "1",
            "-protocol_whitelist", "file", "-format_whitelist", AUDIO_DEMUXERS, "-i", str(source),
            "-vn", "-map_metadata", "-1", "-c:a", "libopus", "-b:a", "32k", "-ac", "1", "-ar", "48000",
            "-application", "voip", "-f", "ogg", str(target),
        ]  # fmt: skip
        try:
            done = subprocess.run(command, capture_output=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise ConversionFailed(
                f"converting the audio took longer than {timeout_s:g}s", details={"file": "too slow to convert"}
            ) from None
        except OSError as exc:
            raise ConversionUnavailable(f"ffmpeg could not be started ({exc}): {INSTALL_HINT}") from None
        output = target.read_bytes() if target.is_file() else b""
    errors = done.stderr.decode("utf-8", "replace").strip()
    if done.returncode != 0 and "libopus" in errors and ("Unknown encoder" in errors or "not found" in errors):
        raise ConversionUnavailable(f"this ffmpeg has no Opus encoder (libopus): {INSTALL_HINT}")
    if done.returncode != 0 or not is_ogg_opus(output):
        # ffmpeg names its files in its messages: the caller sees "input", never a path of this server.
        last = errors.splitlines()[-1] if errors else ""
        reason = last.replace(str(source), "input").replace(str(target), "output").replace(tmp, "").strip()
        reason = reason or "no audio stream"
        raise ConversionFailed(
            f"{what} could not be converted to a voice note: {reason}", details={"file": "not audio"}
        )
    return output, VOICE_MIME


def to_sticker(data: bytes) -> bytes:
    """An image as a WhatsApp sticker: 512x512 WebP, the image scaled to fit and centred on a transparent canvas.

    A WebP that already is 512x512 is returned unchanged (so an animated sticker stays animated);
    any other animated input (GIF, WebP) is reduced to its first frame. The quality is lowered step
    by step until the sticker fits WhatsApp's 100 KB. Raises `ConversionFailed` for anything that is
    not a PNG, JPEG, GIF, WebP, BMP or TIFF image, or that is larger than 40 megapixels.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as image:
            if image.width * image.height > STICKER_MAX_SOURCE_PIXELS:
                raise ConversionFailed("the image is too large for a sticker", details={"file": "too large"})
            if image.format == "WEBP" and image.size == (STICKER_SIZE, STICKER_SIZE):
                return data
            image.seek(0)
            frame = image.convert("RGBA")
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, SyntaxError):
        # Pillow's own words name Python objects and paths: the caller gets ours.
        raise ConversionFailed(
            "a sticker needs a PNG, JPEG, GIF, WebP, BMP or TIFF image that is whole", details={"file": "not an image"}
        ) from None
    scale = STICKER_SIZE / max(frame.size)
    size = (max(1, round(frame.width * scale)), max(1, round(frame.height * scale)))
    frame = frame.resize(size, Image.Resampling.LANCZOS)
    canvas = Image.new("RGBA", (STICKER_SIZE, STICKER_SIZE), (0, 0, 0, 0))
    canvas.paste(frame, ((STICKER_SIZE - size[0]) // 2, (STICKER_SIZE - size[1]) // 2))
    out = io.BytesIO()
    for quality in (80, 60, 40, 20):
        out = io.BytesIO()
        canvas.save(out, "WEBP", quality=quality, method=4)
        if out.tell() <= STICKER_MAX_BYTES:
            break
    return out.getvalue()


def to_picture(data: bytes) -> bytes:
    """An image as a WhatsApp profile or group picture: a 640x640 JPEG, centre-cropped to a square.

    The photo is turned upright by its EXIF orientation, its first frame taken when it is animated,
    and transparency laid on white (JPEG has none). Smaller images are scaled up. Raises
    `ConversionFailed` for what `to_sticker` refuses: anything but a PNG, JPEG, GIF, WebP, BMP or
    TIFF image, or one larger than 40 megapixels.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as image:
            if image.width * image.height > STICKER_MAX_SOURCE_PIXELS:
                raise ConversionFailed("the image is too large for a picture", details={"file": "too large"})
            image.seek(0)
            frame = ImageOps.exif_transpose(image).convert("RGBA")
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, SyntaxError) as exc:
        raise ConversionFailed(f"a picture needs an image: {exc}", details={"file": "not an image"}) from None
    square = ImageOps.fit(frame, (PICTURE_SIZE, PICTURE_SIZE), Image.Resampling.LANCZOS, centering=(0.5, 0.5))
    canvas = Image.new("RGB", square.size, (255, 255, 255))
    canvas.paste(square, mask=square.getchannel("A"))
    out = io.BytesIO()
    canvas.save(out, "JPEG", quality=PICTURE_QUALITY, optimize=True)
    return out.getvalue()


class MediaConverter:
    """Conversions for the trio side: each runs in a worker thread, at most `max_parallel` at a time."""

    def __init__(self, *, ffmpeg: str = "ffmpeg", timeout_s: float = FFMPEG_TIMEOUT_S, max_parallel: int = 2) -> None:
        self.ffmpeg = ffmpeg
        self.timeout_s = timeout_s
        self.max_parallel = max_parallel
        self._limiter: trio.CapacityLimiter | None = None

    def voice_available(self) -> bool:
        """ffmpeg is installed, so non-Opus audio can become a voice note."""
        return ffmpeg_path(self.ffmpeg) is not None

    async def voice_note(self, data: bytes, mime_type: str | None) -> tuple[bytes, str]:
        """See `to_voice_note`; Ogg/Opus input returns at once, without a thread."""
        if is_ogg_opus(data):
            return data, VOICE_MIME
        work = functools.partial(to_voice_note, data, mime_type, ffmpeg=self.ffmpeg, timeout_s=self.timeout_s)
        return await self._in_thread(work)

    async def sticker(self, data: bytes) -> bytes:
        """See `to_sticker`."""
        return await self._in_thread(functools.partial(to_sticker, data))

    async def picture(self, data: bytes) -> bytes:
        """See `to_picture`."""
        return await self._in_thread(functools.partial(to_picture, data))

    async def _in_thread(self, work: functools.partial[T]) -> T:
        if self._limiter is None:
            self._limiter = trio.CapacityLimiter(self.max_parallel)
        return await trio.to_thread.run_sync(work, limiter=self._limiter)
