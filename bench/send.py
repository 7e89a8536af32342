"""Requests/s and latency of `POST /api/whatsapp/{id}/send`, next to a bare quart-trio route.

    python bench/send.py [--quick]

wamux: a real server subprocess (`tests.harness.ServerProcess`, simulator transport, SQLite),
instances linked through the simulator's scan route; each send goes route → auth → actor
mailbox → simulator → `message_sent` committed by the group-commit writer → `{id}`.
Baseline, same run, same client: `bench/bare_app.py`, a QuartTrio app with one POST route that
parses the JSON body and answers `{"id": "x"}`, served by hypercorn in a subprocess.
Closed loop: N workers in one trio process, each sending its next request when answered.
Next to each: the CPU each server process used per request over the measured window (from /proc,
its idle rate subtracted).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import trio
from load import BareServer, LoadResult, client, closed_loop
from measure import Report, arguments, ratio

from tests.harness import Api, ServerProcess

AIM_RATIO = 0.3
BODY = {"phone": "79001234567", "message": "hello from the benchmark"}


async def link(api: Api, n: int) -> list[str]:
    ids: list[str] = [""] * n

    async def one(i: int) -> None:
        ids[i] = await api.connected_instance(f"bench-{i}", phone=f"7900{i:07d}")

    async with trio.open_nursery() as nursery:
        for i in range(n):
            nursery.start_soon(one, i)
    return ids


async def measure_sends(
    url: str, token: str | None, ids: list[str], concurrency: int, seconds: float, pid: int
) -> LoadResult:
    async with client(url, token=token) as http:

        async def request(i: int):  # type: ignore[no-untyped-def]
            return await http.post(f"/api/whatsapp/{ids[i % len(ids)]}/send", json=BODY)

        return await closed_loop(request, concurrency=concurrency, seconds=seconds, pid=pid)


async def main() -> None:
    args = arguments(__doc__.splitlines()[0])
    seconds = 2.0 if args.quick else 8.0
    cases = [(1, 1), (1, 16), (50, 16)] if not args.quick else [(1, 1), (1, 16), (10, 16)]
    report = Report(
        "send: POST /api/whatsapp/{id}/send vs bare quart-trio POST route",
        [
            "case",
            "wamux req/s",
            "p50 ms",
            "p99 ms",
            "server CPU ms/req",
            "bare req/s",
            "bare p50",
            "bare p99",
            "bare CPU ms/req",
            "req/s ratio",
            "CPU ratio",
        ],
    )
    with tempfile.TemporaryDirectory(prefix="wamux-bench-") as tmp:
        server = ServerProcess(Path(tmp) / "server", LOG_LEVEL="warning").start()
        assert server.proc is not None
        try:
            token = server.admin_token()
            async with Api(server.url, token=token) as api:
                linked = await link(api, max(n for n, _ in cases))
            with BareServer() as bare:
                assert bare.proc is not None
                worst = float("inf")
                for n, concurrency in cases:
                    w = await measure_sends(server.url, token, linked[:n], concurrency, seconds, server.proc.pid)
                    b = await measure_sends(bare.url, None, ["x"], concurrency, seconds, bare.proc.pid)
                    if w.errors or w.first_error:
                        report.note(f"{n} instances x {concurrency}: {w.errors} errors, first: {w.first_error}")
                    report.add(
                        f"{n} instance(s), {concurrency} concurrent",
                        w.rate,
                        w.p(50),
                        w.p(99),
                        w.cpu_ms,
                        b.rate,
                        b.p(50),
                        b.p(99),
                        b.cpu_ms,
                        ratio(w.rate, b.rate),
                        ratio(w.cpu_ms, b.cpu_ms),
                    )
                    if concurrency > 1:
                        worst = min(worst, w.rate / b.rate if b.rate else 0)
            report.note(
                f"aim: req/s ratio >= {AIM_RATIO} under concurrency -> worst {worst:.2f}: "
                + ("met" if worst >= AIM_RATIO else "NOT met")
            )
        finally:
            server.stop()
    report.print()


if __name__ == "__main__":
    trio.run(main)
