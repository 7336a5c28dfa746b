"""Benchmark (issue 7): throughput in audio-hours per hour, sequential faster-whisper vs
``callintel batch``, on the same audio, on the same machine, in one run.

The corpus
----------
Every recording of the test data (``--data``, by default ``../shared/data/audio`` as
``tests/conftest.py`` finds it: English and Mandarin clips, a 30 s two-speaker meeting, the
245 s telephone call's agent and caller tracks) and the project's ``demo/auto_repairs_call.flac``
(the same call as stereo, one party per channel), shortest first. They are written into a
temporary folder, alternately FLAC and WAV (16-bit, each at its own sample rate and channel
count), round after round, until the corpus holds ``--minutes`` of audio; the last file is cut
to end there. Round 0 is the recordings themselves; round r > 0 starts each with 3 r samples of
silence and scales it by 1, 0.95, 0.9 or 0.85, so that every file is distinct content (distinct
SHA-256) and callintel batch's duplicate detection reuses nothing.

The variants (models loaded and warmed up on a clip outside the corpus before timing)
---------------------------------------------------------------------------------------
- sequential faster-whisper: ``faster_whisper.WhisperModel`` with the model files callintel
  uses (resolved through ``ModelRegistry``, same device and compute type, int8 on CPU and
  float16 on CUDA), ``model.transcribe(path, beam_size=5, word_timestamps=True)`` file after
  file, its segments consumed; the same again with ``vad_filter=True`` (unless
  ``--no-vad-baseline``);
- callintel batch, end to end: ``run_batch(read_source(folder, options),
  pipeline_stage(pipeline), Ledger(...), workers=W, group=G)`` with ``default_options(language=None,
  batch_size=B, beam_size=5, understand=True)``: decoding and VAD in CPU threads, batched
  Whisper, speakers, roles, the classifiers, the JSONL ledger (the classifiers only when the
  understanding models are trained: the table says so);
- callintel batch with ``understand=False`` (everything but the classifiers), for a like for
  like comparison of the transcription.

Wall clock (``time.perf_counter``) of the work only; audio-hours per hour = audio duration /
wall time (= x real time). Targets: on CPU, end to end at least 1.5x sequential faster-whisper
with the same model; on one H100 with whisper-base, end to end at least 300x real time.

Usage (from the repository root)::

    python bench/bench_batch.py [--minutes 10] [--batch-size 8 [16 ...]] [--device auto]
        [--compute-type auto] [--model NAME] [--workers 0] [--group 8] [--data DIR]
        [--json-out OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from machine_load import machine_busy_seconds, own_cpu_seconds

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "audio"  # where tests/conftest.py finds it
DEMO = REPO_ROOT / "demo" / "auto_repairs_call.flac"
AUDIO_SUFFIXES = (".wav", ".flac")
WARMUP_SECONDS = 20.0

CPU_TARGET_RATIO = 1.5  # end to end vs sequential faster-whisper, same model, on CPU
GPU_TARGET_RT = 300.0  # end to end x real time on one H100 with whisper-base

# Run from a plain checkout (no editable install) too: make the repository's package importable.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(1, str(REPO_ROOT))


# --------------------------------------------------------------------------- the corpus


@dataclass(frozen=True)
class CorpusFile:
    path: Path
    source: str
    round: int
    seconds: float
    sample_rate: int
    channels: int


@dataclass
class Corpus:
    folder: Path
    files: list[CorpusFile]
    sources: dict[str, float]  # source name -> its duration (s)

    @property
    def seconds(self) -> float:
        return sum(f.seconds for f in self.files)

    def describe(self) -> str:
        rounds = max(f.round for f in self.files) + 1
        by_rate = Counter(
            f"{f.sample_rate / 1000:g} kHz {'stereo' if f.channels == 2 else 'mono'}" for f in self.files
        )
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(by_rate.items()))
        return (
            f"{len(self.files)} files, {self.seconds / 60:.1f} min ({self.seconds / 3600:.3f} h) of audio "
            f"from {len(self.sources)} recordings ({', '.join(self.sources)}), {rounds} round(s); "
            f"{kinds}; alternately FLAC and WAV, 16-bit; round r > 0: 3r samples of leading silence "
            f"and gain 1/0.95/0.9/0.85, so every file is distinct content; the last file is cut at "
            f"the corpus length"
        )


def find_sources(data: Path) -> list[Path]:
    """The test recordings and the demo call, shortest first (so a short corpus still has the
    Mandarin and English clips)."""
    if not data.is_dir():
        sys.exit(
            f"bench_batch: test recordings not found at {data}.\n"
            "Pass --data DIR: a copy of shared/data/audio (on a machine where ../shared does not "
            "exist, copy it into a git-ignored folder of the repository and point --data there)."
        )
    import soundfile

    paths = sorted(p for p in data.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
    if DEMO.is_file():
        paths.append(DEMO)
    if not paths:
        sys.exit(f"bench_batch: no .wav or .flac recordings in {data}")
    return sorted(paths, key=lambda p: (soundfile.info(str(p)).duration, p.name))


def build_corpus(sources: list[Path], folder: Path, minutes: float) -> Corpus:
    """Write distinct copies of ``sources`` into ``folder`` until they hold ``minutes`` of audio."""
    import soundfile

    from callintel.pipeline import content_sha256

    folder.mkdir(parents=True)
    loaded = {p: soundfile.read(str(p), dtype="float32", always_2d=True) for p in sources}
    target = minutes * 60.0
    files: list[CorpusFile] = []
    total, index, round_ = 0.0, 0, 0
    while total < target - 0.5:
        for source in sources:
            samples, rate = loaded[source]
            if round_ > 0:
                silence = np.zeros((3 * round_, samples.shape[1]), dtype=np.float32)
                samples = np.concatenate([silence, samples * (1.0 - 0.05 * (round_ % 4))])
            frames = min(len(samples), int(round((target - total) * rate)))
            if frames < rate:  # less than a second left: stop here
                total = target
                break
            suffix = ".flac" if index % 2 == 0 else ".wav"
            path = folder / f"{index:05d}_{source.stem}_r{round_}{suffix}"
            pcm = (np.clip(samples[:frames], -1.0, 1.0) * 32767).round().astype(np.int16)
            soundfile.write(str(path), pcm, rate, subtype="PCM_16")
            files.append(CorpusFile(path, source.name, round_, frames / rate, rate, samples.shape[1]))
            total += frames / rate
            index += 1
            if total >= target - 0.5:
                break
        round_ += 1
    digests = {content_sha256(f.path) for f in files}
    if len(digests) != len(files):
        sys.exit("bench_batch: the corpus has duplicate files; callintel batch would reuse results")
    durations = {p.name: len(loaded[p][0]) / loaded[p][1] for p in sources}
    return Corpus(folder, files, durations)


def write_warmup(sources: list[Path], path: Path) -> None:
    """A short clip outside the corpus (two speakers when the meeting sample is there), to warm
    the models up (first-call allocations, the lazily loaded VAD and speaker models)."""
    import soundfile

    preferred = [p for p in sources if p.stem == "pyannote_sample"]
    source = (preferred or sources)[0]
    samples, rate = soundfile.read(str(source), dtype="float32", always_2d=True)
    soundfile.write(str(path), samples[: int(WARMUP_SECONDS * rate)], rate, subtype="PCM_16")


# --------------------------------------------------------------------------- measuring


@dataclass
class Variant:
    key: str
    description: str
    audio_s: float = 0.0
    load_s: float = 0.0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    other_cpu_pct: float = 0.0
    files: int = 0
    failed: int = 0
    reused: int = 0
    words: int = 0
    languages: dict[str, int] = field(default_factory=dict)
    stages_s: dict[str, float] = field(default_factory=dict)
    batch_size: int | None = None
    end_to_end: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def x_real_time(self) -> float:
        """Audio-hours per hour (= audio seconds per second)."""
        return self.audio_s / self.wall_s if self.wall_s > 0 else 0.0


class Timer:
    """Wall and CPU time of the timed part, and the share of the machine's CPUs other processes
    used meanwhile (contention inflates wall times)."""

    def __enter__(self) -> Timer:
        self._busy, self._cpu, self._clock = machine_busy_seconds(), own_cpu_seconds(), time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall = time.perf_counter() - self._clock
        self.cpu = own_cpu_seconds() - self._cpu
        other = (machine_busy_seconds() - self._busy) - self.cpu
        self.other_pct = max(0.0, 100 * other / (self.wall * (os.cpu_count() or 1))) if self.wall else 0.0


class Progress:
    """A line at most every ``every`` seconds: files and audio done, speed so far."""

    def __init__(self, total_files: int, every: float = 20.0) -> None:
        self.total_files, self.every = total_files, every
        self.files, self.audio = 0, 0.0
        self.started = self.last = time.perf_counter()

    def add(self, seconds: float) -> None:
        self.files += 1
        self.audio += seconds
        now = time.perf_counter()
        if now - self.last >= self.every and self.files < self.total_files:
            self.last = now
            print(
                f"    {self.files}/{self.total_files} files, {self.audio / 60:.1f} min of audio, "
                f"{self.audio / (now - self.started):.1f}x real time so far",
                flush=True,
            )


def run_faster_whisper(
    key: str,
    corpus: Corpus,
    model_path: Path,
    device: str,
    compute_type: str,
    cpu_threads: int,
    vad: bool,
    warmup: Path,
) -> Variant:
    """Plain faster-whisper, one file after the other."""
    from faster_whisper import WhisperModel

    label = "faster-whisper sequential" + (", vad_filter=True" if vad else "")
    variant = Variant(key, label)
    clock = time.perf_counter()
    model = WhisperModel(str(model_path), device=device, compute_type=compute_type, cpu_threads=cpu_threads)
    variant.load_s = time.perf_counter() - clock

    def transcribe(path: Path) -> tuple[str, int]:
        segments, info = model.transcribe(str(path), beam_size=5, word_timestamps=True, vad_filter=vad)
        return info.language, sum(len(s.words or ()) for s in segments)  # the generator does the work

    transcribe(warmup)
    languages: Counter[str] = Counter()
    progress = Progress(len(corpus.files))
    with Timer() as timer:
        for file in corpus.files:
            language, words = transcribe(file.path)
            languages[language] += 1
            variant.words += words
            progress.add(file.seconds)
    variant.wall_s, variant.cpu_s, variant.other_cpu_pct = timer.wall, timer.cpu, timer.other_pct
    variant.audio_s, variant.files, variant.languages = corpus.seconds, len(corpus.files), dict(languages)
    return variant


def run_callintel(
    key: str,
    corpus: Corpus,
    pipeline: Any,
    batch_size: int,
    understand: bool,
    workers: int,
    group: int,
    out_dir: Path,
    warmup: Path,
) -> Variant:
    """``callintel batch`` on the corpus folder, as the CLI runs it, into a fresh ledger."""
    from callintel.batch.local import (
        Ledger,
        default_options,
        fingerprint,
        pipeline_stage,
        read_source,
        run_batch,
    )

    has_understanding = pipeline.understander is not None
    if understand:
        what = "end to end" if has_understanding else "end to end, NO classifiers (not trained)"
    else:
        what = "understand=False"
    variant = Variant(key, f"callintel batch b{batch_size}, {what}", batch_size=batch_size)
    variant.end_to_end = understand
    options = default_options(language=None, batch_size=batch_size, beam_size=5, understand=understand)
    items = read_source(corpus.folder, options)
    versions = {"asr": pipeline.transcriber.info.version, "asr_name": pipeline.transcriber.info.name}
    if has_understanding and understand:
        versions["understanding"] = pipeline.understander.models.directory_version
    elif understand:
        variant.notes.append("understanding models not trained (`callintel train`): classifiers not run")
    pipeline.analyze(warmup, options)
    ledger_path = out_dir / f"{key}.jsonl"
    ledger = Ledger(ledger_path, fingerprint(versions, options))
    progress = Progress(len(items))
    try:
        with Timer() as timer:
            summary = run_batch(
                items,
                pipeline_stage(pipeline),
                ledger,
                workers=workers,
                group=group,
                on_outcome=lambda outcome: progress.add(outcome.seconds),
            )
    finally:
        ledger.close()
    variant.wall_s, variant.cpu_s, variant.other_cpu_pct = timer.wall, timer.cpu, timer.other_pct
    variant.audio_s, variant.files = summary.audio_seconds, summary.done
    variant.failed, variant.reused = len(summary.failures), summary.reused + summary.skipped
    for path, reason in summary.failures[:5]:
        variant.notes.append(f"failed: {Path(path).name}: {reason}")
    _read_ledger(variant, ledger_path)
    return variant


def _read_ledger(variant: Variant, path: Path) -> None:
    """Words, languages and the summed per-call stage timings of the results (outside the timing)."""
    languages: Counter[str] = Counter()
    stages: dict[str, float] = {}
    with path.open(encoding="utf-8") as f:
        for line in f:
            result = json.loads(line).get("result") or {}
            if not result:
                continue
            languages[result.get("language") or "none (no speech found)"] += 1
            variant.words += sum(len(turn.get("words") or ()) for turn in result.get("turns") or ())
            for stage, seconds in (result.get("timings") or {}).items():
                stages[stage] = stages.get(stage, 0.0) + float(seconds)
            if any("not trained" in w for w in result.get("warnings") or ()) and not any(
                "not trained" in n for n in variant.notes
            ):
                variant.notes.append("results say: understanding models are not trained")
    variant.languages = dict(languages)
    variant.stages_s = {k: round(v, 2) for k, v in stages.items()}


# --------------------------------------------------------------------------- the machine


def describe_machine(device: str, compute_type: str, cpu_threads: int) -> dict[str, Any]:
    import ctranslate2
    import faster_whisper

    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    machine: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_model": cpu_model or platform.processor(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "device": device,
        "compute_type": compute_type,
        "cpu_threads": cpu_threads or "0 (CTranslate2's default, as callintel batch uses)",
        "faster_whisper": faster_whisper.__version__,
        "ctranslate2": ctranslate2.__version__,
        "gpu": None,
    }
    try:
        import torch

        machine["torch"] = f"{torch.__version__} (CUDA {'yes' if torch.cuda.is_available() else 'no'})"
    except ImportError:
        machine["torch"] = None
    if device == "cuda" and shutil.which("nvidia-smi"):
        query = ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"]
        try:
            machine["gpu"] = subprocess.run(query, capture_output=True, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return machine


# --------------------------------------------------------------------------- the report


def print_table(title: str, headers: list[str], rows: list[list[str]]) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(title)
        widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
        print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
        for row in rows:
            print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
        return
    table = Table(title=title)
    for i, h in enumerate(headers):
        table.add_column(h, justify="left" if i == 0 else "right", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    Console(width=max(200, Console().width)).print(table)


def report(
    variants: list[Variant], machine: dict[str, Any], name: str, model: str, corpus: Corpus
) -> dict[str, Any]:
    base = variants[0]
    vad = next((v for v in variants if v.key == "fw-vad"), None)
    headers = ["variant", "files", "audio h", "load s", "wall s", "audio h / h (x RT)", "vs seq. fw"]
    if vad is not None:
        headers.append("vs seq. fw+VAD")
    headers += ["cpu s", "words", "other load"]
    rows = []
    for v in variants:
        row = [
            v.description,
            f"{v.files}" + (f" ({v.failed} failed)" if v.failed else ""),
            f"{v.audio_s / 3600:.3f}",
            f"{v.load_s:.1f}",
            f"{v.wall_s:.1f}",
            f"{v.x_real_time:.1f}",
            f"{base.wall_s / v.wall_s:.2f}x",
        ]
        if vad is not None:
            row.append(f"{vad.wall_s / v.wall_s:.2f}x")
        row += [f"{v.cpu_s:.0f}", f"{v.words}", f"{v.other_cpu_pct:.0f}%"]
        rows.append(row)
    gpu = f", {machine['gpu']}" if machine.get("gpu") else ""
    print_table(
        f"Throughput: sequential faster-whisper vs callintel batch ({name}, {machine['device']} "
        f"{machine['compute_type']}, {machine['cpus_usable']} CPUs{gpu})",
        headers,
        rows,
    )
    load_note = "load s: the callintel rows share one loaded pipeline (counted once), not in wall s"
    print(f"{load_note}; 'other load': CPU share of other processes during the timed part")
    for v in variants:
        if v.stages_s:
            stages = ", ".join(f"{k} {s:.1f}" for k, s in v.stages_s.items())
            print(f"  {v.description}: stage seconds summed over calls: {stages}")
        languages = " ".join(f"{k} {n}" for k, n in sorted(v.languages.items()))
        if languages:
            print(f"  {v.description}: languages: {languages}")
        for note in v.notes:
            print(f"  {v.description}: {note}")
    if any(v.other_cpu_pct > 10 for v in variants):
        print(
            "WARNING: other processes used the CPUs during the run ('other load'): wall times are inflated."
        )

    on_gpu = machine["device"] == "cuda"
    targets: dict[str, Any] = {}
    for v in variants:
        if not v.end_to_end:
            continue
        ratio = base.wall_s / v.wall_s
        targets[v.key] = {
            "x_real_time": v.x_real_time,
            "ratio_vs_sequential_faster_whisper": ratio,
            "cpu_target_met": ratio >= CPU_TARGET_RATIO,
            "gpu_target_met": v.x_real_time >= GPU_TARGET_RT,
        }
        if on_gpu:
            caveat = "" if name == "whisper-base" else f" (the target is for whisper-base; this is {name})"
            met = "MET" if v.x_real_time >= GPU_TARGET_RT else "NOT MET"
            print(
                f"GPU target (end to end >= {GPU_TARGET_RT:.0f}x real time on one H100): {v.description}: "
                f"{v.x_real_time:.1f}x -> {met}{caveat}; {ratio:.2f}x sequential faster-whisper"
            )
        else:
            met = "MET" if ratio >= CPU_TARGET_RATIO else "NOT MET"
            print(
                f"CPU target (end to end >= {CPU_TARGET_RATIO}x sequential faster-whisper, same model): "
                f"{v.description}: {ratio:.2f}x -> {met}"
            )
    return {
        "machine": machine,
        "model": model,
        "corpus": {
            "description": corpus.describe(),
            "audio_s": corpus.seconds,
            "files": len(corpus.files),
            "sources_s": corpus.sources,
        },
        "variants": [{**asdict(v), "x_real_time": v.x_real_time} for v in variants],
        "targets": {
            "cpu_min_ratio_vs_sequential_faster_whisper": CPU_TARGET_RATIO,
            "gpu_min_x_real_time_h100_whisper_base": GPU_TARGET_RT,
            "applies": "gpu" if on_gpu else "cpu",
            "end_to_end": targets,
        },
    }


# --------------------------------------------------------------------------- main


def run_callintel_variants(
    args: argparse.Namespace,
    settings: Any,
    model_name: str,
    device: str,
    compute_type: str,
    corpus: Corpus,
    work: Path,
    machine: dict[str, Any],
) -> list[Variant]:
    """Load the callintel pipeline once, then time callintel batch end to end and without the
    classifiers at each batch size."""
    from callintel.pipeline import Pipeline

    print("  loading the callintel pipeline ...", flush=True)
    clock = time.perf_counter()
    # On CUDA, "auto" puts Whisper on the GPU and the torch models (speakers, classifiers) there too
    # where torch has CUDA; a CPU-only torch (the project's .venv) keeps them on the CPU.
    pipeline = Pipeline.from_settings(
        settings,
        model_name,
        device="cpu" if device == "cpu" else "auto",
        compute_type=compute_type,
        cpu_threads=args.cpu_threads,
        understanding_dir=args.understanding_dir,
    )
    pipeline.diarizer  # noqa: B018 - loads the speaker model now, outside the timed part
    pipeline.understander  # noqa: B018 - the same for the understanding models (they load lazily too)
    load = time.perf_counter() - clock
    machine["callintel_models"] = [pipeline.transcriber.info.version, pipeline.diarizer.info.version]
    if pipeline.understander is not None:
        machine["callintel_models"].append(f"understanding on {pipeline.understander.device}")
    variants = []
    for batch_size in args.batch_size:
        for understand in (True, False):
            key = f"callintel-b{batch_size}-{'e2e' if understand else 'asr'}"
            print(f"  running {key} ...", flush=True)
            variant = run_callintel(
                key,
                corpus,
                pipeline,
                batch_size,
                understand,
                args.workers,
                args.group,
                work,
                work / "warmup.wav",
            )
            variant.load_s = load
            variants.append(variant)
    return variants


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--minutes",
        type=float,
        default=10.0,
        help="audio in the corpus (default 10: a few minutes per variant on 2 CPU cores; "
        "on a GPU pass much more, e.g. 120)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        nargs="+",
        default=[8],
        help="callintel's Whisper batch size(s); one pair of callintel rows each (default 8)",
    )
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--compute-type", default="auto", help="auto: int8 on CPU, float16 on CUDA")
    parser.add_argument("--model", default=None, help="ASR model (default: the registry's default)")
    parser.add_argument(
        "--workers", type=int, default=0, help="callintel batch's decode threads (0: all cores)"
    )
    parser.add_argument("--group", type=int, default=8, help="callintel batch's calls per classifier batch")
    parser.add_argument(
        "--cpu-threads", type=int, default=0, help="CTranslate2 threads, both sides (0: default)"
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=DATA_DIR,
        help=f"folder of the test recordings (default {DATA_DIR}, as tests/conftest.py)",
    )
    parser.add_argument(
        "--understanding-dir",
        type=Path,
        default=None,
        help="trained understanding models (default: those in the callintel cache)",
    )
    parser.add_argument("--no-vad-baseline", action="store_true", help="skip the vad_filter=True baseline")
    parser.add_argument(
        "--workdir", type=Path, default=None, help="where the corpus is written (default: a temp dir)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the corpus and the ledgers (JSONL)")
    parser.add_argument(
        "--json-out",
        "--json",
        dest="json_out",
        type=Path,
        metavar="OUT",
        help="also write the numbers and the machine to this JSON file",
    )
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.minutes <= 0 or any(b < 1 for b in args.batch_size):
        parser.error("--minutes must be positive and --batch-size at least 1")

    import ctranslate2

    from callintel.registry import ModelRegistry
    from callintel.settings import Settings
    from callintel.transcribe.whisper import pick_compute_type, pick_device

    settings = Settings.from_env()
    registry = ModelRegistry(settings.models_dir, settings.cache_dir)
    model_name = args.model or registry.default_name("asr")
    resolved = registry.resolve(model_name, "asr")
    device = pick_device(args.device, ctranslate2.get_cuda_device_count())
    compute_type = pick_compute_type(args.compute_type, device)
    machine = describe_machine(device, compute_type, args.cpu_threads)
    model = f"{resolved.name} {resolved.version}"

    sources = find_sources(args.data)
    work = Path(tempfile.mkdtemp(prefix="callintel-bench-batch-", dir=args.workdir))
    try:
        clock = time.perf_counter()
        corpus = build_corpus(sources, work / "corpus", args.minutes)
        write_warmup(sources, work / "warmup.wav")
        print(f"corpus ({time.perf_counter() - clock:.1f} s to write): {corpus.describe()}", flush=True)
        print(
            f"machine: {machine['cpu_model']}, {machine['cpus_usable']} CPUs, {device} {compute_type}"
            + (f", {machine['gpu']}" if machine["gpu"] else "")
            + f"; model {model} ({resolved.path})",
            flush=True,
        )
        variants: list[Variant] = []
        for key, vad in [("fw", False)] + ([] if args.no_vad_baseline else [("fw-vad", True)]):
            print(f"  running {key} (sequential faster-whisper{', VAD' if vad else ''}) ...", flush=True)
            variants.append(
                run_faster_whisper(
                    key,
                    corpus,
                    resolved.path,
                    device,
                    compute_type,
                    args.cpu_threads,
                    vad,
                    work / "warmup.wav",
                )
            )
        variants += run_callintel_variants(
            args, settings, model_name, device, compute_type, corpus, work, machine
        )
        summary = report(variants, machine, resolved.name, model, corpus)
    finally:
        if args.keep:
            print(f"kept the corpus and the ledgers (JSONL) in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if args.json_out:
        args.json_out.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", "utf-8")
        print(f"wrote {args.json_out}")
    if any(v.failed or v.reused for v in variants):
        sys.exit(
            "bench_batch: some recordings failed or were reused (see above): the numbers are not comparable"
        )


if __name__ == "__main__":
    main()
