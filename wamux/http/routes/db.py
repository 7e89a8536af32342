"""Database management (admin): where the events live, and the live switch between stores."""

from __future__ import annotations

from quart import Blueprint, Response, current_app, jsonify

from wamux.domain.errors import NotFound
from wamux.http.auth import require_admin
from wamux.http.bodies import json_body, text_field
from wamux.http.services import Services, StoreAdmin

bp = Blueprint("db", __name__)


def admin_store() -> StoreAdmin:
    require_admin()
    s: Services = current_app.config["services"]
    if s.store_admin is None:
        raise NotFound("route not found")
    return s.store_admin


@bp.get("/api/db/status")
async def status() -> Response:
    return jsonify(admin_store().status())


@bp.post("/api/db/switch")
async def switch() -> Response:
    store_admin = admin_store()
    body = await json_body(allowed=("provider", "url"), needs=("provider",))
    provider = text_field(body, "provider", max_len=20)
    url = text_field(body, "url", required=False, max_len=2048)
    assert provider is not None
    return jsonify(await store_admin.switch(provider, url))
