"""neonize events → transport events (connection, receipts, presence, address book), on real protobufs.

The events are serialized and parsed back first (proto2 with required fields: partial
serialization), so the mapping sees exactly what neonize's dispatcher hands a handler.
"""

from __future__ import annotations

from typing import Any, TypeVar

import pytest
from neonize.events import (
    ChatPresenceEv,
    ClientOutdatedEv,
    ConnectedEv,
    ConnectFailureEv,
    DisconnectedEv,
    LoggedOutEv,
    MessageEv,
    PairStatusEv,
    PresenceEv,
    QREv,
    ReceiptEv,
    StreamReplacedEv,
    TemporaryBanEv,
)
from neonize.proto.Neonize_pb2 import (
    JID,
    ConnectFailureReason,
    Contact,
    ContactInfo,
    MessageSource,
)

from wamux.adapters.whatsapp import neonize_jids as jids
from wamux.adapters.whatsapp import neonize_mapping as mapping
from wamux.core.ports import (
    ConnectionLost,
    LinkConnected,
    PairSuccess,
    PresenceIn,
    QrCode,
    Receipt,
    RemoteContact,
)

P = TypeVar("P")

ALICE = "4915112345678"
GROUP = "120363025246125486"


def round_trip(event: P) -> P:
    raw = event.SerializePartialToString()  # type: ignore[attr-defined]
    return type(event).FromString(raw)  # type: ignore[attr-defined, no-any-return]


def jid(user: str, server: str = "s.whatsapp.net", device: int = 0) -> JID:
    return JID(User=user, Server=server, Device=device, RawAgent=0, Integrator=0, IsEmpty=False)


# ---- JIDs and timestamps ----------------------------------------------------------------------


def test_jid_to_string_drops_the_device_part() -> None:
    assert jids.jid_to_string(jid(ALICE)) == f"{ALICE}@s.whatsapp.net"
    assert jids.jid_to_string(jid(ALICE, device=7)) == f"{ALICE}@s.whatsapp.net"
    assert jids.jid_to_string(jid(GROUP, "g.us")) == f"{GROUP}@g.us"


@pytest.mark.parametrize(
    ("text", "user", "server", "device"),
    [
        (f"{ALICE}@s.whatsapp.net", ALICE, "s.whatsapp.net", 0),
        (f"{ALICE}:3@s.whatsapp.net", ALICE, "s.whatsapp.net", 3),
        (f"{GROUP}@g.us", GROUP, "g.us", 0),
        (f"+{ALICE}", ALICE, "s.whatsapp.net", 0),
        ("98765432101234@lid", "98765432101234", "lid", 0),
    ],
)
def test_jid_from_string(text: str, user: str, server: str, device: int) -> None:
    parsed = jids.jid_from_string(text)
    assert isinstance(parsed, JID)
    assert (parsed.User, parsed.Server, parsed.Device, parsed.RawAgent) == (user, server, device, 0)
    # What neonize's Go side receives must round-trip to the same account.
    assert jids.jid_to_string(JID.FromString(parsed.SerializeToString())) == f"{user}@{server}"


def test_account_jid_strips_device_from_stored_jids() -> None:
    assert jids.account_jid(f"{ALICE}:12@s.whatsapp.net") == f"{ALICE}@s.whatsapp.net"
    assert jids.account_jid(f"{ALICE}@s.whatsapp.net") == f"{ALICE}@s.whatsapp.net"


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [(1_700_000_000_123, 1_700_000_000), (1_700_000_000, 1_700_000_000), (0, None)],
)
def test_unix_seconds_accepts_seconds_and_milliseconds(raw: int, seconds: int | None) -> None:
    assert jids.unix_seconds(raw) == seconds


# ---- connection events ------------------------------------------------------------------------


def test_qr_callback_bytes_become_one_code() -> None:
    assert mapping.qr_code_from_bytes(b"2@abc,def,ghi,jkl") == QrCode(code="2@abc,def,ghi,jkl")


