"""Every port of the core, in this package: what actors, runners and routes need from the outside.

Adapters (`wamux.adapters`) implement these Protocols and import nothing else of the core; the
composition root (`wamux.run.bootstrap`) picks the adapters and injects them. The read-model store
port stays in `wamux.projections.ports`, because the pure projections are written against it and
may not import the core.

- WhatsApp: a `Transport` makes one `WhatsAppSession` per instance (`NeonizeTransport` for the
  real network, `SimulatorTransport` in-process); the session reports what happens on the wire as
  `TransportEvent`s through the `emit` callback the actor gives to `connect`.
- The event store: `EventStore`, an append-only log of domain events (`RecorderEventStore`).
- The cluster: the node registry (`Membership`) and leases (`Leases`) every node shares in PostgreSQL.
- Media bytes (`MediaStore`, `MediaFiles`), media downloads (`MediaFetch`), the outbound-URL rule
  (`OutboundCheck`) and webhook POSTs (`WebhookPoster`).
"""

from __future__ import annotations

from wamux.core.ports.account import (
    GROUP_ACTIONS,
    PRIVACY_SETTINGS,
    AccountSession,
    CallIn,
    DirectoryEntry,
    GroupInfo,
    GroupJoinedIn,
    GroupParticipant,
    GroupParticipantsIn,
    GroupUpdatedIn,
    IdentityIn,
    ParticipantResult,
    Profile,
)
from wamux.core.ports.cluster import (
    PROJECTIONS_LEASE,
    Lease,
    Leases,
    Membership,
    NodeInfo,
    instance_lease,
)
from wamux.core.ports.io import (
    MediaConverter,
    MediaFetch,
    MediaFiles,
    MediaStore,
    OutboundCheck,
    Outcome,
    WebhookPoster,
)
from wamux.core.ports.reads import (
    GroupLookup,
    MessageLookup,
    SentLookup,
    UnreadLookup,
    UsageReader,
)
from wamux.core.ports.store import (
    Backend,
    BackendHandle,
    EventStore,
    TimelineQuery,
)
from wamux.core.ports.whatsapp import (
    MessageRef,
    NotLinked,
    NumberCheck,
    OutgoingMessage,
    RemoteContact,
    SimulatorControl,
    Transport,
    TransportError,
    WhatsAppSession,
)
from wamux.core.ports.wire_in import (
    ConnectionLost,
    ContactCard,
    ContactUpdate,
    EditIn,
    Emit,
    HistoryIn,
    IncomingMessage,
    LinkConnected,
    Location,
    MediaPayload,
    PairSuccess,
    Poll,
    PollVoteIn,
    PresenceIn,
    QrCode,
    ReactionIn,
    Receipt,
    RevokeIn,
    TransportEvent,
)

__all__ = [
    "GROUP_ACTIONS",
    "PRIVACY_SETTINGS",
    "PROJECTIONS_LEASE",
    "AccountSession",
    "Backend",
    "BackendHandle",
    "CallIn",
    "ConnectionLost",
    "ContactCard",
    "ContactUpdate",
    "DirectoryEntry",
    "EditIn",
    "Emit",
    "EventStore",
    "GroupInfo",
    "GroupJoinedIn",
    "GroupLookup",
    "GroupParticipant",
    "GroupParticipantsIn",
    "GroupUpdatedIn",
    "HistoryIn",
    "IdentityIn",
    "IncomingMessage",
    "Lease",
    "Leases",
    "LinkConnected",
    "Location",
    "MediaConverter",
    "MediaFetch",
    "MediaFiles",
    "MediaPayload",
    "MediaStore",
    "Membership",
    "MessageLookup",
    "MessageRef",
    "NodeInfo",
    "NotLinked",
    "NumberCheck",
    "OutboundCheck",
    "Outcome",
    "OutgoingMessage",
    "PairSuccess",
    "ParticipantResult",
    "Poll",
    "PollVoteIn",
    "PresenceIn",
    "Profile",
    "QrCode",
    "ReactionIn",
    "Receipt",
    "RemoteContact",
    "RevokeIn",
    "SentLookup",
    "SimulatorControl",
    "TimelineQuery",
    "Transport",
    "TransportError",
    "TransportEvent",
    "UnreadLookup",
    "UsageReader",
    "WebhookPoster",
    "WhatsAppSession",
    "instance_lease",
]
