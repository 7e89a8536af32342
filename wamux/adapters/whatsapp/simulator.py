"""An in-process WhatsApp stand-in behind the same transport port as neonize.

It behaves like the network as an actor sees it: a QR string (`1@...`) refreshed every 20 s
until scanned, random message ids, receipts, drops, unlinking from the phone, an address
book, a directory of who has WhatsApp (with LIDs and profiles, `simulator_people`), groups
with WhatsApp's admin rules and invite codes (`simulator_groups`, `simulator_account`), calls,
and injected faults (failed or slow sends, crashes, failed connects, a connection that stops
answering, a network that refuses every connect: `unreachable`). Each connect records the proxy
it went through (`connection`). Whatever the instance sends (messages of every kind, reactions,
edits, revokes, read receipts, presence, group operations, call rejections) lands in its outbox
(`simulator_outbox`). The simulated phones persist under `DATA_DIR/simulator/` (`simulator_phone`),
so a restarted server finds them linked, with their groups.

What the routes deliver (`deliver`) arrives as WhatsApp would push it: a message from a `@lid`
sender whose phone the directory knows comes after an `IdentityIn` (WhatsApp's sender alt); group
events by other members change the network's groups first (`simulator_groups`).
"""

from __future__ import annotations

import base64
import copy
import secrets
import shutil
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any

import trio

from wamux.adapters.whatsapp import simulator_groups as groups
from wamux.adapters.whatsapp import simulator_outbox as wire
from wamux.adapters.whatsapp.simulator_account import SimulatorAccount
from wamux.adapters.whatsapp.simulator_history import generated_history
from wamux.adapters.whatsapp.simulator_people import answer_numbers, directory_from, phone_of_lid
from wamux.adapters.whatsapp.simulator_phone import Phone, read_phone, write_phone
from wamux.adapters.whatsapp.vcard import card_vcard
from wamux.core.ports import (
    CallIn,
    ConnectionLost,
    DirectoryEntry,
    Emit,
    GroupInfo,
    IdentityIn,
    IncomingMessage,
    LinkConnected,
    MessageRef,
    NotLinked,
    NumberCheck,
    OutgoingMessage,
    PairSuccess,
    QrCode,
    Receipt,
    RemoteContact,
    TransportError,
    TransportEvent,
)
from wamux.domain.errors import Conflict, NotFound, ValidationFailed
from wamux.domain.ids import random_message_id
from wamux.domain.proxy import mask_proxy

QR_REFRESH_S = 20.0
FAULT_KEYS = {
    "failNextSends": int,
    "sendLatencyMs": int,
    "failNextConnects": int,
    "crashNextConnects": int,
    "unresponsive": bool,
    "permanentConnectFailure": bool,
    "unreachable": bool,  # the network switch: every connect is refused until it is set back
}
# What a connect says while the network is off: the words neonize reports for a refused connection.
REFUSED = (
    "could not connect to WhatsApp: failed to dial whatsapp web websocket: "
    "dial tcp web.whatsapp.com:443: connect: connection refused"
)


def random_qr() -> str:
    ref = base64.b64encode(secrets.token_bytes(32)).decode()
    keys = ",".join(base64.b64encode(secrets.token_bytes(32)).decode() for _ in range(3))
    return f"1@{ref},{keys},1"


