"""Shared fixtures: one server process per test session for the API tests, fresh ones on demand."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from tests.harness import Api, ServerProcess

pytest_plugins = ["tests.mongod_fixture"]

_emails = itertools.count(1)


@pytest.fixture(scope="session", params=["sqlite", "mongodb"])
def provider(request: pytest.FixtureRequest) -> str:
    """Every API test runs against both event-store providers."""
    return str(request.param)


@pytest.fixture(scope="session")
def provider_env(provider: str, request: pytest.FixtureRequest) -> Callable[[], dict[str, str]]:
    """Environment for a server on `provider`; each call names a fresh MongoDB database."""
    if provider == "sqlite":
        return dict
    mongod = request.getfixturevalue("mongod_server")
    names = itertools.count(1)

    def env() -> dict[str, str]:
        return {"DATABASE_PROVIDER": "mongodb", "DATABASE_URL": mongod.url_for(f"wamux_api_{next(names)}")}

    return env


@pytest.fixture(scope="session")
def server(
    tmp_path_factory: pytest.TempPathFactory, provider_env: Callable[[], dict[str, str]]
) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("server"), **provider_env()).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def admin_token(server: ServerProcess) -> str:
    return server.admin_token()


@pytest.fixture
async def admin(server: ServerProcess, admin_token: str) -> AsyncIterator[Api]:
    async with Api(server.url, token=admin_token) as api:
        yield api


@pytest.fixture
def unique_email() -> Callable[[str], str]:
    return lambda prefix="user": f"{prefix}{next(_emails)}-{id(object())}@example.com"


@pytest.fixture
def server_factory(
    tmp_path: Path, provider_env: Callable[[], dict[str, str]]
) -> Iterator[Callable[..., ServerProcess]]:
    started: list[ServerProcess] = []
    store_env = provider_env()  # one store per test: a restart on the same data dir finds its data

    def make(data_dir: Path | None = None, start_timeout: float = 20.0, **env: str) -> ServerProcess:
        proc = ServerProcess(data_dir or tmp_path / f"srv{len(started)}", **{**store_env, **env})
        started.append(proc)
        return proc.start(timeout=start_timeout)

    yield make
    for proc in started:
        proc.stop()
