"""The calls list's filters and sort, the team pass rates, and what they are computed from
(``callintel.store.outcomes``), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from api import create_app
from callintel.store.db import Database, upgrade
from callintel.store.models import Call
from callintel.store.outcomes import outcomes_of
from callintel.store.results import store_result
from tests.service_helpers import (
    analysis_result,
    auth,
    make_key,
    scorecard,
    service_settings,
)

UTC = dt.UTC


# (salesperson, recorded_at, checkpoints, violations, grade)
CALLS = [
    ("s1", dt.datetime(2026, 11, 2, 9, tzinfo=UTC), {"greeting": True, "test_drive_invite": False}, (), "A"),
    ("s1", dt.datetime(2026, 11, 10, 9, tzinfo=UTC), {"greeting": True, "test_drive_invite": True}, (), "H"),
    (
        "s2",
        dt.datetime(2026, 11, 3, 23, 30, tzinfo=UTC),  # 4 Nov in Shanghai
        {"greeting": False, "test_drive_invite": False, "objection_handling": None},
        ("pressure_tactic",),
        "C",
    ),
    ("s2", dt.datetime(2026, 11, 12, 9, tzinfo=UTC), {"greeting": True, "test_drive_invite": None}, (), "B"),
    (None, dt.datetime(2026, 11, 12, 10, tzinfo=UTC), {"greeting": False}, (), "N"),
]


class Calls:
    def __init__(self, db: Database, tmp_path: Path) -> None:
        self.db = db
        self.client = TestClient(create_app(service_settings(tmp_path, db.url), in_process_workers=0, db=db))
        self.qa = make_key(db, "qa", "d1")
        self.other = make_key(db, "qa", "d2")
        self.ids: list[str] = []
        with db.session() as session:
            for person, when, passed, violations, grade in CALLS:
                call = Call(dealer_id="d1", salesperson_id=person, scenario="showroom", recorded_at=when)
                session.add(call)
                session.flush()
                store_result(session, call, analysis_result(scorecard(passed, violations), grade))
                self.ids.append(call.id)
            # Another dealer's call that would match every filter.
            other = Call(dealer_id="d2", salesperson_id="s1", scenario="showroom", recorded_at=CALLS[0][1])
            session.add(other)
            session.flush()
            card = scorecard({"greeting": False}, ("pressure_tactic",))
            store_result(session, other, analysis_result(card, "C"))
            self.other_id = other.id

    def list(self, key: str | None = None, **params: Any) -> list[str]:
        answer = self.client.get("/v1/calls", params=params, headers=auth(key or self.qa))
        assert answer.status_code == 200, answer.text
        return [item["id"] for item in answer.json()["items"]]

    def at(self, *indices: int) -> list[str]:
        return [self.ids[i] for i in indices]


@pytest.fixture
def calls(db: Database, tmp_path: Path) -> Calls:
    return Calls(db, tmp_path)


def test_each_filter_narrows_the_list(calls: Calls) -> None:
    every = set(calls.ids)
    assert set(calls.list()) == every  # the other dealer's call never shows
    assert set(calls.list(grade=["H", "A"])) == set(calls.at(0, 1))
    assert set(calls.list(score_min=50)) == set(calls.at(0, 1, 3))
    assert set(calls.list(score_min=50, score_max=60)) == set(calls.at(0))
    assert set(calls.list(missed="test_drive_invite")) == set(calls.at(0, 2))  # n/a is not missed
    assert set(calls.list(passed="greeting")) == set(calls.at(0, 1, 3))
    assert set(calls.list(violation="pressure_tactic")) == set(calls.at(2))
    assert set(calls.list(violation="any")) == set(calls.at(2))
    assert calls.list(violation="rude") == []
    assert set(calls.list(salesperson_id="s2", missed="greeting")) == set(calls.at(2))
    assert set(calls.list(since="2026-11-10")) == set(calls.at(1, 3, 4))
    assert set(calls.list(until="2026-11-03")) == set(calls.at(0, 2))
    # Days are read in the given time zone: 23:30 UTC on 3 Nov is 4 Nov in Shanghai.
    assert set(calls.list(since="2026-11-04", until="2026-11-04", tz="Asia/Shanghai")) == set(calls.at(2))
    summary = calls.client.get("/v1/calls", params={"grade": "C"}, headers=auth(calls.qa)).json()["items"][0]
    assert (summary["grade"], summary["score"]) == ("C", 0.0)
    assert summary["missed"] == ["greeting", "test_drive_invite"]
    assert summary["violations"] == ["pressure_tactic"]
    assert calls.list(calls.other, grade=["C"]) == [calls.other_id]


def test_sort_orders_and_keeps_empty_values_last(calls: Calls) -> None:
    assert calls.list(sort="score") == calls.at(4, 2, 0, 3, 1)  # ties: newest upload first
    scores = [
        item["score"]
        for item in calls.client.get("/v1/calls", params={"sort": "-score"}, headers=auth(calls.qa)).json()[
            "items"
        ]
    ]
    assert scores == sorted(scores, reverse=True)
    assert calls.list(sort="grade") == calls.at(1, 0, 3, 2, 4)  # H A B C N, not alphabetical
    assert calls.list(sort="-grade") == calls.at(4, 2, 3, 0, 1)
    assert calls.list(sort="recorded_at") == calls.at(0, 2, 1, 3, 4)
    assert calls.list(sort="-recorded_at", limit=2) == calls.at(4, 3)
    assert calls.list(sort="-recorded_at", limit=2, offset=2) == calls.at(1, 2)
    with calls.db.session() as session:  # a call still queued has no grade: last both ways
        session.add(Call(id="q" * 32, dealer_id="d1", scenario="showroom"))
    assert calls.list(sort="grade")[-1] == "q" * 32
    assert calls.list(sort="-grade")[-1] == "q" * 32


def test_bad_filters_are_refused(calls: Calls) -> None:
    for params in (
        {"grade": "Z"},
        {"score_min": 101},
        {"since": "yesterday"},
        {"tz": "Mars/Olympus"},
        {"missed": "Greeting; DROP TABLE calls"},
        {"sort": "id"},
    ):
        answer = calls.client.get("/v1/calls", params=params, headers=auth(calls.qa))
        assert answer.status_code == 422, (params, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")


def test_a_review_changes_what_the_filters_see(calls: Calls) -> None:
    first = calls.ids[0]
    assert first in calls.list(missed="test_drive_invite")
    for attributes in ({"payment": "bitcoin"}, {"budget_cny": {"min": 9, "max": 1}}, {"trade_in": "yes"}):
        bad = calls.client.post(
            f"/v1/calls/{first}/review", json={"attributes": attributes}, headers=auth(calls.qa)
        )
        assert bad.status_code == 422 and "attribute" in bad.json()["detail"], bad.text
    assert calls.client.get(f"/v1/calls/{first}", headers=auth(calls.qa)).json()["review"] is None
    body = {"checkpoints": {"test_drive_invite": True}, "grade": "B", "attributes": {"payment": None}}
    answer = calls.client.post(f"/v1/calls/{first}/review", json=body, headers=auth(calls.qa))
    assert answer.status_code == 201, answer.text
    assert first not in calls.list(missed="test_drive_invite")
    assert first in calls.list(passed="test_drive_invite", grade=["B"], reviewed=True)
    assert first not in calls.list(reviewed=False)
    detail = calls.client.get(f"/v1/calls/{first}", headers=auth(calls.qa)).json()
    assert detail["score"] == 100.0 and detail["grade"] == "B" and detail["missed"] == []
    # One view: the scorecard says what the list says; the model's result is kept beside it.
    assert detail["scorecard"]["score"] == 100.0 and detail["model"]["scorecard"]["score"] == 50.0


def test_outcomes_apply_review_corrections() -> None:
    card = scorecard(
        {"greeting": True, "needs_discovery": False, "closing_commitment": None}, ("pressure_tactic",)
    )
    model = outcomes_of(card, {"grade": "A"}, None)
    assert (model.grade, model.score) == ("A", 40.0)
    assert model.items == {
        ("checkpoint", "greeting"): ("passed", False),
        ("checkpoint", "needs_discovery"): ("missed", False),
        ("checkpoint", "closing_commitment"): ("n/a", False),
        ("violation", "pressure_tactic"): ("committed", False),
    }
    # QA: closing happened (now applicable), the violation did not, another one did.
    review = {
        "checkpoints": {"closing_commitment": True},
        "violations": {"pressure_tactic": False, "forbidden_promise": True},
        "grade": "H",
    }
    fixed = outcomes_of(card, {"grade": "A"}, review)
    assert fixed.grade == "H"
    assert fixed.score == round(100 * 2 / 3, 1)  # 2 of 3 applicable passed, the penalty gone
    assert fixed.items["checkpoint", "closing_commitment"] == ("passed", True)
    assert ("violation", "pressure_tactic") not in fixed.items
    assert fixed.items["violation", "forbidden_promise"] == ("committed", True)
    assert outcomes_of(None, {"grade": "B"}, None).score is None


def test_team_pass_rates_per_salesperson_and_checkpoint(calls: Calls) -> None:
    params = {"since": "2026-11-01", "until": "2026-11-14", "bucket": "week"}
    answer = calls.client.get("/v1/team/pass-rates", params=params, headers=auth(calls.qa))
    assert answer.status_code == 200, answer.text
    rates = answer.json()
    assert rates["periods"] == ["2026-10-26", "2026-11-02", "2026-11-09"]  # weeks start on Monday
    people = {p["salesperson_id"]: p for p in rates["salespeople"]}
    assert set(people) == {"s1", "s2"}  # the call without a salesperson counts only per checkpoint
    # s1: 3 of 4 checkpoints passed over 2 calls; s2: 1 of 3 applicable (n/a not counted).
    assert (people["s1"]["passed"], people["s1"]["applicable"], people["s1"]["calls"]) == (3, 4, 2)
    assert (people["s2"]["passed"], people["s2"]["applicable"], people["s2"]["rate"]) == (1, 3, 0.3333)
    assert people["s1"]["score"] == 75.0
    assert [p["rate"] for p in people["s1"]["series"]] == [None, 0.5, 1.0]
    assert rates["salespeople"][0]["salesperson_id"] == "s2"  # lowest pass rate first
    checkpoints = {c["checkpoint"]: c for c in rates["checkpoints"]}
    assert (checkpoints["greeting"]["passed"], checkpoints["greeting"]["applicable"]) == (3, 5)
    assert checkpoints["greeting"]["label"]  # from the scorecard in use
    assert "objection_handling" not in checkpoints  # it never applied
    cell = next(c for c in rates["cells"] if (c["salesperson_id"], c["checkpoint"]) == ("s2", "greeting"))
    assert (cell["passed"], cell["applicable"]) == (1, 2)
    # The calls behind a number: the list with the same days and filters.
    behind = calls.list(salesperson_id="s2", missed="greeting", since="2026-11-01", until="2026-11-14")
    assert len(behind) == cell["applicable"] - cell["passed"]
    # Another dealer's key sees only its own call.
    theirs = calls.client.get("/v1/team/pass-rates", params=params, headers=auth(calls.other)).json()
    assert [(p["salesperson_id"], p["applicable"]) for p in theirs["salespeople"]] == [("s1", 1)]


def test_team_rates_refuse_bad_ranges(calls: Calls) -> None:
    for params in (
        {"since": "2026-11-10", "until": "2026-11-01"},
        {"since": "2020-01-01", "until": "2026-11-01"},
        {"bucket": "year"},
        {"tz": "nowhere"},
    ):
        answer = calls.client.get("/v1/team/pass-rates", params=params, headers=auth(calls.qa))
        assert answer.status_code == 422, (params, answer.text)


def test_migration_fills_the_outcomes_of_calls_analysed_before_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0003")
    database = Database(url)
    with database.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO dealers (id, name, settings, created_at) VALUES ('d1', 'x', '{}', "
                "'2026-11-01 00:00:00')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO calls (id, dealer_id, scenario, channel_layout, status, created_at, updated_at) "
                "VALUES ('c1', 'd1', 'showroom', 'auto', 'done', :t, :t)"
            ),
            {"t": "2026-11-01 00:00:00"},
        )
        connection.execute(
            text(
                "INSERT INTO analyses (id, call_id, scorecard, intent, models, result, created_at) "
                "VALUES ('a1', 'c1', :card, :intent, '{}', '{}', '2026-11-01 00:00:00')"
            ),
            {
                "card": json.dumps(scorecard({"greeting": False, "closing_commitment": True})),
                "intent": '{"grade": "B"}',
            },
        )
    upgrade(url)
    with database.engine.connect() as connection:
        assert connection.execute(text("SELECT grade, score FROM calls")).one() == ("B", 50.0)
        rows = connection.execute(text("SELECT key, outcome FROM call_outcomes ORDER BY key")).all()
    assert [tuple(r) for r in rows] == [("closing_commitment", "passed"), ("greeting", "missed")]
    database.dispose()
