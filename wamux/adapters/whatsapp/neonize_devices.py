"""WhatsApp device sessions in PostgreSQL: every instance's device in one database.

whatsmeow's PostgreSQL store (inside neonize's Go library) keeps every linked device in that database,
keyed by the device's full JID (`user:device@s.whatsapp.net`). Which device is whose is ours to say:
`wamux_devices` maps an instance to its device JID, written when pairing succeeds (and checked again
at every connect), read before each connect.

What neonize 0.5.2 does with a PostgreSQL DSN, and what follows from it:
- The Go client is named after `uuid`: every instance's client gets `uuid=<instance id>`, or clients
  sharing the DSN would stop each other. A `jid` given to `NewClient` would rename the client after
  the phone number, so the device to resume is set as `client.jid` before `connect()` instead.
- With neither a `jid` nor `new_device=True`, whatsmeow resumes the first row of its table, anyone's:
  we always say one or the other.
- A `jid` whatsmeow does not have crashes the whole process in `connect()`: `client.jid` is only set
  to a JID just read from `whatsmeow_device`.
- lib/pq (neonize's driver) requires TLS unless told `sslmode=disable`, and has no connect timeout of
  its own: `device_store_dsn` adds both unless the URL says otherwise.
- Every `connect()` opens a connection pool that neonize never closes: one idle database connection
  per connect, until the process exits. A reconnect loop spends them; size `max_connections` for it.

Our own queries are short psycopg connections (autocommit), made in whatever thread already does the
session's blocking work (a trio worker thread, or neonize's event thread).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import errors as pg_errors

from wamux.adapters.whatsapp.neonize_jids import account_jid, jid_from_string
from wamux.core.ports import LinkConnected, PairSuccess, TransportError, TransportEvent
from wamux.logs import get_logger

if TYPE_CHECKING:
    from neonize.client import NewClient

log = get_logger(__name__)

# Seconds for every connection to the device store, ours and neonize's.
CONNECT_TIMEOUT_S = 5
_SCHEMA_LOCK = int.from_bytes(hashlib.sha256(b"wamux device store schema").digest()[:8], "big", signed=True)

_CREATE = """
CREATE TABLE IF NOT EXISTS wamux_devices (
    instance_id text PRIMARY KEY,
    device_jid text NOT NULL,
    updated timestamptz NOT NULL DEFAULT now()
)"""
_LINKED = """
SELECT d.jid, d.push_name FROM wamux_devices m JOIN whatsmeow_device d ON d.jid = m.device_jid
WHERE m.instance_id = %s"""
_REMEMBER = """
INSERT INTO wamux_devices (instance_id, device_jid, updated) VALUES (%s, %s, now())
ON CONFLICT (instance_id) DO UPDATE SET device_jid = excluded.device_jid, updated = excluded.updated
WHERE wamux_devices.device_jid IS DISTINCT FROM excluded.device_jid"""


def device_store_dsn(url: str) -> str:
    """The URL neonize and psycopg connect with: `sslmode=disable` unless `url` sets a mode, and a connect timeout."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres") or not parts.netloc:
        raise ValueError("the WhatsApp device store must be a postgresql:// URL")
    query = parse_qsl(parts.query, keep_blank_values=True)
    given = {name for name, _value in query}
    if "sslmode" not in given:
        query.append(("sslmode", "disable"))
    if "connect_timeout" not in given:
        query.append(("connect_timeout", str(CONNECT_TIMEOUT_S)))
    # %20 for spaces: libpq decodes only %XX in URLs, lib/pq also reads "+" as a space.
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


def full_jid(jid: Any) -> str:
    """A neonize `JID` as whatsmeow keys its device table (`user:device@server`)."""
    from neonize.utils.jid import Jid2String

    return str(Jid2String(jid))


def resume_jid(device_jid: str) -> Any | None:
    """The neonize `JID` that makes whatsmeow load exactly `device_jid`; None for a shape we cannot rebuild."""
    try:
        jid = jid_from_string(device_jid)
    except ValueError:
        return None
    return jid if full_jid(jid) == device_jid else None


