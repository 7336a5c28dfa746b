"""Recording rows: one per stored content hash, shared by the calls that have that audio."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callintel.store.blobs import Staged
from callintel.store.models import Call, Recording


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
