"""``/v1/calls``: upload, list, read, audio and erasure."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, File, Form, Header, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.auth import require
from api.problems import Problem
from callintel.audio.decode import probe_duration, sniff_format
from callintel.domain import SCENARIOS
from callintel.errors import AudioError
from callintel.options import TranscriptionOptions
from callintel.store import jobs
from callintel.store.blobs import BlobStore, Staged, TooLargeError
from callintel.store.export import merge_reviews
from callintel.store.keys import Principal
from callintel.store.models import (
    Analysis,
    Call,
    CallOutcome,
    Customer,
    Dealer,
    Recording,
    Review,
    TagRecord,
    Transcript,
)
from callintel.store.recordings import drop_if_unused, recording_for

router = APIRouter(prefix="/v1", tags=["calls"])

Text = Annotated[str | None, Form(max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")]
MEDIA_TYPES = {
    "wav": "audio/wav",
    "flac": "audio/flac",
    "mp3": "audio/mpeg",
    "aac": "audio/aac",
    "ogg": "audio/ogg",
    "amr": "audio/amr",
    "m4a": "audio/mp4",
    "caf": "audio/x-caf",
    "aiff": "audio/aiff",
    "webm": "audio/webm",
}


class CallSummary(BaseModel):
    id: str
    dealer: str
    external_id: str | None
    salesperson_id: str | None
    customer_id: str | None
    lead_id: str | None
    scenario: str
    channel_layout: str
    language: str | None
    recorded_at: dt.datetime | None
    status: str
    error: str | None
    duration_s: float | None
    created_at: dt.datetime
    grade: str | None = Field(default=None, description="The intent grade; QA's if reviewed.")
    score: float | None = Field(default=None, description="The script score, QA's corrections applied.")
    missed: list[str] = Field(default=[], description="Checkpoints missed (applicable and not passed).")
    violations: list[str] = Field(default=[], description="Violations committed.")
    reviewed_at: dt.datetime | None = None


class CallDetail(CallSummary):
    transcript: list[dict[str, Any]] | None = None
    scorecard: dict[str, Any] | None = None
    attributes: dict[str, Any] | None = None
    intent: dict[str, Any] | None = None
    metrics: dict[str, Any] | None = None
    tags: list[dict[str, Any]] = []
    models: dict[str, Any] = {}
    review: dict[str, Any] | None = Field(
        default=None,
        description="QA's corrections so far, merged (a later review's value of an item wins), "
        "with `reviewed_at`; None when nobody reviewed the call.",
    )


class CallPage(BaseModel):
    items: list[CallSummary]
    total: int
    limit: int
    offset: int


def summary(call: Call, items: list[CallOutcome] | None = None) -> CallSummary:
    """The call's summary; ``items`` are its ``call_outcomes`` rows, read when not given."""
    if items is None:
        items = list(call.outcomes)
    return CallSummary(
        id=call.id,
        dealer=call.dealer_id,
        external_id=call.external_id,
        salesperson_id=call.salesperson_id,
        customer_id=call.customer.external_id if call.customer else None,
        lead_id=call.lead_id,
        scenario=call.scenario,
        channel_layout=call.channel_layout,
        language=call.language,
        recorded_at=call.recorded_at,
        status=call.status,
        error=call.error,
        duration_s=call.recording.duration_s if call.recording else None,
        created_at=call.created_at,
        grade=call.grade,
        score=call.score,
        missed=sorted(o.key for o in items if o.kind == "checkpoint" and o.outcome == "missed"),
        violations=sorted(o.key for o in items if o.kind == "violation"),
        reviewed_at=call.reviewed_at,
    )


def visible_call(session: Session, who: Principal, call_id: str) -> Call:
    """The call if this key may see it; 404 otherwise (another dealer's call does not exist)."""
    call = session.get(Call, call_id)
    if call is None or not who.may_see(call.dealer_id):
        raise Problem(404, f"no call {call_id!r}")
    return call


