"""Small real media for the browser tests: a voice note made with ffmpeg, WAV audio, PNG and WebP pictures."""

from __future__ import annotations

import base64
import io
import shutil
import subprocess
import wave
from pathlib import Path

import pytest


def voice_note_ogg(tmp: Path) -> bytes:
    """One second of tone as Ogg/Opus (what WhatsApp plays as a voice note), made with ffmpeg."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed (apt-get install ffmpeg); the voice note is made with it")
    target = tmp / "voice.ogg"
    subprocess.run(
        [
            *("ffmpeg", "-hide_banner", "-loglevel", "error"),
            *("-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "libopus", "-y", str(target)),
        ],
        check=True,
        timeout=60,
    )
    return target.read_bytes()


def wav_silence() -> bytes:
    """Half a second of silence as WAV: audio the server must convert to Ogg/Opus for a voice note."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 4000)
    return buf.getvalue()


def png_picture(size: int = 64) -> bytes:
    from PIL import Image  # Pillow comes with neonize

    buf = io.BytesIO()
    Image.new("RGB", (size, size), (10, 125, 90)).save(buf, "PNG")
    return buf.getvalue()


def webp_sticker() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGBA", (512, 512), (240, 180, 40, 255)).save(buf, "WEBP")
    return buf.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
