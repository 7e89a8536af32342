"""The InstanceActor's connection state machine, on the real simulator and the real SQLite store.

Runs on trio's autojump clock: 20 s QR refreshes, back-offs and liveness intervals take no real
time. Assertions are on the events the actor appended to its stream (the exact sequence of
types), on counts and on ordering; times are checked only loosely, because the store's worker
threads let the virtual clock move while they run.
"""

from __future__ import annotations

from itertools import pairwise

import pytest
import trio
import trio.testing

from tests.unit.actor_rig import FAST, JID, PHONE, Rig, linked, only, reach, sim, until
from wamux.core.commands import Logout, Pair, Reconnect
from wamux.core.instance_actor import ActorSettings
from wamux.domain.errors import Conflict
from wamux.domain.events import Connected, Disconnected, LoggedOut, QrReceived

# ---- QR --------------------------------------------------------------------------------------


async def test_qr_refreshes_then_times_out_and_stops(rig: Rig, autojump_clock: trio.testing.MockClock) -> None:
    sup = await rig.supervisor()
    actor = await sup.create("user-1", {"name": "Main"})
    await reach(actor, "qr")
    assert actor.qr_code is not None and actor.qr_code.startswith("1@")
    first_qr = actor.qr_code
    assert await rig.types(actor.id) == ["created", "qr_received"]

    await reach(actor, "disconnected")
    records = await rig.events(actor.id)
    assert [r.type for r in records] == ["created", "qr_received", "qr_received", "qr_received", "disconnected"]
    qrs = only(records, "qr_received")
    assert [q.attempt for q in qrs] == [1, 2, 3]
    assert len({q.qr_code for q in qrs}) == 3 and qrs[0].qr_code == first_qr
    gaps = [b.timestamp_ms - a.timestamp_ms for a, b in pairwise(records[1:5])]
    assert all(19_000 <= g <= 30_000 for g in gaps), gaps  # one refresh every 20 s
    assert only(records, "disconnected") == [
        Disconnected(instance_id=actor.id, reason="qr_timeout", will_reconnect=False)
    ]
    assert actor.qr_code is None and actor.idle and actor.instance.qr_attempt == 3

    # no endless loop: nothing happens until someone asks for a reconnect
    await trio.sleep(900)
    assert len(await rig.events(actor.id)) == 5
    assert actor.status == "disconnected"

    await actor.execute(Reconnect())
    await reach(actor, "qr")
    records = await rig.events(actor.id)
    assert [r.type for r in records[5:]] == ["reconnect_requested", "qr_received"]
    assert records[-1].event.attempt == 1  # type: ignore[attr-defined]
    assert actor.qr_code not in {q.qr_code for q in qrs}


async def test_scan_drop_reconnect_by_itself_logout_and_new_qr(
    rig: Rig, autojump_clock: trio.testing.MockClock
) -> None:
    sup = await rig.supervisor()
    actor = await sup.create("user-1", {"name": "Main"})
    await reach(actor, "qr")
    await sim(sup).scan(actor.id, PHONE, "Me")
    await reach(actor, "connected")
    assert actor.qr_code is None
    assert (actor.instance.jid, actor.instance.push_name, actor.instance.linked) == (JID, "Me", True)
    assert only(await rig.events(actor.id), "connected") == [Connected(instance_id=actor.id, jid=JID, push_name="Me")]

    # a drop: disconnected with willReconnect, then back by itself, without a QR
    mark = len(await rig.events(actor.id))
    await sim(sup).disconnect(actor.id, "connection_lost", False)
    await reach(actor, "disconnected")
    await reach(actor, "connected")
    after = (await rig.events(actor.id))[mark:]
    assert [r.type for r in after] == ["disconnected", "connected"]
    assert after[0].event == Disconnected(instance_id=actor.id, reason="connection_lost", will_reconnect=True)
    assert after[1].event == Connected(instance_id=actor.id, jid=JID, push_name="Me")
    assert 700 <= after[1].timestamp_ms - after[0].timestamp_ms <= 5_000  # about backoff_initial_s

    # logout: unlinked, stays logged out
    mark += 2
    await actor.execute(Logout())
    assert actor.status == "logged_out" and actor.instance.linked is False
    assert sim(sup).phone(actor.id).jid is None
    await trio.sleep(600)
    after = (await rig.events(actor.id))[mark:]
    assert [r.type for r in after] == ["logged_out"]
    assert after[0].event == LoggedOut(instance_id=actor.id, reason="logout")
    assert actor.status == "logged_out" and actor.idle

    # a reconnect needs a new QR
    await actor.execute(Reconnect())
    await reach(actor, "qr")
    after = (await rig.events(actor.id))[mark:]
    assert [r.type for r in after] == ["logged_out", "reconnect_requested", "qr_received"]
    assert after[-1].event.attempt == 1  # type: ignore[attr-defined]


