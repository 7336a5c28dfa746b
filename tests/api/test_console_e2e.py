"""The QA console end to end in a real headless browser (Debian's chromium driven by Playwright).

* With the real pipeline and the real understanding models (slow): sign in through the page,
  upload a real Mandarin recording with its scenario metadata, wait for the analysis, open the
  call, play and seek, correct a checkpoint, reload and see the correction; a screenshot of the
  call page is saved.
* Accessibility basics on every console page (sign-in, calls, upload, an analysed call, team,
  search) in both languages, with a stand-in analysis so that they run in seconds: every control
  has an accessible name and none sits inside another, charts are named images (or groups) or
  hidden, the page's language, one h1, one main landmark; Tab from the top reaches every
  control in document order with a visible focus and comes round again (no trap); the call
  page's keyboard shortcuts work from the keyboard alone.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from playwright.sync_api import expect

from api.console.i18n import TEXT
from callintel.audio.decode import SAMPLE_RATE, load_audio
from callintel.options import AnalysisOptions
from callintel.result import AnalysisResult
from callintel.settings import Settings
from callintel.understand.metrics import conversation_metrics
from callintel.understand.types import TurnSentiment
from tests.browser import BrowserPage, save_screenshot, serve_console
from tests.helpers import write_audio
from tests.service_helpers import FakeAnalyzer, auth

pytest_plugins = ["tests.browser"]
pytestmark = pytest.mark.browser

LANGS = ("en", "zh")
PAGES = ("signin", "calls", "upload", "call", "team", "search")
# The two Mandarin recordings of shared/data (README there): two different speakers.
MANDARIN = ("zh_aishell_BAC009S0724W0121.wav", "zh_funasr_asr_example.wav")
ANALYSIS_TIMEOUT_S = 240


# --- shared helpers ----------------------------------------------------------------------------


def upload(base: str, key: str, path: Path, **fields: str) -> str:
    """Upload ``path`` through the REST API; the new call's id."""
    with httpx.Client(base_url=base, trust_env=False, timeout=30) as client:
        with path.open("rb") as audio:
            answer = client.post(
                "/v1/calls",
                headers=auth(key),
                data={"dealer": "d1", **fields},
                files={"audio": (path.name, audio, "application/octet-stream")},
            )
    assert answer.status_code in (200, 202), answer.text
    call_id: str = answer.json()["id"]
    return call_id


