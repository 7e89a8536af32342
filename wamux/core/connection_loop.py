"""The connection loop of an instance actor: connect, watch liveness, record how it ended, back off.

State machine (every transition is a domain event in the instance's stream):

    connecting ──qr──► qr ──scan──► connected ──drop──► disconnected ──back-off──► connecting
         │                │                                   ▲
         │                └─ too many QR codes ─► disconnected (qr_timeout, waits for /reconnect)
         └─ unlinked on the phone / logout ─► logged_out (waits for /reconnect, needs a new QR)
"""

from __future__ import annotations

import random

import trio

from wamux.core.actor_base import ActorBase
from wamux.core.ports import ConnectionLost, TransportError, TransportEvent
from wamux.domain.events import Disconnected, InstanceFailed, LoggedOut


class ConnectionLoop(ActorBase):
    """Keeps the instance's WhatsApp connection up while it should be (see the state machine above)."""

    async def _on_transport(self, event: TransportEvent) -> None:
        raise NotImplementedError  # InboundEvents

    async def _connection_loop(self) -> None:
        if self.status == "disconnected" and self.instance.linked:
            self._set_status("connecting")  # was dropped when the server stopped: come back by itself
        backoff = self.settings.backoff_initial_s
        while True:
            if not self._wants_connection():
                await self._wake.wait()
                self._wake = trio.Event()
                backoff = self.settings.backoff_initial_s
                continue
            outcome = await self._connect_once()
            if self._failures == 0:
                backoff = self.settings.backoff_initial_s  # that attempt got through: a new drop starts over
            async with self._lock:
                outcome = self._outcome or outcome  # a /reconnect or /logout since the end wins over it
                will_reconnect = await self._record_outcome(outcome)
            if outcome.reason == "reconnect_requested":
                backoff = self.settings.backoff_initial_s
                self._wake = trio.Event()
                continue
            if not will_reconnect:
                continue
            delay = min(backoff, self.settings.backoff_max_s) * random.uniform(0.8, 1.2)
            backoff = min(backoff * 2, self.settings.backoff_max_s)
            self.reconnecting = True
            with trio.move_on_after(delay):
                await self._wake.wait()  # a /reconnect cuts the wait short
            self.reconnecting = False
            self._wake = trio.Event()
            if self.status == "disconnected":
                self._set_status("connecting")

    async def _connect_once(self) -> ConnectionLost:
        self._outcome = None
        self._qr_attempt = 0
        self.qr_code = None
        if self.status not in ("connecting",):
            self._set_status("connecting")
        with trio.CancelScope() as scope:
            self._connection = scope
            failure: TransportError | None = None
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._liveness)
                try:
                    await self.session.connect(self._on_transport)
                except TransportError as exc:  # caught here: a nursery would wrap it in an ExceptionGroup
                    failure = exc
                nursery.cancel_scope.cancel()
            if failure is not None:
                self._outcome = self._outcome or ConnectionLost(
                    reason=failure.code if failure.code != "transport_error" else str(failure) or "connect_failed",
                    permanent=not failure.retryable,
                )
                self._failures += 1
        self._connection = None
        self.qr_code = None
        return self._outcome or ConnectionLost(reason="connection_closed")

    async def _record_outcome(self, outcome: ConnectionLost) -> bool:
        """Append what the end of a connection means; True when the loop should reconnect by itself."""
        if self.instance.deleted or outcome.reason == "stopped":
            return False
        if outcome.reason == "reconnect_requested":
            return False
        if outcome.logged_out:
            if self.status != "logged_out":
                await self._append(LoggedOut(instance_id=self.id, reason=outcome.reason))
            self._set_status("logged_out")
            self._groups_synced = None
            return False
        if outcome.reason == "qr_timeout" or outcome.permanent:
            await self._append(Disconnected(instance_id=self.id, reason=outcome.reason, will_reconnect=False))
            self._set_status("disconnected")
            return False
        if self._failures >= self.settings.max_connect_failures and not self.instance.linked:
            # A linked device keeps trying (at the back-off cap) through long outages; an instance
            # that never got as far as a QR code gives up and waits for /reconnect.
            await self._append(
                InstanceFailed(
                    instance_id=self.id, reason=f"{self._failures} connection attempts failed: {outcome.reason}"
                )
            )
            self._set_status("failed")
            return False
        await self._append(Disconnected(instance_id=self.id, reason=outcome.reason, will_reconnect=True))
        self._set_status("disconnected")
        return True

    async def _liveness(self) -> None:
        misses = 0
        while True:
            await trio.sleep(self.settings.liveness_interval_s)
            if self.status != "connected":
                misses = 0
                continue
            alive = False
            with trio.move_on_after(self.settings.liveness_timeout_s):
                alive = await self.session.ping()
            misses = 0 if alive else misses + 1
            if misses >= 2:
                self._end_connection(ConnectionLost(reason="unresponsive"))
                return