@router.post("/calls", status_code=202, response_model=CallSummary)
async def upload_call(
    request: Request,
    audio: Annotated[UploadFile, File(description="The recording; its format is read from its content.")],
    dealer: Annotated[str, Form(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")],
    who: Annotated[Principal, Depends(require("qa", "crm"))],
    scenario: Annotated[Literal["showroom", "inbound_call", "outbound_followup"], Form()] = "showroom",
    channel_layout: Annotated[Literal["auto", "stereo", "mono"], Form()] = "auto",
    language: Annotated[str | None, Form(max_length=8)] = None,
    recorded_at: Annotated[dt.datetime | None, Form()] = None,
    external_id: Text = None,
    salesperson_id: Text = None,
    customer_id: Text = None,
    lead_id: Text = None,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Any:
    """Queue a recording for analysis. Answers 202 with the call; 200 with the existing call
    when the same recording with the same external id, or the same ``Idempotency-Key``, was
    uploaded before."""
    state = request.app.state
    if not who.may_see(dealer):
        raise Problem(403, f"this key is not scoped to dealer {dealer!r}")
    try:
        TranscriptionOptions(language=language)
    except ValueError as e:
        raise Problem(422, str(e).split(" (all:")[0]) from e
    if recorded_at is not None and recorded_at.tzinfo is None:
        recorded_at = recorded_at.replace(tzinfo=dt.UTC)
    assert scenario in SCENARIOS
    with state.db.session() as session:
        if session.get(Dealer, dealer) is None:
            raise Problem(422, f"unknown dealer {dealer!r}")
        if idempotency_key:
            existing = session.scalar(
                select(Call).where(Call.dealer_id == dealer, Call.idempotency_key == idempotency_key)
            )
            if existing is not None:
                return JSONResponse(summary(existing).model_dump(mode="json"), status_code=200)

    blobs: BlobStore = state.blobs
    staged = await stage_upload(state, audio)
    try:
        return await run_in_threadpool(
            _register,
            state,
            staged,
            dict(
                dealer_id=dealer,
                scenario=scenario,
                channel_layout=channel_layout,
                language=language,
                recorded_at=recorded_at,
                external_id=external_id,
                salesperson_id=salesperson_id,
                lead_id=lead_id,
                idempotency_key=idempotency_key,
            ),
            customer_id,
        )
    finally:
        blobs.discard(staged)  # a no-op once the file was moved into the store


async def stage_upload(state: Any, audio: UploadFile) -> Staged:
    """Copy an uploaded file into the staging area (413 over the size limit)."""
    try:
        staged: Staged = await run_in_threadpool(
            state.blobs.stage, iter(lambda: audio.file.read(1 << 20), b""), state.settings.max_upload_bytes
        )
    except TooLargeError as e:
        raise Problem(413, str(e)) from e
    return staged


def check_recording(staged: Staged, max_seconds: float, limit: str) -> tuple[str, float]:
    """The format (sniffed from the content) and duration of a staged upload; a 4xx Problem when
    it is empty, not audio, unreadable, or longer than ``max_seconds`` (``limit`` says which limit)."""
    if staged.size == 0:
        raise Problem(422, "the file is empty (0 bytes)")
    fmt = sniff_format(staged.head)
    if fmt is None:
        raise Problem(
            415,
            "the file is not a recording in a supported format (wav, flac, mp3, m4a, ogg, amr, aac, webm)",
        )
    try:
        duration = probe_duration(staged.path)
    except AudioError as e:
        raise Problem(422, f"the recording cannot be read: {e}") from e
    if duration > max_seconds:
        raise Problem(413, f"the recording lasts {duration:.0f} s; {limit} {max_seconds:.0f} s")
    return fmt, duration


def _register(state: Any, staged: Staged, fields: dict[str, Any], customer_ref: str | None) -> Any:
    fmt, duration = check_recording(staged, state.settings.max_audio_seconds, "the limit is")
    db = state.db
    with db.session() as session:
        recording = session.scalar(select(Recording).where(Recording.sha256 == staged.sha256))
        if recording is not None and fields["external_id"] is not None:
            same = session.scalar(
                select(Call).where(
                    Call.dealer_id == fields["dealer_id"],
                    Call.external_id == fields["external_id"],
                    Call.recording_id == recording.id,
                )
            )
            if same is not None:
                return JSONResponse(summary(same).model_dump(mode="json"), status_code=200)
    relative = state.blobs.commit(staged, fmt)
    try:
        with db.session() as session:
            recording = recording_for(session, staged, fmt, relative, duration)
            customer = None
            if customer_ref is not None:
                customer = session.scalar(
                    select(Customer).where(
                        Customer.dealer_id == fields["dealer_id"], Customer.external_id == customer_ref
                    )
                )
                if customer is None:
                    customer = Customer(dealer_id=fields["dealer_id"], external_id=customer_ref)
                    session.add(customer)
                    session.flush()
            call = Call(**fields, recording_id=recording.id, customer_id=customer.id if customer else None)
            session.add(call)
            session.flush()
            jobs.enqueue(session, call.id)
            session.refresh(call)
            body = summary(call)
    except IntegrityError as e:
        _drop_if_unreferenced(state, staged.sha256)
        raise Problem(409, "a call with this Idempotency-Key is being created; retry to get it") from e
    except BaseException:
        _drop_if_unreferenced(state, staged.sha256)
        raise
    state.wake_workers()
    return body


def _drop_if_unreferenced(state: Any, sha256: str) -> None:
    with state.db.session() as session:
        if session.scalar(select(Recording.id).where(Recording.sha256 == sha256)) is None:
            state.blobs.delete_all(sha256)


Key = Annotated[str | None, Query(max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]

Sort = Literal[
    "created_at", "-created_at", "recorded_at", "-recorded_at", "score", "-score", "grade", "-grade",
    "duration", "-duration",
]  # fmt: skip
GRADE_ORDER = {"H": 0, "A": 1, "B": 2, "C": 3, "N": 4}


def call_day() -> Any:
    """When a call happened: its recording time, else when it was uploaded."""
    return func.coalesce(Call.recorded_at, Call.created_at)


def time_zone(tz: str) -> ZoneInfo:
    """The IANA time zone ``tz``; 422 when there is none of that name."""
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise Problem(422, f"unknown time zone {tz!r}") from e


def day_bounds(since: dt.date | None, until: dt.date | None, zone: ZoneInfo) -> tuple[Any, Any]:
    """``since`` and ``until`` (inclusive days in ``zone``) as UTC instants [start, end)."""
    start = dt.datetime.combine(since, dt.time(), zone).astimezone(dt.UTC) if since else None
    end = (
        dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), zone).astimezone(dt.UTC)
        if until
        else None
    )
    return start, end


def has_outcome(kind: str, key: str | None = None, outcome: str | None = None) -> Any:
    """The call has a ``call_outcomes`` row of ``kind`` (for ``key``, with ``outcome``, if given)."""
    query = select(CallOutcome.call_id).where(CallOutcome.call_id == Call.id, CallOutcome.kind == kind)
    if key is not None:
        query = query.where(CallOutcome.key == key)
    if outcome is not None:
        query = query.where(CallOutcome.outcome == outcome)
    return query.exists()


@router.get("/calls", response_model=CallPage)
def list_calls(
    request: Request,
    who: Annotated[Principal, Depends(require("qa", "crm"))],
    dealer: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[Literal["queued", "processing", "done", "failed"] | None, Query()] = None,
    scenario: Annotated[Literal["showroom", "inbound_call", "outbound_followup"] | None, Query()] = None,
    salesperson_id: Annotated[str | None, Query(max_length=200)] = None,
    since: Annotated[dt.date | None, Query(description="Calls on or after this day (see `tz`).")] = None,
    until: Annotated[dt.date | None, Query(description="Calls on or before this day (see `tz`).")] = None,
    tz: Annotated[str, Query(max_length=64, description="Time zone of `since`/`until`.")] = "UTC",
    grade: Annotated[list[Literal["H", "A", "B", "C", "N"]] | None, Query()] = None,
    score_min: Annotated[float | None, Query(ge=0, le=100)] = None,
    score_max: Annotated[float | None, Query(ge=0, le=100)] = None,
    missed: Annotated[Key, Query(description="Calls that missed this checkpoint.")] = None,
    passed: Annotated[Key, Query(description="Calls that passed this checkpoint.")] = None,
    violation: Annotated[
        Key, Query(description="Calls with this violation; `any` for any violation.")
    ] = None,
    reviewed: Annotated[bool | None, Query(description="Only reviewed (true) or unreviewed calls.")] = None,
    sort: Annotated[Sort, Query(description="A column; a leading `-` sorts descending.")] = "-created_at",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> CallPage:
    """The calls this key may see, filtered and sorted (newest upload first by default). Grade,
    score, missed checkpoints and violations are QA's where a review corrected them. A call day
    is the recording time, else the upload time."""
    query = select(Call)
    if who.dealers is not None:
        query = query.where(Call.dealer_id.in_(sorted(who.dealers)))
    if dealer is not None:
        query = query.where(Call.dealer_id == dealer)
    if status is not None:
        query = query.where(Call.status == status)
    if scenario is not None:
        query = query.where(Call.scenario == scenario)
    if salesperson_id is not None:
        query = query.where(Call.salesperson_id == salesperson_id)
    start, end = day_bounds(since, until, time_zone(tz))
    if start is not None:
        query = query.where(call_day() >= start)
    if end is not None:
        query = query.where(call_day() < end)
    if grade:
        query = query.where(Call.grade.in_(grade))
    if score_min is not None:
        query = query.where(Call.score >= score_min)
    if score_max is not None:
        query = query.where(Call.score <= score_max)
    if missed is not None:
        query = query.where(has_outcome("checkpoint", missed, "missed"))
    if passed is not None:
        query = query.where(has_outcome("checkpoint", passed, "passed"))
    if violation is not None:
        query = query.where(has_outcome("violation", None if violation == "any" else violation))
    if reviewed is not None:
        query = query.where(Call.reviewed_at.is_not(None) if reviewed else Call.reviewed_at.is_(None))
    column = sort.lstrip("-")
    key: Any = {
        "created_at": Call.created_at,
        "recorded_at": call_day(),
        "score": Call.score,
        "grade": case(GRADE_ORDER, value=Call.grade),
        "duration": select(Recording.duration_s).where(Recording.id == Call.recording_id).scalar_subquery(),
    }[column]
    order = [(key.desc() if sort.startswith("-") else key.asc()).nulls_last()]
    if column != "created_at":
        order.append(Call.created_at.desc())
    with request.app.state.db.session() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        calls = session.scalars(query.order_by(*order, Call.id).limit(limit).offset(offset)).all()
        items: dict[str, list[CallOutcome]] = {c.id: [] for c in calls}
        for row in session.scalars(select(CallOutcome).where(CallOutcome.call_id.in_(list(items)))):
            items[row.call_id].append(row)
        return CallPage(
            items=[summary(c, items[c.id]) for c in calls], total=total, limit=limit, offset=offset
        )


@router.get("/calls/{call_id}", response_model=CallDetail)
def get_call(
    request: Request, call_id: str, who: Annotated[Principal, Depends(require("qa", "crm"))]
) -> CallDetail:
    """A call with its status and, once analysed, transcript, scorecard, attributes, intent and tags."""
    with request.app.state.db.session() as session:
        call = visible_call(session, who, call_id)
        detail = CallDetail(**summary(call).model_dump())
        transcript = session.get(Transcript, call.id)
        if transcript is not None:
            detail.transcript = transcript.turns
        analysis = session.scalar(
            select(Analysis).where(Analysis.call_id == call.id).order_by(Analysis.created_at.desc()).limit(1)
        )
        if analysis is not None:
            detail.scorecard = analysis.scorecard
            detail.attributes = analysis.attributes
            detail.intent = analysis.intent
            detail.metrics = analysis.metrics
            detail.models = analysis.models
        tags = session.scalars(
            select(TagRecord).where(TagRecord.call_id == call.id).order_by(TagRecord.created_at)
        )
        detail.tags = [{"key": t.key, "value": t.value, "confidence": t.confidence} for t in tags]
        reviews = session.scalars(
            select(Review).where(Review.call_id == call.id).order_by(Review.created_at, Review.id)
        ).all()
        detail.review = merge_reviews(r.corrections for r in reviews)
        if detail.review is not None:
            detail.review["reviewed_at"] = reviews[-1].created_at.isoformat()
        return detail


@router.get("/calls/{call_id}/audio", response_class=FileResponse)
def get_audio(
    request: Request, call_id: str, who: Annotated[Principal, Depends(require("qa", "crm"))]
) -> Any:
    """The recording (supports ``Range`` requests, for the player)."""
    with request.app.state.db.session() as session:
        call = visible_call(session, who, call_id)
        if call.recording is None:
            raise Problem(404, "this call has no recording")
        path = request.app.state.blobs.path(call.recording.storage_path)
        media_type = MEDIA_TYPES.get(call.recording.format, "application/octet-stream")
    if not path.is_file():
        raise Problem(404, "the recording file is missing from the store")
    return FileResponse(path, media_type=media_type)


@router.delete("/calls/{call_id}", status_code=204)
def delete_call(request: Request, call_id: str, who: Annotated[Principal, Depends(require("crm"))]) -> None:
    """Erase a call: its audio (unless another call has the same recording), transcript,
    analyses, tags, reviews, jobs and events."""
    state = request.app.state
    with state.db.session() as session:
        call = visible_call(session, who, call_id)
        recording = call.recording
        session.delete(call)  # the database cascades to everything derived from the call
        session.flush()
        orphan = drop_if_unused(session, recording) if recording is not None else None
    if orphan is not None:
        state.blobs.delete(orphan)
