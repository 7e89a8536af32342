"""History import: 50,000 messages of a history sync, from the simulator's push to visible in chats and history.

    python bench/history.py [--quick]

A real server subprocess (simulator transport, SQLite). The clock starts when
`POST /api/simulator/instances/{id}/history` `{chats: 100, messagesPerChat: 500}` is sent and stops when
the chat list counts every message and each chat's history shows them all (read through the API).
The route itself answers once every chunk is appended (committed to the log); the messages read model
catches up behind it. Reported: seconds to acknowledged and to visible, messages/s and history_sync
events/s (1,000 messages each), and the CPU seconds the server process used.

Baseline, same run: the very rows the server ended with (read back from the API), inserted raw into
an equivalent SQLite table (the same columns, indexes and JSON documents, WAL, `executemany` in one
transaction). Aim: under 30 s from push to visible.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

import trio
from load import client
from measure import Report, arguments, cpu_seconds, ratio

from tests.harness import Api, ServerProcess
from wamux.projections.messages import MESSAGES

AIM_S = 30.0


async def visible(http: Any, iid: str, chats: int, total: int, timeout: float) -> tuple[float, list[dict[str, Any]]]:
    """Wait until the chat list counts `total` messages in `chats` chats; (when, the chats)."""
    with trio.fail_after(timeout):
        while True:
            r = await http.get(f"/api/instances/{iid}/chats", params={"limit": 500})
            rows = r.json()["chats"]
            if len(rows) == chats and sum(c["messageCount"] for c in rows) == total:
                return time.monotonic(), rows
            await trio.sleep(0.05)


async def histories(http: Any, iid: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every chat's history, read through the API (the stored rows as the API shows them)."""
    out: list[dict[str, Any]] = []
    for chat in rows:
        r = await http.get(f"/api/instances/{iid}/chats/{chat['chatId']}/messages", params={"limit": 1000})
        out.extend(r.json()["messages"])
    return out


def raw_insert(rows: list[dict[str, Any]], path: Path) -> float:
    """Seconds to insert `rows` into a table shaped like the messages read model's, in one transaction."""
    names = list(MESSAGES.fields)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    cols = ", ".join(f'"{n}"' for n in names)
    conn.execute(f"CREATE TABLE rm_messages (key TEXT PRIMARY KEY, doc TEXT NOT NULL, {cols})")
    for index in MESSAGES.indexes:
        conn.execute(f"CREATE INDEX ix_{'_'.join(index)} ON rm_messages ({', '.join(index)})")
    values = [
        [
            f"{row['instanceId']}:{row['messageId']}",
            json.dumps(row, separators=(",", ":")),
            *(row.get(n) for n in names),
        ]
        for row in rows
    ]
    marks = ", ".join("?" * (len(names) + 2))
    t0 = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany(f"INSERT INTO rm_messages (key, doc, {cols}) VALUES ({marks})", values)
    conn.execute("COMMIT")
    seconds = time.perf_counter() - t0
    conn.close()
    return seconds


async def main() -> None:
    args = arguments(__doc__.splitlines()[0])
    chats, per_chat = (20, 250) if args.quick else (100, 500)
    total = chats * per_chat
    report = Report(
        f"history import: {chats} chats × {per_chat} messages = {total:,} messages (SQLite)",
        ["step", "seconds", "messages/s", "events/s", "server CPU s", "ratio to raw"],
    )
    with tempfile.TemporaryDirectory(prefix="wamux-bench-") as tmp:
        server = ServerProcess(Path(tmp) / "server", LOG_LEVEL="warning").start()
        try:
            token = server.admin_token()
            async with Api(server.url, token=token) as api:
                iid = await api.connected_instance("History bench")
            await trio.sleep(1.0)  # let the link's own events settle
            assert server.proc is not None
            pid = server.proc.pid
            async with client(server.url, token=token) as http:
                cpu0, t0 = cpu_seconds(pid), time.monotonic()
                r = await http.post(
                    f"/api/simulator/instances/{iid}/history",
                    json={"chats": chats, "messagesPerChat": per_chat},
                    timeout=300,
                )
                acked = time.monotonic()
                assert r.status_code == 200, r.text
                done, rows = await visible(http, iid, chats, total, timeout=300)
                cpu = cpu_seconds(pid) - cpu0
                feed = await http.get(f"/api/instances/{iid}/events", params={"types": "history_sync", "limit": 1000})
                batches = len(feed.json()["events"])
                assert sum(e["data"]["messages"] for e in feed.json()["events"]) == total
                stored = await histories(http, iid, rows)
        finally:
            server.stop()
        assert len(stored) == total, len(stored)
        raw_s = raw_insert(stored, Path(tmp) / "raw.db")
    to_ack, to_visible = acked - t0, done - t0
    report.add("push → acknowledged (every chunk appended)", to_ack, total / to_ack, batches / to_ack, "-", "-")
    report.add("push → visible in chats and history", to_visible, total / to_visible, batches / to_visible, cpu, "-")
    report.add(
        "raw: executemany of the same rows, one transaction", raw_s, total / raw_s, "-", "-", ratio(to_visible, raw_s)
    )
    report.note(f"{batches} history_sync events ({total // max(batches, 1):,} messages each on average)")
    report.note(
        f"aim: {total:,} messages visible in under {AIM_S:g} s -> {to_visible:.1f} s: "
        + ("met" if to_visible < AIM_S else "NOT met")
    )
    report.print()


if __name__ == "__main__":
    trio.run(main)
