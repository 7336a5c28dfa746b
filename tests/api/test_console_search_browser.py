"""The console's search, in a real headless browser, in Chinese and English: the calls list's
search box, the results (snippet with the match marked, who said it, when), the filters, and a
result opening the call at that moment with the player moved there."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from callintel.options import AnalysisOptions
from callintel.result import AnalysisResult
from callintel.transcript import Turn
from tests.browser import BrowserPage, save_screenshot, serve_console
from tests.service_helpers import FakeAnalyzer, auth, fake_result

pytest_plugins = ["tests.browser"]
pytestmark = pytest.mark.browser

TURNS = (
    Turn("sales", "S1", None, 0.0, 3.0, "您好，欢迎光临，我是销售顾问小王", ()),
    Turn("customer", "S2", None, 3.5, 7.0, "我在看比亚迪汉，也想听听你们的最低价", ()),
    Turn("sales", "S1", None, 7.5, 10.5, "This is the lowest price we can offer today.", ()),
)

# What a person reads, per interface language.
TEXT = {
    "zh": {
        "box": "搜索通话内容",
        "button": "搜索",
        "said_by": "说话人",
        "sales": "销售",
        "customer": "客户",
        "anyone": "全部",
        "total": "第 1–1 条，共 1 句",
        "at": "时间 0:03",
        "none": "没有找到说过这些话的句子。",
        "invalid": "请输入要搜索的文字、数字或汉字（最多 200 个字符）。",
        "nav": "搜索",
    },
    "en": {
        "box": "Search the transcripts",
        "button": "Search",
        "said_by": "Said by",
        "sales": "Salesperson",
        "customer": "Customer",
        "anyone": "anyone",
        "total": "Turns 1–1 of 1",
        "at": "at 0:03",
        "none": "No turn says this.",
        "invalid": "Type words, numbers or Chinese characters to search for (at most 200 characters).",
        "nav": "Search",
    },
}


class SearchAnalyzer(FakeAnalyzer):
    def __call__(self, path: Path, options: AnalysisOptions, scorecard: Any = None) -> AnalysisResult:
        self.calls.append((path, options))
        return fake_result(options, turns=TURNS, duration=11.0)


@pytest.fixture
def console(tmp_path: Path, audio_dir: Path) -> Iterator[tuple[str, str, str]]:
    """The served console with one analysed call (jfk.flac, transcript TURNS): base, key, call id."""
    with serve_console(tmp_path, SearchAnalyzer()) as (base, key, _):
        with (audio_dir / "jfk.flac").open("rb") as f:
            answer = httpx.post(
                f"{base}/v1/calls", files={"audio": ("jfk.flac", f)}, data={"dealer": "d1"}, headers=auth(key)
            )
        assert answer.status_code == 202, answer.text
        call_id = answer.json()["id"]
        deadline = time.monotonic() + 30
        while httpx.get(f"{base}/v1/calls/{call_id}", headers=auth(key)).json()["status"] != "done":
            assert time.monotonic() < deadline, "the worker did not analyse the call"
            time.sleep(0.1)
        yield base, key, call_id


def sign_in(page: BrowserPage, base: str, key: str, lang: str) -> None:
    page.goto(f"{base}/console/signin?lang={lang}")
    page.locator("#api-key").fill(key)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/console/calls"))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_search_from_the_calls_list_and_open_the_call_at_that_moment(
    page: BrowserPage, console: tuple[str, str, str], lang: str
) -> None:
    base, key, call_id = console
    text = TEXT[lang]
    sign_in(page, base, key, lang)
    page.goto(f"{base}/console/calls?lang={lang}")
    expect(page.get_by_role("navigation").get_by_role("link", name=text["nav"], exact=True)).to_be_visible()
    page.get_by_label(text["box"]).fill("比亚迪")
    page.get_by_role("search").get_by_role("button", name=text["button"], exact=True).click()

    expect(page).to_have_url(re.compile(r"/console/search\?.*q=%E6%AF%94%E4%BA%9A%E8%BF%AA"))
    hits = page.locator("#hits li")
    expect(hits).to_have_count(1)
    hit = hits.first
    expect(hit.locator(".snippet")).to_have_text("我在看比亚迪汉，也想听听你们的最低价")
    expect(hit.locator("mark")).to_have_text(["比亚迪"])
    expect(hit.locator(".meta")).to_contain_text(text["at"])
    expect(hit.locator(".meta")).to_contain_text(text["customer"])
    expect(hit.locator(".meta")).to_contain_text("d1")
    # When the call was, in the browser's time zone, with the zone shown.
    expect(hit.locator(".meta")).to_contain_text(re.compile(r"20\d\d-\d\d-\d\d \d\d:\d\d \(Asia/Shanghai\)"))
    expect(page.locator("#search-total")).to_have_text(text["total"])

    # Who said it: the salesperson never said 比亚迪.
    page.get_by_label(text["said_by"]).select_option(label=text["sales"])
    page.locator("#search-form").get_by_role("button", name=text["button"], exact=True).click()
    expect(page.locator("#no-hits")).to_have_text(text["none"])
    expect(hits).to_have_count(0)
    page.get_by_label(text["said_by"]).select_option(label=text["anyone"])
    page.locator("#search-form").get_by_role("button", name=text["button"], exact=True).click()
    expect(hits).to_have_count(1)
    body = page.locator("body").inner_text()
    assert "<built-in" not in body and "undefined" not in body and "NaN" not in body
    save_screenshot(page, f"console-search-{lang}")

    # The result opens the call at that moment: the turn is current and the player is there.
    hit.locator(".snippet").click()
    expect(page).to_have_url(re.compile(rf"/console/calls/{call_id}\?t=3\.5&lang={lang}"))
    turn = page.locator("#turn-1")
    expect(turn).to_have_class(re.compile(r"\bcurrent\b"))
    expect(turn).to_be_focused()
    assert page.evaluate("document.getElementById('audio').currentTime") == pytest.approx(3.5, abs=0.05)
    assert page.errors == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_english_phrase_and_a_query_with_nothing_to_search(
    page: BrowserPage, console: tuple[str, str, str], lang: str
) -> None:
    base, key, _ = console
    text = TEXT[lang]
    sign_in(page, base, key, lang)
    page.goto(f"{base}/console/search?lang={lang}")
    field = page.get_by_label(re.compile({"zh": "关键词或短语", "en": "Words or phrase"}[lang]))
    field.fill('"lowest prices"')
    field.press("Enter")
    expect(page.locator("#hits li mark")).to_have_text(["lowest price"])
    expect(page.locator("#hits li .meta")).to_contain_text(text["sales"])

    field.fill("*** !!")
    field.press("Enter")
    expect(page.locator("#toast")).to_have_text(text["invalid"])
    assert [e for e in page.errors if "422" not in e] == []
