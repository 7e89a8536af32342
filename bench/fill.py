"""Filling an event store fast: many appenders through `RecorderEventStore`, so the writer group-commits.

The events are the ones a busy server writes most (`message_received`), in a few instance streams
created the way the supervisor creates them, stamped by a clock that starts in the past so
`since=` queries land inside the data.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import trio

from wamux.adapters.eventlog.recorder_store import RecorderEventStore
from wamux.domain.events import MessageReceived
from wamux.domain.ids import new_id
from wamux.domain.instances import Instance


class PastClock:
    """Starts `hours_ago` in the past and moves `step_ms` per reading, so 100k events span real time."""

    def __init__(self, hours_ago: float = 2.0, step_ms: int = 5) -> None:
        self.value = int(time.time() * 1000 - hours_ago * 3600 * 1000)
        self.step_ms = step_ms

    def now_ms(self) -> int:
        self.value += self.step_ms
        return self.value


@dataclass
class Filled:
    instance_ids: list[str]
    user_id: str
    events: int
    seconds: float
    per_instance: dict[str, int] = field(default_factory=dict)


def message(instance_id: str, n: int) -> MessageReceived:
    return MessageReceived(
        instance_id=instance_id,
        message_id=f"BENCH{n:010d}",
        chat_jid="79001234567@s.whatsapp.net",
        sender_jid="79001234567@s.whatsapp.net",
        message_type="text",
        body=f"message number {n} from the benchmark",
        push_name="Bench",
        sent_at=1_700_000_000 + n,
    )


async def fill(store: RecorderEventStore, *, instances: int, events: int, per_append: int = 100) -> Filled:
    """Create `instances` instance streams and append `events` messages spread over them.

    One task per instance appends `per_append` events at a time; the writer commits whatever
    the tasks have pending together. Needs `store.run_writer` running.
    """
    user = new_id()
    ids = [new_id() for _ in range(instances)]
    per_instance = {iid: 0 for iid in ids}
    started = time.perf_counter()

    async def one(iid: str, count: int) -> None:
        version = len(await store.append(iid, Instance.create(iid, user, {"name": f"bench-{iid[:8]}"}), 0))
        done = 0
        while done < count:
            chunk = [message(iid, done + k) for k in range(min(per_append, count - done))]
            recorded = await store.append(iid, chunk, version)
            version = recorded[-1].version
            done += len(chunk)
        per_instance[iid] = done

    async with trio.open_nursery() as nursery:
        for i, iid in enumerate(ids):
            nursery.start_soon(one, iid, events // instances + (1 if i < events % instances else 0))
    return Filled(ids, user, events + instances, time.perf_counter() - started, per_instance)
