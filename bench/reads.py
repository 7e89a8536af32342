"""Read routes under 200 concurrent clients, next to a bare quart-trio GET route of the same answer size.

    python bench/reads.py [--quick]

wamux: a real server subprocess (`tests.harness.ServerProcess`, simulator transport, SQLite) with 20
linked instances, filled through the simulator the way a server fills up: an address book imported
into the stored contacts, a history sync of C chats × M messages pushed at the link, and a few live
incoming messages per instance. Then 200 clients (closed loop, one trio process, httpx, 200
connections) cycle over a mix of read routes, each on one of the instances:
the instance list, one instance, its chats (×2), the history of one of its chats (×3), its stored
contacts, its stats and a page of its `/events` feed (pages of 50). The 200 connections are 200 httpx
clients of one connection each (`load.ClientPool`): one client with a pool of 200 connections spent
several times the CPU of the server it loaded, and measured itself.

Baseline, same run, same client and concurrency: `bench/bare_app.py`'s `GET /api/items?n=N`, a
page of N message-like rows with N picked so its answer is as large as the mix's mean answer.
Reported: req/s, p50, p99 for both, the ratio, and the CPU each server process used per request
(from /proc, idle subtracted). Aim (issue 18): throughput ≥ 0.5 of the bare route's, p99 < 1 s.
"""

from __future__ import annotations

import tempfile
import time
from collections import defaultdict
from pathlib import Path

import httpx
import trio
from load import BareServer, ClientPool, LoadResult, caught_up, closed_loop
from measure import Report, arguments, percentile, ratio

from tests.harness import Api, ServerProcess

AIM_RATIO = 0.5
AIM_P99_MS = 1000.0
CLIENTS = 200
INSTANCES = 20
PAGE = 50
MIX = ("instances", "instance", "chats", "chats", "messages", "messages", "messages", "contacts", "stats", "events")


async def link_all(api: Api, n: int) -> list[str]:
    ids: list[str] = [""] * n
    limiter = trio.CapacityLimiter(5)

    async def one(i: int) -> None:
        async with limiter:
            ids[i] = await api.connected_instance(f"reads-{i}", phone=f"7933{i:07d}")

    async with trio.open_nursery() as nursery:
        for i in range(n):
            nursery.start_soon(one, i)
    return ids


async def fill(api: Api, ids: list[str], chats: int, per_chat: int, contacts: int, live: int) -> None:
    """Contacts imported, a history sync pushed and `live` incoming messages, for every instance."""
    limiter = trio.CapacityLimiter(4)

    async def one(i: int, iid: str) -> None:
        async with limiter:
            book = [{"phone": f"7944{i:03d}{k:04d}", "name": f"Contact {i}-{k}"} for k in range(contacts)]
            r = await api.put(f"/api/simulator/instances/{iid}/contacts", json={"contacts": book})
            assert r.status_code == 200, r.text
            r = await api.post(f"/api/instances/{iid}/contacts/import")
            assert r.status_code == 200, r.text
            r = await api.post(
                f"/api/simulator/instances/{iid}/history",
                json={"chats": chats, "messagesPerChat": per_chat},
                timeout=300,
            )
            assert r.status_code == 200, r.text
            for k in range(live):
                r = await api.post(
                    f"/api/simulator/instances/{iid}/incoming",
                    json={"from": f"7944{i:03d}{k % contacts:04d}", "body": f"live {k}", "messageId": f"live-{i}-{k}"},
                )
                assert r.status_code == 200, r.text

    async with trio.open_nursery() as nursery:
        for i, iid in enumerate(ids):
            nursery.start_soon(one, i, iid)


