"""Rules about messages already in history: what may be edited, revoked, reacted to (pure).

A message is seen here as the messages read model stores it (`messageId, remoteJid, sender,
fromMe, messageType, createdMs, revoked`), so the rules run on what a query answered.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wamux.domain.errors import NotEditable, NotRevocable, ValidationFailed

EDIT_WINDOW_MS = 15 * 60 * 1000  # WhatsApp accepts edits for 15 minutes
EDITABLE_TYPES = frozenset({"text"})
POLL_MIN_OPTIONS, POLL_MAX_OPTIONS = 2, 12
MAX_CONTACT_CARDS = 20
MAX_CHECK_PHONES = 50


def check_editable(message: Mapping[str, Any], now_ms: int) -> None:
    """409 `not_editable` unless it is our own text message, not revoked, at most 15 minutes old."""
    if not message.get("fromMe"):
        raise NotEditable("only your own messages can be edited", details={"fromMe": False})
    if message.get("messageType") not in EDITABLE_TYPES:
        raise NotEditable("only text messages can be edited", details={"messageType": message.get("messageType")})
    if message.get("revoked"):
        raise NotEditable("the message was deleted", details={"revoked": True})
    age = now_ms - int(message.get("createdMs") or 0)
    if age > EDIT_WINDOW_MS:
        raise NotEditable(
            "messages can be edited for 15 minutes after sending", details={"ageMs": age, "limitMs": EDIT_WINDOW_MS}
        )


def check_revocable(message: Mapping[str, Any], *, group_admin: bool = False) -> None:
    """409 `not_revocable` unless it is ours, or in a group where we are an admin; and not revoked already."""
    if message.get("revoked"):
        raise NotRevocable("the message was already deleted", details={"revoked": True})
    in_group = str(message.get("remoteJid", "")).endswith("@g.us")
    if not message.get("fromMe") and not (in_group and group_admin):
        raise NotRevocable(
            "only your own messages (or any, in a group you administer) can be deleted for everyone",
            details={"fromMe": False},
        )


def check_reactable(message: Mapping[str, Any]) -> None:
    if message.get("revoked"):
        raise ValidationFailed("the message was deleted", details={"messageId": "revoked"})


def poll_options(options: Any) -> list[str]:
    """2..12 distinct non-empty option texts (400 with details otherwise)."""
    if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
        raise ValidationFailed("options must be a list of strings", details={"options": "invalid"})
    cleaned = [o.strip() for o in options]
    if any(not o for o in cleaned):
        raise ValidationFailed("poll options may not be empty", details={"options": "empty option"})
    if not POLL_MIN_OPTIONS <= len(cleaned) <= POLL_MAX_OPTIONS:
        raise ValidationFailed(
            f"a poll has {POLL_MIN_OPTIONS} to {POLL_MAX_OPTIONS} options", details={"options": "count"}
        )
    if len(set(cleaned)) != len(cleaned):
        raise ValidationFailed("poll options must be distinct", details={"options": "duplicate"})
    return cleaned


def coordinates(latitude: Any, longitude: Any) -> tuple[float, float]:
    """Latitude −90..90 and longitude −180..180, as numbers (400 with details otherwise)."""
    details: dict[str, str] = {}
    for name, value, bound in (("latitude", latitude, 90), ("longitude", longitude, 180)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not -bound <= value <= bound:
            details[name] = f"a number between -{bound} and {bound}"
    if details:
        raise ValidationFailed("coordinates out of range", details=details)
    return float(latitude), float(longitude)
