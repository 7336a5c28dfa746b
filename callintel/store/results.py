"""Storing an analysis: the transcript, the result, the customer's journey tags and the events,
in the caller's transaction; and the redaction a dealer asks for, applied before.

Workers (:mod:`callintel.service.worker`) and the database batch (:mod:`callintel.batch.db`)
store through here, so a result is stored the same way whoever produced it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from callintel.result import AnalysisResult
from callintel.store import outcomes, search
from callintel.store.events import emit
from callintel.store.models import Analysis, Call, ScorecardRecord, TagRecord, Transcript, utcnow
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
    The database keeps the result's JSON form (``schemas/analysis.schema.json``)."""
    now = utcnow()
    result = analysis.to_dict()
    understanding = result.get("understanding") or {}
    session.merge(Transcript(call_id=call.id, language=result.get("language"), turns=list(result["turns"])))
    search.index_turns(session, search.IndexedCall.of(call), result["turns"])
    models = {m["name"]: m["version"] for m in result.get("models", ())}
    models.update({f"understanding/{k}": v for k, v in (understanding.get("models") or {}).items()})
    session.add(
        Analysis(
            call_id=call.id,
            scorecard=understanding.get("scorecard"),
            attributes=understanding.get("attributes"),
            intent=understanding.get("intent"),
            metrics=result.get("metrics"),
            models=models,
            result=dict(result),
        )
    )
    version = ", ".join(str(v) for k, v in sorted(models.items()) if k.startswith("understanding/"))[:100]
    before = _current_tags(session, call.customer_id)
    kept = policy.select(understanding.get("tags") or ())
    records = [
        TagRecord(
            dealer_id=call.dealer_id,
            call_id=call.id,
            customer_id=call.customer_id,
            key=tag["key"],
            value=str(tag["value"])[:400],
            confidence=float(tag["confidence"]),
            model_version=version,
            created_at=now,
        )
        for tag in kept
    ]
    session.add_all(records)
    call.status = "done"
    call.error = None
    call.updated_at = now
    session.flush()
    outcomes.refresh(session, call)
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
            "intent": understanding.get("intent"),
            "score": (understanding.get("scorecard") or {}).get("score"),
            "tags": [tag_json(t) for t in records],
            "metrics": result.get("metrics"),
        },
        call_id=call.id,
        customer_id=call.customer_id,
    )
    if call.customer_id is None:
        return
    after = _current_tags(session, call.customer_id)
    changed = tag_changes(before, after)
    if changed:
        emit(
            session,
            call.dealer_id,
            "customer.tags_changed",
            {
                "customer_id": customer,
                "call_id": call.id,
                **changed.to_dict(),
                "current": [tag_json(t) for t in after],
            },
            call_id=call.id,
            customer_id=call.customer_id,
        )


def tag_json(tag: TagRecord) -> dict[str, Any]:
    """A journey tag as events and the API give it."""
    return {
        "key": tag.key,
        "value": tag.value,
        "confidence": round(tag.confidence, 4),
        "call_id": tag.call_id,
        "model_version": tag.model_version,
        "created_at": tag.created_at.isoformat(),
    }


def tag_history(session: Session, customer_id: str) -> list[TagRecord]:
    """Every tag on a customer's journey (internal id), oldest first."""
    return list(
        session.scalars(
            select(TagRecord)
            .where(TagRecord.customer_id == customer_id)
            .order_by(TagRecord.created_at, TagRecord.id)
        )
    )


def _current_tags(session: Session, customer_id: str | None) -> list[TagRecord]:
    return [] if customer_id is None else current_tags(tag_history(session, customer_id))


def current_scorecard(session: Session, scenario: str, models_dir: Path) -> Scorecard | None:
    """The scorecard edited through the API for ``scenario``, if there is one."""
    record = session.get(ScorecardRecord, scenario)
    if record is None:
        return None
    return parse_scorecard(record.document, Path(models_dir) / "scorecards" / f"{scenario}.yaml")
