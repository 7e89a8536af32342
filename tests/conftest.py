"""Shared fixtures: one server process per test session for the API tests, fresh ones on demand."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from tests.harness import Api, ServerProcess

pytest_plugins = ["tests.mongod_fixture", "tests.postgres_fixture"]

_emails = itertools.count(1)


STORES = ("sqlite", "mongodb", "postgres")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--every-store",
        action="store_true",
        help="run every server test on every store, not only the ones marked store_matters",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test that runs a server runs on SQLite; on every store when the store can change its outcome.

    Session-scoped, so the tests of one store share one server and pytest groups them by store.
    """
    if "provider" not in metafunc.fixturenames:
        return
    marked = metafunc.definition.get_closest_marker
    matters = marked("store_matters")
    every = metafunc.config.getoption("every_store")
    if marked("sqlite_only"):
        stores: tuple[str, ...] = STORES[:1]
    elif every:
        stores = STORES
    elif matters is not None:
        stores = tuple(matters.args) or STORES  # `store_matters("sqlite", "mongodb")` names the stores
    else:
        stores = STORES[:1]
    metafunc.parametrize("provider", stores, indirect=True, scope="session")


@pytest.fixture(scope="session")
def provider(request: pytest.FixtureRequest) -> str:
    """The event-store provider of this test's servers (parametrized by `pytest_generate_tests`)."""
    return str(request.param)


@pytest.fixture(scope="session")
def provider_env(provider: str, request: pytest.FixtureRequest) -> Callable[[], dict[str, str]]:
    """Environment for a server on `provider`; each call names a fresh MongoDB or PostgreSQL database."""
    if provider == "sqlite":
        return dict
    names = itertools.count(1)
    if provider == "postgres":
        postgres = request.getfixturevalue("postgres_server")

        def postgres_env() -> dict[str, str]:
            return {"DATABASE_PROVIDER": "postgres", "DATABASE_URL": postgres.url_for(f"wamux_api_{next(names)}")}

        return postgres_env
    mongod = request.getfixturevalue("mongod_server")

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


# Each store is once a source and once a target of the store-switch tests: SQLite → MongoDB → PostgreSQL → SQLite.
NEXT_STORE = {"sqlite": "mongodb", "mongodb": "postgres", "postgres": "sqlite"}


@pytest.fixture
def switch_body(provider: str, request: pytest.FixtureRequest) -> Callable[[str], dict[str, str]]:
    """`POST /api/db/switch` bodies to the store after `provider` (see NEXT_STORE), in a database named `name`."""

    def body(name: str) -> dict[str, str]:
        target = NEXT_STORE[provider]
        if target == "sqlite":
            return {"provider": target}
        server = request.getfixturevalue("mongod_server" if target == "mongodb" else "postgres_server")
        return {"provider": target, "url": server.url_for(name)}

    return body
