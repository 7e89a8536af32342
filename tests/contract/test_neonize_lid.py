"""LID-addressed traffic on neonize, end to end (API-2 §5): a `MessageEv` whose sender is a LID and whose
`SenderAlt` is the phone goes through neonize's real dispatch path, then through an instance actor, and is
recorded under the phone with the LID beside it; a send to a LID reaches `send_message` as that LID.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from neonize.events import MessageEv
from neonize.proto.Neonize_pb2 import MessageInfo, MessageSource
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message

from tests.contract.test_neonize_account import ALICE_LID, lid
from tests.contract.test_neonize_incoming import dispatched
from tests.contract.test_neonize_session import ALICE, ALICE_JID, connected, jid
from tests.unit.usecase_rig import Core, open_core
from wamux.core.ports import IdentityIn, IncomingMessage, OutgoingMessage
from wamux.domain.events import IdentityLearned, MessageReceived

SECONDS = 1_700_000_000
ALICE_AT_LID = f"{ALICE_LID}@lid"


def from_lid_with_phone(message_id: str = "3EB0FROMLID") -> MessageEv:
    """A direct message as WhatsApp sends it now: chat and sender by LID, the phone as the sender's alt."""
    source = MessageSource(Chat=lid(ALICE_LID), Sender=lid(ALICE_LID, device=2), SenderAlt=jid(ALICE), IsGroup=False)
    return MessageEv(
        Info=MessageInfo(ID=message_id, Pushname="Alice", Timestamp=SECONDS, MessageSource=source),
        Message=Message(conversation="hello from my LID"),
    )


@pytest.fixture
async def core() -> AsyncIterator[Core]:
    async with open_core() as core:
        yield core


async def test_a_message_from_a_lid_arrives_after_its_pair_and_is_recorded_under_the_phone(
    tmp_path: Path, core: Core
) -> None:
    events = await dispatched(tmp_path, from_lid_with_phone())
    assert events[0] == IdentityIn(lid=ALICE_AT_LID, phone_jid=ALICE_JID)
    message = events[1]
    assert isinstance(message, IncomingMessage)
    assert (message.chat_jid, message.sender_jid, message.body) == (ALICE_AT_LID, ALICE_AT_LID, "hello from my LID")
    assert len(events) == 2

    actor = await core.connected(core.alice)  # on the real clock: the dispatch above runs in a real thread
    for event in events:  # what the session's emit hands the actor, in order
        await core.session(actor).report(event)
    assert core.types(actor)[-2:] == ["identity_learned", "message_received"]
    assert core.store.events(actor.id, IdentityLearned)[-1].phone_jid == ALICE_JID
    (received,) = core.store.events(actor.id, MessageReceived)
    assert (received.sender_jid, received.from_lid, received.chat_jid, received.chat_lid) == (
        ALICE_JID,
        ALICE_AT_LID,
        ALICE_JID,
        ALICE_AT_LID,
    )


async def test_a_send_to_a_lid_goes_to_send_message_as_that_lid(tmp_path: Path) -> None:
    async with connected(tmp_path) as (session, client, _received):
        message_id = await session.send(OutgoingMessage(to=ALICE_AT_LID, kind="text", text="hi by LID"))
        await session.send(OutgoingMessage(to=f"{ALICE_LID}:3@lid", kind="text", text="one device"))
    assert message_id == "3EB0SENT1"
    by_lid, by_device = client.sent
    assert (by_lid.to, by_lid.message) == (ALICE_AT_LID, "hi by LID")
    assert by_device.to == f"{ALICE_LID}:3@lid"  # the JID as given, device and all