async def chat_ids(api: Api, ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for iid in ids:
        r = await api.get(f"/api/instances/{iid}/chats", params={"limit": 500})
        assert r.status_code == 200, r.text
        out[iid] = [c["chatId"] for c in r.json()["chats"]]
        assert out[iid], f"no chats in {iid}"
    return out


def path_for(i: int, ids: list[str], chats: dict[str, list[str]]) -> tuple[str, str, dict[str, str | int]]:
    """Request number i of the mix: (kind, path, query)."""
    kind = MIX[i % len(MIX)]
    iid = ids[(i // len(MIX)) % len(ids)]
    page: dict[str, str | int] = {"limit": PAGE}
    if kind == "instances":
        return kind, "/api/instances", {}
    if kind == "instance":
        return kind, f"/api/instances/{iid}", {}
    if kind == "chats":
        return kind, f"/api/instances/{iid}/chats", page
    if kind == "messages":
        mine = chats[iid]
        return kind, f"/api/instances/{iid}/chats/{mine[(i // 7) % len(mine)]}/messages", page
    if kind == "contacts":
        return kind, f"/api/instances/{iid}/contacts/db", page
    if kind == "stats":
        return kind, f"/api/stats/instances/{iid}", {}
    return kind, f"/api/instances/{iid}/events", page


async def mean_answer_bytes(http: httpx.AsyncClient, ids: list[str], chats: dict[str, list[str]]) -> float:
    """One request of each kind on each instance, one at a time; every one must answer 200."""
    sizes: list[int] = []
    for i in range(len(MIX) * len(ids)):
        kind, path, query = path_for(i, ids, chats)
        r = await http.get(path, params=query)
        assert r.status_code == 200, f"{kind} {path}: {r.status_code} {r.text[:200]}"
        sizes.append(len(r.content))
    return sum(sizes) / len(sizes)


async def wamux_reads(
    url: str, token: str, pid: int, ids: list[str], chats: dict[str, list[str]], seconds: float
) -> tuple[LoadResult, dict[str, list[float]]]:
    timings: list[tuple[str, float, float]] = []  # kind, start, ms
    async with ClientPool(url, CLIENTS, token=token) as http:

        async def request(i: int) -> httpx.Response:
            kind, path, query = path_for(i, ids, chats)
            t0 = time.perf_counter()
            r = await http.get(path, params=query)
            if r.status_code == 200:
                timings.append((kind, t0, (time.perf_counter() - t0) * 1000))
            return r

        result = await closed_loop(
            request,
            concurrency=CLIENTS,
            seconds=seconds,
            warmup_s=1.0,
            pid=pid,
            prime=lambda: http.connect("/api/health"),
        )
    by_kind: dict[str, list[float]] = defaultdict(list)
    start, end = result.window
    for kind, t0, ms in timings:
        if start <= t0 <= end:
            by_kind[kind].append(ms)
    return result, by_kind


async def bare_reads(bare: BareServer, rows: int, seconds: float) -> LoadResult:
    assert bare.proc is not None
    async with ClientPool(bare.url, CLIENTS) as http:

        async def request(i: int) -> httpx.Response:
            return await http.get("/api/items", params={"n": rows})

        return await closed_loop(
            request,
            concurrency=CLIENTS,
            seconds=seconds,
            warmup_s=1.0,
            pid=bare.proc.pid,
            prime=lambda: http.connect("/api/health"),
        )


async def main() -> None:
    args = arguments(__doc__.splitlines()[0])
    seconds = 5.0 if args.quick else 15.0
    chats, per_chat, contacts, live = (20, 20, 50, 5) if args.quick else (50, 40, 100, 20)
    report = Report(
        f"reads: {CLIENTS} concurrent clients on a mix of read routes vs a bare quart-trio GET route",
        ["case", "req/s", "p50 ms", "p99 ms", "server CPU ms/req", "answer bytes", "errors", "req/s ratio"],
    )
    with tempfile.TemporaryDirectory(prefix="wamux-bench-") as tmp:
        server = ServerProcess(Path(tmp) / "server", LOG_LEVEL="warning").start()
        assert server.proc is not None
        try:
            token = server.admin_token()
            filled_at = time.monotonic()
            async with Api(server.url, token=token) as api:
                ids = await link_all(api, INSTANCES)
                await fill(api, ids, chats, per_chat, contacts, live)
                await caught_up(api.http)
                chat_map = await chat_ids(api, ids)
                size = await mean_answer_bytes(api.http, ids, chat_map)
            messages = INSTANCES * (chats * per_chat + live)
            report.note(
                f"filled {INSTANCES} instances: {messages:,} messages in {sum(map(len, chat_map.values())):,} chats, "
                f"{INSTANCES * contacts:,} stored contacts, in {time.monotonic() - filled_at:.1f} s"
            )
            with BareServer() as bare:
                probe = httpx.get(bare.url + "/api/items", params={"n": 10})
                rows = max(1, round(size / (len(probe.content) / 10)))
                b = await bare_reads(bare, rows, seconds)
            w, by_kind = await wamux_reads(server.url, token, server.proc.pid, ids, chat_map, seconds)
        finally:
            server.stop()
    report.add(
        f"bare GET /api/items?n={rows} (baseline)", b.rate, b.p(50), b.p(99), b.cpu_ms, b.mean_bytes, b.errors, "1.00"
    )
    report.add("wamux read mix", w.rate, w.p(50), w.p(99), w.cpu_ms, w.mean_bytes, w.errors, ratio(w.rate, b.rate))
    for kind in dict.fromkeys(MIX):
        ms = by_kind.get(kind, [])
        report.add(f"  of which {kind} ({len(ms):,})", "-", percentile(ms, 50), percentile(ms, 99), "-", "-", "-", "-")
    for name, r in (("wamux", w), ("bare", b)):
        if r.first_error:
            report.note(f"{name}: {r.errors} errors, first: {r.first_error}")
    report.note(f"CPU ratio (wamux / bare per request): {ratio(w.cpu_ms, b.cpu_ms)}")
    met_ratio = b.rate > 0 and w.rate / b.rate >= AIM_RATIO
    met_p99 = w.p(99) < AIM_P99_MS
    report.note(
        f"aim: throughput >= {AIM_RATIO} of bare -> {ratio(w.rate, b.rate)}: " + ("met" if met_ratio else "NOT met")
    )
    report.note(f"aim: p99 < {AIM_P99_MS:g} ms -> {w.p(99):.0f} ms: " + ("met" if met_p99 else "NOT met"))
    report.print()


if __name__ == "__main__":
    trio.run(main)
