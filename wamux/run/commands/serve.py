"""`wamux serve`: the HTTP server, holding DATA_DIR's lock for its whole life."""

from __future__ import annotations

import argparse
import sys

import trio

from wamux.run.commands.base import EXIT_OK, EXIT_USAGE, CommandFailed, command_settings, data_dir_lock
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

    # Exclusive for the server's life: two servers appending to one log fence each other out.
    with data_dir_lock(settings) as holder:
        if holder is not None:
            raise CommandFailed(
                f"DATA_DIR {settings.data_dir.absolute()} is in use by another wamux server (pid {holder})",
                EXIT_USAGE,
            )
        trio.run(run_server, settings)
    return EXIT_OK
