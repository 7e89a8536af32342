"""LID ⇄ phone pairs in neonize's protobufs → `IdentityIn`.

WhatsApp addresses people by a LID (`<digits>@lid`) more and more; whatsmeow passes the other
address along where it knows it (neonize 0.5.2's field names):
- `MessageSource.Sender` / `SenderAlt` (messages, receipts, chat presence) and, in a direct chat,
  `Chat` / `RecipientAlt`;
- `GroupParticipant.JID` with `LID` or `PhoneNumber`, `GroupInfo.OwnerJID` / `OwnerPN`;
- `JoinedGroup.Sender` / `SenderPN`, `BasicCallMeta.callCreator` / `callCreatorAlt`.
Whichever of the two is the LID, `pair` names it; the core keeps the mapping.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from wamux.adapters.whatsapp.neonize_jids import LID_SERVER, USER_SERVER, jid_or_none, jid_to_string
from wamux.core.ports import IdentityIn


def is_set(jid: Any) -> bool:
    """A JID field that names someone (whatsmeow sends empty JIDs for "unknown")."""
    return bool(jid.User) and bool(jid.Server)


def pair(first: Any, second: Any) -> IdentityIn | None:
    """`IdentityIn` when one of two JIDs is a LID and the other a phone JID (either order), else None."""
    if not (is_set(first) and is_set(second)):
        return None
    servers = (first.Server, second.Server)
    if servers == (LID_SERVER, USER_SERVER):
        return IdentityIn(lid=jid_to_string(first), phone_jid=jid_to_string(second))
    if servers == (USER_SERVER, LID_SERVER):
        return IdentityIn(lid=jid_to_string(second), phone_jid=jid_to_string(first))
    return None


def phone_first(first: Any, second: Any) -> str | None:
    """Of two JIDs for one person, the phone JID when one of them is, else the first one set (as a string)."""
    for jid in (first, second):
        if is_set(jid) and jid.Server == USER_SERVER:
            return jid_to_string(jid)
    for jid in (first, second):
        if is_set(jid):
            return jid_to_string(jid)
    return None


def from_fields(holder: Any, first: str, second: str) -> IdentityIn | None:
    """`pair` of two JID fields of `holder`, when both are present."""
    if jid_or_none(holder, first) is None or jid_or_none(holder, second) is None:
        return None
    return pair(getattr(holder, first), getattr(holder, second))


def from_source(source: Any) -> list[IdentityIn]:
    """What a `MessageSource` tells: the sender and its alternate address, the direct chat and its alternate."""
    found = [from_fields(source, "Sender", "SenderAlt")]
    if not source.IsGroup:
        found.append(from_fields(source, "Chat", "RecipientAlt"))
    return unique(found)


def from_event(event: Any) -> list[IdentityIn]:
    """The identities any neonize event carries in its `MessageSource` (directly or in `Info`)."""
    fields = event.DESCRIPTOR.fields_by_name
    if "Info" in fields and event.HasField("Info") and event.Info.HasField("MessageSource"):
        return from_source(event.Info.MessageSource)
    if "MessageSource" in fields and event.HasField("MessageSource"):
        return from_source(event.MessageSource)
    return []


def unique(found: Iterable[IdentityIn | None]) -> list[IdentityIn]:
    """The identities in `found`, each once, in order."""
    seen: list[IdentityIn] = []
    for identity in found:
        if identity is not None and identity not in seen:
            seen.append(identity)
    return seen
