"""Voice notes through the real ffmpeg, stickers and pictures through Pillow: real input, real output, checked by
its bytes."""

from __future__ import annotations

import io
import math
import struct
import subprocess
import tempfile
import wave
from pathlib import Path

import pytest
from PIL import Image

from wamux.adapters.media.convert import (
    VOICE_MIME,
    MediaConverter,
    is_ogg_opus,
    is_webp,
    to_picture,
    to_sticker,
    to_voice_note,
)
from wamux.domain.errors import ConversionFailed, ConversionUnavailable


def wav_bytes(seconds: float = 0.5, rate: int = 22050, channels: int = 2) -> bytes:
    """A 440 Hz tone as 16-bit PCM WAV, written with the standard library."""
    frames = int(seconds * rate)
    samples = (int(12000 * math.sin(2 * math.pi * 440 * i / rate)) for i in range(frames))
    pcm = b"".join(struct.pack("<h", s) * channels for s in samples)
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return out.getvalue()


def opus_head(ogg: bytes) -> bytes:
    start = 27 + ogg[26]
    return ogg[start : start + 19]


def ffmpeg_encode(data: bytes, *args: str, suffix: str = ".out") -> bytes:
    """Encode with the real ffmpeg through files (MP4 needs a seekable output)."""
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "in", Path(tmp) / f"out{suffix}"
        source.write_bytes(data)
        subprocess.run(
            ["ffmpeg", "-hide_banner", "-loglevel", "error", "-i", str(source), *args, str(target)],
            capture_output=True,
            check=True,
        )
        return target.read_bytes()


def pixel(image: Image.Image, xy: tuple[int, int]) -> tuple[int, int, int, int]:
    """The RGBA value at `xy`."""
    value = image.convert("RGBA").getpixel(xy)
    assert isinstance(value, tuple)
    return (value[0], value[1], value[2], value[3])


