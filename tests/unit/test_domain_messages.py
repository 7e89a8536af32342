"""The pure rules about messages in history (`wamux.domain.messages`): edit, revoke, react, poll options,
coordinates."""

from __future__ import annotations

from typing import Any

import pytest

from wamux.domain.errors import NotEditable, NotRevocable, ValidationFailed
from wamux.domain.messages import (
    EDIT_WINDOW_MS,
    POLL_MAX_OPTIONS,
    check_editable,
    check_reactable,
    check_revocable,
    coordinates,
    poll_options,
)

NOW = 1_768_471_200_000
PEER = "79007654321@s.whatsapp.net"
GROUP = "120363025246125486@g.us"


def message(**fields: Any) -> dict[str, Any]:
    """A messages read-model row: our own text in a 1:1 chat, sent a minute ago."""
    return {
        "messageId": "M-1",
        "remoteJid": PEER,
        "sender": None,
        "fromMe": True,
        "messageType": "text",
        "createdMs": NOW - 60_000,
        "revoked": False,
        **fields,
    }


# ---- edit ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("age_ms", [0, 60_000, EDIT_WINDOW_MS])
def test_our_own_text_is_editable_for_15_minutes(age_ms: int) -> None:
    check_editable(message(createdMs=NOW - age_ms), NOW)


def test_one_millisecond_past_15_minutes_is_not_editable() -> None:
    with pytest.raises(NotEditable) as refused:
        check_editable(message(createdMs=NOW - EDIT_WINDOW_MS - 1), NOW)
    assert refused.value.code == "not_editable"
    assert refused.value.details == {"ageMs": EDIT_WINDOW_MS + 1, "limitMs": EDIT_WINDOW_MS}


@pytest.mark.parametrize(
    "fields",
    [
        {"fromMe": False, "sender": PEER},
        {"messageType": "image"},
        {"messageType": "poll"},
        {"messageType": None},
        {"revoked": True},
    ],
    ids=["someone_elses", "image", "poll", "no_type", "revoked"],
)
def test_what_is_not_our_live_text_is_not_editable(fields: dict[str, Any]) -> None:
    with pytest.raises(NotEditable):
        check_editable(message(**fields), NOW)


def test_a_row_without_a_time_is_too_old_to_edit() -> None:
    with pytest.raises(NotEditable):
        check_editable(message(createdMs=None), NOW)


# ---- revoke --------------------------------------------------------------------------------------


@pytest.mark.parametrize("chat", [PEER, GROUP])
def test_our_own_message_is_revocable_anywhere(chat: str) -> None:
    check_revocable(message(remoteJid=chat, messageType="image", createdMs=0))  # no time limit here


def test_someone_elses_message_is_revocable_only_by_a_group_admin() -> None:
    theirs = {"fromMe": False, "sender": PEER}
    with pytest.raises(NotRevocable) as refused:
        check_revocable(message(**theirs))
    assert refused.value.code == "not_revocable"
    with pytest.raises(NotRevocable):
        check_revocable(message(**theirs), group_admin=True)  # a 1:1 chat has no admins
    with pytest.raises(NotRevocable):
        check_revocable(message(remoteJid=GROUP, **theirs))
    check_revocable(message(remoteJid=GROUP, **theirs), group_admin=True)


def test_a_revoked_message_is_not_revoked_again() -> None:
    with pytest.raises(NotRevocable):
        check_revocable(message(revoked=True))


# ---- react ---------------------------------------------------------------------------------------


def test_any_live_message_takes_a_reaction_a_revoked_one_does_not() -> None:
    check_reactable(message(fromMe=False, messageType="sticker"))
    with pytest.raises(ValidationFailed):
        check_reactable(message(revoked=True))


# ---- poll options --------------------------------------------------------------------------------


def test_poll_options_are_trimmed() -> None:
    assert poll_options([" Pizza ", "Sushi"]) == ["Pizza", "Sushi"]
    assert len(poll_options([f"option {n}" for n in range(POLL_MAX_OPTIONS)])) == POLL_MAX_OPTIONS


@pytest.mark.parametrize(
    ("options", "why"),
    [
        (["only one"], "count"),
        ([f"o{n}" for n in range(POLL_MAX_OPTIONS + 1)], "count"),
        (["Pizza", "  "], "empty option"),
        (["Pizza", "Pizza "], "duplicate"),
        ("Pizza,Sushi", "invalid"),
        (["Pizza", 2], "invalid"),
        (None, "invalid"),
    ],
)
def test_poll_options_outside_the_rules_are_refused(options: Any, why: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        poll_options(options)
    assert refused.value.details == {"options": why}


# ---- coordinates ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lat", "lon"), [(0, 0), (90, 180), (-90, -180), (55.7539, 37.6208)], ids=["zero", "max", "min", "moscow"]
)
def test_coordinates_in_range_are_floats(lat: float, lon: float) -> None:
    assert coordinates(lat, lon) == (float(lat), float(lon))
    assert all(isinstance(v, float) for v in coordinates(lat, lon))


@pytest.mark.parametrize(
    ("lat", "lon", "bad"),
    [
        (90.0001, 0, {"latitude"}),
        (0, -180.5, {"longitude"}),
        (True, 0, {"latitude"}),
        (float("nan"), float("inf"), {"latitude", "longitude"}),
        ("55.7", "37.6", {"latitude", "longitude"}),
        (None, 200, {"latitude", "longitude"}),
    ],
)
def test_coordinates_out_of_range_or_not_numbers_are_refused(lat: Any, lon: Any, bad: set[str]) -> None:
    with pytest.raises(ValidationFailed) as refused:
        coordinates(lat, lon)
    assert refused.value.details is not None and set(refused.value.details) == bad
