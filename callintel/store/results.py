"""Storing an analysis: the transcript, the result, the customer's journey tags and the events,
in the caller's transaction; and the redaction a dealer asks for, applied before.

Workers (:mod:`callintel.service.worker`) and the database batch (:mod:`callintel.batch.db`)
store through here, so a result is stored the same way whoever produced it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from callintel.result import AnalysisResult
from callintel.store import outcomes, search
from callintel.store.effective import CallTag, ReviewEntry, effective, reviewed_tags
from callintel.store.events import emit
from callintel.store.export import merge_reviews
from callintel.store.models import (
    Analysis,
    Call,
    Review,
    ScorecardRecord,
    TagRecord,
    Transcript,
    new_id,
    utcnow,
)
from callintel.store.policy import RedactionSettings
from callintel.store.redact import RedactedSpan, redact_json, redact_turns
from callintel.understand.scoring import Scorecard, parse_scorecard
from callintel.understand.tags import TagPolicy, current_tags
from callintel.understand.tags import changes as tag_changes


def redact_result(
    result: AnalysisResult, redaction: RedactionSettings
) -> tuple[AnalysisResult, list[RedactedSpan]]:
    """The result with personal data masked everywhere (turns and their words, evidence, attribute
    values, tags), and where it was in the audio. Unchanged when redaction is off.

    Masking works on the JSON form (every string of the result is searched), which is then
    validated back into an :class:`AnalysisResult`."""
    if not redaction.enabled:
        return result, []
    data = result.to_dict()
    turns, spans = redact_turns(list(data.get("turns") or ()), redaction.kinds)
    masked = redact_json({k: v for k, v in data.items() if k != "turns"}, redaction.kinds)
    masked["turns"] = turns
    masked["redaction"] = {
        "kinds": list(redaction.kinds),
        "spans": [{"turn": s.turn, "kind": s.kind, "start": s.start, "end": s.end} for s in spans],
    }
    return AnalysisResult.from_dict(masked), spans


def store_result(
    session: Session,
    call: Call,
    analysis: AnalysisResult,
    policy: TagPolicy = TagPolicy(),
) -> None:
    """Write an analysis of ``call`` (already redacted as its dealer asks): transcript (and what
    search finds of it), analysis, the journey tags that ``policy`` keeps, and the outbox events
    (``call.analyzed``, and ``customer.tags_changed`` when the customer's current tags changed).
    The database keeps the result's JSON form (``schemas/analysis.schema.json``).

    QA's corrections stay on top: a call analysed again after a review keeps the reviewed
    values in its journey tags and events (the tags of its previous analysis are superseded)."""
    # Lock the call's row (on PostgreSQL) until the commit, as a review does: the two update
    # the call's tags one after the other.
    session.execute(select(Call.id).where(Call.id == call.id).with_for_update())
    now = utcnow()
    result = analysis.to_dict()
    understanding = result.get("understanding") or {}
    session.merge(Transcript(call_id=call.id, language=result.get("language"), turns=list(result["turns"])))
    models = {m["name"]: m["version"] for m in result.get("models", ())}
    models.update({f"understanding/{k}": v for k, v in (understanding.get("models") or {}).items()})
    stored = Analysis(
        id=new_id(),
        call_id=call.id,
        scorecard=understanding.get("scorecard"),
        attributes=understanding.get("attributes"),
        intent=understanding.get("intent"),
        metrics=result.get("metrics"),
        models=models,
        result=dict(result),
        created_at=now,
    )
    session.add(stored)
    version = ", ".join(str(v) for k, v in sorted(models.items()) if k.startswith("understanding/"))[:100]
    before = current_customer_tags(session, call.customer_id)
    for old in call_tags(session, call.id):
        old.superseded_at = now
    kept = policy.select(understanding.get("tags") or ())
    session.add_all(
        TagRecord(
            dealer_id=call.dealer_id,
            call_id=call.id,
            customer_id=call.customer_id,
            key=tag["key"],
            value=str(tag["value"])[:400],
            confidence=float(tag["confidence"]),
            model_version=version,
            created_at=now,
            as_of=now,
            analysis_id=stored.id,
        )
        for tag in kept
    )
    call.status = "done"
    call.error = None
    call.updated_at = now
    session.flush()
    outcomes.refresh(session, call)
    reviews = review_entries(session, call.id)
    view = effective(
        result["turns"],
        understanding.get("scorecard"),
        understanding.get("attributes"),
        understanding.get("intent"),
        merge_reviews(r.corrections for r in reviews),
    )
    # Search finds the turns by who said them as QA has it (a review may swap the roles).
    search.index_turns(session, search.IndexedCall.of(call), view.turns or ())
    if reviews:
        model_tags = [CallTag(t["key"], str(t["value"])[:400], float(t["confidence"])) for t in kept]
        sync_call_tags(session, call, reviewed_tags(model_tags, view, reviews), stored.id, now, now)
    records = call_tags(session, call.id)
    customer = call.customer.external_id if call.customer else None
    emit(
        session,
        call.dealer_id,
        "call.analyzed",
        {
            "call_id": call.id,
            "external_id": call.external_id,
            "customer_id": customer,
            "lead_id": call.lead_id,
            "salesperson_id": call.salesperson_id,
            "scenario": call.scenario,
            "recorded_at": call.recorded_at.isoformat() if call.recorded_at else None,
            "duration": result.get("duration"),
            "intent": None if view.intent is None else asdict(view.intent),
            "score": view.scorecard.score if view.scorecard is not None else None,
            "tags": [tag_json(t) for t in records],
            "metrics": result.get("metrics"),
            "reviewed": bool(reviews),
        },
        call_id=call.id,
        customer_id=call.customer_id,
    )
    emit_tags_changed(session, call, before)


def emit_tags_changed(session: Session, call: Call, before: Sequence[TagRecord]) -> None:
    """Emit ``customer.tags_changed`` if the customer's current tags differ from ``before``."""
    if call.customer_id is None:
        return
    after = current_customer_tags(session, call.customer_id)
    changed = tag_changes(before, after)
    if changed:
        emit(
            session,
            call.dealer_id,
            "customer.tags_changed",
            {
                "customer_id": call.customer.external_id if call.customer else None,
                "call_id": call.id,
                **changed.to_dict(),
                "current": [tag_json(t) for t in after],
            },
            call_id=call.id,
            customer_id=call.customer_id,
        )


def review_entries(session: Session, call_id: str) -> list[ReviewEntry]:
    """The call's reviews, oldest first."""
    rows = session.scalars(
        select(Review).where(Review.call_id == call_id).order_by(Review.created_at, Review.id)
    )
    return [ReviewEntry(r.corrections, r.reviewer, r.created_at) for r in rows]


def call_tags(session: Session, call_id: str) -> list[TagRecord]:
    """The tags the call gives its customer's journey now (none superseded), in journey order."""
    return list(
        session.scalars(
            select(TagRecord)
            .where(TagRecord.call_id == call_id, TagRecord.superseded_at.is_(None))
            .order_by(TagRecord.as_of, TagRecord.created_at, TagRecord.id)
        )
    )


def sync_call_tags(
    session: Session,
    call: Call,
    wanted: Sequence[CallTag],
    analysis_id: str,
    as_of: dt.datetime,
    now: dt.datetime,
) -> None:
    """Make the call's current tags ``wanted``, those of its analysis ``analysis_id``: a current
    tag that is not wanted (or belongs to another analysis) is superseded, a wanted one that is
    missing is added at ``as_of``. A tag kept as it was keeps its source, reviewer and time."""
    missing = list(wanted)
    for record in call_tags(session, call.id):
        same = next(
            (
                w
                for w in missing
                if (w.key, w.value[:400], w.source) == (record.key, record.value, record.source)
            ),
            None,
        )
        if same is None or record.analysis_id != analysis_id:
            record.superseded_at = now
        else:
            missing.remove(same)
    session.add_all(
        TagRecord(
            dealer_id=call.dealer_id,
            call_id=call.id,
            customer_id=call.customer_id,
            key=tag.key,
            value=tag.value[:400],
            confidence=tag.confidence,
            model_version="",
            created_at=tag.reviewed_at or now,
            source=tag.source,
            reviewer=tag.reviewer,
            as_of=as_of,
            analysis_id=analysis_id,
        )
        for tag in missing
    )
    session.flush()


def tag_json(tag: TagRecord) -> dict[str, Any]:
    """A journey tag as events and the API give it."""
    return {
        "key": tag.key,
        "value": tag.value,
        "confidence": round(tag.confidence, 4),
        "call_id": tag.call_id,
        "model_version": tag.model_version,
        "created_at": tag.created_at.isoformat(),
        "source": tag.source,
        "reviewer": tag.reviewer,
    }


def tag_history(session: Session, customer_id: str) -> list[TagRecord]:
    """Every tag on a customer's journey (internal id), superseded ones too, in journey order
    (the time of the analysis each belongs to, then when it was written)."""
    return list(
        session.scalars(
            select(TagRecord)
            .where(TagRecord.customer_id == customer_id)
            .order_by(TagRecord.as_of, TagRecord.created_at, TagRecord.id)
        )
    )


def current_customer_tags(session: Session, customer_id: str | None) -> list[TagRecord]:
    """The customer's (internal id) current tags: for each key, the newest call's (none superseded)."""
    if customer_id is None:
        return []
    return current_tags([t for t in tag_history(session, customer_id) if t.superseded_at is None])


def current_scorecard(session: Session, scenario: str, models_dir: Path) -> Scorecard | None:
    """The scorecard edited through the API for ``scenario``, if there is one."""
    record = session.get(ScorecardRecord, scenario)
    if record is None:
        return None
    return parse_scorecard(record.document, Path(models_dir) / "scorecards" / f"{scenario}.yaml")