async def test_unlinked_on_the_phone_logs_out_without_reconnecting(
    rig: Rig, autojump_clock: trio.testing.MockClock
) -> None:
    sup = await rig.supervisor()
    actor = await linked(rig, sup)
    mark = len(await rig.events(actor.id))
    await sim(sup).disconnect(actor.id, "logged_out_from_phone", True)
    await reach(actor, "logged_out")
    await trio.sleep(300)
    after = (await rig.events(actor.id))[mark:]
    assert [r.event for r in after] == [LoggedOut(instance_id=actor.id, reason="logged_out_from_phone")]
    assert sim(sup).phone(actor.id).jid is None


async def test_reconnect_while_connected_needs_no_qr(rig: Rig, autojump_clock: trio.testing.MockClock) -> None:
    sup = await rig.supervisor()
    actor = await linked(rig, sup)
    mark = len(await rig.events(actor.id))
    await actor.execute(Reconnect())
    await reach(actor, "connected")
    await trio.sleep(5)
    assert [r.type for r in (await rig.events(actor.id))[mark:]] == ["reconnect_requested", "connected"]


async def test_logout_while_showing_a_qr(rig: Rig, autojump_clock: trio.testing.MockClock) -> None:
    sup = await rig.supervisor()
    actor = await sup.create("user-1", {"name": "Main"})
    await reach(actor, "qr")
    await actor.execute(Logout())
    assert actor.status == "logged_out" and actor.qr_code is None
    await trio.sleep(120)  # the QR refresh must not bring it back
    assert await rig.types(actor.id) == ["created", "qr_received", "logged_out"]


# ---- liveness and connect failures ------------------------------------------------------------


async def test_liveness_drops_an_unresponsive_connection_and_reconnects(
    rig: Rig, autojump_clock: trio.testing.MockClock
) -> None:
    sup = await rig.supervisor()
    actor = await linked(rig, sup)
    mark = len(await rig.events(actor.id))
    t_fault = rig.now_ms()
    sim(sup).set_faults(actor.id, {"unresponsive": True})
    await reach(actor, "disconnected")
    dropped = (await rig.events(actor.id))[mark:]
    assert [r.event for r in dropped] == [
        Disconnected(instance_id=actor.id, reason="unresponsive", will_reconnect=True)
    ]
    interval_ms = FAST.liveness_interval_s * 1000
    # two missed pings in a row: between one and two intervals after the fault (plus ping timeouts)
    assert interval_ms <= dropped[0].timestamp_ms - t_fault <= 2 * interval_ms + 2 * FAST.liveness_timeout_s * 1000
    sim(sup).set_faults(actor.id, {"unresponsive": False})
    await reach(actor, "connected")
    await trio.sleep(10 * FAST.liveness_interval_s)  # answering again: no more drops
    assert [r.type for r in (await rig.events(actor.id))[mark:]] == ["disconnected", "connected"]


async def test_a_responsive_connection_is_never_dropped(rig: Rig, autojump_clock: trio.testing.MockClock) -> None:
    sup = await rig.supervisor()
    actor = await linked(rig, sup)
    await trio.sleep(20 * FAST.liveness_interval_s)
    assert actor.status == "connected"
    assert await rig.types(actor.id) == ["created", "qr_received", "connected"]


