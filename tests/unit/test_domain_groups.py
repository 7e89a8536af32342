"""The pure rules of groups (`wamux.domain.groups`): group ids, invite links and codes, the participants
batch, who counts as an admin, and which changes need one (API-2 §4)."""

from __future__ import annotations

from typing import Any

import pytest

from wamux.domain.errors import NotGroupAdmin, ValidationFailed
from wamux.domain.groups import (
    MAX_PARTICIPANTS_PER_CALL,
    check_change,
    group_jid,
    invite_code,
    invite_link,
    is_admin,
    participants_batch,
    require_admin,
)

ME = "79001234567@s.whatsapp.net"
MY_LID = "123456789012345@lid"
PEER = "79007654321@s.whatsapp.net"
CODE = "AbCdEfGhIjKlMnOp"


def group(*participants: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A group as the groups read model gives it."""
    return {"id": "120363025246125486@g.us", "subject": "Team", "participants": list(participants), **fields}


def member(jid: str, lid: str | None = None, *, admin: bool = False, super_admin: bool = False) -> dict[str, Any]:
    return {"jid": jid, "phone": jid.split("@")[0], "lid": lid, "isAdmin": admin, "isSuperAdmin": super_admin}


# ---- group ids -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "jid"),
    [
        ("120363025246125486@g.us", "120363025246125486@g.us"),
        ("120363025246125486", "120363025246125486@g.us"),  # the @g.us may be omitted
        ("  120363025246125486@g.us ", "120363025246125486@g.us"),
        ("79001234567-1672531200@g.us", "79001234567-1672531200@g.us"),  # an old-style id
        ("79001234567-1672531200", "79001234567-1672531200@g.us"),
        ("12345", "12345@g.us"),  # the shortest accepted
    ],
)
def test_group_ids_with_or_without_the_server(value: str, jid: str) -> None:
    assert group_jid(value) == jid


@pytest.mark.parametrize(
    "value",
    [
        "",
        "1234",  # too short
        "family",
        "120363025246125486@s.whatsapp.net",  # a person, not a group
        "120363025246125486@lid",
        "120363025246125486@g.us@g.us",
        "12036302524612548a@g.us",
        "79001234567-@g.us",
        "-1672531200@g.us",
    ],
)
def test_anything_else_is_not_a_group_id(value: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        group_jid(value)
    assert raised.value.details == {"groupId": "invalid"}


# ---- invite links and codes ------------------------------------------------------------------


def test_an_invite_link_is_the_code_on_chat_whatsapp_com() -> None:
    assert invite_link(CODE) == f"https://chat.whatsapp.com/{CODE}"
    assert invite_code(invite_link(CODE), None) == CODE


@pytest.mark.parametrize(
    "link",
    [
        f"https://chat.whatsapp.com/{CODE}",
        f"  https://chat.whatsapp.com/{CODE}  ",
        f"https://chat.whatsapp.com/{CODE}/",
        f"https://chat.whatsapp.com/{CODE}?utm_source=share",
    ],
)
def test_the_code_is_taken_from_a_link(link: str) -> None:
    assert invite_code(link, None) == CODE


@pytest.mark.parametrize("code", [CODE, f" {CODE} ", "A1b2C3d4E5", "x" * 40])
def test_a_bare_code_is_taken_as_it_is(code: str) -> None:
    assert invite_code(None, code) == code.strip()


@pytest.mark.parametrize(
    "link",
    [
        "",
        CODE,  # a code given as a link
        f"http://chat.whatsapp.com/{CODE}",
        f"https://chat.whatsapp.net/{CODE}",
        f"https://evil.example.com/https://chat.whatsapp.com/{CODE}",
        "https://chat.whatsapp.com/",
        "https://chat.whatsapp.com/short",
        f"https://chat.whatsapp.com/{CODE}-with-dashes",
        f"https://chat.whatsapp.com/{'x' * 41}",
    ],
)
def test_a_bad_link_is_refused(link: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        invite_code(link, None)
    assert raised.value.details == {"link": "invalid"}


@pytest.mark.parametrize("code", [None, "", "   ", "short", "has space in", "a/b/c/d/e/f/g", "x" * 41])
def test_a_bad_code_is_refused(code: str | None) -> None:
    with pytest.raises(ValidationFailed) as raised:
        invite_code(None, code)
    assert raised.value.details == {"code": "invalid"}


def test_a_link_wins_over_a_code() -> None:
    assert invite_code(f"https://chat.whatsapp.com/{CODE}", "OtherCode123") == CODE
    with pytest.raises(ValidationFailed):
        invite_code("https://example.com/x", CODE)


# ---- participants per call -------------------------------------------------------------------


def test_up_to_256_participants_per_call() -> None:
    assert MAX_PARTICIPANTS_PER_CALL == 256
    phones = [f"7900{n:07d}" for n in range(256)]
    assert participants_batch(phones) == phones
    assert participants_batch(["79007654321"]) == ["79007654321"]


def test_257_participants_are_too_many() -> None:
    with pytest.raises(ValidationFailed) as raised:
        participants_batch([f"7900{n:07d}" for n in range(257)])
    assert raised.value.details == {"participants": "too many"}


@pytest.mark.parametrize(
    "value",
    [[], None, "79007654321", ("79007654321",), [79007654321], ["79007654321", ""], ["7" * 101], {"a": "b"}],
)
def test_participants_must_be_a_non_empty_list_of_texts(value: Any) -> None:
    with pytest.raises(ValidationFailed) as raised:
        participants_batch(value)
    assert raised.value.details == {"participants": "invalid"}


# ---- admins ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("participant", "own"),
    [
        (member(ME, admin=True), [ME]),
        (member(ME, super_admin=True), [ME]),
        (member(ME, MY_LID, admin=True), [MY_LID]),  # known by our LID only
        (member(MY_LID, admin=True), [ME, MY_LID]),  # listed by LID, we know both
    ],
    ids=["admin", "super-admin", "by-lid", "listed-by-lid"],
)
def test_we_are_admin_by_phone_or_lid(participant: dict[str, Any], own: list[str]) -> None:
    assert is_admin(group(member(PEER), participant), own)


@pytest.mark.parametrize(
    ("g", "own"),
    [
        (group(member(ME), member(PEER, admin=True)), [ME]),  # a member, another is admin
        (group(member(PEER, admin=True)), [ME]),  # not a member at all
        (group(member(ME, admin=True)), []),  # we do not know who we are
        (group(member(ME, admin=True)), ["", PEER]),
        (group(), [ME]),
        ({"id": "120363025246125486@g.us"}, [ME]),  # no participants listed
        (group(member(PEER, None, admin=True)), [ME, ""]),  # empty own ids match nothing
    ],
    ids=["member", "outsider", "nobody", "someone-else", "empty", "no-list", "no-lid"],
)
def test_anyone_else_is_not_admin(g: dict[str, Any], own: list[str]) -> None:
    assert not is_admin(g, own)


def test_require_admin_names_the_group() -> None:
    g = group(member(ME))
    with pytest.raises(NotGroupAdmin) as raised:
        require_admin(g, [ME], "add participants")
    assert raised.value.details == {"groupId": g["id"]}
    assert "add participants" in str(raised.value)
    require_admin(group(member(ME, admin=True)), [ME], "add participants")


@pytest.mark.parametrize(
    ("changes", "locked", "needs_admin"),
    [
        ({"subject": "New"}, False, False),
        ({"description": "About us"}, False, False),
        ({"subject": "New", "description": ""}, False, False),
        ({"subject": "New"}, True, True),  # a locked group's info is for admins
        ({"description": ""}, True, True),
        ({}, True, True),  # the picture of a locked group
        ({}, False, False),
        ({"announce": True}, False, True),  # who may send: admins only
        ({"announce": False}, False, True),
        ({"locked": False}, True, True),
        ({"locked": True}, False, True),
        ({"subject": "New", "announce": True}, False, True),
    ],
)
def test_which_changes_need_an_admin(changes: dict[str, Any], locked: bool, needs_admin: bool) -> None:
    member_only = group(member(ME), member(PEER, admin=True), locked=locked)
    admin = group(member(ME, admin=True), locked=locked)
    check_change(admin, [ME], changes)  # an admin may always
    if needs_admin:
        with pytest.raises(NotGroupAdmin):
            check_change(member_only, [ME], changes)
    else:
        check_change(member_only, [ME], changes)
