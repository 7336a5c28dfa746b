"""The job queue on the database: claim by lease, heartbeat, finish once, bounded retries.

A claim takes up to N jobs in one transaction: ``SELECT … LIMIT N FOR UPDATE SKIP LOCKED``,
then ``UPDATE … WHERE id IN (those) RETURNING``. On PostgreSQL concurrent workers skip each
other's rows, and the rows stay locked until the claim commits; SQLite has no row locks, but
every transaction there takes the database's write lock at BEGIN (see ``db.make_engine``), which
serialises claims. A job whose lease expired (its worker died) is claimable again; finishing
is fenced by the lease, so a job completes once even if two workers ran it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from callintel.store.events import emit
from callintel.store.models import Call, Job, utcnow


@dataclass(frozen=True)
class Claimed:
    job_id: str
    call_id: str
    attempt: int


def enqueue(session: Session, call_id: str, max_attempts: int = 3) -> Job:
    job = Job(call_id=call_id, max_attempts=max_attempts)
    session.add(job)
    session.flush()
    return job


def claim(
    session: Session, worker: str, lease: dt.timedelta, now: dt.datetime | None = None
) -> Claimed | None:
    """Take the oldest available job for ``worker`` for ``lease``; None when there is none."""
    claimed = claim_many(session, worker, lease, 1, now)
    return claimed[0] if claimed else None


def claim_many(
    session: Session, worker: str, lease: dt.timedelta, limit: int, now: dt.datetime | None = None
) -> list[Claimed]:
    """Take up to ``limit`` of the oldest available jobs for ``worker`` for ``lease``, oldest
    first; empty when there is none. Available: queued and due, or running with an expired lease
    (its worker died), with attempts left; each claim counts an attempt."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    now = now or utcnow()
    _fail_exhausted(session, now)
    available = or_(
        and_(Job.status == "queued", Job.available_at <= now),
        and_(Job.status == "running", Job.lease_expires_at < now),
    )
    ids = list(
        session.scalars(
            select(Job.id)
            .where(available, Job.attempts < Job.max_attempts)
            .order_by(Job.available_at, Job.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if not ids:
        return []
    returned = session.execute(
        update(Job)
        .where(Job.id.in_(ids))
        .values(
            status="running",
            lease_owner=worker,
            lease_expires_at=now + lease,
            heartbeat_at=now,
            attempts=Job.attempts + 1,
        )
        .returning(Job.id, Job.call_id, Job.attempts)
    ).all()
    order = {job_id: i for i, job_id in enumerate(ids)}
    rows = sorted(returned, key=lambda row: order[row.id])
    session.execute(
        update(Call)
        .where(Call.id.in_([row.call_id for row in rows]))
        .values(status="processing", updated_at=now)
    )
    return [Claimed(row.id, row.call_id, row.attempts) for row in rows]


def heartbeat(session: Session, job_id: str, worker: str, lease: dt.timedelta) -> bool:
    """Extend the lease; False if the job is no longer this worker's (lost to another)."""
    now = utcnow()
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.lease_owner == worker, Job.status == "running")
        .values(lease_expires_at=now + lease, heartbeat_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def heartbeat_many(session: Session, job_ids: Collection[str], worker: str, lease: dt.timedelta) -> set[str]:
    """Extend the leases of the jobs ``worker`` still holds, in one statement; those it holds
    (the others were lost to another worker, or finished)."""
    if not job_ids:
        return set()
    now = utcnow()
    held = session.scalars(
        update(Job)
        .where(Job.id.in_(list(job_ids)), Job.lease_owner == worker, Job.status == "running")
        .values(lease_expires_at=now + lease, heartbeat_at=now)
        .returning(Job.id)
    )
    return set(held)


def release(session: Session, job_id: str, worker: str) -> bool:
    """Give back a job claimed but not worked on (a batch stopped early): queued again at once,
    the attempt not counted. False if it is not ``worker``'s."""
    now = utcnow()
    job = session.get(Job, job_id, with_for_update=True)
    if job is None or job.lease_owner != worker or job.status != "running":
        return False
    job.status = "queued"
    job.attempts = max(0, job.attempts - 1)
    job.lease_owner = None
    job.lease_expires_at = None
    job.available_at = now
    session.execute(update(Call).where(Call.id == job.call_id).values(status="queued", updated_at=now))
    return True


def finish(session: Session, job_id: str, worker: str) -> bool:
    """Mark the job done if this worker still holds it. The caller writes the job's results in
    the same transaction and rolls back when this returns False."""
    now = utcnow()
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.lease_owner == worker, Job.status == "running")
        .values(status="done", finished_at=now, lease_expires_at=None, error=None)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def fail(session: Session, job_id: str, worker: str, error: str, retry: bool) -> str | None:
    """Record a failed attempt: back to the queue with exponential backoff while attempts
    remain and ``retry``, else ``failed`` for good. Returns the new status (None: not ours)."""
    now = utcnow()
    job = session.get(Job, job_id, with_for_update=True)
    if job is None or job.lease_owner != worker or job.status != "running":
        return None
    job.error = error[:4000]
    job.lease_expires_at = None
    if retry and job.attempts < job.max_attempts:
        job.status = "queued"
        job.available_at = now + dt.timedelta(seconds=2**job.attempts)
        session.execute(update(Call).where(Call.id == job.call_id).values(status="queued", updated_at=now))
    else:
        _give_up(session, job, job.error, now)
    return job.status


def _fail_exhausted(session: Session, now: dt.datetime) -> None:
    """Jobs whose worker died on their last allowed attempt go to ``failed``."""
    dead = session.scalars(
        select(Job).where(
            Job.status == "running", Job.lease_expires_at < now, Job.attempts >= Job.max_attempts
        )
    ).all()
    for job in dead:
        error = f"the worker holding it stopped responding (attempt {job.attempts} of {job.max_attempts})"
        _give_up(session, job, error, now)


def _give_up(session: Session, job: Job, error: str, now: dt.datetime) -> None:
    """The job and its call fail for good; the ``call.failed`` event goes to the outbox."""
    job.status = "failed"
    job.finished_at = now
    job.error = error
    job.lease_expires_at = None
    call = session.get(Call, job.call_id)
    if call is None:
        return
    call.status = "failed"
    call.error = error
    call.updated_at = now
    emit(
        session,
        call.dealer_id,
        "call.failed",
        {
            "call_id": call.id,
            "external_id": call.external_id,
            "customer_id": call.customer.external_id if call.customer else None,
            "error": error,
            "attempts": job.attempts,
        },
        call_id=call.id,
        customer_id=call.customer_id,
    )
