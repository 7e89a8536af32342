"""The Quart-trio application: blueprints, auth gate, request ids, error mapping, static manager."""

from __future__ import annotations

import logging
import secrets
import time
from pathlib import Path
from typing import Any

from quart import Response, g, request
from quart_trio import QuartTrio
from werkzeug.routing import BaseConverter

from wamux.http.auth import PUBLIC_ROUTES, authenticate
from wamux.http.bodies import body_limit_of, check_request_text
from wamux.http.errors import ApiError, install_error_handlers
from wamux.http.json_provider import OrjsonProvider
from wamux.http.request_body import GatedHTTPConnection, GatedRequest, limit_request_body
from wamux.http.routes import (
    activity,
    auth,
    cluster,
    contacts,
    db,
    docs,
    events,
    groups,
    health,
    instances,
    message_actions,
    messages,
    meta,
    metrics,
    people,
    simulator,
    stats,
    webhook_targets,
    webhooks,
)
from wamux.http.services import Services
from wamux.logs import request_id_var

BLUEPRINTS = [
    metrics.bp,  # first: its request timer must start before the auth gate
    health.bp,
    meta.bp,
    auth.bp,
    instances.bp,
    messages.bp,
    message_actions.bp,
    groups.bp,
    people.bp,
    events.bp,
    activity.bp,
    contacts.bp,
    stats.bp,
    webhooks.bp,
    webhook_targets.bp,
    db.bp,
    cluster.bp,
    simulator.bp,
    docs.bp,
]
access_log = logging.getLogger("wamux.access")
# Sends check every limit in the actor's turn; an instance's own GET/PUT/DELETE stay open over its
# limits, so its owner can see, lift or delete them. Every other instance route counts against maxApiCalls.
SEND_ENDPOINTS = {
    "messages.send_text",
    "messages.send_media",
    "messages.send_file",
    "message_actions.send_location",
    "message_actions.send_contact",
    "message_actions.send_poll",
    "message_actions.forward",
}
LIMIT_FREE_ENDPOINTS = frozenset({"instances.get_instance", "instances.update_instance", "instances.delete_instance"})


class GroupIdConverter(BaseConverter):
    """A path segment naming a group: anything but the word `join` (validated by the route)."""

    regex = r"(?!join$)[^/]+"


def unrouted() -> bool:
    """No API route takes this request: the path is unknown, or known with other methods.

    The static-file catch-all matches every GET: on an API path it is no route either.
    """
    rule = request.url_rule
    return request.routing_exception is not None or (rule is not None and rule.endpoint == "static")


def create_app(services: Services, *, log: Any, public_dir: Path | None = None) -> QuartTrio:
    app = QuartTrio(
        "wamux",
        static_folder=str(public_dir) if public_dir and public_dir.is_dir() else None,
        static_url_path="",
    )
    app.config["services"] = services
    app.url_map.converters["group"] = GroupIdConverter  # `/groups/join` is a route of its own, not a group id
    usage = services.usecases.usage
    app.config["MAX_CONTENT_LENGTH"] = services.max_body_bytes
    app.request_class = GatedRequest
    app.asgi_http_class = GatedHTTPConnection
    app.config["JSON_SORT_KEYS"] = False
    app.json = OrjsonProvider(app)  # keys in the order given, UTF-8: the stock provider's answers, on orjson
    for bp in BLUEPRINTS:
        app.register_blueprint(bp)
    install_error_handlers(app, log)

    @app.before_request
    async def gate() -> None:
        g.request_id = request.headers.get("X-Request-Id", "")[:64] or secrets.token_hex(8)
        g.started = time.perf_counter()
        request_id_var.set(g.request_id)
        # Nothing of the body is read here: a route pulls it (after authentication) within its limit,
        # and an answer over an unread body closes the connection (see request_body.py).
        path = request.path
        if path.startswith("/api/") and unrouted():
            return  # routing answers first (404, or 405 naming the methods): before authentication, no body read
        public = not path.startswith("/api/") or (request.method, path.rstrip("/")) in PUBLIC_ROUTES
        if not public and request.method != "OPTIONS":
            g.user = authenticate(services)
        limit = body_limit_of(app.view_functions.get(request.endpoint or ""), services)
        if (request.content_length or 0) > limit:
            raise ApiError(413, "payload_too_large", f"request body is larger than {limit // 1024} KB")
        limit_request_body(limit)
        check_request_text()
        if public or request.method == "OPTIONS":
            return
        instance_id = (request.view_args or {}).get("instance_id")
        endpoint = request.endpoint
        if instance_id and endpoint not in SEND_ENDPOINTS and endpoint not in LIMIT_FREE_ENDPOINTS:
            await usage.check_calls(g.user, instance_id)

    @app.after_request
    async def stamp(response: Response) -> Response:
        user = getattr(g, "user", None)
        if user is not None and response.status_code not in (401, 404, 429):
            usage.count((request.view_args or {}).get("instance_id"), user)
        response.headers["X-Request-Id"] = getattr(g, "request_id", "")
        if request.path.startswith("/api/"):
            # One access line per API request; the route template, never the raw path with ids
            # or a ?token= query string.
            access_log.info(
                "request",
                extra={
                    "fields": {
                        "method": request.method,
                        "route": request.url_rule.rule if request.url_rule else "(unrouted)",
                        "status": response.status_code,
                        "ms": round((time.perf_counter() - getattr(g, "started", time.perf_counter())) * 1000, 1),
                        "request_id": getattr(g, "request_id", None),
                        "instance_id": (request.view_args or {}).get("instance_id"),
                        "user_id": getattr(getattr(g, "user", None), "id", None),
                    }
                },
            )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    if public_dir and (public_dir / "index.html").is_file():

        @app.get("/")
        async def index() -> Response:
            return await app.send_static_file("index.html")

    return app
