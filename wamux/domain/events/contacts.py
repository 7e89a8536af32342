"""An instance's address book: one contact saved, or many imported at once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from wamux.domain.events.base import DomainEvent, register


@register
@dataclass(frozen=True)
class ContactSaved(DomainEvent):
    type: ClassVar[str] = "contact_saved"
    instance_id: str
    jid: str
    number: str
    name: str | None = None
    push_name: str | None = None
    is_group: bool = False
    profile_picture: str | None = None
    about: str | None = None


@register
@dataclass(frozen=True)
class ContactsImported(DomainEvent):
    type: ClassVar[str] = "contacts_imported"
    instance_id: str
    contacts: list[dict[str, Any]] = field(default_factory=list)
