"""QA reviews of calls: the corrections a review records, checked against the taxonomy, and a
call's reviews merged into one (a later review's value of an item wins).

QA's word is final (issue 17): a review changes the call's grade, score and outcomes
(:func:`callintel.store.outcomes.refresh`), its effective result (:mod:`callintel.store.effective`),
the tags it gives its customer's journey (source ``review``, with the reviewer), and emits
``call.reviewed`` (and ``customer.tags_changed`` when the customer's current tags change)
through the outbox. It is kept as a labelled example for training (:mod:`callintel.store.export`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from callintel.domain import ATTRIBUTES, CHECKPOINTS, VIOLATIONS, Grade, gives_purchase_grade
from callintel.errors import Conflict, InvalidInput, NotFound
from callintel.store import outcomes, search
from callintel.store.effective import CallTag, effective, reviewed_tags
from callintel.store.events import emit
from callintel.store.export import merge_reviews
from callintel.store.keys import Principal
from callintel.store.models import Analysis, Call, Dealer, Review, TagRecord, Transcript, utcnow
from callintel.store.policy import DealerSettings
from callintel.store.redact import redact_json
from callintel.store.results import (
    call_tags,
    current_customer_tags,
    emit_tags_changed,
    review_entries,
    sync_call_tags,
    tag_json,
)
from callintel.training.corpus.jsonl import attribute_value_problem
from callintel.understand.types import AttributeValue, Budget

CorrectedValue = Budget | bool | int | str | None
"""An attribute's corrected value in DOMAIN.md's form, one value as a span of the corpus has it
(one model, one concern); None: the customer did not say it."""


MAX_VALUE = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


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
    def parse(cls, data: Mapping[str, Any], checkpoints: Sequence[str] = CHECKPOINTS) -> Corrections:
        """Corrections as a review's body gives them (each part in its JSON form), checked: every
        checkpoint (of ``checkpoints``: DOMAIN.md's, and a call's scorecard may add the dealer's
        own), violation and attribute known, every attribute value in DOMAIN.md's form.

        Raises:
            InvalidInput: naming the unknown item and the valid ones, or the value's problem.
        """
        for kind, valid in (
            ("checkpoint", checkpoints),
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
            # A corrected value becomes a journey tag: one short line of text.
            if isinstance(value, str) and (len(value) > MAX_VALUE or _CONTROL.search(value)):
                raise InvalidInput(
                    f"attribute {key} value must be one line of at most {MAX_VALUE} characters"
                )
        if "\x00" in str(data.get("note") or ""):
            raise InvalidInput("the note contains a NUL character")
        return cls.model_validate(data)


class RecordedReview(BaseModel):
    """A review as recorded."""

    model_config = ConfigDict(frozen=True)

    id: str
    call_id: str
    corrections: Corrections
    reviewer: str = Field(description="The name of the API key that recorded it.")
    complete: bool = Field(
        description="QA marked the review complete (else a draft; it applies all the same)."
    )
    reviewed_at: dt.datetime


class MergedReview(BaseModel):
    """A call's reviews as one: per checkpoint, violation and attribute the latest value given;
    the latest grade given; the latest review's ``swap_roles``, reviewer, time and ``complete``;
    the latest note, if any."""

    model_config = ConfigDict(frozen=True)

    checkpoints: dict[str, bool] = Field(description="checkpoint -> passed")
    violations: dict[str, bool] = Field(description="violation -> committed")
    attributes: dict[str, AttributeValue | None] = Field(
        description="attribute -> the corrected value in the shape of the call's `attributes` (the "
        "model's evidence kept where it found the attribute); null: the customer did not say it"
    )
    grade: Grade | None
    swap_roles: bool
    note: str = Field(default="", exclude_if=lambda note: not note, description="Absent when none.")
    reviewer: str = Field(description="Who recorded the latest review (the API key's name).")
    reviewed_at: str = Field(
        json_schema_extra={"format": "date-time"}, description="When the latest review was recorded."
    )
    complete: bool = Field(
        description="The latest review was marked complete; false: QA's corrections so far (a draft), "
        "which apply all the same."
    )
    reviewers: list[str] = Field(description="Everyone who reviewed the call, first reviewer first.")


def add_review(
    session: Session, who: Principal, call_id: str, body: Mapping[str, Any], complete: bool = False
) -> RecordedReview:
    """Record a review of an analysed call by ``who`` (its reviewer is the key's name) and make
    QA's word final: the call's outcomes, the tags it gives its customer's journey, and the
    events ``call.reviewed`` and (when the customer's current tags change) ``customer.tags_changed``.
    ``body`` holds the corrections in their JSON form (:meth:`Corrections.parse`; the call's own
    scorecard's checkpoints count as known). With the dealer's redaction on, personal data in
    the note and attribute values is masked.

    Raises:
        NotFound: there is no such call, or ``who`` may not see it.
        Conflict: the call is not analysed (yet).
        InvalidInput: the corrections name unknown items or give values not in DOMAIN.md's form.
    """
    # The call's row is locked (on PostgreSQL) until the commit: reviews and analyses of one call
    # update its tags one after the other.
    call = session.get(Call, call_id, with_for_update=True)
    if call is None or not who.may_see(call.dealer_id):
        raise NotFound(f"no call {call_id!r}")
    if call.status != "done":
        raise Conflict(f"the call is {call.status}: review it once analysed")
    analysis = newest_analysis(session, call.id)
    if analysis is None:
        raise Conflict("the call has no analysis to review")
    own = list((analysis.scorecard or {}).get("checkpoints") or ())
    corrections = Corrections.parse(body, [*CHECKPOINTS, *(k for k in own if k not in CHECKPOINTS)])
    if corrections.grade is not None and not gives_purchase_grade(call.scenario):
        raise InvalidInput(f"a {call.scenario} call gets no purchase grade: leave grade out of the review")
    dealer = session.get(Dealer, call.dealer_id)
    redaction = DealerSettings.of(dealer.settings if dealer else None).redaction
    if redaction.enabled:
        corrections = corrections.model_copy(
            update={
                "note": redact_json(corrections.note, redaction.kinds),
                "attributes": redact_json(dict(corrections.attributes), redaction.kinds),
            }
        )
    now = utcnow()
    row = Review(
        call_id=call.id,
        api_key_id=who.key_id,
        corrections=corrections.model_dump(),
        created_at=now,
        reviewer=who.name,
        complete=complete,
    )
    session.add(row)
    session.flush()
    outcomes.refresh(session, call)

    before = current_customer_tags(session, call.customer_id)
    reviews = review_entries(session, call.id)
    merged = merge_reviews(r.corrections for r in reviews)
    transcript = session.get(Transcript, call.id)
    turns = transcript.turns if transcript is not None else None
    view = effective(turns, analysis.scorecard, analysis.attributes, analysis.intent, merged)
    if view.turns is not None:  # search finds each turn by who said it as QA has it
        search.index_turns(session, search.IndexedCall.of(call), view.turns)
    model = model_tags(session, call.id, analysis.id)
    as_of = model[0].as_of if model else analysis.created_at
    wanted = reviewed_tags([CallTag(t.key, t.value, t.confidence) for t in model], view, reviews)
    sync_call_tags(session, call, wanted, analysis.id, as_of, now)
    summary = merged_view(session, call.id, view.review_attributes)
    emit(
        session,
        call.dealer_id,
        "call.reviewed",
        {
            "call_id": call.id,
            "external_id": call.external_id,
            "customer_id": call.customer.external_id if call.customer else None,
            "lead_id": call.lead_id,
            "salesperson_id": call.salesperson_id,
            "scenario": call.scenario,
            "reviewer": row.reviewer,
            "reviewed_at": now.isoformat(),
            "complete": complete,
            "note": corrections.note,
            "corrections": corrections.model_dump(exclude={"note"}),
            "review": None if summary is None else summary.model_dump(mode="json"),
            "grade": call.grade,
            "score": call.score,
            "missed": sorted(
                o.key for o in call.outcomes if o.kind == "checkpoint" and o.outcome == "missed"
            ),
            "violations": sorted(o.key for o in call.outcomes if o.kind == "violation"),
            "intent": None if view.intent is None else asdict(view.intent),
            "tags": [tag_json(t) for t in call_tags(session, call.id)],
        },
        call_id=call.id,
        customer_id=call.customer_id,
    )
    emit_tags_changed(session, call, before)
    return RecordedReview(
        id=row.id,
        call_id=call.id,
        corrections=corrections,
        reviewer=row.reviewer,
        complete=complete,
        reviewed_at=now,
    )


def newest_analysis(session: Session, call_id: str) -> Analysis | None:
    return session.scalars(
        select(Analysis).where(Analysis.call_id == call_id).order_by(Analysis.created_at.desc()).limit(1)
    ).first()


def model_tags(session: Session, call_id: str, analysis_id: str) -> list[TagRecord]:
    """The journey tags the model gave in the call's analysis ``analysis_id`` (those QA superseded too)."""
    return list(
        session.scalars(
            select(TagRecord)
            .where(
                TagRecord.call_id == call_id,
                TagRecord.analysis_id == analysis_id,
                TagRecord.source == "model",
            )
            .order_by(TagRecord.as_of, TagRecord.created_at, TagRecord.id)
        )
    )


def merged_view(
    session: Session, call_id: str, attributes: Mapping[str, AttributeValue | None]
) -> MergedReview | None:
    """The call's reviews merged (:func:`callintel.store.export.merge_reviews`), with the
    corrected ``attributes`` in the shape of the call's; None when there is none."""
    rows: Sequence[Review] = session.scalars(
        select(Review).where(Review.call_id == call_id).order_by(Review.created_at, Review.id)
    ).all()
    merged = merge_reviews(r.corrections for r in rows)
    if merged is None:
        return None
    last = rows[-1]
    return MergedReview.model_validate(
        merged
        | {
            "attributes": dict(attributes),
            "reviewer": last.reviewer,
            "reviewed_at": last.created_at.isoformat(),
            "complete": last.complete,
            "reviewers": list(dict.fromkeys(r.reviewer for r in rows)),
        }
    )
