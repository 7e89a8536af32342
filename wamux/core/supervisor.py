"""The supervisor: starts an actor per live instance, restarts crashed ones, gives up politely.

It is the only place that catches unexpected exceptions. A crashed actor is restarted with
back-off; one that crashes `max_restarts` times within `window_s` is marked `failed` (an
event, visible in activity) and left stopped, while every other instance keeps running.

In cluster mode (an `Ownership` is given, API-2.md §10) `run` starts no actor: the cluster member
(`wamux.core.cluster_member`) starts and stops single instances as their leases come and go
(`start_owned`, `stop_owned`), and a new instance's lease is claimed before its actor starts. An
actor whose append is refused because another node wrote its stream (a stale owner) is stopped, not
restarted: the member starts a fresh one if this node still holds the lease.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import trio

from wamux.core.commands import Delete
from wamux.core.instance_actor import ActorDeps, ActorSettings, InstanceActor
from wamux.core.ports import EventStore, MediaStore, TimelineQuery, Transport
from wamux.domain.clock import Clock
from wamux.domain.errors import ConcurrencyConflict, InstanceQuotaExceeded, NotFound, Unavailable
from wamux.domain.events import DomainEvent, InstanceCreated, InstanceDeleted, RecordedEvent
from wamux.domain.ids import new_id
from wamux.domain.instances import Instance

LIFECYCLE_BATCH = 5000


@dataclass(frozen=True)
class RestartPolicy:
    max_restarts: int = 5
    window_s: float = 60.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 10.0


class Ownership(Protocol):
    """What the supervisor asks of the cluster member in cluster mode."""

    async def claim(self, instance_id: str) -> None:
        """Take the lease of a new instance before its actor starts; raises when it cannot."""

    def fenced(self, instance_id: str) -> None:
        """The instance's actor stopped: another node appended to its stream."""


