"""What operators see of the workers' analyses: one structured log line per analysis started and
per outcome, and Prometheus metrics (issue 17).

Log lines are ``key=value`` pairs (logfmt: a value with a space, a quote or ``=`` is quoted as
JSON writes a string), starting with ``event=analysis.start`` or ``event=analysis.end``; the same
fields ride on the log record as ``record.analysis`` for a JSON log handler.

Metrics carry no dealer, call or customer ids (``/metrics`` may be read by a scraper that is no
API caller, and ids would make unbounded label sets); their labels are the outcome, the
scenario, the pipeline stage and the error type.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

Outcome = Literal["done", "retry", "failed", "lost"]
"""How an analysis attempt ended: stored; failed and queued again; failed for good (an unusable
recording, or no attempts left); or its lease was lost to another worker (nothing stored)."""

OUTCOMES: tuple[Outcome, ...] = ("done", "retry", "failed", "lost")

# Seconds: a short clip on a GPU to an hour-long showroom recording on a small CPU.
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600)


@dataclass(frozen=True)
class AnalysisRecord:
    """One analysis attempt as the worker saw it."""

    call_id: str
    dealer_id: str
    scenario: str
    job_id: str
    attempt: int
    outcome: Outcome
    seconds: float
    stages: Mapping[str, float] = field(default_factory=dict)  # seconds per pipeline stage, and "store"
    audio_seconds: float | None = None
    error_type: str | None = None
    error: str | None = None
    reused_transcript_of: str | None = None


class AnalysisMetrics:
    """The workers' Prometheus metrics, in their own registry (one per service or worker process;
    tests make their own).

    - ``callintel_analyses_total{outcome, scenario}``: attempts by outcome (done, retry, failed, lost).
    - ``callintel_analysis_failures_total{error_type, retried}``: failed attempts by exception type.
    - ``callintel_analysis_duration_seconds{outcome}``: an attempt from its claim to its outcome.
    - ``callintel_analysis_stage_duration_seconds{stage}``: each pipeline stage of a stored analysis
      (decode, language, transcribe, speakers, roles, understand, metrics) and ``store``.
    - ``callintel_analysed_audio_seconds_total``: audio analysed and stored.
    - ``callintel_transcripts_reused_total``: analyses that reused the transcript of the same audio.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.analyses = Counter(
            "callintel_analyses",
            "Analysis attempts by outcome (done, retry, failed, lost) and scenario.",
            ["outcome", "scenario"],
            registry=self.registry,
        )
        self.failures = Counter(
            "callintel_analysis_failures",
            "Failed analysis attempts by exception type; retried: queued again.",
            ["error_type", "retried"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "callintel_analysis_duration_seconds",
            "Seconds from a job's claim to its outcome.",
            ["outcome"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.stage_duration = Histogram(
            "callintel_analysis_stage_duration_seconds",
            "Seconds of each stage of a stored analysis (and 'store': writing it).",
            ["stage"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.audio = Counter(
            "callintel_analysed_audio_seconds",
            "Seconds of audio analysed and stored.",
            registry=self.registry,
        )
        self.reused = Counter(
            "callintel_transcripts_reused",
            "Analyses that reused the stored transcript of the same audio (no second ASR).",
            registry=self.registry,
        )

    def observe(self, record: AnalysisRecord) -> None:
        self.analyses.labels(record.outcome, record.scenario).inc()
        self.duration.labels(record.outcome).observe(record.seconds)
        if record.error_type is not None:
            self.failures.labels(record.error_type, str(record.outcome == "retry").lower()).inc()
        if record.outcome == "done":
            for stage, seconds in record.stages.items():
                self.stage_duration.labels(stage).observe(seconds)
            if record.audio_seconds is not None:
                self.audio.inc(record.audio_seconds)
            if record.reused_transcript_of is not None:
                self.reused.inc()

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return generate_latest(self.registry)


_BARE = re.compile(r"^[^\s=\"]+$")


def logfmt(fields: Mapping[str, object]) -> str:
    """``key=value`` pairs in order; None left out, floats to the millisecond, a value with a
    space, a quote or ``=`` (or an empty one) quoted as a JSON string."""
    parts = []
    for key, value in fields.items():
        if value is None:
            continue
        text = f"{value:.3f}" if isinstance(value, float) else str(value)
        parts.append(f"{key}={text if _BARE.match(text) else json.dumps(text, ensure_ascii=False)}")
    return " ".join(parts)


def log_start(
    logger: logging.Logger,
    worker: str,
    call_id: str,
    dealer_id: str,
    scenario: str,
    job_id: str,
    attempt: int,
) -> None:
    """``event=analysis.start``: a worker took a call."""
    fields: dict[str, object] = {
        "event": "analysis.start",
        "call": call_id,
        "dealer": dealer_id,
        "scenario": scenario,
        "job": job_id,
        "attempt": attempt,
        "worker": worker,
    }
    logger.info(logfmt(fields), extra={"analysis": fields})


def log_end(logger: logging.Logger, worker: str, record: AnalysisRecord) -> None:
    """``event=analysis.end``: the outcome, the duration, each stage's seconds (``<stage>_s``) and,
    on failure, the error's type and message. A failure logs at WARNING, the rest at INFO."""
    fields: dict[str, object] = {
        "event": "analysis.end",
        "call": record.call_id,
        "dealer": record.dealer_id,
        "scenario": record.scenario,
        "job": record.job_id,
        "attempt": record.attempt,
        "outcome": record.outcome,
        "duration_s": record.seconds,
        "audio_s": record.audio_seconds,
        **{f"{stage}_s": seconds for stage, seconds in record.stages.items()},
        "reused_transcript_of": record.reused_transcript_of,
        "error_type": record.error_type,
        "error": None if record.error is None else record.error[:300],
        "worker": worker,
    }
    level = logging.WARNING if record.outcome in ("retry", "failed") else logging.INFO
    logger.log(level, logfmt(fields), extra={"analysis": fields})
