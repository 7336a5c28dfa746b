"""QA reviews as training data: reviewed calls in the corpus format (docs/corpus.md).

Each reviewed call becomes one dialogue: the stored transcript, the models' labels where the
reviews left them standing, and the reviews' corrections over them (merged in order: a later
review's value of an item wins, so QA can correct one item at a time):
- ``grade``: the review's, else the model's;
- checkpoints: a checkpoint the review failed is taken off every turn; one it passed and the
  model had missed is put on the model's closest turn (the near miss), if there was one;
- violations: one the review cleared is taken off; one it added cannot be placed on a turn
  (the review does not say which) and is left out;
- attributes: the spans the model found, with the reviewed value for a corrected key;
- ``swap_roles``: the roles are swapped and the models' turn labels dropped (they were read
  with the wrong roles); the grade still counts.

After-sales calls (``service_call``) are left out: the corpus is of sales calls, each with a
purchase grade, and their scorecard is the dealer's own checkpoints, learnt by no model.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from callintel.domain import NO_PURCHASE_GRADE
from callintel.store.models import Analysis, Call, Review, Transcript
from callintel.training.corpus.jsonl import attribute_value_problem, validate_dialogue


def merge_reviews(reviews: Iterable[Mapping[str, Any]]) -> dict[str, Any] | None:
    """A call's review corrections (oldest first) as one: per checkpoint, violation and
    attribute the latest value wins; the latest grade given wins; ``swap_roles`` is the latest
    review's. None when there is no review."""
    merged: dict[str, Any] | None = None
    for corrections in reviews:
        merged = merged or {"checkpoints": {}, "violations": {}, "attributes": {}, "grade": None}
        for part in ("checkpoints", "violations", "attributes"):
            merged[part].update(corrections.get(part) or {})
        if corrections.get("grade"):
            merged["grade"] = corrections["grade"]
        merged["swap_roles"] = bool(corrections.get("swap_roles"))
        if corrections.get("note"):
            merged["note"] = corrections["note"]
    return merged


def reviewed_dialogues(session: Session, dealer: str | None = None) -> Iterator[dict[str, Any]]:
    """One corpus dialogue per reviewed, analysed call (oldest call first)."""
    query = (
        select(Call)
        .where(Call.id.in_(select(Review.call_id)), Call.scenario.not_in(sorted(NO_PURCHASE_GRADE)))
        .order_by(Call.created_at)
    )
    if dealer is not None:
        query = query.where(Call.dealer_id == dealer)
    for call in session.scalars(query):
        corrections = merge_reviews(
            r.corrections
            for r in session.scalars(
                select(Review).where(Review.call_id == call.id).order_by(Review.created_at, Review.id)
            )
        )
        transcript = session.get(Transcript, call.id)
        analysis = session.scalars(
            select(Analysis).where(Analysis.call_id == call.id).order_by(Analysis.created_at.desc())
        ).first()
        if corrections is None or transcript is None or analysis is None or not transcript.turns:
            continue
        dialogue = to_dialogue(call, transcript, analysis, corrections)
        validate_dialogue(dialogue)
        yield dialogue


def to_dialogue(
    call: Call, transcript: Transcript, analysis: Analysis, corrections: Mapping[str, Any]
) -> dict[str, Any]:
    swap = bool(corrections.get("swap_roles"))
    turns: list[dict[str, Any]] = []
    for t in transcript.turns:
        role = t["role"]
        if swap:
            role = "customer" if role == "sales" else "sales"
        turn: dict[str, Any] = {"role": role, "text": t["text"]}
        turn |= {"checkpoints": [], "violations": []} if role == "sales" else {"attributes": []}
        turns.append(turn)
    intent = analysis.intent or {}
    grade = corrections.get("grade") or intent.get("grade")
    if not swap:
        _checkpoints(turns, analysis.scorecard or {}, corrections.get("checkpoints") or {})
        _violations(turns, analysis.scorecard or {}, corrections.get("violations") or {})
        _attributes(turns, analysis.attributes or {}, corrections.get("attributes") or {})
    recorded = call.recorded_at or call.created_at
    return {
        "id": f"review-{call.id}",
        "language": "zh" if (transcript.language or call.language or "zh").startswith("zh") else "en",
        "scenario": call.scenario,
        "call_date": recorded.date().isoformat(),
        "grade": grade,
        "source": "review",
        "turns": turns,
    }


def _sales(turns: list[dict[str, Any]], index: int) -> dict[str, Any] | None:
    return turns[index] if 0 <= index < len(turns) and turns[index]["role"] == "sales" else None


def _checkpoints(
    turns: list[dict[str, Any]], scorecard: Mapping[str, Any], review: Mapping[str, bool]
) -> None:
    for key, item in (scorecard.get("checkpoints") or {}).items():
        if item.get("custom"):
            continue
        evidence = item.get("evidence") or []
        verdict = review.get(key, item.get("passed"))
        if not verdict:
            continue
        chosen = [e for e in evidence if not e.get("near_miss")] or (evidence[:1] if key in review else [])
        for e in chosen:
            turn = _sales(turns, int(e["turn"]))
            if turn is not None and key not in turn["checkpoints"]:
                turn["checkpoints"].append(key)


def _violations(
    turns: list[dict[str, Any]], scorecard: Mapping[str, Any], review: Mapping[str, bool]
) -> None:
    for v in scorecard.get("violations") or []:
        if review.get(v["type"], True) is False:
            continue
        turn = _sales(turns, int(v["turn"]))
        if turn is not None and v["type"] not in turn["violations"]:
            turn["violations"].append(v["type"])


def _attributes(
    turns: list[dict[str, Any]], attributes: Mapping[str, Any], review: Mapping[str, Any]
) -> None:
    for key, item in attributes.items():
        values = item.get("value")
        for n, e in enumerate(item.get("evidence") or []):
            index = int(e["turn"])
            if not 0 <= index < len(turns) or turns[index]["role"] != "customer":
                continue
            text = turns[index]["text"]
            start = text.find(e.get("text") or "\0")
            if start < 0:
                continue
            if key in review:
                value = review[key]
            else:
                value = values[n] if isinstance(values, list) and n < len(values) else values
            if attribute_value_problem(key, value) is None:
                turns[index]["attributes"].append(
                    {"key": key, "start": start, "end": start + len(e["text"]), "value": value}
                )
