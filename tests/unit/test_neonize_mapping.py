"""neonize events and messages → transport events, checked on real neonize protobufs.

The events are serialized and parsed back first (proto2 with required fields: partial
serialization), so the mapping sees exactly what neonize's dispatcher hands a handler.
"""

from __future__ import annotations

from typing import Any, TypeVar

import pytest
from neonize.events import (
    ClientOutdatedEv,
    ConnectedEv,
    ConnectFailureEv,
    DisconnectedEv,
    LoggedOutEv,
    MessageEv,
    PairStatusEv,
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
    MessageInfo,
    MessageSource,
)
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import (
    AudioMessage,
    ContactMessage,
    ContactsArrayMessage,
    DocumentMessage,
    ExtendedTextMessage,
    FutureProofMessage,
    ImageMessage,
    LiveLocationMessage,
    LocationMessage,
    Message,
    ProtocolMessage,
    ReactionMessage,
    SenderKeyDistributionMessage,
    StickerMessage,
    VideoMessage,
)

from wamux.adapters.whatsapp import neonize_mapping as mapping
from wamux.core.ports import (
    ConnectionLost,
    IncomingMessage,
    LinkConnected,
    PairSuccess,
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


def message_event(
    content: Message,
    *,
    message_id: str = "3EB0ABCDEF",
    chat: JID | None = None,
    sender: JID | None = None,
    from_me: bool = False,
    is_group: bool = False,
    push_name: str = "Alice",
    timestamp: int = 1_700_000_000_123,
) -> Any:
    sender = sender or jid(ALICE)
    return round_trip(
        MessageEv(
            Info=MessageInfo(
                ID=message_id,
                Pushname=push_name,
                Timestamp=timestamp,
                MessageSource=MessageSource(Chat=chat or sender, Sender=sender, IsFromMe=from_me, IsGroup=is_group),
            ),
            Message=content,
        )
    )


def incoming(content: Message, **kwargs: Any) -> IncomingMessage:
    mapped = mapping.message_from_event(message_event(content, **kwargs))
    assert isinstance(mapped, IncomingMessage)
    return mapped


# ---- JIDs and timestamps ----------------------------------------------------------------------


def test_jid_to_string_drops_the_device_part() -> None:
    assert mapping.jid_to_string(jid(ALICE)) == f"{ALICE}@s.whatsapp.net"
    assert mapping.jid_to_string(jid(ALICE, device=7)) == f"{ALICE}@s.whatsapp.net"
    assert mapping.jid_to_string(jid(GROUP, "g.us")) == f"{GROUP}@g.us"


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
    parsed = mapping.jid_from_string(text)
    assert isinstance(parsed, JID)
    assert (parsed.User, parsed.Server, parsed.Device, parsed.RawAgent) == (user, server, device, 0)
    # What neonize's Go side receives must round-trip to the same account.
    assert mapping.jid_to_string(JID.FromString(parsed.SerializeToString())) == f"{user}@{server}"


def test_account_jid_strips_device_from_stored_jids() -> None:
    assert mapping.account_jid(f"{ALICE}:12@s.whatsapp.net") == f"{ALICE}@s.whatsapp.net"
    assert mapping.account_jid(f"{ALICE}@s.whatsapp.net") == f"{ALICE}@s.whatsapp.net"


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [(1_700_000_000_123, 1_700_000_000), (1_700_000_000, 1_700_000_000), (0, None)],
)
def test_unix_seconds_accepts_seconds_and_milliseconds(raw: int, seconds: int | None) -> None:
    assert mapping.unix_seconds(raw) == seconds


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


# ---- messages -----------------------------------------------------------------------------------


def test_text_message_every_field() -> None:
    message = incoming(Message(conversation="hello"), timestamp=1_700_000_000_456)
    assert message == IncomingMessage(
        message_id="3EB0ABCDEF",
        chat_jid=f"{ALICE}@s.whatsapp.net",
        sender_jid=f"{ALICE}@s.whatsapp.net",
        message_type="text",
        body="hello",
        push_name="Alice",
        is_group=False,
        from_me=False,
        timestamp=1_700_000_000,
    )


def test_extended_text_in_a_group_from_me() -> None:
    message = incoming(
        Message(extendedTextMessage=ExtendedTextMessage(text="see https://example.org")),
        chat=jid(GROUP, "g.us"),
        sender=jid(ALICE, device=3),
        is_group=True,
        from_me=True,
        push_name="",
    )
    assert message.message_type == "text"
    assert message.body == "see https://example.org"
    assert message.chat_jid == f"{GROUP}@g.us"
    assert message.sender_jid == f"{ALICE}@s.whatsapp.net"
    assert message.is_group is True
    assert message.from_me is True
    assert message.push_name is None


def test_image() -> None:
    message = incoming(Message(imageMessage=ImageMessage(caption="a cat", mimetype="image/jpeg", directPath="/x")))
    assert (message.message_type, message.caption, message.mime_type, message.body) == (
        "image",
        "a cat",
        "image/jpeg",
        None,
    )
    assert message.media is None  # the mapping never downloads


