"""Browser fixtures: a real `wamux serve` (simulator transport) and headless Debian Chromium via Playwright (sync API).

Chromium comes from the Debian package (`apt-get install -y chromium`); `playwright install` is never needed.
Without chromium or the playwright package, every browser test is skipped with the reason.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.harness import ADMIN_EMAIL, ADMIN_PASSWORD, ServerProcess

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    executable = chromium_path()
    if executable is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium); browser tests need it")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is not installed (pip install playwright); browser tests need it")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory, chromium: Any) -> Iterator[ServerProcess]:
    """One server per test module (the chromium fixture goes first so a missing browser skips before starting it)."""
    proc = ServerProcess(tmp_path_factory.mktemp("web")).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def admin_http(web: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=web.url, headers={"Authorization": f"Bearer {web.admin_token()}"}, timeout=30) as client:
        yield client


@pytest.fixture
def context(chromium: Any, web: ServerProcess) -> Iterator[Any]:
    ctx = chromium.new_context(viewport={"width": 1280, "height": 900}, base_url=web.url)
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: Any) -> Iterator[Any]:
    """A page that fails the test on any uncaught script error or console error other than expected HTTP answers."""
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    pg.on(
        "console",
        lambda msg: (
            errors.append(f"console.{msg.type}: {msg.text}")
            if msg.type == "error" and "Failed to load resource" not in msg.text and "EventSource" not in msg.text
            else None
        ),
    )
    pg.js_errors = errors
    yield pg
    assert not errors, "\n".join(errors)


@pytest.fixture
def shot() -> Callable[[Any, str], None]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def take(pg: Any, name: str) -> None:
        pg.evaluate("window.scrollTo(0, 0)")  # a full-page shot of a scrolled page repeats the sticky header
        pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    return take


def login(pg: Any, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> None:
    pg.goto("/")
    pg.get_by_test_id("login-email").fill(email)
    pg.get_by_test_id("login-password").fill(password)
    pg.get_by_test_id("login-submit").click()
    pg.locator("#nav:not([hidden])").wait_for(state="attached")  # signed in (on a phone the menu is folded)
    pg.wait_for_url("**/#/instances")


def route_exists(client: httpx.Client, method: str, path: str, **kw: Any) -> bool:
    """False only when the server answers 404 "route not found" (the route has not landed yet)."""
    with client.stream(method, path, **kw) as r:  # streamed: an SSE route never ends its body
        if r.status_code != 404:
            return True
        return "route not found" not in r.read().decode(errors="replace")


def require_route(client: httpx.Client, method: str, path: str, **kw: Any) -> None:
    if not route_exists(client, method, path, **kw):
        pytest.skip(f"{method} {path.split('?')[0]} is not on the server yet (404 route not found)")
