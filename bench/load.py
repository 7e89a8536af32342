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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import trio
from measure import REPO, percentile

HERE = Path(__file__).resolve().parent


@dataclass
class LoadResult:
    """What a run measured: completed requests, failures, per-request latency (ms) and wall time."""

    count: int = 0
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0
    first_error: str | None = None

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def p(self, q: float) -> float:
        return percentile(self.latencies_ms, q)


async def closed_loop(
    request: Callable[[int], Awaitable[httpx.Response]],
    *,
    concurrency: int,
    seconds: float,
    warmup_s: float = 0.5,
) -> LoadResult:
    """`concurrency` workers, each sending the next request as soon as the previous one is answered.

    `request(i)` sends request number i. The first `warmup_s` seconds are not counted.
    """
    result = LoadResult()
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
                result.latencies_ms.append((time.perf_counter() - t0) * 1000)
            else:
                result.errors += 1

    async with trio.open_nursery() as nursery:
        for _ in range(concurrency):
            nursery.start_soon(worker)
        await trio.sleep(warmup_s)
        measuring = True
        started = time.perf_counter()
        await trio.sleep(seconds)
        result.seconds = time.perf_counter() - started
        nursery.cancel_scope.cancel()
    return result


def client(base_url: str, *, token: str | None = None, connections: int = 64) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(
        base_url=base_url,
        headers=headers,
        timeout=30,
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
    )


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
