"""The console's calls list filters, team view and in-place corrections of attributes and
violations, in a real headless browser, on calls stored as the worker stores them."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from callintel.store.db import Database
from callintel.store.models import Call
from callintel.store.results import store_result
from callintel.understand.types import AttributeEvidence, AttributeValue
from tests.browser import BrowserPage, save_screenshot, serve_console
from tests.service_helpers import analysis_result, auth, scorecard

pytest_plugins = ["tests.browser"]
pytestmark = pytest.mark.browser

# (salesperson, day of November, checkpoints passed, violations, grade)
CALLS = [
    ("wang", 2, {"greeting": True, "test_drive_invite": False}, (), "A"),
    ("wang", 10, {"greeting": True, "test_drive_invite": True}, (), "H"),
    ("li", 3, {"greeting": False, "test_drive_invite": False}, ("pressure_tactic",), "C"),
    ("li", 11, {"greeting": False, "test_drive_invite": True}, (), "B"),
    ("li", 12, {"greeting": True, "test_drive_invite": False}, (), "B"),
]


class Console:
    def __init__(self, base: str, key: str, ids: list[str]) -> None:
        self.base, self.key, self.ids = base, key, ids

    def api(self, path: str, **params: Any) -> Any:
        answer = httpx.get(f"{self.base}{path}", params=params, headers=auth(self.key))
        answer.raise_for_status()
        return answer.json()

    def sign_in(self, page: BrowserPage, lang: str = "en") -> None:
        page.goto(f"{self.base}/console/signin?lang={lang}")
        page.locator("#api-key").fill(self.key)
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(r"/console/calls"))


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    with serve_console(tmp_path) as (base, key, db):
        yield Console(base, key, seed(db))


def seed(db: Database) -> list[str]:
    """CALLS stored as the worker stores an analysis; their ids."""
    ids = []
    with db.session() as session:
        for person, day, passed, violations, grade in CALLS:
            when = dt.datetime(2026, 11, day, 3, tzinfo=dt.UTC)
            call = Call(dealer_id="d1", salesperson_id=person, scenario="showroom", recorded_at=when)
            session.add(call)
            session.flush()
            result = analysis_result(scorecard(passed, violations), grade)
            assert result.understanding is not None
            paid = AttributeValue("loan", (AttributeEvidence(0, 0.0, 1.0, "您好", 0.9),))
            understanding = replace(result.understanding, attributes={"payment": paid})
            result = replace(result, understanding=understanding)
            store_result(session, call, result)
            ids.append(call.id)
    return ids


def test_filters_sort_and_the_team_view(page: BrowserPage, console: Console) -> None:
    console.sign_in(page)
    rows = page.locator("#calls-table tbody tr")
    expect(rows).to_have_count(5)

    # Filter by a missed checkpoint and a grade through the form; the address keeps the filters.
    page.get_by_label("Missed checkpoint").select_option("test_drive_invite")
    page.get_by_label("Sort").select_option("score")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(3)
    expect(page).to_have_url(re.compile(r"missed=test_drive_invite"))
    scores = [int(s) for s in rows.locator("td:nth-child(8)").all_inner_texts()]
    assert scores == sorted(scores) and scores[0] == 0
    page.reload()  # the filters come back from the address
    expect(rows).to_have_count(3)
    expect(page.get_by_label("Missed checkpoint")).to_have_value("test_drive_invite")
    page.get_by_label("Grade").select_option("B")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("li")

    # The team view over the same days: per salesperson, per checkpoint, and the matrix.
    page.goto(f"{console.base}/console/team?lang=en&since=2026-11-01&until=2026-11-14&bucket=week")
    people = page.locator("#people tbody tr")
    expect(people).to_have_count(2)
    api = console.api("/v1/team/pass-rates", since="2026-11-01", until="2026-11-14", tz="Asia/Shanghai")
    lowest = api["salespeople"][0]
    expect(people.first).to_contain_text(lowest["salesperson_id"])
    expect(people.first).to_contain_text(f"({lowest['passed']}/{lowest['applicable']})")
    expect(page.locator("#chart svg a")).not_to_have_count(0)  # each point is a link to its calls
    expect(page.locator("#people svg.spark")).to_have_count(2)
    page.get_by_label("Lines").select_option("checkpoints")
    expect(page.locator("#legend li")).to_have_count(1 + len(api["checkpoints"]))

    # A matrix cell opens the calls behind it: li's calls that missed the test-drive invitation.
    cell = next(
        c for c in api["cells"] if (c["salesperson_id"], c["checkpoint"]) == ("li", "test_drive_invite")
    )
    page.locator("#matrix a[href*='salesperson_id=li'][href*='missed=test_drive_invite']").click()
    expect(page).to_have_url(re.compile(r"/console/calls\?"))
    expect(rows).to_have_count(cell["applicable"] - cell["passed"])
    for text in rows.locator("td:nth-child(3)").all_inner_texts():
        assert text == "li"
    save_screenshot(page, "console-calls-behind-a-number")
    page.goto(f"{console.base}/console/team?lang=zh&since=2026-11-01&until=2026-11-14")
    expect(page.locator("h1")).to_have_text("团队")
    expect(people).to_have_count(2)
    expect(page.locator("#matrix tbody tr")).to_have_count(2)
    save_screenshot(page, "console-team-view")
    assert page.errors == []


def test_correct_an_attribute_and_a_violation_in_place(page: BrowserPage, console: Console) -> None:
    console.sign_in(page)
    call_id = console.ids[2]  # li's call with a pressure-selling violation
    page.goto(f"{console.base}/console/calls/{call_id}?lang=en")
    payment = page.locator('#attributes dd[data-key="payment"]')
    expect(payment).to_contain_text("loan")

    # Correct the payment from its own button; the editor offers DOMAIN.md's values.
    payment.get_by_role("button", name="Correct an attribute: Payment").click()
    expect(page.get_by_label("Attribute", exact=True)).to_have_value("payment")
    page.get_by_label("Value").select_option("lease")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#toast")).to_have_text("Saved")
    # A budget the customer gave, added by QA.
    page.get_by_label("Attribute", exact=True).select_option("budget_cny")
    page.get_by_label("Budget from (CNY)").fill("150000")
    page.get_by_label("Budget to (CNY)").fill("200000")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator('#attributes dd[data-key="budget_cny"]')).to_contain_text("150000 – 200000")

    # The violation was not one.
    violation = page.locator(".violation").first
    violation.locator(".verdict").select_option("rejected")
    expect(page.locator(".violation.rejected")).to_have_count(1)

    page.reload()
    expect(page.locator('#attributes dd[data-key="payment"]')).to_contain_text("lease")
    expect(page.locator('#attributes dd[data-key="payment"]')).to_contain_text("reviewed")
    expect(page.locator(".violation.rejected")).to_have_count(1)
    call = console.api(f"/v1/calls/{call_id}")
    review = call["review"]
    # review.attributes has the shape of attributes, and the call's attributes are QA's (issue 17).
    assert {k: v["value"] for k, v in review["attributes"].items()} == {
        "payment": "lease",
        "budget_cny": {"min": 150000, "max": 200000},
    }
    assert call["attributes"]["payment"] == review["attributes"]["payment"]
    assert review["violations"] == {"pressure_tactic": False} and call["violations"] == []
    # The list sees the correction: no violation any more.
    assert call_id not in [c["id"] for c in console.api("/v1/calls", violation="any")["items"]]
    # These stored calls have no recording: the player's 404 is the only error.
    assert [e for e in page.errors if "/audio" not in e] == []
