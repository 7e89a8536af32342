"""What the routes need, wired by the composition root (`wamux.run.bootstrap`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from wamux.core.ports import EventStore, MediaFetch, MediaFiles, OutboundCheck, SimulatorControl
from wamux.core.supervisor import Supervisor
from wamux.core.user_directory import UserDirectory
from wamux.domain.clock import Clock
from wamux.projections.ports import ReadModelStore


class ReadModelsView(Protocol):
    rm: ReadModelStore

    async def synced(self, *names: str, timeout: float = 5.0) -> None: ...

    def lag(self) -> dict[str, int]: ...


class StoreAdmin(Protocol):
    """Switching and describing the event store (`wamux.run.store_switch.StoreSwitcher`)."""

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
    media: MediaFiles | None = None
    media_fetcher: MediaFetch | None = None
    outbound: OutboundCheck | None = None
    sniff: Callable[[bytes], str] | None = None
    max_upload_bytes: int = 16 * 1024 * 1024
    simulator: SimulatorControl | None = None
    store_admin: StoreAdmin | None = None
    meter: Any = None  # wamux.http.usage.UsageMeter, set by create_app
    webhooks: Any = None  # wamux.core.webhook_dispatcher.WebhookDispatcher
    max_body_bytes: int = 32 * 1024 * 1024
    trust_proxy: bool = False  # TRUST_PROXY: take the client address from X-Forwarded-For
    extras: dict[str, Any] = field(default_factory=dict)
