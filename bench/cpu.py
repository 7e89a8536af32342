"""CPU per message on each store: what one incoming message or send costs the server and its database.

    python bench/cpu.py [--quick] [--store sqlite|mongodb|postgres|all]
    WAMUX_BENCH_PROFILE=DIR python bench/cpu.py     # also writes py-spy profiles of the server

CPU seconds of the server process (user + system, from /proc) over a batch of requests, divided
by the batch, measured until the server and its database are idle again: the append, the
projections, the outbox and the webhook POST with its recorded result are all inside the figure.
Next to it, the CPU of the database server over the same batch: the mongod process, or
PostgreSQL's postmaster and all its children (backends, walwriter, checkpointer, …, read anew
from /proc at the start and end of the batch; backends that exited are in the postmaster's
reaped-children time). SQLite runs inside the server process: its CPU is in the server's figure.
Idle CPU of each, measured just before each batch, is subtracted.

- incoming: `POST /api/simulator/instances/{id}/incoming` over 20 linked instances, 8 at a time;
  without a webhook, then with one signed webhook per instance to a loopback receiver (the batch
  ends when every webhook arrived and the server went idle);
- send: `POST /api/whatsapp/{id}/send` (text), same instances, without then with the webhook.
On PostgreSQL also the wamux database's committed transactions, rows written (inserted + updated +
deleted, `pg_stat_database`) and WAL bytes per message. Each store runs on a fresh database server
(the tests' fixtures' classes), started before its run and stopped after; `--store all` runs the
three back to back. Baseline, same run: `bench/bare_app.py` (bare quart-trio route parsing the
JSON body) under the same client and concurrency, CPU of its process per request, measured once
before and once after every store's run.

Aims (issue 18): incoming + webhook ≤ 2× the bare route's CPU per request; incoming without a
webhook ≤ 1.3× (the server's CPU). With WAMUX_BENCH_PROFILE=DIR (and py-spy installed) a profile
of each store's server is written to DIR/server-<store>.txt as collapsed stacks.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import trio
from load import BareServer, Database, DbWrites, Meter, client, idle_rates, until_all_idle
from measure import Report, cpu_seconds

from tests.harness import Api, ServerProcess
from tests.receiver import Receiver

CONCURRENCY = 8
INSTANCES = 20
STORES = ("sqlite", "mongodb", "postgres")
NAN = float("nan")

Request = Callable[[int], Awaitable[httpx.Response]]


@dataclass(frozen=True)
class Batch:
    """What one batch cost, per request: server and database CPU seconds, database writes (PostgreSQL)."""

    server_s: float
    database_s: float  # nan when the store runs inside the server (SQLite)
    wall: float
    errors: int
    writes: DbWrites | None  # the batch's totals


async def batch(
    server: Meter,
    db: Database,
    count: int,
    request: Request,
    done: Callable[[], Awaitable[None]] | None = None,
) -> Batch:
    """Run `count` requests `CONCURRENCY` at a time, until the server and its database are idle again."""
    meters = [server] if db.meter is None else [server, db.meter]
    writes0 = await db.writes()
    idle = await idle_rates(meters)
    errors = 0
    queue = iter(range(count))

    async def worker() -> None:
        nonlocal errors
        for k in queue:
            r = await request(k)
            if r.status_code >= 400:
                errors += 1

    t0, c0 = time.monotonic(), [meter() for meter in meters]
    async with trio.open_nursery() as nursery:
        for _ in range(CONCURRENCY):
            nursery.start_soon(worker)
    if done is not None:
        await done()
    await until_all_idle(meters, idle)
    wall = time.monotonic() - t0
    used = [meter() - c - rate * wall for meter, c, rate in zip(meters, c0, idle, strict=True)]
    db.touch()
    writes1 = await db.writes()
    writes = writes1 - writes0 if writes1 is not None and writes0 is not None else None
    return Batch(used[0] / count, used[1] / count if len(used) > 1 else NAN, wall, errors, writes)


def profiler(out: Path | None, store: str) -> list[str]:
    """A py-spy command that starts the server as its child and records all of its run (collapsed stacks)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if out is None or not Path(spy).exists():
        return []
    out.mkdir(parents=True, exist_ok=True)
    gil = ["--gil"] if os.environ.get("WAMUX_BENCH_PROFILE_GIL") else []  # only the thread running Python code
    return [spy, "record", "-r", "250", "-f", "raw", "--threads", *gil, "-o", str(out / f"server-{store}.txt"), "--"]