class SimulatorSession(SimulatorAccount):
    """One instance's simulated connection (its account half: `SimulatorAccount`)."""

    def __init__(self, transport: SimulatorTransport, instance_id: str) -> None:
        self.transport = transport
        self.id = instance_id
        self.emit: Emit | None = None
        self.connected = False
        self._scanned: trio.Event | None = None
        self._scan_identity: tuple[str, str | None] | None = None
        self._dropped = trio.Event()
        self._drop: ConnectionLost | None = None
        self.proxy: str | None = None  # what `set_proxy` said (in clear, as a real session needs it)
        self.connects: list[str | None] = []  # the proxy each connect went through, oldest first

    @property
    def phone(self) -> Phone:
        return self.transport.phone(self.id)

    def _save(self) -> None:
        self.transport.save(self.id)

    def _keep_picture(self, name: PurePosixPath, jpeg: bytes) -> None:
        self.transport.keep_picture(self.id, name, jpeg)

    @property
    def has_credentials(self) -> bool:
        return self.phone.jid is not None

    def _take_fault(self, name: str) -> bool:
        left = int(self.phone.faults.get(name, 0) or 0)
        if left > 0:
            self.phone.faults[name] = left - 1
            return True
        return False

    def set_proxy(self, url: str | None) -> None:
        self.proxy = url

    async def connect(self, emit: Emit) -> None:
        self.connects.append(self.proxy)
        if self._take_fault("crashNextConnects"):
            raise RuntimeError("simulated actor crash")
        await trio.sleep(0.01)  # a network round trip
        if self.phone.faults.get("permanentConnectFailure"):
            raise TransportError("simulated: client outdated", retryable=False, code="client_outdated")
        if self._take_fault("failNextConnects"):
            raise TransportError("simulated: could not reach WhatsApp", code="connect_failed")
        if self.phone.faults.get("unreachable"):
            raise TransportError(REFUSED, code="connect_failed")
        self.emit = emit
        self._dropped = trio.Event()
        self._drop = None
        try:
            if not self.has_credentials:
                while True:
                    self._scanned = trio.Event()
                    await emit(QrCode(random_qr()))
                    with trio.move_on_after(self.transport.qr_interval_s):
                        await self._scanned.wait()  # `drop` wakes it too
                    if self._dropped.is_set():  # the network went away while the code was shown
                        await emit(self._drop or ConnectionLost(reason="connection_lost"))
                        return
                    if self._scanned.is_set():
                        break
                assert self._scan_identity is not None
                jid, push_name = self._scan_identity
                self.phone.jid, self.phone.push_name = jid, push_name
                for group in self.phone.groups.values():  # groups staged before the link now know our phone
                    groups.adopt(group, self.phone.own)
                self.transport.save(self.id)
                await emit(PairSuccess(jid=jid, push_name=push_name))
            self.connected = True
            await emit(LinkConnected(jid=self.phone.jid, push_name=self.phone.push_name))
            await self._dropped.wait()
            self.connected = False
            drop = self._drop or ConnectionLost(reason="connection_lost")
            if drop.logged_out:
                self._unlink()
            await emit(drop)
        finally:
            self.connected = False
            self.emit = None
            self._scanned = None

    def _unlink(self) -> None:
        self.phone.jid = None
        self.phone.push_name = None
        self.transport.save(self.id)

    async def _reach_network(self, *, may_fail: bool = True) -> None:
        """What every call to the network goes through: the link, then the injected latency and failures."""
        if not self.connected:
            raise NotLinked("simulated: not connected", code="not_connected")
        latency = int(self.phone.faults.get("sendLatencyMs", 0) or 0)
        if latency:
            await trio.sleep(latency / 1000)
        if may_fail and self._take_fault("failNextSends"):
            raise TransportError("simulated send failure", code="send_failed")

    async def send(self, message: OutgoingMessage) -> str:
        await self._reach_network()
        message_id = random_message_id()
        self.phone.outbox.append(wire.message_entry(message_id, message))
        return message_id

    async def react(self, target: MessageRef, emoji: str) -> str:
        await self._reach_network()
        message_id = random_message_id()
        self.phone.outbox.append(wire.target_entry(message_id, "reaction", target, emoji=emoji))
        return message_id

    async def edit(self, target: MessageRef, text: str) -> str:
        await self._reach_network()
        message_id = random_message_id()
        self.phone.outbox.append(wire.target_entry(message_id, "edit", target, body=text))
        return message_id

    async def revoke(self, target: MessageRef) -> str:
        await self._reach_network()
        message_id = random_message_id()
        self.phone.outbox.append(wire.target_entry(message_id, "revoke", target))
        return message_id

    async def mark_read(self, chat_jid: str, sender_jid: str, message_ids: Sequence[str]) -> None:
        await self._reach_network()
        if message_ids:
            wire.add_read_receipt(self.phone.outbox, random_message_id(), chat_jid, sender_jid, message_ids)

    async def send_chat_presence(self, chat_jid: str, state: str) -> None:
        presence = wire.presence_entry(random_message_id(), chat_jid, state)
        await self._reach_network()
        self.phone.outbox.append(presence)

    async def send_presence(self, state: str) -> None:
        presence = wire.presence_entry(random_message_id(), None, state)
        await self._reach_network()
        self.phone.outbox.append(presence)

    async def check_numbers(self, phones: Sequence[str]) -> list[NumberCheck]:
        await self._reach_network()
        return answer_numbers(self.phone.directory, phones)

    async def pair_phone(self, phone: str) -> str:
        if self.connected or self._scanned is None:
            raise TransportError("simulated: pairing needs a connection waiting for a link", code="not_pairing")
        code = secrets.token_hex(4).upper()
        return f"{code[:4]}-{code[4:]}"

    async def contacts(self) -> list[RemoteContact]:
        return list(self.phone.contacts)

    async def logout(self) -> None:
        self._unlink()
        self.drop(ConnectionLost(reason="logout", logged_out=True))

    async def ping(self) -> bool:
        return self.connected and not self.phone.faults.get("unresponsive")

    async def close(self) -> None:
        self.drop(ConnectionLost(reason="closed"))

    def drop(self, lost: ConnectionLost) -> None:
        self._drop = lost
        self._dropped.set()
        if self._scanned is not None:
            self._scanned.set()  # ends a QR code's wait: `connect` sees the drop first


