"""The after-sales scenario ``service_call`` (issue 17): scored on the dealer's own checkpoints
(keywords and examples, no retraining), and no purchase grade."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from callintel.cli import app
from callintel.domain import CHECKPOINTS, gives_purchase_grade
from callintel.settings import Settings
from callintel.understand.classifiers import make_tags
from callintel.understand.scoring import ScoredTurn, Scorer, load_scorecards
from callintel.understand.types import AttributeEvidence, AttributeValue, IntentResult

DEMO = Path(__file__).resolve().parents[2] / "demo" / "auto_repairs_call.flac"
SERVICE_CHECKPOINTS = {
    "greeting",
    "vehicle_and_problem",
    "appointment_booking",
    "contact_confirmation",
    "service_closing",
}
PURCHASE_TAGS = {"intent_grade", "purchase_timeline"}


def turns(*said: tuple[str, str]) -> list[ScoredTurn]:
    return [ScoredTurn(i, role, text, i * 5.0, i * 5.0 + 4.0) for i, (role, text) in enumerate(said)]  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def scorer(settings: Settings) -> Scorer:
    return Scorer(load_scorecards(settings.models_dir)["service_call"])


def test_the_scorecard_is_the_dealers_own_checkpoints(scorer: Scorer) -> None:
    card = scorer.scorecard
    enabled = {k for k, c in card.checkpoints.items() if c.enabled}
    assert enabled == {"greeting"}  # the one sales-script checkpoint an after-sales call shares
    assert {c.key for c in card.custom_checkpoints} == SERVICE_CHECKPOINTS - {"greeting"}
    for custom in card.custom_checkpoints:
        assert custom.keywords and custom.examples, custom.key
    assert not gives_purchase_grade("service_call")
    assert all(gives_purchase_grade(s) for s in ("showroom", "inbound_call", "outbound_followup"))


def test_a_mandarin_service_call_realises_each_checkpoint_by_its_keywords(scorer: Scorer) -> None:
    result = scorer.score(
        turns(
            ("sales", "您好，感谢致电星辰汽车售后服务，我是服务顾问小李。"),
            ("customer", "我的车仪表盘上的故障灯亮了。"),
            ("sales", "请问您的车是什么车型，车牌号多少？"),
            ("customer", "领克08，沪A12345。"),
            ("sales", "好的，我帮您预约明天上午九点到店检查，可以吗？"),
            ("customer", "可以。"),
            ("sales", "请问您贵姓？联系电话是这个号码吗？"),
            ("customer", "姓王，对的。"),
            ("sales", "好的王先生，还有什么可以帮您的吗？感谢您的来电，再见。"),
        )
    )
    assert set(result.checkpoints) == SERVICE_CHECKPOINTS
    evidence = {key: [e.turn for e in c.evidence] for key, c in result.checkpoints.items()}
    assert evidence == {
        "greeting": [0],
        "vehicle_and_problem": [2],
        "appointment_booking": [4],
        "contact_confirmation": [6],
        "service_closing": [8],
    }
    assert result.score == 100.0 and result.missed_required == ()
    assert result.checkpoints["appointment_booking"].evidence[0].matched == "预约"


def test_a_sales_pitch_is_no_service_call(scorer: Scorer) -> None:
    result = scorer.score(
        turns(
            ("sales", "这款车现在优惠两万，首付三成就能开走。"),
            ("customer", "续航多少？"),
            ("sales", "官方续航六百公里，空间也大，很适合家用。"),
        )
    )
    assert not any(c.passed for c in result.checkpoints.values())
    assert set(result.missed_required) == {"greeting", "vehicle_and_problem", "appointment_booking"}
    assert result.score == 0.0


def test_no_intent_no_intent_tags(scorer: Scorer) -> None:
    card = scorer.score(turns(("sales", "感谢致电，这里是售后服务")))
    model = AttributeValue(["领克 08"], (AttributeEvidence(0, 0.0, 1.0, "领克08", 0.9),))
    graded = make_tags({"models_of_interest": model}, IntentResult("B", {"B": 0.7}), card)
    ungraded = make_tags({"models_of_interest": model}, None, card)
    assert "intent_grade" in {t.key for t in graded}
    assert {t.key for t in ungraded} == {"model_interest", "script_score", "script_missed"}


def test_the_bundled_demo_analysed_as_a_service_call(tmp_path: Path, understanding_dir: Path) -> None:
    """`make demo`'s command: the bundled after-sales call, analysed with the real models."""
    out = tmp_path / "demo.json"
    command = ["analyze", str(DEMO), "--scenario", "service_call", "--call-date", "2026-11-23"]
    run = CliRunner().invoke(app, [*command, "--json", str(out)])
    assert run.exit_code == 0, run.output
    assert "Intent grade not applicable" in run.output
    result = json.loads(out.read_text(encoding="utf-8"))
    understanding = result["understanding"]
    assert understanding["scenario"] == "service_call"
    assert understanding["intent"] is None
    assert "purchase_timeline_days" not in understanding["attributes"]
    tag_keys = {t["key"] for t in understanding["tags"]}
    assert not tag_keys & PURCHASE_TAGS and "script_score" in tag_keys

    card = understanding["scorecard"]
    assert card["scenario"] == "service_call" and set(card["checkpoints"]) == SERVICE_CHECKPOINTS
    assert not set(card["checkpoints"]) & (set(CHECKPOINTS) - {"greeting"})
    checkpoints = card["checkpoints"]
    # "Thank you for calling platinum motors ... I'm Michelle": the agent's first turn.
    greeting = checkpoints["greeting"]
    assert greeting["passed"] and greeting["evidence"][0]["turn"] == 0
    assert "calling" in greeting["evidence"][0]["text"].lower()
    # The agent asks for the make and model, offers slots, books 8 a.m. and closes.
    for key in ("vehicle_and_problem", "appointment_booking", "service_closing"):
        assert checkpoints[key]["passed"], key
    booking = " ".join(e["text"] for e in checkpoints["appointment_booking"]["evidence"]).lower()
    assert "availability" in booking or "appointment" in booking
    for item in checkpoints.values():
        for evidence in item["evidence"]:
            turn = result["turns"][evidence["turn"]]
            assert turn["role"] == "sales" and evidence["text"] == turn["text"]
    assert card["missed_required"] == [] and card["score"] >= 80
