"""What every command shares: exit codes, the failure `main` reports, settings, the DATA_DIR lock, progress."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from dotenv import dotenv_values

from wamux.run.config import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from rich.progress import Progress

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
SERVE_LOCK = "wamux.lock"
ENV_FILE = ".env"  # read from the working directory, as `load_settings` does


class CommandFailed(Exception):
    """A command cannot go on; `main` prints the message and exits with `code`."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def setting_source(name: str, default: str) -> str:
    """Where a variable's value comes from, as `load_settings` reads it: the environment wins over `.env`."""
    if name in os.environ:  # even when empty: it hides `.env`'s value, and empty means the default
        return f"from the environment ({name})" if os.environ[name].strip() else f"{name} empty (default {default})"
    if Path(ENV_FILE).is_file() and (dotenv_values(ENV_FILE).get(name) or "").strip():
        return f"from {ENV_FILE} ({name})"
    return f"{name} not set (default {default})"


def command_settings() -> Settings:
    """The settings from the environment and `.env`; a bad configuration exits 2."""
    try:
        return load_settings()
    except ConfigError as exc:
        raise CommandFailed(str(exc), EXIT_USAGE) from None


@contextmanager
def data_dir_lock(settings: Settings) -> Iterator[str | None]:
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
def server_stopped(settings: Settings) -> Iterator[None]:
    """Hold DATA_DIR's lock exclusively: fails (exit 1) while a `wamux serve` holds it."""
    with data_dir_lock(settings) as holder:
        if holder is not None:
            raise CommandFailed(
                f"a wamux server is running on {settings.data_dir} (pid {holder}); stop it first "
                "(the log and read models must have one writer)"
            )
        yield


def progress_bar() -> Progress:
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
