"""Every outgoing kind and action of NeonizeSession, as the protobufs neonize would hand to WhatsApp.

The session is connected to the recording stand-in of `test_neonize_session.py` (neonize's own
builders, the Go side recorded); each test asserts the fields WhatsApp reads.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from neonize.events import MessageEv
from neonize.proto.Neonize_pb2 import MessageInfo, MessageSource
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import ProtocolMessage
from neonize.utils.enum import ChatPresence, ChatPresenceMedia, Presence, ReceiptType, VoteType

from tests.contract.test_neonize_session import (
    ALICE,
    ALICE_JID,
    ALICES,
    BOB_JID,
    GROUP_JID,
    OURS,
    OWN,
    OWN_JID,
    connected,
    context_of,
    jid,
    mp4,
    needs_ffmpeg,
    opus_ogg,
    png,
    webp,
)
from wamux.adapters.whatsapp import neonize_messages, neonize_outbound
from wamux.adapters.whatsapp.vcard import write_vcard
from wamux.core.ports import (
    ContactCard,
    EditIn,
    Location,
    NumberCheck,
    OutgoingMessage,
    Poll,
    RevokeIn,
)

LID = "98765432101234@lid"


def text(body: str, **fields: object) -> OutgoingMessage:
    return OutgoingMessage(to=GROUP_JID, kind="text", text=body, **fields)  # type: ignore[arg-type]


# ---- text ---------------------------------------------------------------------------------------


async def test_plain_text_goes_to_send_message_with_link_preview_and_mentions(tmp_path: Path) -> None:
    async with connected(tmp_path) as (session, client, _received):
        first = await session.send(text("see https://example.org", link_preview=True))
        await session.send(text("@4915199999999 hi", mentions=(BOB_JID,)))
        await session.send(text("hi @98765432101234", mentions=(LID,)))

    assert first == "3EB0SENT1"
    plain, mentioned, by_lid = client.sent
    assert (plain.to, plain.message) == (GROUP_JID, "see https://example.org")
    assert plain.options == {"link_preview": True, "ghost_mentions": None, "mentions_are_lids": False}
    assert mentioned.options == {"link_preview": False, "ghost_mentions": "@4915199999999", "mentions_are_lids": False}
    assert by_lid.options["ghost_mentions"] == "@98765432101234"
    assert by_lid.options["mentions_are_lids"] is True


async def test_a_reply_quotes_the_message_with_its_sender_and_text(tmp_path: Path) -> None:
    async with connected(tmp_path) as (session, client, _received):
        await session.send(text("yes! https://example.org/menu", quoted=ALICES, link_preview=True))

    [reply] = client.sent
    assert reply.to == GROUP_JID
    extended = reply.message.extendedTextMessage
    assert extended.text == "yes! https://example.org/menu"
    assert extended.contextInfo.stanzaID == "3EB0ALICE"
    assert extended.contextInfo.participant == ALICE_JID
    assert extended.contextInfo.quotedMessage.conversation == "lunch?"
    assert extended.title == "A preview"  # neonize's link preview was asked for
    assert [call[0] for call in client.calls] == ["_generate_link_preview"]


async def test_a_forward_with_mentions_of_phones_and_lids(tmp_path: Path) -> None:
    async with connected(tmp_path) as (session, client, _received):
        await session.send(text("@4915199999999 @98765432101234 look", mentions=(BOB_JID, LID), forwarded=True))

    [forward] = client.sent
    context = forward.message.extendedTextMessage.contextInfo
    assert forward.message.extendedTextMessage.text == "@4915199999999 @98765432101234 look"
    assert list(context.mentionedJID) == [BOB_JID, LID]
    assert (context.isForwarded, context.forwardingScore) == (True, 1)
    assert forward.options["link_preview"] is False


# ---- media --------------------------------------------------------------------------------------


async def test_an_image_reply_with_a_mention(tmp_path: Path) -> None:
    data = png()
    async with connected(tmp_path) as (session, client, _received):
        await session.send(
            OutgoingMessage(
                to=GROUP_JID,
                kind="image",
                data=data,
                caption="@4915199999999 the menu",
                mime_type="image/png",
                quoted=ALICES,
                mentions=(BOB_JID,),
            )
        )

    [sent] = client.sent
    image = sent.message.imageMessage
    assert (image.caption, image.mimetype, image.fileSHA256) == (
        "@4915199999999 the menu",
        "image/png",
        hashlib.sha256(data).digest(),
    )
    assert image.JPEGThumbnail  # neonize made the preview
    assert (image.contextInfo.stanzaID, image.contextInfo.participant) == ("3EB0ALICE", ALICE_JID)
    assert list(image.contextInfo.mentionedJID) == [BOB_JID]


async def test_a_document(tmp_path: Path) -> None:
    async with connected(tmp_path) as (session, client, _received):
        await session.send(
            OutgoingMessage(
                to=ALICE_JID, kind="document", data=b"%PDF-1.4\n", file_name="a.pdf", mime_type="application/pdf"
            )
        )

    document = client.sent[0].message.documentMessage
    assert (document.fileName, document.mimetype, document.fileLength) == ("a.pdf", "application/pdf", 9)


async def test_a_sticker_is_uploaded_as_is(tmp_path: Path) -> None:
    data = webp()
    async with connected(tmp_path) as (session, client, _received):
        await session.send(OutgoingMessage(to=ALICE_JID, kind="sticker", data=data, mime_type="image/webp"))

    [sent] = client.sent
    assert client.uploads == [data]  # not re-encoded
    sticker = sent.message.stickerMessage
    assert (sticker.mimetype, sticker.fileSHA256, sticker.isAnimated) == (
        "image/webp",
        hashlib.sha256(data).digest(),
        False,
    )


@needs_ffmpeg
async def test_a_voice_note_through_neonizes_audio_builder(tmp_path: Path) -> None:
    data = opus_ogg(tmp_path)
    async with connected(tmp_path) as (session, client, _received):
        await session.send(OutgoingMessage(to=ALICE_JID, kind="voice", data=data, quoted=OURS))

    audio = client.sent[0].message.audioMessage
    assert (audio.PTT, audio.mimetype, audio.seconds) == (True, "audio/ogg; codecs=opus", 2)
    assert audio.contextInfo.stanzaID == "3EB0OURS"


@needs_ffmpeg
async def test_a_video_through_neonizes_video_builder(tmp_path: Path) -> None:
    data = mp4(tmp_path)
    async with connected(tmp_path) as (session, client, _received):
        await session.send(
            OutgoingMessage(
                to=ALICE_JID, kind="video", data=data, caption="clip", mime_type="video/mp4", forwarded=True
            )
        )

    video = client.sent[0].message.videoMessage
    assert (video.caption, video.mimetype, video.seconds, video.fileSHA256) == (
        "clip",
        "video/mp4",
        1,
        hashlib.sha256(data).digest(),
    )
    assert video.JPEGThumbnail  # neonize took a frame with ffmpeg
    assert video.contextInfo.isForwarded is True


async def test_without_ffmpeg_a_video_goes_as_a_document(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(neonize_outbound, "_ffmpeg_available", lambda: False)
    async with connected(tmp_path) as (session, client, _received):
        await session.send(
            OutgoingMessage(to=ALICE_JID, kind="video", data=b"\x00\x00\x00\x18ftypmp42", file_name="c.mp4")
        )

    assert client.sent[0].message.documentMessage.fileName == "c.mp4"


async def test_without_ffmpeg_audio_is_uploaded_without_probing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(neonize_outbound, "_ffmpeg_available", lambda: False)
    async with connected(tmp_path) as (session, client, _received):
        await session.send(OutgoingMessage(to=ALICE_JID, kind="voice", data=b"OggS voice", quoted=ALICES))
        await session.send(OutgoingMessage(to=ALICE_JID, kind="audio", data=b"ID3 song", mime_type="audio/mpeg"))

    voice, song = (sent.message.audioMessage for sent in client.sent)
    assert (voice.PTT, voice.mimetype, voice.fileLength) == (True, "audio/ogg; codecs=opus", 10)
    assert voice.contextInfo.stanzaID == "3EB0ALICE"
    assert (song.PTT, song.mimetype) == (False, "audio/mpeg")


# ---- location, contacts, polls -------------------------------------------------------------------------


async def test_a_location_reply(tmp_path: Path) -> None:
    place = Location(latitude=52.520008, longitude=13.404954, name="Alexanderplatz", address="Berlin")
    async with connected(tmp_path) as (session, client, _received):
        await session.send(OutgoingMessage(to=GROUP_JID, kind="location", location=place, quoted=ALICES))
        await session.send(OutgoingMessage(to=GROUP_JID, kind="location", location=Location(-1.5, 2.25)))

    quoted, bare = (sent.message.locationMessage for sent in client.sent)
    assert (quoted.degreesLatitude, quoted.degreesLongitude, quoted.name, quoted.address) == (
        52.520008,
        13.404954,
        "Alexanderplatz",
        "Berlin",
    )
    assert quoted.contextInfo.stanzaID == "3EB0ALICE"
    assert (bare.degreesLatitude, bare.HasField("name"), bare.HasField("contextInfo")) == (-1.5, False, False)


async def test_contacts_carry_the_vcards_both_transports_write(tmp_path: Path) -> None:
    bob = ContactCard(name="Bob", phone="4915199999999", organization="Acme")
    eve = ContactCard(name="Eve", phone="4915177777777", vcard="BEGIN:VCARD\nFN:Eve\nEND:VCARD")
    async with connected(tmp_path) as (session, client, _received):
        await session.send(OutgoingMessage(to=ALICE_JID, kind="contact", contacts=(bob,)))
        await session.send(OutgoingMessage(to=ALICE_JID, kind="contact", contacts=(bob, eve), forwarded=True))

    one, several = (sent.message for sent in client.sent)
    assert (one.contactMessage.displayName, one.contactMessage.vcard) == ("Bob", write_vcard("Bob", bob.phone, "Acme"))
    array = several.contactsArrayMessage
    assert [(c.displayName, c.vcard) for c in array.contacts] == [
        ("Bob", write_vcard("Bob", bob.phone, "Acme")),
        ("Eve", "BEGIN:VCARD\nFN:Eve\nEND:VCARD"),
    ]
    assert array.contextInfo.isForwarded is True


@pytest.mark.parametrize(("count", "vote_type", "on_the_poll"), [(1, VoteType.SINGLE, 1), (3, VoteType.MULTIPLE, 3)])
async def test_a_poll(tmp_path: Path, count: int, vote_type: VoteType, on_the_poll: int) -> None:
    poll = Poll(question="Lunch?", options=("Pizza", "Sushi", "Salad"), selectable_count=count)
    async with connected(tmp_path) as (session, client, _received):
        await session.send(OutgoingMessage(to=GROUP_JID, kind="poll", poll=poll, quoted=ALICES))

    built = client.sent[0].message
    creation = built.pollCreationMessage
    assert creation.name == "Lunch?"
    assert [option.optionName for option in creation.options] == ["Pizza", "Sushi", "Salad"]
    assert creation.selectableOptionsCount == on_the_poll
    assert len(built.messageContextInfo.messageSecret) == 32  # what votes are encrypted against
    assert context_of(built).stanzaID == "3EB0ALICE"
    assert client.calls == [("build_poll_vote_creation", ("Lunch?", ["Pizza", "Sushi", "Salad"], vote_type), {})]


async def test_unknown_kinds_are_refused(tmp_path: Path) -> None:
    from wamux.core.ports import TransportError

    async with connected(tmp_path) as (session, client, _received):
        with pytest.raises(TransportError) as refused:
            await session.send(OutgoingMessage(to=ALICE_JID, kind="hologram"))
    assert (refused.value.code, refused.value.retryable) == ("unsupported_kind", False)
    assert client.sent == []


# ---- acting on messages ----------------------------------------------------------------------------


async def test_reactions_name_the_message_and_its_sender(tmp_path: Path) -> None:
    async with connected(tmp_path) as (session, client, _received):
        theirs = await session.react(ALICES, "👍")
        await session.react(OURS, "")

    assert theirs == "3EB0SENT1"
    on_theirs, removed = client.sent
    assert on_theirs.to == GROUP_JID
    key = on_theirs.message.reactionMessage.key
    assert (key.ID, key.remoteJID, key.fromMe, key.participant) == ("3EB0ALICE", GROUP_JID, False, ALICE_JID)
    assert on_theirs.message.reactionMessage.text == "👍"
    assert removed.to == ALICE_JID
    assert (removed.message.reactionMessage.key.fromMe, removed.message.reactionMessage.text) == (True, "")


async def test_an_edit_is_what_the_other_side_maps_back_to_an_edit(tmp_path: Path) -> None:
    async with connected(tmp_path) as (session, client, _received):
        await session.edit(OURS, "see you at 9")

    [sent] = client.sent
    assert sent.to == ALICE_JID
    protocol = sent.message.editedMessage.message.protocolMessage
    assert (protocol.type, protocol.key.ID, protocol.key.fromMe) == (ProtocolMessage.MESSAGE_EDIT, "3EB0OURS", True)
    assert protocol.editedMessage.conversation == "see you at 9"
    # As another device of our account receives and maps it.
    arrived = neonize_messages.from_message_event(_as_received(sent.message))
    assert arrived == EditIn("3EB0OURS", ALICE_JID, OWN_JID, "see you at 9", from_me=True, timestamp=1_700_000_000)


async def test_revoking_our_own_and_as_admin_someone_elses(tmp_path: Path) -> None:
    async with connected(tmp_path) as (session, client, _received):
        await session.revoke(OURS)
        await session.revoke(ALICES)

    ours, theirs = client.sent
    own_key = ours.message.protocolMessage.key
    assert (ours.message.protocolMessage.type, own_key.ID, own_key.fromMe, own_key.participant) == (
        ProtocolMessage.REVOKE,
        "3EB0OURS",
        True,
        "",
    )
    other_key = theirs.message.protocolMessage.key
    assert (theirs.to, other_key.ID, other_key.fromMe, other_key.participant) == (
        GROUP_JID,
        "3EB0ALICE",
        False,
        ALICE_JID,
    )
    assert neonize_messages.from_message_event(_as_received(ours.message)) == RevokeIn(
        "3EB0OURS", ALICE_JID, OWN_JID, from_me=True, timestamp=1_700_000_000
    )


def _as_received(message: object) -> object:
    """`message` as a MessageEv another device of our account gets for our 1:1 chat with Alice."""
    source = MessageSource(Chat=jid(ALICE), Sender=jid(OWN, device=5), IsFromMe=True)
    return MessageEv(Info=MessageInfo(ID="3EB0X", Timestamp=1_700_000_000, MessageSource=source), Message=message)


# ---- chats and the account ---------------------------------------------------------------------------


async def test_read_receipts_presence_and_number_checks(tmp_path: Path) -> None:
    async with connected(tmp_path) as (session, client, _received):
        await session.mark_read(GROUP_JID, ALICE_JID, ["3EB0A", "3EB0B"])
        await session.mark_read(GROUP_JID, ALICE_JID, [])  # nothing to send
        for state in ("typing", "recording", "paused"):
            await session.send_chat_presence(ALICE_JID, state)
        await session.send_presence("available")
        await session.send_presence("unavailable")
        client.directory = {ALICE: (True, "98765432101234"), "4915199999999": (True, None)}
        checks = await session.check_numbers([ALICE, "4915100000000", "4915199999999"])

    composing, paused = ChatPresence.CHAT_PRESENCE_COMPOSING, ChatPresence.CHAT_PRESENCE_PAUSED
    text, audio = ChatPresenceMedia.CHAT_PRESENCE_MEDIA_TEXT, ChatPresenceMedia.CHAT_PRESENCE_MEDIA_AUDIO
    assert client.calls == [
        ("mark_read", ("3EB0A", "3EB0B"), {"chat": GROUP_JID, "sender": ALICE_JID, "receipt": ReceiptType.READ}),
        ("send_chat_presence", (ALICE_JID, composing, text), {}),
        ("send_chat_presence", (ALICE_JID, composing, audio), {}),
        ("send_chat_presence", (ALICE_JID, paused, text), {}),
        ("send_presence", (Presence.AVAILABLE,), {}),
        ("send_presence", (Presence.UNAVAILABLE,), {}),
    ]
    assert checks == [
        NumberCheck(phone=ALICE, exists=True, jid=ALICE_JID, lid=LID),
        NumberCheck(phone="4915100000000", exists=False),
        NumberCheck(phone="4915199999999", exists=True, jid=BOB_JID, lid=None),
    ]
    assert client.sent == []
