"""History import in the actor (`wamux.core.history_import`), over the use-case rig.

A `HistoryIn` chunk is appended as `history_sync` events of at most 1,000 messages, five events to an
append, each append under the actor's lock alone: a send waiting for the lock goes between two appends.
Messages are recorded as the live path records them (people by phone, our own from the linked account),
without media; `settings.syncHistory: false` records nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
import trio
import trio.testing
from trio.testing import MockClock

from tests.unit.usecase_rig import JID, PEER, Core, open_core
from wamux.core.history_import import BATCH_BYTES, batches
from wamux.core.ports import ContactCard, ContactUpdate, HistoryIn, IdentityIn, IncomingMessage
from wamux.domain.events import ContactsImported, DomainEvent, HistorySynced, RecordedEvent

LID = "123456789012345@lid"
T0 = 1_700_000_000


@pytest.fixture
async def core() -> AsyncIterator[Core]:
    async with open_core() as core:
        yield core


def message(i: int, **fields: Any) -> IncomingMessage:
    fields.setdefault("chat_jid", PEER)
    fields.setdefault("sender_jid", fields["chat_jid"])
    fields.setdefault("message_type", "text")
    fields.setdefault("body", f"m{i}")
    return IncomingMessage(message_id=f"H{i:05d}", timestamp=T0 + i, **fields)


def chunk(count: int, **fields: Any) -> HistoryIn:
    return HistoryIn(messages=tuple(message(i) for i in range(count)), chats=1, **fields)


def new_events(core: Core, stream_id: str, before: int) -> list[RecordedEvent]:
    return core.store.streams[stream_id][before:]


def count_appends(core: Core, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The event types of each append to the store, in order (a spy around the fake store's `append`)."""
    seen: list[list[str]] = []
    append = core.store.append

    async def spy(stream_id: str, events: Sequence[DomainEvent], expected_version: int) -> list[RecordedEvent]:
        seen.append([e.type for e in events])
        return await append(stream_id, events, expected_version)

    monkeypatch.setattr(core.store, "append", spy)
    return seen


def test_batches_hold_a_thousand_messages_or_about_two_megabytes() -> None:
    small = [message(i) for i in range(2500)]
    assert [len(b) for b in batches(small)] == [1000, 1000, 500]
    assert list(batches([])) == []
    card = ContactCard(name="Big", vcard="x" * 100_000)
    big = [message(i, message_type="contact", body=None, contacts=(card,)) for i in range(45)]
    sizes = [len(b) for b in batches(big)]
    assert sum(sizes) == 45 and len(sizes) == 3 and max(sizes) * 100_000 <= BATCH_BYTES
    assert [m.message_id for b in batches(big) for m in b] == [m.message_id for m in big]


async def test_a_chunk_is_recorded_in_batches_five_to_an_append(
    core: Core, autojump_clock: MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    actor = await core.connected(core.alice)
    before = len(core.store.streams[actor.id])
    appends = count_appends(core, monkeypatch)
    names = (ContactUpdate(jid=PEER, push_name="Peer"),)
    await core.session(actor).report(chunk(12_500, progress=40, sync_type="initial_bootstrap", contacts=names))

    assert appends == [
        ["contacts_imported", *["history_sync"] * 4],
        ["history_sync"] * 5,
        ["history_sync"] * 4,
    ]
    recorded = [r.event for r in new_events(core, actor.id, before)]
    assert recorded[0] == ContactsImported(
        instance_id=actor.id, contacts=[{"jid": PEER, "name": None, "push_name": "Peer", "is_group": False}]
    )
    syncs = [e for e in recorded if isinstance(e, HistorySynced)]
    assert [len(e.messages) for e in syncs] == [1000] * 12 + [500]
    assert {(e.chats, e.progress, e.sync_type) for e in syncs} == {(1, 40, "initial_bootstrap")}
    assert [m["message_id"] for e in syncs for m in e.messages] == [f"H{i:05d}" for i in range(12_500)]
    assert syncs[0].messages[0] == {
        "message_id": "H00000",
        "chat_jid": PEER,
        "sender_jid": PEER,
        "message_type": "text",
        "body": "m0",
        "sent_at": T0,
    }
    assert "message_received" not in core.types(actor)


async def test_messages_are_recorded_as_the_live_path_would_without_media(
    core: Core, autojump_clock: MockClock
) -> None:
    actor = await core.connected(core.alice)
    before = len(core.store.streams[actor.id])
    await core.session(actor).report(IdentityIn(lid=LID, phone_jid=PEER))
    photo = message(2, message_type="image", body=None, caption="beach", mime_type="image/jpeg", file_size=4096)
    document = message(3, message_type="document", body=None, file_name="../../etc/passwd", mime_type="text/plain")
    mine = message(1, from_me=True, sender_jid="")
    sync = HistoryIn(messages=(message(0, chat_jid=LID), mine, photo, document), chats=2, progress=100)
    await core.session(actor).report(sync)

    [event] = [r.event for r in new_events(core, actor.id, before) if isinstance(r.event, HistorySynced)]
    by_id = {m["message_id"]: m for m in event.messages}
    assert (by_id["H00000"]["chat_jid"], by_id["H00000"]["chat_lid"], by_id["H00000"]["from_lid"]) == (PEER, LID, LID)
    assert (by_id["H00001"]["sender_jid"], by_id["H00001"]["from_me"]) == (JID, True)  # our own: the linked account
    assert by_id["H00002"]["media_size"] == 4096 and by_id["H00002"]["extra"] == {"mediaDownloaded": False}
    assert "media_path" not in by_id["H00002"] and by_id["H00002"]["caption"] == "beach"
    assert "/" not in by_id["H00003"]["file_name"]  # the sender chose it: made safe as live file names are
    assert (event.chats, event.progress) == (1, 100)  # one chat: the LID's messages are the phone's chat
    assert core.media.files == {}  # nothing downloaded, nothing saved


async def test_nothing_is_recorded_when_sync_history_is_off(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice, settings={"syncHistory": False})
    before = len(core.store.streams[actor.id])
    await core.session(actor).report(chunk(10, contacts=(ContactUpdate(jid=PEER, push_name="Peer"),)))
    assert new_events(core, actor.id, before) == []


async def test_a_send_goes_between_two_appends_of_a_long_sync(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    before = len(core.store.streams[actor.id])
    core.store.hold()  # the first append of the sync waits (a slow disk) while a send arrives
    sent: list[str] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(core.session(actor).report, chunk(15_000))
        await trio.testing.wait_all_tasks_blocked()

        async def send() -> None:
            sent.append((await core.uc.messaging.send_text(core.alice, actor.id, PEER, "not held back")).message_id)

        nursery.start_soon(send)
        await trio.testing.wait_all_tasks_blocked()
        core.store.release()
    types = [r.type for r in new_events(core, actor.id, before)]
    assert types == [*["history_sync"] * 5, "message_sent", *["history_sync"] * 10]
    assert sent
