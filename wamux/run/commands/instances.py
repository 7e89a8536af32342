"""`wamux instance list`: the instances read model, brought up to date when no server runs."""

from __future__ import annotations

import argparse
from typing import Any

import trio

from wamux.run.commands.base import EXIT_OK, command_settings, data_dir_lock
from wamux.run.commands.offline import open_storage


def cmd_instance_list(args: argparse.Namespace) -> int:
    """Print every instance with its status and owner."""
    from wamux.projections.instances import INSTANCES
    from wamux.projections.ports import Query

    settings = command_settings()
    with data_dir_lock(settings) as holder:
        read_models = open_storage(settings).read_models

        async def main() -> list[dict[str, Any]]:
            # A running server keeps the read model current and is its only writer: only read it then.
            if holder is None:
                runner = read_models.runners["instances"]
                await runner.prepare()
                await runner.catch_up()
            return read_models.rm.find(INSTANCES, Query(order=(("createdMs", False),)))

        rows = trio.run(main)
    for row in rows:
        print(f"{row['id']}  {row['status']:<12} {row['userId']}  {row['name']}")
    return EXIT_OK
