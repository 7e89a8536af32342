"""The composition root: builds every concrete part from the settings and runs them in one nursery.

Nothing here runs at import time. `run_server` is what `wamux serve` calls; tests call
`Server.start` inside their own nursery to get a live server on a free port.
"""

from __future__ import annotations

import logging
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve

from wamux import __version__
from wamux.adapters.eventlog.recorder_store import RecorderEventStore
from wamux.adapters.eventlog.secret_cipher import SecretCipher, check_key
from wamux.adapters.eventlog.timeline import TimelineRecorder
from wamux.adapters.media.fetch import MediaFetcher, sniff
from wamux.adapters.media.files import FileMediaStore
from wamux.adapters.outbound import OutboundGuard
from wamux.adapters.webhook_http import HttpWebhookPoster
from wamux.core.instance_actor import ActorSettings
from wamux.core.ports import Transport
from wamux.core.projection_runner import ProjectionRunner, ReadModels
from wamux.core.supervisor import RestartPolicy, Supervisor
from wamux.core.user_directory import UserDirectory
from wamux.core.webhook_dispatcher import WebhookDispatcher
from wamux.domain.clock import Clock, SystemClock
from wamux.http.app import create_app
from wamux.http.outbound import owner_trusted
from wamux.http.services import Services
from wamux.logs import get_logger
from wamux.projections.contacts import ContactsProjection
from wamux.projections.instances import InstancesProjection
from wamux.projections.messages import MessagesProjection
from wamux.projections.outbox import OutboxProjection
from wamux.projections.ports import Projection, ReadModelStore
from wamux.projections.stats import StatsProjection
from wamux.projections.users import UsersProjection
from wamux.run.config import Settings, settings_key
from wamux.run.metrics import ServerMetrics
from wamux.run.store_switch import StoreSwitcher, effective_settings

log = get_logger("wamux")
USAGE_FLUSH_S = 5.0
PUBLIC_DIR = Path(__file__).resolve().parents[2] / "public"


def all_projections() -> list[Projection]:
    return [
        UsersProjection(),
        InstancesProjection(),
        MessagesProjection(),
        ContactsProjection(),
        StatsProjection(),
        OutboxProjection(),
    ]


def open_backend(settings: Settings, provider: str, url: str | None) -> tuple[TimelineRecorder, ReadModelStore]:
    """Open the event log and the read-model store of one provider."""
    if provider == "mongodb":
        from wamux.adapters.eventlog.mongo import open_mongo_recorder
        from wamux.adapters.readmodels.mongo import MongoReadModelStore

        assert url, "DATABASE_URL is required for mongodb"
        return open_mongo_recorder(url), MongoReadModelStore(url)
    from wamux.adapters.eventlog.sqlite import open_sqlite_recorder
    from wamux.adapters.readmodels.sqlite import SQLiteReadModelStore

    settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    return open_sqlite_recorder(str(settings.sqlite_path)), SQLiteReadModelStore(str(settings.readmodels_path))


def make_transport(settings: Settings) -> Transport:
    if settings.transport == "simulator":
        from wamux.adapters.whatsapp.simulator import SimulatorTransport

        return SimulatorTransport(settings.data_dir, qr_interval_s=settings.simulator_qr_interval_ms / 1000)
    from wamux.adapters.whatsapp.neonize_transport import NeonizeTransport

    return NeonizeTransport(str(settings.data_dir))


