"""`wamux db status` and `wamux db switch`: the event store in force, and moving to the other one."""

from __future__ import annotations

import argparse
import json
from typing import Any

import trio

from wamux.run.commands.base import (
    EXIT_OK,
    CommandFailed,
    command_settings,
    progress_bar,
    server_stopped,
    setting_source,
)
from wamux.run.commands.offline import beside, open_storage, run_with_writer
from wamux.run.config import Settings
from wamux.run.logs import setup_logging


def store_in_force(settings: Settings) -> tuple[Settings, str]:
    """The settings with a live switch's choice applied, and where the choice comes from."""
    from wamux.run.store_switch import effective_settings, read_choice

    source = (
        f"from {settings.provider_file} (a store switch)"
        if read_choice(settings) is not None
        else setting_source("DATABASE_PROVIDER", "sqlite")
    )
    return effective_settings(settings), source


def cmd_db_status(args: argparse.Namespace) -> int:
    """Print the store in force: provider, URL with the password masked, where the choice comes from."""
    from wamux.run.store_switch import store_url

    settings, source = store_in_force(command_settings())
    provider = settings.database_provider
    status = {"provider": provider, "url": store_url(provider, settings.database_url, settings.sqlite_path)}
    if args.json:
        print(json.dumps({**status, "source": source}))
    else:
        print(f"provider  {status['provider']}")
        print(f"url       {status['url']}")
        print(f"source    {source}")
    return EXIT_OK


def cmd_db_switch(args: argparse.Namespace) -> int:
    """Copy the log into the other store, build its read models there and make it the store in force."""
    from wamux.domain.errors import DomainError
    from wamux.run.providers import open_backend
    from wamux.run.store_switch import StoreSwitcher

    settings = command_settings()
    setup_logging("warning")
    with server_stopped(settings):
        storage = open_storage(settings)
        read_models = storage.read_models

        async def work() -> dict[str, Any]:
            for runner in read_models.runners.values():
                await runner.prepare()
                await runner.catch_up()
            switcher = StoreSwitcher(
                storage.settings, storage.store, read_models, open_backend, storage.backend, limiter=storage.limiter
            )
            with progress_bar() as progress:
                task = progress.add_task(f"switch to {args.to}", total=storage.store.head() or 1)

                async def follow() -> None:
                    while True:
                        p = switcher.progress
                        described = f"switch to {args.to}: {p.state}"
                        progress.update(task, completed=p.copied, total=max(p.total, 1), description=described)
                        await trio.sleep(0.1)

                async def show(nursery: trio.Nursery) -> None:
                    nursery.start_soon(follow)

                return await beside(show, lambda: switcher.switch(args.to, args.url))

        try:
            result = run_with_writer(storage.store, work)
        except DomainError as exc:
            raise CommandFailed(exc.message) from None
    print(json.dumps(result))
    return EXIT_OK
