"""/docs and /redoc work without the internet: every script, style and icon they load is served by
the service itself (issue 17: FastAPI's defaults load them from CDNs that many dealer networks
cannot reach, and the pages stay blank)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Route, expect

from api import create_app
from callintel.store.db import Database
from tests.browser import BrowserPage, serve
from tests.service_helpers import fresh_database_url, service_settings

pytest_plugins = ["tests.browser"]


class _References(HTMLParser):
    """Every URL a page makes the browser load: src and href attributes, and ReDoc's spec-url."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "spec-url") and value:
                self.urls.append(value)


def references(html: str) -> list[str]:
    parser = _References()
    parser.feed(html)
    # Swagger UI is given the OpenAPI document's URL in its inline script.
    parser.urls += re.findall(r"""\burl:\s*['"]([^'"]+)['"]""", html)
    return parser.urls


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    database = Database(fresh_database_url("sqlite", tmp_path))
    app = create_app(
        service_settings(tmp_path, database.url), in_process_workers=0, sync_analysis=False, db=database
    )
    with TestClient(app) as test_client:
        yield test_client
    database.dispose()


@pytest.mark.parametrize(("page", "assets"), [("/docs", 3), ("/redoc", 2)])
def test_docs_pages_load_every_asset_from_the_service(client: TestClient, page: str, assets: int) -> None:
    response = client.get(page)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    urls = references(response.text)
    # Swagger UI: its CSS, favicon, script and the OpenAPI document; ReDoc: favicon, script, document.
    assert len([u for u in urls if not u.endswith("openapi.json")]) == assets, urls
    assert "/openapi.json" in urls
    for url in urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc, f"{page} loads {url} from another host"
        asset = client.get(urljoin(f"http://testserver{page}", url))
        assert asset.status_code == 200, url
        assert len(asset.content) > 100, url
    # Nothing else on the page reaches out either (no Google Fonts, no validator badge).
    assert "http://" not in response.text and "https://" not in response.text
    assert "fonts.googleapis" not in response.text
    # And whatever a bundled script would fetch from elsewhere, the browser refuses.
    policy = response.headers["content-security-policy"]
    assert "img-src 'self' data:" in policy and "connect-src 'self'" in policy and "font-src 'self'" in policy


def test_docs_assets_reach_nothing_outside(client: TestClient) -> None:
    html = client.get("/docs").text
    css_url = next(u for u in references(html) if u.endswith(".css"))
    css = client.get(css_url).text
    # A stylesheet may load fonts or images: every url(...) in it is inline data.
    assert [u for u in re.findall(r"url\(([^)]*)\)", css) if not u.strip("'\" ").startswith("data:")] == []
    script = client.get(next(u for u in references(html) if u.endswith(".js")))
    assert script.headers["content-type"].split(";")[0] in ("text/javascript", "application/javascript")


@pytest.mark.browser
@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_render_with_every_other_host_unreachable(page: BrowserPage, tmp_path: Path, path: str) -> None:
    """The pages render the API's operations in chromium while any request to another host fails,
    as in a dealer network without the internet."""
    database = Database(fresh_database_url("sqlite", tmp_path))
    app = create_app(
        service_settings(tmp_path, database.url), in_process_workers=0, sync_analysis=False, db=database
    )
    elsewhere: list[str] = []
    with serve(app) as url:

        def only_this_host(route: Route) -> None:
            if route.request.url.startswith(url):
                route.continue_()
            else:
                elsewhere.append(route.request.url)
                route.abort()

        page.route("**/*", only_this_host)
        page.goto(url + path)
        # The operations "POST /v1/calls" and "GET /v1/calls", drawn by the bundled script: Swagger
        # UI lists their summaries, ReDoc gives each a heading.
        for summary in ("Upload Call", "List Calls"):
            drawn = (
                page.get_by_role("heading", name=summary) if path == "/redoc" else page.get_by_text(summary)
            )
            expect(drawn.first).to_be_visible(timeout=20_000)
    database.dispose()
    assert elsewhere == []
    # ReDoc's bundle hard-codes Redocly's logo from its CDN: the page's policy blocks it before any
    # request leaves (and ReDoc hides the image). Nothing else may fail.
    assert [e for e in page.errors if "cdn.redoc.ly" not in e or "Content Security Policy" not in e] == []
