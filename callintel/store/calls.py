"""Calls: registering an uploaded recording, the calls list with its filters, a call's detail, its
audio and its erasure, as the service answers them (``/v1/calls``).

Every read is scoped to the caller (:class:`~callintel.store.keys.Principal`): another dealer's
call raises :class:`~callintel.errors.NotFound`, as if it did not exist. Grade, score, missed
checkpoints and violations are read from ``calls``/``call_outcomes`` (QA's corrections applied,
kept by :mod:`callintel.store.outcomes`); the parts of an analysis are read back as the library's
own types, from the JSON they were stored as.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callintel.audio.decode import probe_duration, sniff_format
from callintel.domain import CallStatus, Grade, Scenario
from callintel.errors import (
    AudioDecodeError,
    AudioError,
    Conflict,
    EmptyAudioError,
    InvalidInput,
    NotAudioError,
    NotFound,
    RecordingTooLong,
)
from callintel.store import jobs
from callintel.store.blobs import BlobStore, Staged
from callintel.store.db import Database
from callintel.store.effective import ReviewedScorecard, effective
from callintel.store.export import merge_reviews
from callintel.store.keys import Principal
from callintel.store.models import (
    Call,
    CallOutcome,
    Customer,
    Dealer,
    Recording,
    Transcript,
)
from callintel.store.recordings import drop_if_unused, recording_for
from callintel.store.results import call_tags, review_entries
from callintel.store.reviews import MergedReview, merged_view, model_tags, newest_analysis
from callintel.transcript import Turn
from callintel.understand.metrics import ConversationMetrics
from callintel.understand.types import AttributeValue, IntentResult, ScorecardResult, Tag

ChannelChoice = Literal["auto", "stereo", "mono"]
Sort = Literal[
    "created_at", "-created_at", "recorded_at", "-recorded_at", "score", "-score", "grade", "-grade",
    "duration", "-duration",
]  # fmt: skip
GRADE_ORDER: dict[str, int] = {"H": 0, "A": 1, "B": 2, "C": 3, "N": 4}
MEDIA_TYPES: dict[str, str] = {
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
SUPPORTED_FORMATS = "wav, flac, mp3, m4a, ogg, amr, aac, webm"


class CallSummary(BaseModel):
    """A call as the calls list shows it."""

    model_config = ConfigDict(frozen=True)

    id: str
    dealer: str
    external_id: str | None
    salesperson_id: str | None
    customer_id: str | None
    lead_id: str | None
    scenario: Scenario
    channel_layout: ChannelChoice
    language: str | None
    recorded_at: dt.datetime | None
    status: CallStatus
    error: str | None
    duration_s: float | None
    created_at: dt.datetime
    grade: Grade | None = Field(default=None, description="The intent grade; QA's if reviewed.")
    score: float | None = Field(default=None, description="The script score, QA's corrections applied.")
    missed: list[str] = Field(default=[], description="Checkpoints missed (applicable and not passed).")
    violations: list[str] = Field(default=[], description="Violations committed.")
    reviewed_at: dt.datetime | None = None
    reused_transcript_of: str | None = Field(
        default=None,
        description="The call whose transcript this analysis reused: the same audio, uploaded before "
        "at this dealer and analysed, is not transcribed again (only understood again).",
    )


class CallTagOut(BaseModel):
    """A tag the call gives its customer's journey, and where it comes from."""

    model_config = ConfigDict(frozen=True)

    key: str
    value: str
    confidence: float
    source: Literal["model", "review"] = Field(description="The model's, or QA's review's.")
    reviewer: str | None = Field(default=None, description="Who set it, for a tag from a review.")


class ModelOutput(BaseModel):
    """What the models said about the call (its newest analysis), before QA's corrections."""

    model_config = ConfigDict(frozen=True)

    scorecard: ScorecardResult | None = None
    attributes: dict[str, AttributeValue] | None = None
    intent: IntentResult | None = None
    tags: tuple[Tag, ...] = Field(default=(), description="The journey tags the analysis gave.")


class CallDetail(CallSummary):
    """A call with, once analysed, its effective result: the newest analysis with QA's review on
    top (QA's word is final), in the parts' shapes as the analysis result has them
    (``schemas/analysis.schema.json``); the model's own output beside it (``model``), and the
    review. Grade, score, missed, violations, scorecard, attributes, intent and tags agree."""

    transcript: tuple[Turn, ...] | None = Field(
        default=None, description="The turns, roles swapped where QA said the roles were swapped."
    )
    scorecard: ReviewedScorecard | None = Field(default=None, description="QA's corrections applied.")
    attributes: dict[str, AttributeValue] | None = Field(
        default=None,
        description="QA's corrected values over the model's (an attribute QA says was not said is left out).",
    )
    intent: IntentResult | None = Field(default=None, description="The grade QA gave, else the model's.")
    metrics: ConversationMetrics | None = None
    tags: tuple[CallTagOut, ...] = Field(default=(), description="The journey tags the call gives now.")
    models: dict[str, str] = Field(default={}, description="Model name -> version, of every model used.")
    model: ModelOutput | None = Field(
        default=None, description="The model's output, before QA's corrections."
    )
    review: MergedReview | None = Field(
        default=None,
        description="QA's corrections so far, merged (a later review's value of an item wins), "
        "with the latest `reviewer`, `reviewed_at`, `complete` and `note`; None when nobody reviewed it.",
    )


