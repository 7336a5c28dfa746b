"""A call's effective result: its newest analysis with QA's merged review on top (issue 17).

QA's word is final: where a review corrected an item (a checkpoint, a violation, an attribute,
the grade, the speakers' roles), the call's view, its journey tags and its events give QA's
value; the model's own output is kept beside it. The parts are read from the JSON the analysis
was stored as and the corrections as :func:`callintel.store.export.merge_reviews` merges them,
so this module is pure: the store's sessions stay in :mod:`callintel.store.reviews` and
:mod:`callintel.store.results`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from callintel.domain import Grade, Violation
from callintel.store.outcomes import outcomes_of
from callintel.understand.tags import ATTRIBUTE_TAG_KEYS, LIST_ATTRIBUTES, attribute_tags
from callintel.understand.types import AttributeValue, Evidence, IntentResult

TagSource = Literal["model", "review"]


class ReviewedCheckpoint(BaseModel):
    """A checkpoint as the scorecard gives it (:class:`~callintel.understand.types.CheckpointResult`),
    with QA's verdict applied: a checkpoint QA judged is applicable, ``passed`` as QA said,
    with confidence 1."""

    model_config = ConfigDict(frozen=True)

    passed: bool
    confidence: float
    required: bool
    weight: float
    applicable: bool
    evidence: tuple[Evidence, ...]
    label: str = ""
    custom: bool = False
    reviewed: bool = Field(default=False, description="QA judged this checkpoint.")


class ReviewedViolation(BaseModel):
    """A violation as the scorecard gives it (:class:`~callintel.understand.types.ViolationResult`);
    one QA added has no turn, no words and no penalty."""

    model_config = ConfigDict(frozen=True)

    type: Violation
    turn: int | None
    text: str
    start: float | None
    end: float | None
    confidence: float
    penalty: float = 0.0
    matched: str | None = None
    reviewed: bool = Field(default=False, description="QA confirmed or added this violation.")


class ReviewedScorecard(BaseModel):
    """The scorecard with QA's corrections: checkpoints judged, violations rejected or added, the
    score worked out again as the calls list has it (:func:`callintel.store.outcomes.outcomes_of`)."""

    model_config = ConfigDict(frozen=True)

    scenario: str
    scorecard_version: str
    score: float
    checkpoints: dict[str, ReviewedCheckpoint]
    violations: tuple[ReviewedViolation, ...]
    missed_required: tuple[str, ...]
    penalty: float = 0.0


@dataclass(frozen=True)
class CallTag:
    """A tag the call puts on its customer's journey, and where it comes from: the model, or QA
    (``reviewer`` at ``reviewed_at``)."""

    key: str
    value: str
    confidence: float
    source: TagSource = "model"
    reviewer: str | None = None
    reviewed_at: dt.datetime | None = None


@dataclass(frozen=True)
class ReviewEntry:
    """One recorded review, as :func:`effective` needs it."""

    corrections: Mapping[str, Any]
    reviewer: str
    created_at: dt.datetime


@dataclass(frozen=True)
class Effective:
    """A call's result with QA's corrections applied; ``review_attributes`` are the corrected
    attributes in the shape of ``attributes`` (None: QA says the customer did not say it)."""

    turns: list[dict[str, Any]] | None
    scorecard: ReviewedScorecard | None
    attributes: dict[str, AttributeValue] | None
    intent: IntentResult | None
    review_attributes: dict[str, AttributeValue | None]


_ATTRIBUTES = TypeAdapter(dict[str, AttributeValue])
_INTENT = TypeAdapter(IntentResult)


def effective(
    turns: Sequence[Mapping[str, Any]] | None,
    scorecard: Mapping[str, Any] | None,
    attributes: Mapping[str, Any] | None,
    intent: Mapping[str, Any] | None,
    corrections: Mapping[str, Any] | None,
) -> Effective:
    """The stored parts of a call's newest analysis (JSON) with the merged ``corrections`` on top."""
    corrections = corrections or {}
    model_attributes = _ATTRIBUTES.validate_python(attributes) if attributes is not None else None
    review_attributes: dict[str, AttributeValue | None] = {}
    for key, value in (corrections.get("attributes") or {}).items():
        if value is None:
            review_attributes[key] = None
            continue
        if key in LIST_ATTRIBUTES and not isinstance(value, list):
            value = [value]
        found = (model_attributes or {}).get(key)
        review_attributes[key] = AttributeValue(value, found.evidence if found is not None else ())
    reviewed_attributes = None
    if model_attributes is not None or review_attributes:
        reviewed_attributes = dict(model_attributes or {})
        for key, item in review_attributes.items():
            if item is None:
                reviewed_attributes.pop(key, None)
            else:
                reviewed_attributes[key] = item

    model_intent = _INTENT.validate_python(intent) if intent is not None else None
    grade: Grade | None = corrections.get("grade")
    reviewed_intent = model_intent
    if grade is not None:
        reviewed_intent = IntentResult(grade, model_intent.probabilities if model_intent else {})

    reviewed_turns = None if turns is None else [dict(t) for t in turns]
    if reviewed_turns is not None and corrections.get("swap_roles"):
        for turn in reviewed_turns:
            turn["role"] = {"sales": "customer", "customer": "sales"}.get(turn["role"], turn["role"])

    return Effective(
        turns=reviewed_turns,
        scorecard=None if scorecard is None else reviewed_scorecard(scorecard, corrections),
        attributes=reviewed_attributes,
        intent=reviewed_intent,
        review_attributes=review_attributes,
    )


