"""Start on a big log: a server on 1M events and an empty read-model store, until it serves and has caught up.

    python bench/start.py [--quick]

A server (simulator transport, SQLite) first creates and links one instance, and stops. Then the log
gets 1M more events (`--quick`: 100k; `message_received` over 20 other instance streams) written
straight through `RecorderEventStore` (`bench/fill.py`), the read-model file is deleted, and a server
starts on that DATA_DIR. Measured from the moment its process is spawned:
- the first `GET /api/health` that answers 200;
- the first `POST /api/whatsapp/{id}/send` to the linked instance that is accepted (tried every 50 ms
  from the first health answer; what it answered before is counted);
- what reads answer meanwhile (the linked instance's chats and its `/events` page, every 50 ms until
  caught up): 200s, 503 `catching_up`, and whether those carry `Retry-After`;
- when the read models have caught up: `/api/health`'s `readModels` lag when the server reports it,
  else `/metrics`' `wamux_projection_lag_events` (a server that catches up before serving has none
  left by its first health answer);
- the server's RSS once caught up.
Baselines, same run: the first server's spawn → health on an empty log (what a start costs anyway);
and reading the same log raw with `sqlite3` (rowid ranges of 1,000, rows/s), so the
catch-up rate (log events / seconds from spawn to caught up) is also given as a ratio.
Aim (issue 18): `/api/health` within 3 s.
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import trio
from fill import fill
from load import client, projection_lag
from measure import Report, arguments, mb, ratio, rss_bytes

from tests.harness import Api, ServerProcess
from wamux.adapters.eventlog.recorder_store import RecorderEventStore
from wamux.adapters.eventlog.sqlite import open_sqlite_recorder
from wamux.domain.clock import SystemClock

AIM_HEALTH_S = 3.0
POLL_S = 0.05
DB = "whatsapp-api.db"


async def fill_log(path: Path, events: int) -> tuple[int, float]:
    recorder = open_sqlite_recorder(str(path))
    store = RecorderEventStore.over(recorder, SystemClock(), provider="sqlite")
    async with trio.open_nursery() as nursery:
        await nursery.start(store.run_writer)
        filled = await fill(store, instances=20, events=events, per_append=500)
        nursery.cancel_scope.cancel()
    recorder.datastore.close()
    return filled.events, filled.seconds


def raw_read(path: Path) -> tuple[int, float]:
    """Every row of the log through sqlite3, 1,000 per query by rowid; (rows, seconds)."""
    db = sqlite3.connect(str(path))
    n, position = 0, 0
    t0 = time.perf_counter()
    while True:
        rows = db.execute(
            "SELECT rowid, originator_id, originator_version, topic, state FROM stored_events "
            "WHERE rowid>? ORDER BY rowid LIMIT 1000",
            (position,),
        ).fetchall()
        if not rows:
            break
        n += len(rows)
        position = rows[-1][0]
    seconds = time.perf_counter() - t0
    db.close()
    return n, seconds


def health_lags(doc: dict[str, Any]) -> dict[str, int] | None:
    """Each read model's lag from the health answer, or None when it has no `readModels` (an older server).

    The answer is `readModels: {name: {lag, catchingUp, ...}}`; a model still catching up counts at least 1.
    """
    models = doc.get("readModels")
    if not isinstance(models, dict):
        return None
    out: dict[str, int] = {}
    for name, state in models.items():
        if isinstance(state, dict):
            lag = int(state.get("lag") or 0)
            out[name] = max(lag, 1) if state.get("catchingUp") is True else lag
        elif isinstance(state, int | float) and not isinstance(state, bool):
            out[name] = int(state)
    if doc.get("status") == "catching_up" and not any(out.values()):
        out["(status catching_up)"] = 1
    return out


class Watch:
    """What the client saw, in seconds since the server's process was spawned."""

    def __init__(self) -> None:
        self.t0 = 0.0
        self.health: float | None = None
        self.send: float | None = None
        self.caught_up: float | None = None
        self.lag_source = "-"
        self.first_lag: int | None = None
        self.models_done: dict[str, float] = {}
        self.sends: Counter[str] = Counter()
        self.reads: Counter[str] = Counter()
        self.retry_after: Counter[bool] = Counter()

    def now(self) -> float:
        return time.monotonic() - self.t0


def answer(r: httpx.Response) -> str:
    if r.status_code < 400:
        return str(r.status_code)
    try:
        code = r.json().get("code")
    except ValueError:
        code = None
    return f"{r.status_code} {code}" if code else str(r.status_code)


async def wait_health(http: httpx.AsyncClient, watch: Watch) -> None:
    while True:
        try:
            if (await http.get("/api/health")).status_code == 200:
                watch.health = watch.now()
                return
        except httpx.HTTPError:
            pass
        await trio.sleep(0.02)


async def watch_lag(http: httpx.AsyncClient, watch: Watch) -> None:
    """Until every read model has caught up; the lag of the most-behind one is what counts."""
    while True:
        lags = health_lags((await http.get("/api/health")).json())
        if lags is None:
            lags, watch.lag_source = await projection_lag(http), "/metrics"
        else:
            watch.lag_source = "/api/health readModels"
        lag = max(lags.values(), default=0)
        if watch.first_lag is None:
            watch.first_lag = lag
        for name, behind in lags.items():
            if behind == 0 and name not in watch.models_done:
                watch.models_done[name] = watch.now()
        if lag == 0:
            watch.caught_up = watch.now()
            return
        await trio.sleep(0.1)


