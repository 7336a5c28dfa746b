"""Workers: take queued calls from the database, analyse them, store the results once.

``callintel worker`` runs one in its own process (start several); ``callintel serve`` runs
one inside the API process for the single-machine default. A worker holds a job by lease and
renews it by heartbeat while the pipeline runs; results, tags and the ``call.analyzed`` event
are written in one transaction, fenced by the lease (see ``store.jobs``).

With ``batch`` above 1 a worker claims up to that many queued calls at once and analyses them
together, as ``callintel batch`` does (``Pipeline.analyze_many``: the classifiers run once over
all their turns), renewing all their leases in one heartbeat; then each job is stored or failed
on its own, fenced by its own lease, exactly as a job taken alone.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from sqlalchemy.orm import Session

from callintel.errors import AudioError
from callintel.options import MAX_AUDIO_SECONDS, AnalysisOptions
from callintel.result import AnalysisResult, Redaction, RedactionSpan
from callintel.service.monitoring import AnalysisMetrics, AnalysisRecord, Outcome, log_end, log_start
from callintel.settings import Settings
from callintel.store import jobs
from callintel.store.blobs import BlobStore, Staged
from callintel.store.db import Database
from callintel.store.models import Call, Dealer
from callintel.store.policy import DealerSettings
from callintel.store.recordings import StoredTranscript, drop_if_unused, recording_for, transcript_to_reuse
from callintel.store.redact import RedactedSpan, mute_file
from callintel.store.results import current_scorecard, redact_result, store_result
from callintel.understand.scoring import Scorecard
from callintel.understand.tags import load_policy

if TYPE_CHECKING:
    from callintel.pipeline import Pipeline

logger = logging.getLogger(__name__)

Analyzer = Callable[[Path, AnalysisOptions, Scorecard | None], AnalysisResult]
"""A recording, its options and the scorecard edited through the API for its scenario (None:
the file's) in, its :class:`AnalysisResult` out. It may be called from several threads at once."""

Work = tuple[Path, AnalysisOptions, Scorecard | None]
"""One call's arguments of an :data:`Analyzer`."""


@runtime_checkable
class BatchAnalyzer(Protocol):
    """An :data:`Analyzer` that also analyses several calls together (the models' passes shared
    across them). A worker with ``batch`` above 1 uses ``analyze_many`` when its analyzer has it,
    else analyses the calls one after another."""

    def __call__(
        self, path: Path, options: AnalysisOptions, scorecard: Scorecard | None
    ) -> AnalysisResult: ...

    def analyze_many(self, calls: Sequence[Work]) -> Sequence[AnalysisResult | Exception]:
        """A result, or that call's exception, for each call in order; it may raise for all."""
        ...


@runtime_checkable
class Reunderstander(Protocol):
    """An :data:`Analyzer` that also understands a stored transcript again, without ASR: a worker
    whose analyzer has it analyses audio this dealer already had analysed that way (issue 17)."""

    def understand_again(
        self, stored: AnalysisResult, options: AnalysisOptions, scorecard: Scorecard | None
    ) -> AnalysisResult:
        """``stored``'s transcript understood with ``options``' scenario and call date."""
        ...


@dataclass(frozen=True)
class _Held:
    """A claimed job, what analysing it takes and what its log line and metrics say of it."""

    claimed: jobs.Claimed
    path: Path
    options: AnalysisOptions
    scorecard: Scorecard | None
    dealer_id: str
    scenario: str
    started: float  # time.perf_counter() at the claim
    reuse: StoredTranscript | None = None  # the same audio's stored transcript, to understand again


def call_options(call: Call, base: AnalysisOptions = AnalysisOptions()) -> AnalysisOptions:
    """The analysis options a call's metadata asks for, the others as in ``base``."""
    return replace(
        base,
        transcription=replace(base.transcription, language=call.language),
        speakers=replace(base.speakers, channels=call.channel_layout),  # type: ignore[arg-type]
        scenario=call.scenario,  # type: ignore[arg-type]
        call_date=call.recorded_at.date().isoformat() if call.recorded_at else None,
    )


class Worker:
    """Processes jobs, one at a time or ``batch`` at a time.

    Args:
        db: the database.
        blobs: where the recordings are.
        analyze: runs the pipeline (injected: tests pass a fake one); a :class:`BatchAnalyzer`
            analyses a batch's calls together.
        lease: how long a claim lasts without a heartbeat; heartbeats come every third of it.
        max_audio_seconds: the longest recording analysed (the service's upload limit,
            ``Settings.max_audio_seconds``).
        batch: jobs claimed at once (``Settings.worker_batch``); 1 takes them one by one.
        metrics: where each analysis is counted and timed (None: a registry of its own).

    Each analysis logs ``event=analysis.start`` and ``event=analysis.end`` lines
    (:mod:`callintel.service.monitoring`). A call whose uploaded bytes match a call of the same
    dealer analysed before (same language and channel layout asked) reuses that call's stored
    transcript when the analyzer is a :class:`Reunderstander`: no second ASR.
    """

    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        analyze: Analyzer,
        name: str | None = None,
        lease: dt.timedelta = dt.timedelta(seconds=60),
        poll_seconds: float = 1.0,
        models_dir: Path | None = None,
        max_audio_seconds: float = MAX_AUDIO_SECONDS,
        batch: int = 1,
        metrics: AnalysisMetrics | None = None,
    ) -> None:
        if batch < 1:
            raise ValueError(f"batch must be at least 1, not {batch}")
        self.db = db
        self.metrics = metrics if metrics is not None else AnalysisMetrics()
        self.batch = batch
        self.max_audio_seconds = max_audio_seconds
        self.models_dir = models_dir or Settings.from_env().models_dir
        self.blobs = blobs
        self.analyze = analyze
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
        self.lease = lease
        self.poll_seconds = poll_seconds
        self.tag_policy = load_policy(self.models_dir)

    def run(self, stop: threading.Event, wake: threading.Event | None = None) -> None:
        """Process jobs until ``stop`` is set. An empty queue is looked at again after
        ``poll_seconds``, or as soon as ``wake`` is set (an upload in the same process)."""
        logger.info("worker %s started", self.name)
        while not stop.is_set():
            try:
                worked = self.run_once()
            except Exception:
                logger.exception("worker %s: unexpected error; going on", self.name)
                worked = False
            if not worked:
                (wake or stop).wait(self.poll_seconds)
                if wake is not None:
                    wake.clear()

    def run_once(self) -> bool:
        """Claim and process one job (up to ``batch`` jobs); False when there was none."""
        if self.batch > 1:
            return self.run_batch()
        with self.db.session() as session:
            claimed = jobs.claim(session, self.name, self.lease)
            if claimed is None:
                return False
            item = self._hold(session, claimed, {})
        self._log_start(item)
        lost = threading.Event()
        done = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(claimed.job_id, done, lost), daemon=True)
        beat.start()
        answer: AnalysisResult | Exception
        try:
            answer = self._analyze_one(item)
        except Exception as e:
            answer = e
        finally:
            done.set()
            beat.join()
        self._settle(item, answer, lost.is_set())
        return True

    def _hold(self, session: Session, claimed: jobs.Claimed, cards: dict[str, Scorecard | None]) -> _Held:
        """What analysing a claimed job takes (``cards``: the scorecards read so far, by scenario)."""
        call = session.get(Call, claimed.call_id)
        assert call is not None and call.recording is not None
        if call.scenario not in cards:
            cards[call.scenario] = current_scorecard(session, call.scenario, self.models_dir)
        reuse = transcript_to_reuse(session, call) if isinstance(self.analyze, Reunderstander) else None
        return _Held(
            claimed,
            self.blobs.path(call.recording.storage_path),
            call_options(call, AnalysisOptions(max_seconds=self.max_audio_seconds)),
            cards[call.scenario],
            call.dealer_id,
            call.scenario,
            time.perf_counter(),
            reuse,
        )

    def _analyze_one(self, item: _Held) -> AnalysisResult:
        """The call analysed, or its stored transcript of the same audio understood again."""
        if item.reuse is None:
            return self.analyze(item.path, item.options, item.scorecard)
        assert isinstance(self.analyze, Reunderstander)
        result = self.analyze.understand_again(item.reuse.result, item.options, item.scorecard)
        note = f"transcript reused from call {item.reuse.call_id}: the same audio, analysed before"
        return replace(result, warnings=(*result.warnings, note))

    def run_batch(self) -> bool:
        """Claim up to ``batch`` jobs, analyse their calls together, then store or fail each on
        its own (fenced by its lease, as :meth:`run_once`); False when there was none."""
        held: list[_Held] = []
        with self.db.session() as session:
            cards: dict[str, Scorecard | None] = {}
            for claimed in jobs.claim_many(session, self.name, self.lease, self.batch):
                held.append(self._hold(session, claimed, cards))
        if not held:
            return False
        logger.info("worker %s: a batch of %d jobs", self.name, len(held))
        for item in held:
            self._log_start(item)
        with Leases(self, [h.claimed.job_id for h in held]) as leases:
            fresh = [h for h in held if h.reuse is None]
            analysed = iter(self._analyze_many([(h.path, h.options, h.scorecard) for h in fresh]))
            answers: list[AnalysisResult | Exception] = []
            for item in held:
                if item.reuse is None:
                    answers.append(next(analysed))
                    continue
                try:  # a stored transcript understood again: no ASR, nothing to batch
                    answers.append(self._analyze_one(item))
                except Exception as e:
                    answers.append(e)
            for item, answer in zip(held, answers, strict=True):
                try:
                    self._settle(item, answer, leases.is_lost(item.claimed.job_id))
                except Exception:  # e.g. the database away: this job's lease runs out, it is retried
                    logger.exception("job %s: storing its outcome failed", item.claimed.job_id)
                finally:
                    leases.settled(item.claimed.job_id)
        return True

    def _analyze_many(self, work: list[Work]) -> list[AnalysisResult | Exception]:
        """A result or an exception per call: together when the analyzer can, else (or when the
        batch as a whole raised) one call at a time, so that one call's error fails only it."""
        if isinstance(self.analyze, BatchAnalyzer):
            try:
                answers = list(self.analyze.analyze_many(work))
                if len(answers) == len(work):
                    return answers
                logger.error("analyze_many gave %d answers for %d calls", len(answers), len(work))
            except Exception:
                logger.warning(
                    "worker %s: a batch of %d failed as a whole; analysing its calls one at a time: %s",
                    self.name,
                    len(work),
                    traceback.format_exc(limit=3),
                )
        answers = []
        for path, options, scorecard in work:
            try:
                answers.append(self.analyze(path, options, scorecard))
            except Exception as e:
                answers.append(e)
        return answers

    def _settle(self, item: _Held, answer: AnalysisResult | Exception, lost: bool) -> None:
        """One job: failed (an unusable recording for good, other errors retried), dropped when
        its lease was ``lost``, else stored; then its ``analysis.end`` line and metrics."""
        claimed = item.claimed
        stages: dict[str, float] = {}
        error: Exception | None = None
        if isinstance(answer, AudioError):
            error = answer
            outcome = self._failed(self.fail(claimed, f"{type(answer).__name__}: {answer}", retry=False))
        elif isinstance(answer, Exception):
            error = answer
            trace = "".join(traceback.format_exception(answer, limit=3))
            logger.warning("job %s failed: %s", claimed.job_id, trace)
            outcome = self._failed(self.fail(claimed, f"{type(answer).__name__}: {answer}", retry=True))
        elif lost:
            logger.warning("job %s: lease lost to another worker; result dropped", claimed.job_id)
            outcome = "lost"
        else:
            clock = time.perf_counter()
            reused = item.reuse.call_id if item.reuse is not None else None
            carried = item.reuse.result.redaction if item.reuse is not None else None
            outcome, error = self._complete(claimed, item.path, answer, reused, carried)
            stages = {**answer.timings, "store": time.perf_counter() - clock}
        record = AnalysisRecord(
            call_id=claimed.call_id,
            dealer_id=item.dealer_id,
            scenario=item.scenario,
            job_id=claimed.job_id,
            attempt=claimed.attempt,
            outcome=outcome,
            seconds=time.perf_counter() - item.started,
            stages=stages if outcome == "done" else {},
            audio_seconds=answer.duration if isinstance(answer, AnalysisResult) else None,
            error_type=type(error).__name__ if error is not None else None,
            error=str(error) if error is not None else None,
            reused_transcript_of=item.reuse.call_id if item.reuse is not None else None,
        )
        self.metrics.observe(record)
        log_end(logger, self.name, record)

    @staticmethod
    def _failed(status: str | None) -> Outcome:
        """The outcome of a failed attempt from the job's new status (None: no longer ours)."""
        if status == "queued":
            return "retry"
        return "failed" if status == "failed" else "lost"

    def _log_start(self, item: _Held) -> None:
        claimed = item.claimed
        log_start(
            logger, self.name, claimed.call_id, item.dealer_id, item.scenario, claimed.job_id, claimed.attempt
        )

    def complete(self, claimed: jobs.Claimed, path: Path, result: AnalysisResult) -> bool:
        """Store the result of a claimed job (redacted as its dealer asks), fenced by the lease:
        False when the job is no longer ours (nothing stored) or the dealer's redaction failed
        (the attempt fails, to be retried)."""
        return self._complete(claimed, path, result)[0] == "done"

    def _complete(
        self,
        claimed: jobs.Claimed,
        path: Path,
        result: AnalysisResult,
        reused_transcript_of: str | None = None,
        carried: Redaction | None = None,
    ) -> tuple[Outcome, Exception | None]:
        """:meth:`complete`, with its outcome (and the error of a failed redaction).
        ``reused_transcript_of``: the call whose stored transcript ``result`` reused, and
        ``carried`` that transcript's redaction (already masked, so found again by no search:
        its spans still mute this call's recording, the original upload)."""
        try:
            with self.db.session() as session:
                call = session.get(Call, claimed.call_id)
                dealer = session.get(Dealer, call.dealer_id) if call is not None else None
                settings = DealerSettings.of(dealer.settings if dealer else None)
            result, spans = redact_result(result, settings.redaction)
            if carried is not None and settings.redaction.enabled:
                result, spans = _with_carried(result, spans, carried)
            muted = self._muted_copy(path, spans) if settings.redaction.mute_audio and spans else None
        except Exception as e:  # a dealer's broken settings: the call fails, visibly, and is retried
            logger.warning("job %s: redaction failed: %s", claimed.job_id, traceback.format_exc(limit=3))
            return self._failed(self.fail(claimed, f"{type(e).__name__}: {e}", retry=True)), e
        orphan = None
        try:
            with self.db.session() as session:
                if not jobs.finish(session, claimed.job_id, self.name):
                    session.rollback()
                    logger.warning("job %s: no longer ours at the end; result dropped", claimed.job_id)
                    return "lost", None
                call = session.get(Call, claimed.call_id)
                if call is not None:
                    if muted is not None:
                        orphan = self._use_recording(session, call, muted)
                    call.reused_transcript_of = reused_transcript_of
                    store_result(session, call, result, settings.tag_policy(self.tag_policy))
        finally:
            if muted is not None:
                self.blobs.discard(muted)  # no-op once committed (moved into the store)
        if orphan is not None:
            self.blobs.delete(orphan)
        return "done", None

    def _muted_copy(self, path: Path, spans: list[RedactedSpan]) -> Staged:
        """The recording muted over ``spans`` (FLAC), staged in the blob store."""
        times = [(s.start, s.end) for s in spans if s.start is not None and s.end is not None]
        self.blobs.staging.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.blobs.staging) as tmp:
            muted = Path(tmp) / "muted.flac"
            mute_file(path, muted, times)
            with muted.open("rb") as f:
                return self.blobs.stage(iter(lambda: f.read(1 << 20), b""), max_bytes=1 << 40)

    def _use_recording(self, session: Session, call: Call, staged: Staged) -> str | None:
        """Point ``call`` at the muted recording; returns the old file's storage path when no
        other call uses it any more (to delete once committed)."""
        relative = self.blobs.commit(staged, "flac")
        duration = call.recording.duration_s if call.recording else None
        recording = recording_for(session, staged, "flac", relative, duration)
        old = call.recording
        call.recording_id = recording.id
        session.flush()
        if old is None or old.id == recording.id:
            return None
        return drop_if_unused(session, old)

    def fail(self, claimed: jobs.Claimed, error: str, retry: bool) -> str | None:
        """Record a failed attempt of a claimed job (``retry``: back to the queue while attempts
        remain); the job's new status (None: it is no longer ours)."""
        with self.db.session() as session:
            status = jobs.fail(session, claimed.job_id, self.name, error, retry)
        logger.info("job %s: attempt %d failed (%s): %s", claimed.job_id, claimed.attempt, status, error)
        return status

    def _heartbeat(self, job_id: str, done: threading.Event, lost: threading.Event) -> None:
        interval = self.lease.total_seconds() / 3
        while not done.wait(interval):
            try:
                with self.db.session() as session:
                    if not jobs.heartbeat(session, job_id, self.name, self.lease):
                        lost.set()
                        return
            except Exception:
                logger.exception("heartbeat of job %s failed", job_id)