def test_qr_event_yields_each_code_in_order() -> None:
    event = round_trip(QREv(Codes=["2@first", "2@second", "2@third"]))
    assert mapping.qr_codes_from_event(event) == [QrCode("2@first"), QrCode("2@second"), QrCode("2@third")]


def test_pair_success() -> None:
    event = round_trip(
        PairStatusEv(ID=jid(ALICE, device=9), BusinessName="Shop", Platform="android", Status=PairStatusEv.SUCCESS)
    )
    assert mapping.transport_event(event) == PairSuccess(jid=f"{ALICE}@s.whatsapp.net", push_name="Shop")


def test_pair_error_ends_the_connection() -> None:
    event = round_trip(PairStatusEv(ID=jid(ALICE), Status=PairStatusEv.ERROR, Error="bad signature"))
    assert mapping.transport_event(event) == ConnectionLost(reason="pair_failed")


def test_connected() -> None:
    assert mapping.transport_event(round_trip(ConnectedEv(status=True))) == LinkConnected()


def test_disconnected() -> None:
    lost = mapping.transport_event(round_trip(DisconnectedEv(status=True)))
    assert lost == ConnectionLost(reason="connection_lost", logged_out=False, permanent=False)


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        (None, "logged_out"),
        (ConnectFailureReason.LOGGED_OUT, "logged_out"),
        (ConnectFailureReason.MAIN_DEVICE_GONE, "main_device_gone"),
        (ConnectFailureReason.UNKNOWN_LOGOUT, "unknown_logout"),
    ],
)
def test_logged_out(reason: int | None, expected: str) -> None:
    event = LoggedOutEv(OnConnect=True) if reason is None else LoggedOutEv(OnConnect=True, Reason=reason)
    lost = mapping.transport_event(round_trip(event))
    assert lost == ConnectionLost(reason=expected, logged_out=True, permanent=False)


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        (ConnectFailureReason.TEMP_BANNED, ConnectionLost("temp_banned", permanent=True)),
        (ConnectFailureReason.CLIENT_OUTDATED, ConnectionLost("client_outdated", permanent=True)),
        (ConnectFailureReason.BAD_USER_AGENT, ConnectionLost("bad_user_agent", permanent=True)),
        (ConnectFailureReason.SERVICE_UNAVAILABLE, ConnectionLost("service_unavailable")),
        (ConnectFailureReason.INTERNAL_SERVER_ERROR, ConnectionLost("internal_server_error")),
        (ConnectFailureReason.MAIN_DEVICE_GONE, ConnectionLost("main_device_gone", logged_out=True)),
    ],
)
def test_connect_failure(reason: int, expected: ConnectionLost) -> None:
    event = round_trip(ConnectFailureEv(Reason=reason, Message="refused"))
    assert mapping.transport_event(event) == expected


def test_bans_outdated_clients_and_replaced_streams_are_permanent() -> None:
    assert mapping.transport_event(round_trip(TemporaryBanEv(Code=TemporaryBanEv.BLOCKED_BY_USERS, Expire=60))) == (
        ConnectionLost("temp_banned", permanent=True)
    )
    assert mapping.transport_event(round_trip(ClientOutdatedEv())) == ConnectionLost("client_outdated", permanent=True)
    assert mapping.transport_event(round_trip(StreamReplacedEv())) == ConnectionLost("stream_replaced", permanent=True)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("timeout", ConnectionLost("qr_timeout")),
        ("err-client-outdated", ConnectionLost("client_outdated", permanent=True)),
        ("err-scanned-without-multidevice", ConnectionLost("scanned_without_multidevice")),
        ("success", None),
    ],
)
def test_login_status(status: str, expected: ConnectionLost | None) -> None:
    assert mapping.connection_lost_from_login_status(status) == expected


# ---- receipts -----------------------------------------------------------------------------------


