"""Server CPU per message: what one incoming message or send costs the server process, end to end.

    python bench/cpu.py [--quick]          # WAMUX_BENCH_PROFILE=DIR also writes py-spy profiles

CPU seconds of the server process (user + system, from /proc) over a batch of requests, divided
by the batch, measured until the server is idle again: the append, the projections, the outbox
and the webhook POST with its recorded result are all inside the figure. Idle CPU measured just
before each batch is subtracted.

- incoming: `POST /api/simulator/instances/{id}/incoming` over 20 linked instances, 8 at a time;
  without a webhook, then with one signed webhook per instance to a loopback receiver (the batch
  ends when every webhook arrived and the server went idle);
- send: `POST /api/whatsapp/{id}/send` (text), same instances, without then with the webhook.
Baseline, same run: `bench/bare_app.py` (bare quart-trio route parsing the JSON body) under the
same client and concurrency, CPU of its process per request.

Aims (issue 18): incoming + webhook ≤ 2× the bare route's CPU per request; incoming without a
webhook ≤ 1.3×. With WAMUX_BENCH_PROFILE=DIR (and py-spy installed) a profile of each wamux batch
is written to DIR as collapsed stacks.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import trio
from load import BareServer, client, idle_rate, until_idle
from measure import Report, arguments, cpu_seconds

from tests.harness import Api, ServerProcess
from tests.receiver import Receiver

CONCURRENCY = 8
INSTANCES = 20


async def batch(pid: int, count: int, request: object, done: object = None) -> tuple[float, float, int]:
    """Run `count` requests `CONCURRENCY` at a time; (CPU s per request, wall s, errors)."""
    idle = await idle_rate(pid)
    errors = 0
    queue = iter(range(count))

    async def worker() -> None:
        nonlocal errors
        for k in queue:
            r = await request(k)  # type: ignore[operator]
            if r.status_code >= 400:
                errors += 1

    t0, c0 = time.monotonic(), cpu_seconds(pid)
    async with trio.open_nursery() as nursery:
        for _ in range(CONCURRENCY):
            nursery.start_soon(worker)
    if done is not None:
        await done()  # type: ignore[operator]
    await until_idle(pid, idle)
    wall = time.monotonic() - t0
    used = cpu_seconds(pid) - c0 - idle * wall
    return used / count, wall, errors


def profiler(out: Path | None) -> list[str]:
    """A py-spy command that starts the server as its child and records all of its run (collapsed stacks)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if out is None or not Path(spy).exists():
        return []
    out.mkdir(parents=True, exist_ok=True)
    gil = ["--gil"] if os.environ.get("WAMUX_BENCH_PROFILE_GIL") else []  # only the thread running Python code
    return [spy, "record", "-r", "250", "-f", "raw", "--threads", *gil, "-o", str(out / "server.txt"), "--"]


def server_pid(proc: subprocess.Popen[bytes], profiled: bool) -> int:
    """The server's own pid (under a profiler, the profiler's child)."""
    if not profiled:
        return proc.pid
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    return int(children[0])


async def bare_batch(count: int) -> tuple[float, float]:
    """(CPU s per request, wall s) of the bare quart-trio route, in a fresh server process."""
    with BareServer() as bare:
        assert bare.proc is not None
        async with httpx.AsyncClient(base_url=bare.url) as http:

            async def bare_post(k: int) -> httpx.Response:
                return await http.post("/api/whatsapp/x/send", json={"phone": "79001234567", "message": f"hello {k}"})

            await batch(bare.proc.pid, 200, bare_post)  # warm up
            cpu, wall, _ = await batch(bare.proc.pid, count, bare_post)
            return cpu, wall


