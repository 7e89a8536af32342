"""neonize's `HistorySyncEv` → `HistoryIn`, the edge cases, on real protobufs (serialized and parsed back).

The full chunk through neonize's dispatch path is `tests/contract/test_neonize_history.py`.
"""

from __future__ import annotations

from neonize.events import EVENT_TO_INT, HistorySyncEv
from neonize.proto.waCommon.WACommon_pb2 import MessageKey
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import (
    ContactMessage,
    DocumentMessage,
    Message,
    PollCreationMessage,
    PollUpdateMessage,
)
from neonize.proto.waHistorySync.WAWebProtobufsHistorySync_pb2 import (
    Conversation,
    HistorySync,
    HistorySyncMsg,
    Pushname,
)
from neonize.proto.waWeb.WAWebProtobufsWeb_pb2 import WebMessageInfo

from wamux.adapters.whatsapp import neonize_mapping as mapping
from wamux.adapters.whatsapp.neonize_history import history_message
from wamux.core.ports import ContactCard, ContactUpdate, HistoryIn, IdentityIn, Poll

ALICE = "4915112345678@s.whatsapp.net"
GROUP = "120363025246125486@g.us"


def mapped(data: HistorySync) -> list[object]:
    event = HistorySyncEv.FromString(HistorySyncEv(Data=data).SerializePartialToString())
    return list(mapping.transport_events(event))


def web(message_id: str, content: Message, *, chat: str = ALICE, **key: object) -> WebMessageInfo:
    return WebMessageInfo(key=MessageKey(remoteJID=chat, ID=message_id, **key), message=content, messageTimestamp=7)


def test_history_sync_is_a_registered_event_with_a_dispatch_code() -> None:
    assert HistorySyncEv in mapping.event_mappers() and HistorySyncEv in EVENT_TO_INT


def test_an_empty_chunk_means_nothing() -> None:
    assert mapped(HistorySync(syncType=HistorySync.RECENT)) == []


def test_a_push_name_chunk_carries_contacts_only() -> None:
    names = [Pushname(ID="4915112345678:2@s.whatsapp.net", pushname="Al"), Pushname(ID=GROUP)]  # no name: none
    data = HistorySync(syncType=HistorySync.PUSH_NAME, pushnames=names)
    assert mapped(data) == [
        HistoryIn(
            messages=(), chats=0, progress=None, sync_type="push_name", contacts=(ContactUpdate(ALICE, push_name="Al"),)
        )
    ]


def test_half_a_pair_is_no_identity_and_progress_is_bounded() -> None:
    lone = Conversation(ID="98765432101234@lid", lidJID="98765432101234@lid")
    swapped = Conversation(ID=ALICE, lidJID=ALICE, pnJID="98765432101234@lid")  # not a LID and a phone
    swapped.messages.append(HistorySyncMsg(message=web("M1", Message(conversation="hi"))))
    events = mapped(HistorySync(syncType=HistorySync.FULL, progress=250, conversations=[lone, swapped]))
    assert not any(isinstance(e, IdentityIn) for e in events)
    [chunk] = events
    assert isinstance(chunk, HistoryIn)
    assert ([m.message_id for m in chunk.messages], chunk.chats, chunk.progress, chunk.sync_type) == (
        ["M1"],
        2,
        100,
        "full",
    )


def test_kinds_keep_their_content_and_votes_are_skipped() -> None:
    document = web("D1", Message(documentMessage=DocumentMessage(fileName="a.pdf", mimetype="application/pdf")))
    card = web(
        "C1",
        Message(contactMessage=ContactMessage(displayName="Ann", vcard="BEGIN:VCARD\nTEL;waid=4915:+4915\nEND:VCARD")),
    )
    poll = web(
        "P1",
        Message(
            pollCreationMessage=PollCreationMessage(name="Lunch?", options=[{"optionName": "a"}, {"optionName": "b"}])
        ),
    )
    vote = web("V1", Message(pollUpdateMessage=PollUpdateMessage(pollCreationMessageKey=MessageKey(ID="P1"))))
    got = [history_message(ALICE, m) for m in (document, card, poll, vote)]
    assert got[0] is not None and (got[0].message_type, got[0].file_name, got[0].file_size) == (
        "document",
        "a.pdf",
        None,
    )
    assert got[1] is not None and got[1].contacts == (
        ContactCard(name="Ann", phone="4915", vcard=card.message.contactMessage.vcard),
    )
    assert got[2] is not None and got[2].poll == Poll("Lunch?", ("a", "b"), 2)
    assert got[3] is None


def test_a_group_message_names_its_participant_and_ours_name_nobody() -> None:
    theirs = web("G1", Message(conversation="hi"), chat=GROUP, participant="4915199999999:7@s.whatsapp.net")
    ours = web("G2", Message(conversation="me"), chat=GROUP, fromMe=True)
    first, second = history_message(GROUP, theirs), history_message(GROUP, ours)
    assert first is not None and (first.sender_jid, first.is_group, first.timestamp) == (
        "4915199999999@s.whatsapp.net",
        True,
        7,
    )
    assert second is not None and (second.sender_jid, second.from_me) == ("", True)
    no_key = WebMessageInfo(key=MessageKey(remoteJID=ALICE), message=Message(conversation="x"))
    assert history_message(ALICE, no_key) is None
    keyless_chat = history_message(ALICE, web("W1", Message(conversation="no remoteJID in its key"), chat=""))
    assert keyless_chat is not None and keyless_chat.chat_jid == ALICE  # the conversation's own id
