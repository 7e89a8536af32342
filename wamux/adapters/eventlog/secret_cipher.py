"""Secrets at rest: the event fields each event class declares secret are AES-GCM encrypted in the log.

On write, a secret value is replaced by an envelope ``{"$enc": "<base64 nonce+tag+ciphertext>"}``
(eventsourcing's `AESCipher`); on read the envelope is opened again, so actors, projections and
the webhook outbox only ever see plain values in memory. Values written in clear by older
versions are read as they are. The key is `WAMUX_SECRET_KEY` (base64, as `AESCipher.create_key`
makes it); in dev mode without one, a key kept in DATA_DIR (`wamux.run.config.settings_key`).
"""

from __future__ import annotations

import binascii
import json
from base64 import b64decode, b64encode
from typing import Any

from eventsourcing.cipher import AESCipher
from eventsourcing.utils import Environment

from wamux.adapters.eventlog.timeline import TimelineRecorder
from wamux.domain.events import EVENT_TYPES, DomainEvent, map_secrets

ENVELOPE = "$enc"
KEY_BYTES = 32
_SCAN_PAGE = 500


class SecretKeyError(Exception):
    """WAMUX_SECRET_KEY is malformed, or the log holds secrets it cannot open (missing or another key).

    A configuration error: the CLI reports it like `ConfigError` (exit 2), without a traceback.
    """


def create_key() -> str:
    """A new random key in WAMUX_SECRET_KEY's format."""
    return AESCipher.create_key(num_bytes=KEY_BYTES)


def secret_key_problem(key: str) -> str | None:
    """Why `key` is not a usable WAMUX_SECRET_KEY (base64 of a 16, 24 or 32 byte AES key), or None."""
    try:
        raw = b64decode(key.encode(), validate=True)
    except (binascii.Error, ValueError):
        return "not base64"
    if len(raw) not in (16, 24, 32):
        return f"{len(raw)} bytes once decoded, expected 16, 24 or 32"
    return None


class SecretCipher:
    """Encrypts and decrypts the declared secret fields of event payloads."""

    def __init__(self, key: str) -> None:
        problem = secret_key_problem(key)
        if problem:
            raise SecretKeyError(f"WAMUX_SECRET_KEY: {problem}")
        self._aes = AESCipher(Environment(env={AESCipher.CIPHER_KEY: key}))

    def seal(self, cls: type[DomainEvent], payload: dict[str, Any]) -> dict[str, Any]:
        """`payload` with each secret field replaced by its encrypted envelope."""
        return map_secrets(cls, payload, self._encrypt)

    def _encrypt(self, value: Any) -> dict[str, str]:
        plain = json.dumps(value, ensure_ascii=False).encode()
        return {ENVELOPE: b64encode(self._aes.encrypt(plain)).decode()}

    def open(self, cls: type[DomainEvent], data: dict[str, Any]) -> dict[str, Any]:
        """`data` with each envelope decrypted; clear values (older logs) pass unchanged."""
        return map_secrets(cls, data, self._decrypt)

    def _decrypt(self, value: Any) -> Any:
        if not is_envelope(value):
            return value
        try:
            plain = self._aes.decrypt(b64decode(value[ENVELOPE]))
        except (ValueError, binascii.Error):
            raise SecretKeyError(
                "WAMUX_SECRET_KEY does not decrypt the secrets in the event log: set the key they were written with"
            ) from None
        return json.loads(plain)


def is_envelope(value: Any) -> bool:
    """Whether a stored value is an encrypted envelope (and not a clear secret of an older log)."""
    return isinstance(value, dict) and set(value) == {ENVELOPE} and isinstance(value[ENVELOPE], str)


def open_without_key(cls: type[DomainEvent], data: dict[str, Any]) -> dict[str, Any]:
    """Decoding with no cipher: clear values pass, an envelope is an error naming the key."""

    def refuse(value: Any) -> Any:
        if is_envelope(value):
            raise SecretKeyError("the event log holds encrypted secrets: WAMUX_SECRET_KEY is required")
        return value

    return map_secrets(cls, data, refuse)


def _has_envelope(cls: type[DomainEvent], data: dict[str, Any]) -> bool:
    seen: list[bool] = []
    map_secrets(cls, data, lambda value: seen.append(is_envelope(value)))
    return any(seen)


def _first_sealed(recorder: TimelineRecorder) -> tuple[type[DomainEvent], dict[str, Any]] | None:
    """The oldest secret-bearing event payload that holds an envelope, if any."""
    topics = tuple(t for t, cls in EVENT_TYPES.items() if cls.secret_fields)
    start = 0
    while True:
        page = recorder.select_notifications(start=start, limit=_SCAN_PAGE, topics=topics, inclusive_of_start=False)
        for record in page:
            cls = EVENT_TYPES[record.topic]
            data = json.loads(record.state)["data"]
            if _has_envelope(cls, data):
                return cls, data
        if len(page) < _SCAN_PAGE:
            return None
        start = page[-1].id


def check_key(recorder: TimelineRecorder, cipher: SecretCipher) -> None:
    """At start-up: refuse (SecretKeyError) a key that cannot open the log's first encrypted secret.

    Without this a wrong key would surface later, deep in an actor or a projection.
    """
    sample = _first_sealed(recorder)
    if sample is not None:
        cipher.open(*sample)
