"""Batch analysis: a folder or a manifest of recordings, resumable, one bad file never stopping it.

The output JSONL is also the batch's ledger: one record per recording, written and flushed as
each finishes. A rerun reads it first and does no work twice:
- a recording whose content (SHA-256) was analysed with the same models and options (the
  ``fingerprint``) is not analysed again; the same content under another path (a copy) gets
  the stored result, marked ``reused``;
- a failed recording is tried again;
- a last line cut short by a kill is dropped.

Decoding and hashing run in CPU worker threads ahead of the models, so the models never wait
for a file to be read; the models run on the calling thread.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from callintel.domain import SCENARIOS
from callintel.errors import AudioError, CallintelError
from callintel.options import AnalysisOptions, TranscriptionOptions
from callintel.pipeline import Pipeline, Prepared, content_sha256, prepare
from callintel.result import AnalysisResult

AUDIO_SUFFIXES = frozenset(
    {".wav", ".flac", ".mp3", ".m4a", ".aac", ".ogg", ".opus", ".amr", ".webm", ".caf", ".aiff", ".aif"}
)
# Manifest columns that set analysis options; any other column is metadata carried to the output.
OPTION_FIELDS = ("scenario", "channel_layout", "language", "recorded_at")
PATH_FIELDS = ("path", "audio")


class ManifestError(CallintelError):
    """A manifest that cannot be read: names the file, the line and the problem."""


@dataclass(frozen=True)
class BatchItem:
    path: Path
    options: AnalysisOptions
    metadata: Mapping[str, str] = field(default_factory=dict)


Status = Literal["done", "reused", "skipped", "failed"]


@dataclass(frozen=True)
class Outcome:
    item: BatchItem
    status: Status
    seconds: float = 0.0  # audio duration, when known
    error: str | None = None
    record: Mapping[str, Any] | None = None


def read_source(source: Path, defaults: AnalysisOptions = AnalysisOptions()) -> list[BatchItem]:
    """The recordings of a folder (every audio file under it, by path) or of a manifest (CSV
    with a header, or JSONL: a ``path`` per row, relative to the manifest, plus options and
    metadata)."""
    if source.is_dir():
        return [
            BatchItem(path, defaults)
            for path in sorted(
                p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES
            )
        ]
    if not source.is_file():
        raise ManifestError(f"{source}: no such folder or manifest")
    suffix = source.suffix.lower()
    if suffix == ".csv":
        rows = _csv_rows(source)
    elif suffix in (".jsonl", ".ndjson"):
        rows = _jsonl_rows(source)
    else:
        raise ManifestError(f"{source}: a manifest must be .csv or .jsonl, or give a folder")
    return [_item(source, line, row, defaults) for line, row in rows]


def _csv_rows(source: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with source.open(newline="", encoding="utf-8-sig") as f:
        for number, row in enumerate(csv.DictReader(f), start=2):
            yield number, {k.strip(): v for k, v in row.items() if k is not None and v not in (None, "")}


def _jsonl_rows(source: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with source.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise ManifestError(f"{source}:{number}: not JSON ({e.msg})") from e
            if not isinstance(row, dict):
                raise ManifestError(f"{source}:{number}: each line must be a JSON object")
            yield number, row


def _item(manifest: Path, line: int, row: Mapping[str, Any], defaults: AnalysisOptions) -> BatchItem:
    where = f"{manifest}:{line}"
    given = next((row[k] for k in PATH_FIELDS if row.get(k)), None)
    if not isinstance(given, str):
        raise ManifestError(f"{where}: no audio path (a 'path' column)")
    path = Path(given) if Path(given).is_absolute() else manifest.parent / given
    options = defaults
    try:
        if row.get("scenario"):
            options = replace(options, scenario=row["scenario"])
        if row.get("channel_layout"):
            options = replace(options, speakers=replace(options.speakers, channels=row["channel_layout"]))
        if row.get("language"):
            options = replace(options, transcription=replace(options.transcription, language=row["language"]))
        if row.get("recorded_at"):
            options = replace(options, call_date=str(row["recorded_at"])[:10])
    except ValueError as e:
        raise ManifestError(f"{where}: {e}".split(" (all:")[0]) from e
    if options.scenario is not None and options.scenario not in SCENARIOS:
        raise ManifestError(f"{where}: unknown scenario {options.scenario!r}")
    metadata = {k: str(v) for k, v in row.items() if k not in PATH_FIELDS and k not in OPTION_FIELDS}
    return BatchItem(path, options, metadata | {k: str(row[k]) for k in OPTION_FIELDS if row.get(k)})


def fingerprint(models: Mapping[str, Any], options: AnalysisOptions) -> str:
    """What a result depends on besides the audio: model versions and the analysis options
    (less the per-call ones a manifest sets). Equal fingerprints and content: the same result."""
    general = replace(
        options,
        scenario=None,
        call_date=None,
        speakers=replace(options.speakers, channels="auto"),
        transcription=replace(options.transcription, language=None),
    )
    text = json.dumps({"models": models, "options": asdict(general)}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Ledger:
    """The output JSONL read back: which contents are done under ``fingerprint``."""

    def __init__(self, path: Path, fingerprint: str) -> None:
        self.path = path
        self.fingerprint = fingerprint
        self.done_paths: set[tuple[str, str]] = set()  # (path, sha256)
        self._offsets: dict[str, int] = {}  # sha256 -> offset of a done record
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            self._read()
        self._file = path.open("a", encoding="utf-8")

    def _read(self) -> None:
        good = 0
        with self.path.open("rb") as f:
            for raw in f:
                if not raw.endswith(b"\n"):
                    break  # a record cut short by a kill
                try:
                    record = json.loads(raw)
                except json.JSONDecodeError:
                    break
                offset, good = good, good + len(raw)
                if (
                    record.get("status") in ("done", "reused")
                    and record.get("fingerprint") == self.fingerprint
                ):
                    self.done_paths.add((record["path"], record["sha256"]))
                    self._offsets.setdefault(record["sha256"], offset)
        if good < self.path.stat().st_size:
            with self.path.open("r+b") as f:
                f.truncate(good)

    def is_done(self, path: Path, sha256: str) -> bool:
        return (str(path), sha256) in self.done_paths

    def result_of(self, sha256: str) -> Mapping[str, Any] | None:
        """The stored result of this content under the fingerprint, if there is one."""
        offset = self._offsets.get(sha256)
        if offset is None:
            return None
        with self.path.open("rb") as f:
            f.seek(offset)
            result: Mapping[str, Any] | None = json.loads(f.readline()).get("result")
            return result

    def write(self, record: Mapping[str, Any]) -> None:
        offset = self._file.seek(0, os.SEEK_END)
        self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        if record["status"] in ("done", "reused"):
            self.done_paths.add((record["path"], record["sha256"]))
            self._offsets.setdefault(record["sha256"], offset)

    def close(self) -> None:
        self._file.close()


@dataclass
class Summary:
    total: int = 0
    done: int = 0
    reused: int = 0
    skipped: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    grades: Counter[str] = field(default_factory=Counter)
    scores: list[float] = field(default_factory=list)
    audio_seconds: float = 0.0
    wall_seconds: float = 0.0

    @property
    def mean_score(self) -> float | None:
        return round(sum(self.scores) / len(self.scores), 1) if self.scores else None

    @property
    def real_time_factor(self) -> float | None:
        """Audio seconds analysed per second of wall time."""
        return self.audio_seconds / self.wall_seconds if self.wall_seconds > 0 else None

    def add(self, outcome: Outcome) -> None:
        if outcome.status == "failed":
            self.failures.append((str(outcome.item.path), outcome.error or "failed"))
            return
        if outcome.status == "skipped":
            self.skipped += 1
            return
        self.done += outcome.status == "done"
        self.reused += outcome.status == "reused"
        self.audio_seconds += outcome.seconds if outcome.status == "done" else 0.0
        understanding = ((outcome.record or {}).get("result") or {}).get("understanding") or {}
        if (understanding.get("intent") or {}).get("grade"):
            self.grades[understanding["intent"]["grade"]] += 1
        score = (understanding.get("scorecard") or {}).get("score")
        if score is not None:
            self.scores.append(float(score))


AnalyzeMany = Callable[[Sequence[tuple[BatchItem, Prepared]]], Sequence[AnalysisResult | Exception]]
"""The models' stage: decoded recordings in, a result (or the exception of that recording) out for
each, in order. It may raise for the whole group (e.g. out of memory): each recording then fails."""

MODEL_ERRORS = (AudioError, ValueError, RuntimeError, CallintelError)


@dataclass(frozen=True)
class Skip:
    """A recording the ledger already has as done (same path, content and fingerprint)."""

    sha256: str


Loaded = Prepared | Skip | Exception


def load(item: BatchItem, is_done: Callable[[Path, str], bool]) -> Loaded:
    """The CPU stage: hash, then (unless done) decode and find the speech. An unreadable or
    unusable recording gives its exception."""
    try:
        digest = content_sha256(item.path)
        if is_done(item.path, digest):
            return Skip(digest)
        return prepare(item.path, item.options)
    except (OSError, CallintelError) as e:
        return e


def record(
    item: BatchItem,
    fingerprint: str,
    loaded: Prepared | Exception,
    result: AnalysisResult | Mapping[str, Any] | Exception,
) -> dict[str, Any]:
    """The ledger record of a recording analysed (``done``) or not (``failed``, with the reason);
    ``result`` is the analysis, or its JSON form as a ledger holds it (a copy of earlier content)."""
    base: dict[str, Any] = {
        "path": str(item.path),
        "metadata": dict(item.metadata),
        "fingerprint": fingerprint,
    }
    if isinstance(loaded, Exception):
        return {**base, "sha256": None, **_failure(loaded)}
    base["sha256"] = loaded.sha256
    if isinstance(result, Exception):
        return {**base, **_failure(result)}
    data = result.to_dict() if isinstance(result, AnalysisResult) else dict(result)
    return {**base, "status": "done", "duration": loaded.audio.duration, "result": data}


def _failure(error: Exception) -> dict[str, Any]:
    """A failed record's fields: the reason, and whether another try could succeed (an unusable
    recording stays unusable)."""
    return {
        "status": "failed",
        "error": f"{type(error).__name__}: {error}",
        "retryable": not isinstance(error, (AudioError, OSError)),
    }


def outcome_of(item: BatchItem, written: Mapping[str, Any]) -> Outcome:
    if written["status"] == "failed":
        return Outcome(item, "failed", error=written.get("error"))
    return Outcome(item, written["status"], float(written.get("duration") or 0.0), record=written)


def run_batch(
    items: Sequence[BatchItem],
    analyze: AnalyzeMany,
    ledger: Ledger,
    *,
    workers: int = 0,
    prefetch: int = 0,
    group: int = 1,
    on_outcome: Callable[[Outcome], None] = lambda _: None,
) -> Summary:
    """Analyse ``items`` in order, ``group`` recordings per call of ``analyze`` (the classifiers
    batch across them), writing each outcome to ``ledger``; the summary at the end.

    ``workers`` CPU threads (default: the machine's cores) hash, decode and run VAD up to
    ``prefetch`` recordings (default: two groups, at least 2 per worker) ahead of the models. A
    recording that fails (unreadable, not audio, an error of the models) is recorded as failed
    with its reason; the batch goes on. Content already done under the fingerprint, or seen
    earlier in the same group, is reused rather than analysed again.
    """
    workers = workers or os.cpu_count() or 1
    group = max(1, group)
    prefetch = max(group, prefetch or max(2 * group, 2 * workers))
    summary = Summary(total=len(items))
    started = time.perf_counter()

    def settle(batch: list[tuple[BatchItem, Loaded]]) -> None:
        for outcome in _settle(batch, analyze, ledger):
            summary.add(outcome)
            summary.wall_seconds = time.perf_counter() - started
            on_outcome(outcome)

    with ThreadPoolExecutor(workers, thread_name_prefix="batch-decode") as pool:
        pending: dict[int, Future[Loaded]] = {}
        batch: list[tuple[BatchItem, Loaded]] = []
        for index, item in enumerate(items):
            for ahead in range(index, min(len(items), index + prefetch)):
                if ahead not in pending:
                    pending[ahead] = pool.submit(load, items[ahead], ledger.is_done)
            batch.append((item, pending.pop(index).result()))
            if len(batch) == group:
                settle(batch)
                batch = []
        if batch:
            settle(batch)
    return summary


def _settle(batch: list[tuple[BatchItem, Loaded]], analyze: AnalyzeMany, ledger: Ledger) -> list[Outcome]:
    """Outcomes of a group, in order: the models run once, on the recordings that need them."""
    work: list[tuple[BatchItem, Prepared]] = []
    firsts: set[str] = set()
    for item, loaded in batch:
        if not isinstance(loaded, Prepared) or loaded.sha256 in firsts:
            continue
        if ledger.result_of(loaded.sha256) is None:
            firsts.add(loaded.sha256)
            work.append((item, loaded))
    results: dict[int, AnalysisResult | Exception] = {}
    if work:
        try:
            answers: Sequence[AnalysisResult | Exception] = analyze(work)
        except MODEL_ERRORS as e:
            answers = [e] * len(work)
        results = {id(item): answer for (item, _), answer in zip(work, answers, strict=True)}
    outcomes = []
    for item, loaded in batch:
        if isinstance(loaded, Skip):
            outcomes.append(Outcome(item, "skipped"))
            continue
        if isinstance(loaded, Exception):
            written = record(item, ledger.fingerprint, loaded, loaded)
        elif id(item) in results:
            written = record(item, ledger.fingerprint, loaded, results[id(item)])
        else:  # a copy of content done before, or earlier in this group
            written = record(item, ledger.fingerprint, loaded, ledger.result_of(loaded.sha256) or {})
            written["status"] = "reused"
            if not written.get("result"):
                failed = RuntimeError("the same content failed earlier in this batch")
                written = record(item, ledger.fingerprint, loaded, failed)
        ledger.write(written)
        outcomes.append(outcome_of(item, written))
    return outcomes


def pipeline_stage(pipeline: Pipeline) -> AnalyzeMany:
    """The models' stage on a loaded pipeline."""

    def analyze(work: Sequence[tuple[BatchItem, Prepared]]) -> list[AnalysisResult | Exception]:
        return pipeline.analyze_many([(item.path, item.options, prepared) for item, prepared in work])

    return analyze


def default_options(
    language: str | None, batch_size: int, beam_size: int, understand: bool, scenario: Any = None
) -> AnalysisOptions:
    """The batch's default analysis options (a manifest row may set its own scenario, layout,
    language and date)."""
    return AnalysisOptions(
        transcription=TranscriptionOptions(language=language, batch_size=batch_size, beam_size=beam_size),
        understand=understand,
        scenario=scenario,
    )