class DeviceStore:
    """The device store's database: the instance → device mapping, the lookups, forgetting a device."""

    def __init__(self, url: str) -> None:
        self.dsn = device_store_dsn(url)
        self._schema_ready = False
        self._schema_lock = threading.Lock()

    def _connect(self) -> psycopg.Connection[tuple[Any, ...]]:
        conn = psycopg.connect(self.dsn, autocommit=True)
        try:
            with self._schema_lock:
                if not self._schema_ready:
                    with conn.transaction():
                        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))  # nodes starting at once
                        conn.execute(_CREATE)
                    self._schema_ready = True
        except BaseException:
            conn.close()
            raise
        return conn

    def linked(self, instance_id: str) -> tuple[str, str | None] | None:
        """(full device JID, push name) of the instance's device, if whatsmeow still stores it."""
        try:
            with self._connect() as conn:
                row = conn.execute(_LINKED, (instance_id,)).fetchone()
        except pg_errors.UndefinedTable:  # whatsmeow has not made its tables yet: nothing linked
            return None
        except psycopg.Error as exc:
            raise _unavailable(exc) from exc
        if row is None or not row[0]:
            return None
        return str(row[0]), (str(row[1]) if row[1] else None)

    def remember(self, instance_id: str, device_jid: str) -> None:
        """Map the instance to `device_jid` (a no-op when it already is)."""
        try:
            with self._connect() as conn:
                conn.execute(_REMEMBER, (instance_id, device_jid))
        except psycopg.Error as exc:
            raise _unavailable(exc) from exc

    def forget(self, instance_id: str) -> None:
        """Delete the instance's device (whatsmeow's rows for it) and its mapping; only while no client runs it."""
        try:
            with self._connect() as conn, conn.transaction():
                row = conn.execute(
                    "SELECT device_jid FROM wamux_devices WHERE instance_id = %s FOR UPDATE", (instance_id,)
                ).fetchone()
                tables = conn.execute(
                    "SELECT to_regclass('whatsmeow_device') IS NOT NULL,"
                    " to_regclass('whatsmeow_privacy_tokens') IS NOT NULL"
                ).fetchone()
                if row is not None and tables is not None:
                    device_jid = str(row[0])
                    if tables[0]:  # the other per-device tables follow by ON DELETE CASCADE
                        conn.execute("DELETE FROM whatsmeow_device WHERE jid = %s", (device_jid,))
                    if tables[1]:  # no foreign key on this one; whatsmeow_lid_map is shared, left alone
                        conn.execute("DELETE FROM whatsmeow_privacy_tokens WHERE our_jid = %s", (device_jid,))
                conn.execute("DELETE FROM wamux_devices WHERE instance_id = %s", (instance_id,))
        except psycopg.Error as exc:
            raise _unavailable(exc) from exc


def _unavailable(exc: psycopg.Error) -> TransportError:
    return TransportError(f"the WhatsApp device store failed: {exc}", retryable=True, code="device_store_failed")


class InstanceDevice:
    """One instance's device in a `DeviceStore`: chosen before each connect, remembered once linked."""

    def __init__(self, store: DeviceStore, instance_id: str) -> None:
        self.store = store
        self.instance_id = instance_id
        self.chosen: str | None = None  # the device JID the next connect resumes; None: pair a new one

    def new_client(self, factory: Callable[..., NewClient]) -> NewClient:
        return factory(self.store.dsn, uuid=self.instance_id, new_device=self.chosen is None)

    def choose(self) -> None:
        """Blocking: look the instance's device up (TransportError when the database fails)."""
        linked = self.store.linked(self.instance_id)
        self.chosen = linked[0] if linked is not None and resume_jid(linked[0]) is not None else None
        if linked is not None and self.chosen is None:
            log.warning("a stored device JID of an unknown shape; pairing anew", instance_id=self.instance_id)

    def aim(self, client: NewClient) -> None:
        """Point the client at the chosen device, or at a blank one, for its next `connect()`."""
        jid = resume_jid(self.chosen) if self.chosen is not None else None
        client.jid = jid
        client.new_device = jid is None

    def identity(self) -> tuple[str, str | None] | None:
        """(account JID, push name) of the instance's device; None when there is none or the database fails."""
        try:
            linked = self.store.linked(self.instance_id)
        except TransportError as exc:
            log.warning("could not read the linked device", instance_id=self.instance_id, error=str(exc))
            return None
        return None if linked is None else (account_jid(linked[0]), linked[1])

    def note(self, client: NewClient, event: Any, mapped: TransportEvent, call_go: Callable[[Any], Any]) -> None:
        """On a Go thread: remember the device that pairing made (`PairStatusEv.ID`) or that is connected
        (`client.get_me().JID`, through the session's gate `call_go`). Never raises."""
        try:
            if isinstance(mapped, PairSuccess):
                device_jid = full_jid(event.ID)
            elif isinstance(mapped, LinkConnected):
                me = call_go(client.get_me)
                device_jid = full_jid(me.JID) if me.HasField("JID") else ""
            else:
                return
            if "@" in device_jid and device_jid.partition("@")[0]:
                self.store.remember(self.instance_id, device_jid)
        except Exception as exc:
            log.warning("could not remember the linked device", instance_id=self.instance_id, error=str(exc))
