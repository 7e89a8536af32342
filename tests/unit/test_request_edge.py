"""The pure rules behind the request edge: JSON depth, file names, media headers; the store's error text."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from wamux.adapters.eventlog.recorder_store import RecorderEventStore
from wamux.adapters.eventlog.sqlite import open_sqlite_recorder
from wamux.adapters.media.files import FileMediaStore
from wamux.domain.clock import FixedClock
from wamux.domain.errors import Unavailable, ValidationFailed
from wamux.domain.events import QrReceived
from wamux.domain.ids import new_id
from wamux.domain.text import check_display_name, safe_extension, safe_file_name
from wamux.http.bodies import json_depth_exceeds
from wamux.http.media_headers import content_disposition, served_mime, stored_media_headers


@pytest.mark.parametrize(
    ("text", "too_deep"),
    [
        ("[" * 64 + "]" * 64, False),
        ("[" * 65 + "]" * 65, True),
        ('{"a": "' + "[" * 100 + '"}', False),  # brackets inside a string do not nest
        ('{"a": "\\"' + "[" * 100 + '"}', False),  # nor after an escaped quote
        ('{"a": "\\\\", "b": ' + "[" * 65 + "]" * 65 + "}", True),  # an escaped backslash ends no string early
        ("[]" * 100_000, False),
        ("[" * 1_000_000, True),
    ],
)
def test_json_depth_is_measured_without_recursion(text: str, too_deep: bool) -> None:
    assert json_depth_exceeds(text) is too_deep


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\photo.jpg", "photo.jpg"),
        ("a\r\nX-Evil: 1.txt", "a_X-Evil_ 1.txt"),
        ('q"uo<te>.pdf', "q_uo_te_.pdf"),
        ("\ud800bad.txt", "bad.txt"),
        ("...", None),
        ("", None),
        (None, None),
        ("фото.png", "фото.png"),
    ],
)
def test_file_names_are_sanitised(given: str | None, expected: str | None) -> None:
    assert safe_file_name(given) == expected


def test_long_file_names_keep_a_plain_extension() -> None:
    name = safe_file_name("a" * 400 + ".pdf")
    assert name is not None and len(name) == 200 and name.endswith(".pdf")
    long_ext = safe_file_name("report." + "x" * 300)
    assert long_ext is not None and len(long_ext) == 200
    assert safe_extension("report." + "x" * 300) is None and safe_extension("A.PDF") == ".pdf"
    assert safe_extension("x.tar.gz") == ".gz" and safe_extension("x.p%df") is None


def test_media_store_names_files_by_hash_and_a_short_extension(tmp_path: Path) -> None:
    store = FileMediaStore(tmp_path)
    rel = store.save("inst", b"data", "application/pdf", "report." + "x" * 300)
    assert rel.endswith(".pdf") and len(rel.rsplit("/", 1)[1]) < 50
    assert store.save("inst", b"data2", None, "../../evil\r\n.sh").endswith(".sh")
    assert store.save("inst", b"data3", "text/weird", None).endswith(".bin")


@pytest.mark.parametrize("name", ["Ann", "José", "名前", "emoji 😀"])
def test_display_names_accept_ordinary_text(name: str) -> None:
    assert check_display_name("name", name) == name


@pytest.mark.parametrize("name", ["a\r\nb", "tab\t", "nul\x00", "esc\x1b[2J", "c1\x85", "sep\u2028", "\udc00"])
def test_display_names_refuse_controls(name: str) -> None:
    with pytest.raises(ValidationFailed):
        check_display_name("name", name)


def test_media_headers() -> None:
    assert served_mime("image/png") == "image/png"
    assert served_mime("audio/ogg; codecs=opus") == "audio/ogg"
    assert served_mime("text/html\r\nX-Evil: 1") == "application/octet-stream"
    assert served_mime(None) == "application/octet-stream"
    assert content_disposition("attachment", None) == "attachment"
    assert (
        content_disposition("attachment", 'a"b%.pdf')
        == "attachment; filename=\"a_b_.pdf\"; filename*=UTF-8''a_b%25.pdf"
    )
    for mime, disposition in (
        ("image/png", "inline"),
        ("video/mp4", "inline"),
        ("audio/mpeg", "inline"),
        ("image/svg+xml", "attachment"),
        ("text/html", "attachment"),
        ("application/pdf", "attachment"),
    ):
        headers = stored_media_headers(mime, "f")
        assert headers["Content-Disposition"].split(";")[0] == disposition, mime
        assert headers["Content-Security-Policy"] == "sandbox" and headers["X-Content-Type-Options"] == "nosniff"


async def test_store_errors_reach_clients_without_internals(tmp_path: Path) -> None:
    recorder = open_sqlite_recorder(str(tmp_path / "events.db"))
    store = RecorderEventStore.over(recorder, FixedClock(1_700_000_000_000), provider="sqlite")
    async with trio.open_nursery() as nursery:
        await nursery.start(store.run_writer)
        sid = new_id()
        with pytest.raises(Unavailable) as caught:
            await store.append(sid, [QrReceived(instance_id=sid, qr_code="\ud800", attempt=1)], 0)
        assert caught.value.message == "event store unavailable"
        nursery.cancel_scope.cancel()
    recorder.datastore.close()
