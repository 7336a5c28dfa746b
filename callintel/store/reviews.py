"""QA reviews of calls: the corrections a review records, checked against the taxonomy, and a
call's reviews merged into one (a later review's value of an item wins).

A review changes the call's grade, score and outcomes (:func:`callintel.store.outcomes.refresh`)
and is kept as a labelled example for training (:mod:`callintel.store.export`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from callintel.domain import ATTRIBUTES, CHECKPOINTS, VIOLATIONS, Grade
from callintel.errors import Conflict, InvalidInput, NotFound
from callintel.store import outcomes
from callintel.store.export import merge_reviews
from callintel.store.keys import Principal
from callintel.store.models import Call, Review, utcnow
from callintel.training.corpus.jsonl import attribute_value_problem
from callintel.understand.types import Budget

CorrectedValue = Budget | bool | int | str | None
"""An attribute's corrected value in DOMAIN.md's form, one value as a span of the corpus has it
(one model, one concern); None: the customer did not say it."""


class Corrections(BaseModel):
    """What one review corrects; every part optional."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    checkpoints: dict[str, bool] = Field(default_factory=dict, description="checkpoint -> passed")
    violations: dict[str, bool] = Field(default_factory=dict, description="violation -> committed")
    attributes: dict[str, CorrectedValue] = Field(
        default_factory=dict,
        description="attribute -> corrected value in DOMAIN.md's form; null: the customer did not say it",
    )
    grade: Grade | None = None
    swap_roles: bool = False
    note: str = Field(default="", max_length=2000)

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Corrections:
        """Corrections as a review's body gives them (each part in its JSON form), checked: every
        checkpoint, violation and attribute known, every attribute value in DOMAIN.md's form.

        Raises:
            InvalidInput: naming the unknown item and the valid ones, or the value's problem.
        """
        for kind, valid in (
            ("checkpoint", CHECKPOINTS),
            ("violation", VIOLATIONS),
            ("attribute", ATTRIBUTES),
        ):
            unknown = sorted(set(data.get(f"{kind}s") or ()) - set(valid))
            if unknown:
                raise InvalidInput(f"unknown {kind} {', '.join(unknown)}; valid: {', '.join(valid)}")
        for key, value in (data.get("attributes") or {}).items():
            problem = None if value is None else attribute_value_problem(key, value)
            if problem:
                raise InvalidInput(f"attribute {problem} (null: the customer did not say it)")
        return cls.model_validate(data)


class RecordedReview(BaseModel):
    """A review as recorded."""

    model_config = ConfigDict(frozen=True)

    id: str
    call_id: str
    corrections: Corrections


class MergedReview(BaseModel):
    """A call's reviews as one: per checkpoint, violation and attribute the latest value given;
    the latest grade given; the latest review's ``swap_roles``; the latest note, if any."""

    model_config = ConfigDict(frozen=True)

    checkpoints: dict[str, bool] = Field(description="checkpoint -> passed")
    violations: dict[str, bool] = Field(description="violation -> committed")
    attributes: dict[str, CorrectedValue] = Field(description="attribute -> corrected value")
    grade: Grade | None
    swap_roles: bool
    note: str = Field(default="", exclude_if=lambda note: not note, description="Absent when none.")
    reviewed_at: str = Field(
        json_schema_extra={"format": "date-time"}, description="When the latest review was recorded."
    )


def add_review(session: Session, who: Principal, call_id: str, corrections: Corrections) -> RecordedReview:
    """Record a review of an analysed call by ``who`` and bring the call's outcomes up to date.

    Raises:
        NotFound: there is no such call, or ``who`` may not see it.
        Conflict: the call is not analysed (yet).
    """
    call = session.get(Call, call_id)
    if call is None or not who.may_see(call.dealer_id):
        raise NotFound(f"no call {call_id!r}")
    if call.status != "done":
        raise Conflict(f"the call is {call.status}: review it once analysed")
    row = Review(
        call_id=call.id, api_key_id=who.key_id, corrections=corrections.model_dump(), created_at=utcnow()
    )
    session.add(row)
    session.flush()
    outcomes.refresh(session, call)
    return RecordedReview(id=row.id, call_id=call.id, corrections=corrections)


def merged_review(session: Session, call_id: str) -> MergedReview | None:
    """The call's reviews merged (:func:`callintel.store.export.merge_reviews`); None when there
    is none."""
    reviews = session.scalars(
        select(Review).where(Review.call_id == call_id).order_by(Review.created_at, Review.id)
    ).all()
    merged = merge_reviews(r.corrections for r in reviews)
    if merged is None:
        return None
    return MergedReview.model_validate(merged | {"reviewed_at": reviews[-1].created_at.isoformat()})
