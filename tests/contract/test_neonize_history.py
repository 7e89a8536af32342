"""A history sync on neonize, end to end (API-2 §6): a real `HistorySyncEv` goes through neonize's dispatch
path (`client.event.execute`, as the Go side calls it), comes out of the session as LID ⇄ phone pairs and
one `HistoryIn`, and an instance actor records it as `history_sync` batches, never as `message_received`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from neonize.events import HistorySyncEv
from neonize.proto.waCommon.WACommon_pb2 import MessageKey
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import (
    AudioMessage,
    ContextInfo,
    ExtendedTextMessage,
    ImageMessage,
    LocationMessage,
    Message,
    ProtocolMessage,
    ReactionMessage,
)
from neonize.proto.waHistorySync.WAWebProtobufsHistorySync_pb2 import (
    Conversation,
    HistorySync,
    HistorySyncMsg,
    PhoneNumberToLIDMapping,
    Pushname,
)
from neonize.proto.waWeb.WAWebProtobufsWeb_pb2 import WebMessageInfo

from tests.contract.test_neonize_incoming import dispatched
from tests.unit.usecase_rig import JID, Core, open_core
from wamux.core.ports import ContactUpdate, HistoryIn, IdentityIn, IncomingMessage, Location
from wamux.domain.events import HistorySynced

ALICE_JID = "4915112345678@s.whatsapp.net"
ALICE_LID = "98765432101234@lid"
BOB_JID = "4915199999999@s.whatsapp.net"
CAROL_JID = "4915100000000@s.whatsapp.net"
CAROL_LID = "11111111111111@lid"
GROUP_JID = "120363025246125486@g.us"
T0 = 1_700_000_000


def info(message_id: str, chat: str, content: Message | None, at: int, **fields: object) -> HistorySyncMsg:
    """One message of a conversation, as a `WebMessageInfo` in the sync."""
    from_me = bool(fields.pop("from_me", False))
    participant = str(fields.pop("participant", ""))
    key = MessageKey(remoteJID=chat, fromMe=from_me, ID=message_id, participant=participant)
    web = WebMessageInfo(key=key, messageTimestamp=at, **fields)  # type: ignore[arg-type]
    if content is not None:
        web.message.CopyFrom(content)
    return HistorySyncMsg(message=web, msgOrderID=at)


def sync_event() -> HistorySyncEv:
    alice = Conversation(
        ID=ALICE_JID,
        lidJID=ALICE_LID,
        pnJID=ALICE_JID,
        messages=[
            info("H1", ALICE_JID, Message(conversation="hello"), T0, pushName="Alice"),
            info(
                "H2",
                ALICE_JID,
                Message(
                    extendedTextMessage=ExtendedTextMessage(
                        text="hi @4915199999999", contextInfo=ContextInfo(stanzaID="H1", mentionedJID=[BOB_JID])
                    )
                ),
                T0 + 60,
                from_me=True,
            ),
            info(
                "H3",
                ALICE_JID,
                Message(imageMessage=ImageMessage(caption="beach", mimetype="image/jpeg", fileLength=2048)),
                T0 + 120,
                pushName="Alice",
            ),
            info(
                "H4",
                ALICE_JID,
                Message(audioMessage=AudioMessage(PTT=True, seconds=7, mimetype="audio/ogg; codecs=opus")),
                T0 + 180,
                pushName="Alice",
            ),
            # What changes another message, and what is no message, is not history of its own.
            info(
                "H5", ALICE_JID, Message(reactionMessage=ReactionMessage(key=MessageKey(ID="H1"), text="👍")), T0 + 200
            ),
            info(
                "H6",
                ALICE_JID,
                Message(protocolMessage=ProtocolMessage(key=MessageKey(ID="H2"), type=ProtocolMessage.REVOKE)),
                T0 + 210,
            ),
            info("H7", ALICE_JID, None, T0 + 220, messageStubType=WebMessageInfo.E2E_ENCRYPTED),
        ],
    )
    group = Conversation(
        ID=GROUP_JID,
        messages=[
            info(
                "G1",
                GROUP_JID,
                Message(locationMessage=LocationMessage(degreesLatitude=52.5, degreesLongitude=13.4, name="Berlin")),
                T0 + 30,
                participant="4915199999999:3@s.whatsapp.net",
                pushName="Bob",
            )
        ],
    )
    data = HistorySync(
        syncType=HistorySync.INITIAL_BOOTSTRAP,
        progress=42,
        conversations=[alice, group],
        pushnames=[Pushname(ID=ALICE_JID, pushname="Alice"), Pushname(ID=BOB_JID, pushname="Bob"), Pushname(ID="")],
        phoneNumberToLidMappings=[PhoneNumberToLIDMapping(pnJID=CAROL_JID, lidJID=CAROL_LID)],
    )
    return HistorySyncEv(Data=data)


EXPECTED = HistoryIn(
    messages=(
        IncomingMessage(
            message_id="H1",
            chat_jid=ALICE_JID,
            sender_jid=ALICE_JID,
            message_type="text",
            body="hello",
            push_name="Alice",
            timestamp=T0,
            wa_type="conversation",
        ),
        IncomingMessage(
            message_id="H2",
            chat_jid=ALICE_JID,
            sender_jid="",  # ours: the core names the linked account
            message_type="text",
            body="hi @4915199999999",
            from_me=True,
            timestamp=T0 + 60,
            wa_type="extendedTextMessage",
            quoted_message_id="H1",
            mentions=(BOB_JID,),
        ),
        IncomingMessage(
            message_id="H3",
            chat_jid=ALICE_JID,
            sender_jid=ALICE_JID,
            message_type="image",
            push_name="Alice",
            timestamp=T0 + 120,
            caption="beach",
            mime_type="image/jpeg",
            wa_type="imageMessage",
            file_size=2048,
        ),
        IncomingMessage(
            message_id="H4",
            chat_jid=ALICE_JID,
            sender_jid=ALICE_JID,
            message_type="voice",
            push_name="Alice",
            timestamp=T0 + 180,
            mime_type="audio/ogg; codecs=opus",
            extra={"seconds": 7},
            wa_type="audioMessage",
            ptt=True,
        ),
        IncomingMessage(
            message_id="G1",
            chat_jid=GROUP_JID,
            sender_jid=BOB_JID,
            message_type="location",
            push_name="Bob",
            is_group=True,
            timestamp=T0 + 30,
            wa_type="locationMessage",
            location=Location(52.5, 13.4, "Berlin"),
        ),
    ),
    chats=2,
    progress=42,
    sync_type="initial_bootstrap",
    contacts=(ContactUpdate(jid=ALICE_JID, push_name="Alice"), ContactUpdate(jid=BOB_JID, push_name="Bob")),
)


@pytest.fixture
async def core() -> AsyncIterator[Core]:
    async with open_core() as core:
        yield core


async def test_a_history_sync_arrives_as_its_pairs_and_one_chunk_without_media(tmp_path: Path) -> None:
    events = await dispatched(tmp_path, sync_event())
    assert events == [
        IdentityIn(lid=CAROL_LID, phone_jid=CAROL_JID),
        IdentityIn(lid=ALICE_LID, phone_jid=ALICE_JID),
        EXPECTED,
    ]


async def test_the_actor_records_the_dispatched_sync_as_history_batches(tmp_path: Path, core: Core) -> None:
    events = await dispatched(tmp_path, sync_event())
    actor = await core.connected(core.alice)  # on the real clock: the dispatch above runs in a real thread
    before = len(core.types(actor))
    for event in events:  # what the session's emit hands the actor, in order
        await core.session(actor).report(event)
    assert core.types(actor)[before:] == ["identity_learned", "identity_learned", "contacts_imported", "history_sync"]
    (batch,) = core.store.events(actor.id, HistorySynced)
    by_id = {m["message_id"]: m for m in batch.messages}
    assert list(by_id) == ["H1", "H2", "H3", "H4", "G1"]
    assert (by_id["H1"]["chat_lid"], by_id["H1"]["from_lid"]) == (ALICE_LID, ALICE_LID)
    assert (by_id["H2"]["sender_jid"], by_id["H3"]["media_size"], by_id["H3"]["extra"]) == (
        JID,
        2048,
        {"mediaDownloaded": False},
    )
    assert (batch.chats, batch.progress, batch.sync_type) == (2, 42, "initial_bootstrap")
    assert "message_received" not in core.types(actor)
