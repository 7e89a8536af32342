"""Rules about groups (pure): ids, invite links, who may do what (API-2 §4)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from wamux.domain.errors import NotGroupAdmin, ValidationFailed

MAX_PARTICIPANTS_PER_CALL = 256
MAX_SUBJECT = 100
MAX_GROUP_DESCRIPTION = 2048
INVITE_PREFIX = "https://chat.whatsapp.com/"
_CODE = re.compile(r"^[A-Za-z0-9]{10,40}$")
_GROUP = re.compile(r"^[0-9]{5,40}(-[0-9]{5,20})?$")


def group_jid(group_id: str) -> str:
    """`<digits>@g.us` from a group id given with or without `@g.us` (400 otherwise)."""
    raw = group_id.strip()
    digits = raw[: -len("@g.us")] if raw.endswith("@g.us") else raw
    if not _GROUP.match(digits):
        raise ValidationFailed("groupId must be <digits>@g.us", details={"groupId": "invalid"})
    return f"{digits}@g.us"


def invite_link(code: str) -> str:
    return INVITE_PREFIX + code


def invite_code(link: str | None, code: str | None) -> str:
    """The code of an invite link (`https://chat.whatsapp.com/<code>`) or a bare code (400 otherwise)."""
    value = (code or "").strip()
    if link is not None:
        text = link.strip()
        if not text.startswith(INVITE_PREFIX):
            raise ValidationFailed(f"link must start with {INVITE_PREFIX}", details={"link": "invalid"})
        value = text[len(INVITE_PREFIX) :].split("?")[0].strip("/")
    if not _CODE.match(value):
        raise ValidationFailed("not a WhatsApp invite link or code", details={"link" if link else "code": "invalid"})
    return value


def participants_batch(participants: Any) -> list[str]:
    """1..256 participants per call, as strings (phones or JIDs; the caller turns them into JIDs)."""
    if (
        not isinstance(participants, list)
        or not participants
        or not all(isinstance(p, str) and 0 < len(p) <= 100 for p in participants)
    ):
        raise ValidationFailed("participants must be a list of phones", details={"participants": "invalid"})
    if len(participants) > MAX_PARTICIPANTS_PER_CALL:
        raise ValidationFailed(
            f"at most {MAX_PARTICIPANTS_PER_CALL} participants per call", details={"participants": "too many"}
        )
    return list(participants)


def is_admin(group: Mapping[str, Any], own: Iterable[str]) -> bool:
    """Whether any of our JIDs (phone, LID) is an admin of the group."""
    mine = {j for j in own if j}
    return any(
        (p.get("jid") in mine or p.get("lid") in mine) and (p.get("isAdmin") or p.get("isSuperAdmin"))
        for p in group.get("participants") or ()
    )


def require_admin(group: Mapping[str, Any], own: Iterable[str], what: str) -> None:
    if not is_admin(group, own):
        raise NotGroupAdmin(f"only group admins may {what}", details={"groupId": group.get("id")})


def check_change(group: Mapping[str, Any], own: Iterable[str], changes: Mapping[str, Any]) -> None:
    """announce/locked need an admin; subject/description need one when the group is locked."""
    if any(k in changes for k in ("announce", "locked")):
        require_admin(group, own, "change who may send or edit")
    elif group.get("locked"):
        require_admin(group, own, "edit this group's info")
