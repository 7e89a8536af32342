"""Identifiers: time-ordered UUIDs for streams, WhatsApp-style ids for simulated messages."""

from __future__ import annotations

import secrets

from ulid import ULID


def new_id() -> str:
    """A time-ordered UUID (a ULID's 128 bits), so ids sort by creation."""
    return str(ULID().to_uuid())


def random_message_id() -> str:
    """A message id shaped like WhatsApp's (`3EB0` + 16 hex digits)."""
    return "3EB0" + secrets.token_hex(8).upper()
