"""Recording rows: one per stored content hash, shared by the calls that have that audio; and the
stored transcript a call of audio already analysed reuses."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callintel.result import AnalysisResult
from callintel.store.blobs import Staged
from callintel.store.models import Analysis, Call, Recording, Transcript


def recording_for(
    session: Session, staged: Staged, fmt: str, storage_path: str, duration_s: float | None
) -> Recording:
    """The row of the staged file's content (committed to ``storage_path``), made if new."""
    recording = session.scalar(select(Recording).where(Recording.sha256 == staged.sha256))
    if recording is None:
        recording = Recording(
            sha256=staged.sha256,
            size_bytes=staged.size,
            duration_s=duration_s,
            format=fmt,
            storage_path=storage_path,
        )
        session.add(recording)
        session.flush()
    return recording


def drop_if_unused(session: Session, recording: Recording) -> str | None:
    """Delete ``recording``'s row when no call uses it any more; returns its file's storage path
    for the caller to delete once the transaction is committed (None: still in use)."""
    if session.scalar(select(func.count()).where(Call.recording_id == recording.id)):
        return None
    session.delete(recording)
    return recording.storage_path


@dataclass(frozen=True)
class StoredTranscript:
    """A call's stored analysis whose transcript another call of the same audio can reuse."""

    call_id: str
    result: AnalysisResult


def transcript_to_reuse(session: Session, call: Call) -> StoredTranscript | None:
    """The newest analysis of another call of ``call``'s dealer, uploaded with the same bytes and
    transcribed as ``call`` asks (language, channel layout), with its stored transcript; None when
    there is none. Never another dealer's: their transcripts stay theirs, and their redaction
    settings may differ."""
    if call.audio_sha256 is None:
        return None
    same_language = Call.language.is_(None) if call.language is None else Call.language == call.language
    found = session.execute(
        select(Analysis, Transcript)
        .join(Call, Call.id == Analysis.call_id)
        .join(Transcript, Transcript.call_id == Call.id)
        .where(
            Call.dealer_id == call.dealer_id,
            Call.audio_sha256 == call.audio_sha256,
            Call.id != call.id,
            Call.status == "done",
            Call.channel_layout == call.channel_layout,
            same_language,
        )
        .order_by(Analysis.created_at.desc(), Analysis.id)
        .limit(1)
    ).first()
    if found is None:
        return None
    analysis, transcript = found
    # The transcript as stored now (what a later correction or redaction left), in the result.
    result = AnalysisResult.from_dict({**analysis.result, "turns": transcript.turns})
    return StoredTranscript(analysis.call_id, result)
