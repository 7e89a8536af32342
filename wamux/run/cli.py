"""The `wamux` command: serve, maintain read models, manage users, inspect the store, diagnose.

    wamux serve                          run the HTTP server
    wamux rebuild [PROJECTION ...]       drop read models and rebuild them from the event log
    wamux replay PROJECTION --from N     apply the log again from position N to one read model
    wamux user list|add|reset-password   manage users
    wamux instance list                  list instances
    wamux events export --instance ID    an instance's events as JSON lines
    wamux db status                      the event store in force (passwords masked)
    wamux doctor                         check configuration, store, neonize, disk, mongod

Settings come from the environment and `.env`, as for `serve`. `serve` holds DATA_DIR/wamux.lock
exclusively for its whole life (its pid written inside), so a second server on the same DATA_DIR
exits 2. Commands that write (`rebuild`, `replay`, `user add`, `user reset-password`, `db switch`)
take the same lock and refuse while a server runs; read-only ones (`user list`, `instance list`,
`events export`, `db status`, `doctor`) run beside it. A server on another machine sharing a
MongoDB store cannot be seen that way: stop it too.

Exit codes: 0 success, 1 the operation or a check failed, 2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import fcntl
import importlib
import importlib.util
import json
import os
import platform
import shutil
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import trio

from wamux import __version__
from wamux.adapters.eventlog.secret_cipher import SecretKeyError
from wamux.run.config import ConfigError, Settings, load_settings
from wamux.run.logs import setup_logging

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
SERVE_LOCK = "wamux.lock"
MIN_FREE_DISK = 500 * 1024 * 1024
MONGO_PING_TIMEOUT_MS = 3000
T = TypeVar("T")


class CommandFailed(Exception):
    """A command cannot go on; `main` prints the message and exits with `code`."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


# ---- shared steps ---------------------------------------------------------------------------


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        raise CommandFailed(str(exc), EXIT_USAGE) from None


def _offline_core(settings: Settings) -> Any:
    """The store, read models and users of DATA_DIR, without the HTTP server (a `Server` after build_core)."""
    from wamux.run.bootstrap import Server

    server = Server(settings)
    server.build_core()
    return server


def _projection_names() -> list[str]:
    from wamux.run.bootstrap import all_projections

    return [p.name for p in all_projections()]


def _check_projections(names: Sequence[str]) -> None:
    known = _projection_names()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise CommandFailed(f"unknown projection {', '.join(unknown)}; known: {', '.join(known)}", EXIT_USAGE)


@contextmanager
def _data_dir_lock(settings: Settings) -> Iterator[str | None]:
    """Try to hold DATA_DIR/wamux.lock exclusively (released on exit).

    Yields None once held (our pid is then written in the file), else the holder's pid as it
    wrote it. flock is released by the kernel when the process dies, so a stale file never blocks.
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.data_dir / SERVE_LOCK, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            yield fh.read().strip() or "?"
            return
        fh.truncate(0)
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        yield None


@contextmanager
def _server_stopped(settings: Settings) -> Iterator[None]:
    """Hold DATA_DIR's lock exclusively: fails (exit 1) while a `wamux serve` holds it."""
    with _data_dir_lock(settings) as holder:
        if holder is not None:
            raise CommandFailed(
                f"a wamux server is running on {settings.data_dir} (pid {holder}); stop it first "
                "(the log and read models must have one writer)"
            )
        yield


def _with_writer(server: Any, work: Callable[[], Awaitable[T]]) -> T:
    """Run `work` with the store's writer task running, then stop it; `work`'s errors come out unwrapped."""

    async def main() -> T:
        results: list[T] = []
        errors: list[Exception] = []
        async with trio.open_nursery() as nursery:
            await nursery.start(server.store.run_writer)
            await server.users.load()
            try:
                results.append(await work())
            except Exception as exc:  # re-raised below, outside the nursery (no ExceptionGroup)
                errors.append(exc)
            finally:
                nursery.cancel_scope.cancel()
        if errors:
            raise errors[0]
        return results[0]

    return trio.run(main)


def _progress() -> Any:
    """A rich progress bar on stderr (stdout stays for results)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    )


# ---- serve ----------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the server until SIGINT/SIGTERM."""
    settings = _settings()
    setup_logging(settings.log_level)
    if settings.generated_secret:
        print("wamux: WAMUX_DEV=1 — using a generated JWT secret (tokens die with the process)", file=sys.stderr)
    if settings.secret_key is None:
        print("wamux: WAMUX_DEV=1 — secrets at rest use the development key in DATA_DIR", file=sys.stderr)
    from wamux.run.bootstrap import run_server

    # Exclusive for the server's life: two servers appending to one log fence each other out.
    with _data_dir_lock(settings) as holder:
        if holder is not None:
            raise CommandFailed(
                f"DATA_DIR {settings.data_dir.absolute()} is in use by another wamux server (pid {holder})",
                EXIT_USAGE,
            )
        trio.run(run_server, settings)
    return EXIT_OK


