"""`/events` poll latency with 100k events in the store, next to the raw indexed SQLite query.

    python bench/feed.py [--quick]

The store is filled straight through `RecorderEventStore` (group commit) in a DATA_DIR: 10
instances x 10k `message_received` events (quick: 10 x 2k). Then a real server subprocess starts on
that DATA_DIR (its projections catch up first: the start time is reported too) and one client
polls `GET /api/instances/{id}/events?since=...&limit=20` one request at a time, at positions
spread over one instance's history, and the newest page (no `since`).
Baselines, same run, through `sqlite3` on the same file (no HTTP, no decoding): the very SQL
statement the SQLite recorder runs for that page ("recorder SQL"), and the same statement with
`ts>=since` added so the (originator_id, ts) index bounds the scan ("indexed range", the ratio's
denominator); and `GET /api/health` through the same client (the HTTP floor).
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from pathlib import Path

import trio
from fill import PastClock, fill
from load import client
from measure import Report, arguments, percentile, ratio

from tests.harness import ServerProcess
from wamux.adapters.eventlog.recorder_store import RecorderEventStore
from wamux.adapters.eventlog.sqlite import open_sqlite_recorder
from wamux.domain.catalog import PUBLIC_EVENT_TYPES as FEED_TYPES
from wamux.domain.clock import iso_ms

AIM_P99_MS = 20.0
LIMIT = 20


def raw_statement(newest: bool, ranged: bool = False) -> str:
    """The recorder's statement for a page; `ranged` adds `ts>=since` so the index bounds the scan."""
    topics = ",".join("?" * len(FEED_TYPES))
    if newest:
        return (
            "SELECT rowid, originator_id, originator_version, topic, state FROM stored_events "
            f"WHERE originator_id=? AND topic IN ({topics}) ORDER BY ts DESC, rowid DESC LIMIT ? OFFSET ?"
        )
    return (
        "SELECT rowid, originator_id, originator_version, topic, state FROM stored_events "
        f"WHERE originator_id=? AND topic IN ({topics}) {'AND ts>=? ' if ranged else ''}"
        "AND (ts>? OR (ts=? AND rowid>?)) "
        "ORDER BY ts ASC, rowid ASC LIMIT ? OFFSET ?"
    )


def raw_params(stream_hex: str, since: int | None, ranged: bool = False) -> list[object]:
    if since is None:
        return [stream_hex, *FEED_TYPES, LIMIT + 1, 0]
    return [stream_hex, *FEED_TYPES, *([since] if ranged else []), since, since, 2**62, LIMIT + 1, 0]


def raw_latencies(db: sqlite3.Connection, stream_hex: str, since: int | None, n: int, ranged: bool) -> list[float]:
    statement = raw_statement(since is None, ranged)
    params = raw_params(stream_hex, since, ranged)
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        rows = db.execute(statement, params).fetchall()
        out.append((time.perf_counter() - t0) * 1000)
        assert rows
    return out


async def fill_store(data_dir: Path, events: int) -> tuple[list[str], float, int]:
    data_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - before anything runs
    recorder = open_sqlite_recorder(str(data_dir / "whatsapp-api.db"))
    store = RecorderEventStore.over(recorder, PastClock(), provider="sqlite")
    async with trio.open_nursery() as nursery:
        await nursery.start(store.run_writer)
        filled = await fill(store, instances=10, events=events)
        nursery.cancel_scope.cancel()
    recorder.datastore.close()
    return filled.instance_ids, filled.seconds, filled.events


def stream_timestamps(db: sqlite3.Connection, stream_hex: str) -> list[int]:
    return [
        row[0] for row in db.execute("SELECT ts FROM stored_events WHERE originator_id=? ORDER BY ts", [stream_hex])
    ]


async def main() -> None:
    args = arguments(__doc__.splitlines()[0])
    events = 20_000 if args.quick else 100_000
    polls = 60 if args.quick else 300
    report = Report(
        f"feed: GET /events?since=...&limit={LIMIT} with {events:,} events in the store",
        [
            "position",
            "wamux p50 ms",
            "wamux p99 ms",
            "recorder SQL p50",
            "recorder SQL p99",
            "indexed range p50",
            "indexed range p99",
            "p50 ratio",
            "health p50 ms",
        ],
    )
    with tempfile.TemporaryDirectory(prefix="wamux-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        ids, fill_s, written = await fill_store(data_dir, events)
        report.note(
            f"filled {written:,} events through RecorderEventStore in {fill_s:.1f} s ({written / fill_s:,.0f}/s)"
        )
        db = sqlite3.connect(str(data_dir / "whatsapp-api.db"))
        stream = ids[0]
        stream_hex = stream.replace("-", "")
        stamps = stream_timestamps(db, stream_hex)
        for ranged in (False, True):
            plan = db.execute(
                "EXPLAIN QUERY PLAN " + raw_statement(False, ranged), raw_params(stream_hex, stamps[0], ranged)
            ).fetchall()
            name = "indexed range" if ranged else "recorder SQL"
            report.note(f"plan of {name}: " + " | ".join(str(row[-1]) for row in plan))
        started = time.monotonic()
        server = ServerProcess(data_dir, LOG_LEVEL="warning").start(timeout=600)
        report.note(f"server start on the filled store (projections catching up): {time.monotonic() - started:.1f} s")
        worst_p99 = 0.0
        try:
            async with client(server.url, token=server.admin_token(), connections=1) as http:
                health: list[float] = []
                for _ in range(polls):
                    t0 = time.perf_counter()
                    (await http.get("/api/health")).raise_for_status()
                    health.append((time.perf_counter() - t0) * 1000)
                health_p50 = percentile(health, 50)
                positions: list[tuple[str, int | None]] = [
                    (f"{share:.0%} into the stream", stamps[min(len(stamps) - 1, int(share * len(stamps)))])
                    for share in (0.0, 0.5, 0.9, 0.999)
                ]
                positions.append(("newest page (no since)", None))
                for label, since in positions:
                    params = {"limit": str(LIMIT)}
                    if since is not None:
                        params["since"] = iso_ms(since)
                    wamux: list[float] = []
                    for _ in range(polls):
                        t0 = time.perf_counter()
                        r = await http.get(f"/api/instances/{stream}/events", params=params)
                        wamux.append((time.perf_counter() - t0) * 1000)
                        r.raise_for_status()
                        assert r.json()["count"] > 0, r.text
                    same = raw_latencies(db, stream_hex, since, polls, ranged=False)
                    indexed = raw_latencies(db, stream_hex, since, polls, ranged=True)
                    worst_p99 = max(worst_p99, percentile(wamux, 99))
                    report.add(
                        label,
                        percentile(wamux, 50),
                        percentile(wamux, 99),
                        percentile(same, 50),
                        percentile(same, 99),
                        percentile(indexed, 50),
                        percentile(indexed, 99),
                        ratio(percentile(wamux, 50), percentile(indexed, 50)),
                        health_p50,
                    )
        finally:
            server.stop()
            db.close()
        report.note(
            f"aim: p99 < {AIM_P99_MS:g} ms -> worst p99 {worst_p99:.1f} ms: "
            + ("met" if worst_p99 < AIM_P99_MS else "NOT met")
        )
    report.print()


if __name__ == "__main__":
    trio.run(main)
