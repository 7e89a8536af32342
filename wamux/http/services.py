"""What the routes need, complete and typed; built by the composition root (`wamux.run.bootstrap.build_web`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from wamux.core.ports import EventStore, MediaFiles, SimulatorControl
from wamux.core.projection_runner import ReadModelState
from wamux.core.queries import ReadQueries
from wamux.core.supervisor import Supervisor
from wamux.core.usecases import UseCases
from wamux.core.user_directory import UserDirectory
from wamux.core.webhook_dispatcher import WebhookDispatcher
from wamux.domain.clock import Clock
from wamux.projections.ports import ReadModelStore


class ReadModelsView(Protocol):
    @property
    def rm(self) -> ReadModelStore: ...

    async def synced(self, *names: str, timeout: float = 5.0) -> None: ...

    def lag(self) -> dict[str, int]: ...

    def states(self) -> dict[str, ReadModelState]: ...


class StoreAdmin(Protocol):
    """Switching and describing the event store (`wamux.run.store_switch.StoreSwitcher`)."""

    def status(self) -> dict[str, Any]: ...

    async def switch(self, provider: str, url: str | None) -> dict[str, Any]: ...


class MetricsSink(Protocol):
    """Request timings and the `/metrics` page (`wamux.run.metrics.ServerMetrics`)."""

    token: str | None
    content_type: str

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None: ...

    def render(self) -> bytes: ...


class ClusterView(Protocol):
    """The nodes serving this database and which one runs an instance (`wamux.run.cluster`)."""

    @property
    def node_id(self) -> str: ...

    def nodes(self) -> list[dict[str, Any]]:
        """`GET /api/cluster/nodes`'s `nodes`: `{"id", "url", "instances", "lastSeen", "self", ...}` each."""

    def node_of(self, instance_id: str) -> str | None:
        """The id of the node that runs the instance now (None while no node does)."""


@dataclass(frozen=True)
class Services:
    usecases: UseCases
    queries: ReadQueries
    store: EventStore
    users: UserDirectory
    supervisor: Supervisor
    read_models: ReadModelsView
    webhooks: WebhookDispatcher
    media: MediaFiles
    store_admin: StoreAdmin
    metrics: MetricsSink
    clock: Clock
    jwt_secret: str
    jwt_expiration_s: int
    version: str
    simulator: SimulatorControl | None = None  # only with WHATSAPP_TRANSPORT=simulator
    max_upload_bytes: int = 16 * 1024 * 1024
    max_body_bytes: int = 32 * 1024 * 1024
    trust_proxy: bool = False  # TRUST_PROXY: take the client address from X-Forwarded-For
    cluster: ClusterView | None = None  # None only in tests that build the app by hand