def get_call(base: str, key: str, call_id: str) -> dict[str, Any]:
    with httpx.Client(base_url=base, trust_env=False, timeout=30) as client:
        answer = client.get(f"/v1/calls/{call_id}", headers=auth(key))
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def wait_until_done(base: str, key: str, call_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        call = get_call(base, key, call_id)
        if call["status"] == "done":
            return call
        assert call["status"] != "failed", f"the analysis failed: {call['error']}"
        assert time.monotonic() < deadline, f"call {call_id} still {call['status']} after {timeout:.0f}s"
        time.sleep(0.3)


def sign_in(page: BrowserPage, base: str, key: str, lang: str) -> None:
    """Sign in through the sign-in page, with the keyboard: type the key, press Enter."""
    page.goto(f"{base}/console/signin?lang={lang}")
    page.get_by_label(TEXT[lang]["api_key"], exact=True).fill(key)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/console/calls"))


def wait_for(page: BrowserPage, script: str, arg: Any = None, timeout: float = 15.0) -> None:
    """Until the function ``script`` is true in the page. (Playwright's wait_for_function evaluates
    its text inside the page, which the console's Content-Security-Policy rightly forbids.)"""
    deadline = time.monotonic() + timeout
    while not page.evaluate(script, arg):
        assert time.monotonic() < deadline, f"not true within {timeout:.0f}s: {script}"
        page.wait_for_timeout(100)


def audio_time(page: BrowserPage) -> float:
    return float(page.evaluate("document.getElementById('audio').currentTime"))


# --- 1. the real pipeline ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def mandarin_call(tmp_path_factory: pytest.TempPathFactory, audio_dir: Path) -> Path:
    """A real two-party Mandarin call, 16 kHz stereo like a call-centre recording: one speaker
    on the left channel (the agent's, channel 0), then, after 0.8 s, the other on the right.

    The shared recordings hold no Mandarin conversation, only two single-speaker clips (4.3 s
    and 5.5 s); one clip alone would give one speaker, hence one role. Laid one after the other
    on the two channels they are a real two-speaker call of about 11 s."""
    first, second = (load_audio(audio_dir / name).mono() for name in MANDARIN)
    gap = int(0.8 * SAMPLE_RATE)
    length = len(first) + gap + len(second)
    left, right = np.zeros(length, np.float32), np.zeros(length, np.float32)
    left[: len(first)] = first
    right[len(first) + gap :] = second
    path = tmp_path_factory.mktemp("mandarin") / "zh_two_party_call.wav"
    return write_audio(path, np.stack([left, right]), SAMPLE_RATE, "pcm_s16le", "wav")


def understanding_analyzer(pipeline: Any, settings: Settings, understanding_dir: Path) -> Any:
    """The worker's analyser on the session's pipeline, with the understanding models of
    ``understanding_dir`` (the session's pipeline may have been loaded before they were trained)."""
    from callintel.pipeline import Pipeline, load_understander
    from callintel.service.worker import pipeline_analyzer

    if pipeline.understander is None:
        pipeline = Pipeline(
            pipeline.transcriber,
            pipeline.roles,
            pipeline.hotwords,
            lambda: pipeline.diarizer,
            load_understander(settings, understanding_dir),
        )
    return pipeline_analyzer(pipeline)


@pytest.fixture
def real_console(
    tmp_path: Path, settings: Settings, understanding_dir: Path, pipeline: Any
) -> Iterator[tuple[str, str]]:
    """The service with the real pipeline as its in-process worker, on loopback; its qa key."""
    analyze = understanding_analyzer(pipeline, settings, understanding_dir)
    with serve_console(tmp_path, analyze) as (base, key, _):
        yield base, key


@pytest.mark.slow
def test_real_recording_end_to_end(
    page: BrowserPage, real_console: tuple[str, str], mandarin_call: Path
) -> None:
    base, key = real_console
    t = TEXT["zh"]
    # Sign in through the page, the way a QA reviewer does.
    page.goto(f"{base}/console/calls?lang=zh")
    expect(page).to_have_url(re.compile(r"/console/signin"))
    page.get_by_label(t["api_key"], exact=True).fill(key)
    page.get_by_role("button", name=t["sign_in"], exact=True).click()
    expect(page).to_have_url(re.compile(r"/console/calls"))

    # Upload the recording through the upload page's file input, with the scenario metadata.
    page.goto(f"{base}/console/upload?lang=zh")
    expect(page.get_by_label(t["dealer"])).to_have_value("d1")  # the key's one dealer
    page.get_by_label(t["scenario"]).select_option("inbound_call")
    page.get_by_label(t["salesperson"]).fill("sp-li")
    page.get_by_label(t["customer"]).fill("cust-wang")
    page.get_by_label(t["choose_files"]).set_input_files(str(mandarin_call))
    page.get_by_role("button", name=t["start_upload"], exact=True).click()
    link = page.locator("#uploads li.ok a")
    expect(link).to_be_visible()
    call_id = (link.get_attribute("href") or "").split("/console/calls/")[-1].split("?")[0]
    assert call_id, link.get_attribute("href")

    # The call page waits for the analysis (it polls) and then shows it.
    link.click()
    expect(page).to_have_url(re.compile(rf"/console/calls/{re.escape(call_id)}"))
    expect(page.locator("#score")).to_have_text(re.compile(r"^\d+/100$"), timeout=ANALYSIS_TIMEOUT_S * 1000)
    expect(page.locator("#waiting")).to_be_hidden()
    call = get_call(base, key, call_id)
    assert call["status"] == "done"
    assert (call["scenario"], call["salesperson_id"], call["customer_id"]) == (
        "inbound_call",
        "sp-li",
        "cust-wang",
    )

    # The calls list shows it done, with its metadata; open it from there.
    page.goto(f"{base}/console/calls?lang=zh")
    row = page.locator("#calls-table tbody tr").filter(has=page.locator(f'a[href*="{call_id}"]'))
    expect(row).to_have_count(1)
    expect(row.locator("td.status")).to_have_text(t["done"])
    expect(row).to_contain_text("sp-li")
    expect(row).to_contain_text("cust-wang")
    expect(row).to_contain_text(t.get("scenario_inbound_call", "inbound_call"))
    row.locator("a").click()
    expect(page).to_have_url(re.compile(rf"/console/calls/{re.escape(call_id)}"))

    # Transcript: the turns of the analysis, Mandarin text, both roles.
    transcript = call["transcript"]
    assert transcript and {turn["role"] for turn in transcript} == {"sales", "customer"}, transcript
    turns = page.locator("#transcript li")
    expect(turns).to_have_count(len(transcript))
    expect(page.locator("#transcript li.sales").first).to_contain_text(t["sales"])
    expect(page.locator("#transcript li.customer").first).to_contain_text(t["customer_role"])
    texts = turns.locator(".text").all_inner_texts()
    assert all(re.search(r"[\u4e00-\u9fff]", text) for text in texts), texts
    # The scorecard lists the scenario's checkpoints; the grade is shown.
    checkpoints = call["scorecard"]["checkpoints"]
    assert checkpoints, call["scorecard"]
    expect(page.locator("#checkpoints li.checkpoint")).to_have_count(len(checkpoints))
    expect(page.locator("#grade")).to_have_text(call["intent"]["grade"])
    assert call["intent"]["grade"] in {"H", "A", "B", "C", "N"}

    # Play: the player's clock advances.
    audio = page.locator("#audio")
    wait_for(page, "() => document.getElementById('audio').readyState >= 2")
    page.evaluate("document.getElementById('audio').muted = true")
    before = audio_time(page)
    page.keyboard.press("Space")  # the console's shortcut, with the focus on the page
    wait_for(
        page,
        "([t]) => { const a = document.getElementById('audio');"
        " return !a.paused && a.currentTime > t + 0.5; }",
        [before],
    )
    # Seek: a click on the last turn moves the player to that turn's start.
    later = len(transcript) - 1
    start = float(transcript[later]["start"])
    assert start > 1.0, transcript  # a later turn, not the start of the recording
    page.evaluate(
        "() => { const a = document.getElementById('audio'); window.seekedTo = [];"
        " a.addEventListener('seeked', () => window.seekedTo.push(a.currentTime)); }"
    )
    turns.nth(later).click()
    wait_for(page, "() => window.seekedTo.length > 0")
    seeked = page.evaluate("window.seekedTo[0]")
    assert abs(seeked - start) <= 0.5, (seeked, start)
    expect(turns.nth(later)).to_have_class(re.compile(r"\bcurrent\b"))
    expect(audio).to_have_js_property("paused", False)

    # Correct a checkpoint with the page's control: choose the other verdict.
    key_name, item = next((k, v) for k, v in checkpoints.items() if v.get("applicable", True))
    verdict = page.locator(f'.checkpoint[data-key="{key_name}"] .verdict')
    was = item["passed"]
    expect(verdict).to_have_value("passed" if was else "missed")
    verdict.select_option("missed" if was else "passed")
    expect(page.locator("#toast")).to_have_text(t["saved"])
    expect(verdict).to_have_value("missed" if was else "passed")
    review = get_call(base, key, call_id)["review"]
    assert review is not None and review["checkpoints"] == {key_name: not was}, review

    # Reload: the correction is there, marked reviewed.
    page.reload()
    checkpoint = page.locator(f'.checkpoint[data-key="{key_name}"]')
    expect(checkpoint.locator(".verdict")).to_have_value("missed" if was else "passed")
    expect(checkpoint).to_have_class(re.compile(r"\bmissed\b" if was else r"\bpassed\b"))
    expect(checkpoint.locator(".state")).to_have_text(f"{t['missed' if was else 'passed']} ({t['reviewed']})")
    expect(page.locator("#reviewed-badge")).to_be_visible()
    expect(turns).to_have_count(len(transcript))

    shot = save_screenshot(page, "console-e2e-real-mandarin-call")
    assert shot.is_file()
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    assert page.errors == []


# --- 2. accessibility, with a stand-in analysis ------------------------------------------------


class ChartingAnalyzer(FakeAnalyzer):
    """The fake analysis, with conversation metrics so that the call page draws its charts."""

    def __call__(self, path: Path, options: AnalysisOptions, scorecard: Any = None) -> AnalysisResult:
        result = super().__call__(path, options, scorecard)
        # An 11 s call; the customer's one turn (2-4 s, the second quarter) is positive.
        sentiment = (TurnSentiment(1, "positive", 0.4, {"positive": 0.6, "neutral": 0.2, "negative": 0.2}),)
        metrics = conversation_metrics(result.turns, 11.0, result.language, sentiment)
        return replace(result, duration=11.0, metrics=metrics)


@dataclass(frozen=True)
class Console:
    base: str
    key: str
    call_id: str  # an analysed call
    recording: Path


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory, audio_dir: Path) -> Iterator[Console]:
    tmp = tmp_path_factory.mktemp("console-a11y")
    recording = audio_dir / "jfk.flac"
    with serve_console(tmp, ChartingAnalyzer()) as (base, key, _):
        call_id = upload(base, key, recording, salesperson_id="sp-1", customer_id="c-1")
        wait_until_done(base, key, call_id, timeout=30)
        yield Console(base, key, call_id, recording)


