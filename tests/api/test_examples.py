"""The client and webhook-receiver examples in examples/, run as a user would run them, against a real server."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.harness import ADMIN_EMAIL, ADMIN_PASSWORD, ServerProcess

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
NODE = shutil.which("node")
SECRET = "example-secret"
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed")


class Lines:
    """A subprocess's stdout, read by a thread so a test can wait for a line with a timeout."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no matching line in {timeout}s; got {self.seen}") from None
            if line is None:
                raise AssertionError(f"the process ended ({self.proc.poll()}); got {self.seen}")
            self.seen.append(line)
            if predicate(line):
                return line


@contextmanager
def receiver(command: list[str]) -> Iterator[tuple[str, Lines]]:
    """A webhook receiver example on a free port: (its URL, its output lines)."""
    proc = subprocess.Popen(
        [*command, "--port", "0", "--secret", SECRET],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        lines = Lines(proc)
        url = lines.wait_for(lambda line: line.startswith("listening on ")).split()[-1]
        yield url, lines
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


RECEIVERS = {
    "python": [sys.executable, str(EXAMPLES / "python" / "webhook_receiver.py")],
    "node": [NODE or "node", str(EXAMPLES / "node" / "webhook_receiver.mjs")],
}
CLIENTS = {
    "python": [sys.executable, str(EXAMPLES / "python" / "client_flow.py")],
    "node": [NODE or "node", str(EXAMPLES / "node" / "client_flow.mjs")],
}


def run_client(kind: str, srv: ServerProcess, env: dict[str, str], *args: str) -> list[str]:
    done = subprocess.run(
        [*CLIENTS[kind], "--simulate", *args],
        env={**os.environ, "WAMUX_URL": srv.url, **env},
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, f"exit {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    return done.stdout.splitlines()


def assert_flow_output(lines: list[str]) -> None:
    text = "\n".join(lines)
    assert any(line.startswith("instance ") and line.endswith("created (status connecting)") for line in lines), text
    qr = next(line for line in lines if line.startswith("QR code: "))
    assert qr.removeprefix("QR code: ").startswith("1@"), qr
    assert "scanned with the simulator" in lines and "connected: status connected" in lines, text
    assert any(line.startswith("sent message ") and len(line) > len("sent message ") for line in lines), text
    incoming = [line for line in lines if line.startswith("incoming from ")]
    assert incoming == ["incoming from 79005554433@s.whatsapp.net: Hello from the simulator"], text
    assert lines[-1] == "done"


@pytest.mark.parametrize("kind", ["python", pytest.param("node", marks=needs_node)])
def test_client_flow_end_to_end_with_its_webhook_receiver(server_factory, kind: str) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory()
    with receiver(RECEIVERS[kind]) as (hook_url, hooks):
        if kind == "python":
            env = {"WAMUX_EMAIL": ADMIN_EMAIL, "WAMUX_PASSWORD": ADMIN_PASSWORD}
        else:  # the API-key path
            login = httpx.post(
                srv.url + "/api/auth/login",
                json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "rotateApiKey": True},
            )
            env = {"WAMUX_API_KEY": login.json()["user"]["apiKey"]}
        lines = run_client(kind, srv, env, "--webhook-url", hook_url + "/hook", "--webhook-secret", SECRET)
        assert lines[0] == ("logged in as admin@example.com" if kind == "python" else "authenticating with an API key")
        assert_flow_output(lines)
        # The receiver example got the instance's webhooks, signed with the secret the client set.
        event = json.loads(hooks.wait_for(lambda line: event_of(line) == "message_received"))
        assert event["data"]["from"] == "79005554433@s.whatsapp.net" and event["attempt"] == "1"
        events = {event_of(seen) for seen in hooks.seen}
        assert {"qr_received", "connected", "message_sent", "message_received"} <= events


def event_of(line: str) -> str | None:
    """The event name of a line the receiver examples print (None for other lines)."""
    return str(json.loads(line)["event"]) if line.startswith("{") else None


def signed(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.mark.parametrize("kind", ["python", pytest.param("node", marks=needs_node)])
def test_webhook_receiver_checks_signatures_and_drops_duplicates(kind: str) -> None:
    body = json.dumps(
        {"event": "message_received", "data": {"instanceId": "i1", "from": "1@s.whatsapp.net", "body": "hi"}}
    ).encode()
    with receiver(RECEIVERS[kind]) as (url, lines), httpx.Client(base_url=url, timeout=10) as http:

        def post(
            signature: str | None, delivery_id: str, payload: bytes = body, target: str | None = None
        ) -> httpx.Response:
            headers = {"Content-Type": "application/json", "X-Webhook-Event": "message_received"}
            headers["X-Webhook-Id"] = delivery_id
            if target is not None:
                headers["X-Webhook-Target"] = target
            if signature is not None:
                headers["X-Webhook-Signature"] = signature
            return http.post("/webhook", content=payload, headers=headers)

        assert post(signed(body), "d1").status_code == 200
        assert post(signed(body, "another-secret"), "d2").status_code == 401
        assert post(signed(body) + "00", "d3").status_code == 401  # a different length, too
        assert post(None, "d4").status_code == 401
        assert post(signed(body), "d1").status_code == 200  # a retry of d1: accepted, not processed again
        assert post(signed(body).upper(), "d5").status_code == 200  # hex case does not matter
        assert post(signed(body), "d5", target="wh_crm").status_code == 200  # the same event for another target
        printed = lines.wait_for(lambda line: line.startswith("{"))
        assert json.loads(printed) | {"attempt": None} == {
            "id": "d1",
            "event": "message_received",
            "target": "default",
            "attempt": None,
            "data": {"instanceId": "i1", "from": "1@s.whatsapp.net", "body": "hi"},
        }
        assert json.loads(lines.wait_for(lambda line: line.startswith("{")))["id"] == "d5"  # d1 was not printed twice
        other = json.loads(lines.wait_for(lambda line: line.startswith("{")))
        assert (other["id"], other["target"]) == ("d5", "wh_crm")  # duplicates are per target
