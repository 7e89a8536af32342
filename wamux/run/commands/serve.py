"""`wamux serve`: the HTTP server, holding DATA_DIR's lock for its whole life."""

from __future__ import annotations

import argparse
import errno
import sys
from collections.abc import Iterator

import trio

from wamux.run.commands.base import EXIT_OK, EXIT_USAGE, CommandFailed, command_settings, data_dir_lock
from wamux.run.config import Settings
from wamux.run.logs import setup_logging


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the server until SIGINT/SIGTERM."""
    settings = command_settings()
    setup_logging(settings.log_level)
    if settings.generated_secret:
        print("wamux: WAMUX_DEV=1 — using a generated JWT secret (tokens die with the process)", file=sys.stderr)
    if settings.secret_key is None:
        print("wamux: WAMUX_DEV=1 — secrets at rest use the development key in DATA_DIR", file=sys.stderr)
    from wamux.run.bootstrap import run_server

    try:
        # Exclusive for the server's life: two servers appending to one log fence each other out.
        with data_dir_lock(settings) as holder:
            if holder is not None:
                raise CommandFailed(
                    f"DATA_DIR {settings.data_dir.absolute()} is in use by another wamux server (pid {holder})",
                    EXIT_USAGE,
                )
            trio.run(run_server, settings)
    except (Exception, BaseExceptionGroup) as exc:  # re-raised unless the operator can fix it
        reason = startup_failure(exc, settings)
        if reason is None:
            raise
        raise CommandFailed(reason, EXIT_USAGE) from exc
    return EXIT_OK


def _leaves(exc: BaseException) -> Iterator[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from _leaves(inner)
    else:
        yield exc
        if exc.__cause__ is not None:  # e.g. eventsourcing's OperationalError over pymongo's error
            yield from _leaves(exc.__cause__)


def startup_failure(exc: BaseException, settings: Settings) -> str | None:
    """One sentence for a failure to start that is the operator's to fix (a taken port, an unwritable
    DATA_DIR, an unreachable database server), or None for anything else (then the traceback is the message)."""
    for leaf in _leaves(exc):
        if isinstance(leaf, OSError) and leaf.errno == errno.EADDRINUSE:
            return f"port {settings.port} on {settings.host} is already in use: stop the other server or set PORT"
        if isinstance(leaf, OSError) and leaf.errno == errno.EADDRNOTAVAIL:
            return f"cannot listen on {settings.host}: no such address on this machine (set HOST)"
        if isinstance(leaf, PermissionError):
            where = leaf.filename or settings.data_dir.absolute()
            return f"cannot write {where}: permission denied (set DATA_DIR to a writable directory)"
        if settings.database_provider != "sqlite":
            from wamux.run.providers import driver_reason

            reason = driver_reason(leaf, settings.database_url)
            if reason is not None:
                return reason
    return None