@dataclass
class Server:
    """Every long-lived part of a running wamux."""

    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    actor_settings: ActorSettings | None = None
    restart_policy: RestartPolicy = field(default_factory=RestartPolicy)
    transport: Transport | None = None
    store: RecorderEventStore | None = None
    read_models: ReadModels | None = None
    users: UserDirectory | None = None
    supervisor: Supervisor | None = None
    services: Services | None = None
    binds: list[str] = field(default_factory=list)
    shutdown: trio.Event = field(default_factory=trio.Event)
    generated_admin_password: str | None = None
    media: FileMediaStore | None = None
    webhooks: WebhookDispatcher | None = None
    switcher: StoreSwitcher | None = None
    limiter: trio.CapacityLimiter | None = None
    metrics: ServerMetrics | None = None

    def build_core(self) -> None:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        s = self.settings = effective_settings(self.settings)  # a live switch's choice wins over the env
        provider, url = s.database_provider, s.database_url
        recorder, rm = open_backend(s, provider, url)
        cipher = SecretCipher(settings_key(s))
        check_key(recorder, cipher)  # a wrong WAMUX_SECRET_KEY stops here, with its name, not in a projection
        limiter = self.limiter = trio.CapacityLimiter(8)
        self.store = RecorderEventStore(recorder, self.clock, provider=provider, limiter=limiter, cipher=cipher)
        runners = [ProjectionRunner(p, self.store, rm, limiter) for p in all_projections()]
        self.read_models = ReadModels(runners, self.store, rm)
        self.users = UserDirectory(self.store, bcrypt_rounds=s.bcrypt_rounds, clock=self.clock)
        self.transport = self.transport or make_transport(s)
        self.actor_settings = self.actor_settings or ActorSettings(
            qr_max_attempts=s.qr_max_attempts, backoff_initial_s=s.reconnect_backoff_ms / 1000
        )
        self.media = FileMediaStore(s.media_dir)
        self.supervisor = Supervisor(
            self.store,
            self.transport,
            self.clock,
            self.media,
            actor_settings=self.actor_settings,
            policy=self.restart_policy,
            logger=get_logger("wamux.supervisor"),
            max_instances_per_user=s.max_instances_per_user,
        )

    async def start(self, *, task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED) -> None:
        """Run the whole server until `shutdown` is set (building its core first, unless done already)."""
        if self.store is None:
            self.build_core()
        assert self.store and self.read_models and self.users and self.supervisor and self.transport
        s = self.settings
        limiter = self.limiter
        self.metrics = ServerMetrics(self.store, self.supervisor, self.read_models, token=s.metrics_token)
        async with trio.open_nursery() as nursery:
            await nursery.start(self.store.run_writer)
            await self.users.load()
            self.generated_admin_password = await self.users.ensure_admin(
                s.admin_email, s.admin_password, s.admin_first_name, s.admin_last_name
            )
            if self.generated_admin_password:
                log.warning(
                    "created the first admin with a generated password; change it after logging in",
                    email=s.admin_email,
                    password=self.generated_admin_password,
                )
            await nursery.start(self.read_models.run)
            await nursery.start(self.supervisor.run)
            supervisor = self.supervisor
            guard = OutboundGuard(allow_private=s.allow_private_urls)
            self.webhooks = WebhookDispatcher(
                self.store,
                self.read_models.rm,
                self.read_models.runners["outbox"],
                self.clock,
                is_live=lambda iid: iid in supervisor.actors and not supervisor.actors[iid].instance.deleted,
                poster=HttpWebhookPoster(guard),
                trusted=self._owner_is_admin,
                limiter=limiter,
            )
            self.metrics.attach_webhooks(self.webhooks)
            await nursery.start(self.webhooks.run)
            webhooks = self.webhooks

            def on_swap(rm: ReadModelStore) -> None:
                webhooks.rm = rm

            self.switcher = StoreSwitcher(
                s, self.store, self.read_models, open_backend, on_swap=on_swap, limiter=limiter
            )
            simulator = self.transport if self.transport.name == "simulator" else None
            self.services = Services(
                store=self.store,
                users=self.users,
                supervisor=self.supervisor,
                read_models=self.read_models,
                clock=self.clock,
                jwt_secret=s.jwt_secret,
                jwt_expiration_s=s.jwt_expiration_s,
                version=__version__,
                simulator=simulator,  # type: ignore[arg-type]
                max_body_bytes=s.max_body_mb * 1024 * 1024,
                trust_proxy=s.trust_proxy,
                media=self.media,
                media_fetcher=MediaFetcher(
                    max_bytes=s.media_max_mb * 1024 * 1024, timeout_s=s.media_timeout_s, guard=guard
                ),
                outbound=guard,
                sniff=sniff,
                max_upload_bytes=s.max_upload_mb * 1024 * 1024,
                webhooks=self.webhooks,
                store_admin=self.switcher,
            )
            self.services.extras["metrics"] = self.metrics
            app = create_app(self.services, log=get_logger("wamux.http"), public_dir=PUBLIC_DIR)
            config = HypercornConfig()
            config.bind = [f"{s.host}:{s.port}"]
            config.accesslog = None
            config.errorlog = logging.getLogger("hypercorn.error")  # through our handler, not its own
            config.graceful_timeout = 5
            self.binds = await nursery.start(
                lambda task_status: serve(app, config, shutdown_trigger=self.shutdown.wait, task_status=task_status)
            )
            log.info(
                "wamux is serving", binds=",".join(self.binds), store=self.store.provider, transport=self.transport.name
            )
            nursery.start_soon(self._flush_usage_forever)
            task_status.started(self.binds)
            await self.shutdown.wait()
            await trio.sleep(0.1)
            await self._flush_usage()
            await self.read_models.synced(timeout=5)  # leave read models at the log's head
            await self.supervisor.stop_all()
            nursery.cancel_scope.cancel()
        log.info("wamux stopped")

    def _owner_is_admin(self, instance_id: str) -> bool:
        """Whether an instance's webhooks may reach private addresses: its owner is an admin (§8)."""
        actor = self.supervisor.actors.get(instance_id) if self.supervisor else None
        return actor is not None and self.users is not None and owner_trusted(self.users, actor.instance.user_id)

    async def _flush_usage(self) -> None:
        if self.services is not None and self.services.meter is not None:
            try:
                await self.services.meter.flush()
            except Exception as exc:  # a failed flush must not stop the server; the next one retries
                log.error("usage flush failed", error=repr(exc))

    async def _flush_usage_forever(self) -> None:
        while True:
            await trio.sleep(USAGE_FLUSH_S)
            await self._flush_usage()

    @property
    def base_url(self) -> str:
        bind = self.binds[0] if self.binds else f"http://{self.settings.host}:{self.settings.port}"
        return bind.replace("0.0.0.0", "127.0.0.1")


async def run_server(settings: Settings, **kwargs: Any) -> None:
    server = Server(settings, **kwargs)
    server.build_core()  # outside the nursery: a configuration error comes out as itself, not in a group
    async with trio.open_nursery() as nursery:

        async def on_signals() -> None:
            with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for _ in signals:
                    log.info("shutting down")
                    server.shutdown.set()
                    return

        nursery.start_soon(on_signals)
        await server.start()
        nursery.cancel_scope.cancel()
