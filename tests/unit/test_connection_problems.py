"""What an instance says when it cannot reach WhatsApp: its log (paced), its back-off state, a restart.

The actor rig (real SQLite store, the simulator's network switch, trio's autojump clock): minutes of
failing connects take no real time, and the log lines are stamped with the virtual clock.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import pytest
import trio
import trio.testing

from tests.unit.actor_rig import Rig, linked, only, reach, sim, until
from wamux.core.commands import Logout, Reconnect
from wamux.core.connection_loop import (
    FAILURE_LOG_INTERVAL_S,
    describe_failure,
    describe_reason,
    failed_attempts,
    scrub,
)
from wamux.domain.events import Disconnected

REFUSED = "cannot reach WhatsApp: connection refused"


@dataclass
class Line:
    at: float  # trio time
    message: str
    fields: dict[str, Any]


class VirtualTimeLines(logging.Handler):
    """The actor's log lines, each with the virtual time it was written at."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[Line] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(Line(trio.current_time(), record.getMessage(), dict(getattr(record, "fields", {}))))

    def about(self, instance_id: str, start: str) -> list[Line]:
        return [x for x in self.lines if x.fields.get("instance_id") == instance_id and x.message.startswith(start)]


@pytest.fixture
def lines() -> Iterator[VirtualTimeLines]:
    logger = logging.getLogger("wamux.actor")
    handler, level = VirtualTimeLines(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


async def test_failed_connects_are_logged_paced_then_the_recovery(
    rig: Rig, autojump_clock: trio.testing.MockClock, lines: VirtualTimeLines
) -> None:
    sup = await rig.supervisor()
    actor = await linked(rig, sup)
    sim(sup).set_faults(actor.id, {"unreachable": True})  # the connection drops, every connect is refused
    await until(lambda: actor.problem.attempts >= 12)  # ~7 virtual minutes of back-off (1 s doubling to 60 s)

    failures = lines.about(actor.id, "cannot reach WhatsApp")
    assert failures[0].message == REFUSED  # the first failure at once, with its cause
    assert failures[0].fields["attempts"] == 1 and "connection refused" in failures[0].fields["error"]
    assert all(b.at - a.at >= FAILURE_LOG_INTERVAL_S for a, b in pairwise(failures))  # at most one a minute
    span = failures[-1].at - failures[0].at
    assert 2 <= len(failures) <= span // FAILURE_LOG_INTERVAL_S + 1
    for x in failures[1:]:
        assert x.message == f"{REFUSED} ({failed_attempts(x.fields['since_last_line'])} since the last line)"
    # Every failure is counted once: in a line, or in the count the next line will carry.
    assert sum(x.fields["since_last_line"] for x in failures) + actor.problem.unlogged == actor.problem.attempts
    assert len(failures) < actor.problem.attempts

    attempts = actor.problem.attempts
    sim(sup).set_faults(actor.id, {"unreachable": False})
    await reach(actor, "connected")
    back = lines.about(actor.id, "connected after")
    assert [x.message for x in back] == [f"connected after {attempts} failed attempts"]
    assert back[0].fields["attempts"] == attempts
    assert actor.problem.attempts == 0 and actor.problem.last_error is None


async def test_the_back_off_state_says_the_cause_the_count_and_the_next_attempt(
    rig: Rig, autojump_clock: trio.testing.MockClock
) -> None:
    sup = await rig.supervisor()
    actor = await sup.create("user-1", {"name": "Offline"})
    await reach(actor, "qr")
    assert actor.why_no_qr() is None  # a QR code is shown
    sim(sup).set_faults(actor.id, {"unreachable": True})  # ends the QR code's wait too
    await reach(actor, "disconnected")
    await until(lambda: actor.problem.attempts >= 3 and actor.reconnecting, step=0.05)

    p = actor.problem
    assert p.last_error == REFUSED and p.reason == "connect_failed" and p.will_reconnect
    assert p.retrying_at_ms is not None and 0 < p.retrying_at_ms - rig.now_ms() <= 1.2 * 8_000
    assert actor.why_no_qr() == "connect_failed"
    records = await rig.events(actor.id)
    assert only(records, "disconnected")[:2] == [
        Disconnected(instance_id=actor.id, reason="connection_lost", will_reconnect=True),
        Disconnected(instance_id=actor.id, reason="connect_failed", will_reconnect=True),
    ]

    # An instance that never got a QR code through gives up after max_connect_failures, and says why.
    await reach(actor, "failed")
    assert actor.problem.attempts == sup.actor_settings.max_connect_failures
    assert actor.problem.last_error == REFUSED and actor.problem.retrying_at_ms is None
    assert actor.why_no_qr() == "failed"

    sim(sup).set_faults(actor.id, {"unreachable": False})
    await actor.execute(Reconnect())
    await reach(actor, "qr")  # WhatsApp answers again: the problem is over
    assert actor.problem.last_error is None and actor.problem.attempts == 0


async def test_a_restart_resumes_an_instance_that_was_backing_off_without_a_link(
    rig: Rig, autojump_clock: trio.testing.MockClock
) -> None:
    sup = await rig.supervisor()
    actor = await sup.create("user-1", {"name": "No network at start"})
    await reach(actor, "qr")
    sim(sup).set_faults(actor.id, {"unreachable": True})
    await until(lambda: actor.problem.attempts >= 2)
    assert not actor.instance.linked
    await rig.stop(sup)  # killed while it backs off: its last event is a disconnect that would reconnect

    again = await rig.supervisor()  # a new network: reachable
    resumed = again.actors[actor.id]
    assert resumed.problem.reason == "connect_failed" and resumed.problem.will_reconnect
    await reach(resumed, "qr")
    assert (await rig.types(actor.id))[-1] == "qr_received"


async def test_a_restart_leaves_an_instance_alone_that_waits_for_reconnect(
    rig: Rig, autojump_clock: trio.testing.MockClock
) -> None:
    sup = await rig.supervisor()
    actor = await sup.create("user-1", {"name": "Unscanned"})
    await reach(actor, "disconnected")  # every QR code went unscanned: waits for /reconnect
    await rig.stop(sup)

    again = await rig.supervisor()
    resumed = again.actors[actor.id]
    await trio.sleep(600)
    assert resumed.status == "disconnected" and resumed.idle
    assert resumed.problem.last_error == "no QR code was scanned in time"
    assert resumed.why_no_qr() == "qr_timeout"


async def test_a_logout_while_backing_off_starts_afresh(rig: Rig, autojump_clock: trio.testing.MockClock) -> None:
    sup = await rig.supervisor()
    actor = await linked(rig, sup)
    sim(sup).set_faults(actor.id, {"unreachable": True})
    await until(lambda: actor.problem.attempts >= 2)
    await actor.execute(Logout())
    assert actor.status == "logged_out" and actor.why_no_qr() == "logged_out"
    assert (actor.problem.last_error, actor.problem.attempts, actor.problem.retrying_at_ms) == (None, 0, None)
    await trio.sleep(300)  # nothing comes back by itself, nor is a new failure counted
    assert actor.status == "logged_out" and actor.problem.attempts == 0


def test_failures_in_words() -> None:
    # What neonize said on a machine without network (FACTS: offline it fails at once).
    offline = (
        "could not connect to WhatsApp: failed to dial whatsapp web websocket: failed to WebSocket dial: failed to"
        ' send handshake request: Get "https://web.whatsapp.com/ws/chat": dial tcp: lookup web.whatsapp.com on'
        " 192.0.2.53:53: no such host"
    )
    assert describe_failure(offline, "connect_failed") == (
        "cannot reach WhatsApp: the name of WhatsApp's server does not resolve (no DNS or no network)"
    )
    refused = "dial tcp 127.0.0.1:1080: connect: connection refused"
    assert describe_failure(refused, "connect_failed") == REFUSED
    assert describe_failure(refused, "connect_failed", proxied=True) == (
        "cannot reach WhatsApp through the proxy: connection refused"
    )
    assert describe_failure("simulated: client outdated", "client_outdated") == (
        "WhatsApp refuses this client version (client outdated)"
    )
    assert describe_failure("handshake: something new", "connect_failed") == "cannot reach WhatsApp: something new"
    assert describe_reason("qr_timeout") == "no QR code was scanned in time"
    assert describe_reason("some_new_reason") == "some new reason"
    assert (failed_attempts(1), failed_attempts(3)) == ("1 failed attempt", "3 failed attempts")
    proxy = "socks5://me:p%40ss@proxy.example.com:1080"
    assert scrub("proxyconnect socks5://me:p%40ss@proxy.example.com:1080 said p@ss", proxy) == (
        "proxyconnect socks5://me:***@proxy.example.com:1080 said ***"
    )
    assert scrub("no proxy here", None) == "no proxy here"