def png_bytes(size: tuple[int, int], color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def test_wav_becomes_a_mono_48khz_ogg_opus_voice_note() -> None:
    data, mime = to_voice_note(wav_bytes(), "audio/wav")
    assert mime == VOICE_MIME == "audio/ogg; codecs=opus"
    assert data[:4] == b"OggS" and is_ogg_opus(data)
    head = opus_head(data)
    assert head[:8] == b"OpusHead"
    assert head[9] == 1  # channels
    assert int.from_bytes(head[12:16], "little") == 48000  # the input sample rate recorded in the header
    # It decodes again to about the same length of sound.
    decoded = ffmpeg_encode(data, "-f", "s16le", "-ac", "1", "-ar", "8000")
    assert abs(len(decoded) / 2 / 8000 - 0.5) < 0.1


def test_ogg_opus_input_passes_through_by_its_bytes_not_its_claimed_type() -> None:
    opus, _ = to_voice_note(wav_bytes(), "audio/wav")
    assert to_voice_note(opus, "audio/mpeg") == (opus, VOICE_MIME)  # claimed wrong, still Opus: untouched
    vorbis = ffmpeg_encode(wav_bytes(), "-c:a", "libvorbis", "-f", "ogg")
    assert vorbis[:4] == b"OggS" and not is_ogg_opus(vorbis)
    converted, _ = to_voice_note(vorbis, "audio/ogg; codecs=opus")  # claimed Opus, is Vorbis: converted
    assert is_ogg_opus(converted) and converted != vorbis


@pytest.mark.parametrize(
    ("args", "suffix", "mime"),
    [
        (("-c:a", "aac"), ".m4a", "audio/mp4"),
        (("-c:a", "aac", "-movflags", "+faststart"), ".mp4", "video/mp4"),
        (("-c:a", "aac", "-f", "adts"), ".aac", "audio/aac"),
        (("-c:a", "flac"), ".flac", "audio/flac"),
        (("-c:a", "libmp3lame"), ".mp3", "audio/mpeg"),
    ],
    ids=["m4a", "mp4", "aac", "flac", "mp3"],
)
def test_the_usual_phone_and_desktop_formats_convert(args: tuple[str, ...], suffix: str, mime: str) -> None:
    data, _ = to_voice_note(ffmpeg_encode(wav_bytes(), *args, suffix=suffix), mime)
    assert is_ogg_opus(data)


@pytest.mark.parametrize(
    "data",
    [b"", b"this is not audio at all", png_bytes((20, 20))],
    ids=["empty", "text", "an image"],
)
def test_input_without_audio_is_a_conversion_failure(data: bytes) -> None:
    with pytest.raises(ConversionFailed) as caught:
        to_voice_note(data, "audio/mpeg")
    assert caught.value.code == "conversion_failed" and caught.value.details


def test_a_playlist_cannot_make_ffmpeg_read_other_files(tmp_path: Path) -> None:
    secret = tmp_path / "secret.wav"
    secret.write_bytes(wav_bytes())
    playlist = f"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\n{secret}\n#EXT-X-ENDLIST\n".encode()
    concat = f"ffconcat version 1.0\nfile '{secret}'\n".encode()
    for data in (playlist, concat):
        with pytest.raises(ConversionFailed):
            to_voice_note(data, "application/vnd.apple.mpegurl")


def test_without_ffmpeg_conversion_is_unavailable_and_says_how_to_fix_it(monkeypatch: pytest.MonkeyPatch) -> None:
    opus, _ = to_voice_note(wav_bytes(), "audio/wav")
    monkeypatch.setenv("PATH", "")
    with pytest.raises(ConversionUnavailable) as caught:
        to_voice_note(wav_bytes(), "audio/wav")
    assert caught.value.code == "conversion_unavailable"
    assert "install ffmpeg" in caught.value.message and "audio/wav" in caught.value.message
    assert to_voice_note(opus, None) == (opus, VOICE_MIME)  # Opus needs no tool
    assert MediaConverter().voice_available() is False


def test_a_png_becomes_a_512_webp_with_its_aspect_on_a_transparent_canvas() -> None:
    sticker = to_sticker(png_bytes((300, 150)))
    assert is_webp(sticker) and len(sticker) <= 100 * 1024
    with Image.open(io.BytesIO(sticker)) as image:
        assert image.format == "WEBP" and image.size == (512, 512)
        image.load()
        rgba = image.convert("RGBA")
    assert pixel(rgba, (256, 256))[3] == 255  # the picture, scaled to 512 x 256, centred
    assert pixel(rgba, (256, 140))[3] == 255 and pixel(rgba, (256, 370))[3] == 255
    assert pixel(rgba, (256, 60))[3] == 0 and pixel(rgba, (256, 450))[3] == 0  # transparent bands
    red, green, blue, _ = pixel(rgba, (256, 256))
    assert red > 150 and green < 80 and blue < 80


def test_a_small_image_is_scaled_up_and_a_ready_sticker_kept() -> None:
    with Image.open(io.BytesIO(to_sticker(png_bytes((16, 32))))) as image:
        assert image.size == (512, 512)
        assert pixel(image, (256, 10))[3] == 255  # full height: 32 px became 512
    ready = io.BytesIO()
    Image.new("RGBA", (512, 512), (0, 0, 255, 128)).save(ready, "WEBP")
    assert to_sticker(ready.getvalue()) == ready.getvalue()


def test_an_animated_gif_keeps_its_first_frame() -> None:
    frames = [Image.new("RGB", (64, 64), color) for color in ((0, 200, 0), (0, 0, 200))]
    gif = io.BytesIO()
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    with Image.open(io.BytesIO(to_sticker(gif.getvalue()))) as image:
        assert getattr(image, "n_frames", 1) == 1
        red, green, blue, _ = pixel(image, (256, 256))
    assert green > 150 and blue < 80 and red < 80


@pytest.mark.parametrize(
    "data",
    [b"", b"not an image", b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n", wav_bytes(0.1)],
    ids=["empty", "text", "eps", "audio"],
)
def test_what_is_not_a_plain_image_is_refused(data: bytes) -> None:
    with pytest.raises(ConversionFailed):
        to_sticker(data)


def test_a_huge_image_is_refused_before_it_is_decoded() -> None:
    big = io.BytesIO()
    Image.new("1", (8000, 6000)).save(big, "PNG")  # 48 megapixels, a few KB on disk
    with pytest.raises(ConversionFailed) as caught:
        to_sticker(big.getvalue())
    assert caught.value.details == {"file": "too large"}


async def test_the_converter_runs_all_in_worker_threads() -> None:
    converter = MediaConverter(max_parallel=1)
    assert converter.voice_available()
    data, mime = await converter.voice_note(wav_bytes(), "audio/wav")
    assert is_ogg_opus(data) and mime == VOICE_MIME
    assert await converter.voice_note(data, "audio/ogg") == (data, VOICE_MIME)
    assert is_webp(await converter.sticker(png_bytes((10, 10))))
    assert (await converter.picture(png_bytes((10, 10))))[:3] == b"\xff\xd8\xff"
    with pytest.raises(ConversionFailed):
        await converter.voice_note(b"junk", None)
    with pytest.raises(ConversionFailed):
        await converter.picture(b"junk")


def test_a_failed_conversion_names_no_path_of_the_server() -> None:
    with pytest.raises(ConversionFailed) as failed:
        to_voice_note(b"not audio at all" * 10, "audio/wav")
    message = str(failed.value)
    assert "wamux-voice-" not in message and tempfile.gettempdir() not in message
    assert "input" in message  # ffmpeg's own words, with the file named by its role


# ---- profile and group pictures ---------------------------------------------------------------


def striped(size: tuple[int, int], colors: list[tuple[int, int, int]], *, vertical: bool = True) -> Image.Image:
    """Equal stripes of `colors`, side by side (or stacked)."""
    image = Image.new("RGB", size)
    for i, color in enumerate(colors):
        if vertical:
            box = (size[0] * i // len(colors), 0, size[0] * (i + 1) // len(colors), size[1])
        else:
            box = (0, size[1] * i // len(colors), size[0], size[1] * (i + 1) // len(colors))
        image.paste(color, box)
    return image


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def near(rgba: tuple[int, int, int, int], rgb: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(rgba[:3], rgb, strict=True))


RED, GREEN, BLUE, WHITE = (220, 20, 20), (20, 200, 20), (20, 20, 220), (255, 255, 255)


def test_a_wide_image_becomes_a_640_jpeg_cropped_to_its_centre() -> None:
    picture = to_picture(encoded(striped((900, 300), [RED, GREEN, BLUE]), "PNG"))
    with Image.open(io.BytesIO(picture)) as image:
        assert image.format == "JPEG" and image.size == (640, 640) and image.mode == "RGB"
        # Only the middle third fits the square: the red and blue ends are cut away, not squeezed in.
        assert all(near(pixel(image, xy), GREEN) for xy in ((5, 5), (634, 5), (320, 320), (5, 634), (634, 634)))


def test_a_tall_small_image_is_scaled_up_around_its_middle() -> None:
    picture = to_picture(encoded(striped((40, 120), [BLUE, RED, GREEN], vertical=False), "GIF"))
    with Image.open(io.BytesIO(picture)) as image:
        assert image.size == (640, 640)
        assert near(pixel(image, (320, 10)), RED) and near(pixel(image, (320, 630)), RED)


def test_transparency_is_laid_on_white() -> None:
    clear = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    clear.paste((0, 0, 220, 255), (40, 40, 60, 60))
    with Image.open(io.BytesIO(to_picture(encoded(clear, "PNG")))) as image:
        assert near(pixel(image, (20, 20)), WHITE) and near(pixel(image, (320, 320)), BLUE)


def test_a_phone_photo_is_turned_upright_by_its_exif_orientation() -> None:
    # Stored sideways, red left and blue right; orientation 6 says: turn it a quarter clockwise to show it.
    exif = Image.Exif()
    exif[0x0112] = 6
    photo = encoded(striped((200, 100), [RED, BLUE]), "JPEG", exif=exif.tobytes(), quality=95)
    with Image.open(io.BytesIO(to_picture(photo))) as image:
        assert near(pixel(image, (320, 100)), RED) and near(pixel(image, (320, 540)), BLUE)


def test_a_webp_and_an_animated_gif_become_pictures_too() -> None:
    frames = [Image.new("RGB", (64, 64), color) for color in (GREEN, BLUE)]
    gif = io.BytesIO()
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    with Image.open(io.BytesIO(to_picture(gif.getvalue()))) as image:
        assert near(pixel(image, (320, 320)), GREEN)  # the first frame
    with Image.open(io.BytesIO(to_picture(encoded(Image.new("RGB", (30, 30), BLUE), "WEBP")))) as image:
        assert image.format == "JPEG" and near(pixel(image, (320, 320)), BLUE)


@pytest.mark.parametrize(
    "data",
    [b"", b"not an image", b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n", wav_bytes(0.1)],
    ids=["empty", "text", "eps", "audio"],
)
def test_what_is_not_a_plain_image_is_no_picture(data: bytes) -> None:
    with pytest.raises(ConversionFailed) as caught:
        to_picture(data)
    assert caught.value.code == "conversion_failed" and caught.value.details == {"file": "not an image"}


def test_a_huge_image_is_no_picture_either() -> None:
    big = io.BytesIO()
    Image.new("1", (8000, 6000)).save(big, "PNG")
    with pytest.raises(ConversionFailed) as caught:
        to_picture(big.getvalue())
    assert caught.value.details == {"file": "too large"}
