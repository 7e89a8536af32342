"""What `/events`, the SSE stream and webhooks carry for every message kind and the new message events (API-2 §3)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.unit.memory_read_session import MemoryReadSession
from wamux.domain.catalog import ALWAYS_SENT_EVENT_TYPES, PUBLIC_EVENT_TYPES
from wamux.domain.events import (
    CallReceived,
    DomainEvent,
    GroupJoined,
    GroupParticipantsChanged,
    GroupsSynced,
    GroupUpdated,
    IdentityLearned,
    InstanceCreated,
    MessageEdited,
    MessageFailed,
    MessageReaction,
    MessageReceived,
    MessageRevoked,
    MessageSent,
    PollVoted,
    PresenceUpdated,
    RecordedEvent,
)
from wamux.domain.instances import WEBHOOK_DEFAULTS
from wamux.http.routes.activity import call_summary, details
from wamux.projections.outbox import DELIVERIES, OutboxProjection, notify_flag
from wamux.projections.payloads import event_data, event_json
from wamux.projections.ports import Query

IID = "0190a5c2-0000-7000-8000-0000000000bb"
ALICE = "79001110000@s.whatsapp.net"
ME = "79009990000@s.whatsapp.net"
GROUP = "120363000000000001@g.us"
POLL = {"question": "Lunch?", "options": ["pizza", "sushi"], "selectableCount": 1}
LOCATION = {"latitude": 55.75, "longitude": 37.61, "name": "Red Square", "address": "Moscow"}
CARD = {"name": "Ann", "phone": "79003330000", "vcard": "BEGIN:VCARD\nEND:VCARD", "organization": None}


def recorded(event: DomainEvent, ts: int = 1_700_000_000_123, position: int = 7) -> RecordedEvent:
    return RecordedEvent(IID, position, ts, position, event)


def received(message_type: str, **fields: Any) -> MessageReceived:
    return MessageReceived(
        instance_id=IID, message_id="M1", chat_jid=ALICE, sender_jid=ALICE, message_type=message_type, **fields
    )


def sent(message_type: str, **fields: Any) -> MessageSent:
    return MessageSent(instance_id=IID, message_id="S1", to=ALICE, message_type=message_type, **fields)


MEDIA = {"media_path": "x/file", "media_size": 10, "mime_type": "application/octet-stream"}

# (message_type, fields, WhatsApp's type): every kind of §3, without the wire's own name.
KINDS: list[tuple[str, dict[str, Any], str]] = [
    ("text", {"body": "hi"}, "conversation"),
    ("text", {"body": "hi", "quoted_message_id": "Q1"}, "extendedTextMessage"),
    ("text", {"body": "hi @7900", "mentions": [ALICE]}, "extendedTextMessage"),
    ("text", {"body": "hi", "forwarded": True}, "extendedTextMessage"),
    ("image", {**MEDIA, "caption": "c"}, "imageMessage"),
    ("video", MEDIA, "videoMessage"),
    ("audio", MEDIA, "audioMessage"),
    ("voice", {**MEDIA, "ptt": True}, "audioMessage"),
    ("document", {**MEDIA, "file_name": "a.pdf"}, "documentMessage"),
    ("sticker", MEDIA, "stickerMessage"),
    ("location", {"location": LOCATION}, "locationMessage"),
    ("contact", {"contacts": [CARD]}, "contactMessage"),
    ("contact", {"contacts": [CARD, {**CARD, "name": "Ben"}]}, "contactsArrayMessage"),
    ("poll", {"body": "Lunch?", "poll": POLL}, "pollCreationMessage"),
]


@pytest.mark.parametrize(("kind", "fields", "wa_type"), KINDS)
def test_message_received_and_sent_carry_the_real_type_of_every_kind(
    kind: str, fields: dict[str, Any], wa_type: str
) -> None:
    for event in (received(kind, **fields), sent(kind, **fields)):
        data = event_data(recorded(event))
        assert data["type"] == wa_type, (type(event).__name__, kind, fields)
        assert data["messageType"] == kind
        assert data["ptt"] is (kind == "voice")


def test_the_wires_own_type_name_wins() -> None:
    event = received("location", location=LOCATION, wa_type="liveLocationMessage")
    assert event_data(recorded(event))["type"] == "liveLocationMessage"
    assert event_data(recorded(received("text", body="x", wa_type="conversation")))["type"] == "conversation"
    assert event_data(recorded(received("other", wa_type="protocolMessage")))["type"] == "protocolMessage"


def test_rich_fields_of_a_received_and_a_sent_message() -> None:
    fields: dict[str, Any] = {"quoted_message_id": "Q1", "mentions": [ALICE, ME], "forwarded": True}
    for event in (
        received("text", body="hi", **fields),
        sent("text", body="hi", **fields),
    ):
        data = event_data(recorded(event))
        assert (data["quotedMessageId"], data["mentions"], data["forwarded"]) == ("Q1", [ALICE, ME], True)
    assert event_data(recorded(received("location", location=LOCATION)))["location"] == LOCATION
    assert event_data(recorded(sent("contact", contacts=[CARD])))["contacts"] == [CARD]
    assert event_data(recorded(received("poll", body="Lunch?", poll=POLL)))["poll"] == POLL
    plain = event_data(recorded(received("text", body="hi")))
    assert {k: plain[k] for k in ("quotedMessageId", "mentions", "forwarded", "location", "contacts", "poll")} == {
        "quotedMessageId": None,
        "mentions": [],
        "forwarded": False,
        "location": None,
        "contacts": [],
        "poll": None,
    }
    # what the message said before stays as it was
    assert (plain["from"], plain["chatId"], plain["body"], plain["status"]) == (ALICE, ALICE, "hi", "received")


def test_a_failed_send_names_its_type() -> None:
    failed = MessageFailed(instance_id=IID, message_id="F1", to=ALICE, message_type="voice", reason="x")
    assert event_data(recorded(failed))["type"] == "audioMessage"
    failed = MessageFailed(instance_id=IID, message_id="F1", to=ALICE, message_type="poll", reason="x")
    assert event_data(recorded(failed))["type"] == "pollCreationMessage"


NEW_EVENTS: list[tuple[DomainEvent, dict[str, Any]]] = [
    (
        MessageReaction(
            instance_id=IID, message_id="M1", chat_jid=GROUP, sender_jid=ALICE, emoji="👍", reaction_id="R9"
        ),
        {
            "instanceId": IID,
            "messageId": "M1",
            "chatId": GROUP,
            "from": ALICE,
            "fromMe": False,
            "emoji": "👍",
            "chatLid": None,
            "fromLid": None,
        },
    ),
    (
        MessageReaction(instance_id=IID, message_id="M1", chat_jid=GROUP, sender_jid=ME, emoji="", from_me=True),
        {
            "instanceId": IID,
            "messageId": "M1",
            "chatId": GROUP,
            "from": ME,
            "fromMe": True,
            "emoji": "",
            "chatLid": None,
            "fromLid": None,
        },
    ),
    (
        MessageEdited(instance_id=IID, message_id="M2", chat_jid=ALICE, sender_jid=ME, body="fixed", from_me=True),
        {
            "instanceId": IID,
            "messageId": "M2",
            "chatId": ALICE,
            "from": ME,
            "fromMe": True,
            "body": "fixed",
            "chatLid": None,
            "fromLid": None,
        },
    ),
    (
        MessageRevoked(instance_id=IID, message_id="M3", chat_jid=ALICE, sender_jid=ALICE),
        {
            "instanceId": IID,
            "messageId": "M3",
            "chatId": ALICE,
            "from": ALICE,
            "fromMe": False,
            "chatLid": None,
            "fromLid": None,
        },
    ),
    (
        PollVoted(instance_id=IID, message_id="P1", chat_jid=GROUP, sender_jid=ALICE, selected_options=["a", "b"]),
        {
            "instanceId": IID,
            "messageId": "P1",
            "chatId": GROUP,
            "from": ALICE,
            "selectedOptions": ["a", "b"],
            "chatLid": None,
            "fromLid": None,
        },
    ),
    (
        PresenceUpdated(instance_id=IID, chat_jid=ALICE, sender_jid=ALICE, state="typing"),
        {"instanceId": IID, "chatId": ALICE, "from": ALICE, "state": "typing", "chatLid": None, "fromLid": None},
    ),
]


@pytest.mark.parametrize(("event", "data"), NEW_EVENTS, ids=lambda v: getattr(v, "type", ""))
def test_the_new_events_carry_exactly_their_data(event: DomainEvent, data: dict[str, Any]) -> None:
    assert event_data(recorded(event)) == data
    assert event_json(recorded(event, ts=1_700_000_000_123, position=42)) == {
        "id": "42",
        "type": event.type,
        "timestamp": "2023-11-14T22:13:20.123Z",
        "data": data,
    }
    assert event.type in PUBLIC_EVENT_TYPES


# ---- webhooks --------------------------------------------------------------------------------


def outbox_with(**settings: Any) -> tuple[OutboxProjection, MemoryReadSession]:
    projection, session = OutboxProjection(), MemoryReadSession()
    created = InstanceCreated(
        instance_id=IID,
        user_id="u1",
        name="Main",
        description=None,
        webhook_url="https://hooks.example.com/in",
        webhook_enabled=True,
        webhook_settings={**WEBHOOK_DEFAULTS, **settings},
    )
    projection.apply(session, recorded(created, position=1))
    return projection, session


def delivered(projection: OutboxProjection, session: MemoryReadSession, event: DomainEvent, position: int) -> bool:
    before = len(session.find(DELIVERIES, Query()))
    projection.apply(session, recorded(event, position=position))
    return len(session.find(DELIVERIES, Query())) > before


def by_whom(from_me: bool) -> list[DomainEvent]:
    who = ME if from_me else ALICE
    return [
        MessageReaction(instance_id=IID, message_id="M1", chat_jid=ALICE, sender_jid=who, emoji="👍", from_me=from_me),
        MessageEdited(instance_id=IID, message_id="M1", chat_jid=ALICE, sender_jid=who, body="x", from_me=from_me),
        MessageRevoked(instance_id=IID, message_id="M1", chat_jid=ALICE, sender_jid=who, from_me=from_me),
        PollVoted(
            instance_id=IID, message_id="P1", chat_jid=ALICE, sender_jid=who, selected_options=["a"], from_me=from_me
        ),
    ]


@pytest.mark.parametrize(
    ("notify_received", "notify_sent"), [(True, True), (True, False), (False, True), (False, False)]
)
def test_events_about_a_message_follow_notify_received_or_notify_sent_by_who_acted(
    notify_received: bool, notify_sent: bool
) -> None:
    projection, session = outbox_with(notifyReceived=notify_received, notifySent=notify_sent)
    position = 10
    for from_me, expected in ((False, notify_received), (True, notify_sent)):
        for event in by_whom(from_me):
            position += 1
            assert delivered(projection, session, event, position) is expected, (event.type, from_me)
            assert notify_flag(recorded(event)) == ("notifySent" if from_me else "notifyReceived")


def test_presence_updates_are_always_notified() -> None:
    projection, session = outbox_with(notifyReceived=False, notifySent=False, notifyDelivery=False, notifyRead=False)
    presence = PresenceUpdated(instance_id=IID, chat_jid=ALICE, sender_jid=ALICE, state="recording")
    assert notify_flag(recorded(presence)) is None
    assert delivered(projection, session, presence, 5)
    (row,) = session.find(DELIVERIES, Query())
    assert row["event"] == "presence_update" and row["headers"]["X-Webhook-Event"] == "presence_update"
    body = json.loads(row["body"])
    assert body["event"] == "presence_update"
    assert body["data"] == {
        "instanceId": IID,
        "chatId": ALICE,
        "from": ALICE,
        "state": "recording",
        "chatLid": None,
        "fromLid": None,
    }


def test_a_reaction_webhook_body_is_the_event_payload() -> None:
    projection, session = outbox_with(secret="s3cret")
    event = by_whom(False)[0]
    assert delivered(projection, session, event, 5)
    (row,) = session.find(DELIVERIES, Query())
    body = json.loads(row["body"])
    assert body == {"event": "message_reaction", "data": event_data(recorded(event)), "timestamp": body["timestamp"]}
    assert "X-Webhook-Signature" in row["headers"]


def test_the_earlier_flags_are_unchanged() -> None:
    projection, session = outbox_with(notifyReceived=False, notifySent=True)
    assert not delivered(projection, session, received("text", body="hi"), 2)
    assert not delivered(projection, session, received("text", body="hi", from_me=True), 3)
    assert delivered(projection, session, sent("text", body="hi"), 4)
    failed = MessageFailed(instance_id=IID, message_id="F1", to=ALICE, message_type="text", reason="x")
    assert delivered(projection, session, failed, 5)


# ---- groups and calls (API-2 §3, §4) ---------------------------------------------------------

ACCOUNT_EVENTS: list[tuple[DomainEvent, dict[str, Any]]] = [
    (
        GroupJoined(
            instance_id=IID,
            group_id=GROUP,
            subject="Book club",
            by=ME,
            description="Monthly",
            participants=[{"jid": ME, "lid": None, "isAdmin": True, "isSuperAdmin": True}],
        ),
        {"instanceId": IID, "groupId": GROUP, "subject": "Book club", "by": ME},
    ),
    (
        GroupUpdated(instance_id=IID, group_id=GROUP, subject="Reading circle", by=ALICE),
        {"instanceId": IID, "groupId": GROUP, "subject": "Reading circle", "by": ALICE},
    ),
    (
        GroupUpdated(instance_id=IID, group_id=GROUP, description="", announce=False, locked=True),
        {"instanceId": IID, "groupId": GROUP, "description": "", "announce": False, "locked": True, "by": None},
    ),
    (
        GroupParticipantsChanged(instance_id=IID, group_id=GROUP, action="promote", participants=[ALICE], by=ME),
        {"instanceId": IID, "groupId": GROUP, "action": "promote", "participants": [ALICE], "by": ME},
    ),
    (
        CallReceived(instance_id=IID, call_id="C1", from_jid=ALICE, is_video=True, rejected=True, reply_message_id="R"),
        {
            "instanceId": IID,
            "callId": "C1",
            "from": ALICE,
            "fromLid": None,
            "isVideo": True,
            "isGroup": False,
            "rejected": True,
        },
    ),
]


@pytest.mark.parametrize(("event", "data"), ACCOUNT_EVENTS, ids=lambda v: getattr(v, "type", ""))
def test_group_and_call_events_carry_exactly_their_data(event: DomainEvent, data: dict[str, Any]) -> None:
    assert event_data(recorded(event)) == data
    assert event.type in PUBLIC_EVENT_TYPES and event.type in ALWAYS_SENT_EVENT_TYPES


@pytest.mark.parametrize(("event", "data"), ACCOUNT_EVENTS, ids=lambda v: getattr(v, "type", ""))
def test_group_and_call_events_are_notified_whatever_the_flags(event: DomainEvent, data: dict[str, Any]) -> None:
    projection, session = outbox_with(notifyReceived=False, notifySent=False, notifyDelivery=False, notifyRead=False)
    assert notify_flag(recorded(event)) is None
    assert delivered(projection, session, event, 5)
    (row,) = session.find(DELIVERIES, Query())
    assert row["headers"]["X-Webhook-Event"] == event.type
    assert json.loads(row["body"])["data"] == data


def test_synced_groups_and_learned_identities_are_not_public() -> None:
    projection, session = outbox_with()
    private = [
        GroupsSynced(instance_id=IID, groups=[{"group_id": GROUP, "subject": "x", "participants": []}]),
        IdentityLearned(instance_id=IID, lid="88000000000001@lid", phone_jid=ALICE),
    ]
    for position, event in enumerate(private, start=5):
        assert event.type not in PUBLIC_EVENT_TYPES
        assert event.type not in projection.topics
        assert not delivered(projection, session, event, position)


@pytest.mark.parametrize(
    ("fields", "summary"),
    [
        ({"from_jid": ALICE}, "Call from +79001110000"),
        ({"from_jid": ALICE, "is_video": True, "rejected": True}, "Call from +79001110000 (video), rejected"),
        ({"from_jid": "88000000000001@lid", "is_group": True}, "Call from 88000000000001@lid (group)"),
    ],
)
def test_a_call_in_activity_says_who_called_and_what_happened(fields: dict[str, Any], summary: str) -> None:
    call = CallReceived(instance_id=IID, call_id="C1", **fields)
    assert call_summary(call) == summary
    assert details(recorded(call)) == {
        "summary": summary,
        "from": call.from_jid,
        "isVideo": call.is_video,
        "isGroup": call.is_group,
        "rejected": call.rejected,
    }
