"""What the routes need, wired by the composition root (`wamux.infra.main`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
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


class MediaFiles(Protocol):
    def save(self, instance_id: str, data: bytes, mime_type: str | None, file_name: str | None) -> str: ...

    def open_path(self, rel: str) -> Path | None: ...


class MediaFetch(Protocol):
    async def fetch(self, url: str, file_name: str | None = None, *, trusted: bool = False) -> Any: ...


class OutboundCheck(Protocol):
    """The outbound-URL rule of §8 at input (implemented in infra): 400 for a URL the caller may not use."""

    def trusts(self, trusted: bool) -> bool: ...

    async def check(self, url: Any, *, trusted: bool, field_name: str = "url", must_resolve: bool = True) -> None: ...


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
    media: MediaFiles | None = None
    media_fetcher: MediaFetch | None = None
    outbound: OutboundCheck | None = None
    sniff: Callable[[bytes], str] | None = None
    max_upload_bytes: int = 16 * 1024 * 1024
    simulator: SimulatorControl | None = None
    store_admin: StoreAdmin | None = None
    meter: Any = None  # wamux.http.usage.UsageMeter, set by create_app
    webhooks: Any = None  # wamux.infra.webhook_sender.WebhookDispatcher
    max_body_bytes: int = 32 * 1024 * 1024
    trust_proxy: bool = False  # TRUST_PROXY: take the client address from X-Forwarded-For
    extras: dict[str, Any] = field(default_factory=dict)