async def test_failed_connects_back_off_exponentially_then_connect(
    rig: Rig, autojump_clock: trio.testing.MockClock
) -> None:
    sup = await rig.supervisor()
    actor = await linked(rig, sup)
    mark = len(await rig.events(actor.id))
    sim(sup).set_faults(actor.id, {"failNextConnects": 3})
    await sim(sup).disconnect(actor.id, "connection_lost", False)
    await reach(actor, "disconnected")
    await reach(actor, "connected")
    after = (await rig.events(actor.id))[mark:]
    assert [r.type for r in after] == ["disconnected"] * 4 + ["connected"]
    assert [(e.reason, e.will_reconnect) for e in only(after, "disconnected")] == [
        ("connection_lost", True),
        ("connect_failed", True),
        ("connect_failed", True),
        ("connect_failed", True),
    ]
    gaps = [b.timestamp_ms - a.timestamp_ms for a, b in pairwise(after)]
    # back-off 1, 2, 4, 8 s with ±20 % jitter: each wait clearly longer than the one before
    assert all(b > 1.25 * a for a, b in pairwise(gaps)), gaps
    assert 700 <= gaps[0] <= 2_500 and 5_000 <= gaps[-1] <= 12_000, gaps
    assert sup.restarts.get(actor.id, 0) == 0  # connect failures are not crashes


async def test_back_off_starts_over_after_a_successful_connection(
    rig: Rig, autojump_clock: trio.testing.MockClock
) -> None:
    sup = await rig.supervisor()
    actor = await linked(rig, sup)
    for _ in range(4):
        mark = len(await rig.events(actor.id))
        await sim(sup).disconnect(actor.id, "connection_lost", False)
        await reach(actor, "disconnected")
        await reach(actor, "connected")
        drop, back = (await rig.events(actor.id))[mark:]
        assert (drop.type, back.type) == ("disconnected", "connected")
        assert back.timestamp_ms - drop.timestamp_ms <= 2_500  # 1 s ± jitter every time, not 2, 4, 8 ...


async def test_permanent_connect_failure_stops_without_retrying(
    rig: Rig, autojump_clock: trio.testing.MockClock
) -> None:
    sup = await rig.supervisor()
    actor = await linked(rig, sup)
    mark = len(await rig.events(actor.id))
    sim(sup).set_faults(actor.id, {"permanentConnectFailure": True})
    await sim(sup).disconnect(actor.id, "connection_lost", False)
    await until(lambda: actor.status == "disconnected" and actor.idle)
    await trio.sleep(600)
    after = (await rig.events(actor.id))[mark:]
    assert [(r.type, r.event.reason, r.event.will_reconnect) for r in after] == [  # type: ignore[attr-defined]
        ("disconnected", "connection_lost", True),
        ("disconnected", "client_outdated", False),
    ]
    assert sup.restarts.get(actor.id, 0) == 0


async def test_linked_instance_keeps_retrying_through_an_outage(
    rig: Rig, autojump_clock: trio.testing.MockClock
) -> None:
    sup = await rig.supervisor(settings=ActorSettings(qr_max_attempts=3, max_connect_failures=3))
    actor = await linked(rig, sup)
    mark = len(await rig.events(actor.id))
    sim(sup).set_faults(actor.id, {"failNextConnects": 100})
    await sim(sup).disconnect(actor.id, "connection_lost", False)
    await trio.sleep(600)
    after = (await rig.events(actor.id))[mark:]
    assert actor.status != "failed" and len(after) > 5  # far past max_connect_failures, still trying
    assert {r.type for r in after} == {"disconnected"}
    assert all(r.event.will_reconnect for r in after)  # type: ignore[attr-defined]
    sim(sup).set_faults(actor.id, {"failNextConnects": 0})
    await reach(actor, "connected")  # comes back by itself, no QR


