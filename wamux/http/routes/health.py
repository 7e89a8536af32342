"""Liveness and store identity, without auth (for load balancers and container health checks)."""

from __future__ import annotations

from quart import Blueprint, Response, current_app, jsonify

from wamux.http.services import Services

bp = Blueprint("health", __name__)


@bp.get("/api/health")
async def health() -> Response:
    s: Services = current_app.config["services"]
    return jsonify({"status": "ok", "store": s.store.provider, "version": s.version})
