"""The state an instance actor keeps, and the one place it appends to its stream.

`InstanceActor` (wamux.core.instance_actor) is built from three parts that share this state:
`ActorBase` (state, load, append), `ConnectionLoop` (wamux.core.connection_loop: connect, back
off, reconnect) and `InboundEvents` (wamux.core.inbound: what the wire reports, as domain events).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

import trio

from wamux.core.ports import (
    ConnectionLost,
    EventStore,
    GroupLookup,
    MediaStore,
    MessageLookup,
    SentLookup,
    TransportError,
    WhatsAppSession,
)
from wamux.core.usage import LimitGate
from wamux.domain.clock import Clock
from wamux.domain.errors import DomainError, InstanceNotConnected, NotFound, NotGroupAdmin, TransportFailed, Unavailable
from wamux.domain.events import (
    CONNECTION_TYPES,
    INSTANCE_LIFECYCLE_TYPES,
    WEBHOOK_TARGET_TYPES,
    Connected,
    Disconnected,
    DomainEvent,
    InstanceFailed,
    LoggedOut,
    ReconnectRequested,
    RecordedEvent,
)
from wamux.domain.instances import Instance
from wamux.domain.phones import is_lid, is_phone_jid, person_jid
from wamux.logs import get_logger

T = TypeVar("T")
log = get_logger("wamux.actor")

# WhatsApp's refusals that mean something to the caller: not a member / no such invite, not an admin.
REFUSALS: dict[str, type[DomainError]] = {"not_found": NotFound, "not_authorized": NotGroupAdmin}


@dataclass(frozen=True)
class ActorSettings:
    """Timings of the connection loop (tests shrink them on trio's autojump clock)."""

    qr_max_attempts: int = 6
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 60.0
    max_connect_failures: int = 20
    liveness_interval_s: float = 30.0
    liveness_timeout_s: float = 10.0
    send_timeout_s: float = 60.0
    pair_wait_s: float = 30.0


@runtime_checkable
class IdentityLookup(Protocol):
    """The LID ⇄ phone pairs an instance learned before this process (the identities read model)."""

    async def known_identity(self, instance_id: str, jid: str) -> tuple[str, str] | None:
        """(LID, phone JID) of the person `jid` (either of the two) names, if recorded; no catch-up wait."""


@dataclass(frozen=True)
class ActorDeps:
    """What an actor reads besides its own stream: earlier sends (idempotency), history, usage (limits).

    All are optional so the connection tests need none; the server passes them all.
    """

    sent: SentLookup | None = None
    limits: LimitGate | None = None
    history: MessageLookup | None = None  # without it, reactions/edits/votes from the wire are taken as they come
    groups: GroupLookup | None = None  # the groups read model: what a connect compares WhatsApp's list with
    identities: IdentityLookup | None = None  # without it, only the pairs this process recorded are known

    def __post_init__(self) -> None:
        # The server's history reader answers identities too (`ActorReads`): use it when none is named.
        if self.identities is None and isinstance(self.history, IdentityLookup):
            object.__setattr__(self, "identities", self.history)


class PeopleIndex:
    """Who a person JID names, for one actor: the phone JID to show and the LID, when known (API-2 §5).

    The pairs this process recorded (`recorded`, LID -> phone JID, filled from `IdentityIn` before the
    event that carries them) answer first; then the identities read model, through an LRU cache of its
    answers (a miss too), so the hot path of a busy chat asks no store. Both halves are needed: a
    pair recorded by this process may not be in the read model yet, and one recorded before it is only there.
    """

    def __init__(
        self, instance_id: str, recorded: dict[str, str], lookup: IdentityLookup | None, size: int = 4096
    ) -> None:
        self.instance_id = instance_id
        self.recorded = recorded
        self.lookup = lookup
        self.size = size
        self._stored: OrderedDict[str, tuple[str, str] | None] = OrderedDict()
        self._phones: dict[str, str] = {}  # phone JID -> LID, the reverse of `recorded`
        self._phones_of = -1  # len(recorded) when `_phones` was built

    def learned(self, lid: str, phone_jid: str) -> None:
        """The wire paired `lid` with `phone_jid` (just before the pair is recorded): keep the reverse map true."""
        old = self.recorded.get(lid)
        if old is not None and old != phone_jid and self._phones.get(old) == lid:
            del self._phones[old]
        self._phones[phone_jid] = lid

    async def resolve(self, jid: str) -> tuple[str, str | None]:
        """(the JID to name the person by, their LID): the phone JID when known, else as given.

        A LID whose phone is unknown answers the LID twice; a phone JID without a known LID answers
        None as its LID; a group, a broadcast list or an empty JID answers itself and None.
        """
        if not jid:
            return jid, None
        person = person_jid(jid)
        if is_lid(person):
            phone = self.recorded.get(person)
            if phone is None:
                pair = await self._ask(person)
                phone = pair[1] if pair is not None else None
            return (phone or jid), person
        if not is_phone_jid(person):
            return jid, None
        lid = self._reverse().get(person)
        if lid is None:
            pair = await self._ask(person)
            # A pair of the read model that this process recorded again with another phone is stale.
            if pair is not None and self.recorded.get(pair[0], person) == person:
                lid = pair[0]
        return jid, lid

    def _reverse(self) -> dict[str, str]:
        if self._phones_of != len(self.recorded):
            self._phones = {phone: lid for lid, phone in self.recorded.items()}
            self._phones_of = len(self.recorded)
        return self._phones

    async def _ask(self, person: str) -> tuple[str, str] | None:
        if person in self._stored:
            self._stored.move_to_end(person)
            return self._stored[person]
        if self.lookup is None:
            return None
        try:
            found = await self.lookup.known_identity(self.instance_id, person)
        except Exception as exc:  # a read-model hiccup names the person as WhatsApp did, and asks again next time
            log.warning("could not look up an identity", instance_id=self.instance_id, error=repr(exc))
            return None
        self._stored[person] = found
        if len(self._stored) > self.size:
            self._stored.popitem(last=False)
        return found


@dataclass
class ConnectionProblem:
    """Why the instance is not connected, as this process knows it (`connectionStatus`), and its log's pace.

    `ConnectionLoop` keeps it; a connection that comes up clears it.
    """

    reason: str | None = None  # the code of the last recorded end: disconnected, logged out, failed
    will_reconnect: bool = False  # that end said the loop would come back by itself
    last_error: str | None = None  # the cause in words ("cannot reach WhatsApp: connection refused")
    attempts: int = 0  # failed connects in a row
    retrying_at_ms: int | None = None  # when the next attempt starts, while backing off
    logged_at: float | None = None  # trio time of the last log line about failed connects
    unlogged: int = 0  # failed connects since that line

    def recall(self, event: DomainEvent) -> None:
        """Fold one loaded connection event: how the previous process left the connection."""
        if isinstance(event, Disconnected):
            self.reason, self.will_reconnect = event.reason, event.will_reconnect
        elif isinstance(event, LoggedOut):
            self.reason, self.will_reconnect = event.reason, False
        elif isinstance(event, InstanceFailed):
            self.reason, self.will_reconnect = "failed", False
        elif isinstance(event, Connected | ReconnectRequested):
            self.reason, self.will_reconnect = None, False


class ActorBase:
    """One instance's state: its aggregate, stream version, connection status."""

    def __init__(
        self,
        instance_id: str,
        store: EventStore,
        session: WhatsAppSession,
        clock: Clock,
        media: MediaStore,
        settings: ActorSettings | None = None,
        deps: ActorDeps | None = None,
    ) -> None:
        self.id = instance_id
        self.store = store
        self.session = session
        self.clock = clock
        self.media = media
        self.settings = settings or ActorSettings()
        self.deps = deps or ActorDeps()
        self.instance = Instance(id=instance_id)
        self.version = 0
        self.status = "connecting"
        self.qr_code: str | None = None
        self.last_activity_ms = 0
        self.running = False
        self.stopping = False
        self.linked_jid: str | None = None
        self.reconnecting = False  # in the back-off pause between two connection attempts
        self.problem = ConnectionProblem()
        self._lock = trio.Lock()  # one writer: commands and transport events append under it
        self._wake = trio.Event()
        self._connection: trio.CancelScope | None = None
        self._outcome: ConnectionLost | None = None
        self._qr_attempt = 0
        self._failures = 0
        self._status_changed = trio.Event()
        self._next_send_ms = 0
        self._idempotency: dict[str, tuple[str, int]] = {}  # key -> (message id, sent at ms), this process
        self.limit_notified: set[str] = set()  # limit periods already announced with limit_exceeded
        self._identities: dict[str, str] = {}  # lid -> phone JID recorded by this process
        self._people = PeopleIndex(instance_id, self._identities, self.deps.identities)
        # The groups as last recorded (None: unknown in this process, or changed since: ask the read model).
        self._groups_synced: list[dict[str, Any]] | None = None
        self._group_changes = 0  # group events recorded by this process (a stale list read is dropped)
        self._nursery: trio.Nursery | None = None  # the actor's own, while it runs

    @property
    def idle(self) -> bool:
        """Not trying to connect: needs a /reconnect (logged out, failed, QR timed out)."""
        return self.status in ("logged_out", "failed") or (self.status == "disconnected" and not self.reconnecting)

    async def _load(self) -> None:
        history = await self.store.read_stream(
            self.id, INSTANCE_LIFECYCLE_TYPES + CONNECTION_TYPES + WEBHOOK_TARGET_TYPES
        )
        self.instance = Instance(id=self.id)
        for recorded in history:
            self.instance.apply(recorded.event, recorded.timestamp_ms)
            self.problem.recall(recorded.event)
            self.last_activity_ms = recorded.timestamp_ms
        self.version = await self.store.stream_version(self.id)
        # "qr"/"connected" were true of the previous process; this one has to connect first.
        loaded = self.instance.status
        self._set_status("connecting" if loaded in ("qr", "connected") else loaded)
        self.linked_jid = self.instance.jid

    async def _append(self, *events: DomainEvent) -> list[RecordedEvent]:
        """The only write to the instance's stream (callers hold `_lock`, or the actor is stopped)."""
        recorded = await self.store.append(self.id, events, self.version)
        for r in recorded:
            self.instance.apply(r.event, r.timestamp_ms)
            self.version = r.version
            self.last_activity_ms = r.timestamp_ms
        return recorded

    def _set_status(self, status: str) -> None:
        if status != self.status:
            self.status = status
            self._status_changed.set()
            self._status_changed = trio.Event()

    async def wait_status(self, statuses: Sequence[str], timeout: float) -> bool:
        with trio.move_on_after(timeout):
            while self.status not in statuses:
                await self._status_changed.wait()
            return True
        return False

    def _wants_connection(self) -> bool:
        return not self.instance.deleted and self.status not in ("logged_out", "failed", "disconnected")

    def _end_connection(self, outcome: ConnectionLost) -> None:
        self._outcome = outcome
        self.qr_code = None  # at once: /qr must not hand out the dead connection's code
        if self._connection is not None:
            self._connection.cancel()

    def _connected(self) -> None:
        if self.status != "connected":
            raise InstanceNotConnected(f"instance is not connected (status {self.status})")

    async def _on_wire(self, call: Awaitable[T], what: str) -> T:
        """Await one session call with the send timeout; its failure is the caller's 502/503."""
        try:
            with trio.fail_after(self.settings.send_timeout_s):
                return await call
        except trio.TooSlowError as exc:
            raise Unavailable(f"WhatsApp did not answer the {what} in time") from exc
        except TransportError as exc:
            if exc.retryable:
                raise Unavailable(f"WhatsApp did not accept the {what}: {exc}") from exc
            refusal = REFUSALS.get(exc.code)
            if refusal is not None:
                raise refusal(f"WhatsApp refused the {what}: {exc}", details={"whatsapp": exc.code}) from exc
            raise TransportFailed(f"WhatsApp refused the {what}: {exc}") from exc

    async def _on_account_event(self, event: object) -> bool:
        """Handle a group, call or identity event from the wire (`AccountHandlers`); False: not one."""
        return False

    async def _after_connected(self) -> None:
        """Work to do once a connection is up, beside the mailbox (`AccountHandlers`: read the groups)."""
