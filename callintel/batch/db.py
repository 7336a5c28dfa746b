"""``callintel batch db:``: the service's database as a batch's source and destination.

- **Pending calls.** The batch claims every queued job through the job queue (so workers of
  ``callintel serve`` running beside it never take the same call), keeps the leases alive while
  it runs, and stores each result as a worker does (redaction, tags on the journey, events in
  the outbox, fenced by the lease). Killed, its unfinished jobs go back to the queue when their
  leases expire (or at once on Ctrl-C); finished calls stay finished.
- **Reanalysis** (``--reanalyze``). The understanding stage only, run again over the stored
  transcripts of analysed calls (no audio is read), after a scorecard or model change. Each
  new analysis records the reanalysis fingerprint (understanding models and the call's
  scorecard), so a rerun skips the calls already done with them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy import select

from callintel.batch.local import BatchItem, Ledger, Outcome, Summary
from callintel.options import AnalysisOptions
from callintel.result import AnalysisResult
from callintel.service.worker import Worker, call_options
from callintel.store import jobs
from callintel.store.db import Database
from callintel.store.models import Analysis, Call, Dealer
from callintel.store.policy import DealerSettings
from callintel.store.results import current_scorecard, redact_result, store_result
from callintel.transcript import ModelInfo
from callintel.understand.classifiers import CallToUnderstand, CallTurn, Understander
from callintel.understand.metrics import conversation_metrics
from callintel.understand.tags import load_policy

logger = logging.getLogger(__name__)

DB_SOURCE = "db:"
"""The SOURCE naming the service's database (``CALLINTEL_DATABASE_URL``)."""


def is_db_source(source: str | Path) -> bool:
    return str(source) == DB_SOURCE


@dataclass(frozen=True)
class Held:
    claimed: jobs.Claimed
    path: Path


class PendingCalls:
    """Queued calls claimed for a batch; also the batch's ledger: ``write`` stores a result (or a
    failure) in the database, and in ``tee`` (a results JSONL) when given.

    Args:
        worker: stores results and failures the way ``callintel worker`` does (its name owns the
            leases).
        lease: how long a claim lasts without a heartbeat; renewed every third of it.
    """

    def __init__(
        self,
        worker: Worker,
        fingerprint: str,
        lease: dt.timedelta = dt.timedelta(minutes=10),
        tee: Ledger | None = None,
    ) -> None:
        self.worker = worker
        self.fingerprint = fingerprint
        self.lease = lease
        self.tee = tee
        self._held: dict[str, Held] = {}  # call id -> its claim, until stored or failed
        # The results of this run, on disk rather than in memory (a night's batch is thousands of
        # calls): what a copy of the same content reuses.
        self._scratch = tempfile.TemporaryDirectory(prefix="callintel-batch-")
        self._results = Ledger(Path(self._scratch.name) / "results.jsonl", fingerprint)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def claim(self, defaults: AnalysisOptions, limit: int | None = None) -> list[BatchItem]:
        """Claim the queued calls (oldest first, at most ``limit``) and keep them claimed."""
        items: list[BatchItem] = []
        while limit is None or len(items) < limit:
            with self.worker.db.session() as session:
                claimed = jobs.claim(session, self.worker.name, self.lease)
                if claimed is None:
                    break
                call = session.get(Call, claimed.call_id)
                assert call is not None and call.recording is not None
                path = self.worker.blobs.path(call.recording.storage_path)
                options = call_options(call, defaults)
                metadata = {
                    "call_id": call.id,
                    "dealer_id": call.dealer_id,
                    "external_id": call.external_id or "",
                    "scenario": call.scenario,
                }
            self._held[claimed.call_id] = Held(claimed, path)
            items.append(BatchItem(path, options, metadata))
        if items and self._beat is None:
            self._beat = threading.Thread(target=self._heartbeat, name="batch-leases", daemon=True)
            self._beat.start()
        return items

    # The ledger's side: nothing is done in advance (a queued call is to do, by definition).
    def is_done(self, path: Path, sha256: str) -> bool:
        return False

    def result_of(self, sha256: str) -> Mapping[str, Any] | None:
        return self._results.result_of(sha256)

    def write(self, record: Mapping[str, Any]) -> None:
        call_id = record["metadata"]["call_id"]
        with self._lock:
            held = self._held.pop(call_id, None)
        if held is None:
            return
        if record["status"] in ("done", "reused"):
            self._results.write(record)
            if not self.worker.complete(held.claimed, held.path, AnalysisResult.from_dict(record["result"])):
                record = {**record, "status": "failed", "error": "not stored: see the worker log"}
        else:
            self.worker.fail(held.claimed, record["error"], retry=record.get("retryable", True))
        if self.tee is not None:
            self.tee.write(record)

    def close(self) -> None:
        """Stop the heartbeats and give back the claims not finished (Ctrl-C, an error)."""
        self._stop.set()
        if self._beat is not None:
            self._beat.join()
        with self._lock:
            left, self._held = list(self._held.values()), {}
        for held in left:
            with self.worker.db.session() as session:
                jobs.release(session, held.claimed.job_id, self.worker.name)
        if self.tee is not None:
            self.tee.close()
        self._results.close()
        self._scratch.cleanup()

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.lease.total_seconds() / 3):
            with self._lock:
                held = list(self._held.values())
            try:
                with self.worker.db.session() as session:
                    jobs.heartbeat_many(
                        session, [h.claimed.job_id for h in held], self.worker.name, self.lease
                    )
            except Exception:
                logger.exception("batch: renewing the leases failed; retrying")