async def test_unlinked_instance_gives_up_after_too_many_connect_failures(
    rig: Rig, autojump_clock: trio.testing.MockClock
) -> None:
    sup = await rig.supervisor(settings=ActorSettings(qr_max_attempts=3, max_connect_failures=3))
    actor = await sup.create("user-1", {"name": "Never linked"})
    await reach(actor, "qr")
    sim(sup).set_faults(actor.id, {"failNextConnects": 100})
    mark = len(await rig.events(actor.id))
    await actor.execute(Reconnect())
    await reach(actor, "failed")
    await trio.sleep(600)
    after = (await rig.events(actor.id))[mark:]
    assert [r.type for r in after] == ["reconnect_requested", "disconnected", "disconnected", "failed"]
    assert "3 connection attempts failed" in after[-1].event.reason  # type: ignore[attr-defined]
    sim(sup).set_faults(actor.id, {"failNextConnects": 0})
    await actor.execute(Reconnect())
    await reach(actor, "qr")


# ---- pairing and deletion ---------------------------------------------------------------------


async def test_pairing_code_while_showing_a_qr(rig: Rig, autojump_clock: trio.testing.MockClock) -> None:
    sup = await rig.supervisor()
    actor = await sup.create("user-1", {"name": "Main"})
    await reach(actor, "qr")
    code = await actor.execute(Pair(PHONE))
    assert len(code) == 9 and code[4] == "-" and code.replace("-", "").isalnum()
    records = await rig.events(actor.id)
    assert records[-1].type == "pairing_code_requested" and records[-1].event.phone == PHONE  # type: ignore[attr-defined]
    await sim(sup).scan(actor.id, PHONE, "Me")
    await reach(actor, "connected")
    with pytest.raises(Conflict):
        await actor.execute(Pair(PHONE))


async def test_pairing_after_a_qr_timeout_restarts_the_connection(
    rig: Rig, autojump_clock: trio.testing.MockClock
) -> None:
    sup = await rig.supervisor()
    actor = await sup.create("user-1", {"name": "Main"})
    await reach(actor, "disconnected")
    code = await actor.execute(Pair(PHONE))
    assert code[4] == "-"
    types = await rig.types(actor.id)
    assert types[-3:] == ["reconnect_requested", "qr_received", "pairing_code_requested"]


async def test_delete_stops_the_actor_and_forgets_the_session(rig: Rig, autojump_clock: trio.testing.MockClock) -> None:
    sup = await rig.supervisor()
    actor = await linked(rig, sup)
    keep = await linked(rig, sup, "Keep")
    assert (rig.data_dir / "simulator" / f"{actor.id}.json").is_file()
    await sup.delete(actor.id)
    await until(lambda: actor.id not in sup.actors)
    assert not actor.running
    assert (await rig.types(actor.id))[-1] == "deleted"
    assert not (rig.data_dir / "simulator" / f"{actor.id}.json").exists()
    assert [a.id for a in sup.visible(None)] == [keep.id]
    await trio.sleep(300)
    assert (await rig.types(actor.id))[-1] == "deleted"  # nothing written after the deletion
    assert keep.status == "connected"


async def test_qr_max_attempts_counts_per_connection(rig: Rig, autojump_clock: trio.testing.MockClock) -> None:
    """A QR refresh after a reconnect starts at attempt 1 again, and the cap applies again."""
    sup = await rig.supervisor()
    actor = await sup.create("user-1", {"name": "Main"})
    await reach(actor, "qr")
    await trio.sleep(25)  # attempt 2 is showing
    await actor.execute(Reconnect())
    await reach(actor, "disconnected")
    attempts = [q.attempt for q in only(await rig.events(actor.id), "qr_received")]
    assert attempts == [1, 2, 1, 2, 3]
    assert isinstance(only(await rig.events(actor.id), "qr_received")[0], QrReceived)


async def test_reconnect_right_after_logout_is_not_lost(rig: Rig, autojump_clock: trio.testing.MockClock) -> None:
    """/logout then /reconnect at once: the ending connection's stale outcome must not log out again."""
    sup = await rig.supervisor()
    for round_ in range(8):  # the race has two windows; a few rounds hit both under trio's shuffled scheduling
        actor = await sup.create("user-1", {"name": f"Race {round_}"})
        await reach(actor, "qr")
        await actor.execute(Logout())
        await actor.execute(Reconnect())
        await reach(actor, "qr")
        await trio.sleep(1)
        assert actor.status == "qr"
        assert await rig.types(actor.id) == [
            "created",
            "qr_received",
            "logged_out",
            "reconnect_requested",
            "qr_received",
        ]
