"""The richer sends of `MessagingUseCases` over the fakes: replies, mentions, location, contact cards, polls,
voice notes and stickers (through the `MediaConverter` port), documents, and forwarding from history.

Each test looks at what the WhatsApp session was asked to send (`OutgoingMessage`) and at the
`message_sent` the actor recorded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from trio.testing import MockClock

from tests.unit.fakes import FakeMediaConverter, Fetched
from tests.unit.usecase_rig import JID, PEER, Core, open_core
from wamux.core.instance_actor import InstanceActor
from wamux.core.ports import ContactCard, Location, MessageRef, OutgoingMessage, Poll
from wamux.core.usecases.messaging import SendOptions
from wamux.domain.errors import (
    ConversionFailed,
    ConversionUnavailable,
    MessageNotFound,
    ValidationFailed,
)
from wamux.domain.events import MessageSent

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 60
MP3 = b"ID3\x04" + b"\x00" * 60
OGG = b"OggS\x00\x02" + b"\x00" * 60
PDF = b"%PDF-1.7\n" + b"\x00" * 60
OTHER = "79001112233@s.whatsapp.net"
VCARD = "BEGIN:VCARD\nVERSION:3.0\nFN:Bob\nTEL;waid=79007654321:+7 900 765-43-21\nEND:VCARD"


@pytest.fixture
async def core() -> AsyncIterator[Core]:
    async with open_core() as core:
        yield core


def sent(core: Core, actor: InstanceActor) -> list[OutgoingMessage]:
    return [call.args[0] for call in core.session(actor).called("send")]


def recorded(core: Core, actor: InstanceActor) -> list[MessageSent]:
    return core.store.events(actor.id, MessageSent)


# ---- replies and mentions ------------------------------------------------------------------------


async def test_a_reply_quotes_the_message_from_history(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    await core.receive(actor, "IN-1", "where are you?")
    await core.uc.messaging.send_text(core.alice, actor.id, PEER, "at home", SendOptions(quoted_message_id="IN-1"))
    (message,) = sent(core, actor)
    assert message.quoted == MessageRef("IN-1", PEER, PEER, False, "where are you?", "text")
    (event,) = recorded(core, actor)
    assert (event.quoted_message_id, event.body) == ("IN-1", "at home")


async def test_a_reply_to_an_unknown_message_is_refused_and_nothing_is_sent(
    core: Core, autojump_clock: MockClock
) -> None:
    actor = await core.connected(core.alice)
    before = core.types(actor)
    with pytest.raises(MessageNotFound) as refused:
        await core.uc.messaging.send_text(core.alice, actor.id, PEER, "hi", SendOptions(quoted_message_id="NOPE"))
    assert refused.value.code == "message_not_found"
    assert refused.value.details == {"messageId": "NOPE"}
    assert sent(core, actor) == [] and core.types(actor) == before


async def test_a_reply_to_our_own_message_quotes_it_as_ours(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    first = await core.uc.messaging.send_text(core.alice, actor.id, PEER, "lunch at 1?")
    await core.uc.messaging.send_text(
        core.alice, actor.id, PEER, "or 2", SendOptions(quoted_message_id=first.message_id)
    )
    quoted = sent(core, actor)[1].quoted
    assert quoted == MessageRef(first.message_id, PEER, JID, True, "lunch at 1?", "text")


async def test_mentions_are_sent_and_recorded_as_jids(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    options = SendOptions(mentions=("+7 900 765-43-21", OTHER))
    await core.uc.messaging.send_text(core.alice, actor.id, PEER, "@79007654321 @79001112233", options)
    (message,) = sent(core, actor)
    assert message.mentions == (PEER, OTHER)
    (event,) = recorded(core, actor)
    assert event.mentions == [PEER, OTHER]


async def test_a_mention_that_is_no_phone_is_refused_before_sending(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    with pytest.raises(ValidationFailed):
        await core.uc.messaging.send_text(core.alice, actor.id, PEER, "hi", SendOptions(mentions=("bob",)))
    assert sent(core, actor) == [] and recorded(core, actor) == []


# ---- location, contact cards, polls --------------------------------------------------------------


async def test_send_location(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    where = Location(55.7539, 37.6208, name="Red Square", address="Moscow")
    outcome = await core.uc.messaging.send_location(core.alice, actor.id, PEER, where)
    assert sent(core, actor) == [OutgoingMessage(to=PEER, kind="location", location=where)]
    (event,) = recorded(core, actor)
    assert (event.message_id, event.message_type) == (outcome.message_id, "location")
    assert event.location == {"latitude": 55.7539, "longitude": 37.6208, "name": "Red Square", "address": "Moscow"}


async def test_send_contacts(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    cards = [ContactCard("Bob", "79007654321", VCARD), ContactCard("Shop", organization="Shop Ltd")]
    await core.uc.messaging.send_contacts(core.alice, actor.id, PEER, cards)
    (message,) = sent(core, actor)
    assert (message.kind, message.contacts) == ("contact", tuple(cards))
    (event,) = recorded(core, actor)
    assert event.message_type == "contact"
    assert event.contacts == [
        {"name": "Bob", "phone": "79007654321", "vcard": VCARD, "organization": None},
        {"name": "Shop", "phone": None, "vcard": None, "organization": "Shop Ltd"},
    ]


async def test_send_poll(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    poll = Poll("Lunch?", ("Pizza", "Sushi", "Soup"), selectable_count=2)
    await core.uc.messaging.send_poll(core.alice, actor.id, PEER, poll, SendOptions(key="poll-1"))
    (message,) = sent(core, actor)
    assert (message.kind, message.text, message.poll) == ("poll", "Lunch?", poll)
    (event,) = recorded(core, actor)
    assert (event.message_type, event.body, event.idempotency_key) == ("poll", "Lunch?", "poll-1")
    assert event.poll == {"question": "Lunch?", "options": ["Pizza", "Sushi", "Soup"], "selectableCount": 2}


# ---- as: voice / sticker / document ----------------------------------------------------------------


@pytest.mark.parametrize(("data", "mime"), [(MP3, "audio/mpeg"), (OGG, "audio/ogg")], ids=["mp3", "ogg"])
async def test_an_upload_as_voice_is_converted_and_sent_as_a_voice_note(
    core: Core, autojump_clock: MockClock, data: bytes, mime: str
) -> None:
    actor = await core.connected(core.alice)
    await core.uc.messaging.send_upload(
        core.alice, actor.id, PEER, data, caption="ignored", file_name="a.mp3", send_as="voice"
    )
    assert core.converter.calls == [("voice_note", data, mime)]
    voice = FakeMediaConverter.voice_of(data)
    (message,) = sent(core, actor)
    assert (message.kind, message.data, message.mime_type) == ("voice", voice, FakeMediaConverter.VOICE_MIME)
    assert (message.caption, message.file_name) == (None, None)  # a voice note has neither
    (event,) = recorded(core, actor)
    assert (event.message_type, event.ptt, event.media_size) == ("voice", True, len(voice))
    assert event.media_path is not None and core.media.files[event.media_path][0] == voice


async def test_a_url_as_voice_is_converted_too(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    url = "https://media.example.com/note.mp3"
    core.fetcher.pages[url] = Fetched(MP3, "audio/mpeg", "note.mp3")
    await core.uc.messaging.send_url(core.alice, actor.id, PEER, url, caption=None, file_name=None, send_as="voice")
    assert [call[0] for call in core.converter.calls] == ["voice_note"]
    (event,) = recorded(core, actor)
    assert (event.message_type, event.ptt) == ("voice", True)


async def test_without_ffmpeg_a_voice_note_is_conversion_unavailable(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    core.converter.ffmpeg = False
    with pytest.raises(ConversionUnavailable):
        await core.uc.messaging.send_upload(
            core.alice, actor.id, PEER, MP3, caption=None, file_name=None, send_as="voice"
        )
    assert sent(core, actor) == [] and recorded(core, actor) == [] and core.media.files == {}


@pytest.mark.parametrize("send_as", ["voice", "sticker"])
async def test_media_the_converter_cannot_read_is_conversion_failed(
    core: Core, autojump_clock: MockClock, send_as: str
) -> None:
    actor = await core.connected(core.alice)
    core.converter.broken = True
    data = MP3 if send_as == "voice" else JPEG
    with pytest.raises(ConversionFailed):
        await core.uc.messaging.send_upload(
            core.alice, actor.id, PEER, data, caption=None, file_name=None, send_as=send_as
        )
    assert sent(core, actor) == [] and core.media.files == {}


@pytest.mark.parametrize(
    ("send_as", "data"),
    [("voice", JPEG), ("voice", PDF), ("sticker", MP3), ("sticker", PDF)],
    ids=["voice-jpeg", "voice-pdf", "sticker-mp3", "sticker-pdf"],
)
async def test_the_wrong_kind_of_media_is_refused_before_converting(
    core: Core, autojump_clock: MockClock, send_as: str, data: bytes
) -> None:
    actor = await core.connected(core.alice)
    with pytest.raises(ValidationFailed) as refused:
        await core.uc.messaging.send_upload(
            core.alice, actor.id, PEER, data, caption=None, file_name=None, send_as=send_as
        )
    assert refused.value.details is not None and refused.value.details["as"] == send_as
    assert core.converter.calls == [] and sent(core, actor) == []


async def test_an_upload_as_sticker_is_converted_to_webp(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    await core.uc.messaging.send_upload(
        core.alice, actor.id, PEER, JPEG, caption="ignored", file_name="a.jpg", send_as="sticker"
    )
    assert core.converter.calls == [("sticker", JPEG, None)]
    (message,) = sent(core, actor)
    sticker = FakeMediaConverter.sticker_of(JPEG)
    assert (message.kind, message.data, message.mime_type) == ("sticker", sticker, "image/webp")
    assert (message.caption, message.file_name) == (None, None)
    (event,) = recorded(core, actor)
    assert (event.message_type, event.mime_type, event.ptt) == ("sticker", "image/webp", False)


@pytest.mark.parametrize(("file_name", "stored"), [("photo.jpg", "photo.jpg"), (None, "file")])
async def test_an_image_as_document_is_sent_as_a_file(
    core: Core, autojump_clock: MockClock, file_name: str | None, stored: str
) -> None:
    actor = await core.connected(core.alice)
    await core.uc.messaging.send_upload(
        core.alice, actor.id, PEER, JPEG, caption="c", file_name=file_name, send_as="document"
    )
    (message,) = sent(core, actor)
    assert (message.kind, message.mime_type, message.file_name, message.data) == (
        "document",
        "image/jpeg",
        stored,
        JPEG,
    )
    assert core.converter.calls == []


async def test_an_unknown_send_as_is_refused(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    with pytest.raises(ValidationFailed):
        await core.uc.messaging.send_upload(
            core.alice, actor.id, PEER, JPEG, caption=None, file_name=None, send_as="gif"
        )
    assert sent(core, actor) == [] and core.media.files == {}


# ---- forward -----------------------------------------------------------------------------------------


async def test_forward_a_received_text(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    await core.receive(actor, "IN-1", "pass it on")
    outcome = await core.uc.messaging.forward(core.alice, actor.id, "IN-1", OTHER)
    assert sent(core, actor) == [OutgoingMessage(to=OTHER, kind="text", text="pass it on", forwarded=True)]
    (event,) = recorded(core, actor)
    assert (event.message_id, event.to, event.body, event.forwarded) == (outcome.message_id, OTHER, "pass it on", True)


async def test_forward_a_received_image_sends_the_stored_bytes(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    await core.receive(actor, "IN-1", None, message_type="image", media=JPEG, caption="look", file_name="a.jpg")
    await core.uc.messaging.forward(core.alice, actor.id, "IN-1", OTHER)
    (message,) = sent(core, actor)
    assert (message.kind, message.data, message.mime_type) == ("image", JPEG, "image/jpeg")
    assert (message.caption, message.text, message.forwarded) == ("look", None, True)
    (event,) = recorded(core, actor)
    assert event.media_path is not None and core.media.files[event.media_path][0] == JPEG
    assert (event.media_size, event.forwarded) == (len(JPEG), True)


async def test_forward_a_sent_voice_note_stays_a_voice_note(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    first = await core.uc.messaging.send_upload(
        core.alice, actor.id, PEER, MP3, caption=None, file_name=None, send_as="voice"
    )
    await core.uc.messaging.forward(core.alice, actor.id, first.message_id, OTHER)
    original, forwarded = sent(core, actor)
    assert (forwarded.kind, forwarded.data, forwarded.mime_type) == ("voice", original.data, original.mime_type)
    assert len(core.converter.calls) == 1  # the stored voice note is sent as it is
    event = recorded(core, actor)[1]
    assert (event.message_type, event.ptt, event.forwarded) == ("voice", True, True)


@pytest.mark.parametrize("kind", ["location", "contact", "poll"])
async def test_forward_keeps_the_content_of_a_rich_message(core: Core, autojump_clock: MockClock, kind: str) -> None:
    actor = await core.connected(core.alice)
    messaging = core.uc.messaging
    if kind == "location":
        first = await messaging.send_location(core.alice, actor.id, PEER, Location(1.5, 2.5, "Here"))
    elif kind == "contact":
        first = await messaging.send_contacts(core.alice, actor.id, PEER, [ContactCard("Bob", "79007654321")])
    else:
        first = await messaging.send_poll(core.alice, actor.id, PEER, Poll("Lunch?", ("Pizza", "Sushi"), 1))
    await messaging.forward(core.alice, actor.id, first.message_id, OTHER)
    original, forwarded = sent(core, actor)
    assert forwarded == OutgoingMessage(
        to=OTHER,
        kind=kind,
        text=original.text,
        forwarded=True,
        location=original.location,
        contacts=original.contacts,
        poll=original.poll,
    )
    a, b = recorded(core, actor)
    assert (b.message_type, b.location, b.contacts, b.poll) == (kind, a.location, a.contacts, a.poll)


async def test_forward_an_unknown_message_is_not_found(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    with pytest.raises(MessageNotFound):
        await core.uc.messaging.forward(core.alice, actor.id, "NOPE", OTHER)
    assert sent(core, actor) == []


async def test_forward_a_revoked_message_is_refused(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    first = await core.uc.messaging.send_text(core.alice, actor.id, PEER, "oops")
    await core.uc.chats.revoke(core.alice, actor.id, first.message_id)
    with pytest.raises(ValidationFailed):
        await core.uc.messaging.forward(core.alice, actor.id, first.message_id, OTHER)
    assert len(sent(core, actor)) == 1


async def test_forward_when_the_stored_media_is_gone_is_not_found(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    await core.receive(actor, "IN-1", None, message_type="image", media=JPEG)
    core.media.files.clear()  # the media retention removed the file
    with pytest.raises(MessageNotFound):
        await core.uc.messaging.forward(core.alice, actor.id, "IN-1", OTHER)
    assert sent(core, actor) == []


async def test_forward_an_image_whose_media_was_never_kept_is_not_found(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    await core.receive(actor, "IN-1", None, message_type="image", caption="look")  # the download failed
    with pytest.raises(MessageNotFound):
        await core.uc.messaging.forward(core.alice, actor.id, "IN-1", OTHER)
    assert sent(core, actor) == []
