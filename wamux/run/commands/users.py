"""`wamux user list|add|reset-password`: the user directory on the event log, nothing else."""

from __future__ import annotations

import argparse
import json

import trio

from wamux.run.commands.base import EXIT_OK, CommandFailed, command_settings, server_stopped
from wamux.run.commands.offline import open_event_log, run_with_writer, user_directory


def cmd_user_list(args: argparse.Namespace) -> int:
    """Print every user, one a line."""
    users = user_directory(open_event_log(command_settings()))
    trio.run(users.load)
    for user in users.users.values():
        print(f"{user.id}  {user.email:<32} {user.role:<6} {user.first_name} {user.last_name}")
    return EXIT_OK


def cmd_user_add(args: argparse.Namespace) -> int:
    """Create a user; print it with its API key as JSON."""
    from wamux.domain.errors import DomainError
    from wamux.domain.users import User

    settings = command_settings()
    with server_stopped(settings):
        log = open_event_log(settings)
        users = user_directory(log)

        async def work() -> tuple[User, str]:
            await users.load()
            return await users.create(
                email=args.email,
                password=args.password,
                first_name=args.first_name,
                last_name=args.last_name,
                role=args.role,
            )

        try:
            user, key = run_with_writer(log.store, work)
        except DomainError as exc:
            raise CommandFailed(exc.message) from None
    print(json.dumps({"id": user.id, "email": user.email, "role": user.role, "apiKey": key}))
    return EXIT_OK


def cmd_user_reset_password(args: argparse.Namespace) -> int:
    """Set a user's password (by email)."""
    from wamux.domain.errors import DomainError

    settings = command_settings()
    with server_stopped(settings):
        log = open_event_log(settings)
        users = user_directory(log)

        async def work() -> None:
            await users.load()
            user_id = next((u.id for u in users.users.values() if u.email == args.email.lower()), None)
            if user_id is None:
                raise CommandFailed(f"no user with email {args.email}")
            await users.update(user_id, {"password": args.password}, as_admin=True)

        try:
            run_with_writer(log.store, work)
        except DomainError as exc:
            raise CommandFailed(exc.message) from None
    print("password changed")
    return EXIT_OK
