"""WhatsApp device sessions in PostgreSQL (a device store), against a real PostgreSQL.

Two kinds of test: a recording stand-in for neonize's client (its constructor's signature checked
against `neonize.client.NewClient`) shows which device each connect asks for; real neonize, offline,
shows that whatsmeow's store works on the database and that two instances share it safely.

whatsmeow's tables are made by neonize itself (`ClientFactory.get_all_devices_from_db` opens the
store offline); devices are rows inserted by hand. A fabricated device is never handed to a real
neonize `connect()`: whatsmeow would load it and try to log in with it.
"""

from __future__ import annotations

import inspect
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
import trio
from neonize.client import ClientFactory, NewClient
from neonize.events import ConnectedEv, PairStatusEv
from neonize.proto.Neonize_pb2 import JID

from tests.contract.test_neonize_session import OWN, OWN_JID, RecordingClient, jid
from tests.contract.test_neonize_transport import Recorder, dispatch
from wamux.adapters.whatsapp.neonize_devices import DeviceStore, device_store_dsn, resume_jid
from wamux.adapters.whatsapp.neonize_session import NeonizeSession
from wamux.adapters.whatsapp.neonize_transport import NeonizeTransport
from wamux.core.ports import LinkConnected, PairSuccess, TransportError

pytestmark = pytest.mark.postgres

ALICE = "4915112345678"
ALICE_JID = f"{ALICE}@s.whatsapp.net"
BOB = "4915199999999"


# ---- the database --------------------------------------------------------------------------------


def whatsmeow_schema(dsn: str) -> None:
    """whatsmeow's tables, made by neonize's Go side without a network."""
    assert ClientFactory.get_all_devices_from_db(dsn) == []


def insert_device(url: str, device_jid: str, push_name: str) -> None:
    """A linked device as whatsmeow stores it after pairing."""
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(
            "INSERT INTO whatsmeow_device (jid, registration_id, noise_key, identity_key, signed_pre_key,"
            " signed_pre_key_id, signed_pre_key_sig, adv_key, adv_details, adv_account_sig,"
            " adv_account_sig_key, adv_device_sig, platform, business_name, push_name)"
            " VALUES (%s, 1, %s, %s, %s, 1, %s, %s, %s, %s, %s, %s, 'android', '', %s)",
            (
                device_jid,
                b"n" * 32,
                b"i" * 32,
                b"s" * 32,
                b"g" * 64,
                b"k",
                b"d",
                b"a" * 64,
                b"b" * 32,
                b"c" * 64,
                push_name,
            ),
        )


