"""Phone numbers and WhatsApp JIDs as the contract accepts them."""

from __future__ import annotations

import re

from wamux.domain.errors import ValidationFailed

USER_SERVER = "s.whatsapp.net"
GROUP_SERVER = "g.us"
LID_SERVER = "lid"
_STRIP = re.compile(r"[\s\-().]")
_DIGITS = re.compile(r"^\+?[0-9]{5,15}$")
_USER_JID = re.compile(r"^([0-9]{5,20})(?::[0-9]+)?@s\.whatsapp\.net$")
_GROUP_JID = re.compile(r"^[0-9\-]{5,40}@g\.us$")
_LID_JID = re.compile(r"^([0-9]{5,25})(?::[0-9]+)?@lid$")


def to_jid(value: str) -> str:
    """Digits with optional `+`, spaces, dashes, brackets -> `<digits>@s.whatsapp.net`; JIDs pass through.

    Raises ValidationFailed for anything else.
    """
    text = (value or "").strip()
    if "@" in text:
        m = _USER_JID.match(text)
        if m:
            return f"{m.group(1)}@{USER_SERVER}"
        m = _LID_JID.match(text)
        if m:
            return f"{m.group(1)}@{LID_SERVER}"  # a LID, as WhatsApp addresses people more and more (API-2 §5)
        if _GROUP_JID.match(text):
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


def is_lid(jid: str) -> bool:
    """A person named by their LID (`<digits>@lid`) rather than their phone."""
    return jid.endswith("@" + LID_SERVER)


def is_phone_jid(jid: str) -> bool:
    return jid.endswith("@" + USER_SERVER)


def person_jid(value: str) -> str:
    """A person's JID without its device part (`123:4@s.whatsapp.net` -> `123@s.whatsapp.net`); bare digits
    become a phone JID. Anything else is returned trimmed, as given."""
    text = value.strip()
    if "@" not in text:
        digits = text.lstrip("+")
        return f"{digits}@{USER_SERVER}" if digits.isdigit() else text
    if is_phone_jid(text) or is_lid(text):
        return jid_number(text) + text[text.index("@") :]
    return text
