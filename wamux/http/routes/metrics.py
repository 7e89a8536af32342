"""`GET /metrics` (Prometheus text format) and the request timing every route reports to it.

`/metrics` lives outside `/api`, so the app's auth gate does not run for it: the route checks
itself. An admin (Bearer JWT or `x-api-key`) may read it, and so may a scraper presenting
`METRICS_TOKEN` as `Authorization: Bearer <token>` or `?token=<token>` when that setting is set.
Requests are counted by their route template (`/api/instances/<instance_id>`), never by the raw
path, so ids do not blow up the number of series.
"""

from __future__ import annotations

import secrets
import time

from quart import Blueprint, Response, current_app, g, request

from wamux.domain.errors import Forbidden, NotFound
from wamux.http.auth import authenticate
from wamux.http.services import MetricsSink, Services

bp = Blueprint("metrics", __name__)

UNMATCHED_ROUTE = "<unmatched>"


def _services() -> Services:
    services: Services = current_app.config["services"]
    return services


def _sink() -> MetricsSink | None:
    sink: MetricsSink | None = _services().metrics
    return sink


@bp.before_app_request
async def start_timer() -> None:
    g.metrics_started = time.perf_counter()


@bp.after_app_request
async def count_request(response: Response) -> Response:
    sink = _sink()
    started: float | None = g.get("metrics_started")
    if sink is not None and started is not None:
        rule = request.url_rule
        route = rule.rule if rule is not None else UNMATCHED_ROUTE
        sink.observe_request(route, request.method, response.status_code, time.perf_counter() - started)
    return response


def _presents_token(token: str) -> bool:
    header = request.headers.get("Authorization", "")
    offered = header[7:].strip() if header.lower().startswith("bearer ") else request.args.get("token", "")
    return bool(offered) and secrets.compare_digest(offered.encode(), token.encode())


@bp.get("/metrics")
async def metrics() -> Response:
    sink = _sink()
    if sink is None:
        raise NotFound("metrics are not enabled on this server")
    if not (sink.token and _presents_token(sink.token)):
        user = authenticate(_services())
        if user.role != "admin":
            raise Forbidden("admin role or METRICS_TOKEN required")
    return Response(sink.render(), status=200, content_type=sink.content_type)
