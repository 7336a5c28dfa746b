"""The understanding stage: tasks, tiny models trained by the test, transcripts, metrics."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from callintel.training.build import BuildConfig, build, corpus, evaluate, is_trained, write_model_cards
from callintel.training.config import TrainConfig
from callintel.training.corpus import generate
from callintel.training.scores import expected_calibration_error, grade_scores
from callintel.training.train import fit_temperature
from callintel.understand.classifiers import CallTurn, Understander, make_tags
from callintel.understand.extract import read_mentions
from callintel.understand.intent import combine_with_timeline, fit_reliability
from callintel.understand.normalize import Gazetteer
from callintel.understand.tasks import (
    BIO_LABELS,
    SENTIMENT_LABELS,
    SentimentExample,
    bio_tags,
    sentiment_examples,
    spans_from_tags,
    word_span,
)
from callintel.understand.transcripts import parse_transcript
from callintel.understand.types import IntentResult, ScorecardResult, Tag, ViolationResult

TINY = TrainConfig(epochs=1.0, batch_size=16, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64)


def test_bio_tags_round_trip() -> None:
    text = "我想看看领克08预算二十万左右"
    offsets = [(0, 0)] + [(i, i + 1) for i in range(len(text))] + [(0, 0)]
    spans = ((4, 8, "models_of_interest"), (10, 15, "budget_cny"))
    tags = bio_tags(offsets, spans)
    assert tags[0] is None and tags[-1] is None
    assert tags[5] == "B-models_of_interest" and tags[6] == "I-models_of_interest"
    assert tags[11] == "B-budget_cny"
    decoded = spans_from_tags(offsets, [t or "O" for t in tags])
    assert [(s, e, k) for s, e, k, _ in decoded] == list(spans)
    assert set(BIO_LABELS) >= {t for t in tags if t}


def test_calibration_error_and_temperature() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, 2000)
    logits = rng.normal(size=(2000, 5))
    logits[np.arange(2000), labels] += 2.0
    overconfident = logits * 4  # sharper than the data warrants
    probabilities = np.exp(overconfident) / np.exp(overconfident).sum(axis=1, keepdims=True)
    temperature = fit_temperature(overconfident, labels)
    assert temperature > 1.5  # the logits were sharpened 4x: calibration must soften them
    calibrated = np.exp(overconfident / temperature)
    calibrated /= calibrated.sum(axis=1, keepdims=True)
    assert expected_calibration_error(calibrated, labels) < expected_calibration_error(probabilities, labels)
    scores = grade_scores(("H", "A", "B", "C", "N"), labels, calibrated)
    assert 0 < scores.accuracy < 1 and len(scores.confusion) == 5


def test_parse_plain_and_json_transcripts() -> None:
    plain = parse_transcript("销售：您好，欢迎光临\n客户: 我想看看领克08\n  预算二十万左右\nAgent: thanks")
    assert [t.role for t in plain.turns] == ["sales", "customer", "sales"]
    assert plain.turns[1].text.endswith("预算二十万左右")
    js = parse_transcript(
        json.dumps(
            {
                "language": "zh",
                "scenario": "inbound_call",
                "turns": [{"role": "customer", "text": "多少钱", "start": 1.0}],
            }
        )
    )
    assert js.scenario == "inbound_call" and js.turns[0].start == 1.0
    for bad, message in [
        ("hello there", "ROLE"),
        ('{"turns": []}', "non-empty"),
        ('{"turns": [{"role": "boss", "text": "x"}]}', "role"),
        ('{"scenario": "garage", "turns": [{"role": "sales", "text": "x"}]}', "scenario"),
        ("{not json", "invalid JSON"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_transcript(bad)


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("understanding")
    config = BuildConfig(
        train_dialogues=60,
        dev_dialogues=20,
        vocab_size=800,
        script=TINY,
        attributes=TINY,
        intent=TINY,
        sentiment=TINY,
    )
    report = build(directory, config)
    assert set(report["tasks"]) == {"script", "attributes", "intent", "sentiment"}
    return directory


def test_sentiment_examples_are_the_labelled_customer_turns() -> None:
    dialogue = {
        "turns": [
            {"role": "sales", "text": "要不要试驾一下"},
            {"role": "customer", "text": "行，走吧", "intent_signal": "positive"},
            {"role": "sales", "text": "留个电话吧"},
            {"role": "customer", "text": "不用了"},  # user JSONL may leave the label out: skipped
        ]
    }
    assert sentiment_examples([dialogue]) == [SentimentExample("行，走吧", "positive")]
    assert SENTIMENT_LABELS == ("positive", "neutral", "negative")


def test_tiny_build_saves_transformers_models(tiny_models: Path) -> None:
    assert is_trained(tiny_models)
    config = json.loads((tiny_models / "intent" / "config.json").read_text())
    assert config["model_type"] == "bert" and config["num_hidden_layers"] == 1
    assert config["calibration_temperature"] > 0
    assert set(config["id2label"].values()) == {"H", "A", "B", "C", "N"}
    assert (tiny_models / "script" / "tokenizer.json").is_file()
    sentiment = json.loads((tiny_models / "sentiment" / "config.json").read_text())
    assert sentiment["calibration_temperature"] > 0
    assert [sentiment["id2label"][str(i)] for i in range(3)] == ["positive", "neutral", "negative"]
    training = json.loads((tiny_models / "training.json").read_text())
    assert training["tasks"]["sentiment"]["calibration_temperature"] > 0


def test_understander_on_a_call(tiny_models: Path, settings) -> None:
    understander = Understander(tiny_models, settings.models_dir, device="cpu")
    dialogue = next(generate("heldout", 1, seed=5))
    turns = [
        CallTurn(t["role"], t["text"], float(i), float(i) + 0.9) for i, t in enumerate(dialogue["turns"])
    ]
    result = understander.understand(turns, dialogue["scenario"], dt.date(2026, 11, 23))
    assert 0 <= result.scorecard.score <= 100
    assert set(result.intent.probabilities) == {"H", "A", "B", "C", "N"}
    assert sum(result.intent.probabilities.values()) == pytest.approx(1.0, abs=1e-3)
    assert result.tags[0].key == "intent_grade"
    for item in result.scorecard.checkpoints.values():
        for evidence in item.evidence:  # every item points at a real turn and its time span
            assert turns[evidence.turn].start == evidence.start
    for value in result.attributes.values():
        for evidence in value.evidence:
            assert evidence.text in turns[evidence.turn].text
    customer = [i for i, t in enumerate(turns) if t.role == "customer"]
    assert [s.turn for s in result.sentiment] == customer  # one per customer turn, in order
    for s in result.sentiment:
        assert set(s.probabilities) == {"positive", "neutral", "negative"}
        assert sum(s.probabilities.values()) == pytest.approx(1.0, abs=1e-3)
        assert -1.0 <= s.score <= 1.0
        assert s.score == pytest.approx(s.probabilities["positive"] - s.probabilities["negative"], abs=2e-4)
        assert s.label == max(s.probabilities, key=s.probabilities.__getitem__)
    assert understander.sentiment_model == f"{result.models.directory_version}/sentiment"
    with pytest.raises(ValueError, match="unknown scenario"):
        understander.understand(turns, "garage")


def test_threads_share_one_understander_and_an_edited_scorecard_stays_per_call(
    tiny_models: Path, settings
) -> None:
    """The service's workers and its synchronous endpoint call one understander from several
    threads, each call with its own scorecard: every answer must be what that call alone gives."""
    understander = Understander(tiny_models, settings.models_dir, device="cpu")
    dialogues = list(generate("heldout", 4, seed=11))
    calls = [
        [CallTurn(t["role"], t["text"], float(i), float(i) + 0.9) for i, t in enumerate(d["turns"])]
        for d in dialogues
    ]
    file_card = understander.scorecards["showroom"]
    no_greeting = file_card.model_copy(
        update={
            "checkpoints": {
                **file_card.checkpoints,
                "greeting": file_card.checkpoints["greeting"].model_copy(update={"enabled": False}),
            }
        }
    )
    cards = [None, no_greeting, None, no_greeting]
    alone = [
        understander.understand(turns, "showroom", dt.date(2026, 11, 23), card)
        for turns, card in zip(calls, cards, strict=True)
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(
            pool.map(
                lambda i: understander.understand(
                    calls[i % 4], "showroom", dt.date(2026, 11, 23), cards[i % 4]
                ),
                range(16),
            )
        )
    for i, result in enumerate(together):
        expected = alone[i % 4]
        assert result.scorecard == expected.scorecard and result.attributes == expected.attributes
        assert result.intent == expected.intent and result.tags == expected.tags
    assert "greeting" not in together[1].scorecard.checkpoints  # the edited card, per call
    assert "greeting" in together[0].scorecard.checkpoints
    assert understander.scorecards["showroom"] == file_card  # nothing shared was changed


def test_a_directory_trained_before_sentiment_still_loads(
    tiny_models: Path, settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    older = tmp_path / "understanding-older"
    for task in ("script", "attributes", "intent"):
        shutil.copytree(tiny_models / task, older / task)
    shutil.copy(tiny_models / "training.json", older / "training.json")
    with caplog.at_level(logging.WARNING, logger="callintel.understand.classifiers"):
        understander = Understander(older, settings.models_dir, device="cpu")
    assert "no sentiment model" in caplog.text
    assert understander.sentiment_model is None
    result = understander.understand(
        [CallTurn("sales", "您好，欢迎光临"), CallTurn("customer", "我想看看领克08")], "showroom"
    )
    assert result.sentiment == () and set(result.intent.probabilities) == {"H", "A", "B", "C", "N"}
    assert not is_trained(older)  # the default directory must have all four
    report = evaluate(older, corpus("heldout", 5, seed=3), settings.models_dir)
    assert report.sentiment is None
    write_model_cards(older, report, json.loads((older / "training.json").read_text()))
    assert (older / "intent" / "README.md").is_file() and not (older / "sentiment").exists()


def test_evaluate_reports_every_label(tiny_models: Path, settings) -> None:
    report = evaluate(tiny_models, corpus("heldout", 30, seed=3), settings.models_dir)
    assert len(report.checkpoints) == 9 and len(report.violations) == 4
    assert [s.label for s in report.violations_model] == [s.label for s in report.violations]
    assert 0.0 <= report.violation_recall_model <= 1.0 and 0.0 <= report.violation_recall <= 1.0
    assert 0.0 <= report.checkpoint_macro_f1 <= 1.0
    assert sum(map(sum, report.grades.confusion)) == 30
    assert report.sentiment is not None
    assert [s.label for s in report.sentiment.labels] == ["positive", "neutral", "negative"]
    customer_turns = sum(s.support for s in report.sentiment.labels)
    assert sum(map(sum, report.sentiment.confusion)) == customer_turns > 0
    assert 0.0 <= report.sentiment.macro_f1 <= 1.0 and 0.0 <= report.sentiment.accuracy <= 1.0
    write_model_cards(tiny_models, report, json.loads((tiny_models / "training.json").read_text()))
    card = (tiny_models / "sentiment" / "README.md").read_text()
    assert "not a general emotion model" in card and "| negative |" in card


@pytest.mark.slow
def test_default_models_on_the_held_out_split(understanding_dir: Path, settings) -> None:
    """The default models on the held-out split (templates and phrase banks never trained on).

    The issue's targets, asserted: checkpoint macro-F1 >= 0.85, violation recall >= 0.80,
    attribute exact match >= 0.80 for budget, models and timeline, grade accuracy >= 0.75
    with errors more than one grade away <= 5%. Measured 2026-11-23 on this split: 0.895;
    0.910; 0.937 / 0.833 / 0.912; 0.908 and 0.043.

    Violation recall is as the scorecards decide: the classifier at the scorecard's threshold,
    or a cue of the shipped lexicon (models/scorecards/violations.lexicon.yaml, written without
    reading the held-out split). The classifier alone reaches 0.43 at 0.5; its floor is
    asserted separately so that a regression of the model cannot hide behind the lexicon.
    """
    report = evaluate(understanding_dir, corpus("heldout", 600, seed=0), settings.models_dir)
    assert report.checkpoint_macro_f1 >= 0.85, report.checkpoints
    assert report.violation_recall >= 0.80, report.violations
    assert min(s.precision for s in report.violations) >= 0.6, report.violations
    assert report.violation_recall_model >= 0.30, report.violations_model
    exact = {a.key: a.exact_match for a in report.attributes}
    for key in ("budget_cny", "models_of_interest", "purchase_timeline_days"):
        assert exact[key] >= 0.80, exact
    assert report.grades.accuracy >= 0.75, report.grades
    assert report.grades.off_by_more_than_one <= 0.05, report.grades
    # Sentiment (the customer's stance towards buying per turn, the corpus's intent_signal):
    # measured 2026-11-23 on this split, 4497 customer turns: accuracy 0.918, macro-F1 0.840,
    # F1 positive 0.801 / neutral 0.949 / negative 0.771. Floors a little below.
    sentiment = report.sentiment
    assert sentiment is not None
    assert sentiment.macro_f1 >= 0.80, sentiment.labels
    assert sentiment.accuracy >= 0.90, sentiment
    assert min(s.f1 for s in sentiment.labels) >= 0.72, sentiment.labels


def test_calls_with_one_role_only(tiny_models: Path, settings) -> None:
    understander = Understander(tiny_models, settings.models_dir, device="cpu")
    only_customer = understander.understand([CallTurn("customer", "我想看看领克08")], "showroom")
    assert not any(item.passed for item in only_customer.scorecard.checkpoints.values())
    only_sales = understander.understand([CallTurn("sales", "您好，欢迎光临")], "showroom")
    assert set(only_sales.intent.probabilities) == {"H", "A", "B", "C", "N"}


def test_spans_are_widened_to_whole_latin_words_only() -> None:
    text = "we just got two kids, 预算二十万"
    assert text[word_span(text, 4, 7)[0] : word_span(text, 4, 7)[1]] == "just"  # "ust" -> "just"
    assert word_span(text, 16, 20) == (16, 20)  # "kids" already whole
    assert word_span(text, 17, 19) == (16, 20)  # "id" -> "kids"
    assert word_span(text, 24, 26) == (24, 26)  # Chinese characters are whole tokens


# --- from tagger output to mentions -------------------------------------------------------------

CALL_DATE = dt.date(2026, 11, 23)


def _tagged(text: str, tagged: dict[tuple[int, int], str]) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Character tokens of ``text`` and one-hot probabilities: B-/I-key on the tagged ranges."""
    offsets = [(0, 0)] + [(i, i + 1) for i in range(len(text)) if not text[i].isspace()] + [(0, 0)]
    probabilities = np.zeros((len(offsets), len(BIO_LABELS)))
    probabilities[:, 0] = 1.0
    for i, (start, end) in enumerate(offsets):
        for (a, b), key in tagged.items():
            if start != end and a <= start < b:
                probabilities[i, 0] = 0.0
                probabilities[i, BIO_LABELS.index(("B-" if start == a else "I-") + key)] = 1.0
    return probabilities, offsets


