"""``POST /v1/calls:analyze``: a short recording analysed at once, nothing stored."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.concurrency import run_in_threadpool

from api.deps import BlobsDep, DatabaseDep, QaOrCrmDep, SettingsDep, SyncAnalyzerDep, in_transaction
from api.problems import Problem, documented, kind_of
from api.routes.calls import stage_upload
from callintel.domain import Scenario
from callintel.errors import AudioError, RecordingTooLong
from callintel.options import AnalysisOptions, SpeakerOptions, TranscriptionOptions
from callintel.result import AnalysisResult
from callintel.store.calls import ChannelChoice, check_recording
from callintel.store.results import current_scorecard

router = APIRouter(prefix="/v1", tags=["calls"])


@router.post(
    "/calls:analyze", response_model=AnalysisResult, responses=documented(400, 401, 413, 415, 422, 503)
)
async def analyze_now(
    audio: Annotated[UploadFile, File(description="A short recording (see the duration limit).")],
    who: QaOrCrmDep,
    database: DatabaseDep,
    blobs: BlobsDep,
    settings: SettingsDep,
    analyzer: SyncAnalyzerDep,
    scenario: Annotated[Scenario, Form()] = "inbound_call",
    channel_layout: Annotated[ChannelChoice, Form()] = "auto",
    language: Annotated[str | None, Form(max_length=8)] = None,
    recorded_at: Annotated[dt.date | None, Form()] = None,
) -> AnalysisResult:
    """Analyse a short recording and answer with the result at once; nothing is stored.
    Longer than the limit (``CALLINTEL_SYNC_MAX_SECONDS``): 413, upload it to ``/v1/calls``."""
    try:
        options = AnalysisOptions(
            transcription=TranscriptionOptions(language=language),
            speakers=SpeakerOptions(channels=channel_layout),
            scenario=scenario,
            call_date=recorded_at.isoformat() if recorded_at else None,
        )
    except ValueError as e:
        raise Problem(422, str(e).split(" (all:")[0], kind="invalid-input") from e
    if analyzer is None:
        raise Problem(503, "this server does not analyse synchronously (no models loaded)")
    staged = await stage_upload(blobs, audio, settings.max_upload_bytes)
    try:
        try:
            await run_in_threadpool(check_recording, staged, settings.sync_max_seconds)
        except RecordingTooLong as e:
            raise Problem(
                413,
                f"the recording lasts {e.duration:.0f} s; synchronous analysis takes up to {e.limit:.0f} s",
                kind="audio-too-long",
            ) from e
        try:
            scorecard = await in_transaction(database, current_scorecard, scenario, settings.models_dir)
            return await run_in_threadpool(analyzer, staged.path, options, scorecard)
        except AudioError as e:
            raise Problem(422, f"the recording cannot be analysed: {e}", kind=kind_of(e)) from e
    finally:
        blobs.discard(staged)