class CallPage(BaseModel):
    model_config = ConfigDict(frozen=True)

    items: list[CallSummary]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True)
class NewCall:
    """An upload's metadata: what the call is, and the CRM's ids for it."""

    dealer_id: str
    scenario: Scenario = "showroom"
    channel_layout: ChannelChoice = "auto"
    language: str | None = None
    recorded_at: dt.datetime | None = None
    external_id: str | None = None
    salesperson_id: str | None = None
    customer_id: str | None = None  # the CRM's id of the customer, per dealer
    lead_id: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class Registered:
    """The call an upload made, or (``created`` False) the one it had made before."""

    call: CallSummary
    created: bool


@dataclass(frozen=True)
class CallFilters:
    """What the calls list keeps; None (or empty) keeps every call. Days are inclusive, in
    ``zone``; a call's day is its recording time, else its upload time."""

    dealer: str | None = None
    status: CallStatus | None = None
    scenario: Scenario | None = None
    salesperson_id: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    zone: ZoneInfo = ZoneInfo("UTC")
    grades: tuple[Grade, ...] = ()
    score_min: float | None = None
    score_max: float | None = None
    missed: str | None = None  # a checkpoint missed
    passed: str | None = None  # a checkpoint passed
    violation: str | None = None  # a violation committed; "any" for any
    reviewed: bool | None = None


def summary(call: Call, items: list[CallOutcome] | None = None) -> CallSummary:
    """The call's summary; ``items`` are its ``call_outcomes`` rows, read when not given."""
    if items is None:
        items = list(call.outcomes)
    return CallSummary.model_validate(
        {
            "id": call.id,
            "dealer": call.dealer_id,
            "external_id": call.external_id,
            "salesperson_id": call.salesperson_id,
            "customer_id": call.customer.external_id if call.customer else None,
            "lead_id": call.lead_id,
            "scenario": call.scenario,
            "channel_layout": call.channel_layout,
            "language": call.language,
            "recorded_at": call.recorded_at,
            "status": call.status,
            "error": call.error,
            "duration_s": call.recording.duration_s if call.recording else None,
            "created_at": call.created_at,
            "grade": call.grade,
            "score": call.score,
            "missed": sorted(o.key for o in items if o.kind == "checkpoint" and o.outcome == "missed"),
            "violations": sorted(o.key for o in items if o.kind == "violation"),
            "reviewed_at": call.reviewed_at,
            "reused_transcript_of": call.reused_transcript_of,
        }
    )


def visible_call(session: Session, who: Principal, call_id: str) -> Call:
    """The call if ``who`` may see it; :class:`NotFound` otherwise (another dealer's call does
    not exist for it)."""
    call = session.get(Call, call_id)
    if call is None or not who.may_see(call.dealer_id):
        raise NotFound(f"no call {call_id!r}")
    return call


# Uploads


def check_recording(staged: Staged, max_seconds: float) -> tuple[str, float]:
    """The format (sniffed from the content) and duration of a staged upload.

    Raises:
        EmptyAudioError: it has no bytes.
        NotAudioError: it is not a recording in a supported format.
        AudioDecodeError: it cannot be read.
        RecordingTooLong: it lasts longer than ``max_seconds``.
    """
    if staged.size == 0:
        raise EmptyAudioError("the file is empty (0 bytes)")
    fmt = sniff_format(staged.head)
    if fmt is None:
        raise NotAudioError(f"the file is not a recording in a supported format ({SUPPORTED_FORMATS})")
    try:
        duration = probe_duration(staged.path)
    except AudioError as e:
        raise AudioDecodeError(f"the recording cannot be read: {e}") from e
    if duration > max_seconds:
        raise RecordingTooLong(duration, max_seconds)
    return fmt, duration


def find_upload(session: Session, dealer_id: str, idempotency_key: str | None) -> CallSummary | None:
    """The call uploaded before with this ``Idempotency-Key`` at this dealer, if any.

    Raises:
        InvalidInput: there is no such dealer.
    """
    if session.get(Dealer, dealer_id) is None:
        raise InvalidInput(f"unknown dealer {dealer_id!r}")
    if not idempotency_key:
        return None
    existing = session.scalar(
        select(Call).where(Call.dealer_id == dealer_id, Call.idempotency_key == idempotency_key)
    )
    return None if existing is None else summary(existing)