# ---- read models ----------------------------------------------------------------------------


def cmd_rebuild(args: argparse.Namespace) -> int:
    """Drop the named (or all) read models and build them again from the whole log."""
    names: list[str] = args.projections or _projection_names()
    _check_projections(names)
    settings = _settings()
    setup_logging("warning")
    with _server_stopped(settings):
        server = _offline_core(settings)
        runners = server.read_models.runners

        async def main() -> None:
            head = server.store.head()
            with _progress() as progress:
                for name in names:
                    task = progress.add_task(f"rebuild {name}", total=head or 1)
                    runner = runners[name]
                    await runner.prepare()
                    count = await runner.rebuild(lambda pos, t=task: progress.update(t, completed=pos))
                    progress.update(task, completed=head or 1, description=f"rebuild {name} ({count} events)")

        trio.run(main)
    print(f"rebuilt {', '.join(names)}")
    return EXIT_OK


def cmd_replay(args: argparse.Namespace) -> int:
    """Apply the log again to one read model from position `--from` on."""
    name: str = args.projection
    start: int = args.from_position
    _check_projections([name])
    if start < 1:
        raise CommandFailed(f"--from {start}: positions start at 1", EXIT_USAGE)
    settings = _settings()
    setup_logging("warning")
    with _server_stopped(settings):
        server = _offline_core(settings)
        head: int = server.store.head()
        if start > head + 1:
            raise CommandFailed(f"--from {start}: the event log ends at position {head}", EXIT_USAGE)
        runner = server.read_models.runners[name]
        rm = server.read_models.rm

        async def main() -> tuple[int, int]:
            await runner.prepare()
            # Never skip ahead: a projection behind N first applies what it has not seen yet.
            after = min(start - 1, runner.position)
            with _progress() as progress:
                task = progress.add_task(f"replay {name} from {after + 1}", total=max(head - after, 1))

                def advanced(pos: int) -> None:
                    progress.update(task, completed=pos - after)

                if after == 0:
                    count = await runner.rebuild(advanced)  # from the start: the same as a clean rebuild
                else:
                    await trio.to_thread.run_sync(rm.apply, name, after, lambda _session: None)
                    runner.position = after
                    count = await runner.catch_up(advanced)
                progress.update(task, completed=max(head - after, 1))
            return after, count

        after, count = trio.run(main)
    print(f"replayed {name} from position {after + 1}: {count} events applied, now at {runner.position}")
    return EXIT_OK


# ---- users and instances --------------------------------------------------------------------


def cmd_user_list(args: argparse.Namespace) -> int:
    """Print every user, one a line."""
    server = _offline_core(_settings())

    async def main() -> list[Any]:
        await server.users.load()
        return list(server.users.users.values())

    for user in trio.run(main):
        print(f"{user.id}  {user.email:<32} {user.role:<6} {user.first_name} {user.last_name}")
    return EXIT_OK


def cmd_user_add(args: argparse.Namespace) -> int:
    """Create a user; print it with its API key as JSON."""
    from wamux.domain.errors import DomainError

    settings = _settings()
    with _server_stopped(settings):
        server = _offline_core(settings)
        try:
            user, key = _with_writer(
                server,
                lambda: server.users.create(
                    email=args.email,
                    password=args.password,
                    first_name=args.first_name,
                    last_name=args.last_name,
                    role=args.role,
                ),
            )
        except DomainError as exc:
            raise CommandFailed(exc.message) from None
    print(json.dumps({"id": user.id, "email": user.email, "role": user.role, "apiKey": key}))
    return EXIT_OK


def cmd_user_reset_password(args: argparse.Namespace) -> int:
    """Set a user's password (by email)."""
    from wamux.domain.errors import DomainError

    settings = _settings()

    async def work() -> None:
        user_id = next((u.id for u in server.users.users.values() if u.email == args.email.lower()), None)
        if user_id is None:
            raise CommandFailed(f"no user with email {args.email}")
        await server.users.update(user_id, {"password": args.password}, as_admin=True)

    with _server_stopped(settings):
        server = _offline_core(settings)
        try:
            _with_writer(server, work)
        except DomainError as exc:
            raise CommandFailed(exc.message) from None
    print("password changed")
    return EXIT_OK