def test_video_and_video_note() -> None:
    video = incoming(Message(videoMessage=VideoMessage(caption="clip", mimetype="video/mp4", seconds=12)))
    assert (video.message_type, video.caption, video.mime_type, video.extra) == (
        "video",
        "clip",
        "video/mp4",
        {"seconds": 12},
    )
    note = incoming(Message(ptvMessage=VideoMessage(mimetype="video/mp4")))
    assert note.message_type == "video"


def test_voice_note() -> None:
    message = incoming(Message(audioMessage=AudioMessage(mimetype="audio/ogg; codecs=opus", seconds=4, PTT=True)))
    assert (message.message_type, message.mime_type, message.extra) == (
        "audio",
        "audio/ogg; codecs=opus",
        {"seconds": 4, "ptt": True},
    )


def test_document() -> None:
    message = incoming(
        Message(
            documentMessage=DocumentMessage(
                caption="the report", mimetype="application/pdf", fileName="report.pdf", title="Report"
            )
        )
    )
    assert (message.message_type, message.caption, message.mime_type, message.file_name) == (
        "document",
        "the report",
        "application/pdf",
        "report.pdf",
    )


def test_document_with_caption_envelope_is_unwrapped() -> None:
    inner = Message(documentMessage=DocumentMessage(caption="inside", fileName="a.txt", mimetype="text/plain"))
    message = incoming(Message(documentWithCaptionMessage=FutureProofMessage(message=inner)))
    assert (message.message_type, message.caption, message.file_name) == ("document", "inside", "a.txt")


def test_ephemeral_view_once_image_is_unwrapped() -> None:
    image = Message(imageMessage=ImageMessage(caption="once", mimetype="image/png"))
    wrapped = Message(
        ephemeralMessage=FutureProofMessage(message=Message(viewOnceMessageV2=FutureProofMessage(message=image)))
    )
    message = incoming(wrapped)
    assert (message.message_type, message.caption) == ("image", "once")
    assert mapping.media_kind(wrapped) == "imageMessage"


def test_sticker() -> None:
    message = incoming(Message(stickerMessage=StickerMessage(mimetype="image/webp")))
    assert (message.message_type, message.mime_type, message.caption) == ("sticker", "image/webp", None)


def test_location() -> None:
    message = incoming(
        Message(
            locationMessage=LocationMessage(
                degreesLatitude=52.52, degreesLongitude=13.405, name="Alexanderplatz", address="Berlin"
            )
        )
    )
    assert message.message_type == "location"
    assert message.extra == {
        "latitude": 52.52,
        "longitude": 13.405,
        "name": "Alexanderplatz",
        "address": "Berlin",
    }


def test_live_location() -> None:
    message = incoming(
        Message(liveLocationMessage=LiveLocationMessage(degreesLatitude=1.5, degreesLongitude=-2.25, caption="me"))
    )
    assert message.message_type == "location"
    assert message.extra == {"latitude": 1.5, "longitude": -2.25, "live": True, "name": "me"}


def test_contact() -> None:
    vcard = "BEGIN:VCARD\nVERSION:3.0\nFN:Bob\nTEL;waid=4915199999999:+49 151 99999999\nEND:VCARD"
    message = incoming(Message(contactMessage=ContactMessage(displayName="Bob", vcard=vcard)))
    assert message.message_type == "contact"
    assert message.extra == {"display_name": "Bob", "vcard": vcard}


def test_contacts_array() -> None:
    message = incoming(
        Message(
            contactsArrayMessage=ContactsArrayMessage(
                displayName="2 contacts",
                contacts=[
                    ContactMessage(displayName="Bob", vcard="B"),
                    ContactMessage(displayName="Eve", vcard="E"),
                ],
            )
        )
    )
    assert message.message_type == "contact"
    assert message.extra == {
        "display_name": "2 contacts",
        "contacts": [{"display_name": "Bob", "vcard": "B"}, {"display_name": "Eve", "vcard": "E"}],
    }


def test_anything_else_is_other_with_its_kind() -> None:
    message = incoming(Message(reactionMessage=ReactionMessage(text="👍")))
    assert (message.message_type, message.body, message.extra) == ("other", None, {"kind": "reactionMessage"})


def test_protocol_only_traffic_is_not_a_message() -> None:
    content = Message(
        senderKeyDistributionMessage=SenderKeyDistributionMessage(groupID="g"),
        protocolMessage=ProtocolMessage(type=ProtocolMessage.REVOKE),
    )
    assert mapping.message_from_event(message_event(content)) is None


def test_key_distribution_next_to_content_keeps_the_content() -> None:
    content = Message(conversation="hi all", senderKeyDistributionMessage=SenderKeyDistributionMessage(groupID="g"))
    assert incoming(content).body == "hi all"


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (Message(imageMessage=ImageMessage()), "imageMessage"),
        (Message(videoMessage=VideoMessage()), "videoMessage"),
        (Message(audioMessage=AudioMessage()), "audioMessage"),
        (Message(documentMessage=DocumentMessage()), "documentMessage"),
        (Message(stickerMessage=StickerMessage()), "stickerMessage"),
        (Message(conversation="no file"), None),
        (Message(locationMessage=LocationMessage(degreesLatitude=1, degreesLongitude=2)), None),
    ],
)
def test_media_kind(content: Message, kind: str | None) -> None:
    assert mapping.media_kind(content) == kind


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
