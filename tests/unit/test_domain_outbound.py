"""The pure outbound rules of §8: which addresses users may reach, which webhook headers they may set."""

from __future__ import annotations

import ipaddress

import pytest

from wamux.domain.errors import ValidationFailed
from wamux.domain.instances import WEBHOOK_DEFAULTS, Instance, merge_webhook_settings
from wamux.domain.outbound import (
    blocked_reason,
    check_custom_headers,
    check_outbound_url,
    encode_headers,
    refuse_address,
)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("100.127.255.254", "carrier-grade NAT"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("192.0.2.10", "private"),  # documentation range
        ("2001:db8::1", "private"),
        # IPv6 forms that carry an IPv4 address are judged by the IPv4 address
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "link-local"),
        ("64:ff9b::7f00:1", "loopback"),  # NAT64 of 127.0.0.1
        ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
    ],
)
def test_blocked_addresses(address: str, reason: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "93.184.216.34", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) is None


def test_refusal_is_url_not_allowed_naming_host_and_address() -> None:
    error = refuse_address("hooks.internal", ipaddress.ip_address("10.0.0.7"))
    assert error is not None and error.code == "url_not_allowed"
    assert "hooks.internal (10.0.0.7)" in error.message and error.details == {"url": "private address"}
    assert refuse_address("example.org", ipaddress.ip_address("93.184.216.34")) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1/",  # unbalanced bracket: urlsplit raises ValueError (was a 500)
        "http://host:99999/",  # port out of range
        "http://host:0/",
        "ftp://example.com/",
        "file:///etc/passwd",
        "http:///path-only",
        "http://exa mple.com/",
        "http://example.com/\r\nX-Injected: 1",
        "http://example.com/" + "a" * 3000,
        42,
    ],
)
def test_malformed_urls_are_validation_errors(url: object) -> None:
    with pytest.raises(ValidationFailed) as caught:
        check_outbound_url(url, "webhookUrl")
    assert caught.value.code == "validation_error" and "webhookUrl" in (caught.value.details or {})


def test_url_host_and_default_ports() -> None:
    assert check_outbound_url("https://Example.com/x") == ("example.com", 443)
    assert check_outbound_url("http://[::1]:8080/") == ("::1", 8080)
    assert check_outbound_url("http://10.0.0.1/") == ("10.0.0.1", 80)  # syntax only: the guard judges addresses


def test_headers_within_the_rules_pass_latin1_included() -> None:
    headers = {"X-Tenant": "acme", "X-Note": "café", "Authorization": "Bearer t0k3n", "x_odd.name~": "v"}
    assert check_custom_headers(headers) == headers
    assert check_custom_headers(None) == {}
    assert check_custom_headers({f"X-H{i}": "v" for i in range(20)})
    assert check_custom_headers({"X-Big": "v" * 1024})


@pytest.mark.parametrize(
    ("headers", "fragment"),
    [
        ({f"X-H{i}": "v" for i in range(21)}, "at most 20"),
        ({"X-Note": "日本"}, "Latin-1"),
        ({"X-Euro": "5 €"}, "Latin-1"),
        ({"X-Split": "a\r\nX-Evil: 1"}, "no CR, LF"),
        ({"X-Lf": "a\nb"}, "no CR, LF"),
        ({"X-Nul": "a\x00b"}, "no CR, LF"),
        ({"X-Tab": "a\tb"}, "no CR, LF"),
        ({"X-Del": "a\x7fb"}, "no CR, LF"),
        ({"X Space": "v"}, "not an HTTP token"),
        ({"X-Café": "v"}, "not an HTTP token"),
        ({"X:Colon": "v"}, "not an HTTP token"),
        ({"": "v"}, "not an HTTP token"),
        ({"X-Big": "v" * 1025}, "longer than 1024"),
        ({"X-" + "n" * 1030: "v"}, "not an HTTP token"),
        ({"Host": "evil.example"}, "cannot be given"),
        ({"content-length": "0"}, "cannot be given"),
        ({"Transfer-Encoding": "chunked"}, "cannot be given"),
        ({"CONNECTION": "close"}, "cannot be given"),
        ({"X-Webhook-Signature": "forged"}, "cannot be given"),
        ({"x-webhook-id": "dup"}, "cannot be given"),
        ({"X-A": "1", "x-a": "2"}, "given twice"),
        ({"X-Num": 5}, "string value"),
        (["X-A"], "object"),
    ],
)
def test_headers_against_the_rules_are_refused(headers: object, fragment: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        check_custom_headers(headers)
    assert fragment in caught.value.message
    assert caught.value.details and "headers" in caught.value.details


def test_headers_are_checked_when_an_instance_is_created_or_updated() -> None:
    with pytest.raises(ValidationFailed):
        Instance.create("i1", "u1", {"name": "x", "headers": {"Host": "evil"}})
    with pytest.raises(ValidationFailed):
        Instance.create("i1", "u1", {"name": "x", "webhookSettings": {"headers": {"X-A": "\r\n"}}})
    with pytest.raises(ValidationFailed):
        merge_webhook_settings(WEBHOOK_DEFAULTS, {"headers": {f"X-{i}": "v" for i in range(25)}})
    (created,) = Instance.create("i1", "u1", {"name": "x", "headers": {"X-Note": "café"}})
    assert created.webhook_settings["headers"] == {"X-Note": "café"}  # type: ignore[attr-defined]


def test_encode_headers_sends_latin1_and_refuses_what_cannot_go_on_the_wire() -> None:
    assert encode_headers({"X-Note": "café", "Host": "evil"}) == [(b"X-Note", b"caf\xe9")]  # framing headers dropped
    for bad in ({"X-Note": "日本"}, {"X-A": "a\r\nb"}, {"Bad Name": "v"}):
        with pytest.raises(ValueError):
            encode_headers(bad)
