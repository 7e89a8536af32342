"""From neonize's threads into trio: the event pipe of a connection, and the process-wide dial gate.

neonize calls a session's handlers on threads of the Go runtime. A handler hands its mapped event
to `EventPipe.push`, which never blocks (`run_sync_soon`): the Go side is not held up by a slow
actor. One trio task (`feed`) gives the events to the actor's `emit` in arrival order.
"""

from __future__ import annotations

import threading
from typing import Any

import trio

from wamux.core.ports import ConnectionLost, Emit, TransportEvent
from wamux.logs import get_logger

log = get_logger(__name__)

# neonize 0.5.2's Go side registers each client in a process-wide map without a lock: two
# `connect()` calls starting at the same moment can abort the whole process ("concurrent map
# writes", seen in the instance benchmark). Dials are therefore spaced out, process-wide.
_DIAL_LOCK = threading.Lock()
DIAL_SPACING_S = 0.25


def dial(client: Any) -> None:
    """`client.connect()` (blocks for the connection's life), started only after the previous dial."""
    _DIAL_LOCK.acquire()
    threading.Timer(DIAL_SPACING_S, _DIAL_LOCK.release).start()
    client.connect()


class EventPipe:
    """Carries transport events from neonize's threads into one trio task, in order, never blocking.

    Everything after the first `ConnectionLost` is dropped: the port promises that event is last.
    """

    def __init__(self, send_channel: trio.MemorySendChannel[TransportEvent], token: trio.lowlevel.TrioToken):
        self._send_channel = send_channel
        self._token = token
        self._closed = False
        self.lost: ConnectionLost | None = None
        self.ended = trio.Event()
        self.delivered_any = False

    def push(self, event: TransportEvent) -> None:
        """Queue an event for the actor; callable from any thread, returns at once."""
        try:
            self._token.run_sync_soon(self._deliver, event)
        except trio.RunFinishedError:
            log.warning("neonize event arrived after shutdown; dropped", kind=type(event).__name__)

    def _deliver(self, event: TransportEvent) -> None:  # runs in the trio thread
        if self._closed or self.lost is not None:
            return
        if isinstance(event, ConnectionLost):
            self.lost = event
            self.ended.set()
        self.delivered_any = True
        try:
            self._send_channel.send_nowait(event)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            # The feed already ended (the connection is being cancelled): raising here, in a
            # `run_sync_soon` callback, would abort the whole trio run.
            log.debug("neonize event after the feed ended; dropped", kind=type(event).__name__)

    async def aclose(self) -> None:
        """Close after everything already queued has been delivered (run_sync_soon is FIFO)."""
        closed = trio.Event()

        def close() -> None:
            self._closed = True
            self._send_channel.close()
            closed.set()

        self._token.run_sync_soon(close)
        await closed.wait()


async def feed(receive_channel: trio.MemoryReceiveChannel[TransportEvent], emit: Emit) -> None:
    """Give every event of the pipe to `emit`, one at a time, until the pipe closes."""
    async with receive_channel:
        async for event in receive_channel:
            await emit(event)
