"""A real webhook receiver on loopback that records every request and can be told to fail."""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    status: int

    @property
    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


@dataclass
class Behaviour:
    fail_first: int = 0  # answer 500 to the first N requests
    fail_rate: float = 0.0  # then fail this share at random
    status: int = 200
    seen: int = 0
    rng: random.Random = field(default_factory=lambda: random.Random(7))


class Receiver:
    """`Receiver().url + "/path"`; `requests` holds what arrived (also the failed ones)."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.behaviour: dict[str, Behaviour] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes: without this, Nagle's algorithm and delayed ACKs
            # add ~40 ms to every answer on a kept-alive connection (a lane would deliver ~20 a second).
            disable_nagle_algorithm = True

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    b = receiver.behaviour.setdefault(self.path, Behaviour())
                    b.seen += 1
                    if b.seen <= b.fail_first or (b.fail_rate and b.rng.random() < b.fail_rate):
                        status = 500
                    else:
                        status = b.status
                    receiver.requests.append(
                        Received(
                            self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.monotonic(), status
                        )
                    )
                payload = b'{"ok":true}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def on(self, path: str, **behaviour: Any) -> str:
        self.behaviour[path] = Behaviour(**behaviour)
        return self.url + path

    def at(self, path: str, *, ok_only: bool = False) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.path == path and (not ok_only or 200 <= r.status < 300)]

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