def reviewed_scorecard(card: Mapping[str, Any], corrections: Mapping[str, Any]) -> ReviewedScorecard:
    """The stored scorecard ``card`` with the checkpoints and violations QA corrected."""
    judged: Mapping[str, bool] = corrections.get("checkpoints") or {}
    verdicts: Mapping[str, bool] = corrections.get("violations") or {}
    checkpoints: dict[str, Any] = {}
    for key, item in (card.get("checkpoints") or {}).items():
        if key in judged:
            item = {
                **item,
                "passed": bool(judged[key]),
                "applicable": True,
                "confidence": 1.0,
                "reviewed": True,
            }
        checkpoints[key] = item
    violations = [
        {**v, "reviewed": v["type"] in verdicts}
        for v in card.get("violations") or ()
        if verdicts.get(v["type"], True)
    ]
    found = {v["type"] for v in violations}
    violations += [
        {
            "type": kind,
            "turn": None,
            "text": "",
            "start": None,
            "end": None,
            "confidence": 1.0,
            "reviewed": True,
        }
        for kind, committed in verdicts.items()
        if committed and kind not in found
    ]
    missed_required = card.get("missed_required") or ()
    if any(key in judged for key in checkpoints):
        missed_required = tuple(
            key
            for key, item in checkpoints.items()
            if item.get("required") and item.get("applicable", True) and not item.get("passed")
        )
    score = outcomes_of(card, None, corrections).score
    return ReviewedScorecard.model_validate(
        dict(card)
        | {
            "score": card.get("score", 0.0) if score is None else score,
            "checkpoints": checkpoints,
            "violations": violations,
            "missed_required": missed_required,
            "penalty": sum(float(v.get("penalty", 0.0)) for v in violations),
        }
    )


def item_reviews(reviews: Iterable[ReviewEntry]) -> dict[tuple[str, str], ReviewEntry]:
    """Which review last set each item: ``(part, key)`` for checkpoints, violations and
    attributes, ``("grade", "")`` for the grade."""
    last: dict[tuple[str, str], ReviewEntry] = {}
    for review in reviews:
        for part in ("checkpoints", "violations", "attributes"):
            for key in review.corrections.get(part) or {}:
                last[part, key] = review
        if review.corrections.get("grade"):
            last["grade", ""] = review
    return last


def reviewed_tags(
    model_tags: Iterable[CallTag], result: Effective, reviews: Sequence[ReviewEntry]
) -> list[CallTag]:
    """The tags the call gives its customer's journey once reviewed: the model's (``model_tags``,
    its tag policy applied) where QA corrected nothing they come from, QA's (confidence 1) for
    the grade, the script score, each checkpoint QA judged missed, each violation QA confirmed or
    added, and each attribute QA corrected. A tag QA contradicted is left out."""
    if not reviews:
        return list(model_tags)
    by_item = item_reviews(reviews)

    def qa(key: str, value: str, item: tuple[str, str]) -> CallTag:
        review = by_item.get(item) or reviews[-1]
        return CallTag(key, value, 1.0, "review", review.reviewer, review.created_at)

    out: list[CallTag] = []
    judged = {key for part, key in by_item if part == "checkpoints"}
    verdicts = {key for part, key in by_item if part == "violations"}
    replaced = {
        ATTRIBUTE_TAG_KEYS[key] for part, key in by_item if part == "attributes" and key in ATTRIBUTE_TAG_KEYS
    }
    if ("grade", "") in by_item:
        replaced.add("intent_grade")
    card = result.scorecard
    missed = (
        set() if card is None else {k for k, c in card.checkpoints.items() if c.applicable and not c.passed}
    )
    committed = set() if card is None else {v.type for v in card.violations}
    if card is not None and (judged or verdicts):
        replaced.add("script_score")
    for tag in model_tags:
        if tag.key in replaced:
            continue
        if (
            card is not None
            and tag.key == "script_missed"
            and (tag.value not in missed or tag.value in judged)
        ):
            continue
        if (
            card is not None
            and tag.key == "violation"
            and (tag.value not in committed or tag.value in verdicts)
        ):
            continue
        out.append(tag)
    if ("grade", "") in by_item and result.intent is not None:
        out.append(qa("intent_grade", result.intent.grade, ("grade", "")))
    if card is not None and (judged or verdicts):
        latest = max(
            (r for (part, _), r in by_item.items() if part in ("checkpoints", "violations")),
            key=lambda r: r.created_at,
        )
        out.append(
            CallTag("script_score", f"{card.score:.0f}", 1.0, "review", latest.reviewer, latest.created_at)
        )
        out += [qa("script_missed", key, ("checkpoints", key)) for key in sorted(missed & judged)]
        out += [qa("violation", kind, ("violations", kind)) for kind in sorted(committed & verdicts)]
    for (part, key), _ in sorted(by_item.items()):
        if part != "attributes" or result.attributes is None or key not in result.attributes:
            continue
        out += [qa(t.key, t.value, (part, key)) for t in attribute_tags(key, result.attributes[key], 1.0)]
    return out