def register_upload(
    database: Database, blobs: BlobStore, staged: Staged, new: NewCall, max_seconds: float
) -> Registered:
    """Store a staged recording and queue its call for analysis; the worker is not woken here.

    The recording is stored once per content: the same content with the same ``external_id``
    at the same dealer is the call registered before (``created`` False). The customer is made
    on its first call. This takes several transactions (the database's work never waits on
    the file store's): the file is moved into the store between the duplicate check and the
    insert, and deleted again if the insert fails and no other call has the same content.

    Raises:
        AudioError: as :func:`check_recording`.
        Conflict: a call with the same ``Idempotency-Key`` is being created at the same time.
    """
    fmt, duration = check_recording(staged, max_seconds)
    if new.external_id is not None:
        with database.session() as session:
            same = session.scalar(
                select(Call)
                .join(Recording, Recording.id == Call.recording_id)
                .where(
                    Recording.sha256 == staged.sha256,
                    Call.dealer_id == new.dealer_id,
                    Call.external_id == new.external_id,
                )
            )
            if same is not None:
                return Registered(summary(same), created=False)
    relative = blobs.commit(staged, fmt)
    try:
        with database.session() as session:
            recording = recording_for(session, staged, fmt, relative, duration)
            customer = None if new.customer_id is None else _customer(session, new.dealer_id, new.customer_id)
            call = Call(
                dealer_id=new.dealer_id,
                scenario=new.scenario,
                channel_layout=new.channel_layout,
                language=new.language,
                recorded_at=new.recorded_at,
                external_id=new.external_id,
                salesperson_id=new.salesperson_id,
                lead_id=new.lead_id,
                idempotency_key=new.idempotency_key,
                recording_id=recording.id,
                audio_sha256=staged.sha256,
                customer_id=customer.id if customer else None,
            )
            session.add(call)
            session.flush()
            jobs.enqueue(session, call.id)
            session.refresh(call)
            registered = Registered(summary(call), created=True)
    except IntegrityError as e:
        _drop_if_unreferenced(database, blobs, staged.sha256)
        raise Conflict("a call with this Idempotency-Key is being created; retry to get it") from e
    except BaseException:
        _drop_if_unreferenced(database, blobs, staged.sha256)
        raise
    return registered


def _customer(session: Session, dealer_id: str, external_id: str) -> Customer:
    """The dealer's customer of this CRM id, made if new."""
    customer = session.scalar(
        select(Customer).where(Customer.dealer_id == dealer_id, Customer.external_id == external_id)
    )
    if customer is None:
        customer = Customer(dealer_id=dealer_id, external_id=external_id)
        session.add(customer)
        session.flush()
    return customer


def _drop_if_unreferenced(database: Database, blobs: BlobStore, sha256: str) -> None:
    with database.session() as session:
        if session.scalar(select(Recording.id).where(Recording.sha256 == sha256)) is None:
            blobs.delete_all(sha256)


# The calls list


def time_zone(tz: str) -> ZoneInfo:
    """The IANA time zone ``tz``; :class:`InvalidInput` when there is none of that name."""
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise InvalidInput(f"unknown time zone {tz!r}") from e


def call_day() -> ColumnElement[dt.datetime]:
    """When a call happened: its recording time, else when it was uploaded."""
    return func.coalesce(Call.recorded_at, Call.created_at)


def day_bounds(
    since: dt.date | None, until: dt.date | None, zone: ZoneInfo
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """``since`` and ``until`` (inclusive days in ``zone``) as UTC instants [start, end)."""
    start = dt.datetime.combine(since, dt.time(), zone).astimezone(dt.UTC) if since else None
    end = (
        dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), zone).astimezone(dt.UTC)
        if until
        else None
    )
    return start, end


def has_outcome(kind: str, key: str | None = None, outcome: str | None = None) -> ColumnElement[bool]:
    """The call has a ``call_outcomes`` row of ``kind`` (for ``key``, with ``outcome``, if given)."""
    query = select(CallOutcome.call_id).where(CallOutcome.call_id == Call.id, CallOutcome.kind == kind)
    if key is not None:
        query = query.where(CallOutcome.key == key)
    if outcome is not None:
        query = query.where(CallOutcome.outcome == outcome)
    return query.exists()


