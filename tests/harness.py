"""Black-box test harness: a real wamux server process on a free loopback port, and an HTTP client."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import trio

T = TypeVar("T")

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "admin-password-1"
JWT_SECRET = "test-secret-0123456789abcdef-0123456789"
SECRET_KEY = "X35VnPvbLRYLI+mONIGWd+h0ekV1H1e09MDl5vdhETU="  # WAMUX_SECRET_KEY: encrypts webhook secrets at rest
# `store_matters(*SQLITE_AND_MONGODB)`: a feature test whose store-dependent part is its read-model queries. It
# runs on SQLite and MongoDB, the two ways of querying; PostgreSQL's read models run the SQLite store's queries in
# its own SQL, which its contract tests check (`tests/contract`), and the tests of durability, the outbox, feeds,
# history, search, stats, restarts, rebuilds and switches (plain `store_matters`) run on all three stores.
SQLITE_AND_MONGODB = ("sqlite", "mongodb")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_for(predicate: Callable[[], object], timeout: float = 15.0) -> None:
    """Poll a condition until it holds; fails the test at the deadline (a bounded wait, never a bare sleep)."""
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.02)


async def poll(fetch: Callable[[], Awaitable[T]], done: Callable[[T], bool], timeout: float = 10.0) -> T:
    """Call `fetch` until `done(result)` and return that result; fails the test at the deadline."""
    with trio.fail_after(timeout):
        while True:
            result = await fetch()
            if done(result):
                return result
            await trio.sleep(0.02)


class ServerProcess:
    """`wamux serve` in a subprocess, with the simulator transport and fast timings."""

    def __init__(self, data_dir: Path, *, prefix: list[str] | None = None, **env: str) -> None:
        self.data_dir = data_dir
        self.env = env
        self.prefix = prefix or []  # e.g. a profiler that starts the server as its child
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> ServerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        env = {
            **os.environ,
            "PORT": str(self.port),
            "HOST": "127.0.0.1",
            "DATA_DIR": str(self.data_dir),
            "JWT_SECRET": JWT_SECRET,
            "WAMUX_SECRET_KEY": SECRET_KEY,
            "ADMIN_EMAIL": ADMIN_EMAIL,
            "ADMIN_PASSWORD": ADMIN_PASSWORD,
            "WHATSAPP_TRANSPORT": "simulator",
            "BCRYPT_ROUNDS": "4",
            "SIMULATOR_QR_INTERVAL_MS": "60000",
            "RECONNECT_BACKOFF_MS": "50",
            "LOG_LEVEL": "info",
            **self.env,
        }
        env.pop("WAMUX_DEV", None)
        log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            [*self.prefix, sys.executable, "-m", "wamux.run.cli", "serve"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=str(self.data_dir),
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(self.url + "/api/health", timeout=0.5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server did not start:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        """`kill -9`: no shutdown code runs."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """Run `wamux <args>` on this server's DATA_DIR and store (the server should be stopped)."""
        env = {
            **os.environ,
            "DATA_DIR": str(self.data_dir),
            "JWT_SECRET": JWT_SECRET,
            "WAMUX_SECRET_KEY": SECRET_KEY,
            "WHATSAPP_TRANSPORT": "simulator",
            **self.env,  # as for `start`: the test's own settings (store, key) win
        }
        return subprocess.run(
            [sys.executable, "-m", "wamux.run.cli", *args],
            env=env,
            cwd=self.data_dir,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def admin_token(self) -> str:
        r = httpx.post(self.url + "/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        r.raise_for_status()
        return str(r.json()["token"])


class Api:
    """An authenticated async client with the steps tests repeat."""

    def __init__(self, base_url: str, *, token: str | None = None, api_key: str | None = None) -> None:
        headers = {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if api_key:
            headers["x-api-key"] = api_key
        self.http = httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30)

    async def __aenter__(self) -> Api:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    async def get(self, url: str, **kw: Any) -> httpx.Response:
        return await self.http.get(url, **kw)

    async def post(self, url: str, **kw: Any) -> httpx.Response:
        return await self.http.post(url, **kw)

    async def put(self, url: str, **kw: Any) -> httpx.Response:
        return await self.http.put(url, **kw)

    async def delete(self, url: str, **kw: Any) -> httpx.Response:
        return await self.http.delete(url, **kw)

    async def create_instance(self, name: str = "Test", **fields: Any) -> dict[str, Any]:
        r = await self.post("/api/instances", json={"name": name, **fields})
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def wait_status(self, instance_id: str, status: str, timeout: float = 10.0) -> dict[str, Any]:
        with trio.fail_after(timeout):
            while True:
                r = await self.get(f"/api/instances/{instance_id}/status")
                assert r.status_code == 200, r.text
                if r.json()["status"] == status:
                    return dict(r.json())
                await trio.sleep(0.02)

    async def wait_qr(self, instance_id: str, timeout: float = 10.0) -> dict[str, Any]:
        with trio.fail_after(timeout):
            while True:
                r = await self.get(f"/api/instances/{instance_id}/qr")
                if r.status_code == 200:
                    return dict(r.json())
                assert r.status_code == 202, r.text
                await trio.sleep(0.02)

    async def connected_instance(
        self, name: str = "Test", phone: str = "79001234567", *, admin: Api | None = None, **fields: Any
    ) -> str:
        """Create an instance and link it; simulator routes are admin-only, so pass `admin` for a plain user."""
        instance = await self.create_instance(name, **fields)
        await self.wait_qr(instance["id"])
        sim = admin or self
        r = await sim.post(f"/api/simulator/instances/{instance['id']}/scan", json={"phone": phone, "pushName": "Me"})
        assert r.status_code == 200, r.text
        await self.wait_status(instance["id"], "connected")
        return str(instance["id"])

    async def new_user(self, email: str, role: str = "user") -> dict[str, Any]:
        r = await self.post(
            "/api/users",
            json={"email": email, "password": "password-1", "firstName": "T", "lastName": "U", "role": role},
        )
        assert r.status_code == 201, r.text
        return dict(r.json())
