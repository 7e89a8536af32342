"""Filling a stopped server's event log fast, for tests of a big log (catching up at start).

Appends `message_received` events to instance streams that already exist (created through the API, so
the users, instances and links are the ones a real server wrote), through `RecorderEventStore` with many
appenders at once, so the writer group-commits. Run it while no server uses the DATA_DIR.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import trio

from wamux.domain.events import MessageReceived
from wamux.run.bootstrap import open_storage
from wamux.run.config import load_settings

CHAT_JID = "79001234567@s.whatsapp.net"


def message(instance_id: str, n: int, chat_jid: str = CHAT_JID) -> MessageReceived:
    """The `n`th filled message of an instance, all in one chat (ids `FILL0000000001`, ...)."""
    return MessageReceived(
        instance_id=instance_id,
        message_id=f"FILL{n:010d}",
        chat_jid=chat_jid,
        sender_jid=chat_jid,
        message_type="text",
        body=f"filled message {n}",
        push_name="Filler",
        sent_at=1_700_000_000 + n,
    )


async def fill_messages(
    data_dir: Path, env: Mapping[str, str], per_instance: Mapping[str, int], *, per_append: int = 500
) -> float:
    """Append `per_instance[id]` messages to each existing instance stream of `data_dir`; returns seconds taken.

    `env` is the server's environment (DATA_DIR, the secret key, the store); the read models are not touched.
    """
    settings = load_settings({**os.environ, **env, "DATA_DIR": str(data_dir)}, env_file=None)
    storage = open_storage(settings)
    store = storage.store
    started = time.perf_counter()
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(store.run_writer)

            async def one(instance_id: str, count: int) -> None:
                version = await store.stream_version(instance_id)
                assert version > 0, f"instance {instance_id} has no stream"
                done = 0
                while done < count:
                    chunk = [message(instance_id, done + k + 1) for k in range(min(per_append, count - done))]
                    version = (await store.append(instance_id, chunk, version))[-1].version
                    done += len(chunk)

            async with trio.open_nursery() as appenders:
                for instance_id, count in per_instance.items():
                    appenders.start_soon(one, instance_id, count)
            nursery.cancel_scope.cancel()
    finally:
        storage.backend.close()
    return time.perf_counter() - started


def spread(instance_ids: Sequence[str], events: int) -> dict[str, int]:
    """`events` messages spread evenly over the instances."""
    n = len(instance_ids)
    return {iid: events // n + (1 if i < events % n else 0) for i, iid in enumerate(instance_ids)}
