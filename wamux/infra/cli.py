"""The `wamux` command: serve, rebuild read models, manage users, export events.

Exit codes: 0 success, 1 operation failed, 2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

import trio

from wamux import __version__
from wamux.infra.config import ConfigError, Settings, load_settings
from wamux.infra.logs import setup_logging

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        print(f"wamux: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings()
    setup_logging(settings.log_level)
    if settings.generated_secret:
        print("wamux: WAMUX_DEV=1 — using a generated JWT secret (tokens die with the process)", file=sys.stderr)
    from wamux.infra.main import run_server

    trio.run(run_server, settings)
    return EXIT_OK


def _offline_core(settings: Settings) -> Any:
    from wamux.infra.main import Server

    server = Server(settings)
    server.build_core()
    return server


def cmd_rebuild(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    settings = _settings()
    setup_logging("warning")
    server = _offline_core(settings)
    runners = server.read_models.runners
    names = args.projections or list(runners)
    unknown = [n for n in names if n not in runners]
    if unknown:
        print(f"wamux: unknown projection {', '.join(unknown)}; known: {', '.join(runners)}", file=sys.stderr)
        return EXIT_USAGE

    async def main() -> None:
        head = server.store.head()
        with Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()
        ) as progress:
            for name in names:
                task = progress.add_task(f"rebuild {name}", total=head or 1)
                runner = runners[name]
                await runner.prepare()
                count = await runner.rebuild(lambda pos, t=task: progress.update(t, completed=pos))
                progress.update(task, completed=head or 1, description=f"rebuild {name} ({count} events)")

    trio.run(main)
    return EXIT_OK


def cmd_user_list(args: argparse.Namespace) -> int:
    server = _offline_core(_settings())

    async def main() -> list[Any]:
        await server.users.load()
        return list(server.users.users.values())

    for user in trio.run(main):
        print(f"{user.id}  {user.email:<32} {user.role:<6} {user.first_name} {user.last_name}")
    return EXIT_OK


def _with_writer(server: Any, work: Callable[[], Any]) -> Any:
    async def main() -> Any:
        async with trio.open_nursery() as nursery:
            await nursery.start(server.store.run_writer)
            await server.users.load()
            try:
                return await work()
            finally:
                nursery.cancel_scope.cancel()

    return trio.run(main)


def cmd_user_add(args: argparse.Namespace) -> int:
    from wamux.domain.errors import DomainError

    server = _offline_core(_settings())
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
        print(f"wamux: {exc.message}", file=sys.stderr)
        return EXIT_FAILED
    print(json.dumps({"id": user.id, "email": user.email, "role": user.role, "apiKey": key}))
    return EXIT_OK


def cmd_user_reset_password(args: argparse.Namespace) -> int:
    from wamux.domain.errors import DomainError

    server = _offline_core(_settings())

    async def work() -> None:
        user_id = next((u.id for u in server.users.users.values() if u.email == args.email.lower()), None)
        if user_id is None:
            raise SystemExit(f"wamux: no user with email {args.email}")
        await server.users.update(user_id, {"password": args.password}, as_admin=True)

    try:
        _with_writer(server, work)
    except DomainError as exc:
        print(f"wamux: {exc.message}", file=sys.stderr)
        return EXIT_FAILED
    print("password changed")
    return EXIT_OK


def cmd_instance_list(args: argparse.Namespace) -> int:
    from wamux.projections.instances import INSTANCES
    from wamux.projections.ports import Query

    server = _offline_core(_settings())

    async def main() -> list[dict[str, Any]]:
        runner = server.read_models.runners["instances"]
        await runner.prepare()
        await runner.catch_up()
        return server.read_models.rm.find(INSTANCES, Query(order=(("createdMs", False),)))  # type: ignore[no-any-return]

    for row in trio.run(main):
        print(f"{row['id']}  {row['status']:<12} {row['userId']}  {row['name']}")
    return EXIT_OK


def cmd_events_export(args: argparse.Namespace) -> int:
    from wamux.domain.clock import iso_ms, parse_iso_ms
    from wamux.domain.store import TimelineQuery

    server = _offline_core(_settings())
    try:
        since = parse_iso_ms(args.since) if args.since else None
    except ValueError:
        print(f"wamux: --since {args.since!r} is not an ISO 8601 date", file=sys.stderr)
        return EXIT_USAGE

    async def main() -> int:
        count = 0
        after: tuple[int, int] | None = None
        while True:
            page = await server.store.timeline(
                TimelineQuery(stream_id=args.instance, after=after, start_ms=since, limit=1000)
            )
            for r in page:
                sys.stdout.write(
                    json.dumps(
                        {
                            "position": r.position,
                            "version": r.version,
                            "type": r.type,
                            "timestamp": iso_ms(r.timestamp_ms),
                            "data": r.event.payload(),
                        }
                    )
                    + "\n"
                )
                count += 1
            if len(page) < 1000:
                return count
            after = (page[-1].timestamp_ms, page[-1].position)

    try:
        count = trio.run(main)
    except ValueError:
        print(f"wamux: {args.instance!r} is not an instance id", file=sys.stderr)
        return EXIT_USAGE
    print(f"exported {count} events", file=sys.stderr)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wamux", description="Self-hosted WhatsApp multi-instance API server.")
    parser.add_argument("--version", action="version", version=f"wamux {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the HTTP server (settings from the environment and .env)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("rebuild", help="throw read models away and rebuild them from the event log")
    p.add_argument("projections", nargs="*", help="projection names (default: all)")
    p.set_defaults(func=cmd_rebuild)

    user = sub.add_parser("user", help="manage users").add_subparsers(dest="user_command", required=True)
    p = user.add_parser("list", help="list users")
    p.set_defaults(func=cmd_user_list)
    p = user.add_parser("add", help="add a user and print its API key")
    p.add_argument("email")
    p.add_argument("password")
    p.add_argument("--first-name", default="")
    p.add_argument("--last-name", default="")
    p.add_argument("--role", default="user", choices=["user", "admin"])
    p.set_defaults(func=cmd_user_add)
    p = user.add_parser("reset-password", help="set a user's password")
    p.add_argument("email")
    p.add_argument("password")
    p.set_defaults(func=cmd_user_reset_password)

    inst = sub.add_parser("instance", help="inspect instances").add_subparsers(dest="instance_command", required=True)
    p = inst.add_parser("list", help="list instances")
    p.set_defaults(func=cmd_instance_list)

    events = sub.add_parser("events", help="audit the event log").add_subparsers(dest="events_command", required=True)
    p = events.add_parser("export", help="write an instance's events as JSON lines to stdout")
    p.add_argument("--instance", required=True)
    p.add_argument("--since", help="ISO 8601 date (inclusive)")
    p.set_defaults(func=cmd_events_export)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
