"""The supervisor: starts an actor per live instance, restarts crashed ones, gives up politely.

It is the only place that catches unexpected exceptions. A crashed actor is restarted with
back-off; one that crashes `max_restarts` times within `window_s` is marked `failed` (an
event, visible in activity) and left stopped, while every other instance keeps running.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

import trio

from wamux.core.commands import Delete
from wamux.core.instance_actor import ActorDeps, ActorSettings, InstanceActor
from wamux.core.ports import EventStore, MediaStore, Transport
from wamux.domain.clock import Clock
from wamux.domain.errors import InstanceQuotaExceeded, NotFound, Unavailable
from wamux.domain.events import InstanceCreated, InstanceDeleted
from wamux.domain.ids import new_id
from wamux.domain.instances import Instance


@dataclass(frozen=True)
class RestartPolicy:
    max_restarts: int = 5
    window_s: float = 60.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 10.0


class Supervisor:
    """Owns every instance actor for the life of the server."""

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
        self._scopes: dict[str, trio.CancelScope] = {}
        self._nursery: trio.Nursery | None = None
        self.restarts: dict[str, int] = {}
        self.max_instances_per_user = max_instances_per_user  # None: no quota
        self._creating = trio.Lock()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            for instance_id in await self._live_instance_ids():
                await self._start(instance_id)
            task_status.started()
            await trio.sleep(math.inf)

    async def _live_instance_ids(self) -> list[str]:
        live: dict[str, None] = {}
        position = 0
        while True:
            batch = await self.store.read_all(position, 5000, (InstanceCreated.type, InstanceDeleted.type), rare=True)
            for r in batch:
                if isinstance(r.event, InstanceCreated):
                    live[r.stream_id] = None
                else:
                    live.pop(r.stream_id, None)
            if len(batch) < 5000:
                return list(live)
            position = batch[-1].position

    # ---- lifecycle -------------------------------------------------------------------------

    async def create(self, user_id: str, body: dict[str, Any], *, unlimited: bool = False) -> InstanceActor:
        """A new instance of `user_id`, within its quota unless `unlimited` (admins).

        The one write to an instance stream that is not the actor's: `instance_created` opens the
        stream (at version 0) before there is an actor to write it.
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
            return await self._start(instance_id)

    async def _start(self, instance_id: str) -> InstanceActor:
        assert self._nursery is not None, "supervisor is not running"
        actor = InstanceActor(
            instance_id,
            self.store,
            self.transport.session(instance_id),
            self.clock,
            self.media,
            self.actor_settings,
            self.deps,
        )
        self.actors[instance_id] = actor
        started = trio.Event()
        self._nursery.start_soon(self._supervise, actor, started)
        await started.wait()
        return actor

    async def _supervise(self, actor: InstanceActor, started: trio.Event) -> None:
        crashes: deque[float] = deque()
        backoff = self.policy.backoff_initial_s
        with trio.CancelScope() as scope:
            self._scopes[actor.id] = scope
            while True:
                try:
                    await actor.run(task_status=_Signal(started))
                    break  # clean stop: the instance was deleted
                except Exception as exc:
                    started.set()
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
        started.set()
        await actor.session.close()
        if actor.instance.deleted:
            self.actors.pop(actor.id, None)
            self.transport.forget(actor.id)
        self._scopes.pop(actor.id, None)

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