def open_page(page: BrowserPage, console: Console, name: str, lang: str, call_id: str | None = None) -> None:
    """Open console page ``name`` in ``lang``, signed in (except the sign-in page), once its data is in."""
    if name == "signin":
        page.goto(f"{console.base}/console/signin?lang={lang}")
        expect(page.locator("#api-key")).to_be_visible()
        return
    sign_in(page, console.base, console.key, lang)
    if name == "calls":
        page.goto(f"{console.base}/console/calls?lang={lang}")
        expect(page.locator("#calls-table tbody tr").first).to_be_visible()
    elif name == "upload":
        page.goto(f"{console.base}/console/upload?lang={lang}")
        expect(page.locator("#upload-form")).to_be_visible()
    elif name == "team":
        page.goto(f"{console.base}/console/team?lang={lang}")
        expect(page.locator("#people tbody tr").first).to_be_visible()
        expect(page.locator("#chart svg")).to_be_visible()
    elif name == "search":
        page.goto(f"{console.base}/console/search?lang={lang}&q=%E9%A2%86%E5%85%8B")  # 领克
        expect(page.locator("#hits li mark").first).to_have_text("领克")
    else:
        page.goto(f"{console.base}/console/calls/{call_id or console.call_id}?lang={lang}")
        expect(page.locator("#score")).to_have_text("80/100")
        expect(page.locator("#transcript li")).to_have_count(2)
        expect(page.locator("#metrics svg")).to_be_visible()
        wait_for(page, "() => document.getElementById('audio').readyState >= 1")
    page.wait_for_load_state("networkidle")


