"""`settings.proxy` (API-2 §5, §8): the URL rule, the masked password, the round trip of a masked URL, and the
secret declared on the events that carry settings (sealed by the real cipher, redacted in exports).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.unit.memory_read_session import MemoryReadSession
from wamux.adapters.eventlog.secret_cipher import SecretCipher, create_key
from wamux.domain.errors import ValidationFailed
from wamux.domain.events import InstanceCreated, InstanceUpdated, RecordedEvent, redact_secrets
from wamux.domain.instances import Instance, check_settings
from wamux.domain.proxy import MAX_PROXY_URL, check_proxy, mask_proxy, masked_settings
from wamux.projections.instances import INSTANCES, InstancesProjection

PROXY = "socks5://alice:s3cr%40t@proxy.example.com:1080"
MASKED = "socks5://alice:***@proxy.example.com:1080"


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        (PROXY, PROXY),
        ("http://10.0.0.1:3128", "http://10.0.0.1:3128"),  # a private address is fine: the operator's own proxy
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080/"),
        ("https://proxy.example.com", "https://proxy.example.com"),
        ("SOCKS5://[::1]:1080", "socks5://[::1]:1080"),
        ("http://user@squid.internal:3128", "http://user@squid.internal:3128"),
        ("socks5://my_proxy:1080", "socks5://my_proxy:1080"),
        (None, None),
        ("", None),
    ],
)
def test_accepted_proxies(given: Any, stored: str | None) -> None:
    assert check_proxy(given) == stored


@pytest.mark.parametrize(
    "bad",
    [
        "ftp://proxy.example.com:21",
        "socks4://proxy.example.com:1080",
        "proxy.example.com:1080",
        "http://",
        "http://:3128",
        "http://user:pass@",
        "http://proxy:0",
        "http://proxy:65536",
        "http://proxy:",
        "http://proxy:80a",
        "http://proxy/path",
        "http://proxy?x=1",
        "http://proxy#top",
        "http://us er:pw@proxy",
        "http://user:p@ss@proxy",  # an @ in a password must be %40
        "http://:pw@proxy",
        "http://user:%zz@proxy",
        "http://pröxy.example.com",
        "http://proxy\n",
        "http://-proxy.example.com",
        "http://a..b",
        "http://[::1",
        "http://[not-v6]:1080",
        "http://" + "a" * MAX_PROXY_URL,
        42,
        ["http://proxy"],
    ],
)
def test_refused_proxies_name_the_field(bad: Any) -> None:
    with pytest.raises(ValidationFailed) as refused:
        check_proxy(bad)
    assert set(refused.value.details or {}) == {"settings.proxy"}
    with pytest.raises(ValidationFailed):
        check_settings({"proxy": bad})


def test_the_password_is_masked() -> None:
    assert mask_proxy(PROXY) == MASKED
    assert mask_proxy("https://u:p@h:1/") == "https://u:***@h:1/"
    for clear in ("http://10.0.0.1:3128", "http://user@h:1", "http://user:@h:1", None, ""):
        assert mask_proxy(clear) == clear
    settings = {"rejectCalls": True, "proxy": PROXY}
    assert masked_settings(settings) == {"rejectCalls": True, "proxy": MASKED}
    assert settings["proxy"] == PROXY  # a copy
    assert masked_settings({"proxy": None}) == {"proxy": None}


def instance_with(proxy: str | None) -> Instance:
    instance = Instance(id="i-1")
    [created] = Instance.create("i-1", "u-1", {"name": "Proxied", "settings": {"proxy": proxy, "alwaysOnline": True}})
    instance.apply(created, 1)
    return instance


def test_a_masked_url_sent_back_keeps_the_stored_password() -> None:
    instance = instance_with(PROXY)
    assert instance.settings == {"proxy": PROXY, "alwaysOnline": True}
    assert instance.update({"settings": {"proxy": MASKED}}) == []  # unchanged: nothing recorded
    assert instance.update({"settings": {"proxy": MASKED, "alwaysOnline": False}}) == [
        InstanceUpdated(instance_id="i-1", changes={"settings": {"proxy": PROXY, "alwaysOnline": False}})
    ]
    # Another host, port or user with the masked password: the password must be typed again.
    for moved in (
        "socks5://alice:***@other.example.com:1080",
        "socks5://alice:***@proxy.example.com:1081",
        "socks5://bob:***@proxy.example.com:1080",
        "http://alice:***@proxy.example.com:1080",
    ):
        with pytest.raises(ValidationFailed) as refused:
            instance.update({"settings": {"proxy": moved}})
        assert "settings.proxy" in (refused.value.details or {})
    with pytest.raises(ValidationFailed):
        instance_with(None).update({"settings": {"proxy": MASKED}})
    with pytest.raises(ValidationFailed):
        Instance.create("i-2", "u-1", {"name": "New", "settings": {"proxy": MASKED}})
    [cleared] = instance.update({"settings": {"proxy": ""}})
    assert isinstance(cleared, InstanceUpdated) and cleared.changes["settings"]["proxy"] is None


def test_the_proxy_is_sealed_in_both_events_and_redacted_in_exports() -> None:
    cipher = SecretCipher(create_key())
    [created] = Instance.create("i-1", "u-1", {"name": "Proxied", "settings": {"proxy": PROXY}})
    updated = InstanceUpdated(
        instance_id="i-1", changes={"name": "x", "settings": {"proxy": PROXY, "rejectCalls": True}}
    )
    for event in (created, updated):
        sealed = cipher.seal(type(event), event.payload())
        text = json.dumps(sealed)
        assert "s3cr" not in text and "proxy.example.com" not in text
        assert cipher.open(type(event), sealed) == event.payload()
        assert "s3cr" not in json.dumps(redact_secrets(event))
    assert cipher.seal(InstanceUpdated, {"instance_id": "i-1", "changes": {"name": "x"}}) == {
        "instance_id": "i-1",
        "changes": {"name": "x"},
    }
    assert "settings.proxy" in InstanceCreated.secret_fields


def test_the_instances_read_model_keeps_the_proxy_masked() -> None:
    session = MemoryReadSession()
    projection = InstancesProjection()
    [created] = Instance.create("i-1", "u-1", {"name": "Proxied", "settings": {"proxy": PROXY}})
    projection.apply(session, RecordedEvent("i-1", 1, 1, 1, created))
    assert session.get(INSTANCES, "i-1")["settings"] == {"proxy": MASKED}  # type: ignore[index]
    other = "http://bob:hunter2@10.0.0.9:3128"
    changed = InstanceUpdated(instance_id="i-1", changes={"settings": {"proxy": other}})
    projection.apply(session, RecordedEvent("i-1", 2, 2, 2, changed))
    assert session.get(INSTANCES, "i-1")["settings"] == {"proxy": "http://bob:***@10.0.0.9:3128"}  # type: ignore[index]
