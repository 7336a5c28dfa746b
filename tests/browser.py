"""End-to-end browser tests: Debian's chromium driven by Playwright (sync API), and a real HTTP server.

Load it in a test module as a pytest plugin (its fixtures, and the screenshot-on-failure hook)::

    pytest_plugins = ["tests.browser"]
    pytestmark = pytest.mark.browser

    def test_something(page: BrowserPage) -> None:
        with serve(create_app(...)) as url:
            page.goto(f"{url}/console/")
            ...
            assert page.errors == []

The rule of `tests/service_helpers.py` for PostgreSQL: the browser is `$CALLINTEL_TEST_CHROMIUM`
(`make test` sets it from `scripts/chromium.sh`, which installs Debian's chromium). When it is unset
the browser tests skip, except with `CI` set, where they fail. Playwright never downloads a browser.

Fixtures:
    chromium  (module)    the Browser; launched headless from $CALLINTEL_TEST_CHROMIUM
    page      (function)  a Page in a fresh context: viewport 1280x900, locale "en-US" (or the
                          indirect parameter: a locale such as "zh-CN", or a dict of context
                          options), timezone Asia/Shanghai; `page.errors` lists console errors and
                          uncaught page errors; a failed test saves a screenshot of it.
    new_page  (function)  new_page(locale="en-US", **context_options) -> Page, for tests that need
                          more than one page or context; closed after the test.
Helpers:
    serve(app) -> context manager yielding "http://127.0.0.1:PORT": the ASGI app under uvicorn
                          on a free loopback port, in a background thread.
    serve_console(tmp, analyzer) -> context manager yielding (base URL, qa key of dealer d1, Database):
                          the service on a new SQLite database, `analyzer` its in-process worker
                          (None: no worker), served as `serve` does.
    save_screenshot(page, name) -> Path: a full-page PNG in artifacts_dir().
    artifacts_dir() -> Path: $CALLINTEL_TEST_ARTIFACTS, default /tmp/callintel-test-artifacts.

Why `chromium` is module-scoped, not session-scoped: while Playwright's sync API is started, the
main thread counts as running an asyncio loop (between calls too), so `asyncio.run()` there raises
"cannot be called from a running event loop". Stopping Playwright after each module keeps that
from leaking into the other test modules. A launch takes under a second.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import httpx
import pytest
import uvicorn

from callintel.store.db import Database

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page

CHROMIUM_ENV = "CALLINTEL_TEST_CHROMIUM"
ARTIFACTS_ENV = "CALLINTEL_TEST_ARTIFACTS"
EXTRA_ARGS_ENV = "CALLINTEL_TEST_CHROMIUM_ARGS"
DEFAULT_ARTIFACTS = Path("/tmp/callintel-test-artifacts")

VIEWPORT = {"width": 1280, "height": 900}
DEFAULT_LOCALE = "en-US"
TIMEZONE = "Asia/Shanghai"
# Playwright's default is 30 s for every action; a broken page should fail sooner.
ACTION_TIMEOUT_MS = 15_000

_failed_key = pytest.StashKey[bool]()
_saved: list[Path] = []


class BrowserPage(Protocol):
    """For annotations: a Playwright Page with the `errors` list that the `page` fixture adds."""

    errors: list[str]

    def __getattr__(self, name: str) -> Any: ...


# --- the browser -------------------------------------------------------------------------------


def chromium_path() -> str:
    """$CALLINTEL_TEST_CHROMIUM; skips the test where it is unset, fails where CI is set."""
    path = os.environ.get(CHROMIUM_ENV)
    if not path:
        message = f"no browser: set {CHROMIUM_ENV} (scripts/chromium.sh installs Debian's chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {CHROMIUM_ENV} is not: `make test` sets it", pytrace=False)
        pytest.skip(message)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(f"{CHROMIUM_ENV}={path} is not an executable file", pytrace=False)
    return path


def launch_args() -> list[str]:
    # Chromium refuses to start as root with its sandbox on; CI runs as root.
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    return args + os.environ.get(EXTRA_ARGS_ENV, "").split()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Debian's chromium, headless, driven by Playwright; one per test module (see the docstring)."""
    executable = chromium_path()
    # Nothing here may fetch a browser; the variable also covers tools that Playwright spawns.
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        if os.environ.get("CI"):
            pytest.fail(f"playwright is not installed ({error}): it is in the `test` extra", pytrace=False)
        pytest.skip(f"playwright is not installed ({error}): pip install -e '.[test]'")
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=launch_args())
    except BaseException:
        playwright.stop()
        raise
    try:
        yield browser
    finally:
        try:
            browser.close()
        finally:
            playwright.stop()


def _context_options(locale: str, options: dict[str, Any]) -> dict[str, Any]:
    return {
        "viewport": dict(VIEWPORT),
        "locale": locale,
        "timezone_id": TIMEZONE,
        "color_scheme": "light",
        "device_scale_factor": 1,
        **options,
    }


