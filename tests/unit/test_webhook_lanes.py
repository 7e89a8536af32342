"""The dispatcher's lanes on trio's autojump clock: one per target, a dead one delays no other, resets move
the backlog at once. Real parts: the SQLite event store and read models, the outbox projection and its
runner; the poster is a fake receiver that answers per URL after a short (virtual) latency.
"""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trio
from trio.testing import MockClock

from tests.unit.actor_rig import TrioClock
from wamux.adapters.eventlog.recorder_store import RecorderEventStore
from wamux.adapters.eventlog.sqlite import open_sqlite_recorder
from wamux.adapters.readmodels.sqlite import SQLiteReadModelStore
from wamux.core.ports import Backend, BackendHandle, Outcome
from wamux.core.projection_runner import ProjectionRunner, ReadModels
from wamux.core.webhook_dispatcher import WebhookDispatcher
from wamux.domain.events import (
    DomainEvent,
    InstanceCreated,
    MessageReceived,
    WebhookReplayQueued,
    WebhookTargetAdded,
    WebhookTargetUpdated,
)
from wamux.domain.instances import WEBHOOK_DEFAULTS
from wamux.domain.webhook_targets import TARGET_DEFAULTS
from wamux.projections.outbox import DELIVERIES, OutboxProjection, webhook_stream_id
from wamux.projections.ports import Query

IID = "0190a5c2-0000-7000-8000-0000000000dd"
ALICE = "79001234567@s.whatsapp.net"
DEAD = "https://dead.example.com/hook"
LIVE = "https://live.example.com/hook"
NEW = "https://new.example.com/hook"


@dataclass
class Post:
    at: float
    url: str
    headers: dict[str, str]
    body: str


@dataclass
class FakeReceivers:
    """`WebhookPoster` as receivers would answer: 200 for a URL not in `failing`, else 500; 10 ms each."""

    failing: set[str] = field(default_factory=set)
    posts: list[Post] = field(default_factory=list)

    async def post(self, url: Any, headers: Any, body: Any, *, trusted: bool) -> Outcome:
        await trio.sleep(0.01)
        self.posts.append(Post(trio.current_time(), str(url), dict(headers), str(body)))
        if url in self.failing:
            return Outcome(500, "HTTP 500", 10.0)
        return Outcome(200, None, 10.0)

    async def aclose(self) -> None:
        pass

    def at(self, url: str) -> list[Post]:
        return [p for p in self.posts if p.url == url]


@dataclass
class LaneRig:
    store: RecorderEventStore
    dispatcher: WebhookDispatcher
    receivers: FakeReceivers
    rm: SQLiteReadModelStore
    opened: trio.Event  # what the dispatcher waits for before handing rows over (set at once unless marked)
    versions: dict[str, int] = field(default_factory=dict)

    async def append(self, stream: str, *events: DomainEvent) -> None:
        recorded = await self.store.append(stream, events, self.versions.get(stream, 0))
        self.versions[stream] = recorded[-1].version

    async def incoming(self, *bodies: str) -> None:
        for body in bodies:
            await self.append(
                IID,
                MessageReceived(
                    instance_id=IID, message_id=body, chat_jid=ALICE, sender_jid=ALICE, message_type="text", body=body
                ),
            )

    def rows(self, webhook_id: str) -> list[dict[str, Any]]:
        query = Query(where={"instanceId": IID, "webhookId": webhook_id}, order=(("seq", False),))
        return self.rm.find(DELIVERIES, query)


def target(url: str, slot: int, **fields: Any) -> dict[str, Any]:
    return {**TARGET_DEFAULTS, "url": url, "events": ["*"], "slot": slot, "createdMs": 0, **fields}


