"""Shared fixtures: one server process per test session for the API tests, fresh ones on demand."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from tests.harness import Api, ServerProcess

pytest_plugins = ["tests.mongod_fixture"]

_emails = itertools.count(1)


STORES = ("sqlite", "mongodb")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--every-store",
        action="store_true",
        help="run every server test on both stores, not only the ones marked store_matters",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test that runs a server runs on SQLite; on both stores when the store can change its outcome.

    Session-scoped, so the tests of one store share one server and pytest groups them by store.
    """
    if "provider" not in metafunc.fixturenames:
        return
    marked = metafunc.definition.get_closest_marker
    every = metafunc.config.getoption("every_store") or marked("store_matters")
    stores = STORES[:1] if marked("sqlite_only") or not every else STORES
    metafunc.parametrize("provider", stores, indirect=True, scope="session")


@pytest.fixture(scope="session")
def provider(request: pytest.FixtureRequest) -> str:
    """The event-store provider of this test's servers (parametrized by `pytest_generate_tests`)."""
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