def _open(browser: Browser, locale: str, options: dict[str, Any]) -> Page:
    context = browser.new_context(**_context_options(locale, options))
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        location = message.location
        # The browser asks for /favicon.ico by itself; a page without one is no page error.
        if message.type == "error" and not str(location.get("url", "")).endswith("/favicon.ico"):
            where = f" ({location.get('url')}:{location.get('lineNumber')})" if location.get("url") else ""
            errors.append(f"console.error: {message.text}{where}")

    def on_page_error(error: Any) -> None:
        errors.append(f"uncaught: {getattr(error, 'message', error)}")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    page.errors = errors  # type: ignore[attr-defined]
    return page


def _screenshot_if_failed(request: pytest.FixtureRequest, page: Page, suffix: str = "") -> None:
    if request.node.stash.get(_failed_key, False) and not page.is_closed():
        with contextlib.suppress(Exception):
            save_screenshot(page, f"FAILED-{request.node.nodeid}{suffix}")


@pytest.fixture
def page(chromium: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh page (own context); parametrize indirectly with a locale or a dict of context options."""
    param = getattr(request, "param", DEFAULT_LOCALE)
    options = dict(param) if isinstance(param, dict) else {"locale": param}
    locale = options.pop("locale", DEFAULT_LOCALE)
    opened = _open(chromium, locale, options)
    try:
        yield opened
    finally:
        _screenshot_if_failed(request, opened)
        opened.context.close()


@pytest.fixture
def new_page(chromium: Browser, request: pytest.FixtureRequest) -> Iterator[Callable[..., Page]]:
    """new_page(locale="en-US", **context_options): more pages, each in its own context."""
    pages: list[Page] = []

    def make(locale: str = DEFAULT_LOCALE, **options: Any) -> Page:
        pages.append(_open(chromium, locale, options))
        return pages[-1]

    try:
        yield make
    finally:
        for index, opened in enumerate(pages):
            _screenshot_if_failed(request, opened, f"-{index}")
            opened.context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    if report.when == "call" and report.failed:
        item.stash[_failed_key] = True
    return report


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _saved:
        terminalreporter.write_line(f"browser screenshots ({len(_saved)}): {artifacts_dir()}")


# --- screenshots -------------------------------------------------------------------------------


def artifacts_dir() -> Path:
    """Where screenshots go: $CALLINTEL_TEST_ARTIFACTS, default /tmp/callintel-test-artifacts."""
    directory = Path(os.environ.get(ARTIFACTS_ENV) or DEFAULT_ARTIFACTS)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def save_screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """A PNG of the page named after ``name`` (made file-name safe); prints and returns its path."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name.removesuffix(".png")).strip("._") or "screenshot"
    path = artifacts_dir() / f"{stem[:150]}.png"
    page.screenshot(path=str(path), full_page=full_page)
    _saved.append(path)
    print(f"screenshot: {path}")
    return path


# --- a real HTTP server ------------------------------------------------------------------------


@contextlib.contextmanager
def serve(app: Any, *, host: str = "127.0.0.1", startup_timeout: float = 20.0) -> Iterator[str]:
    """Runs the ASGI ``app`` under uvicorn on a free port of ``host``; yields its base URL.

    The socket is bound here (port 0), so there is no race for the port. The server runs in a
    daemon thread with its own event loop and is stopped with `should_exit` (then `force_exit`,
    for connections the browser keeps open) when the block ends.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    url = f"http://{host}:{port}"
    config = uvicorn.Config(
        app, log_level="warning", lifespan="auto", timeout_graceful_shutdown=2, access_log=False
    )
    server = uvicorn.Server(config)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as error:  # SystemExit from a failed startup, too
            failure.append(error)

    thread = threading.Thread(target=run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    try:
        _wait_until_answering(url, server, thread, failure, startup_timeout)
        yield url
    finally:
        server.should_exit = True
        thread.join(5)
        if thread.is_alive():
            server.force_exit = True
            thread.join(5)
        sock.close()


@contextlib.contextmanager
def serve_console(tmp: Path, analyzer: Any = None) -> Iterator[tuple[str, str, Database]]:
    """The service on a new SQLite database in ``tmp``, served on loopback, with ``analyzer``
    (an :data:`callintel.service.worker.Analyzer`) as its one in-process worker, or no worker when None;
    yields its base URL, a qa key scoped to dealer d1, and the database (to seed calls)."""
    from api import create_app
    from callintel.store.db import upgrade
    from tests.service_helpers import make_key, service_settings

    url = f"sqlite:///{tmp / 'console.db'}"
    upgrade(url)
    db = Database(url)
    key = make_key(db, "qa", "d1")
    app = create_app(
        service_settings(tmp, url),
        analyzer=(lambda: analyzer) if analyzer is not None else None,
        in_process_workers=1 if analyzer is not None else 0,
        db=db,
        sync_analysis=False,
    )
    try:
        with serve(app) as base:
            yield base, key, db
    finally:
        db.dispose()


def _wait_until_answering(
    url: str, server: uvicorn.Server, thread: threading.Thread, failure: list[BaseException], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(trust_env=False, timeout=1.0) as client:
        while True:
            if not thread.is_alive():
                raise RuntimeError(
                    f"the test server at {url} stopped while starting: {failure or 'no error'}"
                )
            if server.started:
                try:
                    client.get(url + "/")
                    return  # any HTTP answer, a 404 too
                except httpx.TransportError:
                    pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the test server at {url} did not answer within {timeout:.0f}s")
            time.sleep(0.05)