class Leases:
    """The leases of a batch's jobs, renewed together (one ``heartbeat_many`` every third of the
    lease) on a thread from ``with`` until the block ends or every job is settled. A job another
    worker took over (its lease ran out meanwhile) is :meth:`is_lost`: not renewed any more."""

    def __init__(self, worker: Worker, job_ids: Collection[str]) -> None:
        self.worker = worker
        self._held = set(job_ids)
        self._lost: set[str] = set()
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, name="worker-leases", daemon=True)

    def __enter__(self) -> Leases:
        self._beat.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._done.set()
        self._beat.join()

    def is_lost(self, job_id: str) -> bool:
        with self._lock:
            return job_id in self._lost

    def settled(self, job_id: str) -> None:
        """Stored or failed: its lease needs no renewing any more."""
        with self._lock:
            self._held.discard(job_id)
            if not self._held:
                self._done.set()

    def _heartbeat(self) -> None:
        lease = self.worker.lease
        while not self._done.wait(lease.total_seconds() / 3):
            with self._lock:
                held = set(self._held)
            try:
                with self.worker.db.session() as session:
                    still = jobs.heartbeat_many(session, held, self.worker.name, lease)
            except Exception:
                logger.exception(
                    "worker %s: renewing the leases of %d jobs failed", self.worker.name, len(held)
                )
                continue
            with self._lock:
                lost = held - still
                self._lost |= lost
                self._held -= lost
            for job_id in lost:
                logger.warning("job %s: lease lost to another worker", job_id)