async def keep_sending(http: httpx.AsyncClient, watch: Watch, iid: str) -> None:
    while True:
        r = await http.post(f"/api/whatsapp/{iid}/send", json={"phone": "79001234567", "message": "after a start"})
        watch.sends[answer(r)] += 1
        if r.status_code < 300:
            watch.send = watch.now()
            return
        await trio.sleep(POLL_S)


async def keep_reading(http: httpx.AsyncClient, watch: Watch, iid: str) -> None:
    paths = {"chats": f"/api/instances/{iid}/chats", "events": f"/api/instances/{iid}/events"}
    k = 0
    while watch.caught_up is None:
        name = list(paths)[k % 2]
        r = await http.get(paths[name], params={"limit": 20})
        k += 1
        watch.reads[f"{name} {answer(r)}"] += 1
        if r.status_code == 503:
            watch.retry_after["Retry-After" in r.headers] += 1
        await trio.sleep(POLL_S)


async def restart(server: ServerProcess, token: str, iid: str, watch: Watch) -> int:
    """Spawn the server and watch it until caught up and the send went through; its RSS then."""
    async with trio.open_nursery() as nursery:
        watch.t0 = time.monotonic()
        nursery.start_soon(lambda: trio.to_thread.run_sync(lambda: server.start(timeout=1800)))
        while True:  # `start` (in its thread) picks the port, then spawns
            if server.proc is not None:
                break
            await trio.sleep(0.005)
        async with client(server.url, token=token) as http:
            with trio.fail_after(1800):
                await wait_health(http, watch)
                async with trio.open_nursery() as inner:
                    inner.start_soon(watch_lag, http, watch)
                    inner.start_soon(keep_sending, http, watch, iid)
                    inner.start_soon(keep_reading, http, watch, iid)
    assert server.proc is not None
    return rss_bytes(server.proc.pid)


async def main() -> None:
    args = arguments(__doc__.splitlines()[0])
    events = 100_000 if args.quick else 1_000_000
    report = Report(
        f"start: a server on a {events:,}-event log with an empty read-model store (SQLite)",
        ["step", "seconds after spawn", "what", "events/s", "raw sqlite3 read rows/s", "ratio"],
    )
    with tempfile.TemporaryDirectory(prefix="wamux-bench-") as tmp:
        data = Path(tmp) / "data"
        spawned = time.monotonic()
        first = ServerProcess(data, LOG_LEVEL="warning").start()
        empty_health = time.monotonic() - spawned
        try:
            token = first.admin_token()
            async with Api(first.url, token=token) as api:
                iid = await api.connected_instance("start-linked", phone="79550000001")
        finally:
            first.stop()
        written, fill_s = await fill_log(data / DB, events)
        report.note(
            f"filled {written:,} events through RecorderEventStore in {fill_s:.1f} s ({written / fill_s:,.0f}/s)"
        )
        for leftover in data.glob("*.readmodels.db*"):
            leftover.unlink()
        rows, raw_s = raw_read(data / DB)
        raw_rate = rows / raw_s
        watch = Watch()
        server = ServerProcess(data, LOG_LEVEL="warning")
        try:
            rss = await restart(server, token, iid, watch)
        finally:
            server.stop()
    assert watch.health is not None and watch.send is not None and watch.caught_up is not None
    catch_rate = rows / watch.caught_up
    report.add("baseline: first /api/health 200 on an empty log", empty_health, "-", "-", "-", "-")
    report.add("first /api/health 200", watch.health, "-", "-", "-", "-")
    sends = ", ".join(f"{k}×{v}" for k, v in watch.sends.items())
    report.add("first accepted send", watch.send, f"answers: {sends}", "-", "-", "-")
    report.add(
        "read models caught up",
        watch.caught_up,
        f"most-behind read model at first health: {watch.first_lag:,} events behind (from {watch.lag_source})",
        catch_rate,
        raw_rate,
        ratio(catch_rate, raw_rate),
    )
    reads = ", ".join(f"{k}×{v}" for k, v in watch.reads.items()) or "none (caught up by the first health answer)"
    with_retry = watch.retry_after[True]
    report.note(
        f"reads until caught up: {reads}; 503s with Retry-After: {with_retry} of {sum(watch.retry_after.values())}"
    )
    done = ", ".join(f"{k} {v:.1f} s" for k, v in sorted(watch.models_done.items(), key=lambda kv: kv[1]))
    report.note(f"each read model caught up at: {done}")
    report.note(f"server RSS once caught up: {mb(rss)}; raw read of {rows:,} rows in {raw_s:.2f} s")
    report.note(
        f"aim: /api/health within {AIM_HEALTH_S:g} s -> {watch.health:.2f} s: "
        + ("met" if watch.health <= AIM_HEALTH_S else "NOT met")
    )
    report.print()


if __name__ == "__main__":
    trio.run(main)
