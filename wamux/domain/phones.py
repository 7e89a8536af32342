"""Phone numbers and WhatsApp JIDs as the contract accepts them."""

from __future__ import annotations

import re

from wamux.domain.errors import ValidationFailed

USER_SERVER = "s.whatsapp.net"
GROUP_SERVER = "g.us"
_STRIP = re.compile(r"[\s\-().]")
_DIGITS = re.compile(r"^\+?[0-9]{5,15}$")
_USER_JID = re.compile(r"^([0-9]{5,20})(?::[0-9]+)?@s\.whatsapp\.net$")
_GROUP_JID = re.compile(r"^[0-9\-]{5,40}@g\.us$")
_LID_JID = re.compile(r"^[0-9]{5,25}@lid$")


def to_jid(value: str) -> str:
    """Digits with optional `+`, spaces, dashes, brackets -> `<digits>@s.whatsapp.net`; JIDs pass through.

    Raises ValidationFailed for anything else.
    """
    text = (value or "").strip()
    if "@" in text:
        m = _USER_JID.match(text)
        if m:
            return f"{m.group(1)}@{USER_SERVER}"
        if _GROUP_JID.match(text) or _LID_JID.match(text):
            return text
        raise ValidationFailed("phone is not a valid number or WhatsApp JID", details={"phone": "invalid"})
    digits = _STRIP.sub("", text)
    if not _DIGITS.match(digits):
        raise ValidationFailed("phone is not a valid number or WhatsApp JID", details={"phone": "invalid"})
    return f"{digits.lstrip('+')}@{USER_SERVER}"


def jid_number(jid: str) -> str:
    """The user part of a JID (the phone number for person JIDs)."""
    return jid.split("@", 1)[0].split(":", 1)[0]


def is_group(jid: str) -> bool:
    return jid.endswith("@" + GROUP_SERVER)
