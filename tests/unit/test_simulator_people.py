"""People on the simulated network: directory profiles, our own profile, blocklist, privacy, calls, LIDs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path, PurePosixPath

import pytest

from tests.unit.test_simulator_session import BOB, ME, Online, linked
from wamux.adapters.whatsapp.simulator import SimulatorTransport
from wamux.core.ports import (
    CallIn,
    DirectoryEntry,
    IdentityIn,
    IncomingMessage,
    NotLinked,
    PresenceIn,
    Profile,
    TransportError,
)

BOB_LID = "111111111111111@lid"
SHOP = "79005550004@s.whatsapp.net"
GONE = "79005550005@s.whatsapp.net"
STRANGER_LID = "222222222222222@lid"
OWN_LID = "999999999999999@lid"


@pytest.fixture
async def online(tmp_path: Path) -> AsyncIterator[Online]:
    async with linked(tmp_path) as state:
        yield state


def directory(online: Online) -> None:
    online.transport.set_directory(
        "inst",
        [
            DirectoryEntry(phone=ME.split("@")[0], exists=True, lid=OWN_LID),
            DirectoryEntry(phone="+7 900 555-00-01", exists=True, lid=BOB_LID, name="Bob", about="Hey there"),
            DirectoryEntry(phone="79005550004", exists=True, name="The Shop", is_business=True),
            DirectoryEntry(phone="79005550005", exists=False, lid="333333333333333@lid", name="Gone"),
        ],
    )


async def test_profiles_answer_from_the_directory_by_phone_or_lid(online: Online) -> None:
    directory(online)
    bob = Profile(jid=BOB, lid=BOB_LID, name="Bob", push_name="Bob", about="Hey there")
    assert await online.session.profile(BOB) == bob
    assert await online.session.profile(BOB_LID) == bob
    shop = await online.session.profile(SHOP)
    assert shop is not None and shop.is_business and shop.name == "The Shop" and shop.lid is None
    assert await online.session.profile(GONE) is None  # listed, but not on WhatsApp
    assert await online.session.profile("333333333333333@lid") is None
    assert await online.session.profile("79001112233@s.whatsapp.net") is None  # not listed
    assert await online.session.profile(STRANGER_LID) is None
    assert (await online.session.profile(ME)) == await online.session.own_profile()
    [bob_check, gone_check] = await online.session.check_numbers(["79005550001", "79005550005"])
    assert (bob_check.exists, bob_check.jid, bob_check.lid) == (True, BOB, BOB_LID)
    assert (gone_check.exists, gone_check.lid) == (False, None)
    assert online.outbox() == []


async def test_our_own_profile_stays_on_the_simulated_phone(online: Online, tmp_path: Path) -> None:
    directory(online)
    assert await online.session.own_profile() == Profile(jid=ME, lid=OWN_LID, name="Me", push_name="Me")
    await online.session.set_profile(about="Busy")
    await online.session.set_profile(name="New Me")
    await online.session.set_profile_picture(b"\xff\xd8\xff a jpeg")
    profile = await online.session.own_profile()
    assert (profile.name, profile.push_name, profile.about) == ("New Me", "New Me", "Busy")
    restarted = SimulatorTransport(tmp_path)
    assert (restarted.phone("inst").push_name, restarted.phone("inst").about) == ("New Me", "Busy")
    assert restarted.picture("inst", PurePosixPath("picture.jpg")) == b"\xff\xd8\xff a jpeg"


async def test_blocking_lists_people_by_phone_once(online: Online, tmp_path: Path) -> None:
    directory(online)
    assert await online.session.blocklist() == []
    await online.session.set_blocked(BOB_LID, True)  # a LID the network knows: listed as the phone
    await online.session.set_blocked(BOB, True)
    await online.session.set_blocked(STRANGER_LID, True)
    assert await online.session.blocklist() == [BOB, STRANGER_LID]
    await online.session.set_blocked(BOB, False)
    await online.session.set_blocked(SHOP, False)  # not blocked: nothing to undo
    assert await online.session.blocklist() == [STRANGER_LID]
    assert SimulatorTransport(tmp_path).phone("inst").blocked == [STRANGER_LID]


async def test_privacy_starts_as_whatsapps_defaults(online: Online, tmp_path: Path) -> None:
    assert await online.session.privacy() == {
        "lastSeen": "all",
        "online": "all",
        "profilePhoto": "contacts",
        "about": "contacts",
        "groupAdd": "all",
        "readReceipts": "all",
    }
    await online.session.set_privacy("lastSeen", "none")
    await online.session.set_privacy("groupAdd", "contacts")
    settings = await online.session.privacy()
    assert (settings["lastSeen"], settings["groupAdd"], settings["online"]) == ("none", "contacts", "all")
    with pytest.raises(TransportError) as caught:
        await online.session.set_privacy("shoeSize", "all")
    assert caught.value.retryable is False
    assert SimulatorTransport(tmp_path).phone("inst").privacy["lastSeen"] == "none"


async def test_a_rejected_call_is_in_the_outbox(online: Online) -> None:
    call = CallIn(call_id="CALL1", from_jid=BOB, is_video=True)
    await online.transport.deliver("inst", call)
    assert online.events[-1] == call
    await online.session.reject_call("CALL1", BOB)
    [entry] = online.outbox()
    assert (entry["type"], entry["to"], entry["callId"]) == ("call_reject", BOB, "CALL1")


async def test_a_lid_sender_the_network_knows_comes_with_its_phone_first(online: Online) -> None:
    directory(online)
    before = len(online.events)
    from_lid = IncomingMessage(message_id="3EB0L", chat_jid=BOB_LID, sender_jid=BOB_LID, message_type="text", body="hi")
    await online.transport.incoming("inst", from_lid)
    assert online.events[before:] == [IdentityIn(lid=BOB_LID, phone_jid=BOB), from_lid]
    call = CallIn(call_id="CALL2", from_jid=BOB_LID)
    await online.transport.deliver("inst", call)
    assert online.events[-2:] == [IdentityIn(lid=BOB_LID, phone_jid=BOB), call]
    # An unknown LID, a phone sender, a presence: nothing more than the event itself.
    stranger = IncomingMessage(
        message_id="3EB0S", chat_jid=STRANGER_LID, sender_jid=STRANGER_LID, message_type="text", body="?"
    )
    by_phone = IncomingMessage(message_id="3EB0P", chat_jid=BOB, sender_jid=BOB, message_type="text", body="hi")
    typing = PresenceIn(chat_jid=BOB_LID, sender_jid=BOB_LID, state="typing")
    before = len(online.events)
    for event in (stranger, by_phone, typing):
        await online.transport.deliver("inst", event)
    assert online.events[before:] == [stranger, by_phone, typing]


def account_calls(online: Online) -> dict[str, Callable[[], Awaitable[object]]]:
    session = online.session
    return {
        "group_info": lambda: session.group_info("120363000000000001@g.us"),
        "create_group": lambda: session.create_group("G", [BOB]),
        "join_group": lambda: session.join_group("NoSuchCode0000000000"),
        "profile": lambda: session.profile(BOB),
        "own_profile": session.own_profile,
        "set_profile": lambda: session.set_profile(about="x"),
        "set_profile_picture": lambda: session.set_profile_picture(b"jpeg"),
        "set_blocked": lambda: session.set_blocked(BOB, True),
        "blocklist": session.blocklist,
        "privacy": session.privacy,
        "set_privacy": lambda: session.set_privacy("about", "none"),
        "reject_call": lambda: session.reject_call("CALL3", BOB),
    }


async def test_every_account_call_goes_through_the_send_faults(online: Online) -> None:
    online.transport.set_faults("inst", {"failNextSends": 1})
    assert await online.session.joined_groups() == []  # asked after every connect: the fault waits for a send
    assert online.transport.phone("inst").faults["failNextSends"] == 1
    for name, call in account_calls(online).items():
        online.transport.set_faults("inst", {"failNextSends": 1})
        with pytest.raises(TransportError) as caught:
            await call()
        assert caught.value.code == "send_failed" and caught.value.retryable, name
        assert online.outbox() == [], name


async def test_account_calls_need_a_connection(tmp_path: Path) -> None:
    transport = SimulatorTransport(tmp_path)
    offline = Online(transport, transport.session("inst"))
    for name, call in [*account_calls(offline).items(), ("joined_groups", offline.session.joined_groups)]:
        with pytest.raises(NotLinked) as caught:
            await call()
        assert caught.value.code == "not_connected", name
