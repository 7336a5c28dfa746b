"""The browser-test machinery itself (tests/browser.py): Debian's chromium under Playwright, a real
uvicorn server on loopback, keyboard use, labels, console errors, locales and screenshots."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from playwright.sync_api import expect

from tests.browser import BrowserPage, save_screenshot, serve

pytest_plugins = ["tests.browser"]
pytestmark = pytest.mark.browser

PAGE = """<!doctype html>
<html lang="zh-CN">
<head><meta charset="utf-8"><title>冒烟测试 Smoke test</title>
<style>body { font: 18px sans-serif; margin: 2em; } #greeting { font-size: 28px; }</style></head>
<body>
  <h1>销售通话分析 Sales call analysis</h1>
  <p>欢迎光临，请问您想看哪款车？ Welcome, which car would you like to see?</p>
  <label for="name">客户姓名 Customer name</label>
  <input id="name" name="name" type="text" autocomplete="off">
  <button id="greet" type="button">问候 Greet</button>
  <p id="greeting" aria-live="polite">尚未问候 Not greeted yet</p>
  <p id="language"></p>
  <script>
    document.getElementById("language").textContent = navigator.language;
    document.getElementById("greet").addEventListener("click", () => {
      const name = document.getElementById("name").value;
      document.getElementById("greeting").textContent = "您好，" + name + "！ Hello, " + name + "!";
    });
  </script>
</body>
</html>
"""

BROKEN = """<!doctype html><html><head><meta charset="utf-8"><title>broken</title></head>
<body><script>console.error("deliberate console error"); undefinedFunction();</script></body></html>"""


def make_app() -> FastAPI:
    app = FastAPI()

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return PAGE

    @app.get("/broken", response_class=HTMLResponse)
    def broken() -> str:
        return BROKEN

    @app.get("/accept-language")
    def accept_language(request: Request) -> dict[str, str]:
        return {"accept_language": request.headers.get("accept-language", "")}

    return app


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve(make_app()) as url:
        yield url


def test_keyboard_labels_and_a_screenshot(page: BrowserPage, base_url: str) -> None:
    page.goto(base_url + "/")
    expect(page).to_have_title("冒烟测试 Smoke test")

    # The label is associated with its input (<label for>): found by its accessible name.
    name = page.get_by_label("客户姓名 Customer name")
    expect(name).to_have_attribute("id", "name")

    # Keyboard only: Tab to the input, type, Tab to the button, Enter.
    page.keyboard.press("Tab")
    expect(name).to_be_focused()
    page.keyboard.type("张伟 Zhang Wei")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="问候 Greet")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#greeting")).to_have_text("您好，张伟 Zhang Wei！ Hello, 张伟 Zhang Wei!")

    assert page.viewport_size == {"width": 1280, "height": 900}
    assert page.errors == []

    path = save_screenshot(page, "browser-smoke")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(data[16:20], "big") == 1280  # the IHDR width: the fixed viewport
    assert len(data) > 10_000  # text and controls, not a blank page


@pytest.mark.parametrize("page", ["zh-CN"], indirect=True)
def test_the_locale_reaches_the_page_and_the_server(page: BrowserPage, base_url: str) -> None:
    page.goto(base_url + "/")
    expect(page.locator("#language")).to_have_text("zh-CN")
    # A request the page makes, with the headers the browser sends for this locale.
    answer = page.evaluate("fetch('/accept-language').then((response) => response.json())")
    assert answer["accept_language"].startswith("zh-CN")
    assert page.errors == []


def test_console_and_page_errors_are_collected(page: BrowserPage, base_url: str) -> None:
    page.goto(base_url + "/broken")
    # The events come in order with the navigation's, but give them a moment all the same.
    for _ in range(50):
        if len(page.errors) >= 2:
            break
        page.wait_for_timeout(100)
    assert any("deliberate console error" in error for error in page.errors), page.errors
    assert any(error.startswith("uncaught:") and "undefinedFunction" in error for error in page.errors)
