"""The composition root: picks the adapters and builds every part from the settings, complete.

Three steps, nothing at import time:
- `open_storage(settings) -> Storage`: the current backend (log + read models), the queries, the users —
  all a CLI command like `wamux user list` needs;
- `build_core(settings) -> Core`: storage plus the transport, the actors' supervisor, the use cases,
  the webhook dispatcher, the store switch and the metrics;
- `build_web(core)` the HTTP app, and `run_core(core, shutdown)` runs it all in one nursery.
`run_server` is what `wamux serve` calls.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import signal
from dataclasses import dataclass
from pathlib import Path

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve
from quart_trio import QuartTrio

from wamux import __version__
from wamux.adapters.eventlog.recorder_store import RecorderEventStore
from wamux.adapters.eventlog.secret_cipher import SecretCipher, check_key
from wamux.adapters.media.convert import MediaConverter
from wamux.adapters.media.fetch import MediaFetcher, sniff
from wamux.adapters.media.files import FileMediaStore
from wamux.adapters.outbound import OutboundGuard
from wamux.adapters.webhook_http import HttpWebhookPoster
from wamux.core.instance_actor import ActorDeps, ActorSettings
from wamux.core.ports import Backend, BackendHandle, Transport
from wamux.core.projection_runner import ProjectionRunner, ReadModels
from wamux.core.queries import ReadQueries
from wamux.core.reads import ActorReads
from wamux.core.supervisor import RestartPolicy, Supervisor
from wamux.core.usage import LimitGate, UsageMeter
from wamux.core.usecases import (
    ChatActionUseCases,
    ContactUseCases,
    GroupUseCases,
    InstanceUseCases,
    MessagingUseCases,
    PeopleUseCases,
    UsageUseCases,
    UseCases,
    WebhookUseCases,
)
from wamux.core.user_directory import UserDirectory
from wamux.core.webhook_dispatcher import WebhookDispatcher
from wamux.domain.clock import Clock, SystemClock
from wamux.domain.errors import CatchingUp
from wamux.http.app import create_app
from wamux.http.services import Services
from wamux.logs import get_logger
from wamux.projections.contacts import ContactsProjection
from wamux.projections.groups import GroupsProjection
from wamux.projections.identities import IdentitiesProjection
from wamux.projections.instances import InstancesProjection
from wamux.projections.messages import MessagesProjection
from wamux.projections.outbox import OutboxProjection
from wamux.projections.ports import Projection
from wamux.projections.stats import StatsProjection
from wamux.projections.users import UsersProjection
from wamux.run.cluster import LocalNode
from wamux.run.config import Settings, settings_key
from wamux.run.metrics import ServerMetrics
from wamux.run.providers import network_url, open_backend
from wamux.run.store_switch import StoreSwitcher, close_backend, effective_settings

log = get_logger("wamux")
USAGE_FLUSH_S = 5.0
PUBLIC_DIR = Path(__file__).resolve().parents[2] / "public"
# Read models of rare topics that commands read (who owns what): on a big log they catch up first, in seconds.
FIRST_READ_MODELS = ("users", "instances", "identities", "groups")
READ_THREADS = 8  # worker threads for read-model queries, apart from the store's


def all_projections() -> list[Projection]:
    return [
        UsersProjection(),
        InstancesProjection(),
        MessagesProjection(),
        ContactsProjection(),
        GroupsProjection(),
        IdentitiesProjection(),
        StatsProjection(),
        OutboxProjection(),
    ]


def make_transport(settings: Settings) -> Transport:
    if settings.transport == "simulator":
        from wamux.adapters.whatsapp.simulator import SimulatorTransport

        return SimulatorTransport(settings.data_dir, qr_interval_s=settings.simulator_qr_interval_ms / 1000)
    from wamux.adapters.whatsapp.neonize_transport import NeonizeTransport

    # WHATSAPP_SESSIONS=database: every device in the PostgreSQL database of DATABASE_URL (cluster mode needs it).
    database = settings.whatsapp_sessions == "database" and settings.database_provider == "postgres"
    return NeonizeTransport(str(settings.data_dir), device_store=settings.database_url if database else None)


@dataclass(frozen=True)
class Storage:
    """The log, the read models and the users of DATA_DIR: what every command needs, server or CLI."""

    settings: Settings  # with a live switch's persisted choice applied
    clock: Clock
    limiter: trio.CapacityLimiter
    backend: BackendHandle
    store: RecorderEventStore
    read_models: ReadModels
    queries: ReadQueries
    users: UserDirectory


def open_storage(settings: Settings, clock: Clock | None = None) -> Storage:
    """Open the current backend (no task runs yet: `store.run_writer` and `read_models.run` are the caller's)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    s = effective_settings(settings)  # a live switch's choice wins over the env
    clock = clock or SystemClock()
    recorder, rm = open_backend(s, s.database_provider, s.database_url)
    cipher = SecretCipher(settings_key(s))
    check_key(recorder, cipher)  # a wrong WAMUX_SECRET_KEY stops here, with its name, not in a projection
    backend = BackendHandle(
        Backend(
            s.database_provider,
            recorder,
            rm,
            network_url(s.database_provider, s.database_url),
            close=lambda: close_backend(recorder, rm),
        )
    )
    limiter = trio.CapacityLimiter(8)
    store = RecorderEventStore(backend, clock, limiter=limiter, cipher=cipher)
    runners = [ProjectionRunner(p, store, backend, limiter) for p in all_projections()]
    read_models = ReadModels(runners, store, backend, first=FIRST_READ_MODELS)
    return Storage(
        settings=s,
        clock=clock,
        limiter=limiter,
        backend=backend,
        store=store,
        read_models=read_models,
        # Reads queue on worker threads of their own: a flood of reads from one tenant never makes the
        # store writer or the projections wait for a thread (they share `limiter`).
        queries=ReadQueries(read_models, trio.CapacityLimiter(READ_THREADS)),
        users=UserDirectory(store, bcrypt_rounds=s.bcrypt_rounds, clock=clock),
    )


@dataclass(frozen=True)
class Core:
    """Every long-lived part of a running wamux, complete: nothing here is optional."""

    storage: Storage
    transport: Transport
    media: FileMediaStore
    supervisor: Supervisor
    meter: UsageMeter
    usecases: UseCases
    webhooks: WebhookDispatcher
    switcher: StoreSwitcher
    metrics: ServerMetrics

    @property
    def settings(self) -> Settings:
        return self.storage.settings


def build_core(
    settings: Settings,
    *,
    clock: Clock | None = None,
    transport: Transport | None = None,
    actor_settings: ActorSettings | None = None,
    restart_policy: RestartPolicy | None = None,
) -> Core:
    """Build every part from the settings; nothing runs until `run_core`."""
    storage = open_storage(settings, clock)
    s, clock = storage.settings, storage.clock
    transport = transport or make_transport(s)
    media = FileMediaStore(s.media_dir)
    meter = UsageMeter()
    reads = ActorReads(storage.queries)
    supervisor = Supervisor(
        storage.store,
        transport,
        clock,
        media,
        actor_settings=actor_settings
        or ActorSettings(qr_max_attempts=s.qr_max_attempts, backoff_initial_s=s.reconnect_backoff_ms / 1000),
        policy=restart_policy or RestartPolicy(),
        logger=get_logger("wamux.supervisor"),
        max_instances_per_user=s.max_instances_per_user,
        deps=ActorDeps(sent=reads, limits=LimitGate(reads, meter, clock), history=reads, groups=reads),
    )
    guard = OutboundGuard(allow_private=s.allow_private_urls)

    def owner_is_admin(instance_id: str) -> bool:
        """Whether an instance's webhooks may reach private addresses: its owner is an admin (§8)."""
        actor = supervisor.actors.get(instance_id)
        owner = storage.users.get(actor.instance.user_id) if actor is not None else None
        return owner is not None and owner.role == "admin"

    webhooks = WebhookDispatcher(
        storage.store,
        storage.backend,
        storage.read_models.runners["outbox"],
        clock,
        is_live=lambda iid: iid in supervisor.actors and not supervisor.actors[iid].instance.deleted,
        poster=HttpWebhookPoster(guard),
        trusted=owner_is_admin,
        limiter=storage.limiter,
    )
    instances = InstanceUseCases(supervisor, storage.users, guard, lanes=webhooks)
    converter = MediaConverter()
    messaging = MessagingUseCases(
        supervisor,
        storage.queries,
        media,
        MediaFetcher(max_bytes=s.media_max_mb * 1024 * 1024, timeout_s=s.media_timeout_s, guard=guard),
        sniff,
        converter,
    )
    usecases = UseCases(
        instances=instances,
        messaging=messaging,
        chats=ChatActionUseCases(supervisor, storage.queries, messaging, clock),
        contacts=ContactUseCases(supervisor),
        groups=GroupUseCases(supervisor, storage.queries, converter),
        people=PeopleUseCases(supervisor, converter),
        usage=UsageUseCases(supervisor, storage.users, meter, clock),
        webhook_targets=WebhookUseCases(instances, storage.queries, webhooks, storage.store),
    )
    metrics = ServerMetrics(storage.store, supervisor, storage.read_models, token=s.metrics_token)
    metrics.attach_webhooks(webhooks)
    switcher = StoreSwitcher(
        s, storage.store, storage.read_models, open_backend, storage.backend, limiter=storage.limiter
    )
    return Core(storage, transport, media, supervisor, meter, usecases, webhooks, switcher, metrics)


def build_web(core: Core) -> QuartTrio:
    """The HTTP application over a built core."""
    from wamux.adapters.whatsapp.simulator import SimulatorTransport

    s, st = core.settings, core.storage
    services = Services(
        usecases=core.usecases,
        queries=st.queries,
        store=st.store,
        users=st.users,
        supervisor=core.supervisor,
        read_models=st.read_models,
        webhooks=core.webhooks,
        media=core.media,
        store_admin=core.switcher,
        metrics=core.metrics,
        clock=st.clock,
        jwt_secret=s.jwt_secret,
        jwt_expiration_s=s.jwt_expiration_s,
        version=__version__,
        simulator=core.transport if isinstance(core.transport, SimulatorTransport) else None,
        max_upload_bytes=s.max_upload_mb * 1024 * 1024,
        max_body_bytes=s.max_body_mb * 1024 * 1024,
        trust_proxy=s.trust_proxy,
        cluster=LocalNode(s, core.supervisor, st.clock),
    )
    return create_app(services, log=get_logger("wamux.http"), public_dir=PUBLIC_DIR)


async def run_core(
    core: Core,
    shutdown: trio.Event,
    *,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the whole server until `shutdown` is set; reports the bound addresses once serving."""
    s, st = core.settings, core.storage
    async with trio.open_nursery() as nursery:
        await nursery.start(st.store.run_writer)
        serving = trio.Event()
        # First, as the users and instances it catches up on a big log are scanned for meanwhile; the big
        # read models catch up once the server serves (reads of them wait a bound, or answer 503 catching_up).
        await nursery.start(functools.partial(st.read_models.run, begin=serving.wait))
        await st.users.load()
        generated = await st.users.ensure_admin(s.admin_email, s.admin_password, s.admin_first_name, s.admin_last_name)
        if generated:
            log.warning(
                "created the first admin with a generated password; change it after logging in",
                email=s.admin_email,
                password=generated,
            )
        ignored = await st.users.seed_ignored(s.admin_email, s.admin_password)
        if ignored:
            log.warning(ignored)
        await nursery.start(core.supervisor.run)
        await nursery.start(functools.partial(core.webhooks.run, opening=functools.partial(_outbox_caught_up, core)))
        app = build_web(core)
        config = HypercornConfig()
        config.bind = [f"{s.host}:{s.port}"]
        config.accesslog = None
        config.errorlog = logging.getLogger("hypercorn.error")  # through our handler, not its own
        config.graceful_timeout = 5
        binds: list[str] = await nursery.start(
            lambda task_status: serve(app, config, shutdown_trigger=shutdown.wait, task_status=task_status)
        )
        log.info("wamux is serving", binds=",".join(binds), store=st.store.provider, transport=core.transport.name)
        serving.set()
        nursery.start_soon(_flush_usage_forever, core)
        task_status.started(binds)
        await shutdown.wait()
        await trio.sleep(0.1)
        await _flush_usage(core)
        with contextlib.suppress(CatchingUp):  # one still catching up goes on from its position at the next start
            await st.read_models.synced(timeout=5)  # leave read models at the log's head
        await core.supervisor.stop_all()
        nursery.cancel_scope.cancel()
    st.backend.close()
    log.info("wamux stopped")


async def _outbox_caught_up(core: Core) -> None:
    """Webhooks are dispatched once the outbox caught up with the log. Before, the rows it re-creates from
    old events are pending until their `webhook_delivered` is applied: dispatching them would deliver twice."""
    if core.storage.read_models.catching_up("outbox"):
        await core.storage.read_models.caught_up("outbox")
        log.info("the outbox caught up with the log; webhooks are being delivered")


async def _flush_usage(core: Core) -> None:
    try:
        await core.usecases.usage.flush()
    except Exception as exc:  # a failed flush must not stop the server; the next one retries
        log.error("usage flush failed", error=repr(exc))


async def _flush_usage_forever(core: Core) -> None:
    while True:
        await trio.sleep(USAGE_FLUSH_S)
        await _flush_usage(core)


async def run_server(settings: Settings) -> None:
    """`wamux serve`: build (a configuration error comes out as itself, not in a group), run until a signal."""
    core = build_core(settings)
    shutdown = trio.Event()
    async with trio.open_nursery() as nursery:

        async def on_signals() -> None:
            with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for _ in signals:
                    log.info("shutting down")
                    shutdown.set()
                    return

        nursery.start_soon(on_signals)
        await run_core(core, shutdown)
        nursery.cancel_scope.cancel()
