"""``/v1/calls``: upload, list, read, audio and erasure."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, File, Form, Header, Query, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from api.deps import (
    AudioLinksDep,
    BlobsDep,
    CrmDep,
    DatabaseDep,
    QaOrCrmDep,
    SessionDep,
    SettingsDep,
    WakeWorkersDep,
    in_transaction,
)
from api.problems import Problem, documented
from callintel.domain import CallStatus, Grade, Scenario
from callintel.options import TranscriptionOptions
from callintel.store import calls
from callintel.store.blobs import BlobStore, Staged, TooLargeError
from callintel.store.calls import CallDetail, CallFilters, CallPage, CallSummary, ChannelChoice, NewCall, Sort

router = APIRouter(prefix="/v1", tags=["calls"])

Text = Annotated[str | None, Form(max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")]
Key = Annotated[str | None, Query(max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]


async def stage_upload(blobs: BlobStore, audio: UploadFile, max_bytes: int) -> Staged:
    """Copy an uploaded file into the staging area (413 over ``max_bytes``)."""
    try:
        staged: Staged = await run_in_threadpool(
            blobs.stage, iter(lambda: audio.file.read(1 << 20), b""), max_bytes
        )
    except TooLargeError as e:
        raise Problem(413, str(e), kind="too-large") from e
    return staged


@router.post(
    "/calls",
    status_code=202,
    response_model=CallSummary,
    responses={
        200: {"model": CallSummary, "description": "The call this recording made before."},
        **documented(400, 401, 403, 409, 413, 415, 422),
    },
)
async def upload_call(
    audio: Annotated[UploadFile, File(description="The recording; its format is read from its content.")],
    dealer: Annotated[str, Form(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")],
    who: QaOrCrmDep,
    database: DatabaseDep,
    blobs: BlobsDep,
    settings: SettingsDep,
    wake_workers: WakeWorkersDep,
    response: Response,
    scenario: Annotated[Scenario, Form()] = "showroom",
    channel_layout: Annotated[ChannelChoice, Form()] = "auto",
    language: Annotated[str | None, Form(max_length=8)] = None,
    recorded_at: Annotated[dt.datetime | None, Form()] = None,
    external_id: Text = None,
    salesperson_id: Text = None,
    customer_id: Text = None,
    lead_id: Text = None,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> CallSummary:
    """Queue a recording for analysis. Answers 202 with the call; 200 with the existing call
    when the same recording with the same external id, or the same ``Idempotency-Key``, was
    uploaded before."""
    if not who.may_see(dealer):
        raise Problem(403, f"this key is not scoped to dealer {dealer!r}", kind="forbidden-dealer")
    try:
        TranscriptionOptions(language=language)
    except ValueError as e:
        raise Problem(422, str(e).split(" (all:")[0], kind="invalid-input") from e
    if recorded_at is not None and recorded_at.tzinfo is None:
        recorded_at = recorded_at.replace(tzinfo=dt.UTC)
    existing = await in_transaction(database, calls.find_upload, dealer, idempotency_key)
    if existing is not None:
        response.status_code = 200
        return existing
    new = NewCall(
        dealer_id=dealer,
        scenario=scenario,
        channel_layout=channel_layout,
        language=language,
        recorded_at=recorded_at,
        external_id=external_id,
        salesperson_id=salesperson_id,
        customer_id=customer_id,
        lead_id=lead_id,
        idempotency_key=idempotency_key,
    )
    staged = await stage_upload(blobs, audio, settings.max_upload_bytes)
    try:
        registered = await run_in_threadpool(
            calls.register_upload, database, blobs, staged, new, settings.max_audio_seconds
        )
    finally:
        blobs.discard(staged)  # a no-op once the file was moved into the store
    if not registered.created:
        response.status_code = 200
        return registered.call
    wake_workers()
    return registered.call


@router.get("/calls", response_model=CallPage, responses=documented(400, 401, 422))
def list_calls(
    who: QaOrCrmDep,
    session: SessionDep,
    dealer: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[CallStatus | None, Query()] = None,
    scenario: Annotated[Scenario | None, Query()] = None,
    salesperson_id: Annotated[str | None, Query(max_length=200)] = None,
    since: Annotated[dt.date | None, Query(description="Calls on or after this day (see `tz`).")] = None,
    until: Annotated[dt.date | None, Query(description="Calls on or before this day (see `tz`).")] = None,
    tz: Annotated[str, Query(max_length=64, description="Time zone of `since`/`until`.")] = "UTC",
    grade: Annotated[list[Grade] | None, Query()] = None,
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
    filters = CallFilters(
        dealer=dealer,
        status=status,
        scenario=scenario,
        salesperson_id=salesperson_id,
        since=since,
        until=until,
        zone=calls.time_zone(tz),
        grades=tuple(grade or ()),
        score_min=score_min,
        score_max=score_max,
        missed=missed,
        passed=passed,
        violation=violation,
        reviewed=reviewed,
    )
    return calls.list_calls(session, who, filters, sort, limit, offset)


@router.get("/calls/{call_id}", response_model=CallDetail, responses=documented(400, 401, 404))
def get_call(call_id: str, who: QaOrCrmDep, session: SessionDep) -> CallDetail:
    """A call with its status and, once analysed, transcript, scorecard, attributes, intent and tags."""
    return calls.call_detail(session, who, call_id)


@router.get(
    "/calls/{call_id}/audio",
    response_class=FileResponse,
    responses={
        200: {"description": "The recording, in its own format.", "content": {"audio/*": {}}},
        206: {"description": "The part of the recording a `Range` header asked for."},
        416: {"description": "The `Range` asked for lies outside the recording."},
        **documented(400, 401, 404),
    },
)
def get_audio(call_id: str, who: QaOrCrmDep, session: SessionDep, blobs: BlobsDep) -> FileResponse:
    """The recording (supports ``Range`` requests, for the player)."""
    path, media_type = calls.recording_file(session, blobs, who, call_id)
    return FileResponse(path, media_type=media_type)


class AudioLink(BaseModel):
    """A link that streams one call's recording without the API key, until it expires."""

    url: str = Field(description="Path and query of the link, on this service; it takes `Range`.")
    expires_at: dt.datetime


