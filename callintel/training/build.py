"""Train, save and evaluate the default understanding models (``callintel train``/``eval``).

The default models are trained on the project's generated corpus (plus any user JSONL),
seeded and reproducible, into the cache (never committed). ``evaluate`` scores a model
directory on labelled dialogues: per-label P/R/F1, attribute exact-match, grade accuracy,
confusion and calibration, and the per-turn sentiment (the customer's stance towards buying).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import confusion_matrix
from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification, AutoTokenizer

from callintel.domain import CHECKPOINTS, GRADES, VIOLATIONS
from callintel.settings import Settings
from callintel.training.config import VERSION, BuildConfig, default_directory, is_trained, is_trained_task  # noqa: F401
from callintel.training.corpus import generate
from callintel.training.scores import (
    AttributeTally,
    GradeScores,
    LabelScore,
    expected_calibration_error,
    grade_scores,
    label_scores,
)
from callintel.training.tokenizer import train_tokenizer
from callintel.training.train import (
    build_model,
    fit_temperature,
    train_model,
)
from callintel.understand.extract import Mention, read_mentions
from callintel.understand.inference import predict_logits, softmax
from callintel.understand.intent import combine_with_timeline, fit_reliability
from callintel.understand.normalize import Gazetteer
from callintel.understand.scoring import Scorer, load_scorecards
from callintel.understand.tasks import (
    BIO_LABELS,
    SCRIPT_LABELS,
    SENTIMENT_LABELS,
    TASKS,
    Task,
    attribute_examples,
    encode_attributes,
    encode_intent,
    encode_script,
    encode_sentiment,
    intent_examples,
    script_examples,
    sentiment_examples,
)

logger = logging.getLogger(__name__)

ProgressHook = Callable[[str, int, int], None]
"""Called as ``hook(stage, done, total)``."""


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


def corpus(split: str, n: int, seed: int) -> list[dict[str, Any]]:
    return list(generate(split, n, seed=seed))  # type: ignore[arg-type]


def encode(task: Task, tokenizer: Any, dialogues: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    if task == "script":
        return encode_script(tokenizer, script_examples(dialogues))
    if task == "attributes":
        return encode_attributes(tokenizer, attribute_examples(dialogues))
    if task == "sentiment":
        return encode_sentiment(tokenizer, sentiment_examples(dialogues))
    return encode_intent(tokenizer, intent_examples(dialogues))


def build(
    directory: Path,
    config: BuildConfig = BuildConfig(),
    tasks: Sequence[Task] = TASKS,
    extra: Sequence[Mapping[str, Any]] = (),
    base_model: str | None = None,
    epochs: float | None = None,
    progress: ProgressHook = _no_progress,
    models_dir: Path | None = None,
) -> dict[str, Any]:
    """Train ``tasks`` into ``directory`` (each in ``directory/<task>``), atomically per task.

    The intent model's calibration (temperature, and the weight of a stated timeline when an
    attribute model is in ``directory``) and the sentiment model's temperature are fitted on
    a development split; ``models_dir``
    holds the gazetteer used to read the timelines (default: the settings' models dir).
    """
    started = time.perf_counter()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    progress("corpus", 0, 1)
    train = corpus("train", config.train_dialogues, config.seed) + list(extra)
    dev = corpus("train", config.dev_dialogues, config.seed + 1)
    progress("corpus", 1, 1)
    tokenizer: Any
    if base_model is None:
        progress("tokenizer", 0, 1)
        texts = [t["text"] for d in train for t in d["turns"]]
        tokenizer = train_tokenizer(texts, config.vocab_size, seed=config.seed)
        progress("tokenizer", 1, 1)
    else:
        tokenizer = AutoTokenizer.from_pretrained(base_model)
    report: dict[str, Any] = {"version": VERSION, "config": asdict(config), "tasks": {}}
    for task in tasks:
        task_config = config.for_task(task)
        task_config = replace(task_config, base_model=base_model, epochs=epochs or task_config.epochs)
        rows = encode(task, tokenizer, train)
        model = build_model(task, tokenizer, task_config)
        clock = time.perf_counter()

        def hook(step: int, total: int, loss: float, stage: str = f"train {task}") -> None:
            progress(stage, step, total)

        model = train_model(task, model, tokenizer, rows, task_config, hook=hook)
        entry: dict[str, Any] = {
            "train_examples": len(rows),
            "seconds": round(time.perf_counter() - clock, 1),
        }
        if task in ("intent", "sentiment"):
            dev_rows = encode(task, tokenizer, dev)
            logits = np.stack(predict_logits(task, model, tokenizer, dev_rows))
            labels = np.array([row["labels"] for row in dev_rows])
            temperature = fit_temperature(logits, labels)
            model.config.calibration_temperature = temperature
            entry["calibration_temperature"] = round(temperature, 4)
            if task == "intent" and is_trained_task(directory, "attributes"):
                gazetteer = Gazetteer.from_models_dir(models_dir or Settings().models_dir)
                timelines = [stated_timeline(m) for m in read_dialogues(directory, dev, gazetteer)]
                reliability = fit_reliability(softmax(logits / temperature), labels, GRADES, timelines)
                model.config.timeline_reliability = reliability
                entry["timeline_reliability"] = reliability
        staging = directory / f".{task}.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        shutil.rmtree(directory / task, ignore_errors=True)
        staging.rename(directory / task)
        report["tasks"][task] = entry
    report["seconds"] = round(time.perf_counter() - started, 1)
    report["date"] = dt.date.today().isoformat()
    report["base_model"] = base_model
    previous = (
        json.loads((directory / "training.json").read_text("utf-8"))
        if (directory / "training.json").is_file()
        else {}
    )
    previous_tasks = previous.get("tasks", {})
    report["tasks"] = {**previous_tasks, **report["tasks"]}
    (directory / "training.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), "utf-8")
    return report


@dataclass(frozen=True)
class SentimentScores:
    """The sentiment model per customer turn, against the corpus's ``intent_signal`` (the
    customer's stance towards buying in that turn); ECE after its temperature."""

    labels: list[LabelScore]
    accuracy: float
    macro_f1: float
    ece: float
    confusion: list[list[int]]  # rows: truth, columns: predicted, in SENTIMENT_LABELS order


@dataclass(frozen=True)
class EvalReport:
    """``violations``/``violation_recall``: as the scenario's scorecard decides (classifier at
    the scorecard's threshold, or a lexicon cue); ``*_model``: the classifier alone at 0.5.
    ``sentiment`` is None for a directory trained before the sentiment model existed."""

    dialogues: int
    checkpoints: list[LabelScore]
    violations: list[LabelScore]
    checkpoint_macro_f1: float
    violation_recall: float
    violations_model: list[LabelScore]
    violation_recall_model: float
    attributes: list[Any]
    grades: GradeScores
    sentiment: SentimentScores | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate(directory: Path, dialogues: Sequence[Mapping[str, Any]], models_dir: Path) -> EvalReport:
    """Score the models in ``directory`` on labelled ``dialogues``."""
    directory = Path(directory)
    gazetteer = Gazetteer.from_models_dir(models_dir)

    tokenizer = AutoTokenizer.from_pretrained(directory / "script")
    model = AutoModelForSequenceClassification.from_pretrained(directory / "script")
    examples = script_examples(dialogues)
    logits = np.stack(predict_logits("script", model, tokenizer, encode_script(tokenizer, examples)))
    probabilities = 1 / (1 + np.exp(-logits))
    truth = np.array([[label in e.labels for label in SCRIPT_LABELS] for e in examples])
    scores = label_scores(SCRIPT_LABELS, truth, probabilities >= 0.5)
    checkpoint_scores = scores[: len(CHECKPOINTS)]
    v_truth = truth[:, len(CHECKPOINTS) :]
    v_model = probabilities[:, len(CHECKPOINTS) :] >= 0.5
    v_scored = _scored_violations(dialogues, probabilities[:, len(CHECKPOINTS) :], models_dir)

    tally = AttributeTally()
    mentions = read_dialogues(directory, dialogues, gazetteer)
    for dialogue, per_turn in zip(dialogues, mentions, strict=True):
        turns = [t for t in dialogue["turns"] if t["role"] == "customer"]
        for turn, found in zip(turns, per_turn, strict=True):
            gold = {(a["key"], _canonical(a["value"])) for a in turn.get("attributes", ())}
            tally.add(gold, {(m.key, _canonical(m.value)) for m in found})

    tokenizer = AutoTokenizer.from_pretrained(directory / "intent")
    model = AutoModelForSequenceClassification.from_pretrained(directory / "intent")
    temperature = float(getattr(model.config, "calibration_temperature", 1.0))
    logits = np.stack(
        predict_logits("intent", model, tokenizer, encode_intent(tokenizer, intent_examples(dialogues)))
    )
    reliability = getattr(model.config, "timeline_reliability", None)
    probabilities = np.stack(
        [
            combine_with_timeline(p, GRADES, stated_timeline(m), reliability)
            for p, m in zip(softmax(logits / temperature), mentions, strict=True)
        ]
    )
    grades = grade_scores(GRADES, np.array([GRADES.index(d["grade"]) for d in dialogues]), probabilities)
    sentiment = evaluate_sentiment(directory, dialogues) if is_trained_task(directory, "sentiment") else None

    return EvalReport(
        dialogues=len(dialogues),
        checkpoints=checkpoint_scores,
        checkpoint_macro_f1=float(np.mean([s.f1 for s in checkpoint_scores])),
        violations=label_scores(VIOLATIONS, v_truth, v_scored),
        violation_recall=_recall(v_truth, v_scored),
        violations_model=label_scores(VIOLATIONS, v_truth, v_model),
        violation_recall_model=_recall(v_truth, v_model),
        attributes=tally.scores(),
        grades=grades,
        sentiment=sentiment,
    )


def evaluate_sentiment(directory: Path, dialogues: Sequence[Mapping[str, Any]]) -> SentimentScores:
    """Score the sentiment model in ``directory`` on the labelled customer turns of ``dialogues``."""
    tokenizer = AutoTokenizer.from_pretrained(Path(directory) / "sentiment")
    model = AutoModelForSequenceClassification.from_pretrained(Path(directory) / "sentiment")
    temperature = float(getattr(model.config, "calibration_temperature", 1.0))
    rows = encode_sentiment(tokenizer, sentiment_examples(dialogues))
    if not rows:
        return SentimentScores([], 0.0, 0.0, 0.0, [])
    probabilities = softmax(np.stack(predict_logits("sentiment", model, tokenizer, rows)) / temperature)
    truth = np.array([row["labels"] for row in rows])
    predicted = probabilities.argmax(axis=1)
    n = len(SENTIMENT_LABELS)
    scores = label_scores(SENTIMENT_LABELS, np.eye(n, dtype=bool)[truth], np.eye(n, dtype=bool)[predicted])
    return SentimentScores(
        labels=scores,
        accuracy=float((predicted == truth).mean()),
        macro_f1=float(np.mean([s.f1 for s in scores])),
        ece=expected_calibration_error(probabilities, truth),
        confusion=confusion_matrix(truth, predicted, labels=list(range(n))).tolist(),
    )


def _scored_violations(
    dialogues: Sequence[Mapping[str, Any]], probabilities: np.ndarray, models_dir: Path
) -> np.ndarray:
    """Per sales turn (in ``script_examples`` order) and violation: does the dialogue's
    scorecard count it (classifier at the scorecard's threshold, or one of its cues)?"""
    scorers = {scenario: Scorer(card) for scenario, card in load_scorecards(models_dir).items()}
    sales = [(d["scenario"], t["text"]) for d in dialogues for t in d["turns"] if t["role"] == "sales"]
    out = np.zeros(probabilities.shape, dtype=bool)
    for i, ((scenario, text), row) in enumerate(zip(sales, probabilities, strict=True)):
        scorer = scorers[scenario]
        for j, violation in enumerate(VIOLATIONS):
            out[i, j] = scorer.classifier_finds(violation, row[j]) or (
                scorer.violation_cue(violation, text) is not None
            )
    return out


def _recall(truth: np.ndarray, predicted: np.ndarray) -> float:
    return float((truth & predicted).sum() / max(1, truth.sum()))


def read_dialogues(
    directory: Path, dialogues: Sequence[Mapping[str, Any]], gazetteer: Gazetteer
) -> list[list[list[Mention]]]:
    """The attribute mentions of every customer turn of every dialogue (dialogue, turn, mention)."""
    tokenizer = AutoTokenizer.from_pretrained(Path(directory) / "attributes")
    model = AutoModelForTokenClassification.from_pretrained(Path(directory) / "attributes")
    out: list[list[list[Mention]]] = []
    for dialogue in dialogues:
        call_date = dt.date.fromisoformat(dialogue["call_date"])
        turns = [t for t in dialogue["turns"] if t["role"] == "customer"]
        rows = encode_attributes(tokenizer, attribute_examples([{"turns": turns}]))
        logits = predict_logits("attributes", model, tokenizer, rows) if rows else []
        out.append(
            [
                read_mentions(
                    turn["text"], softmax(logit), row["offset_mapping"], BIO_LABELS, call_date, gazetteer
                )
                for turn, logit, row in zip(turns, logits, rows, strict=True)
            ]
        )
    return out


def stated_timeline(turns: Sequence[Sequence[Mention]]) -> int | None:
    """The customer's latest stated purchase timeline in a call, in days."""
    days = [m.value for found in turns for m in found if m.key == "purchase_timeline_days"]
    return int(days[-1]) if days else None


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def write_model_cards(directory: Path, report: EvalReport, training: Mapping[str, Any]) -> None:
    """A README.md model card (data, metrics, date) beside each saved model."""
    date = dt.date.today().isoformat()
    config = training["config"]

    def common(task: Task) -> str:
        layers = config.get(task, {}).get("num_layers", "?")
        base = training.get("base_model") or f"a {layers}-layer BERT from scratch on the project tokenizer"
        return (
            f"Trained {training.get('date', date)} by `callintel train` ({VERSION}); base model: {base}.\n"
            f"Data: the project's generated corpus (train split, {config['train_dialogues']} dialogues, "
            f"seed {config['seed']}) plus any user JSONL. Evaluated {date} on the held-out split "
            f"({report.dialogues} dialogues from templates and phrase banks the training split never used).\n"
        )

    table = "| label | precision | recall | F1 | support |\n|---|---|---|---|---|\n" + "\n".join(
        f"| {s.label} | {s.precision:.3f} | {s.recall:.3f} | {s.f1:.3f} | {s.support} |"
        for s in report.checkpoints + report.violations_model
    )
    attributes = "| key | exact match | precision | F1 | support |\n|---|---|---|---|---|\n" + "\n".join(
        f"| {a.key} | {a.exact_match:.3f} | {a.precision:.3f} | {a.f1:.3f} | {a.support} |"
        for a in report.attributes
    )
    grades = report.grades
    sentiment = report.sentiment
    sentiment_table = (
        ""
        if sentiment is None
        else f"Accuracy {sentiment.accuracy:.3f}; macro-F1 {sentiment.macro_f1:.3f}; ECE {sentiment.ece:.3f} "
        "(temperature-scaled).\n\n| label | precision | recall | F1 | support |\n|---|---|---|---|---|\n"
        + "\n".join(
            f"| {s.label} | {s.precision:.3f} | {s.recall:.3f} | {s.f1:.3f} | {s.support} |"
            for s in sentiment.labels
        )
        + "\n"
    )
    cards = {
        "script": f"# Script checkpoints and violations\n\n{common('script')}\nCheckpoint macro-F1 "
        f"{report.checkpoint_macro_f1:.3f}; violation recall of this classifier alone (at 0.5) "
        f"{report.violation_recall_model:.3f}, and {report.violation_recall:.3f} as the scorecards "
        f"decide (classifier at their threshold, or a cue of their lexicon).\n\n{table}\n",
        "attributes": f"# Customer attributes (BIO)\n\n{common('attributes')}\n{attributes}\n",
        "intent": f"# Purchase-intent grade\n\n{common('intent')}\n"
        f"Accuracy {grades.accuracy:.3f}; errors more than one grade away "
        f"{grades.off_by_more_than_one:.3f}; ECE {grades.ece:.3f} (temperature-scaled).\n",
        "sentiment": "# Customer sentiment per turn (stance towards buying)\n\n"
        f"{common('sentiment')}\n"
        "What it predicts: for each customer turn, `positive`, `neutral` or `negative` as the corpus "
        "labels the turn's `intent_signal`: the customer's stance towards buying in that turn "
        "(the generator's rule: a buying signal, agreeing to a test drive or a timeline within a month "
        "is positive; a timeline of about three months is neutral; no intention to buy, declining to "
        "leave contact details, a distant timeline or a negative reaction, e.g. to a rude remark, is "
        "negative; everything else, about 80% of turns, is neutral). It is a proxy for sentiment, "
        "not a general emotion model: a warm but noncommittal customer is `neutral`, and feelings "
        "about anything but the purchase are not what it was trained to see. It has seen only "
        "generated turns. Input: the customer turn alone (with the sales turn before it as context, "
        "held-out macro-F1 was lower). `score` = P(positive) - P(negative), in [-1, 1]; the "
        "probabilities are temperature-scaled on the dev split.\n\n" + sentiment_table,
    }
    for task, text in cards.items():
        if (Path(directory) / task).is_dir():
            (Path(directory) / task / "README.md").write_text(text, "utf-8")
