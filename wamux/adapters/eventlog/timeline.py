"""The query every wamux event-store backend adds to eventsourcing's application recorder.

`/events` and `/activity` are questions about one stream ordered by time: "what happened on
instance X after (ts, position), of these types, between these dates". Each backend answers
them from an index on (originator_id, ts) kept next to the stored events, written in the
same transaction as the events themselves.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, Notification


class TimelineRecorder(ApplicationRecorder):
    """An application recorder that can also select a stream's events by time.

    Order is (ts, notification id). `after` / `before` are exclusive (ts, id) bounds;
    `start_ts` / `end_ts` are inclusive millisecond bounds.
    """

    @abstractmethod
    def select_timeline(
        self,
        originator_id: UUID,
        *,
        topics: Sequence[str] = (),
        after: tuple[int, int] | None = None,
        before: tuple[int, int] | None = None,
        start_ts: int | None = None,
        end_ts: int | None = None,
        desc: bool = False,
        skip: int = 0,
        limit: int = 100,
    ) -> list[Notification]:
        """Events of one stream in (ts, id) order, filtered and paged."""

    @abstractmethod
    def count_timeline(
        self,
        originator_id: UUID,
        *,
        topics: Sequence[str] = (),
        start_ts: int | None = None,
        end_ts: int | None = None,
    ) -> int:
        """How many events of one stream match the filters."""
