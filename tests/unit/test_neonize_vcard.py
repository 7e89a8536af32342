"""The vCards of contact messages: what both transports write, and what we read from WhatsApp's."""

from __future__ import annotations

import pytest

from wamux.adapters.whatsapp.vcard import card_vcard, phone_digits, read_vcard, write_vcard
from wamux.core.ports import ContactCard


def test_written_vcard() -> None:
    assert write_vcard("Bob Builder", "4915199999999", "Acme") == (
        "BEGIN:VCARD\n"
        "VERSION:3.0\n"
        "N:;Bob Builder;;;\n"
        "FN:Bob Builder\n"
        "ORG:Acme\n"
        "TEL;type=CELL;type=VOICE;waid=4915199999999:+4915199999999\n"
        "END:VCARD"
    )


def test_without_phone_or_organization() -> None:
    assert write_vcard("Eve") == "BEGIN:VCARD\nVERSION:3.0\nN:;Eve;;;\nFN:Eve\nEND:VCARD"


def test_names_cannot_break_out_of_their_line() -> None:
    vcard = write_vcard("Mallory\nTEL;waid=1:+1", "+49 151 2", "A;B,C\\")
    assert vcard.count("\n") == 6  # seven lines: nothing injected
    assert "FN:Mallory\\nTEL\\;waid=1:+1" in vcard
    assert "ORG:A\\;B\\,C\\\\" in vcard
    card = read_vcard(vcard)
    assert (card.name, card.phone, card.organization) == ("Mallory\nTEL;waid=1:+1", "491512", "A;B,C\\")


@pytest.mark.parametrize(
    ("card", "phone"),
    [
        (ContactCard(name="Bob", phone="4915199999999"), "4915199999999"),
        (ContactCard(name="Bob", phone="+49 151 99999999"), "4915199999999"),
        (ContactCard(name="Bob", phone="4915199999999@s.whatsapp.net"), "4915199999999"),
    ],
)
def test_written_cards_read_back(card: ContactCard, phone: str) -> None:
    vcard = card_vcard(card)
    assert read_vcard(vcard) == ContactCard(name="Bob", phone=phone, vcard=vcard)


def test_a_card_with_its_own_vcard_keeps_it() -> None:
    assert card_vcard(ContactCard(name="Bob", phone="1", vcard="BEGIN:VCARD\nEND:VCARD")) == "BEGIN:VCARD\nEND:VCARD"


def test_reading_whatsapps_vcards() -> None:
    # As neonize writes them (`gen_vcard`), with a group prefix and a label line.
    neonize = (
        "BEGIN:VCARD\nVERSION:3.0\nFN:Bob\nitem1.TEL;waid=4915199999999:+49 1519 9999999\n"
        "item1.X-ABLabel:Ponsel\nEND:VCARD"
    )
    assert read_vcard(neonize, display_name="Bobby") == ContactCard("Bobby", "4915199999999", neonize)
    # CRLF, a folded line, several phones: the one with a WhatsApp id wins.
    iphone = (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Carol\r\n  Singer\r\nORG:Choir;Altos\r\n"
        "TEL;type=HOME:+1 555 0100\r\nTEL;type=CELL;waid=15550199:+1 555 0199\r\nEND:VCARD"
    )
    card = read_vcard(iphone)
    assert (card.name, card.phone, card.organization) == ("Carol Singer", "15550199", "Choir")
    # No WhatsApp id: the first phone.
    assert read_vcard("BEGIN:VCARD\nFN:Dan\nTEL:+44 20 7946 0000\nEND:VCARD").phone == "442079460000"
    assert read_vcard("not a vcard") == ContactCard(name="", phone=None, vcard="not a vcard")


@pytest.mark.parametrize(
    ("raw", "digits"), [("+49 (151) 2-3", "4915123"), ("123@lid", "123"), ("", None), (None, None), ("+", None)]
)
def test_phone_digits(raw: str | None, digits: str | None) -> None:
    assert phone_digits(raw) == digits
