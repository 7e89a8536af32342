"""NeonizeSession's people and call calls (profiles, own profile, blocklist, privacy, reject) against the stand-in.

The stand-in is `AccountClient` of `test_neonize_account.py` (neonize's signatures, real protobufs);
each test asserts what the session passed to neonize and what it made of the answer.
"""

from __future__ import annotations

from typing import Any

import pytest
from neonize.client import NewClient
from neonize.proto.Neonize_pb2 import ContactInfo, PrivacySettings, UserInfo, VerifiedName
from neonize.proto.waVnameCert.WAWebProtobufsVnameCert_pb2 import VerifiedNameCertificate
from neonize.utils.enum import BlocklistAction, PrivacySetting, PrivacySettingType

from tests.contract.test_neonize_account import ALICE_LID, BOB, OWN_LID, calls, connected
from tests.contract.test_neonize_session import ALICE, ALICE_JID, OWN, OWN_JID
from wamux.adapters.whatsapp import neonize_account
from wamux.core.ports import Profile, TransportError

# ---- people -------------------------------------------------------------------------------------


async def test_a_profile_by_phone_or_by_lid(tmp_path: Any) -> None:
    shop = VerifiedName(Details=VerifiedNameCertificate.Details(verifiedName="Alice's Shop"))
    async with connected(tmp_path) as (session, client, _received):
        client.directory[ALICE] = (True, ALICE_LID)
        client.users[ALICE] = UserInfo(Status="Open 9-5", VerifiedName=shop)
        client.users[ALICE_LID] = UserInfo(Status="Open 9-5")
        client.pictures[ALICE] = "https://pps.whatsapp.net/alice.jpg"
        client.contact.known[ALICE] = ContactInfo(Found=True, FullName="Alice A.", PushName="Ali")
        by_phone = await session.profile(ALICE_JID)
        by_lid = await session.profile(f"{ALICE_LID}@lid")
        assert await session.profile(f"{BOB}@s.whatsapp.net") is None  # not on WhatsApp
    assert by_phone == Profile(
        jid=ALICE_JID,
        lid=f"{ALICE_LID}@lid",
        name="Alice's Shop",
        push_name="Ali",
        about="Open 9-5",
        picture_url="https://pps.whatsapp.net/alice.jpg",
        is_business=True,
    )
    # By LID: the phone from whatsmeow's store; no verified name, no picture, no address-book entry under the LID.
    assert by_lid == Profile(jid=ALICE_JID, lid=f"{ALICE_LID}@lid", about="Open 9-5")
    assert calls(client, "get_user_info") == [(ALICE_JID,), (f"{ALICE_LID}@lid",)]


async def test_our_own_profile_and_its_changes(tmp_path: Any) -> None:
    async with connected(tmp_path) as (session, client, _received):
        client.users[OWN] = UserInfo(Status="Busy")
        client.pictures[OWN] = "https://pps.whatsapp.net/me.jpg"
        own = await session.own_profile()
        await session.set_profile(name="New Me", about="Available")
        await session.set_profile(about="Away")
        await session.set_profile_picture(b"\xff\xd8me")
    assert own == Profile(
        jid=OWN_JID,
        lid=f"{OWN_LID}@lid",
        name="Me",
        push_name="Me",
        about="Busy",
        picture_url="https://pps.whatsapp.net/me.jpg",
    )
    assert calls(client, "get_user_info") == [(OWN_JID,)]  # ourselves, without the device
    assert calls(client, "set_profile_name") == [("New Me",)]
    assert calls(client, "set_status_message") == [("Available",), ("Away",)]
    assert calls(client, "set_profile_photo") == [(b"\xff\xd8me",)]


async def test_blocking_and_the_blocklist(tmp_path: Any) -> None:
    async with connected(tmp_path) as (session, client, _received):
        await session.set_blocked(ALICE_JID, True)
        await session.set_blocked(f"{ALICE_LID}@lid", False)
        assert await session.blocklist() == [ALICE_JID]
    assert calls(client, "update_blocklist") == [
        (ALICE_JID, BlocklistAction.BLOCK),
        (f"{ALICE_LID}@lid", BlocklistAction.UNBLOCK),
    ]


async def test_privacy_settings_under_our_names(tmp_path: Any) -> None:
    async with connected(tmp_path) as (session, client, _received):
        client.privacy_settings = PrivacySettings(
            LastSeen=PrivacySettings.CONTACTS,
            Online=PrivacySettings.MATCH_LAST_SEEN,
            Profile=PrivacySettings.CONTACT_BLACKLIST,
            Status=PrivacySettings.NONE,
            GroupAdd=PrivacySettings.ALL,
            ReadReceipts=PrivacySettings.ALL,
            CallAdd=PrivacySettings.KNOWN,  # not one of ours
        )
        read = await session.privacy()
        for name, value in (("lastSeen", "none"), ("about", "contacts"), ("groupAdd", "contact_blacklist")):
            await session.set_privacy(name, value)
        with pytest.raises(TransportError):
            await session.set_privacy("callAdd", "all")
    assert read == {
        "lastSeen": "contacts",
        "online": "match_last_seen",
        "profilePhoto": "contact_blacklist",
        "about": "none",
        "groupAdd": "all",
        "readReceipts": "all",
    }
    (last_seen, _), (about, _), (group_add, _) = [args for args in calls(client, "set_privacy_setting")]
    assert (last_seen, about, group_add) == (
        PrivacySettingType.LAST_SEEN,
        PrivacySettingType.STATUS,
        PrivacySettingType.GROUP_ADD,
    )
    values = [args[1] for args in calls(client, "set_privacy_setting")]
    assert values[:2] == [PrivacySetting.NONE, PrivacySetting.CONTACTS]
    assert values[2].value == "contact_blacklist"  # whatsmeow's spelling, not neonize's "contacts_blacklist"


def test_set_privacy_setting_hands_whatsmeows_spelling_to_go() -> None:
    """neonize's own `set_privacy_setting`, with the Go library recorded: the bytes whatsmeow gets."""

    class Go:
        def __init__(self) -> None:
            self.got: list[tuple[bytes, bytes]] = []

        def SetPrivacySetting(self, _uuid: bytes, name: bytes, value: bytes) -> bytes:
            self.got.append((name, value))
            return b""

    class Client:
        set_privacy_setting = NewClient.set_privacy_setting

        def __init__(self) -> None:
            self.uuid = b"u"
            self._NewClient__client = Go()

    client = Client()
    for value in ("contact_blacklist", "all", "match_last_seen"):
        neonize_account.set_privacy(client, "profilePhoto", value)
    assert client._NewClient__client.got == [
        (b"profile", b"contact_blacklist"),
        (b"profile", b"all"),
        (b"profile", b"match_last_seen"),
    ]


# ---- calls --------------------------------------------------------------------------------------


async def test_a_call_is_rejected_naming_the_caller_as_the_offer_did(tmp_path: Any) -> None:
    async with connected(tmp_path) as (session, client, _received):
        await session.reject_call("CALL-1", ALICE_JID)
        await session.reject_call("CALL-2", f"{ALICE_LID}@lid")
    assert calls(client, "reject_call") == [(ALICE_JID, "CALL-1"), (f"{ALICE_LID}@lid", "CALL-2")]


async def test_account_calls_need_the_connection(tmp_path: Any) -> None:
    async with connected(tmp_path) as (session, _client, _received):
        pass
    with pytest.raises(TransportError) as refused:
        await session.joined_groups()
    assert refused.value.code == "not_connected"
