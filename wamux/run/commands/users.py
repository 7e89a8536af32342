"""`wamux user list|add|reset-password`: the user directory on the event log, nothing else.

A password never has to be on the command line: it is typed at a prompt (twice, not echoed),
piped on stdin (the first line), or read from `--password-file` (its first line). `--password`
(or the old positional form) still works, with a warning: it shows in `ps` and the shell history.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

import trio

from wamux.run.commands.base import EXIT_OK, EXIT_USAGE, CommandFailed, command_settings, server_stopped
from wamux.run.commands.offline import open_event_log, run_with_writer, user_directory

PASSWORD_HELP = (
    "The password is typed at a prompt (twice, not echoed), or read from stdin when stdin is not a\n"
    "terminal (`printf '%s\\n' \"$PW\" | wamux user ...`, the first line), or from --password-file\n"
    "(its first line). --password works too, but a password on the command line is visible in\n"
    "`ps` and the shell history."
)
VISIBLE_WARNING = (
    "wamux: warning: a password on the command line is visible in `ps` and the shell history; "
    "type it at the prompt, pipe it on stdin or use --password-file"
)


def add_password_options(parser: argparse.ArgumentParser) -> None:
    """`--password` / `--password-file`, and the old positional form (hidden, still accepted)."""
    parser.add_argument("password", nargs="?", help=argparse.SUPPRESS)
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--password",
        dest="password_option",
        metavar="PASSWORD",
        help="the password itself (visible in `ps` and the shell history: prefer the prompt or stdin)",
    )
    source.add_argument("--password-file", metavar="PATH", help="read the password from the first line of PATH")


def _first_line(text: str) -> str:
    return text.split("\n", 1)[0].removesuffix("\r")


def read_password(args: argparse.Namespace) -> str:
    """The password from the command line (warned), a file, stdin, or a prompt typed twice."""
    given = [v for v in (args.password, args.password_option, args.password_file) if v is not None]
    if len(given) > 1:
        raise CommandFailed("give the password one way: a prompt, stdin, --password or --password-file", EXIT_USAGE)
    if args.password is not None or args.password_option is not None:
        print(VISIBLE_WARNING, file=sys.stderr)
        return str(args.password if args.password is not None else args.password_option)
    if args.password_file is not None:
        try:
            password = _first_line(Path(args.password_file).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandFailed(f"--password-file {args.password_file}: {exc}", EXIT_USAGE) from None
        if not password:
            raise CommandFailed(f"--password-file {args.password_file}: the first line is empty", EXIT_USAGE)
        return password
    if not sys.stdin.isatty():
        password = _first_line(sys.stdin.readline())
        if not password:
            raise CommandFailed(
                "no password on stdin: pipe it (one line), use --password-file, or run on a terminal to be asked",
                EXIT_USAGE,
            )
        return password
    password = getpass.getpass("Password: ")
    if getpass.getpass("Repeat the password: ") != password:
        raise CommandFailed("the passwords do not match; nothing was changed", EXIT_USAGE)
    return password


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
        password = read_password(args)  # once the server is known stopped: no prompt for nothing
        log = open_event_log(settings)
        users = user_directory(log)

        async def work() -> tuple[User, str]:
            await users.load()
            return await users.create(
                email=args.email,
                password=password,
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
        trio.run(users.load)
        user_id = next((u.id for u in users.users.values() if u.email == args.email.lower()), None)
        if user_id is None:
            raise CommandFailed(f"no user with email {args.email}")
        password = read_password(args)  # asked for once the user is known to exist

        async def work() -> None:
            await users.update(user_id, {"password": password}, as_admin=True)

        try:
            run_with_writer(log.store, work)
        except DomainError as exc:
            raise CommandFailed(exc.message) from None
    print("password changed")
    return EXIT_OK
