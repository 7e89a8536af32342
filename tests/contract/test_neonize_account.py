"""NeonizeSession's account calls (groups, profiles, blocklist, privacy, calls) against a recording stand-in.

`AccountClient` extends the stand-in of `test_neonize_session.py` with the whatsmeow calls of API-2
§4/§5; like it, every method it answers keeps the signature of `neonize.client.NewClient` (checked
below), and it answers with real neonize protobufs. Each test asserts what the session passed to
neonize (JIDs, the participant action enum, the invite revoke flag, the privacy enums) and what it
made of the answer. The group calls are tested here; profiles, the blocklist, privacy and calls
in `test_neonize_account_people.py`.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest
import trio
import trio.testing
from neonize.client import ContactStore, NewClient
from neonize.exc import (
    GetGroupInfoError,
    GetJIDFromStoreError,
    GetProfilePictureError,
    InviteLinkError,
    SetGroupNameError,
)
from neonize.proto.Neonize_pb2 import (
    JID,
    Blocklist,
    ContactInfo,
    Device,
    GetProfilePictureParams,
    GetUserInfoSingleReturnFunction,
    GroupAnnounce,
    GroupInfo,
    GroupLocked,
    GroupName,
    GroupParticipant,
    GroupTopic,
    PrivacySettings,
    ProfilePictureInfo,
    UserInfo,
)
from neonize.utils.enum import BlocklistAction, ParticipantChange, PrivacySetting, PrivacySettingType
from neonize.utils.jid import Jid2String

from tests.contract.test_neonize_session import ALICE, ALICE_JID, GROUP_JID, OWN, OWN_JID, RecordingClient, jid
from tests.contract.test_neonize_session import connected_to as connected_to_stand_in
from wamux.core.ports import GroupInfo as Group
from wamux.core.ports import GroupParticipant as Member
from wamux.core.ports import IdentityIn, ParticipantResult, TransportError

GROUP = GROUP_JID.partition("@")[0]
OWN_LID = "11111111111111"
ALICE_LID = "22222222222222"
BOB = "4915199999999"
BOB_LID = "33333333333333"
CAROL = "4915177777777"

# The NewClient methods the account calls reach, answered by the stand-in: each keeps neonize's signature.
ACCOUNT_ANSWERED = (
    "get_joined_groups",
    "get_group_info",
    "create_group",
    "set_group_name",
    "set_group_topic",
    "set_group_announce",
    "set_group_locked",
    "set_group_photo",
    "update_group_participants",
    "get_group_invite_link",
    "join_group_with_link",
    "leave_group",
    "get_user_info",
    "get_profile_picture",
    "get_pn_from_lid",
    "get_me",
    "set_profile_name",
    "set_status_message",
    "set_profile_photo",
    "update_blocklist",
    "get_blocklist",
    "get_privacy_settings",
    "set_privacy_setting",
    "reject_call",
)


def lid(user: str, device: int = 0) -> JID:
    return jid(user, "lid", device)


def phone_jid(user: str) -> JID:
    return jid(user)


def member(user: str, *, admin: bool = False, owner: bool = False, error: int = 0) -> GroupParticipant:
    """A participant as a LID-addressed group lists it: the LID, with the phone number beside it."""
    lids = {OWN: OWN_LID, ALICE: ALICE_LID, BOB: BOB_LID}
    return GroupParticipant(
        JID=lid(lids[user]) if user in lids else jid(user),
        PhoneNumber=jid(user),
        IsAdmin=admin or owner,
        IsSuperAdmin=owner,
        Error=error,
    )


def group_proto(*members: GroupParticipant, subject: str = "Lunch") -> GroupInfo:
    return GroupInfo(
        JID=jid(GROUP, "g.us"),
        OwnerJID=lid(OWN_LID),
        OwnerPN=jid(OWN),
        GroupName=GroupName(Name=subject),
        GroupTopic=GroupTopic(Topic="Fridays"),
        GroupAnnounce=GroupAnnounce(IsAnnounce=True),
        GroupLocked=GroupLocked(isLocked=False),
        GroupCreated=1_700_000_000,
        Participants=members,
    )


class Contacts:
    """neonize's `ContactStore` without the Go side."""

    def __init__(self) -> None:
        self.known: dict[str, ContactInfo] = {}

    def get_contact(self, user: JID) -> ContactInfo:
        return self.known.get(user.User, ContactInfo(Found=False))