def cmd_instance_list(args: argparse.Namespace) -> int:
    """Print every instance with its status and owner."""
    from wamux.projections.instances import INSTANCES
    from wamux.projections.ports import Query

    settings = _settings()
    with _data_dir_lock(settings) as holder:
        server = _offline_core(settings)

        async def main() -> list[dict[str, Any]]:
            # A running server keeps the read model current and is its only writer: only read it then.
            if holder is None:
                runner = server.read_models.runners["instances"]
                await runner.prepare()
                await runner.catch_up()
            return server.read_models.rm.find(INSTANCES, Query(order=(("createdMs", False),)))  # type: ignore[no-any-return]

        rows = trio.run(main)
    for row in rows:
        print(f"{row['id']}  {row['status']:<12} {row['userId']}  {row['name']}")
    return EXIT_OK


# ---- the event log --------------------------------------------------------------------------


def cmd_events_export(args: argparse.Namespace) -> int:
    """Write an instance's events, oldest first, as JSON lines (secrets shown as `***`)."""
    from wamux.core.ports import TimelineQuery
    from wamux.domain.clock import iso_ms, parse_iso_ms
    from wamux.domain.events import redact_secrets

    try:
        instance_id = str(UUID(args.instance))
    except ValueError:
        raise CommandFailed(f"--instance {args.instance!r} is not an instance id (a UUID)", EXIT_USAGE) from None
    try:
        since = parse_iso_ms(args.since) if args.since else None
    except ValueError:
        raise CommandFailed(f"--since {args.since!r} is not an ISO 8601 date", EXIT_USAGE) from None
    server = _offline_core(_settings())

    async def main() -> int:
        count = 0
        after: tuple[int, int] | None = None
        while True:
            page = await server.store.timeline(
                TimelineQuery(stream_id=instance_id, after=after, start_ms=since, limit=1000)
            )
            for r in page:
                record = {
                    "position": r.position,
                    "version": r.version,
                    "type": r.type,
                    "timestamp": iso_ms(r.timestamp_ms),
                    "data": redact_secrets(r.event),
                }
                sys.stdout.write(json.dumps(record) + "\n")
                count += 1
            if len(page) < 1000:
                return count
            after = (page[-1].timestamp_ms, page[-1].position)

    count = trio.run(main)
    print(f"exported {count} events", file=sys.stderr)
    return EXIT_OK


# ---- the store ------------------------------------------------------------------------------


def _store_in_force(settings: Settings) -> tuple[Settings, str]:
    """The settings with a live switch's choice applied, and where the choice comes from."""
    from wamux.run.store_switch import effective_settings, read_choice

    source = (
        f"{settings.provider_file} (a store switch)"
        if read_choice(settings) is not None
        else "environment (DATABASE_PROVIDER)"
    )
    return effective_settings(settings), source


def cmd_db_status(args: argparse.Namespace) -> int:
    """Print the store in force: provider, URL with the password masked, where the choice comes from."""
    from wamux.run.store_switch import store_url

    settings, source = _store_in_force(_settings())
    provider = settings.database_provider
    status = {"provider": provider, "url": store_url(provider, settings.database_url, settings.sqlite_path)}
    if args.json:
        print(json.dumps({**status, "source": source}))
    else:
        print(f"provider  {status['provider']}")
        print(f"url       {status['url']}")
        print(f"source    {source}")
    return EXIT_OK


# ---- db switch (offline) ----------------------------------------------------------------------


def cmd_db_switch(args: argparse.Namespace) -> int:
    """Copy the log into the other store, build its read models there and make it the store in force."""
    from wamux.domain.errors import DomainError
    from wamux.run.bootstrap import open_backend
    from wamux.run.store_switch import StoreSwitcher

    settings = _settings()
    setup_logging("warning")
    with _server_stopped(settings):
        server = _offline_core(settings)

        async def work() -> dict[str, Any]:
            for runner in server.read_models.runners.values():
                await runner.prepare()
                await runner.catch_up()
            switcher = StoreSwitcher(
                server.settings, server.store, server.read_models, open_backend, limiter=server.limiter
            )
            with _progress() as progress:
                task = progress.add_task(f"switch to {args.to}", total=server.store.head() or 1)
                async with trio.open_nursery() as nursery:

                    async def show() -> None:
                        while True:
                            p = switcher.progress
                            progress.update(
                                task,
                                completed=p.copied,
                                total=max(p.total, 1),
                                description=f"switch to {args.to}: {p.state}",
                            )
                            await trio.sleep(0.1)

                    nursery.start_soon(show)
                    try:
                        return await switcher.switch(args.to, args.url)
                    finally:
                        nursery.cancel_scope.cancel()

        try:
            result = _with_writer(server, work)
        except DomainError as exc:
            raise CommandFailed(exc.message) from None
    print(json.dumps(result))
    return EXIT_OK