# What counts as a control, the accessible name of an element (the parts of the W3C accname
# computation that the console can use), visibility, and a short description for messages.
A11Y_JS = r"""
window.a11y = (() => {
  const CONTROLS = 'input, select, textarea, button, [role=button], a[href], [tabindex], audio[controls]';
  const INTERACTIVE = 'input, select, textarea, button, [role=button], a[href]';
  const FORM = new Set(['INPUT', 'SELECT', 'TEXTAREA']);
  const squash = (s) => (s || '').replace(/\s+/g, ' ').trim();
  const visible = (el) => el.checkVisibility({ visibilityProperty: true, contentVisibilityAuto: true });
  const describe = (el) => {
    const bits = [el.tagName.toLowerCase()];
    if (el.id) bits.push('#' + el.id);
    if (el.getAttribute('name')) bits.push(`[name=${el.getAttribute('name')}]`);
    if (el.getAttribute('type')) bits.push(`[type=${el.getAttribute('type')}]`);
    const classes = typeof el.className === 'string' ? el.className.trim() : '';
    if (classes) bits.push('.' + classes.split(/\s+/).join('.'));
    if (el.dataset && el.dataset.key) bits.push(`[data-key=${el.dataset.key}]`);
    return bits.join('') + ` "${squash(el.textContent).slice(0, 30)}"`;
  };
  // Text of a label without the text of the control it holds (a <select>'s options are no name).
  const labelText = (label) => {
    const copy = label.cloneNode(true);
    copy.querySelectorAll('input, select, textarea').forEach((c) => c.remove());
    return squash(copy.textContent);
  };
  const name = (el) => {
    const by = el.getAttribute('aria-labelledby');
    if (by) {
      const parts = by.split(/\s+/).map((id) => document.getElementById(id)?.textContent || '');
      const text = squash(parts.join(' '));
      if (text) return text;
    }
    const aria = squash(el.getAttribute('aria-label'));
    if (aria) return aria;
    if (el.labels && el.labels.length) {
      const text = squash([...el.labels].map(labelText).join(' '));
      if (text) return text;
    }
    if (el.tagName === 'INPUT' && ['submit', 'button', 'reset'].includes(el.type)) return squash(el.value);
    if (!FORM.has(el.tagName)) {
      const alts = [...el.querySelectorAll('img[alt]')].map((i) => i.alt);
      const text = squash(el.textContent) || squash(alts.join(' '));
      if (text) return text;
    }
    return squash(el.getAttribute('title'));
  };
  const isControl = (el) => el.matches(CONTROLS) && !(el.tagName === 'INPUT' && el.type === 'hidden');
  // A tab stop: an enabled, rendered control that sequential focus navigation may reach.
  const usable = (el) => isControl(el) && !el.disabled && !el.closest('[inert]') && visible(el);
  const isTabStop = (el) => usable(el)
    && (el.tabIndex >= 0 || (el.matches('audio[controls]') && !(el.getAttribute('tabindex') < 0)));
  // A working control that Tab never reaches (a role=button without tabindex, tabindex=-1).
  const isUnreachable = (el) => usable(el) && el.matches(INTERACTIVE) && !isTabStop(el);
  return { CONTROLS, visible, describe, name, isControl, isTabStop, isUnreachable };
})();
"""