@pytest.fixture
async def lanes(autojump_clock: MockClock, tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[LaneRig]:
    """The parts on the autojump clock (a test asks for `autojump_clock` too: pytest-trio runs on it then)."""
    autojump_clock.autojump_threshold = 0.02  # a worker thread's store call ends before the clock jumps
    recorder = open_sqlite_recorder(str(tmp_path / "events.db"))
    rm = SQLiteReadModelStore(str(tmp_path / "rm.db"))
    backend = BackendHandle(Backend("sqlite", recorder, rm))
    limiter = trio.CapacityLimiter(8)
    store = RecorderEventStore(backend, TrioClock(), limiter=limiter)
    runner = ProjectionRunner(OutboxProjection(), store, backend, limiter)
    receivers = FakeReceivers()
    dispatcher = WebhookDispatcher(
        store, backend, runner, TrioClock(), is_live=lambda iid: True, poster=receivers, limiter=limiter
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(store.run_writer)
        await nursery.start(ReadModels([runner], store, backend).run)
        opened = trio.Event()
        if request.node.get_closest_marker("opened_later") is None:
            opened.set()
        await nursery.start(functools.partial(dispatcher.run, opening=opened.wait))

        async def ticker() -> None:
            # A near deadline bounds how far the clock can jump while a worker thread is slow (a loaded machine).
            while True:
                await trio.sleep(1)

        nursery.start_soon(ticker)
        rig = LaneRig(store, dispatcher, receivers, rm, opened)
        settings = {**WEBHOOK_DEFAULTS, "retryInterval": 60_000, "maxRetries": 10}
        await rig.append(IID, InstanceCreated(IID, "u1", "Lanes", None, DEAD, True, settings))
        yield rig
        nursery.cancel_scope.cancel()
    rm.close()
    recorder.datastore.close()


def bodies(posts: list[Post]) -> list[str]:
    return [json.loads(p.body)["data"].get("body") for p in posts]


async def wait_until(predicate: Any, timeout: float = 600) -> None:
    # Steps of half a virtual second: each one costs the autojump threshold in real time.
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.5)


async def test_a_dead_target_retries_in_its_own_lane_and_delays_no_other(
    lanes: LaneRig, autojump_clock: MockClock
) -> None:
    lanes.receivers.failing.add(DEAD)  # the default target: retried every 60 s
    await lanes.append(IID, WebhookTargetAdded(IID, "wh_live", target(LIVE, 1)))
    started = trio.current_time()
    await lanes.incoming(*(f"m{i}" for i in range(5)))
    await wait_until(lambda: len(lanes.receivers.at(LIVE)) == 5)
    took = trio.current_time() - started
    live = lanes.receivers.at(LIVE)
    assert bodies(live) == [f"m{i}" for i in range(5)]  # in order
    assert took < 5, took  # while the dead lane waits a minute per try
    assert len(lanes.receivers.at(DEAD)) == 1  # its first row's first try, nothing else yet
    assert {p.headers["X-Webhook-Target"] for p in live} == {"wh_live"}
    dead_ids = [r["headers"]["X-Webhook-Id"] for r in lanes.rows("default")]
    assert [p.headers["X-Webhook-Id"] for p in live] == dead_ids  # one id per event, whatever the target
    await wait_until(lambda: len(lanes.receivers.at(DEAD)) == 2)
    assert 50 < lanes.receivers.at(DEAD)[1].at - lanes.receivers.at(DEAD)[0].at < 70
    attempt = lanes.dispatcher.lane_attempt(IID, "default")
    assert attempt is not None and attempt.attempts == 2 and attempt.error == "HTTP 500"
    assert lanes.dispatcher.lane_attempt(IID, "wh_live") is None


async def test_a_url_change_sends_the_queued_and_retrying_rows_to_the_new_url_at_once(
    lanes: LaneRig, autojump_clock: MockClock
) -> None:
    lanes.receivers.failing.add(DEAD)
    await lanes.append(IID, WebhookTargetAdded(IID, "wh_a", target(DEAD, 1, retryInterval=60_000, maxRetries=10)))
    await lanes.incoming(*(f"q{i}" for i in range(4)))
    # The first row failed once and waits a minute; three more are queued behind it (and the default lane, too).
    await wait_until(lambda: (a := lanes.dispatcher.lane_attempt(IID, "wh_a")) is not None and a.attempts == 1)
    dead_before = len(lanes.receivers.at(DEAD))
    await lanes.append(IID, WebhookTargetUpdated(IID, "wh_a", target(NEW, 1), ["url"]))
    moved_at = trio.current_time()
    await lanes.dispatcher.reset_lane(IID, "wh_a")
    await wait_until(lambda: len(lanes.receivers.at(NEW)) == 4)
    new = lanes.receivers.at(NEW)
    assert new[-1].at - moved_at < 5, new[-1].at - moved_at  # not after the minute of the retry wait
    assert bodies(new) == [f"q{i}" for i in range(4)]  # all of them, in order
    assert [p.headers["X-Webhook-Attempt"] for p in new] == ["1"] * 4  # the attempt count starts again
    assert all(p.headers["X-Webhook-Target"] == "wh_a" for p in new)
    await trio.sleep(120)
    assert len([p for p in lanes.receivers.at(DEAD) if p.headers["X-Webhook-Target"] == "wh_a"]) == 1
    assert len(lanes.receivers.at(DEAD)) > dead_before  # the default lane kept retrying on its own
    assert lanes.dispatcher.lane_attempt(IID, "wh_a") is None
    await wait_until(lambda: {r["status"] for r in lanes.rows("wh_a")} == {"delivered"})


async def test_disabling_a_target_stops_its_lane_and_a_replay_sends_the_events_again(
    lanes: LaneRig, autojump_clock: MockClock
) -> None:
    lanes.receivers.failing.add(DEAD)
    await lanes.append(IID, WebhookTargetAdded(IID, "wh_a", target(LIVE, 1)))
    await lanes.incoming("r0", "r1")
    await wait_until(lambda: {r["status"] for r in lanes.rows("wh_a")} == {"delivered"})
    first = lanes.receivers.at(LIVE)
    lanes.receivers.failing.add(LIVE)
    await lanes.incoming("r2")
    await wait_until(lambda: len(lanes.receivers.at(LIVE)) == 3)  # r2 failed once, waits a minute
    await lanes.append(IID, WebhookTargetUpdated(IID, "wh_a", target(LIVE, 1, enabled=False), ["enabled"]))
    await lanes.dispatcher.reset_lane(IID, "wh_a")
    assert [r["status"] for r in lanes.rows("wh_a")] == ["delivered", "delivered", "cancelled"]
    await trio.sleep(150)
    assert len(lanes.receivers.at(LIVE)) == 3  # no more tries once disabled

    lanes.receivers.failing.discard(LIVE)
    await lanes.append(IID, WebhookTargetUpdated(IID, "wh_a", target(LIVE, 1), ["enabled"]))
    items = [
        {"id": r["eventId"], "type": r["event"], "data": {"body": f"again{i}"}, "timestamp_ms": 0, "position": 1}
        for i, r in enumerate(lanes.rows("wh_a"))
    ]
    await lanes.dispatcher.record(IID, "wh_a", [WebhookReplayQueued(IID, "wh_a", items)])
    await lanes.dispatcher.reset_lane(IID, "wh_a")
    await wait_until(lambda: len(lanes.receivers.at(LIVE)) == 6)
    replayed = lanes.receivers.at(LIVE)[3:]
    assert [p.headers["X-Webhook-Id"] for p in replayed] == [r["eventId"] for r in lanes.rows("wh_a")]
    assert [p.headers["X-Webhook-Id"] for p in replayed[:2]] == [p.headers["X-Webhook-Id"] for p in first]
    await wait_until(lambda: [r["status"] for r in lanes.rows("wh_a")] == ["delivered"] * 3)
    assert len(lanes.rows("wh_a")) == 3  # queued again, never doubled
    assert lanes.store.head() > 0 and webhook_stream_id(IID, "wh_a") != webhook_stream_id(IID)


@pytest.mark.opened_later
async def test_nothing_is_handed_over_before_the_opening_and_a_reset_meanwhile_is_harmless(
    lanes: LaneRig, autojump_clock: MockClock
) -> None:
    # As at a start on a big log: the outbox is catching up, so pending rows may be delivered ones.
    await lanes.append(IID, WebhookTargetAdded(IID, "wh_live", target(LIVE, 1)))
    await lanes.incoming("m0", "m1")
    await trio.sleep(30)
    assert lanes.receivers.posts == []  # no row handed over, no POST
    await lanes.dispatcher.reset_lane(IID, "wh_live")  # a target route during the catch-up: answers, does nothing
    assert lanes.receivers.posts == []
    lanes.opened.set()
    await wait_until(lambda: len(lanes.receivers.at(LIVE)) == 2 and len(lanes.receivers.at(DEAD)) == 2)
    assert bodies(lanes.receivers.at(LIVE)) == ["m0", "m1"]  # each once, in order
    await trio.sleep(30)
    assert len(lanes.receivers.at(LIVE)) == 2