class AccountClient(RecordingClient):
    """The recording stand-in, answering the account's whatsmeow calls as WhatsApp would."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.contact = Contacts()
        self.groups: dict[str, GroupInfo] = {}
        self.participant_errors: dict[str, int] = {}  # phone → WhatsApp's error code for a participant change
        self.invites = 0
        self.users: dict[str, UserInfo] = {}  # user (phone digits or LID digits) → what get_user_info answers
        self.pictures: dict[str, str] = {}
        self.blocked: list[JID] = []
        self.privacy_settings = PrivacySettings()
        self.fail: dict[str, Exception] = {}

    def _record(self, name: str, *args: Any) -> None:
        if name in self.fail:
            raise self.fail[name]
        shown = tuple(Jid2String(a) if isinstance(a, JID) else a for a in args)
        self.calls.append((name, shown, {}))

    def get_me(self) -> Device:
        return Device(JID=jid(OWN, device=5), LID=lid(OWN_LID, device=5), PushName="Me")

    # ---- groups
    def get_joined_groups(self) -> list[GroupInfo]:
        self._record("get_joined_groups")
        return list(self.groups.values())

    def get_group_info(self, jid: JID) -> GroupInfo:
        self._record("get_group_info", jid)
        if Jid2String(jid) not in self.groups:
            raise GetGroupInfoError("you're not participating in that group")
        return self.groups[Jid2String(jid)]

    def create_group(
        self,
        name: str,
        participants: list[JID] = [],  # noqa: B006 -- neonize's own signature, checked below
        linked_parent: Any = None,
        group_parent: Any = None,
    ) -> GroupInfo:
        self._record("create_group", name, [Jid2String(p) for p in participants])
        members = [member(OWN, owner=True)]
        members += [member(p.User, error=self.participant_errors.get(p.User, 0)) for p in participants]
        created = group_proto(*members, subject=name)
        self.groups[GROUP_JID] = created
        return created

    def set_group_name(self, jid: JID, name: str) -> None:
        self._record("set_group_name", jid, name)

    def set_group_topic(self, jid: JID, previous_id: str, new_id: str, topic: str) -> None:
        self._record("set_group_topic", jid, previous_id, new_id, topic)

    def set_group_announce(self, jid: JID, announce: bool) -> None:
        self._record("set_group_announce", jid, announce)

    def set_group_locked(self, jid: JID, locked: bool) -> None:
        self._record("set_group_locked", jid, locked)

    def set_group_photo(self, jid: JID, file_or_bytes: str | bytes) -> str:
        self._record("set_group_photo", jid, file_or_bytes)
        return "PICTURE-1"

    def update_group_participants(
        self, jid: JID, participants_changes: list[JID], action: ParticipantChange
    ) -> list[GroupParticipant]:
        self._record("update_group_participants", jid, [Jid2String(p) for p in participants_changes], action)
        # A LID-addressed group answers by LID, the phone number beside it.
        return [
            member(p.User, error=self.participant_errors.get(p.User, 0))
            for p in participants_changes
            if p.User != CAROL  # WhatsApp leaves out whom it does not know
        ]

    def get_group_invite_link(self, jid: JID, revoke: bool = False) -> str:
        self._record("get_group_invite_link", jid, revoke)
        self.invites += 1 if revoke else 0
        return f"https://chat.whatsapp.com/Inv1te{self.invites}"

    def join_group_with_link(self, code: str) -> JID:
        self._record("join_group_with_link", code)
        if code != "Inv1te0":
            raise InviteLinkError("that group invite link is not valid")
        return jid(GROUP, "g.us")

    def leave_group(self, jid: JID) -> None:
        self._record("leave_group", jid)

    # ---- people
    def get_user_info(self, *jid: JID) -> list[GetUserInfoSingleReturnFunction]:
        self._record("get_user_info", *jid)
        return [
            GetUserInfoSingleReturnFunction(JID=j, UserInfo=self.users[j.User]) for j in jid if j.User in self.users
        ]

    def get_profile_picture(self, jid: JID, extra: GetProfilePictureParams = GetProfilePictureParams()) -> Any:
        self._record("get_profile_picture", jid)
        if jid.User not in self.pictures:
            raise GetProfilePictureError("that user or group does not have a profile picture")
        return ProfilePictureInfo(URL=self.pictures[jid.User], ID="1")

    def get_pn_from_lid(self, jid: JID) -> JID:
        for phone, (_exists, known_lid) in self.directory.items():
            if known_lid == jid.User:
                return phone_jid(phone)
        raise GetJIDFromStoreError("no phone number known")

    def set_profile_name(self, name: str) -> str:
        self._record("set_profile_name", name)
        return ""

    def set_status_message(self, msg: str) -> None:
        self._record("set_status_message", msg)

    def set_profile_photo(self, file_or_bytes: str | bytes) -> str:
        self._record("set_profile_photo", file_or_bytes)
        return "PICTURE-2"

    def update_blocklist(self, jid: JID, action: BlocklistAction) -> Blocklist:
        self._record("update_blocklist", jid, action)
        if action == BlocklistAction.BLOCK:
            self.blocked.append(jid)
        return Blocklist(JIDs=self.blocked)

    def get_blocklist(self) -> Blocklist:
        self._record("get_blocklist")
        return Blocklist(DHash="h", JIDs=self.blocked)

    def get_privacy_settings(self) -> PrivacySettings:
        self._record("get_privacy_settings")
        return self.privacy_settings

    def set_privacy_setting(self, name: PrivacySettingType, value: PrivacySetting) -> None:
        self._record("set_privacy_setting", name, value)

    def reject_call(self, call_from: JID, call_id: str) -> None:
        self._record("reject_call", call_from, call_id)


def connected(tmp_path: Any) -> Any:
    return connected_to_stand_in(tmp_path, AccountClient)


def test_the_account_stand_in_has_neonizes_signatures() -> None:
    def shape(function: Any) -> list[tuple[str, Any, Any]]:
        return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]

    for name in (*ACCOUNT_ANSWERED, "is_on_whatsapp", "get_lid_from_pn"):
        assert shape(getattr(AccountClient, name)) == shape(getattr(NewClient, name)), name
    assert shape(Contacts.get_contact) == shape(ContactStore.get_contact)


def calls(client: AccountClient, name: str) -> list[tuple[Any, ...]]:
    return [args for called, args, _ in client.calls if called == name]


async def identities(received: Any) -> list[IdentityIn]:
    """The identities the session reported so far (they take the event pipe into trio)."""
    await trio.testing.wait_all_tasks_blocked()
    return [event for event in received.events if isinstance(event, IdentityIn)]


ALICE_PAIR = IdentityIn(lid=f"{ALICE_LID}@lid", phone_jid=ALICE_JID)
OWN_PAIR = IdentityIn(lid=f"{OWN_LID}@lid", phone_jid=OWN_JID)
LUNCH = Group(
    jid=GROUP_JID,
    subject="Lunch",
    description="Fridays",
    owner=OWN_JID,
    announce=True,
    locked=False,
    created_at=1_700_000_000,
    participants=(
        Member(OWN_JID, f"{OWN_LID}@lid", is_admin=True, is_super_admin=True),
        Member(ALICE_JID, f"{ALICE_LID}@lid"),
    ),
)


# ---- groups -------------------------------------------------------------------------------------


async def test_groups_are_read_with_phones_and_lids_and_their_pairs_are_reported(tmp_path: Any) -> None:
    async with connected(tmp_path) as (session, client, received):
        client.groups[GROUP_JID] = group_proto(member(OWN, owner=True), member(ALICE))
        assert await session.joined_groups() == [LUNCH]
        assert await session.group_info(GROUP_JID) == LUNCH
        assert await session.group_info("120363000000000000@g.us") is None  # not a member
        assert await identities(received) == [OWN_PAIR, ALICE_PAIR] * 2
    assert calls(client, "get_group_info") == [(GROUP_JID,), ("120363000000000000@g.us",)]


async def test_a_new_group_leaves_out_whom_whatsapp_could_not_add(tmp_path: Any) -> None:
    async with connected(tmp_path) as (session, client, _received):
        client.participant_errors[BOB] = 403  # their privacy settings: WhatsApp sends an invite instead
        created = await session.create_group("Lunch", [ALICE_JID, f"{BOB}@s.whatsapp.net"])
    assert calls(client, "create_group") == [("Lunch", [ALICE_JID, f"{BOB}@s.whatsapp.net"])]
    assert created == LUNCH


async def test_a_group_change_calls_whatsmeow_once_per_field(tmp_path: Any) -> None:
    async with connected(tmp_path) as (session, client, _received):
        await session.update_group(GROUP_JID, subject="Dinner", description="Saturdays", announce=False, locked=True)
        await session.update_group(GROUP_JID, locked=False)
        await session.set_group_picture(GROUP_JID, b"\xff\xd8jpeg")
    assert [(name, args) for name, args, _ in client.calls] == [
        ("set_group_name", (GROUP_JID, "Dinner")),
        ("set_group_topic", (GROUP_JID, "", "", "Saturdays")),  # whatsmeow finds the previous topic id itself
        ("set_group_announce", (GROUP_JID, False)),
        ("set_group_locked", (GROUP_JID, True)),
        ("set_group_locked", (GROUP_JID, False)),
        ("set_group_photo", (GROUP_JID, b"\xff\xd8jpeg")),
    ]


async def test_participant_changes_pass_the_action_and_answer_per_participant(tmp_path: Any) -> None:
    bob_jid, carol_jid = f"{BOB}@s.whatsapp.net", f"{CAROL}@s.whatsapp.net"
    async with connected(tmp_path) as (session, client, _received):
        client.participant_errors.update({ALICE: 409, BOB: 0})
        added = await session.update_participants(GROUP_JID, "add", [ALICE_JID, bob_jid, carol_jid])
        for action in ("remove", "promote", "demote"):
            await session.update_participants(GROUP_JID, action, [bob_jid])
        client.participant_errors[BOB] = 401
        refused = await session.update_participants(GROUP_JID, "promote", [bob_jid])
        with pytest.raises(TransportError) as unknown:
            await session.update_participants(GROUP_JID, "kick", [bob_jid])
    assert added == [
        ParticipantResult(ALICE_JID, "conflict"),  # already a member
        ParticipantResult(bob_jid, "ok"),  # answered by LID: matched by the phone number beside it
        ParticipantResult(carol_jid, "not_found"),
    ]
    assert refused == [ParticipantResult(bob_jid, "not_authorized")]
    assert (unknown.value.code, unknown.value.retryable) == ("invalid_request", False)
    assert [args[2] for args in calls(client, "update_group_participants")] == [
        ParticipantChange.ADD,
        ParticipantChange.REMOVE,
        ParticipantChange.PROMOTE,
        ParticipantChange.DEMOTE,
        ParticipantChange.PROMOTE,
    ]
    assert calls(client, "update_group_participants")[0][:2] == (GROUP_JID, [ALICE_JID, bob_jid, carol_jid])


async def test_invite_codes_revoking_joining_and_leaving(tmp_path: Any) -> None:
    async with connected(tmp_path) as (session, client, _received):
        assert await session.group_invite(GROUP_JID) == "Inv1te0"
        assert await session.group_invite(GROUP_JID, revoke=True) == "Inv1te1"
        assert await session.join_group("https://chat.whatsapp.com/Inv1te0") == GROUP_JID
        assert await session.join_group("Inv1te0") == GROUP_JID
        with pytest.raises(TransportError) as invalid:
            await session.join_group("Nope")
        await session.leave_group(GROUP_JID)
    assert calls(client, "get_group_invite_link") == [(GROUP_JID, False), (GROUP_JID, True)]
    assert calls(client, "join_group_with_link") == [("Inv1te0",), ("Inv1te0",), ("Nope",)]
    assert "not valid" in str(invalid.value)
    # A refusal (no retry helps) that the actor answers 404: the link leads nowhere.
    assert (invalid.value.code, invalid.value.retryable) == ("not_found", False)
    assert calls(client, "leave_group") == [(GROUP_JID,)]


async def test_network_failures_are_retryable_refusals_are_not(tmp_path: Any) -> None:
    async with connected(tmp_path) as (session, client, _received):
        client.fail["set_group_name"] = SetGroupNameError("info query timed out")
        with pytest.raises(TransportError) as slow:
            await session.update_group(GROUP_JID, subject="x")
        client.fail["set_group_name"] = SetGroupNameError("info query returned status 401: not-authorized")
        with pytest.raises(TransportError) as refused:
            await session.update_group(GROUP_JID, subject="x")
        client.fail["get_group_info"] = GetGroupInfoError("websocket not connected")
        with pytest.raises(TransportError) as offline:
            await session.group_info(GROUP_JID)
    assert (slow.value.retryable, refused.value.retryable, offline.value.retryable) == (True, False, True)
    # Not an admin: the actor answers 403 not_group_admin.
    assert refused.value.code == "not_authorized" and "not-authorized" in str(refused.value)
