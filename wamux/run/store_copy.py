"""The store switch's copy of the event log: large pages of raw records, written in bulk.

Records are copied as they are stored (no decode, no encode: secrets stay encrypted) and keep
their notification ids, so a position means the same event in both stores. A target that offers
`copy_in` (both of ours do) takes a page in one bulk write; any other recorder gets
`insert_events`, and the ids it hands out are checked against the source's. (Reading the next
page while the current one is written was measured no faster, so the copy is one loop.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import trio
from eventsourcing.persistence import Notification, StoredEvent

from wamux.adapters.eventlog.timeline import TimelineRecorder

# Records per read and per bulk write. 2,000, 10,000 and 30,000 copied equally fast (the driver's
# work per record dominates); the small page keeps progress fine-grained and a failing target noticed early.
COPY_PAGE = 2_000
STEP_TIMEOUT_S = 10.0  # a driver call that takes longer fails the switch (the target stopped answering)


class SwitchFailed(Exception):
    """The copy or the checks of a store switch failed; the old store is untouched."""


@runtime_checkable
class BulkTarget(Protocol):
    """A recorder that can take another log's records under their own ids (see the SQLite and MongoDB ones)."""

    def copy_in(self, records: Sequence[Notification]) -> None: ...

    def drop_timeline_indexes(self) -> None: ...

    def create_table(self) -> None: ...


def _read_page(source: TimelineRecorder, after: int, page: int) -> list[Notification]:
    return list(source.select_notifications(start=after, limit=page, inclusive_of_start=False))


def _write_page(target: TimelineRecorder, records: list[Notification]) -> None:
    if isinstance(target, BulkTarget):
        target.copy_in(records)
        return
    ids = target.insert_events([StoredEvent(n.originator_id, n.originator_version, n.topic, n.state) for n in records])
    if list(ids or []) != [n.id for n in records]:
        raise SwitchFailed(f"positions differ in the target after {records[0].id - 1}; nothing was switched")


async def copy_log(
    source: TimelineRecorder,
    target: TimelineRecorder,
    after: int,
    limiter: trio.CapacityLimiter,
    on_page: Callable[[int], None],
    *,
    page: int = COPY_PAGE,
) -> int:
    """Copy every record after position `after`; returns the last position copied.

    `on_page` gets the position reached after each page written.
    """
    position = after
    while records := await trio.to_thread.run_sync(_read_page, source, position, page, limiter=limiter):
        # A target that stops answering must fail the switch quickly, not hang it: give up on the
        # (uncancellable) driver call after STEP_TIMEOUT_S and let its thread finish alone.
        with trio.fail_after(STEP_TIMEOUT_S):
            await trio.to_thread.run_sync(_write_page, target, records, limiter=limiter, abandon_on_cancel=True)
        position = records[-1].id
        on_page(position)
    return position


async def bulk_copy_log(
    source: TimelineRecorder,
    target: TimelineRecorder,
    limiter: trio.CapacityLimiter,
    on_page: Callable[[int], None],
    *,
    page: int = COPY_PAGE,
) -> int:
    """The first, whole copy into an empty target: its timeline indexes are dropped for the copy and
    built again once it is done (faster than keeping them up to date row by row)."""
    if not isinstance(target, BulkTarget):
        return await copy_log(source, target, 0, limiter, on_page, page=page)
    await trio.to_thread.run_sync(target.drop_timeline_indexes, limiter=limiter)
    position = await copy_log(source, target, 0, limiter, on_page, page=page)
    await trio.to_thread.run_sync(target.create_table, limiter=limiter)
    return position
