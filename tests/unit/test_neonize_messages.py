"""neonize `MessageEv` → messages, reactions, edits, revokes and poll votes, on real neonize protobufs.

Events are serialized and parsed back first (proto2 with required fields: partial serialization),
so the mapping sees exactly what neonize's dispatcher hands a handler. Every kind of message is
also dispatched through a real client in `tests/contract/test_neonize_incoming.py`.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from neonize.builder import build_edit, build_revoke
from neonize.events import MessageEv
from neonize.proto.Neonize_pb2 import JID, MessageInfo, MessageSource
from neonize.proto.waCommon.WACommon_pb2 import MessageKey
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import (
    AudioMessage,
    ContactMessage,
    ContextInfo,
    DocumentMessage,
    ExtendedTextMessage,
    FutureProofMessage,
    GroupInviteMessage,
    ImageMessage,
    LiveLocationMessage,
    LocationMessage,
    Message,
    PollCreationMessage,
    PollUpdateMessage,
    PollVoteMessage,
    ProtocolMessage,
    ReactionMessage,
    SenderKeyDistributionMessage,
    StickerMessage,
    VideoMessage,
)

from wamux.adapters.whatsapp import neonize_messages as messages
from wamux.core.ports import (
    ContactCard,
    EditIn,
    IncomingMessage,
    Location,
    Poll,
    PollVoteIn,
    ReactionIn,
    RevokeIn,
)

ALICE = "4915112345678"
ALICE_JID = f"{ALICE}@s.whatsapp.net"
BOB_JID = "4915199999999@s.whatsapp.net"
GROUP = "120363025246125486"
GROUP_JID = f"{GROUP}@g.us"


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
) -> Any:
    sender = sender or jid(ALICE)
    event = MessageEv(
        Info=MessageInfo(
            ID=message_id,
            Pushname=push_name,
            Timestamp=1_700_000_000_123,
            MessageSource=MessageSource(Chat=chat or sender, Sender=sender, IsFromMe=from_me, IsGroup=is_group),
        ),
        Message=content,
    )
    return MessageEv.FromString(event.SerializePartialToString())


def mapped(content: Message, **kwargs: Any) -> Any:
    return messages.from_message_event(message_event(content, **kwargs))


def incoming(content: Message, **kwargs: Any) -> IncomingMessage:
    result = mapped(content, **kwargs)
    assert isinstance(result, IncomingMessage)
    return result


# ---- content ----------------------------------------------------------------------------------


def test_text_every_field() -> None:
    assert incoming(Message(conversation="hello")) == IncomingMessage(
        message_id="3EB0ABCDEF",
        chat_jid=ALICE_JID,
        sender_jid=ALICE_JID,
        message_type="text",
        body="hello",
        push_name="Alice",
        timestamp=1_700_000_000,
        wa_type="conversation",
    )


def test_a_reply_with_mentions_that_was_forwarded_in_a_group() -> None:
    context = ContextInfo(
        stanzaID="3EB0QUOTED",
        participant=BOB_JID,
        quotedMessage=Message(conversation="the original"),
        mentionedJID=[BOB_JID, "98765432101234@lid"],
        isForwarded=True,
        forwardingScore=2,
    )
    message = incoming(
        Message(extendedTextMessage=ExtendedTextMessage(text="@4915199999999 see above", contextInfo=context)),
        chat=jid(GROUP, "g.us"),
        sender=jid(ALICE, device=3),
        is_group=True,
        from_me=True,
        push_name="",
    )
    assert (message.wa_type, message.message_type, message.body) == (
        "extendedTextMessage",
        "text",
        "@4915199999999 see above",
    )
    assert (message.chat_jid, message.sender_jid, message.is_group, message.from_me, message.push_name) == (
        GROUP_JID,
        ALICE_JID,
        True,
        True,
        None,
    )
    assert message.quoted_message_id == "3EB0QUOTED"
    assert message.mentions == (BOB_JID, "98765432101234@lid")
    assert message.forwarded is True


def test_a_plain_extended_text_has_no_quote_mentions_or_forward() -> None:
    message = incoming(Message(extendedTextMessage=ExtendedTextMessage(text="see https://example.org")))
    assert (message.quoted_message_id, message.mentions, message.forwarded) == (None, (), False)


def test_the_context_of_a_media_message_is_read_from_its_own_sub_message() -> None:
    context = ContextInfo(stanzaID="3EB0PHOTO", participant=BOB_JID, mentionedJID=[BOB_JID])
    message = incoming(Message(imageMessage=ImageMessage(caption="look", mimetype="image/jpeg", contextInfo=context)))
    assert (message.wa_type, message.message_type, message.caption, message.mime_type) == (
        "imageMessage",
        "image",
        "look",
        "image/jpeg",
    )
    assert (message.quoted_message_id, message.mentions) == ("3EB0PHOTO", (BOB_JID,))
    assert message.media is None  # the mapping never downloads


def test_video_and_video_note() -> None:
    video = incoming(Message(videoMessage=VideoMessage(caption="clip", mimetype="video/mp4", seconds=12)))
    assert (video.wa_type, video.message_type, video.caption, video.extra) == (
        "videoMessage",
        "video",
        "clip",
        {"seconds": 12},
    )
    note = incoming(Message(ptvMessage=VideoMessage(mimetype="video/mp4")))
    assert (note.wa_type, note.message_type) == ("ptvMessage", "video")


def test_audio_and_voice_note() -> None:
    audio = incoming(Message(audioMessage=AudioMessage(mimetype="audio/mpeg", seconds=200)))
    assert (audio.wa_type, audio.message_type, audio.ptt, audio.extra) == (
        "audioMessage",
        "audio",
        False,
        {"seconds": 200},
    )
    voice = incoming(Message(audioMessage=AudioMessage(mimetype="audio/ogg; codecs=opus", seconds=4, PTT=True)))
    assert (voice.wa_type, voice.message_type, voice.ptt, voice.mime_type, voice.extra) == (
        "audioMessage",
        "voice",
        True,
        "audio/ogg; codecs=opus",
        {"seconds": 4},
    )


def test_document_in_its_caption_envelope() -> None:
    inner = Message(documentMessage=DocumentMessage(caption="inside", fileName="a.pdf", mimetype="application/pdf"))
    message = incoming(Message(documentWithCaptionMessage=FutureProofMessage(message=inner)))
    assert (message.wa_type, message.message_type, message.caption, message.file_name, message.mime_type) == (
        "documentMessage",
        "document",
        "inside",
        "a.pdf",
        "application/pdf",
    )


def test_ephemeral_view_once_image_is_unwrapped() -> None:
    image = Message(imageMessage=ImageMessage(caption="once", mimetype="image/png"))
    wrapped = Message(
        ephemeralMessage=FutureProofMessage(message=Message(viewOnceMessageV2=FutureProofMessage(message=image)))
    )
    assert (incoming(wrapped).message_type, incoming(wrapped).caption) == ("image", "once")
    assert messages.media_kind(wrapped) == "imageMessage"


def test_sticker() -> None:
    message = incoming(Message(stickerMessage=StickerMessage(mimetype="image/webp")))
    assert (message.wa_type, message.message_type, message.mime_type, message.caption) == (
        "stickerMessage",
        "sticker",
        "image/webp",
        None,
    )


def test_a_location_with_a_coordinate_no_json_can_carry_has_none() -> None:
    for lat, lon in ((float("nan"), 1.0), (1.0, float("inf")), (float("-inf"), float("nan"))):
        message = incoming(Message(locationMessage=LocationMessage(degreesLatitude=lat, degreesLongitude=lon)))
        assert (message.message_type, message.location) == ("location", None)
        live = incoming(Message(liveLocationMessage=LiveLocationMessage(degreesLatitude=lat, degreesLongitude=lon)))
        assert (live.message_type, live.location) == ("location", None)


def test_location_and_live_location() -> None:
    place = LocationMessage(degreesLatitude=52.52, degreesLongitude=13.405, name="Alexanderplatz", address="Berlin")
    message = incoming(Message(locationMessage=place))
    assert (message.wa_type, message.message_type, message.extra) == ("locationMessage", "location", {})
    assert message.location == Location(52.52, 13.405, "Alexanderplatz", "Berlin")
    live = incoming(Message(liveLocationMessage=LiveLocationMessage(degreesLatitude=1.5, degreesLongitude=-2.25)))
    assert (live.wa_type, live.message_type, live.extra) == ("liveLocationMessage", "location", {"live": True})
    assert live.location == Location(1.5, -2.25)


def test_contact_cards_read_their_phone_from_the_vcard() -> None:
    vcard = "BEGIN:VCARD\nVERSION:3.0\nFN:Bob B.\nitem1.TEL;waid=4915199999999:+49 151 99999999\nEND:VCARD"
    one = incoming(Message(contactMessage=ContactMessage(displayName="Bob", vcard=vcard)))
    assert (one.wa_type, one.message_type) == ("contactMessage", "contact")
    assert one.contacts == (ContactCard(name="Bob", phone="4915199999999", vcard=vcard),)
    assert one.extra == {}


def test_poll_versions_are_one_kind() -> None:
    options = [PollCreationMessage.Option(optionName=name) for name in ("Red", "Green", "Blue")]
    single = PollCreationMessage(name="Colour?", options=options, selectableOptionsCount=1)
    any_number = PollCreationMessage(name="Colours?", options=options, selectableOptionsCount=0)
    for content in (
        Message(pollCreationMessage=single),
        Message(pollCreationMessageV2=single),
        Message(pollCreationMessageV3=single),
    ):
        message = incoming(content)
        assert (message.wa_type, message.message_type, message.body) == ("pollCreationMessage", "poll", None)
        assert message.poll == Poll("Colour?", ("Red", "Green", "Blue"), 1)
    # 0 is WhatsApp's "as many as you like".
    assert incoming(Message(pollCreationMessage=any_number)).poll == Poll("Colours?", ("Red", "Green", "Blue"), 3)


def test_anything_else_is_other_with_its_kind() -> None:
    message = incoming(Message(groupInviteMessage=GroupInviteMessage(groupName="club")))
    assert (message.wa_type, message.message_type, message.body, message.extra) == (
        "groupInviteMessage",
        "other",
        None,
        {"kind": "groupInviteMessage"},
    )


def test_protocol_only_traffic_is_not_a_message() -> None:
    content = Message(
        senderKeyDistributionMessage=SenderKeyDistributionMessage(groupID="g"),
        protocolMessage=ProtocolMessage(type=ProtocolMessage.HISTORY_SYNC_NOTIFICATION),
    )
    assert mapped(content) is None


def test_key_distribution_next_to_content_keeps_the_content() -> None:
    content = Message(conversation="hi all", senderKeyDistributionMessage=SenderKeyDistributionMessage(groupID="g"))
    assert incoming(content).body == "hi all"


# ---- reactions, edits, revokes ----------------------------------------------------------------------


def reaction(emoji: str) -> Message:
    key = MessageKey(remoteJID=ALICE_JID, fromMe=True, ID="3EB0MINE")
    return Message(reactionMessage=ReactionMessage(key=key, text=emoji, senderTimestampMS=1_700_000_000_500))


def test_reaction_and_its_removal() -> None:
    assert mapped(reaction("👍")) == ReactionIn("3EB0MINE", ALICE_JID, ALICE_JID, "👍", timestamp=1_700_000_000)
    assert mapped(reaction("")) == ReactionIn("3EB0MINE", ALICE_JID, ALICE_JID, "", timestamp=1_700_000_000)


def test_our_own_reaction_from_the_phone() -> None:
    event = mapped(reaction("🎉"), chat=jid(GROUP, "g.us"), sender=jid(ALICE, device=2), from_me=True, is_group=True)
    assert event == ReactionIn("3EB0MINE", GROUP_JID, ALICE_JID, "🎉", from_me=True, timestamp=1_700_000_000)


def test_edit_and_revoke_as_neonize_builds_them() -> None:
    # The very protobufs neonize's `edit_message` / `revoke_message` send come back as an edit and a revoke.
    edited = build_edit(jid(ALICE), "3EB0OLD", Message(conversation="fixed typo"))
    assert edited.HasField("editedMessage")  # the envelope whatsmeow may leave on
    assert mapped(edited) == EditIn("3EB0OLD", ALICE_JID, ALICE_JID, "fixed typo", timestamp=1_700_000_000)
    revoked = build_revoke(jid(GROUP, "g.us"), jid(ALICE), "3EB0GONE", jid(ALICE))
    assert mapped(revoked, chat=jid(GROUP, "g.us"), is_group=True) == RevokeIn(
        "3EB0GONE", GROUP_JID, ALICE_JID, timestamp=1_700_000_000
    )


def test_an_unwrapped_edit_of_a_caption() -> None:
    protocol = ProtocolMessage(
        key=MessageKey(remoteJID=ALICE_JID, fromMe=False, ID="3EB0PIC"),
        type=ProtocolMessage.MESSAGE_EDIT,
        editedMessage=Message(imageMessage=ImageMessage(caption="new caption")),
    )
    event = mapped(Message(protocolMessage=protocol))
    assert event == EditIn("3EB0PIC", ALICE_JID, ALICE_JID, "new caption", timestamp=1_700_000_000)


@pytest.mark.parametrize("kind", [ProtocolMessage.REVOKE, ProtocolMessage.MESSAGE_EDIT])
def test_edits_and_revokes_without_a_target_are_ignored(kind: int) -> None:
    assert mapped(Message(protocolMessage=ProtocolMessage(type=kind))) is None


def test_a_reaction_without_a_target_is_ignored() -> None:
    assert mapped(Message(reactionMessage=ReactionMessage(text="👍"))) is None


# ---- poll votes --------------------------------------------------------------------------------------


def poll_update(poll_id: str = "3EB0POLL") -> Message:
    key = MessageKey(remoteJID=GROUP_JID, fromMe=True, ID=poll_id)
    return Message(pollUpdateMessage=PollUpdateMessage(pollCreationMessageKey=key, senderTimestampMS=1))


def test_a_poll_vote_names_the_poll_and_waits_for_its_selection() -> None:
    vote = mapped(poll_update(), chat=jid(GROUP, "g.us"), sender=jid(ALICE), is_group=True)
    assert vote == PollVoteIn("3EB0POLL", GROUP_JID, ALICE_JID, timestamp=1_700_000_000)
    red, blue = hashlib.sha256(b"Red").digest(), hashlib.sha256(b"Blue").digest()
    decrypted = PollVoteMessage.FromString(PollVoteMessage(selectedOptions=[red, blue]).SerializeToString())
    assert messages.with_selection(vote, decrypted).selected_hashes == (red.hex(), blue.hex())
    assert messages.with_selection(vote, PollVoteMessage()).selected_hashes == ()  # a withdrawn vote


def test_a_poll_vote_without_a_poll_is_ignored() -> None:
    assert mapped(poll_update(poll_id="")) is None


# ---- helpers -----------------------------------------------------------------------------------------


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
    assert messages.media_kind(content) == kind


def test_text_of() -> None:
    assert messages.text_of(Message(conversation="a")) == "a"
    assert messages.text_of(Message(extendedTextMessage=ExtendedTextMessage(text="b"))) == "b"
    assert messages.text_of(Message(documentMessage=DocumentMessage(caption="c"))) == "c"
    assert messages.text_of(Message(stickerMessage=StickerMessage())) == ""
