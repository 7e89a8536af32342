"""The baseline server of the HTTP benchmarks: a bare quart-trio app, served by hypercorn.

    python bench/bare_app.py PORT

Same stack as wamux (Quart on trio under hypercorn, one process, access log off), none of wamux:
`POST /api/whatsapp/<id>/send` parses the JSON body and answers `{"id": "x"}`;
`GET /api/items?n=N` answers a page of N message-like rows built for the request (for `reads.py`,
whose client picks N so the answer is as large as wamux's read answers).
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


@app.get("/api/items")
async def items():  # type: ignore[no-untyped-def]
    n = min(1000, max(0, int(request.args.get("n", "20"))))
    rows = [
        {
            "id": f"row-{k}",
            "remoteJid": f"7900{k:07d}@s.whatsapp.net",
            "fromMe": k % 2 == 0,
            "messageType": "text",
            "content": f"message number {k} of this page",
            "status": "received",
            "metadata": {"timestamp": 1_700_000_000 + k},
            "createdAt": "2026-01-01T12:00:00.000Z",
        }
        for k in range(n)
    ]
    return jsonify({"items": rows, "pagination": {"total": n, "limit": n, "skip": 0, "hasMore": False}})


@app.get("/api/health")
async def health():  # type: ignore[no-untyped-def]
    return jsonify({"status": "ok"})


if __name__ == "__main__":
    config = Config()
    config.bind = [f"127.0.0.1:{int(sys.argv[1])}"]
    config.accesslog = None
    trio.run(serve, app, config)
