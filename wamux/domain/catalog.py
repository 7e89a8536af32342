"""The lists clients see, defined once: instance statuses, delivery statuses and event types by audience.

Wire names live on the event classes (`events.py`); this module only says which events reach
which audience, in the order the API documents them. Routes validate filters against these
lists, `GET /api/meta` serves them to the web manager, and a test holds `docs/openapi.yaml`'s
enums equal to them.
"""

from __future__ import annotations

from wamux.domain.events import (
    CallReceived,
    Connected,
    Disconnected,
    DomainEvent,
    GroupJoined,
    GroupParticipantsChanged,
    GroupUpdated,
    HistorySynced,
    InstanceCreated,
    InstanceDeleted,
    InstanceFailed,
    InstanceUpdated,
    LimitExceeded,
    LoggedOut,
    MessageEdited,
    MessageFailed,
    MessageReaction,
    MessageReceived,
    MessageRevoked,
    MessageSent,
    MessageStatusChanged,
    PairingCodeRequested,
    PollVoted,
    PresenceUpdated,
    QrReceived,
    ReconnectRequested,
    WebhookUpdated,
    type_names,
)

# An instance's connection status; a new instance (and one restarting) is `connecting`.
INSTANCE_STATUSES = ("connecting", "qr", "connected", "disconnected", "logged_out", "failed")
INITIAL_STATUS = "connecting"

# The status each connection event leaves the instance in (the aggregate and the listing fold the same way).
STATUS_AFTER: dict[type[DomainEvent], str] = {
    QrReceived: "qr",
    Connected: "connected",
    Disconnected: "disconnected",
    LoggedOut: "logged_out",
    ReconnectRequested: "connecting",
    InstanceFailed: "failed",
}

# Events a client reads from `/events` and the SSE stream, and may receive as webhooks.
PUBLIC_EVENT_TYPES = type_names(
    MessageReceived,
    MessageSent,
    MessageStatusChanged,
    MessageFailed,
    MessageReaction,
    MessageEdited,
    MessageRevoked,
    PollVoted,
    PresenceUpdated,
    GroupJoined,
    GroupUpdated,
    GroupParticipantsChanged,
    CallReceived,
    HistorySynced,
    Connected,
    Disconnected,
    LoggedOut,
    QrReceived,
    LimitExceeded,
    WebhookUpdated,
)

# The public events that change the groups an account is in (a client reloads its group list on them).
GROUP_EVENT_TYPES = type_names(GroupJoined, GroupUpdated, GroupParticipantsChanged)

# Public events sent to webhooks whatever the instance's notify flags say.
ALWAYS_SENT_EVENT_TYPES = type_names(
    PresenceUpdated, GroupJoined, GroupUpdated, GroupParticipantsChanged, CallReceived, HistorySynced
)

# Public events that are delivered but never shown in history (nor in the chat list).
EPHEMERAL_EVENT_TYPES = type_names(PresenceUpdated)

# Presence states: in a chat (with a phone) or of the account (without).
CHAT_PRESENCE_STATES = ("typing", "recording", "paused")
ACCOUNT_PRESENCE_STATES = ("available", "unavailable")
PRESENCE_STATES = (*CHAT_PRESENCE_STATES, *ACCOUNT_PRESENCE_STATES)

# The public events that change the instance's status (a client refreshes the status on them).
STATUS_EVENT_TYPES = tuple(t for t in PUBLIC_EVENT_TYPES if t in type_names(*STATUS_AFTER))

# `POST .../webhook/test` sends this event; it is never recorded, so it has no event class.
WEBHOOK_TEST_EVENT = "test"
WEBHOOK_EVENT_TYPES = (*PUBLIC_EVENT_TYPES, WEBHOOK_TEST_EVENT)

# The instance's activity log: lifecycle and connection steps (`action` in `/activity`).
ACTIVITY_TYPES = type_names(
    InstanceCreated,
    InstanceUpdated,
    WebhookUpdated,
    QrReceived,
    PairingCodeRequested,
    Connected,
    Disconnected,
    LoggedOut,
    ReconnectRequested,
    LimitExceeded,
    CallReceived,
    InstanceFailed,
    InstanceDeleted,
)

# A webhook delivery's state in the outbox; `cancelled`: its target was disabled or removed while it was owed.
DELIVERY_STATUSES = ("pending", "delivered", "failed", "cancelled")
