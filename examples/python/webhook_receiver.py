#!/usr/bin/env python3
"""A wamux webhook receiver with the standard library only: checks signatures, drops duplicates.

    WEBHOOK_SECRET=s3cret python webhook_receiver.py --port 8080

Set the same secret as the instance's `webhookSecret`. Each delivery is checked:
`X-Webhook-Signature` must be the lowercase hex HMAC-SHA256 of the raw body keyed by the secret,
compared in constant time (401 otherwise). wamux delivers at least once — a retry after a lost
answer repeats the same `X-Webhook-Id` — so ids already seen are answered 200 and not processed
again. Answer quickly with a 2xx; anything else makes wamux retry (`maxRetries`, `retryInterval`).
Each accepted event is printed as one JSON line.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import sys
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Lock

MAX_REMEMBERED = 10_000


class SeenIds:
    """The most recent delivery ids (bounded memory); a real service would keep them in its database."""

    def __init__(self) -> None:
        self.ids: OrderedDict[str, None] = OrderedDict()
        self.lock = Lock()

    def first_time(self, delivery_id: str) -> bool:
        with self.lock:
            if delivery_id in self.ids:
                return False
            self.ids[delivery_id] = None
            if len(self.ids) > MAX_REMEMBERED:
                self.ids.popitem(last=False)
            return True


def valid_signature(secret: str, body: bytes, signature: str | None) -> bool:
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return signature is not None and hmac.compare_digest(expected, signature.strip().lower())


def make_handler(secret: str | None, seen: SeenIds) -> type[BaseHTTPRequestHandler]:
    class WebhookHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def answer(self, status: int, payload: dict[str, object]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if secret and not valid_signature(secret, body, self.headers.get("X-Webhook-Signature")):
                self.answer(401, {"error": "bad signature"})
                return
            delivery_id = self.headers.get("X-Webhook-Id") or ""
            # The id is the event's: every target of an instance gets the same one, so a receiver that
            # serves several targets drops duplicates per target.
            target = self.headers.get("X-Webhook-Target") or "default"
            if delivery_id and not seen.first_time(f"{target}:{delivery_id}"):
                self.answer(200, {"duplicate": True})
                return
            try:
                event = json.loads(body)
            except ValueError:
                self.answer(400, {"error": "body is not JSON"})
                return
            line = {
                "id": delivery_id,
                "event": self.headers.get("X-Webhook-Event"),
                "target": target,
                "attempt": self.headers.get("X-Webhook-Attempt"),
                "data": event.get("data"),
            }
            print(json.dumps(line, ensure_ascii=False), flush=True)
            self.answer(200, {"ok": True})

        def log_message(self, format: str, *args: object) -> None:  # quiet: the JSON lines are the output
            pass

    return WebhookHandler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument("--secret", default=os.environ.get("WEBHOOK_SECRET"))
    args = parser.parse_args()
    if not args.secret:
        print("warning: no WEBHOOK_SECRET: signatures are not checked", file=sys.stderr)
    server = ThreadingHTTPServer((args.host, args.port), make_handler(args.secret, SeenIds()))
    server.daemon_threads = True
    host, port = server.server_address[:2]
    print(f"listening on http://{host}:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