def use_edited_scorecards(db: Database, understander: Understander, models_dir: Path) -> Understander:
    """``understander`` scoring with the scorecards edited through the API, as the workers do
    (the same loaded models; ``understander`` itself is unchanged)."""
    with db.session() as session:
        edited = {
            scenario: card
            for scenario in understander.scorecards
            if (card := current_scorecard(session, scenario, models_dir)) is not None
        }
    return understander.with_scorecards(edited)


def reanalysis_fingerprint(understander: Understander, scenario: str) -> str:
    """The understanding models and the scorecard a reanalysis of ``scenario`` uses."""
    card = understander.scorecards[scenario].model_dump(mode="json")
    text = json.dumps({"models": understander.models.directory_version, "scorecard": card}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


REANALYSIS_MODEL = "reanalysis"


def reunderstand(
    understander: Understander, calls: Sequence[tuple[AnalysisResult, str, dt.date | None]]
) -> list[AnalysisResult]:
    """The understanding stage again over stored results (their turns, a scenario and a call
    date each), the classifiers batched across them; the rest of each result is kept. The
    result records the fingerprint as a ``reanalysis`` model."""
    understood = understander.understand_many(
        [
            CallToUnderstand([CallTurn(t.role, t.text, t.start, t.end) for t in r.turns], s, d)
            for r, s, d in calls
        ]
    )
    out = []
    for (old, scenario, _), understanding in zip(calls, understood, strict=True):
        models = tuple(m for m in old.models if m.name != REANALYSIS_MODEL) + (
            ModelInfo(
                REANALYSIS_MODEL, "understanding", "callintel", reanalysis_fingerprint(understander, scenario)
            ),
        )
        out.append(
            replace(
                old,
                understanding=understanding,
                metrics=conversation_metrics(old.turns, old.duration, old.language, understanding.sentiment),
                models=models,
                options=replace(old.options, scenario=scenario),  # type: ignore[arg-type]
                timings={**old.timings, "understand": understanding.timings.get("understand", 0.0)},
            )
        )
    return out


def reanalyze_calls(
    db: Database,
    understander: Understander,
    models_dir: Path,
    *,
    dealer: str | None = None,
    scenario: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    group: int = 8,
    on_outcome: Callable[[Outcome], None] = lambda _: None,
) -> Summary:
    """Run the understanding stage again on the stored transcripts of analysed calls (of
    ``dealer``, ``scenario``, uploaded in [since, until)), storing each new analysis with its
    tags and events; calls whose newest analysis has the same reanalysis fingerprint are
    skipped."""
    with db.session() as session:
        query = select(Call.id).where(Call.status == "done").order_by(Call.created_at, Call.id)
        if dealer:
            query = query.where(Call.dealer_id == dealer)
        if scenario:
            query = query.where(Call.scenario == scenario)
        if since:
            query = query.where(Call.created_at >= since)
        if until:
            query = query.where(Call.created_at < until)
        call_ids = list(session.scalars(query))
    summary = Summary(total=len(call_ids))
    tag_policy = load_policy(models_dir)
    clock = dt.datetime.now()
    for start in range(0, len(call_ids), max(1, group)):
        work: list[tuple[str, AnalysisResult, str, dt.date | None]] = []
        with db.session() as session:
            for call_id in call_ids[start : start + group]:
                call = session.get(Call, call_id)
                analysis = _latest(session, call_id)
                item = BatchItem(Path(call_id), AnalysisOptions(), {"call_id": call_id})
                if call is None or analysis is None or not analysis.result.get("turns"):
                    _settle(summary, on_outcome, Outcome(item, "skipped"))
                    continue
                if call.scenario not in understander.scorecards:
                    _settle(
                        summary,
                        on_outcome,
                        Outcome(item, "failed", error=f"unknown scenario {call.scenario}"),
                    )
                    continue
                if _fingerprint_of(analysis) == reanalysis_fingerprint(understander, call.scenario):
                    _settle(summary, on_outcome, Outcome(item, "skipped"))
                    continue
                stored = AnalysisResult.from_dict(analysis.result)
                date = call.recorded_at.date() if call.recorded_at else None
                work.append((call_id, stored, call.scenario, date))
        if not work:
            continue
        results = reunderstand(understander, [(r, s, d) for _, r, s, d in work])
        for (call_id, stored, _, _), result in zip(work, results, strict=True):
            item = BatchItem(Path(call_id), AnalysisOptions(), {"call_id": call_id})
            with db.session() as session:
                call = session.get(Call, call_id)
                if call is None or call.status != "done":  # erased or requeued meanwhile
                    _settle(summary, on_outcome, Outcome(item, "skipped"))
                    continue
                dealer_row = session.get(Dealer, call.dealer_id)
                settings = DealerSettings.of(dealer_row.settings if dealer_row else None)
                redacted, _ = redact_result(result, settings.redaction)
                if stored.redaction is not None:  # where the audio had personal data: the stored spans
                    redacted = replace(redacted, redaction=stored.redaction)
                store_result(session, call, redacted, settings.tag_policy(tag_policy))
            record = {"path": call_id, "status": "done", "result": redacted.to_dict()}
            _settle(summary, on_outcome, Outcome(item, "done", 0.0, record=record))
    summary.wall_seconds = (dt.datetime.now() - clock).total_seconds()
    return summary


def _settle(summary: Summary, on_outcome: Callable[[Outcome], None], outcome: Outcome) -> None:
    summary.add(outcome)
    on_outcome(outcome)


def _latest(session: Any, call_id: str) -> Analysis | None:
    return session.scalars(
        select(Analysis).where(Analysis.call_id == call_id).order_by(Analysis.created_at.desc()).limit(1)
    ).first()


def _fingerprint_of(analysis: Analysis) -> str | None:
    for model in analysis.result.get("models") or ():
        if model.get("name") == REANALYSIS_MODEL:
            return str(model.get("version"))
    return None
