"""Secrets at rest (API-2 §8): declared secret fields are AES-GCM encrypted in a real SQLite log."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

from wamux.adapters.eventlog.codec import from_stored, to_stored
from wamux.adapters.eventlog.recorder_store import RecorderEventStore
from wamux.adapters.eventlog.secret_cipher import SecretCipher, SecretKeyError, check_key, create_key
from wamux.adapters.eventlog.sqlite import open_sqlite_recorder
from wamux.adapters.eventlog.timeline import TimelineRecorder
from wamux.domain.clock import FixedClock
from wamux.domain.events import (
    EVENT_TYPES,
    InstanceCreated,
    QrReceived,
    WebhookUpdated,
    map_secrets,
    redact_secrets,
)
from wamux.domain.ids import new_id
from wamux.domain.instances import WEBHOOK_DEFAULTS
from wamux.run.config import ConfigError, Settings, settings_key

SECRET = "hunter2-webhook-signing-secret"
KEY = create_key()


def created(instance_id: str, secret: str | None = SECRET) -> InstanceCreated:
    return InstanceCreated(
        instance_id=instance_id,
        user_id=new_id(),
        name="Vault",
        description=None,
        webhook_url="https://example.com/hook",
        webhook_enabled=True,
        webhook_settings={**WEBHOOK_DEFAULTS, "secret": secret},
    )


def log_bytes(path: Path) -> bytes:
    """Every byte SQLite wrote for the log: the file and its write-ahead log."""
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


@pytest.fixture
async def recorder(tmp_path: Path) -> AsyncIterator[TimelineRecorder]:
    rec = open_sqlite_recorder(str(tmp_path / "events.db"))
    yield rec
    rec.datastore.close()  # type: ignore[attr-defined]


async def with_store(recorder: TimelineRecorder, cipher: SecretCipher | None, work) -> None:  # type: ignore[no-untyped-def]
    store = RecorderEventStore.over(recorder, FixedClock(1_700_000_000_000), provider="sqlite", cipher=cipher)
    async with trio.open_nursery() as nursery:
        await nursery.start(store.run_writer)
        await work(store)
        nursery.cancel_scope.cancel()


def test_secret_fields_are_declared_next_to_the_events() -> None:
    declared = {t: cls.secret_fields for t, cls in EVENT_TYPES.items() if cls.secret_fields}
    assert declared == {
        "created": ("webhook_settings.secret", "settings.proxy"),
        "updated": ("changes.settings.proxy",),
        "webhook_updated": ("webhook_settings.secret",),
        "webhook_target_added": ("target.secret",),
        "webhook_target_updated": ("target.secret",),
    }


def test_map_secrets_touches_only_set_secrets_and_copies() -> None:
    event = created(new_id())
    payload = event.payload()
    redacted = redact_secrets(event)
    assert redacted["webhook_settings"]["secret"] == "***"
    assert payload["webhook_settings"]["secret"] == SECRET  # the original is not changed
    assert {k: v for k, v in redacted["webhook_settings"].items() if k != "secret"} == {
        k: v for k, v in payload["webhook_settings"].items() if k != "secret"
    }
    assert redact_secrets(created(new_id(), secret=None))["webhook_settings"]["secret"] is None
    qr = QrReceived(instance_id="i", qr_code="1@x", attempt=1)
    assert redact_secrets(qr) == qr.payload()


def test_map_secrets_wildcards_reach_every_item() -> None:
    class Targets(QrReceived):
        secret_fields = ("targets.*.secret",)

    payload = {"targets": [{"secret": "a"}, {"url": "u"}, {"secret": None}]}
    assert map_secrets(Targets, payload, str.upper) == {"targets": [{"secret": "A"}, {"url": "u"}, {"secret": None}]}


async def test_the_log_holds_ciphertext_and_reads_back_plain(recorder: TimelineRecorder, tmp_path: Path) -> None:
    cipher = SecretCipher(KEY)
    iid = new_id()

    async def work(store: RecorderEventStore) -> None:
        await store.append(iid, [created(iid)], 0)
        settings = {**WEBHOOK_DEFAULTS, "secret": SECRET + "-2"}
        update = WebhookUpdated(iid, "https://example.com/h2", True, settings, ["secret"])
        await store.append(iid, [update], 1)
        back = await store.read_stream(iid)
        assert [r.event.webhook_settings["secret"] for r in back] == [SECRET, SECRET + "-2"]  # type: ignore[attr-defined]
        assert [r.event for r in await store.read_all(0, 10)] == [r.event for r in back]

    await with_store(recorder, cipher, work)
    raw = log_bytes(tmp_path / "events.db")
    assert b"Vault" in raw  # the log is readable here: the secret alone is hidden
    assert SECRET.encode() not in raw
    state = json.loads(recorder.select_notifications(start=1, limit=1)[0].state)
    assert set(state["data"]["webhook_settings"]["secret"]) == {"$enc"}


async def test_a_log_with_clear_secrets_still_works(recorder: TimelineRecorder) -> None:
    iid = new_id()
    # The old form, written straight through the recorder as earlier versions did.
    recorder.insert_events([to_stored(iid, 1, created(iid), 1_700_000_000_000)])
    assert SECRET.encode() in recorder.select_notifications(start=1, limit=1)[0].state
    cipher = SecretCipher(KEY)
    check_key(recorder, cipher)  # nothing encrypted yet: any key is fine

    async def work(store: RecorderEventStore) -> None:
        settings = {**WEBHOOK_DEFAULTS, "secret": "new-one"}
        await store.append(iid, [WebhookUpdated(iid, None, False, settings, ["secret"])], 1)
        back = await store.read_stream(iid)
        assert [r.event.webhook_settings["secret"] for r in back] == [SECRET, "new-one"]  # type: ignore[attr-defined]

    await with_store(recorder, cipher, work)
    check_key(recorder, cipher)


async def test_a_wrong_or_missing_key_is_refused_never_garbage(recorder: TimelineRecorder) -> None:
    iid = new_id()
    recorder.insert_events([to_stored(new_id(), 1, created(new_id(), secret=None), 1)])  # nothing to check there
    recorder.insert_events([to_stored(iid, 1, created(iid), 2, SecretCipher(KEY))])
    check_key(recorder, SecretCipher(KEY))
    other = SecretCipher(create_key())
    with pytest.raises(SecretKeyError, match="WAMUX_SECRET_KEY"):
        check_key(recorder, other)
    record = recorder.select_notifications(start=2, limit=1)[0]
    with pytest.raises(SecretKeyError, match="WAMUX_SECRET_KEY"):
        from_stored(record, cipher=other)
    with pytest.raises(SecretKeyError, match="WAMUX_SECRET_KEY is required"):
        from_stored(record)


def test_keys_are_validated() -> None:
    for bad in ("", "not base64!", "c2hvcnQ="):
        with pytest.raises(SecretKeyError, match="WAMUX_SECRET_KEY"):
            SecretCipher(bad)


def test_dev_mode_keeps_its_key_in_data_dir(tmp_path: Path) -> None:
    dev = Settings(data_dir=tmp_path / "data", dev_mode=True)
    key = settings_key(dev)
    assert settings_key(dev) == key  # a restart decrypts what the last run wrote
    assert (tmp_path / "data" / "dev-secret.key").stat().st_mode & 0o077 == 0
    assert settings_key(Settings(data_dir=tmp_path / "data", dev_mode=True, secret_key=KEY)) == KEY
    with pytest.raises(ConfigError, match="WAMUX_SECRET_KEY"):
        settings_key(Settings(data_dir=tmp_path / "other"))
