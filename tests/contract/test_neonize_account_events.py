"""Group events, call offers and LID-addressed traffic through neonize's real dispatch path, offline.

As in `test_neonize_incoming.py`, each event is serialized and fed to a real client's
`event.execute` from a worker thread; what `emit` gets in the trio thread is the answer. Every
LID ⇄ phone pair an event carries arrives first, as `IdentityIn`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from neonize.events import CallOfferEv, GroupInfoEv, JoinedGroupEv, MessageEv, ReceiptEv
from neonize.proto.Neonize_pb2 import (
    BasicCallMeta,
    GroupAnnounce,
    GroupLocked,
    GroupName,
    GroupTopic,
    MessageInfo,
    MessageSource,
    Node,
    NodeAttrs,
)
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message

from tests.contract.test_neonize_account import (
    ALICE_LID,
    ALICE_PAIR,
    BOB,
    BOB_LID,
    CAROL,
    GROUP,
    LUNCH,
    OWN_PAIR,
    group_proto,
    lid,
    member,
)
from tests.contract.test_neonize_incoming import dispatched
from tests.contract.test_neonize_session import ALICE, ALICE_JID, GROUP_JID, OWN, OWN_JID, jid
from wamux.core.ports import (
    CallIn,
    GroupJoinedIn,
    GroupParticipantsIn,
    GroupUpdatedIn,
    IdentityIn,
    IncomingMessage,
    Receipt,
    TransportEvent,
)

SECONDS = 1_700_000_000
ALICE_AT_LID = f"{ALICE_LID}@lid"
BOB_AT_LID = f"{BOB_LID}@lid"
CAROL_JID = f"{CAROL}@s.whatsapp.net"


def offer(*children: str, **attributes: str) -> Node:
    """The `<offer>` node whatsmeow hands over as a call offer's `data`."""
    attrs = [NodeAttrs(name="call-id", text="CALL-1"), *(NodeAttrs(name=k, text=v) for k, v in attributes.items())]
    return Node(Tag="offer", Attrs=attrs, Nodes=[Node(Tag=tag) for tag in children])


def call(data: Node, creator: Any = None, alt: Any = None) -> CallOfferEv:
    meta = BasicCallMeta(timestamp=SECONDS, callCreator=creator or lid(ALICE_LID, device=3), callID="CALL-1")
    if alt is not None:
        meta.callCreatorAlt.CopyFrom(alt)
    return CallOfferEv(basicCallMeta=meta, data=data)


def message(source: MessageSource, message_id: str = "3EB0LID") -> MessageEv:
    return MessageEv(
        Info=MessageInfo(ID=message_id, Pushname="Alice", Timestamp=SECONDS, MessageSource=source),
        Message=Message(conversation="hi"),
    )


def text_in(chat: str, sender: str, *, is_group: bool = False, from_me: bool = False) -> IncomingMessage:
    return IncomingMessage(
        message_id="3EB0LID",
        chat_jid=chat,
        sender_jid=sender,
        message_type="text",
        wa_type="conversation",
        body="hi",
        push_name="Alice",
        is_group=is_group,
        from_me=from_me,
        timestamp=SECONDS,
    )


