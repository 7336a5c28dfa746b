"""``/v1/calls:analyze`` (synchronous), customer journeys, QA reviews and scorecards."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from fastapi import APIRouter, Body, Depends, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from api.auth import require
from api.calls import check_recording, stage_upload, visible_call
from api.problems import Problem
from callintel.errors import AudioError, ConfigError
from callintel.options import AnalysisOptions, SpeakerOptions, TranscriptionOptions
from callintel.store import outcomes
from callintel.store.keys import Principal
from callintel.store.models import Call, Customer, Review, ScorecardRecord, utcnow
from callintel.store.results import current_scorecard, tag_history
from callintel.training.corpus.jsonl import attribute_value_problem
from callintel.understand.scoring import load_scorecard, parse_scorecard
from callintel.understand.tags import current_tags

router = APIRouter(prefix="/v1")
Scenario = Literal["showroom", "inbound_call", "outbound_followup"]


@router.post("/calls:analyze", tags=["calls"])
async def analyze_now(
    request: Request,
    audio: Annotated[UploadFile, File(description="A short recording (see the duration limit).")],
    who: Annotated[Principal, Depends(require("qa", "crm"))],
    scenario: Annotated[Scenario, Form()] = "inbound_call",
    channel_layout: Annotated[Literal["auto", "stereo", "mono"], Form()] = "auto",
    language: Annotated[str | None, Form(max_length=8)] = None,
    recorded_at: Annotated[dt.date | None, Form()] = None,
) -> Any:
    """Analyse a short recording and answer with the result at once; nothing is stored.
    Longer than the limit (``CALLINTEL_SYNC_MAX_SECONDS``): 413, upload it to ``/v1/calls``."""
    state = request.app.state
    try:
        options = AnalysisOptions(
            transcription=TranscriptionOptions(language=language),
            speakers=SpeakerOptions(channels=channel_layout),
            scenario=scenario,
            call_date=recorded_at.isoformat() if recorded_at else None,
        )
    except ValueError as e:
        raise Problem(422, str(e).split(" (all:")[0]) from e
    analyzer = state.sync_analyzer
    if analyzer is None:
        raise Problem(503, "this server does not analyse synchronously (no models loaded)")
    staged = await stage_upload(state, audio)
    try:
        check_recording(staged, state.settings.sync_max_seconds, "synchronous analysis takes up to")
        try:
            with state.db.session() as session:
                scorecard = current_scorecard(session, scenario, state.settings.models_dir)
            return await run_in_threadpool(analyzer, staged.path, options, scorecard)
        except AudioError as e:
            raise Problem(422, f"the recording cannot be analysed: {e}") from e
    finally:
        state.blobs.discard(staged)


class JourneyCall(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    scenario: str
    status: str
    recorded_at: dt.datetime | None
    created_at: dt.datetime


class JourneyTag(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: str
    value: str
    confidence: float
    call_id: str
    model_version: str
    created_at: dt.datetime


class Journey(BaseModel):
    customer_id: str
    dealer: str
    calls: list[JourneyCall]
    current_tags: list[JourneyTag] = Field(description="The newest value of each tag key.")
    history: list[JourneyTag] = Field(description="Every tag, oldest first.")


@router.get("/customers/{customer_id}/journey", response_model=Journey, tags=["customers"])
def journey(
    request: Request,
    customer_id: str,
    who: Annotated[Principal, Depends(require("qa", "crm"))],
    dealer: str | None = None,
) -> Journey:
    """A customer's calls and tags (the customer id is the CRM's, per dealer)."""
    with request.app.state.db.session() as session:
        query = select(Customer).where(Customer.external_id == customer_id)
        if dealer is not None:
            query = query.where(Customer.dealer_id == dealer)
        customers = [c for c in session.scalars(query) if who.may_see(c.dealer_id)]
        if not customers:
            raise Problem(404, f"no customer {customer_id!r}")
        if len(customers) > 1:
            raise Problem(409, f"customer {customer_id!r} exists at several dealers: pass ?dealer=")
        customer = customers[0]
        calls = session.scalars(
            select(Call).where(Call.customer_id == customer.id).order_by(Call.created_at)
        ).all()
        history = [JourneyTag.model_validate(t) for t in tag_history(session, customer.id)]
        return Journey(
            customer_id=customer.external_id,
            dealer=customer.dealer_id,
            calls=[JourneyCall.model_validate(c) for c in calls],
            current_tags=current_tags(history),
            history=history,
        )


class ReviewIn(BaseModel):
    """QA corrections; every part optional. Stored as a labelled example for training."""

    model_config = {"extra": "forbid"}

    checkpoints: dict[str, bool] = Field(default_factory=dict, description="checkpoint -> passed")
    violations: dict[str, bool] = Field(default_factory=dict, description="violation -> committed")
    attributes: dict[str, Any] = Field(
        default_factory=dict,
        description="attribute -> corrected value in DOMAIN.md's form; null: the customer did not say it",
    )
    grade: Literal["H", "A", "B", "C", "N"] | None = None
    swap_roles: bool = False
    note: str = Field(default="", max_length=2000)


@router.post("/calls/{call_id}/review", status_code=201, tags=["calls"])
def review(
    request: Request,
    call_id: str,
    who: Annotated[Principal, Depends(require("qa"))],
    body: Annotated[ReviewIn, Body()],
) -> dict[str, Any]:
    """Record a QA review of a call."""
    from callintel.domain import ATTRIBUTES, CHECKPOINTS, VIOLATIONS

    for given, valid, kind in (
        (body.checkpoints, CHECKPOINTS, "checkpoint"),
        (body.violations, VIOLATIONS, "violation"),
        (body.attributes, ATTRIBUTES, "attribute"),
    ):
        unknown = sorted(set(given) - set(valid))
        if unknown:
            raise Problem(422, f"unknown {kind} {', '.join(unknown)}; valid: {', '.join(valid)}")
    for key, value in body.attributes.items():
        problem = None if value is None else attribute_value_problem(key, value)
        if problem:
            raise Problem(422, f"attribute {problem} (null: the customer did not say it)")
    with request.app.state.db.session() as session:
        call = visible_call(session, who, call_id)
        if call.status != "done":
            raise Problem(409, f"the call is {call.status}: review it once analysed")
        row = Review(
            call_id=call.id, api_key_id=who.key_id, corrections=body.model_dump(), created_at=utcnow()
        )
        session.add(row)
        session.flush()
        outcomes.refresh(session, call)
        return {"id": row.id, "call_id": call.id, "corrections": row.corrections}


class ScorecardOut(BaseModel):
    scenario: str
    source: Literal["file", "api"] = Field(description="The shipped file, or an edit through this API.")
    document: dict[str, Any] = Field(description="The scorecard as its YAML file holds it.")
    effective: dict[str, Any] = Field(
        description="As the service uses it: defaults filled, lexicon cues merged."
    )
    updated_at: dt.datetime | None = None


@router.get("/scorecards/{scenario}", response_model=ScorecardOut, tags=["scorecards"])
def get_scorecard(
    request: Request, scenario: Scenario, who: Annotated[Principal, Depends(require("qa", "crm"))]
) -> ScorecardOut:
    """The scenario's scorecard in use."""
    path = _scorecard_path(request, scenario)
    with request.app.state.db.session() as session:
        record = session.get(ScorecardRecord, scenario)
        if record is not None:
            return ScorecardOut(
                scenario=scenario,
                source="api",
                document=record.document,
                effective=parse_scorecard(record.document, path).model_dump(mode="json"),
                updated_at=record.updated_at,
            )
    try:
        document = yaml.safe_load(path.read_text("utf-8"))
        effective = load_scorecard(path)
    except (OSError, yaml.YAMLError, ConfigError) as e:
        raise Problem(500, f"the shipped scorecard for {scenario!r} cannot be read") from e
    return ScorecardOut(
        scenario=scenario, source="file", document=document, effective=effective.model_dump(mode="json")
    )


