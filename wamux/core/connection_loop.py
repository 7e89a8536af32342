"""The connection loop of an instance actor: connect, watch liveness, record how it ended, back off.

State machine (every transition is a domain event in the instance's stream):

    connecting ──qr──► qr ──scan──► connected ──drop──► disconnected ──back-off──► connecting
         │                │                                   ▲
         │                └─ too many QR codes ─► disconnected (qr_timeout, waits for /reconnect)
         └─ unlinked on the phone / logout ─► logged_out (waits for /reconnect, needs a new QR)

What went wrong is kept beside the status (`ActorBase.problem`, shown as `connectionStatus`): the cause
in words, the failed connects in a row, when the next attempt starts. Failed connects are logged with
their cause, paced per instance: the first one, then at most one line a minute with the count since the
last line, and a line when the connection comes up again.
"""

from __future__ import annotations

import random
from urllib.parse import unquote, urlsplit

import trio

from wamux.core.actor_base import ActorBase, ConnectionProblem
from wamux.core.ports import ConnectionLost, TransportError, TransportEvent
from wamux.domain.events import Disconnected, InstanceFailed, LoggedOut
from wamux.domain.proxy import mask_proxy
from wamux.logs import get_logger

log = get_logger("wamux.actor")

FAILURE_LOG_INTERVAL_S = 60.0  # at most one line a minute per instance about failed connects

# What the network libraries say (Go's net package under neonize) -> the same in words.
NETWORK_CAUSES = (
    ("connection refused", "connection refused"),
    ("no such host", "the name of WhatsApp's server does not resolve (no DNS or no network)"),
    ("server misbehaving", "the name of WhatsApp's server does not resolve (DNS failure)"),
    ("network is unreachable", "the network is unreachable"),
    ("no route to host", "no route to WhatsApp's server"),
    ("i/o timeout", "the connection timed out"),
    ("timed out", "the connection timed out"),
    ("connection reset", "the connection was reset"),
    ("certificate", "WhatsApp's TLS certificate was not accepted"),
    ("x509", "WhatsApp's TLS certificate was not accepted"),
    ("eof", "the connection closed during the handshake"),
)
# How a connection ended (the reason codes of `disconnected`, `logged_out`) in words.
REASON_WORDS = {
    "connect_failed": "cannot reach WhatsApp",
    "connection_lost": "the connection to WhatsApp was lost",
    "connection_closed": "WhatsApp closed the connection",
    "connection_failed": "the connection to WhatsApp failed",
    "connect_failure": "WhatsApp refused the connection",
    "unresponsive": "WhatsApp stopped answering",
    "qr_timeout": "no QR code was scanned in time",
    "pair_failed": "linking the phone failed",
    "pairing_error": "linking the phone failed",
    "client_outdated": "WhatsApp refuses this client version (client outdated)",
    "bad_user_agent": "WhatsApp refuses this client (bad user agent)",
    "temp_banned": "WhatsApp has temporarily banned this number",
    "stream_replaced": "another client took over this WhatsApp session",
    "logged_out": "the device was unlinked on the phone",
    "main_device_gone": "the phone this device was linked to is gone",
    "failed": "the instance failed",
}


def describe_reason(reason: str) -> str:
    """A reason code of the connection's end, in words."""
    return REASON_WORDS.get(reason, reason.replace("_", " "))


def describe_failure(message: str, code: str, *, proxied: bool = False) -> str:
    """What a failed connect says, in words: "cannot reach WhatsApp: connection refused"."""
    if code not in ("connect_failed", "transport_error") and code in REASON_WORDS:
        return REASON_WORDS[code]
    where = "cannot reach WhatsApp" + (" through the proxy" if proxied else "")
    text = message.lower()
    for needle, words in NETWORK_CAUSES:
        if needle in text:
            return f"{where}: {words}"
    tail = message.rsplit(": ", 1)[-1].strip()
    return f"{where}: {tail[:200]}" if tail else where


def failed_attempts(n: int) -> str:
    return f"{n} failed attempt" + ("" if n == 1 else "s")


def scrub(text: str, proxy: str | None) -> str:
    """`text` without the proxy's password (an error may quote the proxy URL)."""
    password = urlsplit(proxy).password if proxy else None
    if not password:
        return text
    for secret in {password, unquote(password)}:
        text = text.replace(secret, "***")
    return text


