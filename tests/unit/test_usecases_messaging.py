"""Use cases of sending (`MessagingUseCases`) over the fakes of the ports: text, idempotency, pacing, media.

The richer kinds (replies, mentions, location, cards, polls, voice notes, stickers, forwards) are in
`test_usecases_rich_sends.py`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio
from trio.testing import MockClock

from tests.unit.fakes import Fetched
from tests.unit.usecase_rig import PEER, Core, open_core
from wamux.core.instance_actor import IDEMPOTENCY_TTL_MS
from wamux.core.ports import OutgoingMessage, TransportError
from wamux.core.usecases.messaging import SendOptions
from wamux.domain.errors import InstanceNotConnected, TransportFailed, Unavailable
from wamux.domain.events import MessageFailed, MessageSent

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 60
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 60
MP3 = b"ID3\x04" + b"\x00" * 60
PDF = b"%PDF-1.7\n" + b"\x00" * 60


@pytest.fixture
async def core() -> AsyncIterator[Core]:
    async with open_core() as core:
        yield core


def sent_messages(core: Core, instance_id: str) -> list[OutgoingMessage]:
    return [call.args[0] for call in core.transport.sessions[instance_id].called("send")]


async def test_send_text_answers_the_sessions_id_and_records_the_message(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    outcome = await core.uc.messaging.send_text(core.alice, actor.id, PEER, "hello", SendOptions(key="k-1"))
    assert outcome.message_id == "MSG-1" and not outcome.replayed
    assert sent_messages(core, actor.id) == [OutgoingMessage(to=PEER, kind="text", text="hello")]
    (event,) = core.store.events(actor.id, MessageSent)
    assert event == MessageSent(
        instance_id=actor.id, message_id="MSG-1", to=PEER, message_type="text", body="hello", idempotency_key="k-1"
    )


async def test_a_repeated_idempotency_key_answers_the_first_id_without_sending(
    core: Core, autojump_clock: MockClock
) -> None:
    actor = await core.connected(core.alice)
    first = await core.uc.messaging.send_text(core.alice, actor.id, PEER, "hello", SendOptions(key="k-1"))
    again = await core.uc.messaging.send_text(core.alice, actor.id, PEER, "hello", SendOptions(key="k-1"))
    other = await core.uc.messaging.send_text(core.alice, actor.id, PEER, "hello", SendOptions(key="k-2"))
    assert (again.message_id, again.replayed) == (first.message_id, True)
    assert other.message_id != first.message_id and not other.replayed
    assert len(sent_messages(core, actor.id)) == 2
    assert [e.idempotency_key for e in core.store.events(actor.id, MessageSent)] == ["k-1", "k-2"]


async def test_a_key_belongs_to_one_instance(core: Core, autojump_clock: MockClock) -> None:
    one = await core.connected(core.alice, name="One")
    two = await core.connected(core.alice, name="Two")
    a = await core.uc.messaging.send_text(core.alice, one.id, PEER, "hello", SendOptions(key="k-1"))
    b = await core.uc.messaging.send_text(core.alice, two.id, PEER, "hello", SendOptions(key="k-1"))
    assert not a.replayed and not b.replayed
    assert len(sent_messages(core, one.id)) == len(sent_messages(core, two.id)) == 1


async def test_sends_without_a_key_are_never_replayed(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    a = await core.uc.messaging.send_text(core.alice, actor.id, PEER, "hello")
    b = await core.uc.messaging.send_text(core.alice, actor.id, PEER, "hello")
    assert a.message_id != b.message_id and len(core.store.events(actor.id, MessageSent)) == 2


async def test_a_key_known_only_to_the_sent_lookup_replays(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    core.sent.answers[actor.id, "old-key"] = ("MSG-BEFORE-RESTART", core.clock.now_ms() - 60_000)
    outcome = await core.uc.messaging.send_text(core.alice, actor.id, PEER, "hello", SendOptions(key="old-key"))
    assert (outcome.message_id, outcome.replayed) == ("MSG-BEFORE-RESTART", True)
    assert sent_messages(core, actor.id) == [] and core.store.events(actor.id, MessageSent) == []
    assert core.sent.asked == [(actor.id, "old-key")]


async def test_a_repeat_is_replayed_before_the_read_model_has_the_first_send(
    core: Core, autojump_clock: MockClock
) -> None:
    actor = await core.connected(core.alice)
    core.sent.store = None  # the messages read model lags behind: only the actor knows the key yet
    first = await core.uc.messaging.send_text(core.alice, actor.id, PEER, "hello", SendOptions(key="k-1"))
    again = await core.uc.messaging.send_text(core.alice, actor.id, PEER, "hello", SendOptions(key="k-1"))
    assert (again.message_id, again.replayed) == (first.message_id, True)
    assert len(sent_messages(core, actor.id)) == 1


async def test_a_key_survives_a_restart(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    first = await core.uc.messaging.send_text(core.alice, actor.id, PEER, "hello", SendOptions(key="k-1"))
    await core.restart()
    fresh = core.supervisor.get(actor.id)
    assert fresh is not actor
    again = await core.uc.messaging.send_text(core.alice, actor.id, PEER, "hello", SendOptions(key="k-1"))
    assert (again.message_id, again.replayed) == (first.message_id, True)
    assert len(core.store.events(actor.id, MessageSent)) == 1


@pytest.mark.parametrize(("age_ms", "replayed"), [(IDEMPOTENCY_TTL_MS - 1, True), (IDEMPOTENCY_TTL_MS, False)])
async def test_a_key_older_than_24_hours_sends_again(
    core: Core, autojump_clock: MockClock, age_ms: int, replayed: bool
) -> None:
    actor = await core.connected(core.alice)
    first = await core.uc.messaging.send_text(core.alice, actor.id, PEER, "hello", SendOptions(key="k-1"))
    sent_at = core.store.streams[actor.id][-1].timestamp_ms
    core.clock.advance(sent_at + age_ms - core.clock.now_ms())  # the repeat comes `age_ms` after the send
    again = await core.uc.messaging.send_text(core.alice, actor.id, PEER, "hello", SendOptions(key="k-1"))
    assert again.replayed is replayed
    assert (again.message_id == first.message_id) is replayed
    assert len(sent_messages(core, actor.id)) == (1 if replayed else 2)


async def test_a_key_the_lookup_knows_from_over_24_hours_ago_sends_again(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    core.sent.answers[actor.id, "old-key"] = ("MSG-OLD", core.clock.now_ms() - IDEMPOTENCY_TTL_MS)
    outcome = await core.uc.messaging.send_text(core.alice, actor.id, PEER, "hello", SendOptions(key="old-key"))
    assert outcome.message_id == "MSG-1" and not outcome.replayed


async def test_not_connected_is_refused_and_nothing_is_recorded(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.instance(core.alice)  # showing a QR code
    before = core.types(actor)
    with pytest.raises(InstanceNotConnected):
        await core.uc.messaging.send_text(core.alice, actor.id, PEER, "hello", SendOptions(key="k-1"))
    assert core.types(actor) == before and sent_messages(core, actor.id) == []


@pytest.mark.parametrize(("retryable", "error"), [(True, Unavailable), (False, TransportFailed)])
async def test_a_transport_error_records_message_failed(
    core: Core, autojump_clock: MockClock, retryable: bool, error: type[Exception]
) -> None:
    actor = await core.connected(core.alice)
    core.session(actor).fail("send", TransportError("server said no", retryable=retryable))
    with pytest.raises(error):
        await core.uc.messaging.send_text(core.alice, actor.id, PEER, "hello", SendOptions(key="k-1"))
    (failed,) = core.store.events(actor.id, MessageFailed)
    assert (failed.to, failed.message_type, failed.body, failed.reason) == (PEER, "text", "hello", "server said no")
    assert core.store.events(actor.id, MessageSent) == []
    retry = await core.uc.messaging.send_text(core.alice, actor.id, PEER, "hello", SendOptions(key="k-1"))
    assert not retry.replayed  # a failed send does not hold the key


async def test_a_send_whatsapp_never_answers_times_out(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    core.session(actor).hang("send")
    with pytest.raises(Unavailable):
        await core.uc.messaging.send_text(core.alice, actor.id, PEER, "hello")
    (failed,) = core.store.events(actor.id, MessageFailed)
    assert failed.reason == "timeout"
    assert trio.current_time() >= actor.settings.send_timeout_s


async def test_sends_keep_the_instances_pacing(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice, settings={"sendIntervalMs": 2000})
    starts = []
    for n in range(3):
        await core.uc.messaging.send_text(core.alice, actor.id, PEER, f"m{n}")
        starts.append(trio.current_time())
    assert starts[1] - starts[0] >= 2 and starts[2] - starts[1] >= 2


async def test_send_url_fails_fast_when_not_connected(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.instance(core.alice)
    with pytest.raises(InstanceNotConnected):
        await core.uc.messaging.send_url(
            core.alice, actor.id, PEER, "https://media.example.com/a.jpg", caption=None, file_name=None
        )
    assert core.fetcher.calls == []


@pytest.mark.parametrize("who", ["alice", "admin"])
async def test_send_url_downloads_trusted_only_for_admins(core: Core, autojump_clock: MockClock, who: str) -> None:
    caller = getattr(core, who)
    actor = await core.connected(core.alice)
    url = "https://media.example.com/a.jpg"
    core.fetcher.pages[url] = Fetched(JPEG, "image/jpeg", "a.jpg")
    outcome = await core.uc.messaging.send_url(caller, actor.id, PEER, url, caption="look", file_name=None)
    assert core.fetcher.calls == [(url, None, who == "admin")]
    (message,) = sent_messages(core, actor.id)
    assert (message.kind, message.caption, message.data, message.file_name) == ("image", "look", JPEG, "a.jpg")
    (event,) = core.store.events(actor.id, MessageSent)
    assert event.message_id == outcome.message_id and event.media_size == len(JPEG)


@pytest.mark.parametrize(
    ("data", "file_name", "kind", "mime", "stored_name"),
    [
        (JPEG, "holiday.pdf", "image", "image/jpeg", "holiday.pdf"),  # the bytes decide, not the name
        (MP4, "clip.mp4", "video", "video/mp4", "clip.mp4"),
        (MP3, None, "audio", "audio/mpeg", None),
        (PDF, "../../etc/report?.pdf", "document", "application/pdf", "report_.pdf"),
        (PDF, None, "document", "application/pdf", "file"),  # a document always has a name
        (b"plain bytes", "notes.txt", "document", "application/octet-stream", "notes.txt"),
    ],
)
async def test_an_upload_is_sniffed_and_sent_as_its_kind(
    core: Core,
    autojump_clock: MockClock,
    data: bytes,
    file_name: str | None,
    kind: str,
    mime: str,
    stored_name: str | None,
) -> None:
    actor = await core.connected(core.alice)
    await core.uc.messaging.send_upload(core.alice, actor.id, PEER, data, caption="c", file_name=file_name)
    (message,) = sent_messages(core, actor.id)
    assert (message.kind, message.mime_type, message.file_name, message.data) == (kind, mime, stored_name, data)
    (event,) = core.store.events(actor.id, MessageSent)
    assert (event.message_type, event.mime_type, event.file_name, event.caption) == (kind, mime, stored_name, "c")
    assert event.media_path is not None
    assert core.media.files[event.media_path] == (data, mime, stored_name)


async def test_an_upload_to_an_instance_that_is_not_connected_is_refused(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.instance(core.alice)
    with pytest.raises(InstanceNotConnected):
        await core.uc.messaging.send_upload(core.alice, actor.id, PEER, JPEG, caption=None, file_name=None)
    assert core.store.events(actor.id, MessageSent) == []