def _mentions(text: str, tagged: dict[tuple[int, int], str], gazetteer) -> list[tuple[str, object]]:
    probabilities, offsets = _tagged(text, tagged)
    found = read_mentions(text, probabilities, offsets, BIO_LABELS, CALL_DATE, gazetteer)
    return [(m.key, m.value) for m in found]


@pytest.fixture(scope="module")
def gazetteer(settings):
    return Gazetteer.from_models_dir(settings.models_dir)


def test_a_budget_fragment_is_read_with_its_approximator_and_unit(gazetteer) -> None:
    text = "手上大概二十个左右，平时上班用"
    # The tagger marked only 二十: the window brings back 大概, 个 (万) and 左右.
    assert _mentions(text, {(4, 6): "budget_cny"}, gazetteer) == [
        ("budget_cny", {"min": 180000, "max": 220000})
    ]
    # ... but never reads across the clause: the next clause's words stay out.
    assert _mentions("二十个左右，下个月买", {(0, 2): "budget_cny"}, gazetteer)[0][1] == {
        "min": 180000,
        "max": 220000,
    }


def test_range_fragments_are_joined(gazetteer) -> None:
    text = "i've got 280 to 360 grand, for commuting"
    found = _mentions(text, {(9, 12): "budget_cny", (16, 25): "budget_cny"}, gazetteer)
    assert found == [("budget_cny", {"min": 280000, "max": 360000})]


