"""The cluster (admin): the nodes that serve this database (API-2.md §10)."""

from __future__ import annotations

from quart import Blueprint, Response, current_app, jsonify

from wamux.domain.errors import NotFound
from wamux.http.auth import require_admin
from wamux.http.services import ClusterView, Services

bp = Blueprint("cluster", __name__)


def cluster_view() -> ClusterView:
    s: Services = current_app.config["services"]
    if s.cluster is None:
        raise NotFound("route not found")
    return s.cluster


@bp.get("/api/cluster/nodes")
async def nodes() -> Response:
    require_admin()
    return jsonify({"nodes": cluster_view().nodes()})