# ---- doctor ---------------------------------------------------------------------------------


@dataclass
class Check:
    """One line of the doctor's table."""

    name: str
    status: str  # ok | warn | fail | skip  (only fail makes the exit code 1)
    detail: str


def _check_disk(settings: Settings) -> Check:
    where = settings.data_dir.resolve()
    while not where.exists():  # a fresh DATA_DIR: measure the disk it will be created on
        where = where.parent
    free = shutil.disk_usage(where).free
    detail = f"{free / 1024**3:.1f} GB free in {where}"
    return Check(
        "disk space", "ok" if free > MIN_FREE_DISK else "fail", detail + ("" if free > MIN_FREE_DISK else " (< 500 MB)")
    )


def _check_mongod(settings: Settings) -> Check:
    if settings.database_provider != "mongodb":
        return Check("mongod", "skip", f"provider is {settings.database_provider}")
    from pymongo import MongoClient

    from wamux.run.store_switch import mask_url

    client: MongoClient[dict[str, Any]] = MongoClient(
        settings.database_url, serverSelectionTimeoutMS=MONGO_PING_TIMEOUT_MS
    )
    try:
        version = client.server_info()["version"]
    except Exception as exc:
        # pymongo appends its whole topology description: keep the first cause only
        reason = str(exc).split(", Timeout:")[0].split(" (configured timeouts")[0]
        return Check("mongod", "fail", f"{mask_url(settings.database_url)} unreachable: {reason}")
    finally:
        client.close()
    return Check("mongod", "ok", f"{mask_url(settings.database_url)} (MongoDB {version})")


def _check_store(settings: Settings, mongod: Check) -> Check:
    if mongod.status == "fail":
        return Check("event store", "skip", "mongod is unreachable")
    from wamux.run.bootstrap import open_backend

    provider = settings.database_provider
    try:
        recorder, read_models = open_backend(settings, provider, settings.database_url)
        head = recorder.max_notification_id() or 0
        read_models.close()
    except Exception as exc:
        return Check("event store", "fail", f"{provider}: {type(exc).__name__}: {exc}")
    return Check("event store", "ok", f"{provider}, head position {head}")


def _neonize_binary(package_dir: Path) -> Path:
    """The Go library neonize loads (the same name neonize computes), without importing neonize:
    its import would try to download a missing library."""
    system = platform.system().lower()
    arch = {"aarch64": "arm64", "x86_64": "amd64"}.get(platform.machine().lower(), platform.machine().lower())
    ext = {"windows": "dll", "darwin": "dylib"}.get(system, "so")
    return package_dir / f"neonize-{system}-{arch}.{ext}"


def _check_neonize(settings: Settings) -> Check:
    # Needed only by the neonize transport: with the simulator a problem is a warning.
    bad = "fail" if settings.transport == "neonize" else "warn"
    spec = importlib.util.find_spec("neonize")
    if spec is None or not spec.submodule_search_locations:
        return Check("neonize", bad, "the neonize package is not installed")
    binary = _neonize_binary(Path(next(iter(spec.submodule_search_locations))))
    if not binary.is_file():
        return Check("neonize", bad, f"{binary} is missing (reinstall neonize)")
    try:
        module = importlib.import_module("neonize")
    except Exception as exc:
        return Check("neonize", bad, f"import failed: {type(exc).__name__}: {exc}")
    return Check("neonize", "ok", f"{getattr(module, '__version__', '?')}, {binary}")


def _doctor_checks() -> tuple[list[Check], int]:
    try:
        settings = load_settings()
    except ConfigError as exc:
        skipped = [Check(n, "skip", "needs a valid configuration") for n in ("disk space", "mongod", "event store")]
        return [Check("configuration", "fail", str(exc)), *skipped], EXIT_USAGE
    settings, source = _store_in_force(settings)
    checks = [Check("configuration", "ok", f"store {settings.database_provider} from {source}")]
    checks.append(_check_disk(settings))
    mongod = _check_mongod(settings)
    checks += [mongod, _check_store(settings, mongod), _check_neonize(settings)]
    return checks, EXIT_FAILED if any(c.status == "fail" for c in checks) else EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    """Run every check, print them as a table; 0 all passed, 1 one failed, 2 bad configuration."""
    from rich.console import Console
    from rich.table import Table

    setup_logging("error")
    checks, code = _doctor_checks()
    styles = {"ok": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}
    table = Table(title=f"wamux {__version__} doctor")
    table.add_column("check")
    table.add_column("status")
    table.add_column("detail", overflow="fold")
    for c in checks:
        table.add_row(c.name, f"[{styles[c.status]}]{c.status.upper()}[/]", c.detail)
    Console(width=max(shutil.get_terminal_size().columns, 120)).print(table)
    return code