def test_timeline_fragment(gazetteer) -> None:
    assert _mentions("准备三个月左右买", {(3, 5): "purchase_timeline_days"}, gazetteer) == [
        ("purchase_timeline_days", 90)
    ]


def test_car_fragments_join_but_two_cars_stay_two(gazetteer) -> None:
    text = "the toyota 汉兰达, please"
    # 汉 and 达 tagged, 兰 missed: joined, and the brand before it read by the window.
    found = _mentions(text, {(11, 12): "models_of_interest", (13, 14): "models_of_interest"}, gazetteer)
    assert found == [("models_of_interest", "丰田 汉兰达")]
    two = _mentions("迈腾和凯美瑞", {(0, 2): "competitors", (3, 6): "competitors"}, gazetteer)
    assert [v for _, v in two] == ["大众 迈腾", "丰田 凯美瑞"]


def test_a_bare_brand_beside_its_model_is_dropped(gazetteer) -> None:
    text = "Volkswagen 迈腾 and the ONVO L60"
    found = _mentions(text, {(0, 10): "models_of_interest", (11, 13): "models_of_interest"}, gazetteer)
    assert found == [("models_of_interest", "大众 迈腾")]


def test_untagged_text_gives_no_mentions(gazetteer) -> None:
    assert _mentions("预算二十万左右，下个月买", {}, gazetteer) == []


