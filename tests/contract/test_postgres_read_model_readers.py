"""Two nodes on one PostgreSQL: one writes the read models, the other only reads them. The reader learns the
log's head and the writer's positions from LISTEN/NOTIFY, so read-your-writes holds on it too: a read there
waits until the writer applied what was appended, without polling."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import trio

from wamux.adapters.eventlog.postgres import open_postgres_recorder
from wamux.adapters.eventlog.postgres_listen import listen_for_appends
from wamux.adapters.eventlog.recorder_store import RecorderEventStore
from wamux.adapters.readmodels.postgres import READ_MODELS_CHANNEL, PostgresReadModelStore
from wamux.core.ports import Backend, BackendHandle
from wamux.core.projection_runner import ProjectionRunner, ReadModels
from wamux.domain.clock import SystemClock
from wamux.domain.events import MessageReceived
from wamux.domain.ids import new_id
from wamux.projections.messages import MESSAGES
from wamux.projections.ports import Query
from wamux.run.bootstrap import all_projections

pytestmark = pytest.mark.postgres


@dataclass
class Node:
    store: RecorderEventStore
    read_models: ReadModels
    backend: BackendHandle


@pytest.fixture
def nodes(postgres_db_url: str) -> Iterator[tuple[Node, Node]]:
    made: list[Node] = []
    for _ in range(2):
        recorder = open_postgres_recorder(postgres_db_url)
        rm = PostgresReadModelStore(postgres_db_url)
        backend = BackendHandle(Backend("postgres", recorder, rm, postgres_db_url))
        limiter = trio.CapacityLimiter(4)
        store = RecorderEventStore(backend, SystemClock(), limiter=limiter)
        runners = [ProjectionRunner(p, store, backend, limiter) for p in all_projections()]
        made.append(Node(store, ReadModels(runners, store, backend), backend))
    yield made[0], made[1]
    for node in made:
        node.backend.read_models.close()
        node.backend.current.recorder.datastore.close()


def _received(instance: str, n: int) -> MessageReceived:
    return MessageReceived(
        instance_id=instance,
        message_id=f"m{n}",
        chat_jid="79001234567@s.whatsapp.net",
        sender_jid="79001234567@s.whatsapp.net",
        message_type="text",
        body=f"hello {n}",
    )


async def test_a_read_on_the_reading_node_sees_what_the_writer_applied(nodes: tuple[Node, Node], postgres_db_url):
    writer, reader = nodes
    instance = new_id()
    async with trio.open_nursery() as nursery:
        await nursery.start(writer.store.run_writer)
        await nursery.start(writer.read_models.run)
        for runner in reader.read_models.runners.values():
            await runner.prepare()  # the reader makes no write: it only reads its positions
        channel = writer.backend.current.recorder.channel_name
        await nursery.start(listen_for_appends, postgres_db_url, channel, reader.store.appended_elsewhere)
        await nursery.start(listen_for_appends, postgres_db_url, READ_MODELS_CHANNEL, reader.read_models.take_positions)
        for n in range(1, 6):
            await writer.store.append(instance, [_received(instance, n)], n - 1)
            with trio.fail_after(3):
                await reader.store.wait_beyond(n - 1)  # the log's head, from the NOTIFY of the insert
                await reader.read_models.synced("messages", timeout=3)  # the writer's position, from its NOTIFY
            assert reader.read_models.runners["messages"].position >= n
            rows = reader.read_models.rm.find(MESSAGES, Query(where={"instanceId": instance}))
            assert {r["messageId"] for r in rows} >= {f"m{i}" for i in range(1, n + 1)}, rows
        assert reader.read_models.stalled() == {}
        nursery.cancel_scope.cancel()


async def test_positions_read_back_what_the_writer_recorded(nodes: tuple[Node, Node]) -> None:
    writer, reader = nodes
    rm = writer.backend.read_models
    rm.apply("messages", 7, lambda session: None)
    rm.apply("stats", 3, lambda session: None)
    assert reader.backend.read_models.positions() == {"messages": 7, "stats": 3}
    await reader.read_models.take_positions()
    assert reader.read_models.runners["messages"].position == 7 and reader.read_models.runners["users"].position == 0