async def main() -> None:
    parser_args = arguments(__doc__.splitlines()[0])
    count = 600 if parser_args.quick else 3000
    profile_dir = Path(os.environ["WAMUX_BENCH_PROFILE"]) if os.environ.get("WAMUX_BENCH_PROFILE") else None
    report = Report(
        "server CPU per message (CPU seconds of the server process / messages, until idle again)",
        ["case", "messages", "server CPU ms/msg", "bare route CPU ms/req", "ratio", "msgs/s", "errors"],
    )
    bare_before = await bare_batch(count)
    with tempfile.TemporaryDirectory(prefix="wamux-bench-") as tmp, Receiver() as rx:
        rx.httpd.socket.listen(256)
        prefix = profiler(profile_dir)
        server = ServerProcess(
            Path(tmp) / "server", prefix=prefix, LOG_LEVEL="warning", MEDIA_ALLOW_PRIVATE_URLS="1"
        ).start()
        assert server.proc is not None
        pid = server_pid(server.proc, bool(prefix))
        try:
            token = server.admin_token()
            async with Api(server.url, token=token) as api:
                ids = [await api.connected_instance(f"cpu-{i}", phone=f"7922{i:07d}") for i in range(INSTANCES)]
            async with client(server.url, token=token) as http:

                def incoming(tag: str):  # type: ignore[no-untyped-def]
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

                def arrived(n: int):  # type: ignore[no-untyped-def]
                    async def wait() -> None:
                        with trio.move_on_after(120):
                            while len([r for r in list(rx.requests) if r.path.startswith("/hook/")]) < n:  # noqa: ASYNC110
                                await trio.sleep(0.02)  # the receiver runs in a thread: poll it

                    return wait

                await batch(pid, 200, incoming("warm"))
                rows: list[tuple[str, float, float, int]] = []

                async def health(k: int) -> httpx.Response:
                    return await http.get("/api/health")

                async def one_instance(k: int) -> httpx.Response:
                    return await http.get(f"/api/instances/{ids[k % len(ids)]}")

                # wamux's own HTTP floor: its middleware (request id, auth, limits, usage, metrics, access log)
                cpu, wall, errors = await batch(pid, count, health)
                rows.append(("GET /api/health (no auth, no store)", cpu, wall, errors))
                cpu, wall, errors = await batch(pid, count, one_instance)
                rows.append(("GET /api/instances/{id} (auth, in memory)", cpu, wall, errors))
                cpu, wall, errors = await batch(pid, count, incoming("plain"))
                rows.append(("incoming, no webhook", cpu, wall, errors))
                cpu, wall, errors = await batch(pid, count, send)
                rows.append(("send, no webhook", cpu, wall, errors))

                async with Api(server.url, token=token) as api:
                    for i, instance in enumerate(ids):
                        r = await api.put(
                            f"/api/instances/{instance}",
                            json={"webhookUrl": rx.on(f"/hook/{i}"), "webhookEnabled": True},
                        )
                        assert r.status_code == 200, r.text
                await until_idle(pid, await idle_rate(pid))
                rx.requests.clear()
                cpu, wall, errors = await batch(pid, count, incoming("hooked"), arrived(count))
                rows.append(("incoming + 1 webhook delivered", cpu, wall, errors))
                rx.requests.clear()
                # a send is followed by its `message_status` webhooks as well: count every delivery
                cpu, wall, errors = await batch(pid, count, send, arrived(count))
                rows.append(("send + webhooks delivered", cpu, wall, errors))
        finally:
            if prefix:  # stop the server itself: the profiler writes its file when its child exits
                os.kill(pid, 15)
                server.proc.wait(60)
            server.stop()
    # The bare route is measured before and after wamux (it moves with the machine): the ratio uses the mean.
    bare_after = await bare_batch(count)
    bare_cpu = (bare_before[0] + bare_after[0]) / 2
    for label, (cpu, wall) in (("before", bare_before), ("after", bare_after)):
        name = f"bare quart-trio route (baseline, {label})"
        report.add(name, count, cpu * 1000, bare_cpu * 1000, "-", count / wall, 0)
    for name, cpu, wall, errors in rows:
        report.add(name, count, cpu * 1000, bare_cpu * 1000, f"{cpu / bare_cpu:.2f}", count / wall, errors)
    by_name = {name: cpu for name, cpu, _, _ in rows}
    plain = by_name["incoming, no webhook"] / bare_cpu
    hooked = by_name["incoming + 1 webhook delivered"] / bare_cpu
    report.note(f"aim: incoming without webhook ≤ 1.3× bare -> {plain:.2f}×: " + ("met" if plain <= 1.3 else "NOT met"))
    report.note(f"aim: incoming + webhook ≤ 2× bare -> {hooked:.2f}×: " + ("met" if hooked <= 2.0 else "NOT met"))
    report.print()


if __name__ == "__main__":
    trio.run(main)