# --- the grade from the classifier and the stated timeline ----------------------------------------


def test_a_stated_timeline_moves_the_grade_and_keeps_a_distribution() -> None:
    grades = ["H", "A", "B", "C", "N"]
    classifier = np.array([0.1, 0.2, 0.2, 0.4, 0.1])
    combined = combine_with_timeline(classifier, grades, 5, 0.9)  # 5 days: H
    assert grades[int(combined.argmax())] == "H"
    assert combined.sum() == pytest.approx(1.0) and (combined > 0).all()
    assert combine_with_timeline(classifier, grades, None, 0.9) is classifier
    assert combine_with_timeline(classifier, grades, 5, None) is classifier


def test_reliability_is_fitted_to_how_often_the_timeline_is_right() -> None:
    grades = ["H", "A", "B", "C", "N"]
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, 400)
    uniform = np.full((400, 5), 0.2)
    days_of = {0: 3, 1: 10, 2: 20, 3: 60, 4: 300}
    right = [days_of[int(g)] for g in labels]
    wrong = [days_of[(int(g) + 1) % 5] for g in labels]
    # Timelines that always agree with the grade earn a high weight; ones that never do, a low one.
    assert fit_reliability(uniform, labels, grades, right) > 0.9
    assert fit_reliability(uniform, labels, grades, wrong) < 0.3