AUDIT_JS = r"""
() => {
  const { CONTROLS, visible, describe, name, isControl } = window.a11y;
  const problems = { unnamed: [], nested: [], images: [], headings: [], main: [], lang: [], title: [] };
  for (const el of document.querySelectorAll(CONTROLS)) {
    if (!isControl(el) || !visible(el)) continue;
    if (el.matches('audio')) continue;  // the native player: its controls are the browser's, named by it
    if (!name(el)) problems.unnamed.push(describe(el));
    // A control inside a button or link: their content is presentational, the inner one is lost.
    const outer = el.parentElement?.closest('button, [role=button], a[href]');
    if (outer) problems.nested.push(`${describe(el)} inside ${describe(outer)}`);
  }
  for (const el of document.querySelectorAll('img, svg, canvas, [role=img]')) {
    if (!visible(el) || el.closest('[aria-hidden=true]')) continue;
    if (el.parentElement?.closest('svg')) continue;  // parts of a chart: the chart is checked
    const role = el.getAttribute('role');
    if (role === 'presentation' || role === 'none') continue;
    if (el.tagName === 'IMG') { if (!el.hasAttribute('alt')) problems.images.push(describe(el)); continue; }
    // A chart is an image, or a named group of the links it holds (group, figure).
    const roles = el.tagName === 'svg' ? ['img', 'group', 'figure'] : ['img'];
    if ((el.tagName === 'svg' || el.tagName === 'CANVAS') && !roles.includes(role)) {
      problems.images.push(`${describe(el)}: no role=img`);
    } else if (!name(el)) problems.images.push(`${describe(el)}: no name`);
  }
  const h1 = [...document.querySelectorAll('h1')];
  if (h1.length !== 1) problems.headings.push(`${h1.length} h1 elements`);
  else if (!name(h1[0])) problems.headings.push('an empty h1');
  const mains = document.querySelectorAll('main, [role=main]');
  if (mains.length !== 1) problems.main.push(`${mains.length} main landmarks`);
  if (!document.title.trim()) problems.title.push('no title');
  return { problems, lang: document.documentElement.lang };
}
"""

MARK_STOPS_JS = r"""
() => {
  const { describe, isTabStop, isUnreachable } = window.a11y;
  const all = [...document.querySelectorAll('*')];
  const stops = all.filter(isTabStop);
  stops.forEach((el, i) => { el.dataset.tabStop = String(i); });
  return { stops: stops.map(describe), unreachable: all.filter(isUnreachable).map(describe) };
}
"""