class Supervisor:
    """Owns every instance actor for the life of the server (in cluster mode: of the instances this node holds)."""

    def __init__(
        self,
        store: EventStore,
        transport: Transport,
        clock: Clock,
        media: MediaStore,
        *,
        actor_settings: ActorSettings | None = None,
        policy: RestartPolicy | None = None,
        logger: Any = None,
        max_instances_per_user: int | None = None,
        deps: ActorDeps | None = None,
        ownership: Ownership | None = None,
        lifecycle_poll_s: float = 0.5,
    ) -> None:
        self.store = store
        self.transport = transport
        self.clock = clock
        self.media = media
        self.actor_settings = actor_settings or ActorSettings()
        self.deps = deps or ActorDeps()
        self.policy = policy or RestartPolicy()
        self.log = logger
        self.actors: dict[str, InstanceActor] = {}
        self._scopes: dict[str, trio.CancelScope] = {}  # an actor's task while it runs
        self._ended: dict[str, trio.Event] = {}  # set when that task has ended
        self._nursery: trio.Nursery | None = None
        self.restarts: dict[str, int] = {}
        self.max_instances_per_user = max_instances_per_user  # None: no quota
        self._creating = trio.Lock()
        # Cluster mode: the member decides which instances run here; actors append through the fence.
        self.ownership = ownership
        self.lifecycle_poll_s = lifecycle_poll_s  # at most one read of the creations and deletions this often
        self._actor_store: EventStore = store if ownership is None else _FencingStore(store, self._fenced_out)
        self._stopping: set[str] = set()  # asked to stop (`stop_owned`): not a crash, no event
        self._fenced: set[str] = set()  # stopped because another node wrote the stream
        self._live: dict[str, None] = {}  # every live instance, this node's or not (`live_instance_ids`)
        self._lifecycle_position = 0  # how far the log's creations and deletions were read

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            live = await self._live_instance_ids()
            if self.ownership is None:
                for instance_id in live:
                    await self._start(instance_id)
            else:
                nursery.start_soon(self._follow_lifecycle)
            task_status.started()
            await trio.sleep(math.inf)

    async def _live_instance_ids(self) -> list[str]:
        await self._read_lifecycle()
        return list(self._live)

    async def _read_lifecycle(self) -> None:
        """Apply the creations and deletions logged since the last read (all of them the first time)."""
        types = (InstanceCreated.type, InstanceDeleted.type)
        while True:
            batch = await self.store.read_all(self._lifecycle_position, LIFECYCLE_BATCH, types, rare=True)
            for r in batch:
                if isinstance(r.event, InstanceCreated):
                    self._live[r.stream_id] = None
                else:
                    self._live.pop(r.stream_id, None)
            if batch:
                self._lifecycle_position = batch[-1].position
            if len(batch) < LIFECYCLE_BATCH:
                return

    async def _follow_lifecycle(self) -> None:
        """Cluster mode: other nodes create and delete instances too. Woken by the log's head moving (this
        node's appends, and other nodes' through the log listener), then reads the creations and deletions
        since the last read (the topic index finds them without walking the log); `lifecycle_poll_s` only
        spaces the reads out under a busy log."""
        failing = False
        seen = self.store.head()
        while True:
            await self.store.wait_beyond(seen)
            seen = self.store.head()
            await trio.sleep(self.lifecycle_poll_s)  # let a burst of appends come: one read for all of them
            try:
                await self._read_lifecycle()
                failing = False
            except Exception as exc:  # the store is unreachable: the list stays as it was, read again later
                if self.log and not failing:
                    self.log.warning("could not read instance creations and deletions", error=repr(exc))
                failing = True

    def live_instance_ids(self) -> list[str]:
        """Every live instance, wherever it runs (known from the log at `run`, then kept up to date)."""
        return list(self._live)

    # ---- lifecycle -------------------------------------------------------------------------

    async def create(self, user_id: str, body: dict[str, Any], *, unlimited: bool = False) -> InstanceActor:
        """A new instance of `user_id`, within its quota unless `unlimited` (admins).

        The one write to an instance stream that is not the actor's: `instance_created` opens the
        stream (at version 0) before there is an actor to write it. In cluster mode this node claims
        the instance's lease before its actor starts.
        """
        instance_id = new_id()
        events = Instance.create(instance_id, user_id, body)  # validates before anything is written
        # One create at a time: two creates at the quota must not both count before either is registered.
        async with self._creating:
            quota = self.max_instances_per_user
            if quota is not None and not unlimited and len(self.visible(user_id)) >= quota:
                raise InstanceQuotaExceeded(
                    f"instance quota reached: at most {quota} instances per user", details={"limit": quota}
                )
            await self.store.append(instance_id, events, 0)
            self._live[instance_id] = None
            if self.ownership is None:
                return await self._start(instance_id)
            await self.ownership.claim(instance_id)
            if instance_id in self._scopes:  # the member took it meanwhile and started it
                return self.actors[instance_id]
            return await self._start(instance_id)

    async def _start(self, instance_id: str) -> InstanceActor:
        assert self._nursery is not None, "supervisor is not running"
        actor = InstanceActor(
            instance_id,
            self._actor_store,
            self.transport.session(instance_id),
            self.clock,
            self.media,
            self.actor_settings,
            self.deps,
        )
        self.actors[instance_id] = actor
        started = trio.Event()
        # Registered before the task runs, so a stop asked at once finds it.
        scope = self._scopes[instance_id] = trio.CancelScope()
        ended = self._ended[instance_id] = trio.Event()
        self._nursery.start_soon(self._supervise, actor, started, scope, ended)
        await started.wait()
        return actor

    async def _supervise(
        self, actor: InstanceActor, started: trio.Event, scope: trio.CancelScope, ended: trio.Event
    ) -> None:
        try:
            with scope:
                await self._keep_running(actor, started)
        except Exception:
            # Only a cluster stop lands here: the stop cancelled the actor while an append's refusal (the
            # fence) was on its way out, and the scope let the refusal through without the cancellation.
            if actor.id not in self._fenced:
                raise
        started.set()
        await actor.session.close()
        fenced = actor.id in self._fenced
        if actor.instance.deleted:
            self.actors.pop(actor.id, None)
            self.transport.forget(actor.id)
            self._live.pop(actor.id, None)
        elif fenced or actor.id in self._stopping:
            # Another node runs it now: commands still queued are told so; a later start is a fresh actor.
            actor.stopping = True
            actor.fail_pending(Unavailable("instance moved to another node"))
            if self.actors.get(actor.id) is actor:
                del self.actors[actor.id]
        if self._scopes.get(actor.id) is scope:
            del self._scopes[actor.id]
            self._ended.pop(actor.id, None)
            self._stopping.discard(actor.id)
            self._fenced.discard(actor.id)
        ended.set()
        if fenced and self.ownership is not None:
            self.ownership.fenced(actor.id)

    async def _keep_running(self, actor: InstanceActor, started: trio.Event) -> None:
        crashes: deque[float] = deque()
        backoff = self.policy.backoff_initial_s
        while True:
            try:
                await actor.run(task_status=_Signal(started))
                break  # clean stop: the instance was deleted
            except Exception as exc:
                started.set()
                if actor.id in self._fenced:
                    break  # a stale owner: stopped, not restarted (`_fenced_out` logged it)
                now = trio.current_time()
                crashes.append(now)
                while crashes and now - crashes[0] > self.policy.window_s:
                    crashes.popleft()
                self.restarts[actor.id] = self.restarts.get(actor.id, 0) + 1
                if self.log:
                    self.log.error("instance actor crashed", instance_id=actor.id, error=repr(exc))
                if len(crashes) >= self.policy.max_restarts:
                    reason = f"crashed {len(crashes)} times in {self.policy.window_s:g}s: {exc!r}"
                    actor.fail_pending(Unavailable("instance failed"))
                    actor.stopping = True  # nobody reads its mailbox now: later asks must not wait forever
                    try:
                        await actor.mark_failed(reason, len(crashes))
                    except Exception as mark_exc:
                        if self.log:
                            self.log.error("could not record failure", instance_id=actor.id, error=repr(mark_exc))
                    break
                await trio.sleep(backoff)
                backoff = min(backoff * 2, self.policy.backoff_max_s)

    # ---- cluster mode ----------------------------------------------------------------------

    async def start_owned(self, instance_id: str) -> None:
        """Start the actor of an instance this node now holds (a fresh actor: it reads its stream again)."""
        if instance_id in self._scopes and instance_id not in self._stopping and instance_id not in self._fenced:
            return  # already running here
        ending = self._ended.get(instance_id)
        if ending is not None:
            await ending.wait()  # a stop still under way
        if instance_id not in self._scopes:
            await self._start(instance_id)

    async def stop_owned(self, instance_id: str) -> None:
        """Stop an instance's actor and its WhatsApp connection, appending nothing (its lease goes elsewhere)."""
        actor = self.actors.get(instance_id)
        scope = self._scopes.get(instance_id)
        ending = self._ended.get(instance_id)
        if scope is None or ending is None:  # no task runs it (never started here, or failed): forget it
            if actor is not None:
                actor.stopping = True
                actor.fail_pending(Unavailable("instance moved to another node"))
                self.actors.pop(instance_id, None)
            return
        self._stopping.add(instance_id)
        if actor is not None:
            actor.stopping = True  # new commands are refused at once
        scope.cancel()
        await ending.wait()

    def _fenced_out(self, instance_id: str) -> None:
        """An append of this instance's actor was refused: another node wrote the stream. Stop the actor."""
        scope = self._scopes.get(instance_id)
        if scope is None or instance_id in self._fenced or instance_id in self._stopping:
            return
        self._fenced.add(instance_id)
        if self.log:
            self.log.warning(
                "another node wrote this instance's stream; stopping its actor here", instance_id=instance_id
            )
        actor = self.actors.get(instance_id)
        if actor is not None:
            actor.stopping = True
        scope.cancel()

    # ---- queries and commands ----------------------------------------------------------------

    def get(self, instance_id: str) -> InstanceActor:
        actor = self.actors.get(instance_id)
        if actor is None or actor.instance.deleted:
            raise NotFound("instance not found")
        return actor

    def visible(self, user_id: str | None) -> list[InstanceActor]:
        """Live instances of `user_id` (all of them for None, i.e. an admin)."""
        return [
            a
            for a in self.actors.values()
            if not a.instance.deleted and (user_id is None or a.instance.user_id == user_id)
        ]

    async def delete(self, instance_id: str) -> None:
        actor = self.get(instance_id)
        if actor.running:
            await actor.execute(Delete())
        else:  # a failed actor's task has ended: it records its deletion outside the mailbox
            await actor.delete_stopped()
            self.actors.pop(instance_id, None)
            self.transport.forget(instance_id)
            self._live.pop(instance_id, None)

    async def restart_failed(self, instance_id: str) -> InstanceActor:
        """A `/reconnect` on a failed instance gives it a fresh restart budget."""
        actor = self.get(instance_id)
        if actor.running:
            return actor
        return await self._start(instance_id)

    async def stop_all(self) -> None:
        for actor in list(self.actors.values()):
            await actor.session.close()


