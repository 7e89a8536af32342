"""NeonizeSession's outbound side, connected to a recording stand-in for neonize's client.

The stand-in (`RecordingClient`) answers the calls that would reach the Go side (send, upload,
reaction and poll builders, receipts, presence, number checks, poll-vote decryption) and runs
neonize's own Python for everything else (`build_reply_message`, the media builders, `edit_message`,
`revoke_message`, the event dispatcher), so the protobufs asserted here are the ones neonize would
send. Its methods must keep the signatures of `neonize.client.NewClient`: an upgrade that changes
one fails `test_the_stand_in_has_neonizes_signatures`.
"""

from __future__ import annotations

import hashlib
import inspect
import io
import shutil
import subprocess
import threading
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import trio
from neonize.client import NewClient
from neonize.events import Event, MessageEv
from neonize.exc import DecryptPollVoteError, GetJIDFromStoreError, SendMessageError
from neonize.proto.Neonize_pb2 import (
    JID,
    Device,
    IsOnWhatsAppResponse,
    MessageInfo,
    MessageSource,
    SendResponse,
    UploadResponse,
)
from neonize.proto.waCommon.WACommon_pb2 import MessageKey
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import (
    ExtendedTextMessage,
    Message,
    MessageContextInfo,
    PollCreationMessage,
    PollUpdateMessage,
    PollVoteMessage,
    ReactionMessage,
)
from neonize.utils.enum import VoteType
from neonize.utils.jid import Jid2String, JIDToNonAD

from tests.contract.test_neonize_transport import Recorder, dispatch
from wamux.adapters.whatsapp.neonize_session import NeonizeSession
from wamux.core.ports import MessageRef, OutgoingMessage, PollVoteIn, TransportError

OWN = "4915100000001"
OWN_JID = f"{OWN}@s.whatsapp.net"
ALICE = "4915112345678"
ALICE_JID = f"{ALICE}@s.whatsapp.net"
BOB_JID = "4915199999999@s.whatsapp.net"
GROUP_JID = "120363025246125486@g.us"

# The NewClient methods the stand-in answers itself: each must keep neonize's signature.
ANSWERED = (
    "connect",
    "stop",
    "send_message",
    "upload",
    "build_reaction",
    "build_poll_vote_creation",
    "mark_read",
    "send_chat_presence",
    "send_presence",
    "is_on_whatsapp",
    "get_lid_from_pn",
    "get_me",
    "decrypt_poll_vote",
    "_generate_link_preview",
)


@dataclass
class Sent:
    to: str
    message: Any  # a waE2E Message, or the text neonize would turn into one
    options: dict[str, Any]


