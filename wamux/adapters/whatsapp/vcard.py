"""vCards of contact messages, written and read the same way by every transport.

WhatsApp carries a shared contact as a vCard 3.0 text. Its apps find the WhatsApp account in the
`waid` parameter of a `TEL` line (`TEL;type=CELL;type=VOICE;waid=4915112345678:+4915112345678`),
so the writer always sets it and the reader prefers it. Pure functions, no I/O.
"""

from __future__ import annotations

import re

from wamux.core.ports import ContactCard

_NOT_DIGITS = re.compile(r"\D")
_WAID = re.compile(r"(?i)(?:^|;)waid=(\d+)")
# vCard 3.0 text escapes (RFC 2426 §4): backslash first, then the separators and line breaks.
_ESCAPES = (("\\", "\\\\"), (";", "\\;"), (",", "\\,"), ("\r\n", "\\n"), ("\n", "\\n"), ("\r", "\\n"))
_UNESCAPE = re.compile(r"\\(.)")
_COMPONENT_SEPARATOR = re.compile(r"(?<!\\);")


def _escape(text: str) -> str:
    for raw, escaped in _ESCAPES:
        text = text.replace(raw, escaped)
    return text


def _unescape(text: str) -> str:
    return _UNESCAPE.sub(lambda m: "\n" if m.group(1) in "nN" else m.group(1), text)


def phone_digits(phone: str | None) -> str | None:
    """The digits of a phone or phone JID (`+49 151 …`, `4915…@s.whatsapp.net`); None when there are none."""
    if not phone:
        return None
    digits = _NOT_DIGITS.sub("", phone.partition("@")[0])
    return digits or None


def write_vcard(name: str, phone: str | None = None, organization: str | None = None) -> str:
    """The vCard WhatsApp's apps show as a contact card with a "Message" button."""
    escaped = _escape(name)
    lines = ["BEGIN:VCARD", "VERSION:3.0", f"N:;{escaped};;;", f"FN:{escaped}"]
    if organization:
        lines.append(f"ORG:{_escape(organization)}")
    digits = phone_digits(phone)
    if digits:
        lines.append(f"TEL;type=CELL;type=VOICE;waid={digits}:+{digits}")
    lines.append("END:VCARD")
    return "\n".join(lines)


def card_vcard(card: ContactCard) -> str:
    """The card's own vCard, or one written from its name, phone and organization."""
    return card.vcard or write_vcard(card.name, card.phone, card.organization)


def _unfolded_lines(vcard: str) -> list[str]:
    """Content lines with folded continuations (a line starting with a space or tab) joined back."""
    lines: list[str] = []
    for line in vcard.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if line[:1] in (" ", "\t") and lines:
            lines[-1] += line[1:]
        elif line:
            lines.append(line)
    return lines


def read_vcard(vcard: str, display_name: str | None = None) -> ContactCard:
    """A contact card from vCard text: name (`display_name` first, then FN), phone (waid, else TEL), ORG."""
    name: str | None = None
    organization: str | None = None
    waid: str | None = None
    tel: str | None = None
    for line in _unfolded_lines(vcard):
        head, colon, value = line.partition(":")
        if not colon:
            continue
        prop, _, params = head.partition(";")
        prop = prop.rsplit(".", 1)[-1].upper()  # `item1.TEL` → `TEL`
        if prop == "FN" and name is None:
            name = _unescape(value).strip() or None
        elif prop == "ORG" and organization is None:
            organization = _unescape(_COMPONENT_SEPARATOR.split(value, 1)[0]).strip() or None
        elif prop == "TEL":
            found = _WAID.search(params)
            if found and waid is None:
                waid = found.group(1)
            if tel is None:
                tel = phone_digits(value)
    return ContactCard(
        name=display_name or name or "",
        phone=waid or tel,
        vcard=vcard,
        organization=organization,
    )
