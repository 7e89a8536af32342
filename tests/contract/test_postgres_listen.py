"""Appends made by another process wake this one's followers through PostgreSQL's LISTEN/NOTIFY, at once and
without polling, and the listener comes back after its connection is killed."""

from __future__ import annotations

import psycopg
import pytest
import trio

from wamux.adapters.eventlog.postgres import open_postgres_recorder
from wamux.adapters.eventlog.postgres_listen import listen_for_appends
from wamux.adapters.eventlog.recorder_store import RecorderEventStore
from wamux.domain.clock import SystemClock
from wamux.domain.events import MessageSent
from wamux.domain.ids import new_id

pytestmark = pytest.mark.postgres


def _sent(n: int) -> MessageSent:
    return MessageSent(instance_id="i", message_id=f"m{n}", to="123", message_type="text", body=f"b{n}")


async def test_an_append_on_one_node_wakes_a_follower_on_another(postgres_db_url: str) -> None:
    writer = RecorderEventStore.over(open_postgres_recorder(postgres_db_url), SystemClock(), provider="postgres")
    follower_recorder = open_postgres_recorder(postgres_db_url)
    follower = RecorderEventStore.over(follower_recorder, SystemClock(), provider="postgres")
    stream = new_id()
    woken: list[float] = []
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(writer.run_writer)
            await nursery.start(
                listen_for_appends, postgres_db_url, follower_recorder.channel_name, follower.appended_elsewhere
            )
            assert follower.head() == 0
            for n in range(1, 4):
                sent_at = trio.current_time()
                await writer.append(stream, [_sent(n)], n - 1)
                with trio.fail_after(2):  # no polling: the NOTIFY wakes it
                    await follower.wait_beyond(n - 1)
                woken.append(trio.current_time() - sent_at)
                assert follower.head() == n

            # The listener's connection dies: it listens again and catches what came meanwhile.
            with psycopg.connect(postgres_db_url, autocommit=True) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE query LIKE 'LISTEN%%' AND pid <> pg_backend_pid()"
                )
            await writer.append(stream, [_sent(4)], 3)
            with trio.fail_after(10):
                await follower.wait_beyond(3)
            assert follower.head() == 4
            nursery.cancel_scope.cancel()
    finally:
        writer.recorder.datastore.close()  # type: ignore[attr-defined]
        follower_recorder.datastore.close()
    assert max(woken) < 1.0, woken


async def test_a_listener_without_its_database_keeps_trying_and_never_ends_the_task(postgres_server) -> None:
    calls: list[int] = []

    async def on_append() -> None:
        calls.append(1)

    async with trio.open_nursery() as nursery:
        await nursery.start(listen_for_appends, "postgresql://nobody@127.0.0.1:1/none", "stored_events", on_append)
        await trio.sleep(1.2)  # refused, backing off: the task is alive and no call was made
        assert calls == []
        nursery.cancel_scope.cancel()