FOCUS_JS = r"""
() => {
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return null;
  const { visible, describe } = window.a11y;
  const box = el.getBoundingClientRect();
  const style = getComputedStyle(el);
  const drawn = (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0)
    || (style.boxShadow && style.boxShadow !== 'none');
  return {
    stop: el.dataset.tabStop === undefined ? null : Number(el.dataset.tabStop),
    what: describe(el),
    visible: visible(el) && box.width > 0 && box.height > 0
      && box.bottom > 0 && box.right > 0 && box.top < innerHeight && box.left < innerWidth,
    ring: Boolean(drawn) && el.matches(':focus-visible'),
  };
}
"""


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", PAGES)
def test_names_images_landmarks_and_language(
    page: BrowserPage, console: Console, name: str, lang: str
) -> None:
    open_page(page, console, name, lang)
    page.evaluate(A11Y_JS)
    audit = page.evaluate(AUDIT_JS)
    problems = audit["problems"]
    where = f"{name}?lang={lang}"
    assert problems["unnamed"] == [], f"controls without an accessible name on {where}: {problems['unnamed']}"
    assert problems["nested"] == [], f"controls nested inside other controls on {where}: {problems['nested']}"
    assert problems["images"] == [], (
        f"images/charts without role=img and a name on {where}: {problems['images']}"
    )
    for kind in ("headings", "main", "title"):
        assert problems[kind] == [], f"{kind} on {where}: {problems[kind]}"
    assert audit["lang"].split("-")[0] == lang, f"<html lang={audit['lang']!r}> on {where}"
    assert page.errors == []


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", PAGES)
def test_tab_reaches_every_control_in_order_with_a_visible_focus(
    page: BrowserPage, console: Console, name: str, lang: str
) -> None:
    open_page(page, console, name, lang)
    page.evaluate(A11Y_JS)
    page.evaluate("document.activeElement?.blur()")
    marked = page.evaluate(MARK_STOPS_JS)
    stops: list[str] = marked["stops"]
    assert len(stops) >= 3, stops
    assert marked["unreachable"] == [], (
        f"controls that Tab cannot reach on {name}?lang={lang}: {marked['unreachable']}"
    )
    order: list[int] = []  # the tab stops in the order Tab reached them, each run of one counted once
    wrapped = False
    stuck = 0
    hidden: list[str] = []
    no_ring: list[str] = []
    elsewhere: list[str] = []
    # Room for every stop, the inner parts of some (a date's fields, the player's buttons), a lap.
    for _ in range(3 * len(stops) + 10):
        page.keyboard.press("Tab")
        focus = page.evaluate(FOCUS_JS)
        if focus is None:
            continue  # the document itself, between the last control and the first
        if focus["stop"] is not None and order and focus["stop"] == order[-1]:
            # Tab through a control's own parts (the browser draws their focus): not stuck for long.
            stuck += 1
            assert stuck < 8, f"focus stays on {focus['what']} on {name}?lang={lang}"
            continue
        stuck = 0
        if not focus["visible"]:
            hidden.append(focus["what"])
        if not focus["ring"]:  # on arriving at a control, the page's focus indicator shows
            no_ring.append(focus["what"])
        if focus["stop"] is None:
            elsewhere.append(focus["what"])
            continue
        if focus["stop"] == 0 and order:
            wrapped = True
            break
        order.append(focus["stop"])
    reached = [stops[i] for i in order]
    assert reached == stops, (
        f"Tab order on {name}?lang={lang} is not the page's order of its controls: {reached}"
    )
    assert wrapped, f"focus did not come back to the first control on {name}?lang={lang}: trapped?"
    assert hidden == [], f"focus on elements that cannot be seen on {name}?lang={lang}: {hidden}"
    assert no_ring == [], f"focus without a visible indicator on {name}?lang={lang}: {no_ring}"
    assert elsewhere == [], f"focus on elements that are not controls on {name}?lang={lang}: {elsewhere}"
    # The first stop is the skip link, and it leads to the main landmark.
    skip = page.evaluate("document.querySelector('[data-tab-stop=\"0\"]').getAttribute('href')")
    assert skip == "#main" and page.locator("main#main").count() == 1, skip
    assert page.errors == []