class SimulatorTransport:
    """The simulated network: sessions by instance id, and the control surface for the routes."""

    name = "simulator"

    def __init__(self, data_dir: Path, *, qr_interval_s: float = QR_REFRESH_S) -> None:
        self.qr_interval_s = qr_interval_s
        self.dir = data_dir / "simulator"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.sessions: dict[str, SimulatorSession] = {}
        self._phones: dict[str, Phone] = {}

    # ---- persistence of the simulated phones ------------------------------------------------

    def phone(self, instance_id: str) -> Phone:
        phone = self._phones.get(instance_id)
        if phone is None:
            phone = self._phones[instance_id] = read_phone(self.dir / f"{instance_id}.json")
        return phone

    def save(self, instance_id: str) -> None:
        write_phone(self.dir / f"{instance_id}.json", self.phone(instance_id))

    def picture(self, instance_id: str, name: PurePosixPath) -> bytes | None:
        """A picture the instance set (`picture.jpg`, `groups/<jid>.jpg`), as the network keeps it."""
        path = self.dir / instance_id / name
        return path.read_bytes() if path.is_file() else None

    def keep_picture(self, instance_id: str, name: PurePosixPath, jpeg: bytes) -> None:
        path = self.dir / instance_id / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(jpeg)

    # ---- Transport ----------------------------------------------------------------------------

    def session(self, instance_id: str) -> SimulatorSession:
        session = SimulatorSession(self, instance_id)
        self.sessions[instance_id] = session
        return session

    def forget(self, instance_id: str) -> None:
        self.sessions.pop(instance_id, None)
        self._phones.pop(instance_id, None)
        (self.dir / f"{instance_id}.json").unlink(missing_ok=True)
        shutil.rmtree(self.dir / instance_id, ignore_errors=True)

    # ---- SimulatorControl ---------------------------------------------------------------------

    def _session(self, instance_id: str) -> SimulatorSession:
        session = self.sessions.get(instance_id)
        if session is None:
            raise NotFound("instance not found")
        return session

    def _online(self, instance_id: str) -> SimulatorSession:
        session = self._session(instance_id)
        if not session.connected or session.emit is None:
            raise Conflict("the simulated phone is not connected", details={"status": "not_connected"})
        return session

    async def scan(self, instance_id: str, phone: str | None, push_name: str | None) -> None:
        session = self._session(instance_id)
        if session.connected:
            raise Conflict("already linked and connected")
        if session._scanned is None:
            raise Conflict("no QR code is waiting to be scanned")
        number = phone or "7900" + str(secrets.randbelow(10**7)).zfill(7)
        session._scan_identity = (f"{number}@s.whatsapp.net", push_name)
        session._scanned.set()

    async def incoming(self, instance_id: str, message: IncomingMessage) -> None:
        await self.deliver(instance_id, message)

    async def deliver(self, instance_id: str, event: TransportEvent) -> None:
        session = self._online(instance_id)
        phone = session.phone
        sender = event.sender_jid if isinstance(event, IncomingMessage) else None
        sender = event.from_jid if isinstance(event, CallIn) else sender
        if isinstance(event, IncomingMessage) and any(c.vcard is None for c in event.contacts):
            # A shared contact always travels as a vCard: the phone that sent it wrote one.
            cards = tuple(replace(c, vcard=card_vcard(c)) for c in event.contacts)
            event = replace(event, contacts=cards)
        changed = groups.arrive(phone.groups, event, phone.own, phone.directory, int(time.time()))
        if changed is not None:  # another member's change to a group: the network's groups change first
            event = changed
            self.save(instance_id)
        assert session.emit is not None
        known_phone = phone_of_lid(phone.directory, sender) if sender else None
        if sender and known_phone:
            # WhatsApp names the sender's phone beside the LID (the sender alt): the identity comes first.
            await session.emit(IdentityIn(lid=sender, phone_jid=known_phone))
        await session.emit(event)

    async def history(self, instance_id: str, chats: int, per_chat: int) -> int:
        """Push a generated history sync (`simulator_history`), chunk by chunk; answers how many messages."""
        session = self._online(instance_id)
        pushed = 0
        for chunk in generated_history(instance_id, chats, per_chat, int(time.time())):
            if session.emit is None:
                raise Conflict("the simulated phone disconnected during the sync", details={"status": "not_connected"})
            await session.emit(chunk)
            pushed += len(chunk.messages)
        return pushed

    async def receipt(self, instance_id: str, message_id: str, status: str) -> None:
        session = self._online(instance_id)
        if status not in ("delivered", "read"):
            raise ValidationFailed("status must be delivered or read", details={"status": "invalid"})
        chat = next((m["to"] for m in session.phone.outbox if m["id"] == message_id), None)
        assert session.emit is not None
        await session.emit(Receipt(message_ids=(message_id,), status=status, chat_jid=chat, sender_jid=chat))

    async def disconnect(self, instance_id: str, reason: str, logged_out: bool) -> None:
        session = self._online(instance_id)
        session.drop(ConnectionLost(reason=reason or "connection_lost", logged_out=logged_out))

    def set_contacts(self, instance_id: str, contacts: list[RemoteContact]) -> None:
        self._session(instance_id)
        self.phone(instance_id).contacts = contacts
        self.save(instance_id)

    def set_directory(self, instance_id: str, numbers: list[DirectoryEntry]) -> None:
        self._session(instance_id)
        self.phone(instance_id).directory = directory_from(numbers)
        self.save(instance_id)

    def set_groups(self, instance_id: str, groups_in: list[GroupInfo]) -> None:
        """The groups the simulated account is in (replacing what the network knew, also groups it left)."""
        self._session(instance_id)
        phone = self.phone(instance_id)
        own = phone.own if phone.jid else None
        phone.groups = {g.jid: groups.from_info(g, own, phone.directory) for g in groups_in}
        self.save(instance_id)

    def outbox(self, instance_id: str) -> list[dict[str, Any]]:
        self._session(instance_id)
        return copy.deepcopy(self.phone(instance_id).outbox)

    def connection(self, instance_id: str) -> dict[str, Any]:
        session = self._session(instance_id)
        last = session.connects[-1] if session.connects else None
        return {"connected": session.connected, "connects": len(session.connects), "proxy": mask_proxy(last)}

    def set_faults(self, instance_id: str, faults: dict[str, Any]) -> dict[str, Any]:
        self._session(instance_id)
        current = self.phone(instance_id).faults
        for key, value in faults.items():
            kind = FAULT_KEYS.get(key)
            if kind is None:
                raise ValidationFailed(f"unknown fault {key}", details={key: "unknown"})
            if kind is int and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                raise ValidationFailed(f"{key} must be a non-negative integer", details={key: "invalid"})
            if kind is bool and not isinstance(value, bool):
                raise ValidationFailed(f"{key} must be true or false", details={key: "invalid"})
            current[key] = value
        session = self.sessions[instance_id]
        if current.get("unreachable") and session.emit is not None:
            session.drop(ConnectionLost(reason="connection_lost"))  # the network went away under the connection
        return dict(current)
