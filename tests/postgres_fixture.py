"""pytest plugin: a real PostgreSQL server for the tests that need it.

Register with ``pytest_plugins = ["tests.postgres_fixture"]``.

- `postgres_server` (session): `initdb` in a temporary directory, `postgres` on a free loopback port, a
  superuser ``wamux`` with trust authentication on 127.0.0.1 only; stopped (fast shutdown) at the end.
- `postgres_db_url` (function): a fresh database of its own, ``postgresql://wamux@127.0.0.1:P/t_<hex>``,
  dropped after the test.
- `postgres_server.url_for(name)` creates the database `name` (once) and answers its URL.

PostgreSQL refuses to run as root: as root the server runs as the `postgres` system user (which Debian's
package creates) through `runuser`; as anyone else it runs as that user. The binaries are Debian's
(`/usr/lib/postgresql/<major>/bin`) or whatever `pg_ctl` is on PATH. Without them, every test that asks
for these fixtures is skipped with the reason. The cluster is a throwaway: fsync and synchronous commit
are off (a killed wamux process never kills its database).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

_READY_TIMEOUT_S = 30.0
SUPERUSER = "wamux"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def postgres_bindir() -> str | None:
    """Where initdb and pg_ctl are: Debian's newest major version, else PATH; None without them."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[-3]))
    if found:
        return os.path.dirname(found[-1])
    on_path = shutil.which("pg_ctl")
    return os.path.dirname(on_path) if on_path else None


class PostgresServer:
    """One PostgreSQL cluster in `root` (data directory, socket, log), serving 127.0.0.1:`port`."""

    def __init__(self, bindir: str, root: Path, port: int) -> None:
        self.bindir = bindir
        self.root = root
        self.port = port
        self.data = root / "data"
        self._databases: set[str] = set()
        self._as_postgres = os.geteuid() == 0

    def _run(self, *args: str, timeout: float = _READY_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
        argv = [os.path.join(self.bindir, args[0]), *args[1:]]
        if self._as_postgres:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            log = self.root / "postgres.log"
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stdout}{done.stderr}\n{tail}")
        return done

    def url_for(self, database: str) -> str:
        """The URL of `database`, created on first use."""
        if database not in self._databases:
            self.sql(f'CREATE DATABASE "{database}"')
            self._databases.add(database)
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def drop(self, database: str) -> None:
        self.sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        self._databases.discard(database)

    def sql(self, statement: str) -> None:
        """Run one statement outside a transaction, as the superuser, on the `postgres` database."""
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=SUPERUSER, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(statement.encode())

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if self._as_postgres:
            shutil.chown(self.root, "postgres")
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8")
        options = " ".join(
            [
                f"-p {self.port}",
                "-c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories={self.root}",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=400",
                "-c shared_buffers=64MB",
            ]
        )
        log = self.root / "postgres.log"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(log), "-o", options, "-w", "-t", "30", "start")
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while True:
            try:
                self.sql("SELECT 1")
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop")
        except (RuntimeError, subprocess.TimeoutExpired):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The running server; most tests want `postgres_db_url`."""
    bindir = postgres_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL tests need the server binaries (Debian's postgresql package)")
    try:
        import psycopg  # noqa: F401
    except ImportError as e:
        pytest.skip(f"PostgreSQL tests need psycopg 3 (eventsourcing[postgres]) ({e})")
    root = Path(tempfile.mkdtemp(prefix="wamux-postgres-"))
    server = PostgresServer(bindir, root, _free_port())
    try:
        server.start()
        yield server
    finally:
        try:
            server.stop()
        finally:
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_db_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A URL naming a fresh database of its own; dropped after the test."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    yield postgres_server.url_for(name)
    postgres_server.drop(name)
