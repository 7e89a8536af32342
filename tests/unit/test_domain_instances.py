"""The Instance aggregate: decisions (create/update/delete) and folding events (apply). Pure, no I/O."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest

from wamux.domain.errors import Conflict, Problems, UrlNotAllowed, ValidationFailed
from wamux.domain.events import (
    Connected,
    Disconnected,
    DomainEvent,
    InstanceCreated,
    InstanceDeleted,
    InstanceFailed,
    InstanceUpdated,
    LoggedOut,
    PairingCodeRequested,
    QrReceived,
    ReconnectRequested,
    WebhookUpdated,
)
from wamux.domain.instances import WEBHOOK_DEFAULTS, Instance

IID = "inst-1"


def fold(events: list[DomainEvent], start_ms: int = 1_000) -> Instance:
    instance = Instance(id=IID)
    for i, event in enumerate(events):
        instance.apply(event, start_ms + i)
    return instance


def created(body: dict[str, Any] | None = None) -> Instance:
    return fold(Instance.create(IID, "user-1", {"name": "Main", **(body or {})}))


# ---- create ----------------------------------------------------------------------------------


def test_create_minimal_uses_defaults() -> None:
    (event,) = Instance.create(IID, "user-1", {"name": "  Main  "})
    assert isinstance(event, InstanceCreated)
    assert event.instance_id == IID and event.user_id == "user-1"
    assert event.name == "Main"  # trimmed
    assert event.description is None and event.webhook_url is None
    assert event.webhook_enabled is False
    assert event.webhook_settings == WEBHOOK_DEFAULTS
    assert event.limits is None and event.settings == {}


def test_create_maps_every_contract_field() -> None:
    (event,) = Instance.create(
        IID,
        "u",
        {
            "name": "Main WhatsApp",
            "description": "Business account",
            "webhookUrl": "https://example.com/webhook",
            "webhookEnabled": True,
            "notifyReceived": False,
            "notifyDelivery": True,
            "maxRetries": 5,
            "retryInterval": 1000,
            "webhookSecret": "s3cret",
            "headers": {"X-A": "b"},
            "limits": {"maxMessagesSent": 10, "period": "month"},
            "settings": {"sendIntervalMs": 250},
        },
    )
    assert isinstance(event, InstanceCreated)
    assert event.description == "Business account"
    assert event.webhook_url == "https://example.com/webhook" and event.webhook_enabled is True
    assert event.webhook_settings == {
        "notifyReceived": False,
        "notifySent": True,
        "notifyDelivery": True,
        "notifyRead": False,
        "maxRetries": 5,
        "retryInterval": 1000,
        "secret": "s3cret",
        "headers": {"X-A": "b"},
    }
    assert event.limits == {"maxMessagesSent": 10, "period": "month"}
    assert event.settings == {"sendIntervalMs": 250}


def test_a_webhook_url_without_webhook_enabled_enables_it() -> None:
    (event,) = Instance.create(IID, "u", {"name": "x", "webhookUrl": "http://hooks.local/x"})
    assert isinstance(event, InstanceCreated) and event.webhook_enabled is True
    (event,) = Instance.create(IID, "u", {"name": "x", "webhookUrl": "http://hooks.local/x", "webhookEnabled": False})
    assert isinstance(event, InstanceCreated) and event.webhook_enabled is False


def test_create_does_not_share_the_defaults_dict() -> None:
    (event,) = Instance.create(IID, "u", {"name": "x"})
    assert isinstance(event, InstanceCreated)
    event.webhook_settings["maxRetries"] = 99
    assert WEBHOOK_DEFAULTS["maxRetries"] == 3


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": 5}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "x", "description": 3}, "description"),
        ({"name": "x", "description": "d" * 1001}, "description"),
        ({"name": "x", "webhookUrl": "ftp://nope"}, "webhookUrl"),
        ({"name": "x", "webhookUrl": "https://"}, "webhookUrl"),
        ({"name": "x", "webhookUrl": 42}, "webhookUrl"),
        ({"name": "x", "webhookEnabled": "yes"}, "webhookEnabled"),
        ({"name": "x", "notifyRead": 1}, "notifyRead"),
        ({"name": "x", "maxRetries": -1}, "maxRetries"),
        ({"name": "x", "maxRetries": 51}, "maxRetries"),
        ({"name": "x", "maxRetries": True}, "maxRetries"),
        ({"name": "x", "retryInterval": "60s"}, "retryInterval"),
        ({"name": "x", "webhookSecret": 7}, "secret"),
        ({"name": "x", "headers": {"a": 1}}, "headers"),
        ({"name": "x", "headers": {" ": "v"}}, "headers"),
        ({"name": "x", "headers": ["a"]}, "headers"),
        ({"name": "x", "limits": "lots"}, "limits"),
        ({"name": "x", "limits": {"maxMessagesSent": "ten"}}, "limits.maxMessagesSent"),
        ({"name": "x", "limits": {"maxApiCalls": -1}}, "limits.maxApiCalls"),
        ({"name": "x", "limits": {"period": "week"}}, "limits.period"),
        ({"name": "x", "limits": {"maxCalls": 3}}, "limits"),
        ({"name": "x", "settings": {"sendIntervalMs": 60_001}}, "settings.sendIntervalMs"),
        ({"name": "x", "settings": {"colour": "blue"}}, "settings"),
        ({"name": "x", "webhookSettings": {"bogus": 1}}, "bogus"),
    ],
)
def test_create_validation_names_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        Instance.create(IID, "u", body)
    assert info.value.code == "validation_error"
    assert info.value.details is not None and field in info.value.details, info.value.details


# ---- update ----------------------------------------------------------------------------------


def test_update_plain_fields_only_reports_real_changes() -> None:
    instance = created({"description": "old"})
    events = instance.update({"name": "Main", "description": "new"})
    assert events == [InstanceUpdated(instance_id=IID, changes={"description": "new"})]
    assert instance.update({"name": "Main", "description": "old"}) == []


def test_update_webhook_emits_webhook_updated_with_changed_fields() -> None:
    instance = created()
    events = instance.update(
        {
            "webhookUrl": "https://hooks.example.com/x",
            "webhookEnabled": True,
            "webhookSettings": {"notifyRead": True, "secret": "s3", "headers": {"X-A": "b"}, "maxRetries": 3},
        }
    )
    assert len(events) == 1
    (event,) = events
    assert isinstance(event, WebhookUpdated)
    assert event.webhook_url == "https://hooks.example.com/x" and event.webhook_enabled is True
    # url/enabled first, then the settings that changed, sorted; maxRetries was already 3.
    assert event.changed == ["webhookUrl", "webhookEnabled", "headers", "notifyRead", "secret"]
    assert event.webhook_settings["notifyRead"] is True
    assert event.webhook_settings["notifyReceived"] is True  # untouched settings stay
    assert event.webhook_settings["secret"] == "s3"


def test_update_name_and_webhook_together_gives_both_events_in_order() -> None:
    instance = created()
    events = instance.update({"name": "Renamed", "webhookSettings": {"notifyDelivery": True}})
    assert [e.type for e in events] == ["updated", "webhook_updated"]
    assert isinstance(events[1], WebhookUpdated) and events[1].changed == ["notifyDelivery"]


def test_update_with_the_same_webhook_settings_is_a_no_op() -> None:
    instance = created({"webhookUrl": "https://h.example.com", "webhookSecret": "s"})
    assert (
        instance.update(
            {
                "webhookUrl": "https://h.example.com",
                "webhookEnabled": True,
                "webhookSettings": {"secret": "s", "instanceId": "ignored"},
            }
        )
        == []
    )


def test_update_clearing_the_secret_and_url() -> None:
    instance = created({"webhookUrl": "https://h.example.com", "webhookSecret": "s"})
    (event,) = instance.update({"webhookUrl": "", "webhookSettings": {"secret": ""}})
    assert isinstance(event, WebhookUpdated)
    assert event.webhook_url is None and event.webhook_settings["secret"] is None
    assert event.changed == ["webhookUrl", "secret"]


def test_update_settings_merge_with_the_current_ones() -> None:
    instance = created({"settings": {"sendIntervalMs": 100}})
    (event,) = instance.update({"settings": {"sendIntervalMs": 200}})
    assert event == InstanceUpdated(instance_id=IID, changes={"settings": {"sendIntervalMs": 200}})


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"webhookUrl": "nope"}, "webhookUrl"),
        ({"webhookEnabled": None}, "webhookEnabled"),
        ({"webhookSettings": "all"}, "webhookSettings"),
        ({"webhookSettings": {"retryInterval": -5}}, "retryInterval"),
        ({"webhookSettings": {"unknown": True}}, "unknown"),
        ({"limits": {"period": "year"}}, "limits.period"),
    ],
)
def test_update_validation(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        created().update(body)
    assert info.value.details is not None and field in info.value.details


def test_create_reports_every_problem_of_the_body_at_once() -> None:
    body = {
        "name": "",
        "description": 3,
        "webhookUrl": "ftp://nope",
        "maxRetries": 99,
        "limits": {"period": "week", "maxApiCalls": -1, "maxCalls": 1, "extra": 2},
        "settings": {"colour": "blue", "shade": 1, "sendIntervalMs": -1},
        "webhookSettings": {"bogus": 1},
    }
    with pytest.raises(ValidationFailed) as info:
        Instance.create(IID, "u", body)
    details = info.value.details
    assert details is not None and info.value.code == "validation_error"
    assert set(details) == {
        "name",
        "description",
        "webhookUrl",
        "maxRetries",
        "bogus",
        "limits.maxApiCalls",
        "limits.period",
        "limits",
        "settings",
        "settings.sendIntervalMs",
    }, details
    assert details["name"] == "name is required"
    assert details["limits"] == "unknown limits extra, maxCalls"
    assert details["settings"] == "unknown settings colour, shade"
    # Sentences, not codes (the outbound rule's own code is made a sentence at the HTTP edge).
    assert all(isinstance(v, str) and " " in v for k, v in details.items() if k != "webhookUrl"), details
    assert "name is required" in info.value.message and "maxRetries" in info.value.message


def test_update_reports_every_problem_at_once_and_changes_nothing() -> None:
    instance = created()
    body = {"name": 5, "webhookEnabled": "yes", "webhookSettings": {"notifyRead": 1, "retryInterval": -5}}
    with pytest.raises(ValidationFailed) as info:
        instance.update(body)
    assert info.value.details is not None
    assert set(info.value.details) == {"name", "webhookEnabled", "notifyRead", "retryInterval"}


def test_problems_raise_a_lone_error_as_it_is_and_several_as_one() -> None:
    lone = Problems()
    own = UrlNotAllowed("webhookUrl leads to a private address", details={"webhookUrl": "private"})
    assert lone.attempt(lambda: 1, 0) == 1
    lone.attempt(partial(_raise, own), None)
    with pytest.raises(UrlNotAllowed) as caught:
        lone.raise_any()
    assert caught.value is own
    several = Problems()
    several.add(ValidationFailed("a is required", details={"a": "a is required"}))
    several.add(ValidationFailed("b is bad"))
    with pytest.raises(ValidationFailed) as info:
        several.raise_any()
    assert info.value.message == "a is required; b is bad"
    assert info.value.details == {"a": "a is required", "body": "b is bad"}
    Problems().raise_any()  # nothing noted: no error


def _raise(error: Exception) -> None:
    raise error


# ---- delete and apply ------------------------------------------------------------------------


def test_delete_once_then_conflict() -> None:
    instance = created()
    events = instance.delete()
    assert events == [InstanceDeleted(instance_id=IID)]
    instance.apply(events[0], 5_000)
    assert instance.deleted is True
    with pytest.raises(Conflict):
        instance.delete()
    with pytest.raises(Conflict):
        instance.update({"name": "zombie"})


def test_apply_folds_lifecycle_and_timestamps() -> None:
    instance = Instance(id=IID)
    (create,) = Instance.create(IID, "user-9", {"name": "A", "webhookUrl": "https://h.example.com"})
    instance.apply(create, 1_000)
    assert (instance.user_id, instance.name, instance.created_ms, instance.updated_ms) == ("user-9", "A", 1_000, 1_000)
    assert instance.webhook_enabled is True
    for event in instance.update({"name": "B", "webhookSettings": {"maxRetries": 7}}):
        instance.apply(event, 2_000)
    assert instance.name == "B" and instance.webhook_settings["maxRetries"] == 7
    assert instance.updated_ms == 2_000 and instance.created_ms == 1_000
    # connection events do not touch updatedAt
    instance.apply(QrReceived(instance_id=IID, qr_code="1@x", attempt=1), 3_000)
    assert instance.updated_ms == 2_000


def test_apply_follows_the_connection_state_machine() -> None:
    instance = created()
    assert instance.status == "connecting" and instance.linked is False
    steps: list[tuple[DomainEvent, str]] = [
        (QrReceived(instance_id=IID, qr_code="1@a", attempt=1), "qr"),
        (QrReceived(instance_id=IID, qr_code="1@b", attempt=2), "qr"),
        (PairingCodeRequested(instance_id=IID, phone="79001234567"), "qr"),
        (Connected(instance_id=IID, jid="79001234567@s.whatsapp.net", push_name="Me"), "connected"),
        (Disconnected(instance_id=IID, reason="connection_lost", will_reconnect=True), "disconnected"),
        (Connected(instance_id=IID), "connected"),
        (LoggedOut(instance_id=IID), "logged_out"),
        (ReconnectRequested(instance_id=IID), "connecting"),
        (InstanceFailed(instance_id=IID, reason="crashed", restarts=5), "failed"),
    ]
    seen = []
    for i, (event, _status) in enumerate(steps):
        instance.apply(event, 10_000 + i)
        seen.append(instance.status)
        if isinstance(event, QrReceived):
            assert instance.qr_attempt == event.attempt
        if event.type == "connected":
            # a reconnect without identity keeps the known JID and push name
            assert instance.jid == "79001234567@s.whatsapp.net" and instance.push_name == "Me"
            assert instance.linked is True
        if isinstance(event, LoggedOut):
            assert instance.linked is False
    assert seen == [status for _e, status in steps]