class RecordingClient:
    """neonize's `NewClient` without the Go side: what would cross into Go is recorded and answered."""

    # neonize's own Python, run as is.
    build_reply_message = NewClient.build_reply_message
    build_image_message = NewClient.build_image_message
    build_audio_message = NewClient.build_audio_message
    build_video_message = NewClient.build_video_message
    build_document_message = NewClient.build_document_message
    build_sticker_message = NewClient.build_sticker_message
    edit_message = NewClient.edit_message
    revoke_message = NewClient.revoke_message
    build_revoke = NewClient.build_revoke
    _make_quoted_message = NewClient._make_quoted_message
    _parse_mention = NewClient._parse_mention
    _parse_group_mention = NewClient._parse_group_mention

    def __init__(self, name: str) -> None:
        self.name = name
        self.event = Event(self)  # neonize's real dispatcher
        self.sent: list[Sent] = []
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.uploads: list[bytes] = []
        self.directory: dict[str, tuple[bool, str | None]] = {}  # phone → (on WhatsApp, LID)
        self.poll_votes: dict[str, list[bytes]] = {}  # poll id → the options the vote decrypts to
        self.fail_sends: Exception | None = None
        self.dialled = threading.Event()
        self._stopped = threading.Event()

    # ---- the connection
    def connect(self, proxy_settings: Any = None) -> None:
        self.dialled.set()
        self._stopped.wait()

    def stop(self) -> None:
        self._stopped.set()

    @property
    def is_connected(self) -> bool:
        return self.dialled.is_set() and not self._stopped.is_set()

    def get_me(self) -> Device:
        return Device(JID=jid(OWN, device=5), PushName="Me")

    # ---- what would go to WhatsApp
    def send_message(
        self,
        to: JID | str,
        message: Message | str,
        link_preview: bool = False,
        ghost_mentions: str | None = None,
        mentions_are_lids: bool = False,
        add_msg_secret: bool = False,
    ) -> SendResponse:
        if self.fail_sends is not None:
            raise self.fail_sends
        options = {
            "link_preview": link_preview,
            "ghost_mentions": ghost_mentions,
            "mentions_are_lids": mentions_are_lids,
        }
        assert isinstance(to, JID)
        self.sent.append(Sent(Jid2String(to), message, options))
        return SendResponse(ID=f"3EB0SENT{len(self.sent)}")

    def upload(self, binary: bytes, media_type: Any = None) -> UploadResponse:
        self.uploads.append(binary)
        digest = hashlib.sha256(binary).digest()
        return UploadResponse(
            url="https://mmg.whatsapp.net/x",
            DirectPath="/v/x",
            MediaKey=b"k" * 32,
            FileEncSHA256=digest,
            FileSHA256=digest,
            FileLength=len(binary),
        )

    def _generate_link_preview(self, text: str) -> ExtendedTextMessage | None:
        self.calls.append(("_generate_link_preview", (text,), {}))
        return ExtendedTextMessage(matchedText=text.split()[-1], title="A preview")

    def build_reaction(self, chat: JID, sender: JID, message_id: str, reaction: str) -> Message:
        # whatsmeow's BuildReaction / BuildMessageKey.
        key = MessageKey(remoteJID=Jid2String(chat), fromMe=True, ID=message_id)
        if sender.User != OWN:
            key.fromMe = False
            if chat.Server == "g.us":
                key.participant = Jid2String(JIDToNonAD(sender))
        return Message(reactionMessage=ReactionMessage(key=key, text=reaction, senderTimestampMS=1))

    def build_poll_vote_creation(
        self, name: str, options: list[str], selectable_count: VoteType, quoted: Any = None
    ) -> Message:
        # whatsmeow's BuildPollCreation, then neonize's quote.
        self.calls.append(("build_poll_vote_creation", (name, options, selectable_count), {}))
        poll = PollCreationMessage(
            name=name,
            options=[PollCreationMessage.Option(optionName=option) for option in options],
            selectableOptionsCount=selectable_count.value,
        )
        message = Message(pollCreationMessage=poll, messageContextInfo=MessageContextInfo(messageSecret=b"s" * 32))
        if quoted:
            message.pollCreationMessage.contextInfo.MergeFrom(self._make_quoted_message(quoted))
        return message

    def decrypt_poll_vote(self, message: Any) -> PollVoteMessage:
        poll_id = message.Message.pollUpdateMessage.pollCreationMessageKey.ID
        if poll_id not in self.poll_votes:
            raise DecryptPollVoteError("failed to get message secret")
        return PollVoteMessage(selectedOptions=self.poll_votes[poll_id])

    def mark_read(self, *message_ids: str, chat: JID, sender: JID, receipt: Any, timestamp: int | None = None) -> None:
        self.calls.append(
            ("mark_read", message_ids, {"chat": Jid2String(chat), "sender": Jid2String(sender), "receipt": receipt})
        )

    def send_chat_presence(self, jid: JID, state: Any, media: Any) -> None:
        self.calls.append(("send_chat_presence", (Jid2String(jid), state, media), {}))

    def send_presence(self, presence: Any) -> None:
        self.calls.append(("send_presence", (presence,), {}))

    def is_on_whatsapp(self, *numbers: str) -> list[IsOnWhatsAppResponse]:
        answers = [
            IsOnWhatsAppResponse(
                Query=number, JID=jid(number.lstrip("+")), IsIn=self.directory.get(number.lstrip("+"), (False, None))[0]
            )
            for number in numbers
        ]
        return answers[::-1]  # WhatsApp answers in an order of its own

    def get_lid_from_pn(self, jid: JID) -> JID:
        lid = self.directory.get(jid.User, (False, None))[1]
        if lid is None:
            raise GetJIDFromStoreError("no LID known")
        return JID(User=lid, Server="lid", Device=0, RawAgent=0, Integrator=0, IsEmpty=False)


def jid(user: str, server: str = "s.whatsapp.net", device: int = 0) -> JID:
    return JID(User=user, Server=server, Device=device, RawAgent=0, Integrator=0, IsEmpty=False)


def test_the_stand_in_has_neonizes_signatures() -> None:
    def shape(function: Any) -> list[tuple[str, Any, Any]]:
        return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]

    for name in ANSWERED:
        assert shape(getattr(RecordingClient, name)) == shape(getattr(NewClient, name)), name
    assert isinstance(inspect.getattr_static(NewClient, "is_connected"), property)


C = TypeVar("C", bound=RecordingClient)


def connected(tmp_path: Path) -> AbstractAsyncContextManager[tuple[NeonizeSession, RecordingClient, Recorder]]:
    """A session whose `connect` runs against the stand-in, for as long as the block runs."""
    return connected_to(tmp_path, RecordingClient)


@asynccontextmanager
async def connected_to(tmp_path: Path, stand_in: type[C]) -> AsyncIterator[tuple[NeonizeSession, C, Recorder]]:
    """A session whose `connect` runs against `stand_in` (the stand-in or a subclass of it)."""
    made: list[C] = []

    def new_client(name: str) -> C:
        made.append(stand_in(name))
        return made[-1]

    session = NeonizeSession("inst-out", tmp_path / "inst-out", new_client=new_client)
    received = Recorder()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(session.connect, received)
        with trio.fail_after(10):
            while not (made and made[0].dialled.is_set()):
                await trio.sleep(0.005)
        yield session, made[0], received
        nursery.cancel_scope.cancel()


