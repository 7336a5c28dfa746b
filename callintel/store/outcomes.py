"""What the calls list and the team view filter on: a call's grade, score and scorecard outcomes,
with QA's review applied (a reviewed value wins over the model's).

They are kept on ``calls`` (grade, score, reviewed_at) and in ``call_outcomes`` (one row per
checkpoint, and per violation committed), refreshed whenever a call gets an analysis or a review,
so that filtering thousands of calls needs no JSON in SQL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from callintel.store.export import merge_reviews
from callintel.store.models import Analysis, Call, CallOutcome, Review

CHECKPOINT_OUTCOMES = ("passed", "missed", "n/a")


@dataclass(frozen=True)
class Outcomes:
    grade: str | None
    score: float | None
    # (kind, key) -> (outcome, reviewed)
    items: dict[tuple[str, str], tuple[str, bool]] = field(default_factory=dict)


def outcomes_of(
    scorecard: Mapping[str, Any] | None, intent: Mapping[str, Any] | None, review: Mapping[str, Any] | None
) -> Outcomes:
    """A call's outcomes from its analysis (scorecard and intent as stored) and merged review.

    The score is the model's unless QA changed a checkpoint or a violation; then it is worked out
    again as the scorer does: the weight of applicable checkpoints passed over the weight of those
    applicable (a checkpoint QA judged counts as applicable), less the penalties of the violations
    found that QA did not reject. A violation QA adds costs nothing, for its penalty is not in the
    stored result; it still counts as committed.
    """
    review = review or {}
    corrected_checkpoints: Mapping[str, bool] = review.get("checkpoints") or {}
    corrected_violations: Mapping[str, bool] = review.get("violations") or {}
    grade = review.get("grade") or (intent or {}).get("grade")
    if scorecard is None:
        return Outcomes(grade=grade, score=None)

    items: dict[tuple[str, str], tuple[str, bool]] = {}
    earned = total = 0.0
    for key, checkpoint in (scorecard.get("checkpoints") or {}).items():
        applicable = bool(checkpoint.get("applicable", True))
        passed = bool(checkpoint.get("passed"))
        reviewed = key in corrected_checkpoints
        if reviewed:
            applicable, passed = True, bool(corrected_checkpoints[key])
        items["checkpoint", key] = ("n/a" if not applicable else "passed" if passed else "missed", reviewed)
        if applicable:
            weight = float(checkpoint.get("weight", 1.0))
            total += weight
            earned += weight if passed else 0.0

    penalty = 0.0
    for violation in scorecard.get("violations") or ():
        kind = violation["type"]
        if corrected_violations.get(kind, True):
            penalty += float(violation.get("penalty", 0.0))
            items.setdefault(("violation", kind), ("committed", kind in corrected_violations))
    for kind, committed in corrected_violations.items():
        if committed:
            items["violation", kind] = ("committed", True)

    score = scorecard.get("score")
    if corrected_checkpoints or corrected_violations:
        base = 100.0 * earned / total if total > 0 else 100.0
        score = round(min(100.0, max(0.0, base - penalty)), 1)
    return Outcomes(grade=grade, score=None if score is None else float(score), items=items)


def refresh(session: Session, call: Call) -> None:
    """Bring the call's grade, score, review time and ``call_outcomes`` rows up to date with its
    newest analysis and its reviews."""
    analysis = session.scalars(
        select(Analysis).where(Analysis.call_id == call.id).order_by(Analysis.created_at.desc()).limit(1)
    ).first()
    reviews = session.scalars(
        select(Review).where(Review.call_id == call.id).order_by(Review.created_at, Review.id)
    ).all()
    review = merge_reviews(r.corrections for r in reviews)
    outcomes = outcomes_of(
        analysis.scorecard if analysis else None, analysis.intent if analysis else None, review
    )
    call.grade = outcomes.grade if analysis is not None else None
    call.score = outcomes.score
    call.reviewed_at = reviews[-1].created_at if reviews else None
    session.execute(delete(CallOutcome).where(CallOutcome.call_id == call.id))
    session.add_all(
        CallOutcome(call_id=call.id, kind=kind, key=key, outcome=outcome, reviewed=reviewed)
        for (kind, key), (outcome, reviewed) in outcomes.items.items()
    )
    session.flush()
    session.expire(call, ["outcomes"])
