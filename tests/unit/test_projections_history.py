"""History sync in the read models: `history_sync` batches become history rows with `history: true`.

The messages projection runs on the in-memory fake, on SQLite and on MongoDB (`tests/unit/messages_rig.py`):
the first row of a message wins (live or an earlier sync), history never counts as unread, the chat's last
message moves only for a newer message; usage (stats) follows live events only, and the public payload
carries counts, never the messages.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.unit.messages_rig import ALICE, BACKENDS, BOB, GROUP, IID, ME, Rig, open_rig, received
from tests.unit.projection_rig import ProjectionRig
from wamux.domain.clock import iso_ms
from wamux.domain.events import (
    HistorySynced,
    InstanceCreated,
    MessageReceived,
    RecordedEvent,
    compact_message,
    history_message,
)
from wamux.projections.messages import CHATS, MESSAGES
from wamux.projections.payloads import event_data
from wamux.projections.ports import Query
from wamux.projections.stats import USAGE, StatsProjection

T0 = 1_700_000_000  # unix seconds: when the history messages were sent
NOW_MS = 1_760_000_000_000  # when the sync is recorded, long after


@pytest.fixture(params=BACKENDS)
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rig]:
    yield from open_rig(request, tmp_path)


def old(message_id: str, at: int, sender: str = ALICE, chat: str | None = None, **fields: Any) -> dict[str, Any]:
    """A message as a history batch carries it, sent at unix second `at`."""
    return compact_message(received(message_id, sender, chat, sent_at=at, push_name="Alice", **fields))


def sync(*messages: dict[str, Any], progress: int | None = 50) -> HistorySynced:
    chats = len({m["chat_jid"] for m in messages})
    return HistorySynced(instance_id=IID, messages=list(messages), chats=chats, progress=progress)


def test_history_rows_are_dated_by_whatsapp_and_never_unread(rig: Rig) -> None:
    photo = old(
        "H2",
        T0 + 60,
        message_type="image",
        body=None,
        caption="beach",
        mime_type="image/jpeg",
        media_size=123_456,
        extra={"mediaDownloaded": False},
    )
    mine = old("H3", T0 + 120, sender=ME, chat=ALICE, from_me=True, body="see you")
    rig.feed(sync(old("H1", T0), photo, mine), NOW_MS)

    first, image, ours = rig.public("H1"), rig.public("H2"), rig.public("H3")
    assert (first["history"], first["createdAt"], first["metadata"]["timestamp"]) == (True, iso_ms(T0 * 1000), T0)
    assert (first["content"], first["sender"], first["pushName"], first["status"]) == (
        "hello",
        ALICE,
        "Alice",
        "received",
    )
    assert (image["messageType"], image["content"], image["mimeType"], image["mediaSize"]) == (
        "image",
        "beach",
        "image/jpeg",
        123_456,
    )
    assert (image["hasMedia"], image["mediaUrl"], image["metadata"]["mediaDownloaded"]) == (False, None, False)
    assert ours["fromMe"] is True
    chat = rig.chat(ALICE)
    assert (chat["messageCount"], chat["unreadCount"], chat["name"]) == (3, 0, "Alice")
    assert (chat["lastMessage"]["messageId"], chat["updatedAt"]) == ("H3", iso_ms((T0 + 120) * 1000))


def test_a_message_already_in_history_keeps_its_first_row(rig: Rig) -> None:
    rig.feed(received("LIVE", body="live text"), NOW_MS)
    rig.feed(sync(old("H1", T0), old("LIVE", T0 + 1, body="history text"), old("H1", T0 + 2, body="repeated")), NOW_MS)
    assert (rig.public("LIVE")["content"], rig.public("LIVE")["history"]) == ("live text", False)
    assert (rig.public("H1")["content"], rig.public("H1")["createdAt"]) == ("hello", iso_ms(T0 * 1000))
    assert (rig.chat(ALICE)["messageCount"], rig.chat(ALICE)["unreadCount"]) == (2, 1)
    before = rig.all_rows()
    rig.feed(sync(old("H1", T0 + 5, body="again"), old("LIVE", T0 + 6)), NOW_MS + 1000)  # the same sync again
    assert rig.all_rows() == before


def test_a_live_message_replaces_its_history_row_without_counting_it_twice(rig: Rig) -> None:
    rig.feed(sync(old("M1", T0)), NOW_MS)
    rig.feed(received("M1", body="now live"), NOW_MS + 1000)
    row = rig.public("M1")
    assert (row["history"], row["content"]) == (False, "now live")
    assert (rig.chat(ALICE)["messageCount"], rig.chat(ALICE)["unreadCount"]) == (1, 1)


def test_the_last_message_moves_only_for_a_newer_history_message(rig: Rig) -> None:
    live_ms = (T0 + 1000) * 1000
    rig.feed(received("LIVE"), live_ms)
    rig.feed(sync(old("OLDER", T0 + 10)), NOW_MS)
    assert (rig.chat(ALICE)["lastMessage"]["messageId"], rig.chat(ALICE)["updatedAt"]) == ("LIVE", iso_ms(live_ms))
    rig.feed(sync(old("NEWER", T0 + 2000)), NOW_MS)
    assert rig.chat(ALICE)["lastMessage"]["messageId"] == "NEWER"
    assert (rig.chat(ALICE)["messageCount"], rig.chat(ALICE)["unreadCount"]) == (3, 1)


def test_history_sorts_among_live_messages_by_time(rig: Rig) -> None:
    rig.feed(received("LIVE"), (T0 + 30) * 1000)
    rig.feed(sync(old("A", T0), old("B", T0 + 60), old("G", T0 + 10, sender=BOB, chat=GROUP)), NOW_MS)
    rows = (rig.fake if rig.store is None else rig.store).find(
        MESSAGES, Query(where={"instanceId": IID, "remoteJid": ALICE}, order=(("createdMs", True), ("position", True)))
    )
    assert [r["messageId"] for r in rows] == ["B", "LIVE", "A"]
    group = rig.chat(GROUP)
    assert (group["isGroup"], group["name"], group["messageCount"]) == (True, None, 1)
    assert rig.public("G")["sender"] == BOB


def test_one_batch_reads_history_once() -> None:
    """The rows of a batch are looked up with one `get_many` (and no `get` per message): counted on the fake."""
    rig = Rig(None)
    calls: list[str] = []
    session = rig.fake
    get, get_many = session.get, session.get_many

    def counting_get(collection: Any, key: str) -> Any:
        calls.append(f"get {collection.name}")
        return get(collection, key)

    def counting_get_many(collection: Any, keys: Any) -> Any:
        calls.append(f"get_many {collection.name} {len(keys)}")
        return get_many(collection, keys)

    session.get, session.get_many = counting_get, counting_get_many  # type: ignore[method-assign]
    rig.feed(sync(*(old(f"N{i}", T0 + i) for i in range(500)), old("G1", T0, sender=BOB, chat=GROUP)), NOW_MS)
    assert calls.count(f"get_many {MESSAGES.name} 501") == 1
    assert [c for c in calls if c.startswith("get ")] == [f"get {CHATS.name}", f"get {CHATS.name}"]


def test_usage_counts_live_messages_only() -> None:
    rig = ProjectionRig(StatsProjection(), None)
    rig.feed(
        IID,
        InstanceCreated(
            instance_id=IID,
            user_id="u1",
            name="Main",
            description=None,
            webhook_url=None,
            webhook_enabled=False,
            webhook_settings={},
        ),
    )
    assert HistorySynced.type not in StatsProjection.topics
    rig.feed(IID, sync(old("H1", T0), old("H2", T0, message_type="image", media_size=10)))
    rig.feed(IID, received("LIVE"))
    [day] = rig.find(USAGE, Query())
    assert (day["messagesReceived"], day["mediaReceived"], day["totalMediaSize"]) == (1, 0, 0)


def test_the_public_payload_counts_and_never_carries_the_messages() -> None:
    event = sync(old("H1", T0), old("H2", T0, sender=BOB), progress=100)
    data = event_data(RecordedEvent(IID, 9, NOW_MS, 42, event))
    assert data == {"instanceId": IID, "messages": 2, "chats": 2, "progress": 100}


def test_a_batch_message_stands_for_the_message_received_it_would_have_been() -> None:
    live = received("X", sent_at=T0, caption="c", mentions=["a@s.whatsapp.net"], extra={"seconds": 3})
    compact = compact_message(live)
    assert "instance_id" not in compact and "forwarded" not in compact and "media_path" not in compact
    assert history_message(IID, compact) == live
    assert isinstance(history_message(IID, compact), MessageReceived)