# ---- the parser -----------------------------------------------------------------------------


def _command(
    sub: Any, name: str, summary: str, func: Callable[[argparse.Namespace], int], description: str | None = None
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=summary,
        description=description or summary,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(func=func)
    return parser


def _group(sub: Any, name: str, summary: str) -> Any:
    parser = sub.add_parser(name, help=summary, description=summary)
    return parser.add_subparsers(dest=f"{name}_command", required=True, metavar="COMMAND")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    parser = argparse.ArgumentParser(
        prog="wamux",
        description="Self-hosted WhatsApp multi-instance API server.",
        epilog="Exit codes: 0 success, 1 failed, 2 bad usage or configuration.",
    )
    parser.add_argument("--version", action="version", version=f"wamux {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    _command(sub, "serve", "run the HTTP server (settings from the environment and .env)", cmd_serve)

    p = _command(
        sub,
        "rebuild",
        "throw read models away and rebuild them from the event log",
        cmd_rebuild,
        "Throw read models away and rebuild them from the event log. The server must be stopped.",
    )
    p.add_argument("projections", nargs="*", metavar="PROJECTION", help="projection names (default: all)")

    p = _command(
        sub,
        "replay",
        "apply the event log again to one read model, from a position on",
        cmd_replay,
        "Re-run one projection from position N: its tracking is set to N-1 and it catches up to\n"
        "the head. Rows are updated in place, so events from N on are applied a second time:\n"
        "fine for projections that upsert (users, instances, contacts, outbox), wrong for ones\n"
        "that count (stats, messages' chat counters): `rebuild` those. `--from 1` is a clean\n"
        "rebuild. A projection still behind N is never moved forward past events it has not seen.\n"
        "The server must be stopped (refused while `wamux serve` runs on the same DATA_DIR).",
    )
    p.add_argument("projection", metavar="PROJECTION", help="projection name (see `wamux rebuild --help`)")
    p.add_argument("--from", dest="from_position", type=int, required=True, metavar="N", help="first position")

    user = _group(sub, "user", "manage users")
    _command(user, "list", "list users", cmd_user_list)
    p = _command(user, "add", "add a user and print it with its API key (JSON)", cmd_user_add)
    p.add_argument("email")
    p.add_argument("password")
    p.add_argument("--first-name", default="")
    p.add_argument("--last-name", default="")
    p.add_argument("--role", default="user", choices=["user", "admin"])
    p = _command(user, "reset-password", "set a user's password", cmd_user_reset_password)
    p.add_argument("email")
    p.add_argument("password")

    inst = _group(sub, "instance", "inspect instances")
    _command(inst, "list", "list instances", cmd_instance_list)

    events = _group(sub, "events", "audit the event log")
    p = _command(events, "export", "write an instance's events as JSON lines to stdout", cmd_events_export)
    p.add_argument("--instance", required=True, metavar="ID", help="the instance id (UUID)")
    p.add_argument("--since", metavar="DATE", help="ISO 8601 date (inclusive)")

    db = _group(sub, "db", "the event store")
    p = _command(db, "status", "show the store in force: provider and URL (passwords masked)", cmd_db_status)
    p.add_argument("--json", action="store_true", help="one JSON object instead of lines")
    p = _command(
        db,
        "switch",
        "copy every event to the other store, build its read models, and switch to it (server stopped)",
        cmd_db_switch,
    )
    p.add_argument("--to", required=True, choices=["sqlite", "mongodb"], help="the target provider")
    p.add_argument("--url", help="mongodb:// URL of the target (default: DATABASE_URL)")

    _command(
        sub,
        "doctor",
        "check configuration, event store, neonize, disk space and mongod",
        cmd_doctor,
        "Check that the configuration loads, the event store opens (and its head position), the\n"
        "neonize library imports and its shared library exists, DATA_DIR's disk has more than\n"
        "500 MB free, and mongod answers when the provider is mongodb.\n"
        "Exit 0 when every check passes, 1 when one fails, 2 when the configuration is invalid.",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv`, run the command, return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)  # bad usage: argparse prints it and exits with 2
    try:
        code: int = args.func(args)
    except CommandFailed as exc:
        print(f"wamux: {exc}", file=sys.stderr)
        return exc.code
    except (ConfigError, SecretKeyError) as exc:  # found once the store is open, e.g. a key that does not fit
        print(f"wamux: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
