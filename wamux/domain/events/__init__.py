"""Domain events: small frozen dataclasses, one per fact, named by their wire `type`.

Every event belongs to one stream (a user or an instance). The store adds the envelope
(stream id, version, timestamp, global position) when it records the event.

One module per kind of fact, all re-exported here (`from wamux.domain.events import MessageSent`):

    base         DomainEvent, the registry of wire names (EVENT_TYPES, register), RecordedEvent, secrets
    users        a user's stream
    instances    an instance's lifecycle and webhook settings
    connection   the WhatsApp connection (QR, pairing, connected, logged out …)
    messages     messages and chats — where new message events go
    contacts     the address book
    history      the past chats WhatsApp pushes at link time (history sync)
    usage        API calls and limits
    webhooks     webhook targets and deliveries

A stored event decodes by its wire name alone: never rename a `type` or a field of a recorded event.
"""

from wamux.domain.events.account import (
    GROUP_TYPES,
    CallReceived,
    GroupJoined,
    GroupParticipantsChanged,
    GroupsSynced,
    GroupUpdated,
    IdentityLearned,
)
from wamux.domain.events.base import (
    EVENT_TYPES,
    REDACTED,
    DomainEvent,
    RecordedEvent,
    map_secrets,
    redact_secrets,
    register,
    type_names,
)
from wamux.domain.events.connection import (
    CONNECTION_TYPES,
    Connected,
    Disconnected,
    InstanceFailed,
    LoggedOut,
    PairingCodeRequested,
    QrReceived,
    ReconnectRequested,
)
from wamux.domain.events.contacts import ContactSaved, ContactsImported
from wamux.domain.events.history import HISTORY_BATCH, HistorySynced, compact_message, history_message
from wamux.domain.events.instances import (
    INSTANCE_LIFECYCLE_TYPES,
    InstanceCreated,
    InstanceDeleted,
    InstanceUpdated,
    WebhookUpdated,
)
from wamux.domain.events.messages import (
    MESSAGE_TYPES,
    ChatRead,
    MessageEdited,
    MessageFailed,
    MessageReaction,
    MessageReceived,
    MessageRevoked,
    MessageSent,
    MessageStatusChanged,
    PollVoted,
    PresenceUpdated,
)
from wamux.domain.events.usage import ApiCallsRecorded, LimitExceeded
from wamux.domain.events.users import (
    USER_EVENT_TYPES,
    ApiKeyRotated,
    UserActive,
    UserCreated,
    UserDeleted,
    UserUpdated,
)
from wamux.domain.events.webhooks import (
    DEFAULT_WEBHOOK_ID,
    WEBHOOK_TARGET_TYPES,
    WebhookDelivered,
    WebhookFailed,
    WebhookReplayQueued,
    WebhookRetryRequested,
    WebhookTargetAdded,
    WebhookTargetRemoved,
    WebhookTargetUpdated,
)

__all__ = [
    "CONNECTION_TYPES",
    "DEFAULT_WEBHOOK_ID",
    "EVENT_TYPES",
    "GROUP_TYPES",
    "HISTORY_BATCH",
    "INSTANCE_LIFECYCLE_TYPES",
    "MESSAGE_TYPES",
    "REDACTED",
    "USER_EVENT_TYPES",
    "WEBHOOK_TARGET_TYPES",
    "ApiCallsRecorded",
    "ApiKeyRotated",
    "CallReceived",
    "ChatRead",
    "Connected",
    "ContactSaved",
    "ContactsImported",
    "Disconnected",
    "DomainEvent",
    "GroupJoined",
    "GroupParticipantsChanged",
    "GroupUpdated",
    "GroupsSynced",
    "HistorySynced",
    "IdentityLearned",
    "InstanceCreated",
    "InstanceDeleted",
    "InstanceFailed",
    "InstanceUpdated",
    "LimitExceeded",
    "LoggedOut",
    "MessageEdited",
    "MessageFailed",
    "MessageReaction",
    "MessageReceived",
    "MessageRevoked",
    "MessageSent",
    "MessageStatusChanged",
    "PairingCodeRequested",
    "PollVoted",
    "PresenceUpdated",
    "QrReceived",
    "ReconnectRequested",
    "RecordedEvent",
    "UserActive",
    "UserCreated",
    "UserDeleted",
    "UserUpdated",
    "WebhookDelivered",
    "WebhookFailed",
    "WebhookReplayQueued",
    "WebhookRetryRequested",
    "WebhookTargetAdded",
    "WebhookTargetRemoved",
    "WebhookTargetUpdated",
    "WebhookUpdated",
    "compact_message",
    "history_message",
    "map_secrets",
    "redact_secrets",
    "register",
    "type_names",
]
