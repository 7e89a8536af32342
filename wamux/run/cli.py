"""The `wamux` command: serve, maintain read models, manage users, inspect the store, diagnose.

    wamux serve                          run the HTTP server
    wamux rebuild [PROJECTION ...]       drop read models and rebuild them from the event log
    wamux replay PROJECTION --from N     apply the log again from position N to one read model
    wamux user list|add|reset-password   manage users (passwords from a prompt, stdin or a file)
    wamux instance list                  list instances
    wamux events export --instance ID    an instance's events as JSON lines, in the API's shapes
    wamux db status|switch               the event store in force (passwords masked); move to the other
    wamux doctor                         check configuration, port, store, neonize, disk, mongod, ffmpeg, Pillow

Settings come from the environment and `.env`, as for `serve`. `serve` holds DATA_DIR/wamux.lock
exclusively for its whole life (its pid written inside), so a second server on the same DATA_DIR
exits 2. Commands that write (`rebuild`, `replay`, `user add`, `user reset-password`, `db switch`)
take the same lock and refuse while a server runs; read-only ones (`user list`, `instance list`,
`events export`, `db status`, `doctor`) run beside it. A server on another machine sharing a
MongoDB store cannot be seen that way: stop it too.

Exit codes: 0 success, 1 the operation or a check failed, 2 bad usage or configuration.

This module holds the parser and `main`; each command lives in `wamux/run/commands/` and opens
only what it uses (`user list` the event log and the users, never a WhatsApp transport).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from wamux import __version__
from wamux.adapters.eventlog.secret_cipher import SecretKeyError
from wamux.run.commands.base import EXIT_USAGE, CommandFailed
from wamux.run.commands.doctor import cmd_doctor
from wamux.run.commands.events import cmd_events_export
from wamux.run.commands.instances import cmd_instance_list
from wamux.run.commands.read_models import cmd_rebuild, cmd_replay
from wamux.run.commands.serve import cmd_serve
from wamux.run.commands.store import cmd_db_status, cmd_db_switch
from wamux.run.commands.users import (
    PASSWORD_HELP,
    add_password_options,
    cmd_user_add,
    cmd_user_list,
    cmd_user_reset_password,
)
from wamux.run.config import ConfigError
from wamux.run.providers import PROVIDERS

# ---- the parser -----------------------------------------------------------------------------


PROJECTIONS = "{projections}"


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the description's line breaks, and fills in the projection names only when help is shown
    (they come from the composition root, which the other commands never import)."""

    def add_text(self, text: str | None) -> None:
        if text and PROJECTIONS in text:
            from wamux.run.commands.offline import projection_names

            text = text.replace(PROJECTIONS, ", ".join(projection_names()))
        super().add_text(text)


def _command(
    sub: Any, name: str, summary: str, func: Callable[[argparse.Namespace], int], description: str | None = None
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=summary,
        description=description or summary,
        formatter_class=_HelpFormatter,
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
        "Throw read models away and rebuild them from the event log. The server must be stopped.\n\n"
        f"Projections: {PROJECTIONS}.",
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
        "The server must be stopped (refused while `wamux serve` runs on the same DATA_DIR).\n\n"
        f"Projections: {PROJECTIONS}.",
    )
    p.add_argument("projection", metavar="PROJECTION", help="one of the projections above")
    p.add_argument("--from", dest="from_position", type=int, required=True, metavar="N", help="first position")

    user = _group(sub, "user", "manage users")
    _command(user, "list", "list users", cmd_user_list)
    p = _command(
        user,
        "add",
        "add a user and print it with its API key (JSON)",
        cmd_user_add,
        f"Add a user and print it with its API key (JSON).\n\n{PASSWORD_HELP}",
    )
    p.add_argument("email")
    add_password_options(p)
    p.add_argument("--first-name", default="")
    p.add_argument("--last-name", default="")
    p.add_argument("--role", default="user", choices=["user", "admin"])
    p = _command(
        user,
        "reset-password",
        "set a user's password",
        cmd_user_reset_password,
        f"Set a user's password; every session of the user ends.\n\n{PASSWORD_HELP}",
    )
    p.add_argument("email")
    add_password_options(p)

    inst = _group(sub, "instance", "inspect instances")
    _command(inst, "list", "list instances", cmd_instance_list)

    events = _group(sub, "events", "audit the event log")
    p = _command(
        events,
        "export",
        "write an instance's events as JSON lines to stdout",
        cmd_events_export,
        "Write every event of an instance, oldest first, one JSON object a line, in the shapes of the\n"
        "API: {id, version, type, timestamp, data}, where `id` is the store position (as in\n"
        "/api/instances/{id}/events) and `data` has camelCase keys: the events the API lists carry\n"
        "exactly the API's `data`, the others their fields. Secrets are shown as ***.\n"
        "--since is exclusive, like the API's `since`: only events stamped after it.\n"
        "An unknown instance exits 1.",
    )
    p.add_argument("--instance", required=True, metavar="ID", help="the instance id (UUID)")
    p.add_argument("--since", metavar="DATE", help="ISO 8601 date (exclusive: events after it)")

    db = _group(sub, "db", "the event store")
    p = _command(db, "status", "show the store in force: provider and URL (passwords masked)", cmd_db_status)
    p.add_argument("--json", action="store_true", help="one JSON object instead of lines")
    p = _command(
        db,
        "switch",
        "copy every event to the other store, build its read models, and switch to it (server stopped)",
        cmd_db_switch,
    )
    p.add_argument("--to", required=True, choices=list(PROVIDERS), help="the target provider")
    p.add_argument("--url", help="mongodb:// or postgresql:// URL of the target (default: DATABASE_URL)")

    _command(
        sub,
        "doctor",
        "check configuration, port, event store, neonize, disk space, mongod or postgres, ffmpeg and Pillow",
        cmd_doctor,
        "Check that the configuration loads (and where the store's choice comes from: the\n"
        "environment, .env, a store switch, or the default), PORT is free on HOST (or held by the\n"
        "server of this DATA_DIR), the event store opens (and its head position), the\n"
        "neonize library imports and its shared library exists, DATA_DIR's disk has more than\n"
        "500 MB free, and mongod or PostgreSQL answers when the provider is mongodb or postgres.\n"
        "Also report ffmpeg on PATH (its version; voice notes from audio that is not Ogg/Opus\n"
        "need it) and whether Pillow imports (stickers): without them the server runs, so they\n"
        "only warn.\n"
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
