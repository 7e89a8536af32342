"""Writes by other processes, from PostgreSQL's LISTEN/NOTIFY: every insert into the log NOTIFYs its channel
(eventsourcing's PostgreSQL recorder does, in the inserting transaction, so the notification is delivered
only once that transaction committed), and every write of the read-model store NOTIFYs `wamux_read_models`.
A node of a cluster listens and wakes its followers and readers at once: no polling loop with a fixed sleep.

One dedicated connection in a worker thread waits for notifications; a burst is coalesced into one call of
`on_append` (which re-reads the head). A lost connection is opened again with back-off, and `on_append` is
called once after each (re)connect, since appends may have happened while no one listened.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable

import psycopg
import trio
from psycopg import sql

from wamux.logs import get_logger

log = get_logger("wamux.store")

WAIT_S = 0.5  # how long one wait for a notification blocks (how soon a cancelled listener's thread ends)
BACKOFF_MAX_S = 10.0


def _wait_once(conn: psycopg.Connection[tuple[object, ...]], stop: threading.Event) -> bool:
    """Block up to WAIT_S for notifications; True when at least one came (all pending ones are drained).

    Runs in a worker thread that a cancelled listener abandons: it closes the connection itself once `stop`
    is set, so no other thread ever closes a connection this one is waiting on.
    """
    try:
        got = False
        for _ in conn.notifies(timeout=WAIT_S, stop_after=1):
            got = True
        if got:  # drain the rest of a burst without blocking
            for _ in conn.notifies(timeout=0):
                pass
        return got
    finally:
        if stop.is_set():
            conn.close()


def _listen(url: str, channel: str) -> psycopg.Connection[tuple[object, ...]]:
    conn = psycopg.connect(url, autocommit=True, connect_timeout=5)
    try:
        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
    except BaseException:
        conn.close()
        raise
    return conn


async def listen_for_appends(
    url: str,
    channel: str,
    on_append: Callable[[], Awaitable[None]],
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """LISTEN on `channel` for the life of the calling task; `on_append()` after each burst of notifications."""
    limiter = trio.CapacityLimiter(1)  # its own thread: a wait never takes one of the store's
    backoff = 0.5
    started = False
    while True:
        try:
            conn = await trio.to_thread.run_sync(_listen, url, channel, limiter=limiter)
        except psycopg.Error as exc:
            log.warning("cannot listen for appends; trying again", error=repr(exc), retry_in_s=backoff)
            if not started:
                task_status.started()
                started = True
            await trio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX_S)
            continue
        backoff = 0.5
        if not started:
            task_status.started()
            started = True
        stop = threading.Event()
        waiting = False
        try:
            await on_append()  # whatever was appended while no one listened
            while True:
                waiting = True
                got = await trio.to_thread.run_sync(_wait_once, conn, stop, limiter=limiter, abandon_on_cancel=True)
                waiting = False
                if got:
                    await on_append()
        except Exception as exc:  # the connection dropped, or reading the head failed: listen again
            log.warning("lost the connection that listens for appends; opening it again", error=repr(exc))
            await trio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX_S)
        finally:
            stop.set()
            if not waiting:  # else the abandoned wait closes it when it returns
                conn.close()