def server_pid(proc: subprocess.Popen[bytes], profiled: bool) -> int:
    """The server's own pid (under a profiler, the profiler's child)."""
    if not profiled:
        return proc.pid
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    return int(children[0])


async def bare_batch(count: int) -> tuple[float, float]:
    """(CPU s per request, wall s) of the bare quart-trio route, in a fresh server process."""
    none = Database("sqlite")  # nothing to start: no database CPU, no writes
    with BareServer() as bare:
        assert bare.proc is not None
        pid = bare.proc.pid
        async with httpx.AsyncClient(base_url=bare.url) as http:

            async def bare_post(k: int) -> httpx.Response:
                return await http.post("/api/whatsapp/x/send", json={"phone": "79001234567", "message": f"hello {k}"})

            await batch(lambda: cpu_seconds(pid), none, 200, bare_post)  # warm up
            measured = await batch(lambda: cpu_seconds(pid), none, count, bare_post)
            return measured.server_s, measured.wall


async def run_store(store: str, count: int, profile_dir: Path | None) -> list[tuple[str, Batch]]:
    """Every case on one store, on a fresh database server and a fresh wamux server."""
    rows: list[tuple[str, Batch]] = []
    with Database(store) as db, tempfile.TemporaryDirectory(prefix="wamux-bench-") as tmp, Receiver() as rx:
        rx.httpd.socket.listen(256)
        prefix = profiler(profile_dir, store)
        server = ServerProcess(
            Path(tmp) / "server", prefix=prefix, LOG_LEVEL="warning", MEDIA_ALLOW_PRIVATE_URLS="1", **db.env
        ).start()
        assert server.proc is not None
        pid = server_pid(server.proc, bool(prefix))

        def meter() -> float:
            return cpu_seconds(pid)

        try:
            token = server.admin_token()
            async with Api(server.url, token=token) as api:
                ids = [await api.connected_instance(f"cpu-{i}", phone=f"7922{i:07d}") for i in range(INSTANCES)]
            db.touch()
            async with client(server.url, token=token) as http:

                def incoming(tag: str) -> Request:
                    async def one(k: int) -> httpx.Response:
                        return await http.post(
                            f"/api/simulator/instances/{ids[k % len(ids)]}/incoming",
                            json={"from": "79001234567", "body": f"hello {k}", "messageId": f"{tag}-{k}"},
                        )

                    return one

                async def send(k: int) -> httpx.Response:
                    return await http.post(
                        f"/api/whatsapp/{ids[k % len(ids)]}/send", json={"phone": "79001234567", "message": f"hi {k}"}
                    )

                def arrived(n: int) -> Callable[[], Awaitable[None]]:
                    async def wait() -> None:
                        with trio.move_on_after(120):
                            while len([r for r in list(rx.requests) if r.path.startswith("/hook/")]) < n:  # noqa: ASYNC110
                                await trio.sleep(0.02)  # the receiver runs in a thread: poll it

                    return wait

                async def health(k: int) -> httpx.Response:
                    return await http.get("/api/health")

                async def one_instance(k: int) -> httpx.Response:
                    return await http.get(f"/api/instances/{ids[k % len(ids)]}")

                await batch(meter, db, 200, incoming("warm"))
                # wamux's own HTTP floor: its middleware (request id, auth, limits, usage, metrics, access log)
                rows.append(("GET /api/health (no auth, no store)", await batch(meter, db, count, health)))
                rows.append(("GET /api/instances/{id} (auth, memory)", await batch(meter, db, count, one_instance)))
                rows.append(("incoming, no webhook", await batch(meter, db, count, incoming("plain"))))
                rows.append(("send, no webhook", await batch(meter, db, count, send)))

                async with Api(server.url, token=token) as api:
                    for i, instance in enumerate(ids):
                        r = await api.put(
                            f"/api/instances/{instance}",
                            json={"webhookUrl": rx.on(f"/hook/{i}"), "webhookEnabled": True},
                        )
                        assert r.status_code == 200, r.text
                db.touch()
                rx.requests.clear()
                hooked = await batch(meter, db, count, incoming("hooked"), arrived(count))
                rows.append(("incoming + 1 webhook delivered", hooked))
                rx.requests.clear()
                # a send is followed by its `message_status` webhooks as well: count every delivery
                rows.append(("send + webhooks delivered", await batch(meter, db, count, send, arrived(count))))
        finally:
            if prefix:  # stop the server itself: the profiler writes its file when its child exits
                os.kill(pid, 15)
                server.proc.wait(60)
            server.stop()
    return rows