def test_tokenizer_training_is_reproducible_across_processes(tmp_path: Path) -> None:
    script = (
        "import hashlib, json, sys\n"
        "from callintel.training.corpus import generate\n"
        "from callintel.training.tokenizer import train_tokenizer\n"
        "texts = [t['text'] for d in generate('train', 60, seed=0) for t in d['turns']]\n"
        "vocab = train_tokenizer(texts, 800).get_vocab()\n"
        "print(hashlib.sha256(json.dumps(sorted(vocab.items())).encode()).hexdigest())\n"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
        ).stdout.strip()
        for seed in (1, 2)
    }
    assert len(runs) == 1, runs


def test_violation_tags_take_the_classifier_or_the_lexicon_confidence() -> None:
    scorecard = ScorecardResult(
        scenario="showroom",
        scorecard_version="1",
        score=70.0,
        checkpoints={},
        violations=(
            ViolationResult("rude", 3, "买不起就别问", 1.0, 2.0, 0.03, 10.0, "买不起就别问"),
            ViolationResult("pressure_tactic", 5, "就剩一台了", 3.0, 4.0, 0.81234, 10.0, None),
        ),
        missed_required=(),
    )
    tags = make_tags({}, IntentResult("B", dict.fromkeys("HABCN", 0.2)), scorecard)
    assert [t for t in tags if t.key == "violation"] == [
        Tag("violation", "rude", 1.0),  # a QA cue is the team's own rule
        Tag("violation", "pressure_tactic", 0.8123),
    ]
