"""Who is who on the simulated network: the directory of numbers, their LIDs and profiles, privacy defaults.

The directory (`PUT /api/simulator/instances/{id}/directory`) is what WhatsApp's servers know of
other people: whether a number has WhatsApp, its LID, its name, its about text, whether it is a
business. `check_numbers`, `profile`, group participants and LID-addressed messages answer from it.
A number the directory does not list (or lists with `exists: false`) has no WhatsApp.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from wamux.core.ports import PRIVACY_SETTINGS, DirectoryEntry, NumberCheck, Profile
from wamux.domain.phones import USER_SERVER

LID_SERVER = "lid"
# What a new WhatsApp account shows before anyone changes it (the values of `set_privacy_setting`).
PRIVACY_DEFAULTS: dict[str, str] = {
    "lastSeen": "all",
    "online": "all",
    "profilePhoto": "contacts",
    "about": "contacts",
    "groupAdd": "all",
    "readReceipts": "all",
}
assert tuple(PRIVACY_DEFAULTS) == PRIVACY_SETTINGS
_NOT_DIGITS = re.compile(r"[^0-9]")

Directory = dict[str, DirectoryEntry]  # by the number's digits


def digits_of(phone: str) -> str:
    """The digits of a phone as asked (`+7 900 …`, `7900…@s.whatsapp.net` → `7900…`)."""
    return _NOT_DIGITS.sub("", phone.split("@", 1)[0].split(":", 1)[0])


def phone_jid(digits: str) -> str:
    return f"{digits}@{USER_SERVER}"


def is_lid(jid: str) -> bool:
    return jid.endswith("@" + LID_SERVER)


def directory_from(entries: Iterable[DirectoryEntry]) -> Directory:
    """The directory keyed by digits; a number listed twice keeps its last entry."""
    return {digits_of(e.phone): e for e in entries}


def directory_doc(directory: Directory) -> list[dict[str, Any]]:
    return [
        {
            "phone": e.phone,
            "exists": e.exists,
            "lid": e.lid,
            "name": e.name,
            "about": e.about,
            "business": e.is_business,
        }
        for e in directory.values()
    ]


def directory_load(doc: Iterable[Mapping[str, Any]]) -> Directory:
    """The directory as saved (older files kept only `phone`, `exists`, `jid`, `lid`)."""
    return directory_from(
        DirectoryEntry(
            phone=str(d["phone"]),
            exists=bool(d["exists"]),
            lid=d.get("lid"),
            name=d.get("name"),
            about=d.get("about"),
            is_business=bool(d.get("business", False)),
        )
        for d in doc
    )


def on_whatsapp(directory: Directory, jid: str) -> DirectoryEntry | None:
    """The directory's entry for a phone JID, digits or LID, when that person has WhatsApp."""
    if is_lid(jid):
        entry = next((e for e in directory.values() if e.lid == jid), None)
    else:
        entry = directory.get(digits_of(jid))
    return entry if entry is not None and entry.exists else None


def resolve(directory: Directory, jid: str) -> tuple[str, str | None]:
    """(the JID WhatsApp names a person by, their LID): the phone JID when the network knows it, else the LID."""
    entry = on_whatsapp(directory, jid)
    if is_lid(jid):
        return (phone_jid(digits_of(entry.phone)), jid) if entry is not None else (jid, jid)
    return jid, entry.lid if entry is not None else None


def phone_of_lid(directory: Directory, lid: str) -> str | None:
    """The phone JID behind a LID, when the directory knows it (what WhatsApp sends as the sender's alt)."""
    entry = on_whatsapp(directory, lid) if is_lid(lid) else None
    return phone_jid(digits_of(entry.phone)) if entry is not None else None


def answer_numbers(directory: Directory, phones: Iterable[str]) -> list[NumberCheck]:
    """What `is_on_whatsapp` says for `phones`, in order: only numbers the directory lists as existing exist."""
    out = []
    for phone in phones:
        digits = digits_of(phone)
        known = directory.get(digits)
        if known is not None and known.exists:
            out.append(NumberCheck(phone=phone, exists=True, jid=phone_jid(digits), lid=known.lid))
        else:
            out.append(NumberCheck(phone=phone, exists=False))
    return out


def profile_of(directory: Directory, jid: str) -> Profile | None:
    """A person's profile as `get_user_info` answers it: None when they are not on WhatsApp."""
    entry = on_whatsapp(directory, jid)
    if entry is None:
        return None
    return Profile(
        jid=phone_jid(digits_of(entry.phone)),
        lid=entry.lid,
        name=entry.name,
        push_name=entry.name,
        about=entry.about,
        is_business=entry.is_business,
    )
