"""Many instances in one process: resident memory per instance and time until every one is ready.

    python bench/instances.py [--quick]

Simulator: 1, 100 and 1,000 instances created through the `Supervisor` of a real server core
(SQLite `RecorderEventStore` with its group-commit writer, projections running, simulator
transport), timed until every actor shows status `qr`. Baseline, in the same run: as many bare
trio "actors" (a task with a mailbox that sleeps a simulated round trip, then waits) — the floor
of one-task-per-instance.

neonize: 1 and 50 real neonize clients on a temp dir, offline. "unconnected" is clients created
and not connected; "connect-failing" runs them through the actors until every one reports
`disconnected` after its first failed dial. Baseline: the same number of bare neonize clients,
each `connect()`ed in a thread of its own, until every call has failed.

Every measurement runs in a fresh child process, so one does not inherit the other's heap.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from measure import Report, arguments, kb, mb, rss_bytes

if TYPE_CHECKING:
    from wamux.run.bootstrap import Core

AIM_BYTES = 2**30  # 1,000 simulator instances under 1 GB RSS


def times(value: float, baseline: float, floor: float) -> str:
    """value / baseline, or n/a when the baseline is below what can be measured (a page of RSS, a tick)."""
    return f"{value / baseline:.1f}" if baseline >= floor else "n/a"


# ---- children ------------------------------------------------------------------------------


def _server_core(data_dir: Path, transport: str) -> Core:
    from wamux.core.instance_actor import ActorSettings
    from wamux.run.bootstrap import build_core
    from wamux.run.config import Settings

    settings = Settings(
        data_dir=data_dir,
        sqlite_path=data_dir / "whatsapp-api.db",
        transport=transport,
        simulator_qr_interval_ms=600_000,
        jwt_secret="bench-secret-0123456789abcdef",
        dev_mode=True,  # a secret key kept in DATA_DIR
        max_instances_per_user=1_000_000,  # every instance of the run belongs to one user
    )
    # A long back-off: a failed neonize dial is measured once, not retried during the run.
    return build_core(settings, actor_settings=ActorSettings(backoff_initial_s=600, liveness_interval_s=600))


def child_wamux(n: int, transport: str) -> dict[str, Any]:
    import trio

    from wamux.domain.ids import new_id

    result: dict[str, Any] = {}

    async def main() -> None:
        with tempfile.TemporaryDirectory(prefix="wamux-bench-") as tmp:
            core = _server_core(Path(tmp), transport)
            store, supervisor = core.storage.store, core.supervisor
            if transport == "neonize":
                before = rss_bytes()
                import neonize.client  # noqa: F401  - the 18 MB Go library, loaded once per process

                result["library_bytes"] = rss_bytes() - before
            async with trio.open_nursery() as nursery:
                await nursery.start(store.run_writer)
                await nursery.start(core.storage.read_models.run)
                await nursery.start(supervisor.run)
                await trio.sleep(0.2)
                gc.collect()
                base = rss_bytes()
                user = new_id()
                ready = ("qr",) if transport == "simulator" else ("disconnected", "failed")
                started = time.monotonic()
                async with trio.open_nursery() as creators:
                    for i in range(n):
                        creators.start_soon(supervisor.create, user, {"name": f"bench-{i}"})
                created = time.monotonic() - started
                actors = list(supervisor.actors.values())
                while not all(a.status in ready for a in actors):  # noqa: ASYNC110 - polling is the measurement
                    await trio.sleep(0.005)
                result["seconds"] = time.monotonic() - started
                result["created_seconds"] = created
                await trio.sleep(0.2)
                gc.collect()
                result["rss_delta"] = rss_bytes() - base
                result["rss_total"] = rss_bytes()
                result["statuses"] = sorted({a.status for a in actors})
                result["batches"] = store.batches
                result["events"] = store.appended_events
                nursery.cancel_scope.cancel()
            core.storage.backend.close()

    trio.run(main)
    return result


def child_bare_trio(n: int) -> dict[str, Any]:
    import trio

    result: dict[str, Any] = {}

    async def actor(state: dict[str, Any], ready: list[int]) -> None:
        send, receive = trio.open_memory_channel[Any](float("inf"))
        state["mailbox"] = send
        await trio.sleep(0.01)  # the same simulated round trip as the simulator's connect
        state["status"] = "qr"
        ready[0] += 1
        async for _ in receive:
            pass

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            await trio.sleep(0.2)
            gc.collect()
            base = rss_bytes()
            states: list[dict[str, Any]] = []
            ready = [0]
            started = time.monotonic()
            for _ in range(n):
                state: dict[str, Any] = {"status": "connecting"}
                states.append(state)
                nursery.start_soon(actor, state, ready)
            while ready[0] < n:  # noqa: ASYNC110 - polling is the measurement
                await trio.sleep(0.005)
            result["seconds"] = time.monotonic() - started
            await trio.sleep(0.2)
            gc.collect()
            result["rss_delta"] = rss_bytes() - base
            nursery.cancel_scope.cancel()

    trio.run(main)
    return result


def child_neonize_unconnected(n: int) -> dict[str, Any]:
    from wamux.adapters.whatsapp.neonize_transport import NeonizeTransport

    with tempfile.TemporaryDirectory(prefix="wamux-bench-") as tmp:
        transport = NeonizeTransport(tmp)
        before = rss_bytes()
        import neonize.client  # noqa: F401

        library = rss_bytes() - before
        gc.collect()
        base = rss_bytes()
        started = time.monotonic()
        sessions = [transport.session(f"bench-{i}") for i in range(n)]
        for s in sessions:
            s.client()
        seconds = time.monotonic() - started
        gc.collect()
        return {"seconds": seconds, "rss_delta": rss_bytes() - base, "library_bytes": library}


def child_bare_neonize(n: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="wamux-bench-") as tmp:
        before = rss_bytes()
        from neonize.client import NewClient
        from neonize.exc import NeonizeError

        library = rss_bytes() - before
        gc.collect()
        base = rss_bytes()
        failed = []
        started = time.monotonic()
        clients = []
        for i in range(n):
            os.makedirs(f"{tmp}/{i}", exist_ok=True)
            clients.append(NewClient(name=f"{tmp}/{i}/session.db"))

        def dial(client: Any) -> None:
            try:
                client.connect()
            except NeonizeError:
                failed.append(1)

        threads = [threading.Thread(target=dial, args=(c,), daemon=True) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.monotonic() - started
        time.sleep(0.2)
        gc.collect()
        return {"seconds": seconds, "rss_delta": rss_bytes() - base, "failed": len(failed), "library_bytes": library}


CRASHES: dict[str, int] = {}


def run_child(kind: str, n: int, attempts: int = 4) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter and return what it printed (one JSON line).

    neonize's Go side sometimes aborts the process ("fatal error: concurrent map writes") when many
    clients connect at the same moment; such a run is counted in CRASHES and measured again.
    """
    for _ in range(attempts):
        done = subprocess.run(
            [sys.executable, __file__, "--child", kind, str(n)],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode == 0 and lines:
            return dict(json.loads(lines[-1]))
        if "concurrent map writes" not in done.stderr:
            break
        CRASHES[f"{kind} n={n}"] = CRASHES.get(f"{kind} n={n}", 0) + 1
    raise RuntimeError(f"child {kind} {n} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")


CHILDREN = {
    "simulator": lambda n: child_wamux(n, "simulator"),
    "neonize": lambda n: child_wamux(n, "neonize"),
    "bare-trio": child_bare_trio,
    "neonize-unconnected": child_neonize_unconnected,
    "bare-neonize": child_bare_neonize,
}


# ---- the report ----------------------------------------------------------------------------


def main() -> None:
    args = arguments(__doc__.splitlines()[0])
    sim_sizes = (1, 100, 300) if args.quick else (1, 100, 1000)
    neonize_sizes = (1, 10) if args.quick else (1, 50)
    report = Report(
        "instances: memory and readiness in one process",
        ["case", "n", "wamux RSS/inst", "base RSS/inst", "RSS ratio", "wamux ready", "base ready", "time ratio"],
    )
    totals: dict[int, int] = {}
    for n in sim_sizes:
        w = run_child("simulator", n)
        b = run_child("bare-trio", n)
        totals[n] = w["rss_total"]
        report.add(
            "simulator → status qr  vs  bare trio actors",
            n,
            kb(w["rss_delta"] / n),
            kb(b["rss_delta"] / n),
            times(w["rss_delta"], b["rss_delta"], 16 * 1024),
            f"{w['seconds'] * 1000:.0f} ms",
            f"{b['seconds'] * 1000:.0f} ms",
            times(w["seconds"], b["seconds"], 1e-3),
        )
        report.note(
            f"simulator n={n}: process RSS {mb(w['rss_total'])}, {w['events']} events in {w['batches']} commits, "
            f"create calls done after {w['created_seconds'] * 1000:.0f} ms, statuses {w['statuses']}"
        )
    for n in neonize_sizes:
        u = run_child("neonize-unconnected", n)
        w = run_child("neonize", n)
        b = run_child("bare-neonize", n)
        report.add(
            "neonize unconnected (client objects)",
            n,
            kb(u["rss_delta"] / n),
            "-",
            "-",
            f"{u['seconds'] * 1000:.0f} ms",
            "-",
            "-",
        )
        report.add(
            "neonize connect-failing → disconnected  vs  bare neonize connect()",
            n,
            kb(w["rss_delta"] / n),
            kb(b["rss_delta"] / n),
            times(w["rss_delta"], b["rss_delta"], 16 * 1024),
            f"{w['seconds'] * 1000:.0f} ms",
            f"{b['seconds'] * 1000:.0f} ms",
            times(w["seconds"], b["seconds"], 1e-3),
        )
        report.note(
            f"neonize n={n}: library load {mb(u['library_bytes'])} once per process; "
            f"bare dials failed {b['failed']}/{n}; wamux statuses {w['statuses']}"
        )
    for case, count in CRASHES.items():
        report.note(f"{case}: the process aborted {count}x in neonize's Go code (concurrent map writes); re-run")
    biggest = max(sim_sizes)
    verdict = "met" if totals[biggest] < AIM_BYTES * biggest / 1000 else "NOT met"
    report.note(
        f"aim: 1,000 simulator instances under 1 GB RSS -> process RSS with {biggest} instances "
        f"{mb(totals[biggest])}: {verdict}" + ("" if biggest == 1000 else " (scaled to the quick run's size)")
    )
    report.print()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        out = CHILDREN[sys.argv[2]](int(sys.argv[3]))
        print(json.dumps(out), flush=True)
        os._exit(0)  # neonize's Go threads and finalizers have nothing left to say
    main()
