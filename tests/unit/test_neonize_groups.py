"""Pure parts of the neonize account side: group protobufs, participant codes, identities, invite codes, errors."""

from __future__ import annotations

import pytest
from neonize.events import MessageEv
from neonize.exc import GetGroupInfoError, InviteLinkError, LeaveGroupError, SetGroupNameError
from neonize.proto.Neonize_pb2 import JID, GroupInfo, GroupName, GroupParticipant, MessageInfo, MessageSource
from neonize.proto.waE2E.WAWebProtobufsE2E_pb2 import Message

from wamux.adapters.whatsapp import neonize_account as account
from wamux.adapters.whatsapp import neonize_groups as groups
from wamux.adapters.whatsapp import neonize_identities as identities
from wamux.adapters.whatsapp import neonize_mapping as mapping
from wamux.core.ports import GroupParticipant as Member
from wamux.core.ports import IdentityIn, IncomingMessage, TransportError

PHONE = "4915112345678"
LID = "22222222222222"


def jid(user: str, server: str = "s.whatsapp.net", device: int = 0) -> JID:
    return JID(User=user, Server=server, Device=device, RawAgent=0, Integrator=0, IsEmpty=False)


def test_a_participant_shows_its_phone_when_whatsapp_told_it() -> None:
    phone_addressed = GroupParticipant(JID=jid(PHONE, device=3), LID=jid(LID, "lid"), IsAdmin=True)
    lid_addressed = GroupParticipant(JID=jid(LID, "lid"), PhoneNumber=jid(PHONE), IsSuperAdmin=True)
    lid_only = GroupParticipant(JID=jid(LID, "lid"))
    pair = IdentityIn(lid=f"{LID}@lid", phone_jid=f"{PHONE}@s.whatsapp.net")

    assert groups.participant(phone_addressed) == Member(f"{PHONE}@s.whatsapp.net", f"{LID}@lid", is_admin=True)
    assert groups.participant(lid_addressed) == Member(
        f"{PHONE}@s.whatsapp.net", f"{LID}@lid", is_admin=True, is_super_admin=True
    )
    assert groups.participant(lid_only) == Member(f"{LID}@lid", f"{LID}@lid")
    assert [groups.participant_identity(p) for p in (phone_addressed, lid_addressed, lid_only)] == [pair, pair, None]


def test_a_bare_group_has_no_description_owner_or_date() -> None:
    bare = GroupInfo(JID=jid("120363025246125486", "g.us"), GroupName=GroupName(Name="x"))
    info = groups.group_info(GroupInfo.FromString(bare.SerializePartialToString()))
    assert (info.jid, info.subject, info.description, info.owner, info.created_at) == (
        "120363025246125486@g.us",
        "x",
        None,
        None,
        None,
    )
    assert groups.group_identities(bare) == []


@pytest.mark.parametrize(
    ("code", "status"),
    [(0, "ok"), (200, "ok"), (401, "not_authorized"), (403, "forbidden"), (404, "not_found"), (409, "conflict")],
)
def test_whatsapps_participant_codes(code: int, status: str) -> None:
    assert groups.participant_status(code) == status


def test_an_unknown_participant_code_keeps_its_number() -> None:
    assert groups.participant_status(418) == "error_418"


def test_pairs_need_one_lid_and_one_phone() -> None:
    phone, lid, group = jid(PHONE), jid(LID, "lid", device=2), jid("1203", "g.us")
    expected = IdentityIn(lid=f"{LID}@lid", phone_jid=f"{PHONE}@s.whatsapp.net")
    assert identities.pair(phone, lid) == identities.pair(lid, phone) == expected
    assert identities.pair(phone, phone) is None
    assert identities.pair(lid, group) is None
    assert identities.pair(lid, JID(User="", Server="", Device=0, RawAgent=0, Integrator=0, IsEmpty=True)) is None


def test_the_single_event_entry_point_leaves_identities_aside() -> None:
    source = MessageSource(Chat=jid(LID, "lid"), Sender=jid(LID, "lid"), SenderAlt=jid(PHONE))
    event = MessageEv(Info=MessageInfo(ID="3EB0", MessageSource=source), Message=Message(conversation="hi"))
    events = mapping.transport_events(event)
    assert [type(e) for e in events] == [IdentityIn, IncomingMessage]
    assert mapping.transport_event(event) == events[1]


@pytest.mark.parametrize(
    ("link", "code"),
    [
        ("https://chat.whatsapp.com/AbC123", "AbC123"),
        ("  https://chat.whatsapp.com/AbC123 ", "AbC123"),
        ("chat.whatsapp.com/AbC123", "AbC123"),
        ("AbC123", "AbC123"),
    ],
)
def test_invite_codes(link: str, code: str) -> None:
    assert account.invite_code(link) == code


@pytest.mark.parametrize(
    ("error", "retryable", "code"),
    [
        (SetGroupNameError("info query timed out"), True, "group_failed"),
        (SetGroupNameError("websocket not connected"), True, "group_failed"),
        (SetGroupNameError("info query returned status 408: request-timeout"), True, "group_failed"),
        (SetGroupNameError("info query returned status 401: not-authorized"), False, "not_authorized"),
        (
            InviteLinkError("unauthorized to get group invite link (info query returned status 401: not-authorized)"),
            False,
            "not_authorized",
        ),
        (GetGroupInfoError("group not found (info query returned status 404: item-not-found)"), False, "not_found"),
        (LeaveGroupError("you're not participating in that group"), False, "not_found"),
        (SetGroupNameError("info query returned status 403: forbidden"), False, "not_found"),
        (InviteLinkError("that group invite link has been revoked"), False, "not_found"),
        (
            InviteLinkError("that group invite link is not valid (info query returned status 401: not-authorized)"),
            False,
            "not_found",
        ),
        (SetGroupNameError("info query returned status 409: conflict"), False, "group_failed"),
    ],
)
def test_refusals_are_not_retryable_and_say_what_they_mean(error: Exception, retryable: bool, code: str) -> None:
    with pytest.raises(TransportError) as raised, account.refusals("could not", "group_failed"):
        raise error
    assert (raised.value.retryable, raised.value.code) == (retryable, code)


def test_other_refusals_keep_their_code() -> None:
    from neonize.exc import SetPrivacySettingError

    with pytest.raises(TransportError) as raised, account.refusals("could not", "privacy_failed"):
        raise SetPrivacySettingError("info query returned status 401: not-authorized")
    assert (raised.value.retryable, raised.value.code) == (False, "privacy_failed")


def test_unknown_privacy_names_and_values_are_refused_before_whatsapp() -> None:
    for name, value in (("callAdd", "all"), ("lastSeen", "everybody")):
        with pytest.raises(TransportError) as refused:
            account.privacy_arguments(name, value)
        assert (refused.value.code, refused.value.retryable) == ("invalid_request", False)
