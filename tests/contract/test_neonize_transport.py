"""NeonizeTransport against the real neonize client, offline.

Events take neonize's own dispatch path: serialized, then fed to `client.event.execute` (what
the Go side calls for every event) or to the C callbacks Go calls for QR codes and pairing
status, from a worker thread as Go would. They must come out of `emit` in the trio thread.
"""

from __future__ import annotations

import ctypes
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import trio
from neonize._binder import func_string
from neonize.client import ClientFactory, NewClient
from neonize.events import EVENT_TO_INT, ConnectedEv, DisconnectedEv, MessageEv, ReceiptEv
from neonize.proto.Neonize_pb2 import JID, MessageInfo, MessageSource
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import ImageMessage, Message

from wamux.adapters.whatsapp.neonize_transport import NeonizeTransport
from wamux.core.ports import (
    ConnectionLost,
    IncomingMessage,
    LinkConnected,
    MessageRef,
    NotLinked,
    OutgoingMessage,
    QrCode,
    Receipt,
    TransportError,
    TransportEvent,
)

ALICE = "4915112345678"
ALICE_JID = f"{ALICE}@s.whatsapp.net"


class Recorder:
    """An `emit` that remembers what it got and on which thread."""

    def __init__(self) -> None:
        self.events: list[TransportEvent] = []
        self.threads: set[int] = set()

    async def __call__(self, event: TransportEvent) -> None:
        self.threads.add(threading.get_ident())
        self.events.append(event)


def jid(user: str, server: str = "s.whatsapp.net") -> JID:
    return JID(User=user, Server=server, Device=0, RawAgent=0, Integrator=0, IsEmpty=False)


def message_event(content: Message, message_id: str = "3EB0C0FFEE") -> MessageEv:
    return MessageEv(
        Info=MessageInfo(
            ID=message_id,
            Pushname="Alice",
            Timestamp=1_700_000_000_000,
            MessageSource=MessageSource(Chat=jid(ALICE), Sender=jid(ALICE), IsFromMe=False, IsGroup=False),
        ),
        Message=content,
    )


def dispatch(client: NewClient, event: Any) -> None:
    """Exactly what neonize's Go side does for an event the client subscribed to."""
    raw = event.SerializePartialToString()
    buf = ctypes.create_string_buffer(raw)
    client.event.execute(0, ctypes.addressof(buf), len(raw), EVENT_TO_INT[type(event)])


def call_string_callback(callback: Any, text: str) -> None:
    """Go calls the QR and login-status callbacks through C function pointers with a C string."""
    buf = ctypes.create_string_buffer(text.encode())
    func_string(callback)(None, ctypes.addressof(buf))


def seed_linked_device(db_path: Path, jid_with_device: str, push_name: str) -> None:
    """A linked device as whatsmeow stores it after pairing (schema made by neonize's Go side)."""
    ClientFactory.get_all_devices_from_db(str(db_path))  # creates the whatsmeow schema, offline
    with sqlite3.connect(db_path) as db:
        db.execute(
            "INSERT INTO whatsmeow_device (jid, registration_id, noise_key, identity_key, signed_pre_key,"
            " signed_pre_key_id, signed_pre_key_sig, adv_key, adv_details, adv_account_sig,"
            " adv_account_sig_key, adv_device_sig, platform, business_name, push_name)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                jid_with_device,
                1,
                b"n" * 32,
                b"i" * 32,
                b"s" * 32,
                1,
                b"g" * 64,
                b"k",
                b"d",
                b"a" * 64,
                b"b" * 32,
                b"c" * 64,
                "android",
                "",
                push_name,
            ),
        )


@pytest.fixture
def transport(tmp_path: Path) -> NeonizeTransport:
    return NeonizeTransport(str(tmp_path))


# ---- the dispatch path ------------------------------------------------------------------------


async def test_message_receipt_and_qr_reach_emit_in_order_in_the_trio_thread(
    transport: NeonizeTransport,
) -> None:
    session = transport.session("inst-1")
    received = Recorder()
    receipt = ReceiptEv(
        MessageSource=MessageSource(Chat=jid(ALICE), Sender=jid(ALICE), IsFromMe=False, IsGroup=False),
        MessageIDs=["3EB0SENT01"],
        Timestamp=1_700_000_001,
        Type=ReceiptEv.READ,
    )

    def go_side(client: NewClient) -> None:
        dispatch(client, message_event(Message(conversation="hello")))
        dispatch(client, receipt)
        call_string_callback(client._NewClient__onQr, "2@ref,noise,identity,adv")

    with trio.fail_after(10):
        async with session.event_pipeline(received) as handle:
            await trio.to_thread.run_sync(go_side, handle.client)

    assert received.events == [
        IncomingMessage(
            message_id="3EB0C0FFEE",
            chat_jid=ALICE_JID,
            sender_jid=ALICE_JID,
            message_type="text",
            body="hello",
            push_name="Alice",
            timestamp=1_700_000_000,
            wa_type="conversation",
        ),
        Receipt(message_ids=("3EB0SENT01",), status="read", chat_jid=ALICE_JID, sender_jid=ALICE_JID),
        QrCode(code="2@ref,noise,identity,adv"),
    ]
    assert received.threads == {threading.get_ident()}


