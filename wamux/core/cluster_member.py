"""One node's part in a cluster (API-2.md §10): its heartbeat, its leases, and which instances it runs.

Every period the member heartbeats its registry row, renews its leases, reads who holds what, plans
(`wamux.domain.cluster.plan_leases`: an even spread, a few moves a round), gives away its surplus and
takes free instances. An instance runs here exactly while this node holds its lease: `on_gain` starts
its actor, `on_loss` stops it, always BEFORE the lease is released, so another node can start it only
once it stopped here. A lease missing from a renew's answer lapsed: its actor is stopped at once.

A node that cannot reach the database keeps trying each period; once `ttl − period` has passed since
the last renew that went through, a watchdog task (so a hanging call cannot hold it up) stops every
instance and drops the projections lease: before any other node can take them over, which it can only
after the ttl, on the database's clock.

One node at a time holds the `projections` lease: `run_while_holding` runs the read models only there.
Port calls block (a database round trip): they run in worker threads.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

import trio

from wamux.core.ports.cluster import PROJECTIONS_LEASE, Lease, Leases, Membership, NodeInfo, instance_lease
from wamux.domain.cluster import plan_leases
from wamux.domain.errors import Unavailable
from wamux.logs import get_logger

T = TypeVar("T")
log = get_logger("wamux.cluster")
PREFIX = instance_lease("")
RUNNER_STOP_WAIT_S = 10.0  # how long a release of the projections lease waits for the runner to stop


def _instance_id(name: str) -> str | None:
    return name[len(PREFIX) :] if name.startswith(PREFIX) else None


class ClusterMember:
    """The lease keeper of one node: calls `on_gain` / `on_loss` as instance leases come and go."""

    def __init__(
        self,
        node_id: str,
        url: str | None,
        membership: Membership,
        leases: Leases,
        limiter: trio.CapacityLimiter,
        instances: Callable[[], Sequence[str]],
        on_gain: Callable[[str], Awaitable[None]],
        on_loss: Callable[[str], Awaitable[None]],
        *,
        ttl_ms: int = 15_000,
        period_s: float = 3.0,
        max_moves: int = 5,
        max_takes: int | None = None,  # free instances (of a dead node) taken a round; None: max_moves
        sleep: Callable[[float], Awaitable[None]] = trio.sleep,
    ) -> None:
        self.node_id, self.url = node_id, url
        self.membership, self.leases, self.limiter = membership, leases, limiter
        self.instances = instances  # every live instance id, wherever it runs
        self.on_gain, self.on_loss = on_gain, on_loss
        self.ttl_ms, self.period_s, self.max_moves, self.max_takes = ttl_ms, period_s, max_moves, max_takes
        self._sleep = sleep
        ttl_s = ttl_ms / 1000
        # Give everything up this long after the last renew was sent: a period before the leases can lapse.
        self.margin_s = ttl_s - period_s if ttl_s > 2 * period_s else ttl_s / 2
        self.call_timeout_s = self.margin_s / 2  # a port call that takes longer counts as failed
        self.holds_projections = False  # metrics hooks: this, `held_instances`, `renew_failures`
        self.renew_failures = 0
        self.draining = False
        self._leased: set[str] = set()  # instance ids whose lease this node holds, as last answered
        self._running: set[str] = set()  # instance ids `on_gain` was called for, not lost since
        self._releasing: set[str] = set()  # stopped here to be given away; the release is not confirmed yet
        self._claimed: dict[str, float] = {}  # new instances claimed (trio time), maybe after a renew was sent
        self._holders: dict[str, Lease] = {}  # the last holders read, by lease name
        self._nodes: list[NodeInfo] = []  # the last registry read
        self._last_renewed = -math.inf  # trio time the last renew that went through was sent
        self._renewed = trio.Event()  # set (and replaced) at each renew that went through
        self._projections_changed = trio.Event()
        self._projections_lost = self._runner_stopped = trio.Event()
        self._projections_lost.set()  # none held at first, none running
        self._round_lock = trio.Lock()
        self._round_scope: trio.CancelScope | None = None
        self._run_scope: trio.CancelScope | None = None
        self._failing = False  # the last round could not reach the database (logged once per outage)

    # ---- views for routes and metrics ---------------------------------------------------------

    @property
    def held_instances(self) -> int:
        return len(self._running)

    def is_mine(self, instance_id: str) -> bool:
        """Whether this node runs the instance now."""
        return instance_id in self._running

    def owner_of(self, instance_id: str) -> tuple[str, str | None] | None:
        """(node id, node url) of the instance's holder as of the last period; None when nobody holds it."""
        if instance_id in self._running:
            return self.node_id, self.url
        lease = self._holders.get(instance_lease(instance_id))
        if lease is None or lease.owner == self.node_id:  # ours a moment ago, given away or lost since
            return None
        return lease.owner, next((n.url for n in self._nodes if n.id == lease.owner), None)

    def nodes(self) -> list[NodeInfo]:
        """The node registry as last read."""
        return list(self._nodes)

    # ---- the service ----------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Register and take the first leases, report started, then keep the leases every period."""
        with trio.CancelScope() as self._run_scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._watch)
                await self._round()
                task_status.started()
                while True:
                    await self._sleep(self.period_s)
                    await self._round()

    async def _round(self) -> None:
        async with self._round_lock:
            with trio.CancelScope() as self._round_scope:
                try:
                    await self._keep_leases()
                except Exception as exc:  # the database: the next period tries again
                    self._failed(exc)
                else:
                    if self._failing:
                        log.info("the cluster database answers again", node_id=self.node_id)
                    self._failing = False
            self._round_scope = None

    def _failed(self, exc: Exception) -> None:
        if not self._failing:
            what = "cannot reach the cluster database; trying again every period"
            log.error(what, node_id=self.node_id, error=repr(exc)[:500], gives_up_after_s=round(self.margin_s, 1))
        self._failing = True

    async def _call(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        with trio.fail_after(self.call_timeout_s):
            call = functools.partial(fn, *args, **kwargs)
            return await trio.to_thread.run_sync(call, limiter=self.limiter, abandon_on_cancel=True)

    async def _heartbeat_and_renew(self) -> None:
        try:
            await self._call(self.membership.heartbeat, self.node_id, self.url, self.ttl_ms, draining=self.draining)
            sent = trio.current_time()
            held = await self._call(self.leases.renew, self.node_id, self.ttl_ms)
        except Exception:
            self.renew_failures += 1
            raise
        await self._renewed_at(sent, held)

    async def _keep_leases(self) -> None:
        await self._heartbeat_and_renew()
        await self._release_pending()
        self._holders = dict(await self._call(self.leases.holders))
        self._nodes = list(await self._call(self.membership.nodes))
        give, take = sorted(self._leased), list[str]()  # draining: everything goes, nothing comes
        if not self.draining:
            live = list(self.instances())
            holding = dict.fromkeys(self._leased, self.node_id)
            for name, lease in self._holders.items():
                instance_id = _instance_id(name)
                if instance_id is not None:
                    holding.setdefault(instance_id, lease.owner)
            draining = [n.id for n in self._nodes if n.draining]
            alive = [n.id for n in self._nodes if n.alive]
            plan = plan_leases(
                live,
                holding,
                alive,
                self.node_id,
                draining=draining,
                max_moves=self.max_moves,
                max_takes=self.max_takes,
            )
            gone = self._leased.difference(live, self._claimed)  # deleted instances: their leases go back
            give, take = sorted(gone.union(plan.give)), list(plan.take)
        await self._give(give)
        if self.draining and self.holds_projections:
            await self._release_projections()
        names = [instance_lease(i) for i in take if i not in self._leased]
        if not (self.holds_projections or self.draining or PROJECTIONS_LEASE in self._holders):
            names.append(PROJECTIONS_LEASE)
        for lease in await self._call(self.leases.acquire, names, self.node_id, self.ttl_ms) if names else ():
            self._holders[lease.name] = lease
            instance_id = _instance_id(lease.name)
            if instance_id is not None:
                self._leased.add(instance_id)
            elif lease.name == PROJECTIONS_LEASE:
                self._hold_projections(True)
        if not self.draining:
            await self._gain(self._leased - self._running)

    async def _renewed_at(self, sent: float, held: Iterable[Lease]) -> None:
        """A renew sent at `sent` answered `held`: what is missing lapsed (another node may run it now)."""
        self._last_renewed = sent
        self._renewed.set()
        self._renewed = trio.Event()
        names = {lease.name for lease in held}
        mine = {i for name in names if (i := _instance_id(name)) is not None} - self._releasing
        # A claim answered after this renew was sent is not in its answer, and did not lapse.
        self._claimed = {i: at for i, at in self._claimed.items() if at >= sent}
        lapsed = (self._leased | self._running) - mine - self._claimed.keys()
        self._leased = mine | (self._leased & self._claimed.keys())
        if lapsed:
            log.warning("instance leases lapsed; stopping them here", node_id=self.node_id, instances=len(lapsed))
            await self._lose(lapsed)
        if PROJECTIONS_LEASE in names:
            self._hold_projections(True)
        elif self.holds_projections:
            log.warning("the projections lease lapsed; stopping the projections here", node_id=self.node_id)
            self._hold_projections(False)

    async def _watch(self) -> None:
        """Stop everything before the leases can lapse when renewing keeps failing (even if a call hangs)."""
        while True:
            left = self._last_renewed + self.margin_s - trio.current_time()
            if left > 0:
                await self._sleep(left)
                continue
            if self._running or self._leased or self.holds_projections:
                what = "could not renew the leases in time; stopping every instance and the projections here"
                log.error(what, node_id=self.node_id, instances=len(self._running))
                if self._round_scope is not None:
                    self._round_scope.cancel()  # it must not start anything after this
                await self._lose_everything()
            await self._renewed.wait()

    async def _lose_everything(self) -> None:
        ids = self._running | self._leased
        self._leased.clear()
        self._claimed.clear()
        self._hold_projections(False)
        await self._lose(ids)

    # ---- gains and losses -----------------------------------------------------------------------

    async def _gain(self, ids: Iterable[str]) -> None:
        async def start(instance_id: str) -> None:
            self._running.add(instance_id)
            try:
                await self.on_gain(instance_id)
            except Exception as exc:  # the next period tries again while the lease is held
                self._running.discard(instance_id)
                log.error("could not start an instance", node_id=self.node_id, instance_id=instance_id, error=repr(exc))

        async with trio.open_nursery() as nursery:
            for instance_id in sorted(ids):
                nursery.start_soon(start, instance_id)

    async def _lose(self, ids: Iterable[str]) -> set[str]:
        """Stop each instance here (concurrently); answers those that stopped."""
        stopped: set[str] = set()
        chosen = sorted(ids)
        self._running.difference_update(chosen)

        async def stop(instance_id: str) -> None:
            try:
                await self.on_loss(instance_id)
                stopped.add(instance_id)
            except Exception as exc:
                log.error("could not stop an instance", node_id=self.node_id, instance_id=instance_id, error=repr(exc))

        async with trio.open_nursery() as nursery:
            for instance_id in chosen:
                nursery.start_soon(stop, instance_id)
        return stopped

    async def _give(self, ids: Sequence[str]) -> None:
        """Stop, then release: another node can start an instance only once it stopped here."""
        if not ids:
            return
        running = self._running.intersection(ids)
        stopped = await self._lose(ids)
        self._running |= running - stopped  # still running here: its lease stays
        self._leased -= stopped
        self._releasing |= stopped
        for instance_id in stopped:
            self._holders.pop(instance_lease(instance_id), None)
        await self._release_pending()

    async def _release_pending(self) -> None:
        if self._releasing:
            ids = sorted(self._releasing)
            await self._call(self.leases.release, [instance_lease(i) for i in ids], self.node_id)
            self._releasing.difference_update(ids)

    async def claim(self, instance_id: str) -> None:
        """Take a new instance's lease before its actor starts here (the supervisor's create)."""
        if self.draining:
            raise Unavailable("this node is draining; create the instance on another node")
        name, at = instance_lease(instance_id), trio.current_time()
        try:
            won = await self._call(self.leases.acquire, [name], self.node_id, self.ttl_ms)
        except Exception as exc:
            raise Unavailable("the cluster database cannot be reached; the instance starts on a node later") from exc
        lease = next((x for x in won if x.name == name), None)
        if lease is None:
            raise Unavailable("another node holds the new instance's lease; it runs there")
        self._claimed[instance_id] = at
        self._holders[name] = lease
        self._leased.add(instance_id)
        self._running.add(instance_id)

    def fenced(self, instance_id: str) -> None:
        """The instance's actor stopped: another node wrote its stream. Started afresh if the lease is still ours."""
        self._running.discard(instance_id)

    # ---- the projections lease --------------------------------------------------------------------

    @property
    def projections_lost(self) -> trio.Event:
        """Set once this node no longer holds the projections lease it holds now (already set when it holds none)."""
        return self._projections_lost

    async def projections_held(self) -> None:
        """Return once this node holds the projections lease."""
        while not self.holds_projections:
            await self._projections_changed.wait()

    @contextmanager
    def running_projections(self) -> Iterator[None]:
        """The projections run here meanwhile: a release of the lease waits (a bound) for them to stop first."""
        self._runner_stopped = stopped = trio.Event()
        try:
            yield
        finally:
            stopped.set()

    def _hold_projections(self, held: bool) -> None:
        if held == self.holds_projections:
            return
        self.holds_projections = held
        if held:
            self._projections_lost = trio.Event()
            log.info("this node runs the projections", node_id=self.node_id)
        else:
            self._projections_lost.set()
        self._projections_changed.set()
        self._projections_changed = trio.Event()

    async def _release_projections(self) -> None:
        self._hold_projections(False)
        with trio.move_on_after(RUNNER_STOP_WAIT_S):
            await self._runner_stopped.wait()
        self._holders.pop(PROJECTIONS_LEASE, None)
        await self._call(self.leases.release, [PROJECTIONS_LEASE], self.node_id)

    # ---- planned departures -------------------------------------------------------------------------

    async def drain(self) -> None:
        """Hand everything over (`wamux node drain`): heartbeats say draining, every instance is stopped,
        then its lease released, the projections too; returns once this node holds nothing."""
        self.draining = True
        while True:
            async with self._round_lock:
                try:
                    await self._hand_over()
                    return
                except Exception as exc:
                    self._failed(exc)
            await self._sleep(self.period_s)

    async def _hand_over(self) -> None:
        await self._heartbeat_and_renew()
        await self._give(sorted(self._leased | self._running))
        if self._running:
            raise RuntimeError("some instances did not stop")
        await self._release_projections()
        if await self._call(self.leases.renew, self.node_id, self.ttl_ms):
            raise RuntimeError("leases were taken meanwhile")  # a claim: the next try gives them too
        log.info("this node holds no lease now", node_id=self.node_id)

    async def leave(self) -> None:
        """A clean shutdown: stop what runs here, then leave the registry (its leases are free at once)."""
        with trio.CancelScope(shield=True):
            if self._run_scope is not None:
                self._run_scope.cancel()
            ids = self._running | self._leased
            self._leased.clear()
            self._hold_projections(False)
            await self._lose(ids)
            with trio.move_on_after(RUNNER_STOP_WAIT_S):
                await self._runner_stopped.wait()
            try:
                await self._call(self.membership.leave, self.node_id)
            except Exception as exc:  # its leases lapse after their ttl instead
                log.warning("could not leave the cluster registry", node_id=self.node_id, error=repr(exc))


async def run_while_holding(
    member: ClusterMember,
    run: Callable[..., Awaitable[None]],
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run `run` (e.g. `ReadModels.run`, called with `task_status=`) only while `member` holds the projections
    lease: started when it is gained, cancelled when it is lost, started again at the next gain.

    Reports started at once on a node that does not hold the lease, else once `run` reported started (or the
    lease was lost first). Start it after `member.run` reported started: the first leases are known then.
    """
    reported = False
    while True:
        if not (reported or member.holds_projections):
            task_status.started()
            reported = True
        await member.projections_held()
        lost = member.projections_lost
        with member.running_projections():
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_cancel_when, lost, nursery.cancel_scope)
                await nursery.start(_run_then_wait, run)
                if not reported:
                    task_status.started()
                    reported = True


async def _cancel_when(event: trio.Event, scope: trio.CancelScope) -> None:
    await event.wait()
    scope.cancel()


async def _run_then_wait(
    run: Callable[..., Awaitable[None]], task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    await run(task_status=task_status)
    await trio.sleep_forever()  # it ended by itself: run it again only after a new gain
