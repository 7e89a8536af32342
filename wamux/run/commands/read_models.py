"""`wamux rebuild` and `wamux replay`: build read models again from the event log (server stopped)."""

from __future__ import annotations

import argparse

import trio

from wamux.run.commands.base import EXIT_OK, EXIT_USAGE, CommandFailed, command_settings, progress_bar, server_stopped
from wamux.run.commands.offline import check_projections, open_storage, projection_names
from wamux.run.logs import setup_logging


def cmd_rebuild(args: argparse.Namespace) -> int:
    """Drop the named (or all) read models and build them again from the whole log."""
    names: list[str] = args.projections or projection_names()
    check_projections(names)
    settings = command_settings()
    setup_logging("warning")
    with server_stopped(settings):
        storage = open_storage(settings)
        store, read_models = storage.store, storage.read_models

        async def main() -> dict[str, int]:
            head = store.head()
            with progress_bar() as progress:
                # Together: each batch of the log is read once and applied to all of them in one transaction.
                task = progress.add_task(f"rebuild {', '.join(names)}", total=head or 1)
                counts = await read_models.rebuild(names, lambda pos: progress.update(task, completed=pos))
                progress.update(task, completed=head or 1)
            return counts

        counts = trio.run(main)
    print(f"rebuilt {', '.join(names)}")
    print("events applied: " + ", ".join(f"{name} {counts[name]}" for name in names))
    return EXIT_OK


def cmd_replay(args: argparse.Namespace) -> int:
    """Apply the log again to one read model from position `--from` on."""
    name: str = args.projection
    start: int = args.from_position
    check_projections([name])
    if start < 1:
        raise CommandFailed(f"--from {start}: positions start at 1", EXIT_USAGE)
    settings = command_settings()
    setup_logging("warning")
    with server_stopped(settings):
        storage = open_storage(settings)
        head = storage.store.head()
        if start > head + 1:
            raise CommandFailed(f"--from {start}: the event log ends at position {head}", EXIT_USAGE)
        runner = storage.read_models.runners[name]
        rm = storage.read_models.rm

        async def main() -> tuple[int, int]:
            await runner.prepare()
            # Never skip ahead: a projection behind N first applies what it has not seen yet.
            after = min(start - 1, runner.position)
            with progress_bar() as progress:
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
