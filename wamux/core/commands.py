"""What an instance actor can be asked to do: one frozen dataclass per command.

A command is a value: the use cases build it, `InstanceActor.execute` queues it, and exactly one
handler method of the actor runs it in mailbox order (`InstanceActor.HANDLERS`). `Command[R]` says
what the handler answers, so `await actor.execute(Send(...))` is typed `str`.

Adding a capability adds a command here and its handler in the actor (docs/contributing.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from wamux.core.ports import (
    GroupInfo,
    MessageRef,
    NumberCheck,
    OutgoingMessage,
    ParticipantResult,
    Profile,
    RemoteContact,
)
from wamux.domain.events import ContactSaved
from wamux.domain.instances import Instance

R = TypeVar("R")


@dataclass(frozen=True)
class Command(Generic[R]):
    """Base of every command; `R` is what its handler answers."""

    # A command that waits on the network for long (pairing waits for a QR connection) runs beside
    # the mailbox, not in it, so it does not hold up the sends queued after it.
    beside_mailbox: ClassVar[bool] = False


# ---- the instance's lifecycle -------------------------------------------------------------------


@dataclass(frozen=True)
class Update(Command[Instance]):
    """Change name, description, webhook, settings or limits (validated by the domain)."""

    changes: Mapping[str, Any]


@dataclass(frozen=True)
class Delete(Command[None]):
    """Delete the instance: record it, end the connection, stop the actor."""


@dataclass(frozen=True)
class Reconnect(Command[None]):
    """Drop the current connection (if any) and connect again, with a fresh failure budget."""


@dataclass(frozen=True)
class Logout(Command[None]):
    """Unlink the device; a new QR code is needed afterwards."""


@dataclass(frozen=True)
class Pair(Command[str]):
    """Ask WhatsApp for a pairing code for `phone` (digits); answers the code."""

    phone: str
    beside_mailbox: ClassVar[bool] = True


@dataclass(frozen=True)
class AddWebhookTarget(Command[dict[str, Any]]):
    """Add a webhook target under `webhook_id` (validated and limited by the domain); answers the target."""

    webhook_id: str
    body: Mapping[str, Any]


@dataclass(frozen=True)
class UpdateWebhookTarget(Command[list[str]]):
    """Change a webhook target; answers the names of the fields that changed (none: nothing recorded)."""

    webhook_id: str
    changes: Mapping[str, Any]


@dataclass(frozen=True)
class RemoveWebhookTarget(Command[None]):
    """Remove a webhook target (its deliveries stay listed)."""

    webhook_id: str


# ---- messaging ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SendOutcome:
    message_id: str
    replayed: bool = False  # an earlier request with the same Idempotency-Key sent it


@dataclass(frozen=True)
class Send(Command[SendOutcome]):
    """Send one message in mailbox order; answers WhatsApp's message id once `message_sent` is committed.

    `idempotency_key`: a repeat within 24 h answers the first message's id without sending again.
    `enforce_limits`: check the usage limits in the same turn, so the (N+1)th send is refused exactly.
    """

    message: OutgoingMessage
    media_path: str | None = None
    idempotency_key: str | None = None
    enforce_limits: bool = False


@dataclass(frozen=True)
class MarkChatRead(Command[None]):
    """Send read receipts for the chat's unread incoming messages, then zero its unread count.

    `unread`: (message id, sender JID) of each unread incoming message, from history.
    """

    chat_jid: str
    unread: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class React(Command[str]):
    """React to a message in history (`emoji == ""` removes our reaction); answers the reaction's id."""

    target: MessageRef
    emoji: str


@dataclass(frozen=True)
class Edit(Command[str]):
    """Replace the text of our own message (the 15-minute rule was checked by the use case)."""

    target: MessageRef
    text: str


@dataclass(frozen=True)
class Revoke(Command[str]):
    """Delete a message for everyone."""

    target: MessageRef


@dataclass(frozen=True)
class SetPresence(Command[None]):
    """typing | recording | paused in `chat_jid`, or available | unavailable for the account (no chat)."""

    state: str
    chat_jid: str | None = None


@dataclass(frozen=True)
class CheckNumbers(Command[list[NumberCheck]]):
    """Which phones (digits) have WhatsApp."""

    phones: tuple[str, ...]


# ---- contacts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FetchContacts(Command[list[RemoteContact]]):
    """The contacts the linked phone knows (needs a connection)."""


@dataclass(frozen=True)
class SaveContact(Command[None]):
    contact: ContactSaved


@dataclass(frozen=True)
class ImportContacts(Command[int]):
    """Fetch the phone's contacts and record them; answers how many."""


# ---- usage --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckLimits(Command[None]):
    """Refuse (429 `limit_exceeded`) when the instance is over its API-call limit; records it once per period."""


@dataclass(frozen=True)
class RecordApiCalls(Command[None]):
    count: int


# ---- groups (API-2 §4) ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SyncGroups(Command[list[GroupInfo]]):
    """Read every group from WhatsApp and record them (`groups_synced`)."""


@dataclass(frozen=True)
class FetchGroup(Command[GroupInfo | None]):
    """One group as WhatsApp has it now (None: we are not a member)."""

    group_jid: str


@dataclass(frozen=True)
class CreateGroup(Command[GroupInfo]):
    subject: str
    participants: tuple[str, ...]


@dataclass(frozen=True)
class UpdateGroup(Command[None]):
    group_jid: str
    subject: str | None = None
    description: str | None = None
    announce: bool | None = None
    locked: bool | None = None


@dataclass(frozen=True)
class SetGroupPicture(Command[None]):
    group_jid: str
    jpeg: bytes


@dataclass(frozen=True)
class UpdateParticipants(Command[list[ParticipantResult]]):
    group_jid: str
    action: str  # add | remove | promote | demote
    participants: tuple[str, ...]


@dataclass(frozen=True)
class GroupInvite(Command[str]):
    """The invite code (a new one with `revoke`)."""

    group_jid: str
    revoke: bool = False


@dataclass(frozen=True)
class JoinGroup(Command[str]):
    """Join by invite code; answers the group's JID."""

    code: str


@dataclass(frozen=True)
class LeaveGroup(Command[None]):
    group_jid: str


# ---- people (API-2 §5) ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FetchProfile(Command[Profile | None]):
    """A person's profile (None: not on WhatsApp); a LID ⇄ phone pair it reveals is recorded."""

    jid: str


@dataclass(frozen=True)
class FetchOwnProfile(Command[Profile]):
    pass


@dataclass(frozen=True)
class SetProfile(Command[None]):
    name: str | None = None
    about: str | None = None


@dataclass(frozen=True)
class SetProfilePicture(Command[None]):
    jpeg: bytes


@dataclass(frozen=True)
class SetBlocked(Command[None]):
    jid: str
    blocked: bool


@dataclass(frozen=True)
class FetchBlocklist(Command[list[str]]):
    pass


@dataclass(frozen=True)
class FetchPrivacy(Command[dict[str, str]]):
    pass


@dataclass(frozen=True)
class SetPrivacy(Command[None]):
    name: str
    value: str