async def test_media_that_cannot_be_downloaded_arrives_without_it(transport: NeonizeTransport) -> None:
    session = transport.session("inst-media")
    received = Recorder()
    image = Message(imageMessage=ImageMessage(caption="a cat", mimetype="image/jpeg", directPath="/v/t62/x"))

    with trio.fail_after(10):
        async with session.event_pipeline(received) as handle:
            await trio.to_thread.run_sync(dispatch, handle.client, message_event(image, "3EB0IMAGE"))

    [message] = received.events
    assert isinstance(message, IncomingMessage)
    assert (message.message_id, message.message_type, message.caption, message.mime_type) == (
        "3EB0IMAGE",
        "image",
        "a cat",
        "image/jpeg",
    )
    assert message.media is None


async def test_connected_names_the_linked_account(transport: NeonizeTransport) -> None:
    session = transport.session("inst-linked")
    assert session.has_credentials is False
    session.client()  # creates the instance directory
    seed_linked_device(session.db_path, f"{ALICE}:7@s.whatsapp.net", "Alice")
    assert session.has_credentials is True
    received = Recorder()

    with trio.fail_after(10):
        async with session.event_pipeline(received) as handle:
            await trio.to_thread.run_sync(dispatch, handle.client, ConnectedEv(status=True))

    assert received.events == [LinkConnected(jid=ALICE_JID, push_name="Alice")]


async def test_connection_lost_is_the_last_event(transport: NeonizeTransport) -> None:
    session = transport.session("inst-drop")
    received = Recorder()

    def go_side(client: NewClient) -> None:
        dispatch(client, DisconnectedEv(status=True))
        dispatch(client, message_event(Message(conversation="too late")))

    with trio.fail_after(10):
        async with session.event_pipeline(received) as handle:
            await trio.to_thread.run_sync(go_side, handle.client)
            await handle.pipe.ended.wait()

    assert received.events == [ConnectionLost(reason="connection_lost")]


async def test_qr_timeout_from_the_pairing_status_callback(transport: NeonizeTransport) -> None:
    session = transport.session("inst-qr")
    received = Recorder()

    def go_side(client: NewClient) -> None:
        # The attribute neonize hands to Go as the login-status callback when it connects.
        call_string_callback(client._NewClient__onLoginStatus, "timeout")

    with trio.fail_after(10):
        async with session.event_pipeline(received) as handle:
            await trio.to_thread.run_sync(go_side, handle.client)

    assert received.events == [ConnectionLost(reason="qr_timeout")]


# ---- connecting without a network -------------------------------------------------------------


def _whatsapp_resolvable() -> bool:
    try:
        socket.getaddrinfo("web.whatsapp.com", 443)
    except OSError:
        return False
    return True


async def test_connect_without_network_fails_quickly_with_a_clear_error(transport: NeonizeTransport) -> None:
    if _whatsapp_resolvable():
        pytest.skip("web.whatsapp.com resolves here: this test needs a machine without network")
    session = transport.session("inst-offline")
    received = Recorder()

    for _attempt in range(2):  # and the session can try again afterwards
        with trio.fail_after(10), pytest.raises(TransportError) as failure:
            await session.connect(received)
        assert failure.value.retryable is True
        assert failure.value.code == "connect_failed"
        assert "could not connect to WhatsApp" in str(failure.value)

    assert received.events == []
    assert await session.ping() is False
    assert session.db_path.is_file()  # neonize made its session store under DATA_DIR/instances/<id>/


async def test_calls_before_connecting_are_refused_not_crashing(transport: NeonizeTransport) -> None:
    # Without the gate, neonize's Go side aborts the process on any call before a connect.
    session = transport.session("inst-idle")
    session.client()
    with pytest.raises(NotLinked):
        await session.send(OutgoingMessage(to=ALICE_JID, kind="text", text="hi"))
    with pytest.raises(NotLinked):
        await session.contacts()
    with pytest.raises(NotLinked):
        await session.pair_phone(ALICE)
    with pytest.raises(NotLinked):
        await session.logout()
    target = MessageRef("3EB0X", ALICE_JID, ALICE_JID, from_me=False)
    refused: list[Callable[[], Awaitable[object]]] = [
        lambda: session.react(target, "👍"),
        lambda: session.edit(target, "x"),
        lambda: session.revoke(target),
        lambda: session.mark_read(ALICE_JID, ALICE_JID, ["3EB0X"]),
        lambda: session.send_chat_presence(ALICE_JID, "typing"),
        lambda: session.send_presence("available"),
        lambda: session.check_numbers([ALICE]),
    ]
    for call in refused:
        with pytest.raises(NotLinked):
            await call()
    assert await session.ping() is False
    await session.close()
    await session.close()  # idempotent


# ---- the transport ------------------------------------------------------------------------------


async def test_forget_removes_the_instance_files(transport: NeonizeTransport, tmp_path: Path) -> None:
    session = transport.session("inst-gone")
    assert transport.session("inst-gone") is session  # one session per instance
    session.client()
    seed_linked_device(session.db_path, f"{ALICE}:3@s.whatsapp.net", "Alice")
    instance_dir = tmp_path / "instances" / "inst-gone"
    assert (instance_dir / "session.db").is_file()

    transport.forget("inst-gone")

    assert not instance_dir.exists()
    assert transport.session("inst-gone") is not session
    assert transport.session("inst-gone").has_credentials is False
    transport.forget("inst-gone")  # nothing left to remove: still fine


def test_instance_ids_cannot_escape_the_data_dir(transport: NeonizeTransport) -> None:
    for bad in ("../etc", "a/b", "", ".hidden"):
        with pytest.raises(ValueError):
            transport.session(bad)
    assert transport.name == "neonize"


def test_importing_the_transport_does_not_load_neonize() -> None:
    code = "import sys, wamux.adapters.whatsapp.neonize_transport; print('neonize' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.stdout.strip() == "False"