@router.post("/calls/{call_id}/audio-link", response_model=AudioLink, responses=documented(400, 401, 404))
def audio_link(
    call_id: str, who: QaOrCrmDep, session: SessionDep, blobs: BlobsDep, links: AudioLinksDep
) -> AudioLink:
    """A short-lived signed link to the call's recording, for a player (an `<audio>` element
    cannot send the key). Issued only to a caller who may see the call."""
    calls.recording_file(session, blobs, who, call_id)  # 404 unless ``who`` may hear it
    url, expires = links.sign(call_id)
    return AudioLink(url=url, expires_at=dt.datetime.fromtimestamp(expires, dt.UTC))


@router.get(
    "/audio/{call_id}",
    response_class=FileResponse,
    responses={
        200: {"description": "The recording, in its own format.", "content": {"audio/*": {}}},
        206: {"description": "The part of the recording a `Range` header asked for."},
        416: {"description": "The `Range` asked for lies outside the recording."},
        **documented(400, 403, 404, 422),
    },
)
def get_linked_audio(
    call_id: str,
    session: SessionDep,
    blobs: BlobsDep,
    links: AudioLinksDep,
    expires: Annotated[int, Query(ge=0, le=2**40)],
    signature: Annotated[str, Query(min_length=64, max_length=64, pattern=r"^[0-9a-f]+$")],
) -> FileResponse:
    """The recording through a link of `POST /v1/calls/{id}/audio-link` (supports `Range`):
    403 once the link has expired or when it was not signed by this service for this call."""
    if not links.valid(call_id, expires, signature):
        raise Problem(403, "this audio link is not valid or has expired", kind="audio-link")
    path, media_type = calls.recording_file(session, blobs, calls.LINK_HOLDER, call_id)
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "private, max-age=3600"})


@router.delete("/calls/{call_id}", status_code=204, responses=documented(400, 401, 403, 404))
def delete_call(call_id: str, who: CrmDep, session: SessionDep, blobs: BlobsDep) -> None:
    """Erase a call: its audio (unless another call has the same recording), transcript,
    analyses, tags, reviews, jobs and events."""
    orphan = calls.erase_call(session, who, call_id)
    session.commit()  # the file goes once no row refers to it
    if orphan is not None:
        blobs.delete(orphan)
