"""The QA console's pages: served by the app in Chinese or English, escaped, and its scripts
and styles present. (What the pages do in a browser: tests/api/test_console_browser.py.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api import create_app
from api.console.i18n import TEXT
from callintel.store.db import Database, upgrade
from tests.service_helpers import service_settings

STATIC = Path(__file__).resolve().parents[2] / "api" / "console" / "static"


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    upgrade(url)
    db = Database(url)
    return TestClient(
        create_app(service_settings(tmp_path, url), in_process_workers=0, db=db, sync_analysis=False)
    )


@pytest.mark.parametrize(
    "page",
    [
        "/console/calls",
        "/console/upload",
        "/console/signin",
        "/console/calls/c1",
        "/console/team",
        "/console/search",
    ],
)
def test_pages_in_both_languages(client: TestClient, page: str) -> None:
    zh = client.get(page, params={"lang": "zh"})
    en = client.get(page, params={"lang": "en"})
    assert zh.status_code == en.status_code == 200
    assert '<html lang="zh-CN">' in zh.text and TEXT["zh"]["title"] in zh.text
    assert '<html lang="en">' in en.text and TEXT["en"]["title"] in en.text
    assert "default-src 'self'" in en.headers["content-security-policy"]
    # Every form control has a label: a <label for> of its id, an enclosing <label>, or aria-label.
    for match in re.finditer(r"<(input|select)\b([^>]*)>", en.text):
        attributes = match.group(2)
        if 'type="hidden"' in attributes:  # not a control anyone sees or fills in
            continue
        ident = re.search(r'id="([^"]+)"', attributes)
        labelled = "aria-label=" in attributes or (ident and f'for="{ident.group(1)}"' in en.text)
        enclosed = en.text.rfind("<label", 0, match.start()) > en.text.rfind("</label>", 0, match.start())
        assert labelled or enclosed, f"unlabelled control on {page}: {match.group(0)}"


def test_language_follows_the_browser_then_defaults_to_chinese(client: TestClient) -> None:
    assert 'lang="en"' in client.get("/console/calls", headers={"Accept-Language": "en-GB,en;q=0.9"}).text
    assert 'lang="zh-CN"' in client.get("/console/calls", headers={"Accept-Language": "fr"}).text
    assert client.get("/console", follow_redirects=False).headers["location"] == "/console/calls"


def test_the_call_id_is_escaped(client: TestClient) -> None:
    answer = client.get('/console/calls/"><img src=x onerror=alert(1)>')
    assert answer.status_code == 200
    assert "<img src=x" not in answer.text and "&lt;img src=x onerror=alert(1)&gt;" in answer.text


def test_both_languages_have_every_text_and_the_scripts_use_only_known_keys() -> None:
    assert TEXT["zh"].keys() == TEXT["en"].keys()
    used = set()
    for script in STATIC.glob("*.js"):
        used |= set(re.findall(r"\bT\.([a-z_]+)", script.read_text("utf-8")))
    assert used and used <= TEXT["en"].keys(), used - TEXT["en"].keys()
    # The names the pages build from DOMAIN.md's labels exist too.
    from api.console import ATTRIBUTE_CHOICES
    from callintel.domain import ATTRIBUTES, SCENARIOS

    built = {f"attr_{key}" for key in ATTRIBUTES} | {f"scenario_{s}" for s in SCENARIOS}
    built |= {f"choice_{value}" for values in ATTRIBUTE_CHOICES.values() for value in values}
    assert built <= TEXT["en"].keys(), built - TEXT["en"].keys()


def test_static_files_are_served(client: TestClient) -> None:
    for name in ("common.js", "calls.js", "call.js", "team.js", "upload.js", "signin.js", "console.css"):
        answer = client.get(f"/console/static/{name}")
        assert answer.status_code == 200 and len(answer.content) > 500, name
    assert client.get("/console/static/../i18n.py").status_code == 404


def test_no_page_prints_a_python_repr_and_labels_are_no_dict_methods(client: TestClient) -> None:
    from api.console.i18n import UI_TEXT

    # The names a dict has as methods are texts here (the calls list's "Clear" once read dict.clear).
    assert UI_TEXT["en"].clear == "Clear" and UI_TEXT["zh"].clear == "清除"
    assert UI_TEXT["en"]["scenario_showroom"] == "Showroom"
    with pytest.raises(AttributeError):
        _ = UI_TEXT["en"].no_such_text
    for page in (
        "/console/calls",
        "/console/upload",
        "/console/signin",
        "/console/calls/c1",
        "/console/team",
    ):
        for lang in ("zh", "en"):
            html = client.get(page, params={"lang": lang}).text
            assert "<built-in method" not in html and "object at 0x" not in html, (page, lang)
    calls = client.get("/console/calls", params={"lang": "en"}).text
    assert '<button type="reset" id="clear">Clear</button>' in calls
    # Checkpoint and violation choices in the reader's language.
    assert '<option value="greeting">Greeting and introduction</option>' in calls
    assert (
        '<option value="greeting">问候与自我介绍</option>'
        in client.get("/console/calls", params={"lang": "zh"}).text
    )
