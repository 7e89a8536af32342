"""The storage providers a server can run on (SQLite, MongoDB, PostgreSQL) and what each needs.

One place knows which providers exist, which URL each takes, how to open its log and read models,
how to empty a switch target and how to say in one sentence why it could not be reached. The
configuration, the composition root, the store switch, the CLI and `wamux doctor` ask here.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wamux.adapters.eventlog.timeline import TimelineRecorder
    from wamux.projections.ports import ReadModelStore
    from wamux.run.config import Settings

PROVIDERS = ("sqlite", "mongodb", "postgres")
LABELS = {"sqlite": "SQLite", "mongodb": "MongoDB", "postgres": "PostgreSQL"}
# The providers on a database server, and the URL schemes each takes in DATABASE_URL.
URL_SCHEMES = {"mongodb": ("mongodb://", "mongodb+srv://"), "postgres": ("postgresql://", "postgres://")}


def needs_url(provider: str) -> bool:
    return provider in URL_SCHEMES


def url_fits(provider: str, url: str | None) -> bool:
    """Whether `url` is one `provider` can use (any URL for SQLite, which takes none)."""
    return not needs_url(provider) or (url or "").lower().startswith(URL_SCHEMES[provider])


def url_rule(provider: str) -> str:
    """`a mongodb:// URL`, `a postgresql:// URL`: what the messages ask for."""
    return f"a {URL_SCHEMES[provider][0]} URL"


def network_url(provider: str, url: str | None) -> str | None:
    """The URL a backend of `provider` is on (None for SQLite, whatever DATABASE_URL holds)."""
    return url if needs_url(provider) else None


def mask_url(url: str | None) -> str | None:
    """`mongodb://user:***@host/db` — never show a password (in the user info or the query)."""
    if url is None:
        return None
    # Greedy up to the LAST "@": a password may itself contain a raw "@".
    m = re.match(r"^([a-z][a-z0-9+.-]*://)([^:/]*):(.*)@([^@]*)$", url, flags=re.IGNORECASE)
    if m:
        url = f"{m.group(1)}{m.group(2)}:***@{m.group(4)}"
    return re.sub(r"(?i)([?&](?:password|pwd)=)[^&]*", r"\1***", url)


def place(url: str | None) -> str:
    """The database a URL names, for a message: password masked, options left out."""
    return (mask_url(url) or "DATABASE_URL").split("?", 1)[0]


def mongo_cause(error: BaseException) -> str:
    """pymongo's reason without its topology dump: `127.0.0.1:1: [Errno 111] Connection refused (configured
    timeouts: …), Timeout: 1.0s, Topology Description: <…>` → `connection refused`."""
    text = str(error).split(", Timeout:")[0].split(" (configured timeouts")[0].split(", full error:")[0].strip()
    text = re.sub(r"^(\S+:\d+: )?(\[Errno -?\d+\] )?", "", text)  # the host:port the message names already
    return (text[:1].lower() + text[1:]) if text else type(error).__name__


def driver_reason(error: BaseException, url: str | None) -> str | None:
    """One sentence for a driver's error that means the database cannot be used (unreachable, refused,
    a bad URL), naming the database with its password masked; None for any other error.

    Looks through what the error was raised from: eventsourcing wraps the drivers' errors.
    """
    from pymongo.errors import ConfigurationError, ConnectionFailure, OperationFailure

    from wamux.adapters.eventlog.postgres_admin import postgres_reason

    cause: BaseException | None = error
    for _ in range(10):
        if cause is None:
            return None
        if isinstance(cause, ConnectionFailure):
            return f"cannot reach MongoDB at {place(url)}: {mongo_cause(cause)}"
        if isinstance(cause, OperationFailure):
            what = "authentication failed" if cause.code == 18 else mongo_cause(cause)
            return f"MongoDB at {place(url)} refused: {what}"
        if isinstance(cause, ConfigurationError):
            return f"the MongoDB URL cannot be used: {mongo_cause(cause)}"
        reason = postgres_reason(cause, place(url))
        if reason is not None:
            return reason
        cause = cause.__cause__ or cause.__context__
    return None


def open_log(settings: Settings, provider: str, url: str | None) -> TimelineRecorder:
    """The event log of one provider (created if it does not exist yet)."""
    if provider == "mongodb":
        from wamux.adapters.eventlog.mongo import open_mongo_recorder

        assert url, "DATABASE_URL is required for mongodb"  # the configuration checks it
        return open_mongo_recorder(url)
    if provider == "postgres":
        from wamux.adapters.eventlog.postgres import open_postgres_recorder
        from wamux.adapters.eventlog.postgres_admin import check_reachable

        assert url, "DATABASE_URL is required for postgres"
        check_reachable(url)  # the driver's own reason (refused, authentication), not a pool timeout
        return open_postgres_recorder(url)
    from wamux.adapters.eventlog.sqlite import open_sqlite_recorder

    settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    return open_sqlite_recorder(str(settings.sqlite_path))


def open_read_models(settings: Settings, provider: str, url: str | None) -> ReadModelStore:
    """The read-model store of one provider."""
    if provider == "mongodb":
        from wamux.adapters.readmodels.mongo import MongoReadModelStore

        assert url, "DATABASE_URL is required for mongodb"
        return MongoReadModelStore(url)
    if provider == "postgres":
        from wamux.adapters.readmodels.postgres import PostgresReadModelStore

        assert url, "DATABASE_URL is required for postgres"
        return PostgresReadModelStore(url)
    from wamux.adapters.readmodels.sqlite import SQLiteReadModelStore

    settings.readmodels_path.parent.mkdir(parents=True, exist_ok=True)
    return SQLiteReadModelStore(str(settings.readmodels_path))


def open_backend(settings: Settings, provider: str, url: str | None) -> tuple[TimelineRecorder, ReadModelStore]:
    """Open the event log and the read-model store of one provider."""
    recorder = open_log(settings, provider, url)
    try:
        return recorder, open_read_models(settings, provider, url)
    except BaseException:
        datastore = getattr(recorder, "datastore", None)
        if datastore is not None:
            datastore.close()
        raise


def empty_target(provider: str, url: str | None, timeout_ms: int) -> None:
    """Make a database server's switch target empty: it is rebuilt from our log, from scratch.

    MongoDB: the URL's database is dropped. PostgreSQL: only wamux's own tables (the log and the read
    models) are dropped, anything else in the database is left alone. SQLite targets are new files.
    """
    if provider == "mongodb":
        import pymongo

        # A timeout the URL sets wins over ours (pymongo lets the keyword override the URL's option).
        own = "serverselectiontimeoutms=" in (url or "").lower()
        options: dict[str, Any] = {} if own else {"serverSelectionTimeoutMS": timeout_ms}
        client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(url, **options)
        try:
            db = client.get_default_database(default="wamux")
            client.admin.command("ping")
            client.drop_database(db.name)
        finally:
            client.close()
    elif provider == "postgres":
        from wamux.adapters.eventlog.postgres_admin import drop_wamux_tables

        assert url is not None
        drop_wamux_tables(url, timeout_s=timeout_ms / 1000)


def server_version(provider: str, url: str, timeout_ms: int) -> str:
    """The database server's version (raises the driver's error when it does not answer)."""
    if provider == "postgres":
        from wamux.adapters.eventlog.postgres_admin import postgres_version

        return postgres_version(url, timeout_s=timeout_ms / 1000)
    from pymongo import MongoClient

    client: MongoClient[dict[str, object]] = MongoClient(url, serverSelectionTimeoutMS=timeout_ms)
    try:
        return str(client.server_info()["version"])
    finally:
        client.close()