def add_rows(report: Report, store: str, rows: list[tuple[str, Batch]], count: int, bare_cpu: float) -> None:
    for name, b in rows:
        total = b.server_s if b.database_s != b.database_s else b.server_s + b.database_s
        w = b.writes
        report.add(
            name,
            store,
            count,
            b.server_s * 1000,
            "-" if b.database_s != b.database_s else b.database_s * 1000,
            total * 1000,
            f"{b.server_s / bare_cpu:.2f}",
            count / b.wall,
            "-" if w is None else f"{w.commits / count:.2f}",
            "-" if w is None else f"{w.rows / count:.2f}",
            "-" if w is None else f"{w.wal_bytes / count / 1024:.2f}",
            b.errors,
        )
    by_name = {name: b.server_s for name, b in rows}
    plain = by_name["incoming, no webhook"] / bare_cpu
    hooked = by_name["incoming + 1 webhook delivered"] / bare_cpu
    report.note(
        f"{store}: aim incoming without webhook ≤ 1.3× bare -> {plain:.2f}×: "
        + ("met" if plain <= 1.3 else "NOT met")
        + f"; aim incoming + webhook ≤ 2× bare -> {hooked:.2f}×: "
        + ("met" if hooked <= 2.0 else "NOT met")
        + " (the server's CPU)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run (600 messages a case)")
    parser.add_argument("--store", choices=[*STORES, "all"], default="sqlite", help="the store(s) to run on")
    args = parser.parse_args()
    count = 600 if args.quick else 3000
    stores = STORES if args.store == "all" else (args.store,)
    profile_dir = Path(os.environ["WAMUX_BENCH_PROFILE"]) if os.environ.get("WAMUX_BENCH_PROFILE") else None
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    report = Report(
        "CPU ms per message: wamux server, database server, both (until idle again)",
        [
            "case",
            "store",
            "msgs",
            "server ms",
            "db ms",
            "total ms",
            "server/bare",
            "msgs/s",
            "commits/msg",
            "rows/msg",
            "WAL KB/msg",
            "errors",
        ],
    )
    bare_before = await bare_batch(count)
    results = [(store, await run_store(store, count, profile_dir)) for store in stores]
    # The bare route is measured before and after wamux (it moves with the machine): the ratio uses the mean.
    bare_after = await bare_batch(count)
    bare_cpu = (bare_before[0] + bare_after[0]) / 2
    for label, (cpu, wall) in (("before", bare_before), ("after", bare_after)):
        name = f"bare quart-trio route (baseline, {label})"
        report.add(name, "-", count, cpu * 1000, "-", cpu * 1000, "-", count / wall, "-", "-", "-", 0)
    for store, rows in results:
        add_rows(report, store, rows, count, bare_cpu)
    report.note(
        "server/bare: the server's CPU over the bare route's (mean of before and after). SQLite runs inside the"
        " server process: its CPU is in the server column. commits, rows (inserted + updated + deleted) and WAL:"
        " PostgreSQL's counters for the wamux database over the batch, per message."
    )
    report.note(
        f"load average (1/5/15 min): {load} at the start, "
        + " / ".join(f"{x:.2f}" for x in os.getloadavg())
        + " at the end"
    )
    report.print()
    print()
    print(report.markdown())


if __name__ == "__main__":
    trio.run(main)