def rows(url: str, query: str, *args: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as db:
        return db.execute(query, args).fetchall()


def tables(url: str) -> set[str]:
    return {name for (name,) in rows(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


@pytest.fixture
def store(postgres_db_url: str) -> DeviceStore:
    return DeviceStore(postgres_db_url)


def test_the_device_store_url_gets_sslmode_and_a_connect_timeout() -> None:
    assert device_store_dsn("postgresql://u:p@db:5432/wamux") == (
        "postgresql://u:p@db:5432/wamux?sslmode=disable&connect_timeout=5"
    )
    assert device_store_dsn("postgres://db/w?sslmode=require&application_name=a%20b&connect_timeout=2") == (
        "postgres://db/w?sslmode=require&application_name=a%20b&connect_timeout=2"
    )
    for bad in ("host=db dbname=w", "sqlite:///x.db", "postgresql://"):
        with pytest.raises(ValueError):
            device_store_dsn(bad)


def test_a_device_jid_is_rebuilt_exactly_or_not_at_all() -> None:
    assert resume_jid(f"{ALICE}:7@s.whatsapp.net") == JID(
        User=ALICE, Device=7, Server="s.whatsapp.net", RawAgent=0, Integrator=0, IsEmpty=False
    )
    assert resume_jid(f"{ALICE}:x@s.whatsapp.net") is None
    assert resume_jid(f"{ALICE}:00@s.whatsapp.net") is None  # whatsmeow would never write it so


# ---- which device a connect asks for: the recording stand-in --------------------------------------


class DeviceClient(RecordingClient):
    """The stand-in with `NewClient`'s constructor; remembers what each `connect()` was pointed at."""

    def __init__(
        self,
        name: str,
        jid: JID | None = None,
        props: Any = None,
        uuid: str | None = None,
        new_device: bool = False,
    ) -> None:
        super().__init__(name)
        self.options = {"jid": jid, "props": props, "uuid": uuid, "new_device": new_device}
        self.jid = jid
        self.new_device = new_device
        self.connects: list[tuple[JID | None, bool]] = []

    def connect(self, proxy_settings: Any = None) -> None:
        self.connects.append((self.jid, self.new_device))
        super().connect(proxy_settings)


def test_the_stand_in_takes_neonizes_constructor() -> None:
    def shape(function: Any) -> list[tuple[str, Any, Any]]:
        return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]

    assert shape(DeviceClient.__init__) == shape(NewClient.__init__)


class Rig:
    """Sessions of one device store whose clients are stand-ins."""

    def __init__(self, store: DeviceStore, tmp_path: Path) -> None:
        self.store = store
        self.tmp_path = tmp_path
        self.made: list[DeviceClient] = []

    def new_client(self, name: str, **options: Any) -> DeviceClient:
        self.made.append(DeviceClient(name, **options))
        return self.made[-1]

    def session(self, instance_id: str) -> NeonizeSession:
        return NeonizeSession(instance_id, self.tmp_path / instance_id, self.new_client, device_store=self.store)

    @asynccontextmanager
    async def connected(self, session: NeonizeSession) -> AsyncIterator[tuple[DeviceClient, Recorder]]:
        received = Recorder()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(session.connect, received)
            known = len(self.made)  # a fresh session: its client is made by this connect
            with trio.fail_after(10):
                while not (len(self.made) > known and self.made[-1].connects):
                    await trio.sleep(0.005)
            yield self.made[-1], received
            nursery.cancel_scope.cancel()


@pytest.fixture
def rig(store: DeviceStore, tmp_path: Path) -> Rig:
    return Rig(store, tmp_path)


async def test_an_instance_without_a_device_pairs_a_new_one(rig: Rig, postgres_db_url: str) -> None:
    session = rig.session("inst-a")
    async with rig.connected(session) as (client, _received):
        assert client.name == f"{postgres_db_url}?sslmode=disable&connect_timeout=5"
        assert client.options == {"jid": None, "props": None, "uuid": "inst-a", "new_device": True}
        assert client.connects == [(None, True)]
    assert not session.session_dir.exists()  # no session file with a device store
    assert session.has_credentials is False


async def test_a_mapped_device_is_resumed_by_its_full_jid(rig: Rig, store: DeviceStore, postgres_db_url: str) -> None:
    whatsmeow_schema(store.dsn)
    insert_device(postgres_db_url, f"{BOB}:3@s.whatsapp.net", "Bob")  # someone else's: never chosen
    insert_device(postgres_db_url, f"{ALICE}:7@s.whatsapp.net", "Alice")
    store.remember("inst-a", f"{ALICE}:7@s.whatsapp.net")

    async with rig.connected(rig.session("inst-a")) as (client, _received):
        assert client.options == {"jid": None, "props": None, "uuid": "inst-a", "new_device": False}
        assert client.connects == [(jid(ALICE, device=7), False)]
    async with rig.connected(rig.session("inst-b")) as (client, _received):  # nothing mapped: a new device
        assert client.connects == [(None, True)]


async def test_a_mapping_whose_device_is_gone_is_not_linked(rig: Rig, store: DeviceStore) -> None:
    whatsmeow_schema(store.dsn)
    store.remember("inst-a", f"{ALICE}:7@s.whatsapp.net")  # whatsmeow deleted the device (a logout)
    session = rig.session("inst-a")
    assert session.has_credentials is False
    async with rig.connected(session) as (client, _received):
        assert client.options["new_device"] is True
        assert client.connects == [(None, True)]


async def test_pairing_maps_the_device_and_the_next_connect_resumes_it(
    rig: Rig, store: DeviceStore, postgres_db_url: str
) -> None:
    whatsmeow_schema(store.dsn)
    session = rig.session("inst-a")
    async with rig.connected(session) as (client, received):
        # whatsmeow saves the device, then reports the pairing with its full JID.
        insert_device(postgres_db_url, f"{ALICE}:9@s.whatsapp.net", "Alice")
        success = PairStatusEv(ID=jid(ALICE, device=9), Status=PairStatusEv.SUCCESS, Platform="android")
        await trio.to_thread.run_sync(dispatch, client, success)
        with trio.fail_after(5):
            while not received.events:
                await trio.sleep(0.005)
    assert received.events[0] == PairSuccess(jid=ALICE_JID)
    assert store.linked("inst-a") == (f"{ALICE}:9@s.whatsapp.net", "Alice")
    assert session.linked_identity() == (ALICE_JID, "Alice")

    with trio.fail_after(10):
        await session.connect(Recorder())  # the stand-in was stopped: this connect ends at once
    assert client.connects == [(None, True), (jid(ALICE, device=9), False)]


async def test_connected_remembers_the_device_the_client_runs(
    rig: Rig, store: DeviceStore, postgres_db_url: str
) -> None:
    whatsmeow_schema(store.dsn)
    insert_device(postgres_db_url, f"{OWN}:5@s.whatsapp.net", "Me")  # the stand-in's `get_me`
    async with rig.connected(rig.session("inst-a")) as (client, received):
        await trio.to_thread.run_sync(dispatch, client, ConnectedEv(status=True))
        with trio.fail_after(5):
            while not received.events:
                await trio.sleep(0.005)
    assert received.events == [LinkConnected(jid=OWN_JID, push_name="Me")]
    assert store.linked("inst-a") == (f"{OWN}:5@s.whatsapp.net", "Me")


async def test_an_unreachable_device_store_fails_the_connect_without_pairing(tmp_path: Path) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    dead = Rig(DeviceStore(f"postgresql://wamux@127.0.0.1:{port}/nowhere"), tmp_path)
    with trio.fail_after(10), pytest.raises(TransportError) as failure:
        await dead.session("inst-a").connect(Recorder())
    assert (failure.value.code, failure.value.retryable) == ("device_store_failed", True)
    assert dead.made == []  # no client, so no blank device and no QR for a linked instance


# ---- the lookups and forgetting -------------------------------------------------------------------


def test_linked_identity_reads_the_mapped_device(store: DeviceStore, postgres_db_url: str, tmp_path: Path) -> None:
    transport = NeonizeTransport(tmp_path, device_store=postgres_db_url)
    assert transport.session("inst-a").linked_identity() is None  # not even whatsmeow's tables yet
    whatsmeow_schema(store.dsn)
    insert_device(postgres_db_url, f"{ALICE}:7@s.whatsapp.net", "Alice")
    insert_device(postgres_db_url, f"{BOB}:2@s.whatsapp.net", "")
    assert transport.session("inst-a").linked_identity() is None  # a device, but not this instance's
    store.remember("inst-a", f"{ALICE}:7@s.whatsapp.net")
    store.remember("inst-b", f"{BOB}:2@s.whatsapp.net")

    assert transport.session("inst-a").linked_identity() == (ALICE_JID, "Alice")
    assert transport.session("inst-a").has_credentials is True
    assert transport.session("inst-b").linked_identity() == (f"{BOB}@s.whatsapp.net", None)
    assert transport.session("inst-c").linked_identity() is None


PER_DEVICE = {
    "whatsmeow_device": "jid",
    "whatsmeow_contacts": "our_jid",
    "whatsmeow_identity_keys": "our_jid",
    "whatsmeow_privacy_tokens": "our_jid",
}


def per_device_rows(url: str, device_jid: str) -> dict[str, int]:
    counted = {}
    for table, column in PER_DEVICE.items():
        [(count,)] = rows(url, f"SELECT count(*) FROM {table} WHERE {column} = %s", device_jid)
        counted[table] = count
    return counted


def test_forget_removes_exactly_that_instances_device(store: DeviceStore, postgres_db_url: str, tmp_path: Path) -> None:
    whatsmeow_schema(store.dsn)
    devices = {"inst-a": f"{ALICE}:7@s.whatsapp.net", "inst-b": f"{BOB}:2@s.whatsapp.net"}
    for instance_id, device_jid in devices.items():
        insert_device(postgres_db_url, device_jid, instance_id)
        store.remember(instance_id, device_jid)
        with psycopg.connect(postgres_db_url, autocommit=True) as db:
            db.execute(
                "INSERT INTO whatsmeow_contacts (our_jid, their_jid, push_name) VALUES (%s, %s, 'Carol')",
                (device_jid, "4915100000009@s.whatsapp.net"),
            )
            db.execute(
                "INSERT INTO whatsmeow_identity_keys (our_jid, their_id, identity) VALUES (%s, %s, %s)",
                (device_jid, "4915100000009:0", b"x" * 32),
            )
            db.execute(
                "INSERT INTO whatsmeow_privacy_tokens (our_jid, their_jid, token, timestamp) VALUES (%s, %s, %s, 1)",
                (device_jid, "4915100000009@s.whatsapp.net", b"t"),
            )
    with psycopg.connect(postgres_db_url, autocommit=True) as db:
        db.execute("INSERT INTO whatsmeow_lid_map (lid, pn) VALUES ('100000000000001', %s)", (ALICE,))
    transport = NeonizeTransport(tmp_path, device_store=postgres_db_url)
    assert transport.session("inst-a").has_credentials is True

    transport.forget("inst-a")

    assert per_device_rows(postgres_db_url, devices["inst-a"]) == dict.fromkeys(PER_DEVICE, 0)
    assert per_device_rows(postgres_db_url, devices["inst-b"]) == dict.fromkeys(PER_DEVICE, 1)
    assert rows(postgres_db_url, "SELECT instance_id FROM wamux_devices") == [("inst-b",)]
    assert rows(postgres_db_url, "SELECT pn FROM whatsmeow_lid_map") == [(ALICE,)]  # shared: left alone
    assert transport.session("inst-a").has_credentials is False
    assert transport.session("inst-b").linked_identity() == (f"{BOB}@s.whatsapp.net", "inst-b")
    transport.forget("inst-a")  # nothing left: still fine
    transport.forget("inst-never")


# ---- real neonize, offline ------------------------------------------------------------------------


@pytest.fixture
def offline() -> Iterator[None]:
    try:
        socket.getaddrinfo("web.whatsapp.com", 443)
    except OSError:
        yield
        return
    pytest.skip("web.whatsapp.com resolves here: these tests need a machine without network")


async def fails_offline(session: NeonizeSession) -> None:
    with trio.fail_after(20), pytest.raises(TransportError) as failure:
        await session.connect(Recorder())
    assert (failure.value.code, failure.value.retryable) == ("connect_failed", True)
    assert "failed to dial whatsapp web websocket" in str(failure.value)


@pytest.mark.usefixtures("offline")
async def test_real_neonize_makes_whatsmeows_tables_and_fails_to_dial(postgres_db_url: str, tmp_path: Path) -> None:
    session = NeonizeTransport(tmp_path, device_store=postgres_db_url).session("inst-a")
    assert "whatsmeow_device" not in tables(postgres_db_url)

    await fails_offline(session)

    assert {"whatsmeow_device", "whatsmeow_sessions", "whatsmeow_privacy_tokens", "wamux_devices"} <= tables(
        postgres_db_url
    )
    assert rows(postgres_db_url, "SELECT jid FROM whatsmeow_device") == []  # a blank device is saved only once paired
    assert session.has_credentials is False
    assert not (tmp_path / "instances").exists()


@pytest.mark.usefixtures("offline")
async def test_two_instances_share_the_database_side_by_side(postgres_db_url: str, tmp_path: Path) -> None:
    transport = NeonizeTransport(tmp_path, device_store=postgres_db_url)
    first, second = transport.session("inst-a"), transport.session("inst-b")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(fails_offline, first)
        nursery.start_soon(fails_offline, second)
    assert first.client().uuid == b"inst-a" and second.client().uuid == b"inst-b"

    await first.close()
    transport.forget("inst-a")  # stops its Go client for good
    for _attempt in range(2):  # the other one is untouched
        await fails_offline(second)
    await fails_offline(transport.session("inst-a"))  # and the forgotten instance starts afresh
