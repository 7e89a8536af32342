"""Every kind of incoming WhatsApp traffic through neonize's real dispatch path, offline.

Each event is serialized and fed to the real client's `event.execute` from a worker thread, as the
Go side does; what comes out of `emit` in the trio thread is the whole answer. Offline nothing can
be downloaded or decrypted: media arrive without their bytes, and a poll vote that cannot be
decrypted is dropped (`test_neonize_session.py` decrypts one through a connected stand-in).
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import pytest
import trio
from neonize.client import NewClient
from neonize.events import ChatPresenceEv, MessageEv, PresenceEv
from neonize.proto.Neonize_pb2 import JID, MessageInfo, MessageSource
from neonize.proto.waCommon.WACommon_pb2 import MessageKey
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import (
    AudioMessage,
    ContactMessage,
    ContactsArrayMessage,
    ContextInfo,
    DocumentMessage,
    ExtendedTextMessage,
    FutureProofMessage,
    ImageMessage,
    LiveLocationMessage,
    LocationMessage,
    Message,
    PollCreationMessage,
    PollEncValue,
    PollUpdateMessage,
    ProtocolMessage,
    ReactionMessage,
    StickerMessage,
    VideoMessage,
)

from tests.contract.test_neonize_transport import Recorder, dispatch
from wamux.adapters.whatsapp.neonize_transport import NeonizeTransport
from wamux.adapters.whatsapp.vcard import write_vcard
from wamux.core.ports import (
    ContactCard,
    EditIn,
    IncomingMessage,
    Location,
    Poll,
    PresenceIn,
    ReactionIn,
    RevokeIn,
    TransportEvent,
)

ALICE = "4915112345678"
ALICE_JID = f"{ALICE}@s.whatsapp.net"
BOB = "4915199999999"
BOB_JID = f"{BOB}@s.whatsapp.net"
GROUP = "120363025246125486"
GROUP_JID = f"{GROUP}@g.us"
SECONDS = 1_700_000_000


def jid(user: str, server: str = "s.whatsapp.net", device: int = 0) -> JID:
    return JID(User=user, Server=server, Device=device, RawAgent=0, Integrator=0, IsEmpty=False)


def in_group(content: Message, message_id: str = "3EB0IN") -> MessageEv:
    """A message Alice (on her second device) wrote in the group."""
    return MessageEv(
        Info=MessageInfo(
            ID=message_id,
            Pushname="Alice",
            Timestamp=SECONDS * 1000 + 250,
            MessageSource=MessageSource(Chat=jid(GROUP, "g.us"), Sender=jid(ALICE, device=2), IsGroup=True),
        ),
        Message=content,
    )


def received(message_type: str, wa_type: str, **fields: Any) -> IncomingMessage:
    return IncomingMessage(
        message_id="3EB0IN",
        chat_jid=GROUP_JID,
        sender_jid=ALICE_JID,
        message_type=message_type,
        wa_type=wa_type,
        push_name="Alice",
        is_group=True,
        timestamp=SECONDS,
        **fields,
    )


REPLY = ContextInfo(
    stanzaID="3EB0ORIGINAL",
    participant=BOB_JID,
    quotedMessage=Message(conversation="the original"),
    mentionedJID=[BOB_JID],
    isForwarded=True,
    forwardingScore=1,
)
BOB_CARD = write_vcard("Bob", BOB)
EVE_CARD = write_vcard("Eve", "4915177777777", "Acme")
OPTIONS = [PollCreationMessage.Option(optionName=name) for name in ("Red", "Green")]
KEY = MessageKey(remoteJID=GROUP_JID, fromMe=True, ID="3EB0TARGET")
MIME_OPUS = "audio/ogg; codecs=opus"

CASES: list[tuple[str, Any, TransportEvent]] = [
    ("conversation", in_group(Message(conversation="hi")), received("text", "conversation", body="hi")),
    (
        "reply, mention, forward",
        in_group(Message(extendedTextMessage=ExtendedTextMessage(text=f"@{BOB} look", contextInfo=REPLY))),
        received(
            "text",
            "extendedTextMessage",
            body=f"@{BOB} look",
            quoted_message_id="3EB0ORIGINAL",
            mentions=(BOB_JID,),
            forwarded=True,
        ),
    ),
    (
        "image",
        in_group(Message(imageMessage=ImageMessage(caption="cat", mimetype="image/jpeg", contextInfo=REPLY))),
        received(
            "image",
            "imageMessage",
            caption="cat",
            mime_type="image/jpeg",
            quoted_message_id="3EB0ORIGINAL",
            mentions=(BOB_JID,),
            forwarded=True,
        ),
    ),
    (
        "video",
        in_group(Message(videoMessage=VideoMessage(mimetype="video/mp4", seconds=3))),
        received("video", "videoMessage", mime_type="video/mp4", extra={"seconds": 3}),
    ),
    (
        "audio",
        in_group(Message(audioMessage=AudioMessage(mimetype="audio/mpeg", seconds=90))),
        received("audio", "audioMessage", mime_type="audio/mpeg", extra={"seconds": 90}),
    ),
    (
        "voice note",
        in_group(Message(audioMessage=AudioMessage(mimetype=MIME_OPUS, seconds=5, PTT=True))),
        received("voice", "audioMessage", mime_type=MIME_OPUS, ptt=True, extra={"seconds": 5}),
    ),
    (
        "document",
        in_group(Message(documentMessage=DocumentMessage(mimetype="application/pdf", fileName="a.pdf"))),
        received("document", "documentMessage", mime_type="application/pdf", file_name="a.pdf"),
    ),
    (
        "sticker",
        in_group(Message(stickerMessage=StickerMessage(mimetype="image/webp"))),
        received("sticker", "stickerMessage", mime_type="image/webp"),
    ),
    (
        "location",
        in_group(
            Message(locationMessage=LocationMessage(degreesLatitude=48.8584, degreesLongitude=2.2945, name="Tour"))
        ),
        received("location", "locationMessage", location=Location(48.8584, 2.2945, "Tour")),
    ),
    (
        "live location",
        in_group(Message(liveLocationMessage=LiveLocationMessage(degreesLatitude=-33.9, degreesLongitude=18.4))),
        received("location", "liveLocationMessage", location=Location(-33.9, 18.4), extra={"live": True}),
    ),
    (
        "one contact",
        in_group(Message(contactMessage=ContactMessage(displayName="Bob", vcard=BOB_CARD))),
        received("contact", "contactMessage", contacts=(ContactCard("Bob", BOB, BOB_CARD),)),
    ),
    (
        "several contacts",
        in_group(
            Message(
                contactsArrayMessage=ContactsArrayMessage(
                    displayName="2 contacts",
                    contacts=[
                        ContactMessage(displayName="Bob", vcard=BOB_CARD),
                        ContactMessage(displayName="Eve", vcard=EVE_CARD),
                    ],
                )
            )
        ),
        received(
            "contact",
            "contactsArrayMessage",
            contacts=(
                ContactCard("Bob", BOB, BOB_CARD),
                ContactCard("Eve", "4915177777777", EVE_CARD, organization="Acme"),
            ),
        ),
    ),
    (
        "poll",
        in_group(
            Message(pollCreationMessage=PollCreationMessage(name="Colour?", options=OPTIONS, selectableOptionsCount=1))
        ),
        received("poll", "pollCreationMessage", poll=Poll("Colour?", ("Red", "Green"), 1)),
    ),
    (
        "poll v3",
        in_group(
            Message(pollCreationMessageV3=PollCreationMessage(name="Both?", options=OPTIONS, selectableOptionsCount=2))
        ),
        received("poll", "pollCreationMessage", poll=Poll("Both?", ("Red", "Green"), 2)),
    ),
    (
        "reaction",
        in_group(Message(reactionMessage=ReactionMessage(key=KEY, text="❤️", senderTimestampMS=1))),
        ReactionIn("3EB0TARGET", GROUP_JID, ALICE_JID, "❤️", timestamp=SECONDS),
    ),
    (
        "reaction removed",
        in_group(Message(reactionMessage=ReactionMessage(key=KEY, text=""))),
        ReactionIn("3EB0TARGET", GROUP_JID, ALICE_JID, "", timestamp=SECONDS),
    ),
    (
        "revoke",
        in_group(Message(protocolMessage=ProtocolMessage(key=KEY, type=ProtocolMessage.REVOKE))),
        RevokeIn("3EB0TARGET", GROUP_JID, ALICE_JID, timestamp=SECONDS),
    ),
    (
        "edit",
        in_group(
            Message(
                protocolMessage=ProtocolMessage(
                    key=KEY, type=ProtocolMessage.MESSAGE_EDIT, editedMessage=Message(conversation="better")
                )
            )
        ),
        EditIn("3EB0TARGET", GROUP_JID, ALICE_JID, "better", timestamp=SECONDS),
    ),
    (
        "edit in its envelope",
        in_group(
            Message(
                editedMessage=FutureProofMessage(
                    message=Message(
                        protocolMessage=ProtocolMessage(
                            key=KEY,
                            type=ProtocolMessage.MESSAGE_EDIT,
                            editedMessage=Message(extendedTextMessage=ExtendedTextMessage(text="best")),
                        )
                    )
                )
            )
        ),
        EditIn("3EB0TARGET", GROUP_JID, ALICE_JID, "best", timestamp=SECONDS),
    ),
    (
        "typing",
        ChatPresenceEv(
            MessageSource=MessageSource(Chat=jid(GROUP, "g.us"), Sender=jid(ALICE, device=2), IsGroup=True),
            State=ChatPresenceEv.COMPOSING,
            Media=ChatPresenceEv.TEXT,
        ),
        PresenceIn(GROUP_JID, ALICE_JID, "typing"),
    ),
    (
        "recording",
        ChatPresenceEv(
            MessageSource=MessageSource(Chat=jid(ALICE), Sender=jid(ALICE)),
            State=ChatPresenceEv.COMPOSING,
            Media=ChatPresenceEv.AUDIO,
        ),
        PresenceIn(ALICE_JID, ALICE_JID, "recording"),
    ),
    (
        "paused",
        ChatPresenceEv(MessageSource=MessageSource(Chat=jid(ALICE), Sender=jid(ALICE)), State=ChatPresenceEv.PAUSED),
        PresenceIn(ALICE_JID, ALICE_JID, "paused"),
    ),
    ("online", PresenceEv(From=jid(ALICE), Unavailable=False), PresenceIn(ALICE_JID, ALICE_JID, "available")),
    ("offline", PresenceEv(From=jid(ALICE), Unavailable=True), PresenceIn(ALICE_JID, ALICE_JID, "unavailable")),
]


async def dispatched(tmp_path: Path, *events: Any) -> list[TransportEvent]:
    """What `emit` gets when the Go side hands `events` to a fresh, unconnected real client."""
    session = NeonizeTransport(str(tmp_path)).session("inst-in")
    recorder = Recorder()

    def go_side(client: NewClient) -> None:
        for event in events:
            dispatch(client, event)

    with trio.fail_after(10):
        async with session.event_pipeline(recorder) as handle:
            await trio.to_thread.run_sync(go_side, handle.client)
    return recorder.events


@pytest.mark.parametrize(("event", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
async def test_every_kind_arrives_as_its_transport_event(tmp_path: Path, event: Any, expected: TransportEvent) -> None:
    assert await dispatched(tmp_path, event) == [expected]


async def test_a_poll_vote_that_cannot_be_decrypted_is_dropped_with_a_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    vote = PollUpdateMessage(
        pollCreationMessageKey=MessageKey(remoteJID=GROUP_JID, fromMe=True, ID="3EB0POLL"),
        vote=PollEncValue(encPayload=hashlib.sha256(b"not a real payload").digest(), encIV=b"\x00" * 12),
        senderTimestampMS=SECONDS * 1000,
    )
    after = in_group(Message(conversation="after the vote"), message_id="3EB0IN")

    with caplog.at_level(logging.WARNING, logger="wamux"):
        events = await dispatched(tmp_path, in_group(Message(pollUpdateMessage=vote), "3EB0VOTE"), after)

    assert events == [received("text", "conversation", body="after the vote")]  # the vote is gone, nothing else
    [line] = [r for r in caplog.records if "poll vote" in r.getMessage()]
    assert line.getMessage() == "could not decrypt a poll vote; dropped"
    assert line.fields["poll_message_id"] == "3EB0POLL"  # type: ignore[attr-defined]
