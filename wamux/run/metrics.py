"""Prometheus metrics of one running server, in a registry of its own.

Nothing here sits on a hot path. Counts the parts already keep (events committed by type,
webhook results, instance statuses, projection positions) are read by `ServerStateCollector`
only when `/metrics` is scraped; the few histograms are observed through hooks the parts
call once per commit, per delivery and per HTTP request. Each `Server` has its own
`CollectorRegistry`, so several servers can run in one process (tests do).
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from wamux.adapters.eventlog.recorder_store import RecorderEventStore
from wamux.core.projection_runner import ReadModels
from wamux.core.supervisor import Supervisor
from wamux.core.webhook_dispatcher import WebhookDispatcher
from wamux.domain.catalog import INSTANCE_STATUSES
from wamux.domain.events import MessageFailed, MessageReceived, MessageSent

STORE_APPEND_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
STORE_BATCH_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500)
WEBHOOK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServerStateCollector(Collector):
    """Reads, at scrape time, what the store, supervisor, projections and webhook sender count."""

    def __init__(self, store: RecorderEventStore, supervisor: Supervisor, read_models: ReadModels) -> None:
        self.store = store
        self.supervisor = supervisor
        self.read_models = read_models
        self.webhooks: WebhookDispatcher | None = None

    def collect(self) -> Iterable[Metric]:
        yield self._instances()
        yield from self._events()
        yield from self._projections()
        if self.webhooks is not None:
            yield from self._webhooks(self.webhooks)

    def _instances(self) -> Metric:
        # Every status is exported (0 when empty) so dashboards see gaps as zeros.
        counts = dict.fromkeys(INSTANCE_STATUSES, 0)
        for actor in list(self.supervisor.actors.values()):
            if not actor.instance.deleted:
                counts[actor.status] = counts.get(actor.status, 0) + 1
        gauge = GaugeMetricFamily("wamux_instances", "Live instances by connection status.", labels=["status"])
        for status, count in counts.items():
            gauge.add_metric([status], count)
        return gauge

    def _events(self) -> Iterable[Metric]:
        by_type = dict(self.store.appended_by_type)
        messages = CounterMetricFamily(
            "wamux_messages", "Messages sent and received (committed events since start).", labels=["direction"]
        )
        messages.add_metric(["sent"], by_type.get(MessageSent.type, 0))
        messages.add_metric(["received"], by_type.get(MessageReceived.type, 0))
        yield messages
        yield CounterMetricFamily(
            "wamux_message_sends_failed",
            "Sends the transport refused (committed events since start).",
            value=by_type.get(MessageFailed.type, 0),
        )
        events = CounterMetricFamily(
            "wamux_events_appended", "Events committed to the store since start, by type.", labels=["type"]
        )
        for event_type, count in sorted(by_type.items()):
            events.add_metric([event_type], count)
        yield events
        yield GaugeMetricFamily(
            "wamux_event_store_head_position", "Global position of the last committed event.", value=self.store.head()
        )

    def _projections(self) -> Iterable[Metric]:
        lag = GaugeMetricFamily(
            "wamux_projection_lag_events", "Events a projection still has to apply.", labels=["projection"]
        )
        for name, behind in self.read_models.lag().items():
            lag.add_metric([name], behind)
        yield lag
        position = GaugeMetricFamily(
            "wamux_projection_position", "Last position a projection applied.", labels=["projection"]
        )
        for name, runner in self.read_models.runners.items():
            position.add_metric([name], runner.position)
        yield position
        catching_up = GaugeMetricFamily(
            "wamux_projection_catching_up",
            "1 while a projection that started far behind the log has not reached the head it saw then.",
            labels=["projection"],
        )
        for name in self.read_models.runners:
            catching_up.add_metric([name], 1 if self.read_models.catching_up(name) else 0)
        yield catching_up
        stalled = GaugeMetricFamily(
            "wamux_projection_stalled",
            "1 while a projection's last batch failed (it stays at its position and retries with a back-off).",
            labels=["projection"],
        )
        failures = CounterMetricFamily(
            "wamux_projection_failures", "Projection batches that failed since start.", labels=["projection"]
        )
        for name, runner in self.read_models.runners.items():
            stalled.add_metric([name], 1 if runner.error is not None else 0)
            failures.add_metric([name], runner.failures)
        yield stalled
        yield failures

    @staticmethod
    def _webhooks(webhooks: WebhookDispatcher) -> Iterable[Metric]:
        results = CounterMetricFamily(
            "wamux_webhook_deliveries", "Webhook deliveries finished since start, by result.", labels=["result"]
        )
        results.add_metric(["delivered"], webhooks.delivered)
        results.add_metric(["failed"], webhooks.failed)
        yield results
        yield CounterMetricFamily(
            "wamux_webhook_retries", "Webhook attempts that failed and were tried again.", value=webhooks.retried
        )
        yield CounterMetricFamily(
            "wamux_webhook_sender_errors",
            "Unexpected errors in the webhook dispatcher or its lanes (logged, retried after a back-off).",
            value=webhooks.errors,
        )


class ServerMetrics:
    """The registry of one server, its histograms and counters, and the hooks that feed them."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(
        self,
        store: RecorderEventStore,
        supervisor: Supervisor,
        read_models: ReadModels,
        *,
        token: str | None = None,
    ) -> None:
        self.token = token
        self.registry = CollectorRegistry()
        self.state = ServerStateCollector(store, supervisor, read_models)
        self.registry.register(self.state)
        self.store_append_seconds = Histogram(
            "wamux_event_store_append_duration_seconds",
            "Time to commit one batch of events to the store.",
            buckets=STORE_APPEND_BUCKETS,
            registry=self.registry,
        )
        self.store_batch_events = Histogram(
            "wamux_event_store_batch_events",
            "Events committed together in one store transaction (group commit).",
            buckets=STORE_BATCH_BUCKETS,
            registry=self.registry,
        )
        self.webhook_seconds = Histogram(
            "wamux_webhook_delivery_duration_seconds",
            "Time of the successful webhook POST (last attempt).",
            buckets=WEBHOOK_BUCKETS,
            registry=self.registry,
        )
        self.http_requests = Counter(
            "wamux_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.http_seconds = Histogram(
            "wamux_http_request_duration_seconds",
            "Time to produce the response (headers), by route template and method.",
            ["route", "method"],
            buckets=HTTP_BUCKETS,
            registry=self.registry,
        )
        store.observe_commit = self.observe_commit

    def attach_webhooks(self, webhooks: WebhookDispatcher) -> None:
        """Start reading the dispatcher's counts and timing its deliveries."""
        self.state.webhooks = webhooks
        webhooks.observe_latency = self.webhook_seconds.observe

    def observe_commit(self, events: int, seconds: float) -> None:
        """The store committed one batch of `events` in `seconds`."""
        self.store_batch_events.observe(events)
        self.store_append_seconds.observe(seconds)

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """One HTTP answer, by route template (never the raw path)."""
        self.http_requests.labels(route, method, str(status)).inc()
        self.http_seconds.labels(route, method).observe(seconds)

    def render(self) -> bytes:
        """The registry in Prometheus text format."""
        return generate_latest(self.registry)