class PipelineAnalyzer:
    """A :class:`BatchAnalyzer` on a loaded pipeline.

    No lock: the pipeline keeps no per-call state (the scorecard is an argument), and its models
    take concurrent calls (CTranslate2 queues Whisper's windows from several threads; the torch
    classifiers run under ``inference_mode``). So a short call analysed on one thread is not held
    behind a long one on another: their windows interleave."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def __call__(self, path: Path, options: AnalysisOptions, scorecard: Scorecard | None) -> AnalysisResult:
        return self.pipeline.analyze(path, options, scorecard=scorecard)

    def understand_again(
        self, stored: AnalysisResult, options: AnalysisOptions, scorecard: Scorecard | None
    ) -> AnalysisResult:
        """A :class:`Reunderstander`: the stored transcript understood again, no ASR."""
        return self.pipeline.understand_again(stored, options, scorecard)

    def analyze_many(self, calls: Sequence[Work]) -> list[AnalysisResult | Exception]:
        """Decode each recording, then ``Pipeline.analyze_many`` (the path of ``callintel batch``)
        over those that decoded, each scored with its own scorecard."""
        from callintel.pipeline import Prepared, prepare

        prepared: list[Prepared | Exception] = []
        for path, options, _ in calls:
            try:
                prepared.append(prepare(path, options))
            except Exception as e:  # unusable audio: that call fails (AudioError: for good)
                prepared.append(e)
        ready = [(call, p) for call, p in zip(calls, prepared, strict=True) if isinstance(p, Prepared)]
        results = iter(
            self.pipeline.analyze_many(
                [(path, options, p) for (path, options, _), p in ready],
                scorecards=[scorecard for (_, _, scorecard), _ in ready],
            )
            if ready
            else []
        )
        return [p if isinstance(p, Exception) else next(results) for p in prepared]


def pipeline_analyzer(pipeline: Pipeline) -> PipelineAnalyzer:
    """The :class:`BatchAnalyzer` of the service's workers and synchronous analyses."""
    return PipelineAnalyzer(pipeline)


def _with_carried(
    result: AnalysisResult, spans: list[RedactedSpan], carried: Redaction
) -> tuple[AnalysisResult, list[RedactedSpan]]:
    """``result`` and its redacted ``spans`` with those of the reused transcript added (masked
    there already, so redaction found them no more)."""
    kept = [RedactedSpan(s.turn, s.kind, s.start, s.end) for s in carried.spans]
    found = {(s.turn, s.kind, s.start, s.end) for s in kept}
    spans = kept + [s for s in spans if (s.turn, s.kind, s.start, s.end) not in found]
    redaction = Redaction(
        kinds=tuple(dict.fromkeys((*carried.kinds, *(result.redaction.kinds if result.redaction else ())))),
        spans=tuple(RedactionSpan(s.turn, s.kind, s.start, s.end) for s in spans),
    )
    return replace(result, redaction=redaction), spans
