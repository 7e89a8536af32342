"""The event registry: every wire name ever recorded still decodes to a class with the same fields.

The events are split by kind (`wamux/domain/events/*.py`); stored events know only their wire name
and their payload, so these are the names and fields the log holds today. A new event, or a new
field with a default, is fine; renaming or dropping one would leave recorded events undecodable.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import pytest

from wamux.domain import events
from wamux.domain.events import (
    EVENT_TYPES,
    MESSAGE_TYPES,
    DomainEvent,
    InstanceCreated,
    MessageSent,
    redact_secrets,
    register,
)

# wire name -> (class name, secret fields, payload fields as first recorded)
RECORDED: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "user_created": (
        "UserCreated",
        (),
        ("user_id", "email", "password_hash", "api_key_hash", "first_name", "last_name", "role"),
    ),
    "user_updated": ("UserUpdated", (), ("user_id", "changes")),
    "api_key_rotated": ("ApiKeyRotated", (), ("user_id", "api_key_hash")),
    "user_active": ("UserActive", (), ("user_id", "day")),
    "user_deleted": ("UserDeleted", (), ("user_id",)),
    "created": (
        "InstanceCreated",
        ("webhook_settings.secret", "settings.proxy"),
        (
            "instance_id",
            "user_id",
            "name",
            "description",
            "webhook_url",
            "webhook_enabled",
            "webhook_settings",
            "limits",
            "settings",
        ),
    ),
    "updated": ("InstanceUpdated", ("changes.settings.proxy",), ("instance_id", "changes")),
    "webhook_updated": (
        "WebhookUpdated",
        ("webhook_settings.secret",),
        ("instance_id", "webhook_url", "webhook_enabled", "webhook_settings", "changed"),
    ),
    "deleted": ("InstanceDeleted", (), ("instance_id",)),
    "qr_received": ("QrReceived", (), ("instance_id", "qr_code", "attempt")),
    "pairing_code_requested": ("PairingCodeRequested", (), ("instance_id", "phone")),
    "connected": ("Connected", (), ("instance_id", "jid", "push_name")),
    "disconnected": ("Disconnected", (), ("instance_id", "reason", "will_reconnect")),
    "logged_out": ("LoggedOut", (), ("instance_id", "reason")),
    "reconnect_requested": ("ReconnectRequested", (), ("instance_id",)),
    "failed": ("InstanceFailed", (), ("instance_id", "reason", "restarts")),
    "message_sent": (
        "MessageSent",
        (),
        (
            "instance_id",
            "message_id",
            "to",
            "message_type",
            "body",
            "caption",
            "mime_type",
            "file_name",
            "media_size",
            "media_path",
            "idempotency_key",
        ),
    ),
    "message_failed": ("MessageFailed", (), ("instance_id", "message_id", "to", "message_type", "reason", "body")),
    "message_received": (
        "MessageReceived",
        (),
        (
            "instance_id",
            "message_id",
            "chat_jid",
            "sender_jid",
            "message_type",
            "body",
            "push_name",
            "is_group",
            "from_me",
            "sent_at",
            "caption",
            "mime_type",
            "file_name",
            "media_size",
            "media_path",
            "extra",
        ),
    ),
    "message_status": ("MessageStatusChanged", (), ("instance_id", "message_id", "status", "chat_jid", "from_me")),
    "chat_read": ("ChatRead", (), ("instance_id", "chat_jid")),
    "contact_saved": (
        "ContactSaved",
        (),
        ("instance_id", "jid", "number", "name", "push_name", "is_group", "profile_picture", "about"),
    ),
    "contacts_imported": ("ContactsImported", (), ("instance_id", "contacts")),
    "api_calls_recorded": ("ApiCallsRecorded", (), ("instance_id", "count")),
    "limit_exceeded": ("LimitExceeded", (), ("instance_id", "exceeded_limits", "usage", "limits", "period_key")),
    "webhook_delivered": (
        "WebhookDelivered",
        (),
        ("instance_id", "delivery_id", "event_type", "status_code", "attempts", "latency_ms"),
    ),
    "webhook_failed": (
        "WebhookFailed",
        (),
        ("instance_id", "delivery_id", "event_type", "attempts", "status_code", "error"),
    ),
    "webhook_retry_requested": ("WebhookRetryRequested", (), ("instance_id", "delivery_id")),
}


@pytest.mark.parametrize("wire_name", list(RECORDED))
def test_a_recorded_wire_name_still_decodes(wire_name: str) -> None:
    class_name, secrets, recorded_fields = RECORDED[wire_name]
    cls = EVENT_TYPES[wire_name]
    assert (cls.__name__, cls.type, cls.secret_fields) == (class_name, wire_name, secrets)
    assert getattr(events, class_name) is cls  # `from wamux.domain.events import X` keeps working
    fields = {f.name: f for f in dataclasses.fields(cls)}
    assert set(recorded_fields) <= set(fields), "a recorded field was renamed or dropped"
    required = {
        n for n, f in fields.items() if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    assert required <= set(recorded_fields), "a field added later needs a default (old events lack it)"
    # An old payload, with a key a newer version wrote, decodes.
    payload = {name: f"value of {name}" for name in recorded_fields} | {"written_by_a_newer_version": 1}
    event = cls.from_payload(payload)
    assert {k: v for k, v in event.payload().items() if k in recorded_fields} == {
        name: f"value of {name}" for name in recorded_fields
    }


def test_every_registered_event_is_exported_from_the_package() -> None:
    for wire_name, cls in EVENT_TYPES.items():
        assert getattr(events, cls.__name__) is cls, wire_name
        assert cls.__name__ in events.__all__, wire_name


def test_message_events_live_in_the_messages_module() -> None:
    for wire_name in MESSAGE_TYPES:
        assert EVENT_TYPES[wire_name].__module__ == "wamux.domain.events.messages", wire_name
    assert MessageSent.__module__ == "wamux.domain.events.messages"


def test_a_wire_name_is_registered_once() -> None:
    with pytest.raises(ValueError, match="duplicate event type message_sent"):

        @register
        @dataclass(frozen=True)
        class AnotherMessageSent(DomainEvent):
            type: ClassVar[str] = "message_sent"

    assert EVENT_TYPES["message_sent"] is MessageSent


def test_secrets_are_redacted_along_their_path() -> None:
    event = InstanceCreated(
        "i", "u", "Shop", None, "https://example.com/hook", True, {"secret": "s3cret", "retries": 3}
    )
    shown = redact_secrets(event)
    assert shown["webhook_settings"] == {"secret": "***", "retries": 3}
    assert event.webhook_settings["secret"] == "s3cret"  # the event itself is left alone
