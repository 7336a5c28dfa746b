"""QA's word is final (issue 17): a review changes the call's effective result, its customer's
journey and emits signed events; re-analysis keeps the corrections; dealers stay apart.
SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api import create_app
from callintel.domain import GRADES
from callintel.options import AnalysisOptions
from callintel.result import AnalysisResult
from callintel.service.delivery import DeliveryOptions, Dispatcher
from callintel.service.worker import Worker
from callintel.store.blobs import BlobStore
from callintel.store.db import Database
from callintel.store.keys import create_key
from callintel.store.models import Call
from callintel.store.results import store_result
from callintel.transcript import Turn
from callintel.understand.tags import make_tags
from callintel.understand.types import (
    AttributeEvidence,
    AttributeValue,
    CheckpointResult,
    Evidence,
    IntentResult,
    ScorecardResult,
    ViolationResult,
)
from tests.receiver import Receiver
from tests.service_helpers import (
    POSTGRES_URL,
    FakeAnalyzer,
    auth,
    backends,
    fake_result,
    iter_rows,
    make_key,
    service_settings,
)

FAST = DeliveryOptions(max_attempts=10, base_delay=0.02, max_delay=0.2, timeout=2.0, hold_seconds=5.0)
TURNS = (
    Turn("sales", "S1", None, 0.0, 2.0, "您好，欢迎光临，这个价格绝对最低价", ()),
    Turn("customer", "S2", None, 2.0, 4.0, "我想看看领克08，预算二十万左右", ()),
)


def model_result(options: AnalysisOptions, own_checkpoint: bool = False) -> AnalysisResult:
    """What the model says of the call: grade B, greeting passed, needs discovery missed, a
    forbidden promise, the 领克 08 and a 20-25万 budget; tags made as the pipeline makes them."""
    scorecard = ScorecardResult(
        scenario="showroom",
        scorecard_version="1",
        score=40.0,
        checkpoints={
            "greeting": CheckpointResult(
                True, 0.9, False, 1.0, True, (Evidence(0, 0.0, 2.0, "您好，欢迎光临", 0.9),)
            ),
            "needs_discovery": CheckpointResult(False, 0.8, False, 1.0, True, ()),
        }
        | (  # a dealer's own checkpoint (examples and keywords in its scorecard)
            {"vehicle_check": CheckpointResult(False, 0.7, False, 1.0, True, (), "确认车辆与故障", True)}
            if own_checkpoint
            else {}
        ),
        violations=(
            ViolationResult("forbidden_promise", 0, "绝对最低价", 0.0, 2.0, 0.95, 10.0, "绝对最低价"),
        ),
        missed_required=(),
        penalty=10.0,
    )
    evidence = (AttributeEvidence(1, 2.0, 4.0, "领克08", 0.9),)
    attributes = {
        "models_of_interest": AttributeValue(["领克 08"], evidence),
        "budget_cny": AttributeValue(
            {"min": 200000, "max": 250000}, (AttributeEvidence(1, 2.0, 4.0, "二十万左右", 0.8),)
        ),
    }
    intent = IntentResult("B", {g: (0.7 if g == "B" else 0.075) for g in GRADES})
    return fake_result(
        options,
        turns=TURNS,
        scorecard=scorecard,
        attributes=attributes,
        intent=intent,
        tags=make_tags(attributes, intent, scorecard),
    )


class ModelAnalyzer(FakeAnalyzer):
    own_checkpoint = False

    def __call__(self, path: Path, options: AnalysisOptions, scorecard: Any = None) -> AnalysisResult:
        self.calls.append((path, options))
        return model_result(options, self.own_checkpoint)


class Service:
    def __init__(self, db: Database, tmp_path: Path) -> None:
        self.db = db
        self.tmp = tmp_path
        self.settings = service_settings(tmp_path, db.url)
        self.client = TestClient(create_app(self.settings, in_process_workers=0, db=db))
        self.analyzer = ModelAnalyzer()
        self.worker = Worker(db, BlobStore(self.settings.audio_dir), self.analyzer, name="test-worker")
        self.crm = make_key(db, "crm", "d1")
        with db.session() as session:
            _, self.qa = create_key(session, "qa", ["d1"], name="王芳")
            _, self.qa2 = create_key(session, "qa", ["d1"], name="Li Lei")
            _, self.qa_other = create_key(session, "qa", ["d2"], name="other dealer")
        self.uploads = 0

    def call(self, customer: str | None = "crm-77", scenario: str = "showroom") -> str:
        self.uploads += 1
        path = self.tmp / f"call{self.uploads}.wav"
        t = np.arange(int(16000 * (0.5 + self.uploads * 0.01))) / 16000
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(16000)
            out.writeframes((9000 * np.sin(2 * np.pi * 220 * t)).astype("<i2").tobytes())
        form = {"dealer": "d1", "scenario": scenario} | ({"customer_id": customer} if customer else {})
        with path.open("rb") as f:
            answer = self.client.post(
                "/v1/calls", files={"audio": (path.name, f, "audio/wav")}, data=form, headers=auth(self.crm)
            )
        assert answer.status_code == 202, answer.text
        assert self.worker.run_once()
        return str(answer.json()["id"])

    def review(self, call_id: str, body: dict[str, Any], key: str | None = None) -> Any:
        return self.client.post(f"/v1/calls/{call_id}/review", json=body, headers=auth(key or self.qa))

    def view(self, call_id: str, key: str | None = None) -> dict[str, Any]:
        answer = self.client.get(f"/v1/calls/{call_id}", headers=auth(key or self.qa))
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def journey(self, customer: str = "crm-77") -> dict[str, Any]:
        answer = self.client.get(f"/v1/customers/{customer}/journey", headers=auth(self.crm))
        assert answer.status_code == 200, answer.text
        return dict(answer.json())


@pytest.fixture
def service(db: Database, tmp_path: Path) -> Service:
    return Service(db, tmp_path)


CORRECTIONS = {
    "grade": "A",
    "checkpoints": {"greeting": False},
    "violations": {"forbidden_promise": False},
    "attributes": {"models_of_interest": "领克 09", "budget_cny": {"min": 150000, "max": 200000}},
    "note": "客户已到店，试驾领克09",
    "complete": True,
}


def events(db: Database) -> list[tuple[str, dict[str, Any]]]:
    """The outbox's events (type, payload) in seq order."""
    rows = sorted(iter_rows(db, "events"), key=lambda r: r["seq"])
    return [
        (r["type"], json.loads(r["payload"]) if isinstance(r["payload"], str) else r["payload"]) for r in rows
    ]


