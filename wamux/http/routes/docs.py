"""The API's own description: `GET /api/openapi.json` (from docs/openapi.yaml) and `GET /docs` (Swagger UI)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from quart import Blueprint, Response, jsonify

from wamux.domain.errors import NotFound

bp = Blueprint("docs", __name__)

# The one hand-written source of truth; it lives with the user docs, beside the package.
DOCS_DIR = Path(__file__).resolve().parents[3] / "docs"
SPEC_PATH = DOCS_DIR / "openapi.yaml"
GUIDE_NAME = re.compile(r"[a-z0-9-]+\.md")  # a file of the docs folder itself: no path, no other kind
_cache: dict[str, Any] = {}

# Swagger UI is vendored under public/vendor/swagger-ui (served as static files): no CDN, no inline script.
DOCS_HTML = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>wamux API reference</title>
  <link rel="icon" href="/favicon.svg">
  <link rel="stylesheet" href="/vendor/swagger-ui/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/vendor/swagger-ui/swagger-ui-bundle.js"></script>
  <script src="/vendor/swagger-ui/wamux-init.js"></script>
</body>
</html>
"""
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


def load_spec(path: Path = SPEC_PATH) -> dict[str, Any]:
    """The parsed spec, read again only when the file changed."""
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        raise NotFound("the OpenAPI description is not installed with this server") from None
    if _cache.get("mtime") != mtime:
        with path.open(encoding="utf-8") as f:
            _cache.update(mtime=mtime, spec=yaml.safe_load(f))
    spec: dict[str, Any] = _cache["spec"]
    return spec


@bp.get("/api/openapi.json")
async def openapi() -> Response:
    response = jsonify(load_spec())
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/docs")
async def reference() -> Response:
    return Response(DOCS_HTML, mimetype="text/html", headers={"Content-Security-Policy": DOCS_CSP})


@bp.get("/docs/guide/<name>")
async def guide(name: str) -> Response:
    """A guide the reference links to (`api.md`, `webhooks.md`, ...), as Markdown; any other name is 404."""
    path = DOCS_DIR / name
    if not GUIDE_NAME.fullmatch(name) or not path.is_file():
        raise NotFound("no such guide")
    return Response(path.read_text(encoding="utf-8"), mimetype="text/markdown", headers={"Cache-Control": "no-cache"})
