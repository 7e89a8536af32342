"""Liveness, store identity and each read model's lag, without auth (for load balancers and container health checks)."""

from __future__ import annotations

from quart import Blueprint, Response, current_app, jsonify

from wamux.http.services import Services

bp = Blueprint("health", __name__)


@bp.get("/api/health")
async def health() -> Response:
    s: Services = current_app.config["services"]
    read_models = s.read_models.states()
    catching_up = any(state["catchingUp"] for state in read_models.values())
    return jsonify(
        {
            "status": "catching_up" if catching_up else "ok",  # still 200: the process serves
            "store": s.store.provider,
            "version": s.version,
            "readModels": read_models,
        }
    )