def tag_set(tags: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {(t["key"], t["value"], t["source"]) for t in tags}


def test_a_review_makes_one_consistent_view_with_the_model_beside_it(service: Service) -> None:
    call_id = service.call()
    before = service.view(call_id)
    assert before["grade"] == before["intent"]["grade"] == "B" and before["review"] is None
    assert before["violations"] == ["forbidden_promise"] and before["score"] == before["scorecard"]["score"]
    assert all(t["source"] == "model" for t in before["tags"])

    answer = service.review(call_id, CORRECTIONS)
    assert answer.status_code == 201, answer.text
    assert answer.json()["reviewer"] == "王芳" and answer.json()["complete"] is True
    view = service.view(call_id)
    # The top level, the scorecard, the intent, the attributes and the tags say the same: QA's.
    assert view["grade"] == view["intent"]["grade"] == "A"
    assert view["intent"]["probabilities"] == before["intent"]["probabilities"]
    card = view["scorecard"]
    assert (
        card["checkpoints"]["greeting"]["passed"] is False
        and card["checkpoints"]["greeting"]["reviewed"] is True
    )
    assert card["checkpoints"]["needs_discovery"]["reviewed"] is False
    assert view["missed"] == ["greeting", "needs_discovery"]
    assert view["violations"] == [] and card["violations"] == []
    assert view["score"] == card["score"] == 0.0  # nothing applicable passed, the penalty rejected
    assert view["attributes"]["models_of_interest"]["value"] == ["领克 09"]
    assert view["attributes"]["budget_cny"]["value"] == {"min": 150000, "max": 200000}
    # The model's evidence stays with the corrected value (QA corrected what, not where).
    assert view["attributes"]["models_of_interest"]["evidence"][0]["text"] == "领克08"
    tags = tag_set(view["tags"])
    assert ("intent_grade", "A", "review") in tags and not any(
        k == "intent_grade" and v == "B" for k, v, _ in tags
    )
    assert not any(k == "violation" for k, _, _ in tags)
    assert ("script_score", "0", "review") in tags and ("script_missed", "greeting", "review") in tags
    assert ("script_missed", "needs_discovery", "model") in tags  # QA left it as the model said
    assert ("model_interest", "领克 09", "review") in tags and ("budget_band", "15-20万", "review") in tags
    assert not any(v in ("领克 08", "20-25万") for _, v, _ in tags)
    assert {t["reviewer"] for t in view["tags"] if t["source"] == "review"} == {"王芳"}
    # review.attributes has the shape of attributes; reviewer, time, completeness and comment.
    review = view["review"]
    assert review["attributes"] == {k: view["attributes"][k] for k in ("models_of_interest", "budget_cny")}
    assert review["reviewer"] == "王芳" and review["complete"] is True and review["reviewed_at"]
    assert review["note"] == "客户已到店，试驾领克09" and review["reviewers"] == ["王芳"]
    # The model's own output, unchanged, beside it.
    model = view["model"]
    assert model["intent"]["grade"] == "B" and model["scorecard"]["checkpoints"]["greeting"]["passed"] is True
    assert [v["type"] for v in model["scorecard"]["violations"]] == ["forbidden_promise"]
    assert model["attributes"]["models_of_interest"]["value"] == ["领克 08"]
    assert ("intent_grade", "B") in {(t["key"], t["value"]) for t in model["tags"]}
    # The calls list agrees.
    (item,) = service.client.get("/v1/calls", headers=auth(service.qa)).json()["items"]
    assert (item["grade"], item["score"], item["missed"], item["violations"]) == (
        "A",
        0.0,
        ["greeting", "needs_discovery"],
        [],
    )


def test_drafts_apply_and_later_reviews_merge_by_item(service: Service) -> None:
    call_id = service.call()
    draft = service.review(call_id, {"violations": {"forbidden_promise": False}})
    assert draft.status_code == 201 and draft.json()["complete"] is False
    view = service.view(call_id)
    assert view["violations"] == [] and view["review"]["complete"] is False and "note" not in view["review"]
    # A second reviewer adds a violation the model missed, says the budget was not said, and
    # swaps the roles; the first reviewer's verdict stands beside it.
    body = {"violations": {"pressure_tactic": True}, "attributes": {"budget_cny": None}, "swap_roles": True}
    assert service.review(call_id, body, service.qa2).status_code == 201
    view = service.view(call_id)
    assert view["violations"] == ["pressure_tactic"]
    (added,) = view["scorecard"]["violations"]
    assert added["type"] == "pressure_tactic" and added["turn"] is None and added["reviewed"] is True
    assert "budget_cny" not in view["attributes"] and view["review"]["attributes"]["budget_cny"] is None
    assert [t["role"] for t in view["transcript"]] == ["customer", "sales"]
    assert view["review"]["reviewer"] == "Li Lei" and view["review"]["reviewers"] == ["王芳", "Li Lei"]
    by_tag = {(t["key"], t["value"]): t for t in view["tags"]}
    assert by_tag["violation", "pressure_tactic"]["reviewer"] == "Li Lei"
    assert not any(key == "budget_band" for key, _ in by_tag)
    assert by_tag["script_score", f"{view['score']:.0f}"]["source"] == "review"


def test_the_journey_takes_qa_s_tags_and_keeps_the_model_s_in_its_history(service: Service) -> None:
    call_id = service.call()
    assert service.review(call_id, CORRECTIONS).status_code == 201
    journey = service.journey()
    current = {(t["key"], t["value"]): t for t in journey["current_tags"]}
    assert (
        current["intent_grade", "A"]["source"] == "review"
        and current["intent_grade", "A"]["reviewer"] == "王芳"
    )
    assert current["intent_grade", "A"]["call_id"] == call_id and current["intent_grade", "A"]["created_at"]
    assert ("intent_grade", "B") not in current and ("violation", "forbidden_promise") not in current
    assert ("model_interest", "领克 09") in current and ("model_interest", "领克 08") not in current
    history = {(t["key"], t["value"], t["source"]): t for t in journey["history"]}
    assert history["intent_grade", "B", "model"]["superseded_at"] is not None
    assert history["intent_grade", "A", "review"]["superseded_at"] is None
    # A newer call of the customer still replaces the reviewed call's tags, key by key; reviewing
    # the older call again does not put its grade over the newer call's.
    newer = service.call()
    current = {t["key"]: (t["value"], t["call_id"]) for t in service.journey()["current_tags"]}
    assert current["intent_grade"] == ("B", newer)
    assert service.review(call_id, {"grade": "H"}).status_code == 201
    current = {t["key"]: (t["value"], t["call_id"]) for t in service.journey()["current_tags"]}
    assert current["intent_grade"] == ("B", newer)
    assert ("intent_grade", "H", "review") in tag_set(service.view(call_id)["tags"])


def _drain(dispatcher: Dispatcher, until: Any, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not until():
        assert time.monotonic() < deadline, "deliveries did not finish in time"
        if not dispatcher.run_once():
            time.sleep(0.02)


def test_a_review_emits_signed_events_the_crm_receives(service: Service, db: Database) -> None:
    receiver = Receiver(secret="whsec_review_secret_1234").start()
    try:
        answer = service.client.post(
            "/v1/webhooks",
            json={"dealer": "d1", "url": receiver.url, "secret": receiver.secret},
            headers=auth(service.crm),
        )
        assert answer.status_code == 201, answer.text
        call_id = service.call()
        assert service.review(call_id, CORRECTIONS).status_code == 201
        dispatcher = Dispatcher(db, FAST)
        _drain(dispatcher, lambda: len(receiver.unique()) >= 4)
        dispatcher.close()
    finally:
        receiver.stop()
    got = sorted(receiver.unique().values(), key=lambda r: r.seq)
    assert [r.type for r in got] == [
        "call.analyzed",
        "customer.tags_changed",
        "call.reviewed",
        "customer.tags_changed",
    ]
    assert all(r.signature_ok for r in receiver.received)
    reviewed, changed = got[2].data, got[3].data
    assert reviewed["call_id"] == call_id and reviewed["customer_id"] == "crm-77"
    assert (reviewed["reviewer"], reviewed["complete"], reviewed["note"]) == (
        "王芳",
        True,
        "客户已到店，试驾领克09",
    )
    assert reviewed["grade"] == reviewed["intent"]["grade"] == "A" and reviewed["violations"] == []
    assert reviewed["corrections"]["checkpoints"] == {"greeting": False}
    assert ("intent_grade", "A", "review") in tag_set(reviewed["tags"])
    assert {"key": "intent_grade", "value": "A"} in changed["added"]
    assert {"key": "intent_grade", "value": "B"} in changed["removed"]
    assert {"key": "violation", "value": "forbidden_promise"} in changed["removed"]
    assert changed["call_id"] == call_id
    # The pull API serves the same event to the dealer's keys only.
    pulled = service.client.get(
        "/v1/events", params={"type": "call.reviewed"}, headers=auth(service.crm)
    ).json()
    assert [e["data"]["call_id"] for e in pulled["items"]] == [call_id]
    other = service.client.get("/v1/events", headers=auth(service.qa_other))
    assert other.status_code in (200, 403) and (other.status_code == 403 or other.json()["items"] == [])


def test_a_review_that_changes_no_current_tag_sends_no_tags_changed(service: Service) -> None:
    call_id = service.call()
    assert service.review(call_id, {"note": "听过了", "complete": True}).status_code == 201
    types = [kind for kind, _ in events(service.db)]
    assert types == ["call.analyzed", "customer.tags_changed", "call.reviewed"]


def test_re_analysis_keeps_qa_s_corrections_on_top(service: Service) -> None:
    call_id = service.call()
    assert service.review(call_id, CORRECTIONS).status_code == 201
    with service.db.session() as session:
        call = session.get(Call, call_id)
        assert call is not None
        store_result(session, call, model_result(AnalysisOptions(scenario="showroom")))
    view = service.view(call_id)
    assert view["grade"] == view["intent"]["grade"] == "A" and view["violations"] == []
    assert view["scorecard"]["checkpoints"]["greeting"]["passed"] is False
    assert view["attributes"]["models_of_interest"]["value"] == ["领克 09"]
    tags = tag_set(view["tags"])
    assert ("intent_grade", "A", "review") in tags and ("intent_grade", "B", "model") not in tags
    assert len([t for t in view["tags"] if t["key"] == "intent_grade"]) == 1  # the old analysis's are gone
    current = {(t["key"], t["value"]) for t in service.journey()["current_tags"]}
    assert ("intent_grade", "A") in current and ("intent_grade", "B") not in current
    analyzed = [payload for kind, payload in events(service.db) if kind == "call.analyzed"]
    assert analyzed[-1]["intent"]["grade"] == "A" and analyzed[-1]["reviewed"] is True
    assert analyzed[-1]["score"] == view["score"]


def test_another_dealer_s_key_can_neither_review_nor_see(service: Service) -> None:
    call_id = service.call()
    assert service.review(call_id, CORRECTIONS, service.qa_other).status_code == 404
    assert service.client.get(f"/v1/calls/{call_id}", headers=auth(service.qa_other)).status_code == 404
    assert list(iter_rows(service.db, "reviews")) == []
    assert "call.reviewed" not in [kind for kind, _ in events(service.db)]
    assert service.view(call_id)["grade"] == "B"
    # A crm key may read the reviewed call but not review it.
    assert service.review(call_id, CORRECTIONS, service.crm).status_code == 403


def test_bad_review_bodies_are_refused_and_change_nothing(service: Service) -> None:
    call_id = service.call()
    for body in (
        {"complete": "yes please"},
        {"note": "x" * 2001},
        {"attributes": {"models_of_interest": ""}},
        {"attributes": {"models_of_interest": "领克\x0008"}},  # PostgreSQL text holds no NUL
        {"attributes": {"household": "三代同堂" * 60}},
        {"note": "好\x00"},
        {"grade": "A", "reviewer": "someone else"},  # the reviewer is the key's, never the body's
    ):
        answer = service.review(call_id, body)
        assert answer.status_code == 422, (body, answer.text)
    assert list(iter_rows(service.db, "reviews")) == []
    assert service.view(call_id)["grade"] == "B"
    # A key without a name reviews under its prefix, which is safe to show.
    nameless = make_key(service.db, "qa", "d1")
    answer = service.review(call_id, {"grade": "C"}, nameless)
    assert answer.status_code == 201 and answer.json()["reviewer"] == "ci_" + nameless.split("_")[1]


def test_an_after_sales_call_takes_no_purchase_grade_from_a_review(service: Service) -> None:
    call_id = service.call(scenario="service_call")
    answer = service.review(call_id, {"grade": "A"})
    assert answer.status_code == 422 and "service_call call gets no purchase grade" in answer.text
    assert service.view(call_id)["review"] is None
    assert service.review(call_id, {"checkpoints": {"greeting": False}}).status_code == 201


def test_qa_judges_the_dealer_s_own_checkpoints_on_the_call_s_scorecard(service: Service) -> None:
    plain = service.call()
    service.analyzer.own_checkpoint = True
    own = service.call()
    refused = service.review(plain, {"checkpoints": {"vehicle_check": True}})
    assert refused.status_code == 422 and "unknown checkpoint vehicle_check" in refused.json()["detail"]
    assert service.review(own, {"checkpoints": {"vehicle_check": True}}).status_code == 201
    view = service.view(own)
    assert view["scorecard"]["checkpoints"]["vehicle_check"]["passed"] is True
    assert view["missed"] == ["needs_discovery"]
    assert ("script_missed", "vehicle_check") not in {(t["key"], t["value"]) for t in view["tags"]}


@pytest.mark.parametrize("backend", backends())
def test_migration_0005_fills_reviewers_and_keeps_one_analysis_s_tags_current(
    backend: str, tmp_path: Path
) -> None:
    import datetime as dt

    import sqlalchemy as sa

    from callintel.store.db import upgrade
    from callintel.store.models import UTCDateTime

    url = f"sqlite:///{tmp_path / 'old.db'}" if backend == "sqlite" else POSTGRES_URL
    assert url is not None
    if backend != "sqlite":
        engine = sa.create_engine(url)
        with engine.begin() as connection:
            connection.execute(sa.text("DROP SCHEMA public CASCADE"))
            connection.execute(sa.text("CREATE SCHEMA public"))
        engine.dispose()
    upgrade(url, "0004")
    t0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    day = dt.timedelta(days=1)
    rows: dict[str, list[dict[str, Any]]] = {
        "dealers": [{"id": "d1", "name": "d1", "settings": {}, "created_at": t0}],
        "api_keys": [
            {"id": "k1", "prefix": "p1", "secret_hash": "x", "role": "qa", "dealers": ["d1"], "name": "王芳",
             "created_at": t0}
        ],
        "calls": [
            {"id": "c1", "dealer_id": "d1", "scenario": "showroom", "channel_layout": "auto",
             "status": "done", "created_at": t0, "updated_at": t0}
        ],
        "analyses": [
            {"id": f"a{i}", "call_id": "c1", "models": {}, "result": {}, "created_at": t0 + i * day}
            for i in (1, 2)
        ],
        "tags": [
            {"id": f"t{i}", "dealer_id": "d1", "call_id": "c1", "key": "intent_grade", "value": grade,
             "confidence": 0.9, "model_version": "m", "created_at": t0 + i * day}
            for i, grade in ((1, "B"), (2, "A"))
        ],
        "reviews": [{"id": "r1", "call_id": "c1", "api_key_id": "k1", "corrections": {}, "created_at": t0}],
    }  # fmt: skip

    def column(name: str, value: Any) -> sa.ColumnClause[Any]:
        if isinstance(value, dt.datetime):
            return sa.column(name, UTCDateTime())
        if isinstance(value, dict | list):
            return sa.column(name, sa.JSON())
        return sa.column(name)

    engine = sa.create_engine(url)
    with engine.begin() as connection:
        for name, values in rows.items():
            table = sa.table(name, *(column(k, v) for k, v in values[0].items()))
            connection.execute(table.insert(), values)
    engine.dispose()
    upgrade(url)
    db = Database(url)
    try:
        (review,) = iter_rows(db, "reviews")
        assert (review["reviewer"], bool(review["complete"])) == ("王芳", False)
        tags = {r["value"]: r for r in iter_rows(db, "tags")}
        assert tags["B"]["superseded_at"] is not None and tags["A"]["superseded_at"] is None
        assert tags["A"]["analysis_id"] == "a2" and tags["A"]["source"] == "model"
        assert tags["A"]["as_of"] is not None
    finally:
        db.dispose()
