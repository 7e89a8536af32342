"""The baseline server for `send.py`: a bare quart-trio app with one POST route, served by hypercorn.

    python bench/bare_app.py PORT

Same stack as wamux (Quart on trio under hypercorn, one process, access log off), none of wamux:
it parses the JSON body and answers `{"id": "x"}`.
"""

from __future__ import annotations

import sys

import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from quart import jsonify, request
from quart_trio import QuartTrio

app = QuartTrio(__name__)


@app.post("/api/whatsapp/<instance_id>/send")
async def send(instance_id: str):  # type: ignore[no-untyped-def]
    body = await request.get_json()
    assert isinstance(body, dict)
    return jsonify({"id": "x"})


@app.get("/api/health")
async def health():  # type: ignore[no-untyped-def]
    return jsonify({"status": "ok"})


if __name__ == "__main__":
    config = Config()
    config.bind = [f"127.0.0.1:{int(sys.argv[1])}"]
    config.accesslog = None
    trio.run(serve, app, config)