def test_call_page_shortcuts_from_the_keyboard_alone(page: BrowserPage, console: Console) -> None:
    # A call of its own: the corrections here must not change the call of the other tests.
    call_id = upload(console.base, console.key, console.recording, external_id="keyboard")
    wait_until_done(console.base, console.key, call_id, timeout=30)
    open_page(page, console, "call", "en", call_id)
    turns = page.locator("#transcript li")
    starts = [
        float(s)
        for s in page.evaluate(
            "[...document.querySelectorAll('#transcript li')].map((li) => li.dataset.start)"
        )
    ]
    assert len(starts) == 2 and starts[1] > starts[0]
    audio = page.locator("#audio")

    # Space plays and pauses (focus on the page, not on a button).
    expect(page.locator("body")).to_be_focused()
    expect(audio).to_have_js_property("paused", True)
    page.keyboard.press("Space")
    expect(audio).to_have_js_property("paused", False)
    page.keyboard.press("Space")
    expect(audio).to_have_js_property("paused", True)
    # The player's last time update has marked the first turn current (the streamed recording
    # may report it after the pause): J below starts from there, not from a race with it.
    wait_for(page, "() => document.getElementById('turn-0').classList.contains('current')")

    # J: next turn, K: previous turn; each seeks to the turn's start, marks it current, focuses it.
    def current() -> int:
        return int(
            page.evaluate(
                "[...document.querySelectorAll('#transcript li')]"
                ".findIndex((li) => li.classList.contains('current'))"
            )
        )

    for press, expected in (("j", None), ("j", 1), ("j", 1), ("k", 0)):
        now = current()
        target = expected if expected is not None else min(1, now + 1)
        page.keyboard.press(press)
        expect(turns.nth(target)).to_be_focused()
        expect(turns.nth(target)).to_have_class(re.compile(r"\bcurrent\b"))
        assert abs(audio_time(page) - starts[target]) < 0.3, (press, audio_time(page), starts[target])

    # Enter on a focused turn seeks there and plays; Space on the turn pauses again.
    page.keyboard.press("Tab")
    expect(turns.nth(1)).to_be_focused()
    page.keyboard.press("Enter")
    expect(audio).to_have_js_property("paused", False)
    assert audio_time(page) >= starts[1] - 0.3
    page.keyboard.press("Space")
    expect(audio).to_have_js_property("paused", True)

    # P/M mark the focused checkpoint passed/missed: reach it with Tab.
    verdict = page.locator('.checkpoint[data-key="needs_discovery"] .verdict')
    expect(verdict).to_have_value("missed")
    for _ in range(30):
        if verdict.evaluate("(el) => el === document.activeElement"):
            break
        page.keyboard.press("Tab")
    expect(verdict).to_be_focused()
    page.keyboard.press("p")
    expect(verdict).to_have_value("passed")
    expect(verdict).to_be_focused()  # focus stays on the checkpoint after the page redraws it
    assert get_call(console.base, console.key, call_id)["review"]["checkpoints"] == {"needs_discovery": True}
    page.keyboard.press("m")
    expect(verdict).to_have_value("missed")
    expect(page.locator('.checkpoint[data-key="needs_discovery"] .state')).to_have_text("missed (reviewed)")
    assert get_call(console.base, console.key, call_id)["review"]["checkpoints"] == {"needs_discovery": False}

    # S swaps the speakers' roles, and again swaps them back.
    expect(turns.nth(0)).to_have_class(re.compile(r"\bsales\b"))
    page.keyboard.press("s")
    expect(turns.nth(0)).to_have_class(re.compile(r"\bcustomer\b"))
    expect(turns.nth(1)).to_have_class(re.compile(r"\bsales\b"))
    assert get_call(console.base, console.key, call_id)["review"]["swap_roles"] is True
    page.keyboard.press("s")
    expect(turns.nth(0)).to_have_class(re.compile(r"\bsales\b"))
    review = get_call(console.base, console.key, call_id)["review"]
    assert review["swap_roles"] is False and review["checkpoints"] == {"needs_discovery": False}
    assert page.errors == []
