"""What the routes need, wired by the composition root (`wamux.infra.main`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from wamux.actors.supervisor import Supervisor
from wamux.actors.transport import SimulatorControl
from wamux.actors.users import UserDirectory
from wamux.domain.clock import Clock
from wamux.domain.store import EventStore
from wamux.projections.ports import ReadModelStore


class ReadModelsView(Protocol):
    rm: ReadModelStore

    async def synced(self, *names: str, timeout: float = 5.0) -> None: ...

    def lag(self) -> dict[str, int]: ...


class StoreAdmin(Protocol):
    """Switching and describing the event store (implemented in infra)."""

    def status(self) -> dict[str, Any]: ...

    async def switch(self, provider: str, url: str | None) -> dict[str, Any]: ...


@dataclass
class Services:
    store: EventStore
    users: UserDirectory
    supervisor: Supervisor
    read_models: ReadModelsView
    clock: Clock
    jwt_secret: str
    jwt_expiration_s: int
    version: str
    simulator: SimulatorControl | None = None
    store_admin: StoreAdmin | None = None
    max_body_bytes: int = 32 * 1024 * 1024
    extras: dict[str, Any] = field(default_factory=dict)