# The message being replied to, reacted to, edited or deleted.
ALICES = MessageRef("3EB0ALICE", GROUP_JID, ALICE_JID, from_me=False, body="lunch?")
OURS = MessageRef("3EB0OURS", ALICE_JID, OWN_JID, from_me=True, body="see you at 8")


def context_of(message: Message) -> Any:
    [(_descriptor, content)] = [(d, c) for d, c in message.ListFields() if d.name != "messageContextInfo"]
    return content.contextInfo


def webp(size: int = 512) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGBA", (size, size), (255, 0, 0, 128)).save(out, format="WEBP")
    return out.getvalue()


def png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (0, 128, 255)).save(out, format="PNG")
    return out.getvalue()


def generated(tmp_path: Path, name: str, *ffmpeg_args: str) -> bytes:
    """A real media file made by ffmpeg from one of its built-in sources."""
    target = tmp_path / name
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", *ffmpeg_args, str(target)], check=True)
    return target.read_bytes()


def opus_ogg(tmp_path: Path) -> bytes:
    return generated(tmp_path, "voice.ogg", "-i", "sine=frequency=440:duration=2", "-c:a", "libopus")


def mp4(tmp_path: Path) -> bytes:
    return generated(tmp_path, "clip.mp4", "-i", "testsrc=size=64x64:rate=5:duration=1", "-c:v", "mpeg4")


needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")


# ---- incoming: a poll vote, decrypted by the connected client -------------------------------------


def vote_event(poll_id: str) -> MessageEv:
    key = MessageKey(remoteJID=GROUP_JID, fromMe=True, ID=poll_id)
    return MessageEv(
        Info=MessageInfo(
            ID="3EB0VOTE",
            Timestamp=1_700_000_000,
            MessageSource=MessageSource(Chat=jid("120363025246125486", "g.us"), Sender=jid(ALICE), IsGroup=True),
        ),
        Message=Message(pollUpdateMessage=PollUpdateMessage(pollCreationMessageKey=key, senderTimestampMS=1)),
    )


async def test_a_poll_vote_arrives_with_the_hashes_of_the_chosen_options(tmp_path: Path) -> None:
    red, blue = hashlib.sha256(b"Red").digest(), hashlib.sha256(b"Blue").digest()
    async with connected(tmp_path) as (_session, client, received):
        client.poll_votes["3EB0POLL"] = [red, blue]

        def go_side() -> None:
            dispatch(client, vote_event("3EB0UNKNOWN"))  # no secret stored for it: dropped
            dispatch(client, vote_event("3EB0POLL"))

        await trio.to_thread.run_sync(go_side)
        with trio.fail_after(5):
            while not received.events:
                await trio.sleep(0.005)

    votes = [event for event in received.events if isinstance(event, PollVoteIn)]
    assert votes == [
        PollVoteIn("3EB0POLL", GROUP_JID, ALICE_JID, selected_hashes=(red.hex(), blue.hex()), timestamp=1_700_000_000)
    ]


# ---- errors -------------------------------------------------------------------------------------


async def test_neonize_errors_become_transport_errors(tmp_path: Path) -> None:
    async with connected(tmp_path) as (session, client, _received):
        client.fail_sends = SendMessageError("server returned error 479")
        with pytest.raises(TransportError) as refused:
            await session.send(OutgoingMessage(to=ALICE_JID, kind="text", text="hi"))
        assert (refused.value.code, refused.value.retryable) == ("send_failed", True)
        assert "479" in str(refused.value)
        with pytest.raises(TransportError) as reaction:
            await session.react(ALICES, "👍")
        assert reaction.value.code == "send_failed"
        client.fail_sends = None

        with pytest.raises(TransportError) as not_webp:
            await session.send(OutgoingMessage(to=ALICE_JID, kind="sticker", data=png(), mime_type="image/png"))
        assert (not_webp.value.code, not_webp.value.retryable) == ("invalid_media", False)
        with pytest.raises(TransportError) as broken:
            await session.send(OutgoingMessage(to=ALICE_JID, kind="image", data=b"not an image"))
        assert (broken.value.code, broken.value.retryable) == ("invalid_media", False)
        with pytest.raises(TransportError) as empty:
            await session.send(OutgoingMessage(to=ALICE_JID, kind="poll"))
        assert (empty.value.code, empty.value.retryable) == ("invalid_message", False)
        with pytest.raises(TransportError) as unknown:
            await session.send_chat_presence(ALICE_JID, "dancing")
        assert (unknown.value.code, unknown.value.retryable) == ("invalid_state", False)
        with pytest.raises(TransportError):
            await session.send_presence("busy")
        assert client.sent == []


async def test_after_the_connection_the_gate_is_shut(tmp_path: Path) -> None:
    async with connected(tmp_path) as (session, _client, _received):
        await session.send_presence("available")
    with pytest.raises(TransportError) as refused:
        await session.send_presence("available")
    assert refused.value.code == "not_connected"