def list_calls(
    session: Session,
    who: Principal,
    filters: CallFilters = CallFilters(),
    sort: Sort = "-created_at",
    limit: int = 50,
    offset: int = 0,
) -> CallPage:
    """The calls ``who`` may see that pass ``filters``, sorted by ``sort`` (a leading ``-``:
    descending; nulls last, then newest upload first), one page of ``limit`` from ``offset``."""
    f = filters
    query = select(Call)
    if who.dealers is not None:
        query = query.where(Call.dealer_id.in_(sorted(who.dealers)))
    if f.dealer is not None:
        query = query.where(Call.dealer_id == f.dealer)
    if f.status is not None:
        query = query.where(Call.status == f.status)
    if f.scenario is not None:
        query = query.where(Call.scenario == f.scenario)
    if f.salesperson_id is not None:
        query = query.where(Call.salesperson_id == f.salesperson_id)
    start, end = day_bounds(f.since, f.until, f.zone)
    if start is not None:
        query = query.where(call_day() >= start)
    if end is not None:
        query = query.where(call_day() < end)
    if f.grades:
        query = query.where(Call.grade.in_(f.grades))
    if f.score_min is not None:
        query = query.where(Call.score >= f.score_min)
    if f.score_max is not None:
        query = query.where(Call.score <= f.score_max)
    if f.missed is not None:
        query = query.where(has_outcome("checkpoint", f.missed, "missed"))
    if f.passed is not None:
        query = query.where(has_outcome("checkpoint", f.passed, "passed"))
    if f.violation is not None:
        query = query.where(has_outcome("violation", None if f.violation == "any" else f.violation))
    if f.reviewed is not None:
        query = query.where(Call.reviewed_at.is_not(None) if f.reviewed else Call.reviewed_at.is_(None))
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
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    calls = session.scalars(query.order_by(*order, Call.id).limit(limit).offset(offset)).all()
    items: dict[str, list[CallOutcome]] = {c.id: [] for c in calls}
    for row in session.scalars(select(CallOutcome).where(CallOutcome.call_id.in_(list(items)))):
        items[row.call_id].append(row)
    return CallPage(items=[summary(c, items[c.id]) for c in calls], total=total, limit=limit, offset=offset)


# One call


def call_detail(session: Session, who: Principal, call_id: str) -> CallDetail:
    """A call with its newest analysis, its tags and QA's merged review.

    Raises:
        NotFound: there is no such call, or ``who`` may not see it.
    """
    call = visible_call(session, who, call_id)
    transcript = session.get(Transcript, call.id)
    analysis = newest_analysis(session, call.id)
    merged = merge_reviews(r.corrections for r in review_entries(session, call.id))
    view = effective(
        transcript.turns if transcript is not None else None,
        analysis.scorecard if analysis is not None else None,
        analysis.attributes if analysis is not None else None,
        analysis.intent if analysis is not None else None,
        merged,
    )
    parts: dict[str, Any] = {
        "transcript": view.turns,
        "tags": [
            {
                "key": t.key,
                "value": t.value,
                "confidence": t.confidence,
                "source": t.source,
                "reviewer": t.reviewer,
            }
            for t in call_tags(session, call.id)
        ],
        "review": merged_view(session, call.id, view.review_attributes),
    }
    if analysis is not None:
        parts |= {
            "scorecard": view.scorecard,
            "attributes": view.attributes,
            "intent": view.intent,
            "metrics": analysis.metrics,
            "models": analysis.models,
            "model": {
                "scorecard": analysis.scorecard,
                "attributes": analysis.attributes,
                "intent": analysis.intent,
                "tags": [
                    {"key": t.key, "value": t.value, "confidence": t.confidence}
                    for t in model_tags(session, call.id, analysis.id)
                ],
            },
        }
    return CallDetail.model_validate(summary(call).model_dump() | parts)


# Who reads a recording through a signed audio link: the link was issued to a caller who may see
# the call (api/audio_links.py), so the link itself is the permission.
LINK_HOLDER = Principal(key_id="", role="qa", dealers=None)


def recording_file(session: Session, blobs: BlobStore, who: Principal, call_id: str) -> tuple[Path, str]:
    """The path of the call's recording in the store and its media type.

    Raises:
        NotFound: there is no such call (or ``who`` may not see it), it has no recording, or the
            file is missing from the store.
    """
    call = visible_call(session, who, call_id)
    if call.recording is None:
        raise NotFound("this call has no recording")
    path = blobs.path(call.recording.storage_path)
    if not path.is_file():
        raise NotFound("the recording file is missing from the store")
    return path, MEDIA_TYPES.get(call.recording.format, "application/octet-stream")


def erase_call(session: Session, who: Principal, call_id: str) -> str | None:
    """Delete a call and, by cascade, everything derived from it (transcript, analyses, tags,
    reviews, jobs, events). Returns the storage path of its recording when no other call has
    the same recording, for the caller to delete once the transaction is committed.

    Raises:
        NotFound: there is no such call, or ``who`` may not see it.
    """
    call = visible_call(session, who, call_id)
    recording = call.recording
    session.delete(call)
    session.flush()
    return drop_if_unused(session, recording) if recording is not None else None