def receipt_event(kind: int, ids: tuple[str, ...] = ("3EB0AAA", "3EB0BBB")) -> Any:
    return round_trip(
        ReceiptEv(
            MessageSource=MessageSource(Chat=jid(ALICE), Sender=jid(ALICE, device=2), IsFromMe=False, IsGroup=False),
            MessageIDs=list(ids),
            Timestamp=1_700_000_000,
            Type=kind,
        )
    )


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        (ReceiptEv.DELIVERED, "delivered"),
        (ReceiptEv.READ, "read"),
        (ReceiptEv.READ_SELF, "read"),
        (ReceiptEv.PLAYED, "read"),
    ],
)
def test_receipts_that_matter(kind: int, status: str) -> None:
    assert mapping.transport_event(receipt_event(kind)) == Receipt(
        message_ids=("3EB0AAA", "3EB0BBB"),
        status=status,
        chat_jid=f"{ALICE}@s.whatsapp.net",
        sender_jid=f"{ALICE}@s.whatsapp.net",
    )


@pytest.mark.parametrize("kind", [ReceiptEv.SENDER, ReceiptEv.RETRY, ReceiptEv.SERVER_ERROR, ReceiptEv.INACTIVE])
def test_other_receipts_are_ignored(kind: int) -> None:
    assert mapping.transport_event(receipt_event(kind)) is None


def test_receipt_without_ids_is_ignored() -> None:
    assert mapping.transport_event(receipt_event(ReceiptEv.READ, ids=())) is None


# ---- presence ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "media", "expected"),
    [
        (ChatPresenceEv.COMPOSING, ChatPresenceEv.TEXT, "typing"),
        (ChatPresenceEv.COMPOSING, ChatPresenceEv.AUDIO, "recording"),
        (ChatPresenceEv.PAUSED, ChatPresenceEv.TEXT, "paused"),
        (ChatPresenceEv.PAUSED, ChatPresenceEv.AUDIO, "paused"),
    ],
)
def test_chat_presence(state: int, media: int, expected: str) -> None:
    event = round_trip(
        ChatPresenceEv(
            MessageSource=MessageSource(
                Chat=jid(GROUP, "g.us"), Sender=jid(ALICE, device=4), IsFromMe=False, IsGroup=True
            ),
            State=state,
            Media=media,
        )
    )
    assert mapping.transport_event(event) == PresenceIn(
        chat_jid=f"{GROUP}@g.us", sender_jid=f"{ALICE}@s.whatsapp.net", state=expected
    )


@pytest.mark.parametrize(("unavailable", "expected"), [(False, "available"), (True, "unavailable")])
def test_presence(unavailable: bool, expected: str) -> None:
    event = round_trip(PresenceEv(From=jid(ALICE, device=1), Unavailable=unavailable, LastSeen=1_700_000_000))
    alice = f"{ALICE}@s.whatsapp.net"
    assert mapping.transport_event(event) == PresenceIn(chat_jid=alice, sender_jid=alice, state=expected)


def test_presence_without_a_sender_is_ignored() -> None:
    assert mapping.transport_event(round_trip(PresenceEv(Unavailable=True))) is None


def test_every_event_type_has_a_mapping_and_a_dispatch_code() -> None:
    from neonize.events import EVENT_TO_INT

    assert set(mapping.event_mappers()) <= set(EVENT_TO_INT)
    assert {ChatPresenceEv, PresenceEv, MessageEv, ReceiptEv} <= set(mapping.event_mappers())


# ---- address book -------------------------------------------------------------------------------


def test_remote_contact() -> None:
    entry = Contact(
        JID=jid(ALICE),
        Info=ContactInfo(Found=True, FirstName="Alice", FullName="Alice Liddell", PushName="ali", BusinessName=""),
    )
    assert mapping.remote_contact(Contact.FromString(entry.SerializePartialToString())) == RemoteContact(
        jid=f"{ALICE}@s.whatsapp.net", name="Alice Liddell", number=ALICE, is_group=False, push_name="ali"
    )


def test_remote_group_contact_without_names() -> None:
    entry = Contact(JID=jid(GROUP, "g.us"), Info=ContactInfo(Found=True))
    assert mapping.remote_contact(entry) == RemoteContact(
        jid=f"{GROUP}@g.us", name=None, number=GROUP, is_group=True, push_name=None
    )


def test_unmapped_events_are_ignored() -> None:
    assert mapping.transport_event(round_trip(QREv(Codes=["2@x"]))) is None