CASES: list[tuple[str, Any, list[TransportEvent]]] = [
    (
        "added to a group by a LID",
        JoinedGroupEv(
            GroupInfo=group_proto(member(OWN, owner=True), member(ALICE)),
            Sender=lid(ALICE_LID),
            SenderPN=jid(ALICE),
            Type="new",
        ),
        [ALICE_PAIR, OWN_PAIR, GroupJoinedIn(group=LUNCH, by=ALICE_JID)],
    ),
    (
        "group info and participants changed",
        GroupInfoEv(
            JID=jid(GROUP, "g.us"),
            Sender=jid(ALICE, device=2),
            Timestamp=SECONDS,
            Name=GroupName(Name="Dinner"),
            Topic=GroupTopic(Topic="Saturdays", TopicID="T2"),
            Announce=GroupAnnounce(IsAnnounce=False),
            Locked=GroupLocked(isLocked=True),
            Join=[lid(BOB_LID)],
            Leave=[jid(CAROL)],
            Promote=[jid(ALICE), lid(BOB_LID)],
            Demote=[jid(OWN)],
        ),
        [
            GroupUpdatedIn(
                GROUP_JID, subject="Dinner", description="Saturdays", announce=False, locked=True, by=ALICE_JID
            ),
            GroupParticipantsIn(GROUP_JID, "add", (BOB_AT_LID,), by=ALICE_JID),
            GroupParticipantsIn(GROUP_JID, "remove", (CAROL_JID,), by=ALICE_JID),
            GroupParticipantsIn(GROUP_JID, "promote", (ALICE_JID, BOB_AT_LID), by=ALICE_JID),
            GroupParticipantsIn(GROUP_JID, "demote", (OWN_JID,), by=ALICE_JID),
        ],
    ),
    (
        "description deleted",
        GroupInfoEv(JID=jid(GROUP, "g.us"), Sender=jid(ALICE), Topic=GroupTopic(TopicDeleted=True)),
        [GroupUpdatedIn(GROUP_JID, description="", by=ALICE_JID)],
    ),
    (
        "someone left",
        GroupInfoEv(JID=jid(GROUP, "g.us"), Leave=[lid(ALICE_LID)]),
        [GroupParticipantsIn(GROUP_JID, "remove", (ALICE_AT_LID,))],
    ),
    (
        "voice call from a LID with its phone",
        call(offer("audio"), alt=jid(ALICE)),
        [ALICE_PAIR, CallIn("CALL-1", ALICE_AT_LID, is_video=False, is_group=False, timestamp=SECONDS)],
    ),
    (
        "video call",
        call(offer("audio", "video"), creator=jid(ALICE)),
        [CallIn("CALL-1", ALICE_JID, is_video=True, is_group=False, timestamp=SECONDS)],
    ),
    (
        "group call",
        call(offer("audio", **{"group-jid": GROUP_JID}), creator=jid(ALICE)),
        [CallIn("CALL-1", ALICE_JID, is_video=False, is_group=True, timestamp=SECONDS)],
    ),
    (
        "a message from a LID with its phone: the sender stays the LID",
        message(MessageSource(Chat=lid(ALICE_LID), Sender=lid(ALICE_LID, device=4), SenderAlt=jid(ALICE))),
        [ALICE_PAIR, text_in(ALICE_AT_LID, ALICE_AT_LID)],
    ),
    (
        "a group message by phone with its LID",
        message(
            MessageSource(Chat=jid(GROUP, "g.us"), Sender=jid(ALICE), SenderAlt=lid(ALICE_LID), IsGroup=True),
        ),
        [ALICE_PAIR, text_in(GROUP_JID, ALICE_JID, is_group=True)],
    ),
    (
        "our own message from the phone, to a chat with its LID",
        message(
            MessageSource(Chat=jid(ALICE), Sender=jid(OWN), RecipientAlt=lid(ALICE_LID), IsFromMe=True),
        ),
        [ALICE_PAIR, text_in(ALICE_JID, OWN_JID, from_me=True)],
    ),
    (
        "a message from a LID nobody paired",
        message(MessageSource(Chat=lid(ALICE_LID), Sender=lid(ALICE_LID))),
        [text_in(ALICE_AT_LID, ALICE_AT_LID)],
    ),
    (
        "a receipt from a LID with its phone",
        ReceiptEv(
            MessageSource=MessageSource(Chat=lid(BOB_LID), Sender=lid(BOB_LID), SenderAlt=jid(BOB)),
            MessageIDs=["3EB0SENT"],
            Timestamp=SECONDS,
            Type=ReceiptEv.READ,
        ),
        [
            IdentityIn(lid=BOB_AT_LID, phone_jid=f"{BOB}@s.whatsapp.net"),
            Receipt(("3EB0SENT",), "read", chat_jid=BOB_AT_LID, sender_jid=BOB_AT_LID),
        ],
    ),
]


@pytest.mark.parametrize(("event", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
async def test_each_event_arrives_as_its_transport_events(
    tmp_path: Path, event: Any, expected: list[TransportEvent]
) -> None:
    assert await dispatched(tmp_path, event) == expected


async def test_a_call_offer_without_a_caller_or_id_is_ignored(tmp_path: Path) -> None:
    nameless = CallOfferEv(basicCallMeta=BasicCallMeta(timestamp=SECONDS, callCreator=jid(ALICE)), data=offer())
    assert await dispatched(tmp_path, nameless, call(offer("video"), creator=jid(ALICE))) == [
        CallIn("CALL-1", ALICE_JID, is_video=True, timestamp=SECONDS)
    ]
