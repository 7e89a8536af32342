"""The real WhatsApp transport: one neonize client (whatsmeow, in Go) per instance, bridged into trio.

The pieces: `neonize_session` (one instance's connection, its threads and the gate around calls
into Go), `neonize_pipe` (events from Go threads into trio), `neonize_mapping` and
`neonize_messages` (what arrives), `neonize_outbound` (what is sent), `neonize_devices` (the
devices in PostgreSQL, when there is a device store).

`import wamux.adapters.whatsapp.neonize_transport` is cheap: neonize (which loads an 18 MB Go library and
calls `logging.basicConfig`) is imported on first use.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from wamux.adapters.whatsapp.neonize_devices import DeviceStore
from wamux.adapters.whatsapp.neonize_session import NeonizeClientHandle, NeonizeSession
from wamux.core.ports import TransportError
from wamux.logs import get_logger

__all__ = ["NeonizeClientHandle", "NeonizeSession", "NeonizeTransport"]

# Instance ids become directory names: no separators, no dot-dot.
_SAFE_INSTANCE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")

log = get_logger(__name__)


class NeonizeTransport:
    """WhatsApp through neonize: one session file per instance under `DATA_DIR/instances/<id>/`, or,
    with a `device_store` (a `postgresql://` URL), every instance's device in that database.
    """

    name = "neonize"

    def __init__(self, data_dir: str | Path, *, device_store: str | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.device_store = DeviceStore(device_store) if device_store else None
        # One session per instance for the life of the process: neonize names its Go client after
        # the session file, so two live clients for one instance would stop each other.
        self._sessions: dict[str, NeonizeSession] = {}

    def instance_dir(self, instance_id: str) -> Path:
        if not _SAFE_INSTANCE_ID.match(instance_id):
            raise ValueError(f"unusable instance id for a directory name: {instance_id!r}")
        return self.data_dir / "instances" / instance_id

    def session(self, instance_id: str) -> NeonizeSession:
        session = self._sessions.get(instance_id)
        if session is None:
            session = NeonizeSession(instance_id, self.instance_dir(instance_id), device_store=self.device_store)
            self._sessions[instance_id] = session
        return session

    def forget(self, instance_id: str) -> None:
        directory = self.instance_dir(instance_id)
        session = self._sessions.pop(instance_id, None)
        if session is not None:
            session.release()
        if self.device_store is not None:
            try:
                self.device_store.forget(instance_id)
            except TransportError as exc:  # the rows stay behind; nothing reads them again
                log.error("could not delete the instance's WhatsApp device", instance_id=instance_id, error=str(exc))
        if directory.exists():
            shutil.rmtree(directory)