@router.put("/scorecards/{scenario}", response_model=ScorecardOut, tags=["scorecards"])
def put_scorecard(
    request: Request,
    scenario: Scenario,
    who: Annotated[Principal, Depends(require())],
    document: Annotated[dict[str, Any], Body(description="The scorecard, as its YAML file would hold it.")],
) -> ScorecardOut:
    """Replace the scenario's scorecard for every later analysis (admin). It is checked first:
    a scorecard with a problem is refused (422) and changes nothing. Bump its ``version``."""
    path = _scorecard_path(request, scenario)
    try:
        card = parse_scorecard(document, path)
    except ConfigError as e:
        raise Problem(422, str(e).replace(f"{path}: ", "").replace(str(path.parent), "scorecards")) from e
    now = utcnow()
    with request.app.state.db.session() as session:
        record = session.get(ScorecardRecord, scenario)
        if record is None:
            record = ScorecardRecord(scenario=scenario)
            session.add(record)
        record.document = document
        record.version = card.version[:64]
        record.updated_by = who.key_id
        record.updated_at = now
    return ScorecardOut(
        scenario=scenario,
        source="api",
        document=document,
        effective=card.model_dump(mode="json"),
        updated_at=now,
    )


def _scorecard_path(request: Request, scenario: str) -> Path:
    return Path(request.app.state.settings.models_dir) / "scorecards" / f"{scenario}.yaml"
