"""The actor connects through the instance's proxy and, with `settings.alwaysOnline`, shows the account online
after every connect (API-2 §5), on the real simulator and SQLite store, on trio's autojump clock.
"""

from __future__ import annotations

import trio.testing

from tests.unit.actor_rig import PHONE, Rig, linked, reach, sim, until
from wamux.core.commands import Reconnect, Update
from wamux.core.supervisor import Supervisor

PROXY = "socks5://alice:s3cret@proxy.example.com:1080"
OTHER = "http://10.0.0.7:3128"


def presences(sup: Supervisor, instance_id: str) -> list[str]:
    return [m["state"] for m in sim(sup).outbox(instance_id) if m["type"] == "presence" and m["to"] is None]


async def test_each_connect_goes_through_the_proxy_of_that_moment(
    rig: Rig, autojump_clock: trio.testing.MockClock
) -> None:
    sup = await rig.supervisor()
    actor = await sup.create("user-1", {"name": "Proxied", "settings": {"proxy": PROXY}})
    await reach(actor, "qr")
    session = sim(sup).sessions[actor.id]
    assert session.connects == [PROXY]  # the session gets the clear URL...
    assert sim(sup).connection(actor.id) == {
        "connected": False,
        "connects": 1,
        "proxy": "socks5://alice:***@proxy.example.com:1080",  # ...what is shown is masked
    }
    await sim(sup).scan(actor.id, PHONE, "Me")
    await reach(actor, "connected")

    # A change alone waits for the next connect; a drop reconnects through the new proxy.
    await actor.execute(Update({"settings": {"proxy": OTHER}}))
    assert session.connects == [PROXY]
    await sim(sup).disconnect(actor.id, "connection_lost", False)
    await until(lambda: len(session.connects) == 2 and actor.status == "connected")
    assert session.connects == [PROXY, OTHER]

    # Cleared: the next connect is direct.
    await actor.execute(Update({"settings": {"proxy": None}}))
    await actor.execute(Reconnect())
    await until(lambda: len(session.connects) == 3 and actor.status == "connected")
    assert session.connects == [PROXY, OTHER, None]
    assert sim(sup).connection(actor.id) == {"connected": True, "connects": 3, "proxy": None}


async def test_always_online_sends_available_after_every_connect(
    rig: Rig, autojump_clock: trio.testing.MockClock
) -> None:
    sup = await rig.supervisor()
    quiet = await linked(rig, sup, "Quiet")
    actor = await linked(rig, sup, "Online")
    await actor.execute(Update({"settings": {"alwaysOnline": True}}))
    assert presences(sup, actor.id) == []  # a setting alone sends nothing: it acts on connect

    await sim(sup).disconnect(actor.id, "connection_lost", False)
    await until(lambda: len(presences(sup, actor.id)) == 1)
    assert presences(sup, actor.id) == ["available"] and actor.status == "connected"
    await actor.execute(Reconnect())
    await until(lambda: len(presences(sup, actor.id)) == 2)
    assert presences(sup, actor.id) == ["available", "available"]

    await actor.execute(Update({"settings": {"alwaysOnline": False}}))
    await sim(sup).disconnect(actor.id, "connection_lost", False)
    await reach(actor, "disconnected")
    await reach(actor, "connected")
    await trio.sleep(5)
    assert presences(sup, actor.id) == ["available", "available"]
    assert presences(sup, quiet.id) == []  # off by default


async def test_a_failed_presence_does_not_hold_up_the_connection(
    rig: Rig, autojump_clock: trio.testing.MockClock
) -> None:
    sup = await rig.supervisor()
    actor = await linked(rig, sup, "Online")
    await actor.execute(Update({"settings": {"alwaysOnline": True}}))
    sim(sup).set_faults(actor.id, {"failNextSends": 1})
    await sim(sup).disconnect(actor.id, "connection_lost", False)
    await reach(actor, "disconnected")
    await reach(actor, "connected")
    await trio.sleep(5)
    assert presences(sup, actor.id) == [] and actor.status == "connected"  # logged, not retried until next connect
    assert sim(sup).set_faults(actor.id, {})["failNextSends"] == 0  # the presence was tried, and failed
    await actor.execute(Reconnect())
    await until(lambda: presences(sup, actor.id) == ["available"])
