"""What a command opens on DATA_DIR without a server, typed, and only what it uses.

- `open_event_log`: the event log in force alone (a live store switch's choice applied, the
  secrets key checked), for the commands that read or append events: users, events export.
- `open_storage` (the composition root's, re-exported here): the log with its read models,
  queries and users, for the commands that build or read read models.

No command builds a WhatsApp transport, a supervisor or the HTTP app.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import trio

from wamux.run.commands.base import EXIT_USAGE, CommandFailed
from wamux.run.config import Settings, settings_key

if TYPE_CHECKING:
    from wamux.adapters.eventlog.recorder_store import RecorderEventStore
    from wamux.adapters.eventlog.timeline import TimelineRecorder
    from wamux.core.ports import BackendHandle
    from wamux.core.user_directory import UserDirectory
    from wamux.run.bootstrap import Storage

T = TypeVar("T")
STORE_THREADS = 8  # as many store threads as the server gives itself


@dataclass(frozen=True)
class EventLog:
    """DATA_DIR's event log, opened without its read models."""

    settings: Settings  # with a live store switch's choice applied
    backend: BackendHandle
    store: RecorderEventStore


def projection_names() -> list[str]:
    """The name of every projection, in the order they are built."""
    from wamux.run.bootstrap import all_projections

    return [p.name for p in all_projections()]


def check_projections(names: Sequence[str]) -> None:
    """Exit 2 naming the unknown ones when a name is not a projection's."""
    known = projection_names()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise CommandFailed(f"unknown projection {', '.join(unknown)}; known: {', '.join(known)}", EXIT_USAGE)


def _recorder(settings: Settings) -> TimelineRecorder:
    """The log of the provider in force; its read-model store stays closed."""
    from wamux.run.providers import open_log

    return open_log(settings, settings.database_provider, settings.database_url)


def open_event_log(settings: Settings) -> EventLog:
    """The event log in force, for commands that read or append events and need no read model."""
    from wamux.adapters.eventlog.recorder_store import RecorderEventStore
    from wamux.adapters.eventlog.secret_cipher import SecretCipher, check_key
    from wamux.core.ports import Backend, BackendHandle
    from wamux.domain.clock import SystemClock
    from wamux.run.store_switch import effective_settings

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    s = effective_settings(settings)  # a live switch's choice wins over the environment
    recorder = _recorder(s)
    cipher = SecretCipher(settings_key(s))
    check_key(recorder, cipher)  # a wrong WAMUX_SECRET_KEY stops here, with its name
    from wamux.run.providers import network_url

    url = network_url(s.database_provider, s.database_url)
    backend = BackendHandle(Backend(s.database_provider, recorder, None, url))
    store = RecorderEventStore(backend, SystemClock(), limiter=trio.CapacityLimiter(STORE_THREADS), cipher=cipher)
    return EventLog(s, backend, store)


def open_storage(settings: Settings) -> Storage:
    """The event log in force with its read models, queries and users (nothing runs yet)."""
    from wamux.run.bootstrap import open_storage

    return open_storage(settings)


def user_directory(log: EventLog) -> UserDirectory:
    """The users of `log` (empty until `load()`)."""
    from wamux.core.user_directory import UserDirectory

    return UserDirectory(log.store, bcrypt_rounds=log.settings.bcrypt_rounds, clock=log.store.clock)


async def beside(start: Callable[[trio.Nursery], Awaitable[object]], work: Callable[[], Awaitable[T]]) -> T:
    """Run `work` while the tasks `start` opens in a nursery run, then cancel them.

    `work`'s error comes out as itself, not wrapped in an ExceptionGroup, so `main` can report it.
    """
    results: list[T] = []
    errors: list[Exception] = []
    async with trio.open_nursery() as nursery:
        await start(nursery)
        try:
            results.append(await work())
        except Exception as exc:  # re-raised below, outside the nursery
            errors.append(exc)
        finally:
            nursery.cancel_scope.cancel()
    if errors:
        raise errors[0]
    return results[0]


def run_with_writer(store: RecorderEventStore, work: Callable[[], Awaitable[T]]) -> T:
    """Run `work` with the store's writer task running, then stop it; `work`'s errors come out unwrapped."""

    async def start_writer(nursery: trio.Nursery) -> None:
        await nursery.start(store.run_writer)

    return trio.run(beside, start_writer, work)