class ConnectionLoop(ActorBase):
    """Keeps the instance's WhatsApp connection up while it should be (see the state machine above).

    Each connect goes through the instance's `settings.proxy` as it is at that moment: a changed
    proxy takes effect on the next connect (the update use case reconnects a live instance for it).
    """

    _proxy_told: str | None = None  # the proxy the session was last given (a new session has none)
    _connect_failed = False  # the last attempt failed before it connected (the cause is in `problem`)

    async def _on_transport(self, event: TransportEvent) -> None:
        raise NotImplementedError  # InboundEvents

    async def _connection_loop(self) -> None:
        if self.status == "disconnected" and (self.instance.linked or self.problem.will_reconnect):
            # Was dropped, or was backing off after failed connects, when the server stopped: come back by itself.
            self._set_status("connecting")
        if self.problem.reason not in (None, "logout") and self.problem.last_error is None:
            self.problem.last_error = describe_reason(self.problem.reason)  # what the previous process recorded
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
            self.problem.retrying_at_ms = self.clock.now_ms() + int(delay * 1000)
            with trio.move_on_after(delay):
                await self._wake.wait()  # a /reconnect cuts the wait short
            self.reconnecting = False
            self.problem.retrying_at_ms = None
            self._wake = trio.Event()
            if self.status == "disconnected":
                self._set_status("connecting")

    async def _connect_once(self) -> ConnectionLost:
        self._outcome = None
        self._qr_attempt = 0
        self.qr_code = None
        if self.status not in ("connecting",):
            self._set_status("connecting")
        self._use_proxy()
        self._connect_failed = False
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
                self._note_failure(failure)
        self._connection = None
        self.qr_code = None
        return self._outcome or ConnectionLost(reason="connection_closed")

    def _use_proxy(self) -> None:
        """Tell the session the instance's proxy when it differs from what the session was told last."""
        proxy = self.instance.settings.get("proxy") or None
        if proxy != self._proxy_told:
            self.session.set_proxy(proxy)
            self._proxy_told = proxy
        if proxy is not None:
            log.info("connecting through a proxy", instance_id=self.id, proxy=mask_proxy(proxy))

    def _note_failure(self, failure: TransportError) -> None:
        """A connect failed: keep its cause, and log it (the first, then at most one line a minute)."""
        p = self.problem
        proxy = self.instance.settings.get("proxy") or None
        error = scrub(str(failure), proxy)
        p.last_error = describe_failure(error, failure.code, proxied=proxy is not None)
        p.attempts += 1
        p.unlogged += 1
        self._connect_failed = True
        now = trio.current_time()
        if p.logged_at is not None and now - p.logged_at < FAILURE_LOG_INTERVAL_S:
            return
        since = f" ({failed_attempts(p.unlogged)} since the last line)" if p.logged_at is not None else ""
        log.warning(
            p.last_error + since,
            instance_id=self.id,
            error=error,
            attempts=p.attempts,
            since_last_line=p.unlogged,
            retrying=failure.retryable,
        )
        p.logged_at = now
        p.unlogged = 0

    def _note_end(self, outcome: ConnectionLost, will_reconnect: bool) -> None:
        """Keep how the connection ended; a failed connect keeps the cause `_note_failure` gave it."""
        p = self.problem
        p.reason, p.will_reconnect = outcome.reason, will_reconnect
        if outcome.logged_out:
            p.attempts = 0
            p.last_error = None if outcome.reason == "logout" else describe_reason(outcome.reason)
        elif not self._connect_failed:
            p.last_error = describe_reason(outcome.reason)

    def _set_status(self, status: str) -> None:
        """The status; once WhatsApp answers (a QR code, or connected) the problem is over, and the log says so.

        A logout starts afresh too (an unlink by the phone then records its own cause, `_note_end`).
        """
        p = self.problem
        if status in ("qr", "connected", "logged_out") and p != ConnectionProblem():
            if p.attempts and status != "logged_out":
                what = "connected" if status == "connected" else "reached WhatsApp (waiting for a QR scan)"
                log.info(f"{what} after {failed_attempts(p.attempts)}", instance_id=self.id, attempts=p.attempts)
            self.problem = ConnectionProblem()
        super()._set_status(status)

    def why_no_qr(self) -> str | None:
        """Why no QR code can come now (a reason code), or None while one is shown or on its way."""
        if self.qr_code is not None or self.status == "qr":
            return None
        if self.status in ("connected", "logged_out", "failed"):
            return self.status
        if self.status == "disconnected":
            return self.problem.reason or "disconnected"
        if self.instance.linked:
            return "linked"  # connecting with the device's credentials: it needs no QR code
        return None  # connecting without credentials: a QR code is on its way

    async def _record_outcome(self, outcome: ConnectionLost) -> bool:
        """Append what the end of a connection means; True when the loop should reconnect by itself."""
        will_reconnect = await self._record_end(outcome)
        if not (self.instance.deleted or outcome.reason in ("stopped", "reconnect_requested")):
            self._note_end(outcome, will_reconnect)
        return will_reconnect

    async def _record_end(self, outcome: ConnectionLost) -> bool:
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
