"""Phone numbers and JIDs as the contract accepts them: `wamux.domain.phones`."""

from __future__ import annotations

import pytest

from wamux.domain.errors import ValidationFailed
from wamux.domain.phones import is_group, jid_number, to_jid


@pytest.mark.parametrize(
    ("value", "jid"),
    [
        ("79001234567", "79001234567@s.whatsapp.net"),
        ("+79001234567", "79001234567@s.whatsapp.net"),
        ("+7 (900) 123-45-67", "79001234567@s.whatsapp.net"),
        ("  7 900 123.45.67  ", "79001234567@s.whatsapp.net"),
        ("12345", "12345@s.whatsapp.net"),  # shortest accepted number
        ("123456789012345", "123456789012345@s.whatsapp.net"),  # E.164 maximum: 15 digits
        ("79001234567@s.whatsapp.net", "79001234567@s.whatsapp.net"),
        ("79001234567:12@s.whatsapp.net", "79001234567@s.whatsapp.net"),  # device suffix dropped
        ("120363025246125486@g.us", "120363025246125486@g.us"),
        ("79001234567-1672531200@g.us", "79001234567-1672531200@g.us"),  # old-style group id
        ("123456789012345@lid", "123456789012345@lid"),
    ],
)
def test_to_jid_accepts_numbers_and_jids(value: str, jid: str) -> None:
    assert to_jid(value) == jid


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "abc",
        "+",
        "1234",  # too short
        "1234567890123456",  # 16 digits: longer than E.164
        "+7 900 123 45 67 89 01 23 45",
        "79 00x 123",
        "++79001234567",
        "7+9001234567",
        "79001234567@example.com",
        "@s.whatsapp.net",
        "abc@g.us",
        "79001234567@s.whatsapp.net.evil",
    ],
)
def test_to_jid_refuses_garbage_with_details(value: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        to_jid(value)
    assert info.value.code == "validation_error"
    assert info.value.details == {"phone": "invalid"}


def test_to_jid_refuses_non_ascii_digits() -> None:
    with pytest.raises(ValidationFailed):
        to_jid("\u0667\u0669\u0660\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667")  # ٧٩٠٠١٢٣٤٥٦٧


def test_jid_number_and_is_group() -> None:
    assert jid_number("79001234567@s.whatsapp.net") == "79001234567"
    assert jid_number("79001234567:3@s.whatsapp.net") == "79001234567"
    assert is_group("120363025246125486@g.us") is True
    assert is_group("79001234567@s.whatsapp.net") is False
