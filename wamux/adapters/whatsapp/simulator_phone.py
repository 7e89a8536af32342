"""What the simulated network keeps for one instance's phone, and how it is saved.

One JSON file per instance under `DATA_DIR/simulator/` holds the link (JID, push name), the address
book, the directory, the groups, our about text, the blocklist and the privacy settings; pictures
set by the instance are files beside it (`<instance>/picture.jpg`, `<instance>/groups/<jid>.jpg`).
The outbox and the injected faults live only in memory: a restarted network starts them afresh.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wamux.adapters.whatsapp import simulator_groups as groups
from wamux.adapters.whatsapp.simulator_groups import NetGroup, Own
from wamux.adapters.whatsapp.simulator_people import (
    PRIVACY_DEFAULTS,
    Directory,
    digits_of,
    directory_doc,
    directory_load,
)
from wamux.core.ports import RemoteContact


@dataclass
class Phone:
    """What the simulated network knows about one instance."""

    jid: str | None = None
    push_name: str | None = None
    contacts: list[RemoteContact] = field(default_factory=list)
    directory: Directory = field(default_factory=dict)
    groups: dict[str, NetGroup] = field(default_factory=dict)  # by group JID, also those we left
    about: str | None = None
    blocked: list[str] = field(default_factory=list)
    privacy: dict[str, str] = field(default_factory=lambda: dict(PRIVACY_DEFAULTS))
    outbox: list[dict[str, Any]] = field(default_factory=list)
    faults: dict[str, Any] = field(default_factory=dict)

    @property
    def own(self) -> Own:
        """Our account as groups name it: the linked phone JID, and its LID when the directory lists it."""
        jid = self.jid or ""
        entry = self.directory.get(digits_of(jid)) if jid else None
        return Own(jid=jid, lid=entry.lid if entry is not None else None)


def phone_doc(phone: Phone) -> dict[str, Any]:
    return {
        "jid": phone.jid,
        "pushName": phone.push_name,
        "contacts": [c.__dict__ for c in phone.contacts],
        "directory": directory_doc(phone.directory),
        "groups": [groups.group_doc(g) for g in phone.groups.values()],
        "about": phone.about,
        "blocked": phone.blocked,
        "privacy": phone.privacy,
    }


def phone_load(doc: dict[str, Any]) -> Phone:
    return Phone(
        jid=doc.get("jid"),
        push_name=doc.get("pushName"),
        contacts=[RemoteContact(**c) for c in doc.get("contacts", [])],
        directory=directory_load(doc.get("directory", [])),
        groups={g.jid: g for g in map(groups.group_load, doc.get("groups", []))},
        about=doc.get("about"),
        blocked=list(doc.get("blocked", [])),
        privacy={**PRIVACY_DEFAULTS, **doc.get("privacy", {})},
    )


def read_phone(path: Path) -> Phone:
    return phone_load(json.loads(path.read_text())) if path.is_file() else Phone()


def write_phone(path: Path, phone: Phone) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(phone_doc(phone)))
    tmp.replace(path)
