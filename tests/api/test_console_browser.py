"""The QA console in a real headless browser (Debian's chromium, Playwright): sign in, upload a
recording, wait for its analysis, open the call, play and seek, correct a checkpoint, reload
and see the correction. The analysis is the test's stand-in for the pipeline (FakeAnalyzer);
the upload, worker, storage and review are the service's own."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser import BrowserPage, save_screenshot, serve_console
from tests.service_helpers import FakeAnalyzer

pytest_plugins = ["tests.browser"]
pytestmark = pytest.mark.browser


@pytest.fixture
def console(tmp_path: Path) -> Iterator[tuple[str, str]]:
    with serve_console(tmp_path, FakeAnalyzer()) as (base, key, _):
        yield base, key


def test_upload_review_and_reload(page: BrowserPage, console: tuple[str, str], audio_dir: Path) -> None:
    base, key = console
    page.goto(f"{base}/console/calls?lang=en")
    expect(page).to_have_url(re.compile(r"/console/signin"))
    page.get_by_label("API key").fill(key)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/console/calls"))

    page.goto(f"{base}/console/upload?lang=en")
    expect(page.get_by_label("Dealer")).to_have_value("d1")  # the key's one dealer, chosen
    page.get_by_label("Customer").fill("c-7")
    page.get_by_label("Choose files").set_input_files(str(audio_dir / "jfk.flac"))
    page.get_by_role("button", name="Upload", exact=True).click()
    link = page.locator("#uploads li.ok a")
    expect(link).to_be_visible()
    link.click()

    expect(page.locator("#score")).to_have_text("80/100", timeout=20_000)  # the worker analysed it
    turns = page.locator("#transcript li")
    expect(turns).to_have_count(2)
    expect(turns.nth(1)).to_contain_text("我想看看领克08")
    expect(page.locator("#grade")).to_have_text("A")

    # Play, then seek by clicking the second turn: the player moves there and the turn is current.
    page.evaluate("document.getElementById('audio').muted = true")
    page.keyboard.press("Space")
    turns.nth(1).click()
    expect(turns.nth(1)).to_have_class(re.compile(r"\bcurrent\b"))
    assert page.evaluate("document.getElementById('audio').currentTime") >= 2.0

    # Correct a checkpoint with the keyboard: focus it, press P (mark passed).
    verdict = page.locator('.checkpoint[data-key="needs_discovery"] .verdict')
    expect(verdict).to_have_value("missed")
    verdict.focus()
    page.keyboard.press("p")
    expect(page.locator("#toast")).to_have_text("Saved")
    page.reload()
    expect(page.locator('.checkpoint[data-key="needs_discovery"] .verdict')).to_have_value("passed")
    expect(page.locator('.checkpoint[data-key="needs_discovery"]')).to_contain_text("reviewed")
    expect(page.locator("#reviewed-badge")).to_be_visible()
    # The score counts the correction (both checkpoints passed now); the model's stays beside it.
    expect(page.locator("#score")).to_have_text("100/100 (model: 80)")
    shot = save_screenshot(page, "console-call-page")
    assert shot.stat().st_size > 20_000
    assert page.errors == []


def test_a_rejected_file_shows_its_error_and_the_list_filters(
    page: BrowserPage, console: tuple[str, str], tmp_path: Path
) -> None:
    base, key = console
    page.goto(f"{base}/console/signin?lang=zh")
    page.get_by_label("API 密钥").fill(key)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(re.compile(r"/console/calls"))
    page.goto(f"{base}/console/upload?lang=zh")
    bogus = tmp_path / "notes.wav"
    bogus.write_text("not audio at all")
    expect(page.get_by_label("经销商")).to_have_value("d1")
    page.get_by_label("选择文件").set_input_files(str(bogus))
    page.get_by_role("button", name="上传", exact=True).click()
    rejected = page.locator("#uploads li.rejected")
    expect(rejected).to_contain_text("被拒绝")
    page.goto(f"{base}/console/calls?lang=zh")
    expect(page.locator("#empty")).to_be_visible()
    # Keyboard only: the filter form's controls are reachable by Tab, each with its label.
    page.get_by_label("经销商").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.name") == "salesperson_id"
    assert [e for e in page.errors if "422" not in e and "415" not in e] == []