class _Signal:
    """Adapts a trio.Event to the `task_status` protocol so restarts can reuse `actor.run`."""

    def __init__(self, event: trio.Event) -> None:
        self.event = event

    def started(self, value: object = None) -> None:
        self.event.set()


class _FencingStore:
    """The event store as a cluster-mode actor sees it: a refused append means a stale owner, so it stops."""

    def __init__(self, store: EventStore, fenced: Callable[[str], None]) -> None:
        self.store = store
        self.fenced = fenced

    @property
    def provider(self) -> str:
        return self.store.provider

    def head(self) -> int:
        return self.store.head()

    async def append(self, stream_id: str, events: Sequence[DomainEvent], expected_version: int) -> list[RecordedEvent]:
        try:
            return await self.store.append(stream_id, events, expected_version)
        except ConcurrencyConflict:
            self.fenced(stream_id)
            raise

    async def read_stream(self, stream_id: str, types: Sequence[str] = ()) -> list[RecordedEvent]:
        return await self.store.read_stream(stream_id, types)

    async def stream_version(self, stream_id: str) -> int:
        return await self.store.stream_version(stream_id)

    async def read_all(
        self, after: int, limit: int, types: Sequence[str] = (), *, rare: bool = False
    ) -> list[RecordedEvent]:
        return await self.store.read_all(after, limit, types, rare=rare)

    async def timeline(self, query: TimelineQuery) -> list[RecordedEvent]:
        return await self.store.timeline(query)

    async def count_timeline(self, query: TimelineQuery) -> int:
        return await self.store.count_timeline(query)

    async def wait_beyond(self, position: int) -> None:
        await self.store.wait_beyond(position)
