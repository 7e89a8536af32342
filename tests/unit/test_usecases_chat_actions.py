"""`ChatActionUseCases` over the fakes: read receipts, reactions, edits, deletes for everyone, presence and
number checks — what the session was asked (with which `MessageRef`) and what the actor recorded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from trio.testing import MockClock

from tests.unit.usecase_rig import GROUP, JID, PEER, Core, open_core
from wamux.core.instance_actor import InstanceActor
from wamux.core.ports import MessageRef, NumberCheck, TransportError
from wamux.domain.errors import (
    InstanceNotConnected,
    MessageNotFound,
    NotEditable,
    NotRevocable,
    TransportFailed,
    Unavailable,
    ValidationFailed,
)
from wamux.domain.events import ChatRead, MessageEdited, MessageReaction, MessageRevoked
from wamux.domain.messages import EDIT_WINDOW_MS

OTHER = "79001112233@s.whatsapp.net"


@pytest.fixture
async def core() -> AsyncIterator[Core]:
    async with open_core() as core:
        yield core


def wire_calls(core: Core, actor: InstanceActor) -> list[tuple[str, tuple[object, ...]]]:
    """The session calls besides connecting, liveness and the groups read after connecting."""
    calls = core.session(actor).calls
    return [(c.method, c.args) for c in calls if c.method not in ("connect", "ping", "joined_groups")]


async def own_text(core: Core, actor: InstanceActor, text: str = "hello") -> str:
    return (await core.uc.messaging.send_text(core.alice, actor.id, PEER, text)).message_id


# ---- mark_read -----------------------------------------------------------------------------------


async def test_mark_read_sends_receipts_for_the_unread_then_records_chat_read(
    core: Core, autojump_clock: MockClock
) -> None:
    actor = await core.connected(core.alice)
    for mid in ("IN-1", "IN-2"):
        await core.receive(actor, mid)
    assert await core.uc.chats.mark_read(core.alice, actor.id, PEER) == 2
    ((chat, sender, ids),) = [c.args for c in core.session(actor).called("mark_read")]
    assert (chat, sender, sorted(ids)) == (PEER, PEER, ["IN-1", "IN-2"])
    (read,) = core.store.events(actor.id, ChatRead)
    assert (read.chat_jid, sorted(read.message_ids)) == (PEER, ["IN-1", "IN-2"])
    assert await core.uc.chats.mark_read(core.alice, actor.id, PEER) == 0  # nothing unread any more
    assert len(core.session(actor).called("mark_read")) == 1


async def test_in_a_group_one_receipt_call_goes_to_each_sender(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    for mid, sender in (("G-1", PEER), ("G-2", OTHER), ("G-3", PEER)):
        await core.receive(actor, mid, sender=sender, chat=GROUP)
    await core.receive(actor, "ELSEWHERE")  # the 1:1 chat is not marked
    assert await core.uc.chats.mark_read(core.alice, actor.id, GROUP) == 3
    calls = {(c.args[0], c.args[1]): sorted(c.args[2]) for c in core.session(actor).called("mark_read")}
    assert calls == {(GROUP, PEER): ["G-1", "G-3"], (GROUP, OTHER): ["G-2"]}
    (read,) = core.store.events(actor.id, ChatRead)
    assert sorted(read.message_ids) == ["G-1", "G-2", "G-3"]


async def test_offline_mark_read_sends_no_receipts_but_still_records_chat_read(
    core: Core, autojump_clock: MockClock
) -> None:
    actor = await core.connected(core.alice)
    await core.receive(actor, "IN-1")
    await core.uc.instances.logout(core.alice, actor.id)
    assert await core.uc.chats.mark_read(core.alice, actor.id, PEER) == 0
    assert core.session(actor).called("mark_read") == []
    assert core.store.events(actor.id, ChatRead) == [ChatRead(instance_id=actor.id, chat_jid=PEER, message_ids=[])]


async def test_a_chat_with_nothing_unread_needs_no_connection(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.instance(core.alice)  # showing a QR code
    assert await core.uc.chats.mark_read(core.alice, actor.id, PEER) == 0
    assert core.store.events(actor.id, ChatRead) == [ChatRead(instance_id=actor.id, chat_jid=PEER)]


async def test_failing_receipts_record_no_chat_read(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    await core.receive(actor, "IN-1")
    core.session(actor).fail("mark_read", TransportError("no route", retryable=True))
    with pytest.raises(Unavailable):
        await core.uc.chats.mark_read(core.alice, actor.id, PEER)
    assert core.store.events(actor.id, ChatRead) == []


# ---- react -----------------------------------------------------------------------------------------


async def test_react_to_a_received_message(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    await core.receive(actor, "IN-1", "lunch?")
    reaction_id = await core.uc.chats.react(core.alice, actor.id, "IN-1", "👍")
    assert wire_calls(core, actor) == [("react", (MessageRef("IN-1", PEER, PEER, False, "lunch?", "text"), "👍"))]
    assert core.store.events(actor.id, MessageReaction) == [
        MessageReaction(
            instance_id=actor.id,
            message_id="IN-1",
            chat_jid=PEER,
            sender_jid=JID,
            emoji="👍",
            from_me=True,
            reaction_id=reaction_id,
        )
    ]


async def test_react_to_our_own_message_names_us_as_its_sender(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    mid = await own_text(core, actor)
    await core.uc.chats.react(core.alice, actor.id, mid, "")  # "" removes our reaction
    ((target, emoji),) = [c.args for c in core.session(actor).called("react")]
    assert (target, emoji) == (MessageRef(mid, PEER, JID, True, "hello", "text"), "")


async def test_react_to_an_unknown_or_revoked_message_is_refused(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    with pytest.raises(MessageNotFound):
        await core.uc.chats.react(core.alice, actor.id, "NOPE", "👍")
    mid = await own_text(core, actor)
    await core.uc.chats.revoke(core.alice, actor.id, mid)
    with pytest.raises(ValidationFailed):
        await core.uc.chats.react(core.alice, actor.id, mid, "👍")
    assert core.session(actor).called("react") == [] and core.store.events(actor.id, MessageReaction) == []


async def test_react_needs_a_connection(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    await core.receive(actor, "IN-1")
    await core.uc.instances.logout(core.alice, actor.id)
    with pytest.raises(InstanceNotConnected):
        await core.uc.chats.react(core.alice, actor.id, "IN-1", "👍")
    assert core.session(actor).called("react") == []


# ---- edit ------------------------------------------------------------------------------------------


async def test_edit_our_own_text(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    mid = await own_text(core, actor, "helo")
    core.clock.advance(EDIT_WINDOW_MS - 60_000)  # 14 minutes later
    await core.uc.chats.edit(core.alice, actor.id, mid, "hello")
    ((target, text),) = [c.args for c in core.session(actor).called("edit")]
    assert (target, text) == (MessageRef(mid, PEER, JID, True, "helo", "text"), "hello")
    assert core.store.events(actor.id, MessageEdited) == [
        MessageEdited(instance_id=actor.id, message_id=mid, chat_jid=PEER, sender_jid=JID, body="hello", from_me=True)
    ]
    assert (await core.history.message(actor.id, mid) or {})["content"] == "hello"


async def test_edit_after_15_minutes_is_not_editable(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    mid = await own_text(core, actor)
    core.clock.advance(EDIT_WINDOW_MS + 1000)
    with pytest.raises(NotEditable) as refused:
        await core.uc.chats.edit(core.alice, actor.id, mid, "too late")
    assert refused.value.details is not None and refused.value.details["limitMs"] == EDIT_WINDOW_MS
    assert core.session(actor).called("edit") == [] and core.store.events(actor.id, MessageEdited) == []


async def test_only_our_own_live_text_is_editable(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    await core.receive(actor, "IN-1", "theirs")
    image = await core.uc.messaging.send_upload(
        core.alice, actor.id, PEER, b"\xff\xd8\xff\xe0" + bytes(60), caption="a photo", file_name=None
    )
    revoked = await own_text(core, actor)
    await core.uc.chats.revoke(core.alice, actor.id, revoked)
    for mid in ("IN-1", image.message_id, revoked):
        with pytest.raises(NotEditable):
            await core.uc.chats.edit(core.alice, actor.id, mid, "changed")
    with pytest.raises(MessageNotFound):
        await core.uc.chats.edit(core.alice, actor.id, "NOPE", "changed")
    assert core.session(actor).called("edit") == []


async def test_an_edit_whatsapp_refuses_is_transport_failed_and_not_recorded(
    core: Core, autojump_clock: MockClock
) -> None:
    actor = await core.connected(core.alice)
    mid = await own_text(core, actor)
    core.session(actor).fail("edit", TransportError("not allowed", retryable=False))
    with pytest.raises(TransportFailed):
        await core.uc.chats.edit(core.alice, actor.id, mid, "changed")
    assert core.store.events(actor.id, MessageEdited) == []


# ---- revoke ----------------------------------------------------------------------------------------


async def test_revoke_our_own_message(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    mid = await own_text(core, actor)
    await core.uc.chats.revoke(core.alice, actor.id, mid)
    ((target,),) = [c.args for c in core.session(actor).called("revoke")]
    assert target == MessageRef(mid, PEER, JID, True, "hello", "text")
    assert core.store.events(actor.id, MessageRevoked) == [
        MessageRevoked(instance_id=actor.id, message_id=mid, chat_jid=PEER, sender_jid=JID, from_me=True)
    ]
    with pytest.raises(NotRevocable):  # once is enough
        await core.uc.chats.revoke(core.alice, actor.id, mid)
    assert len(core.session(actor).called("revoke")) == 1


@pytest.mark.parametrize("chat", [PEER, GROUP])
async def test_revoke_of_someone_elses_message_is_not_revocable(
    core: Core, autojump_clock: MockClock, chat: str
) -> None:
    actor = await core.connected(core.alice)
    await core.receive(actor, "IN-1", chat=chat)
    with pytest.raises(NotRevocable):
        await core.uc.chats.revoke(core.alice, actor.id, "IN-1")
    assert core.session(actor).called("revoke") == [] and core.store.events(actor.id, MessageRevoked) == []


# ---- presence --------------------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["typing", "recording", "paused"])
async def test_chat_presence_goes_to_the_chat(core: Core, autojump_clock: MockClock, state: str) -> None:
    actor = await core.connected(core.alice)
    before = core.types(actor)
    await core.uc.chats.set_presence(core.alice, actor.id, state, "+7 900 765-43-21")
    assert wire_calls(core, actor) == [("send_chat_presence", (PEER, state))]
    assert core.types(actor) == before  # presence is not recorded


@pytest.mark.parametrize("state", ["available", "unavailable"])
async def test_account_presence_needs_no_phone(core: Core, autojump_clock: MockClock, state: str) -> None:
    actor = await core.connected(core.alice)
    await core.uc.chats.set_presence(core.alice, actor.id, state, None)
    assert wire_calls(core, actor) == [("send_presence", (state,))]


@pytest.mark.parametrize(("state", "phone"), [("typing", None), ("available", PEER), ("dancing", PEER), ("", None)])
async def test_a_state_that_does_not_fit_is_refused(
    core: Core, autojump_clock: MockClock, state: str, phone: str | None
) -> None:
    actor = await core.connected(core.alice)
    with pytest.raises(ValidationFailed):
        await core.uc.chats.set_presence(core.alice, actor.id, state, phone)
    assert wire_calls(core, actor) == []


async def test_presence_needs_a_connection(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.instance(core.alice)
    with pytest.raises(InstanceNotConnected):
        await core.uc.chats.set_presence(core.alice, actor.id, "available", None)


# ---- check numbers ---------------------------------------------------------------------------------


async def test_check_asks_for_the_digits_and_answers_what_whatsapp_said(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.connected(core.alice)
    known = NumberCheck(phone="79007654321", exists=True, jid=PEER)
    core.session(actor).directory["79007654321"] = known
    answer = await core.uc.chats.check(core.alice, actor.id, ["+7 900 765-43-21", "79001112233@s.whatsapp.net"])
    assert answer == [known, NumberCheck(phone="79001112233", exists=False)]
    assert wire_calls(core, actor) == [("check_numbers", (("79007654321", "79001112233"),))]


@pytest.mark.parametrize("count", [1, 50])
async def test_check_takes_1_to_50_phones(core: Core, autojump_clock: MockClock, count: int) -> None:
    actor = await core.connected(core.alice)
    phones = [f"7900000{n:04d}" for n in range(count)]
    assert len(await core.uc.chats.check(core.alice, actor.id, phones)) == count


@pytest.mark.parametrize(
    "phones",
    [[], [f"7900000{n:04d}" for n in range(51)], [GROUP], ["79007654321", "not a phone"], ["123@lid"]],
    ids=["none", "51", "group", "invalid", "lid"],
)
async def test_check_refuses_what_is_not_1_to_50_phone_numbers(
    core: Core, autojump_clock: MockClock, phones: list[str]
) -> None:
    actor = await core.connected(core.alice)
    with pytest.raises(ValidationFailed):
        await core.uc.chats.check(core.alice, actor.id, phones)
    assert wire_calls(core, actor) == []


async def test_check_needs_a_connection(core: Core, autojump_clock: MockClock) -> None:
    actor = await core.instance(core.alice)
    with pytest.raises(InstanceNotConnected):
        await core.uc.chats.check(core.alice, actor.id, ["79007654321"])
