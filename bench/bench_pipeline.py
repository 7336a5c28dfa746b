"""Benchmark: callintel's full pipeline against plain faster-whisper on one real call.

What is compared
----------------
The input is a 245 s two-party telephone call (``shared/data/audio/en_auto_repairs_40_*.flac``,
agent and caller recorded on separate 8 kHz tracks of one timeline). From it the script builds
two 16 kHz 16-bit WAV files: a STEREO one (agent left, caller right) and a MONO one (the two
tracks mixed, ``(a + c) / 2``). Eight runs are measured, sequential and batched (8 windows at a
time) on each file:

a/b. plain faster-whisper on the mono / stereo file (faster-whisper mixes stereo down itself);
e/f. plain faster-whisper's ``BatchedInferencePipeline`` on the same files;
c/d. ``callintel`` full pipeline, ``--batch-size 0``: mono (transcribe, diarize, roles,
     understanding) / stereo (each channel transcribed, roles, understanding);
g/h. ``callintel`` full pipeline batched (its default): mono / stereo (both channels' speech
     in the same batches).

Both sides use Whisper base, int8, 2 CPU threads, beam 5, VAD on and word timestamps on, so
the ratio to (a) or (b) is the price (or gain) of callintel over a plain transcription: what it
adds (language detection, speakers, roles, understanding; for stereo a transcript per channel)
and how it decodes. The targets printed: the sequential pipeline within 1.3x of plain, and
(issue 16) the batched pipeline within 0.6x of plain sequential on the same file.

Why model load is excluded
--------------------------
A service loads its models once and then analyses many calls; what a call costs is the work
done per call. Load time is therefore measured and reported separately (``load s``) but is not
part of ``wall s``. For the mono pipeline run the speaker model, which callintel loads lazily on
the first mono recording, is loaded before timing too. The stereo pipeline never needs it, so it
is not loaded there (loading it would only inflate that run's peak memory).

Each run happens in its own fresh subprocess, so ``peak RSS`` (the child's ``ru_maxrss``,
reported by the child itself) belongs to that run alone, model load included.

Usage (from the repository root)::

    python bench/bench_pipeline.py [--repeat N] [--runs LETTERS] [--json OUT] [--no-startup | --startup-only]

The start-up line (``--startup-only`` measures it alone) times what a user waits for: the whole
``callintel analyze`` process on the 11 s ``jfk.flac`` against a ten-line faster-whisper script.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from machine_load import children_cpu_seconds, machine_busy_seconds, own_cpu_seconds

REPO_ROOT = Path(__file__).resolve().parents[1]
AUDIO_DIR = REPO_ROOT.parent / "shared" / "data" / "audio"
AGENT_FLAC = AUDIO_DIR / "en_auto_repairs_40_agent.flac"
CALLER_FLAC = AUDIO_DIR / "en_auto_repairs_40_caller.flac"

ASR_MODEL = "whisper-base"
COMPUTE_TYPE = "int8"
CPU_THREADS = 2
SAMPLE_RATE = 16000

TARGET_RATIO = 1.3
TARGET_PEAK_MIB = 2048.0
RESULT_MARKER = "BENCH_RESULT "

# Run from a plain checkout (no editable install) too: make the repository's package importable.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(1, str(REPO_ROOT))

BATCH = 8  # windows decoded together in the batched runs (callintel's default)

# run id -> (kind, layout, batch size (0: sequential), description)
RUNS: dict[str, tuple[str, str, int, str]] = {
    "a": ("plain", "mono", 0, "faster-whisper, mono"),
    "b": ("plain", "stereo", 0, "faster-whisper, stereo"),
    "e": ("plain", "mono", BATCH, f"faster-whisper batched {BATCH}, mono"),
    "f": ("plain", "stereo", BATCH, f"faster-whisper batched {BATCH}, stereo"),
    "c": ("callintel", "mono", 0, "callintel sequential, mono"),
    "d": ("callintel", "stereo", 0, "callintel sequential, stereo"),
    "g": ("callintel", "mono", BATCH, f"callintel batched {BATCH}, mono"),
    "h": ("callintel", "stereo", BATCH, f"callintel batched {BATCH}, stereo"),
}
SAME_LAYOUT_PLAIN = {"c": "a", "d": "b", "e": "a", "f": "b", "g": "a", "h": "b"}
TARGET_BATCHED_RATIO = 0.6  # issue 16: the whole batched pipeline vs plain sequential faster-whisper


# --------------------------------------------------------------------------- child side


def _peak_rss_mib() -> float:
    # ru_maxrss is in KiB on Linux (bytes on macOS).
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _child_plain(audio_path: Path, batch: int) -> dict[str, Any]:
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    from callintel.registry import ModelRegistry
    from callintel.settings import Settings

    clock = time.perf_counter()
    settings = Settings.from_env()
    model_path = ModelRegistry(settings.models_dir, settings.cache_dir).resolve(ASR_MODEL).path
    model = WhisperModel(str(model_path), device="cpu", compute_type=COMPUTE_TYPE, cpu_threads=CPU_THREADS)
    load = time.perf_counter() - clock

    clock, cpu = time.perf_counter(), own_cpu_seconds()
    if batch:
        segments, info = BatchedInferencePipeline(model).transcribe(
            str(audio_path), beam_size=5, word_timestamps=True, batch_size=batch
        )
    else:
        segments, info = model.transcribe(
            str(audio_path),
            beam_size=5,
            vad_filter=True,
            word_timestamps=True,
            condition_on_previous_text=False,
        )
    segments = list(segments)  # the generator does the work
    wall, cpu = time.perf_counter() - clock, own_cpu_seconds() - cpu
    return {
        "load_s": load,
        "wall_s": wall,
        "cpu_s": cpu,
        "audio_s": float(info.duration),
        "language": info.language,
        "segments": len(segments),
        "words": sum(len(s.words or ()) for s in segments),
    }


def _child_callintel(audio_path: Path, layout: str, batch: int) -> dict[str, Any]:
    from callintel.options import AnalysisOptions, SpeakerOptions, TranscriptionOptions
    from callintel.pipeline import Pipeline
    from callintel.settings import Settings

    clock = time.perf_counter()
    pipeline = Pipeline.from_settings(Settings.from_env(), compute_type=COMPUTE_TYPE, cpu_threads=CPU_THREADS)
    if layout == "mono":
        pipeline.diarizer  # noqa: B018 - loads the speaker model now, outside the timed part
    pipeline.understander  # noqa: B018 - the same for the understanding models (they load lazily too)
    load = time.perf_counter() - clock

    clock, cpu = time.perf_counter(), own_cpu_seconds()
    options = AnalysisOptions(
        transcription=TranscriptionOptions(batch_size=batch),
        speakers=SpeakerOptions(channels=layout),  # type: ignore[arg-type]
    )
    result = pipeline.analyze(audio_path, options)
    wall, cpu = time.perf_counter() - clock, own_cpu_seconds() - cpu
    return {
        "load_s": load,
        "wall_s": wall,
        "cpu_s": cpu,
        "audio_s": float(result.duration),
        "language": result.language,
        "layout": result.channel_layout,
        "turns": len(result.turns),
        "words": sum(len(t.words) for t in result.turns),
        "roles": {s.speaker: s.role for s in result.roles.speakers},
        "role_confidence": result.roles.confidence,
        "role_method": result.roles.method,
        "timings": dict(result.timings),
    }


def child_main(run: str, audio_path: Path) -> None:
    kind, layout, batch, _ = RUNS[run]
    data = _child_plain(audio_path, batch) if kind == "plain" else _child_callintel(audio_path, layout, batch)
    data["peak_rss_mib"] = _peak_rss_mib()
    print(RESULT_MARKER + json.dumps(data), flush=True)


# --------------------------------------------------------------------------- parent side


@dataclass
class RunResult:
    run: str
    description: str
    audio_s: float
    load_s: float
    wall_s: float
    cpu_s: float
    peak_rss_mib: float
    other_cpu_pct: float
    walls: list[float] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rtf(self) -> float:
        return self.wall_s / self.audio_s


def build_inputs(out_dir: Path) -> dict[str, Path]:
    """Write the stereo (agent left, caller right) and mono ((a + c) / 2) 16 kHz WAV files."""
    missing = [p for p in (AGENT_FLAC, CALLER_FLAC) if not p.is_file()]
    if missing:
        sys.exit(
            "bench_pipeline: missing test audio: "
            + ", ".join(str(p) for p in missing)
            + f"\n(expected the shared data checkout beside the repository, at {AUDIO_DIR})"
        )
    from callintel.audio.decode import load_audio

    agent = load_audio(AGENT_FLAC).samples[0]
    caller = load_audio(CALLER_FLAC).samples[0]
    n = max(len(agent), len(caller))  # same timeline: pad the shorter track with silence
    agent = np.pad(agent, (0, n - len(agent)))
    caller = np.pad(caller, (0, n - len(caller)))
    stereo = np.stack([agent, caller])
    mono = ((agent + caller) / 2).astype(np.float32)[None, :]

    paths = {"stereo": out_dir / "call_stereo.wav", "mono": out_dir / "call_mono.wav"}
    write_wav(paths["stereo"], stereo)
    write_wav(paths["mono"], mono)
    return paths


def write_wav(path: Path, samples: np.ndarray) -> None:
    """Write float samples of shape (channels, n) as 16 kHz 16-bit PCM WAV."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).round().astype(np.int16)
    try:
        import soundfile

        soundfile.write(str(path), pcm.T, SAMPLE_RATE, subtype="PCM_16")
        return
    except ImportError:
        pass
    import av

    layout = "mono" if pcm.shape[0] == 1 else "stereo"
    with av.open(str(path), "w", format="wav") as container:
        stream = container.add_stream("pcm_s16le", rate=SAMPLE_RATE, layout=layout)
        frame = av.AudioFrame.from_ndarray(pcm.T.reshape(1, -1).copy(), format="s16", layout=layout)
        frame.sample_rate = SAMPLE_RATE
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def run_child(run: str, audio_path: Path) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", run, "--input", str(audio_path)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    busy, children, clock = machine_busy_seconds(), children_cpu_seconds(), time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO_ROOT)
    elapsed = time.perf_counter() - clock
    # CPU time the machine spent on anything but this child while it ran (other jobs skew timings).
    other = (machine_busy_seconds() - busy) - (children_cpu_seconds() - children)
    lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT_MARKER)]
    if proc.returncode != 0 or not lines:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        sys.exit(f"bench_pipeline: run {run} failed (exit {proc.returncode})")
    data: dict[str, Any] = json.loads(lines[-1][len(RESULT_MARKER) :])
    data["other_cpu_pct"] = max(0.0, 100 * other / (elapsed * (os.cpu_count() or 1)))
    return data


def measure(run: str, audio_path: Path, repeat: int) -> RunResult:
    samples = []
    for i in range(repeat):
        print(f"  run {run} ({RUNS[run][3]}) {i + 1}/{repeat} ...", flush=True)
        samples.append(run_child(run, audio_path))
    walls = [s["wall_s"] for s in samples]
    median_wall = statistics.median(walls)
    # Keep the extra data (timings, turns, roles) of the repeat closest to the median.
    representative = min(samples, key=lambda s: abs(s["wall_s"] - median_wall))
    common = ("load_s", "wall_s", "cpu_s", "audio_s", "peak_rss_mib", "other_cpu_pct")
    extra = {k: v for k, v in representative.items() if k not in common}
    return RunResult(
        run=run,
        description=RUNS[run][3],
        audio_s=samples[0]["audio_s"],
        load_s=statistics.median(s["load_s"] for s in samples),
        wall_s=median_wall,
        cpu_s=statistics.median(s["cpu_s"] for s in samples),
        peak_rss_mib=max(s["peak_rss_mib"] for s in samples),
        other_cpu_pct=max(s["other_cpu_pct"] for s in samples),
        walls=walls,
        extra=extra,
    )


def report(results: dict[str, RunResult]) -> dict[str, Any]:
    base = results["a"]
    same_layout = {k: results[v] for k, v in SAME_LAYOUT_PLAIN.items() if k in results and v in results}
    headers = [
        "run",
        "audio s",
        "load s",
        "wall s",
        "cpu s",
        "RTF",
        "peak RSS MiB",
        "vs (a)",
        "vs same-layout plain",
        "other load",
    ]
    rows: list[list[str]] = []
    for key, r in results.items():
        vs_a = vs_same = ""
        if key in same_layout:
            vs_a = f"{r.wall_s / base.wall_s:.2f}x"
            vs_same = f"{r.wall_s / same_layout[key].wall_s:.2f}x ({same_layout[key].run})"
        rows.append(
            [
                f"{key}: {r.description}",
                f"{r.audio_s:.1f}",
                f"{r.load_s:.2f}",
                f"{r.wall_s:.2f}",
                f"{r.cpu_s:.1f}",
                f"{r.rtf:.3f}",
                f"{r.peak_rss_mib:.0f}",
                vs_a,
                vs_same,
                f"{r.other_cpu_pct:.0f}%",
            ]
        )
    print_table(headers, rows)
    busy = [k for k, r in results.items() if r.other_cpu_pct > 10]
    if busy:
        print(
            f"WARNING: other processes used the CPUs during run(s) {', '.join(busy)} "
            "('other load' column); their wall times are inflated. Rerun on a quiet machine."
        )

    print(
        f"target: callintel full pipeline <= {TARGET_RATIO}x plain faster-whisper, "
        f"peak < {TARGET_PEAK_MIB:.0f} MiB"
    )
    verdicts: dict[str, bool] = {}
    for key in [k for k in ("c", "d") if k in results]:
        r = results[key]
        ratio = r.wall_s / base.wall_s
        ok = ratio <= TARGET_RATIO and r.peak_rss_mib < TARGET_PEAK_MIB
        verdicts[key] = ok
        print(
            f"  {key}: {r.description}: {ratio:.2f}x of (a), peak {r.peak_rss_mib:.0f} MiB -> "
            f"{'PASS' if ok else 'FAIL'}"
        )
    print(
        f"target (issue 16): callintel batched, whole pipeline <= {TARGET_BATCHED_RATIO}x plain sequential "
        "faster-whisper on the same file"
    )
    for key in [k for k in ("g", "h") if k in results]:
        r, plain = results[key], same_layout[key]
        ratio = r.wall_s / plain.wall_s
        verdicts[key] = ratio <= TARGET_BATCHED_RATIO
        print(
            f"  {key}: {r.description}: {ratio:.2f}x of ({plain.run}) -> "
            f"{'PASS' if verdicts[key] else 'FAIL'}"
        )
    for key in [k for k in ("c", "d", "g", "h") if k in results]:
        x = results[key].extra
        roles = ", ".join(f"{s}={role}" for s, role in sorted(x["roles"].items()))
        print(
            f"  {key}: {x['turns']} turns, {x['words']} words, layout {x['layout']}, "
            f"language {x['language']}; roles: {roles} "
            f"(confidence {x['role_confidence']:.3f}, {x['role_method']})"
        )
        stages = ", ".join(f"{stage} {secs:.2f}s" for stage, secs in x["timings"].items())
        print(f"     stages: {stages}")
    for key in [k for k in ("a", "b", "e", "f") if k in results]:
        x = results[key].extra
        print(f"  {key}: {x['segments']} segments, {x['words']} words, language {x['language']}")
    return {
        "target": {"max_ratio_vs_plain_mono": TARGET_RATIO, "max_peak_rss_mib": TARGET_PEAK_MIB},
        "runs": {k: {**asdict(r), "rtf": r.rtf} for k, r in results.items()},
        "ratios": {
            k: {"vs_a": results[k].wall_s / base.wall_s, "vs_same_layout": results[k].wall_s / v.wall_s}
            for k, v in same_layout.items()
        },
        "pass": verdicts,
    }


PLAIN_SCRIPT = """
import sys
from faster_whisper import WhisperModel
from callintel.registry import ModelRegistry
from callintel.settings import Settings
s = Settings.from_env()
path = ModelRegistry(s.models_dir, s.cache_dir).resolve("whisper-base").path
model = WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=2)
segments, info = model.transcribe(sys.argv[1], beam_size=5, vad_filter=True, word_timestamps=True)
print("".join(s.text for s in segments))
"""


def _timed_process(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of a whole process, by GNU time."""
    env = dict(os.environ)  # this checkout's callintel, whatever the environment has installed
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    with tempfile.NamedTemporaryFile("r", suffix=".time") as out:
        clock = time.perf_counter()
        proc = subprocess.run(
            ["/usr/bin/time", "-f", "%M", "-o", out.name, *command],
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            env=env,
        )
        wall = time.perf_counter() - clock
        if proc.returncode != 0:
            sys.exit(f"bench_pipeline: {' '.join(command)} failed:\n{proc.stderr[-2000:]}")
        return wall, int(out.read().split()[-1]) / 1024


def startup(repeat: int) -> dict[str, Any]:
    """The 11 s ``jfk.flac`` as a user runs it: a ten-line faster-whisper script against
    ``callintel analyze`` (both whole processes: imports, model load, the call), median of runs.

    The two alternate, run by run, so that a change in the machine's load hits both alike.
    ``python -m callintel`` runs this checkout's code (the ``callintel`` script may be another's).
    """
    clip = AUDIO_DIR / "jfk.flac"
    with tempfile.TemporaryDirectory(prefix="callintel-startup-") as tmp:
        runs = {
            "plain faster-whisper script": [sys.executable, "-c", PLAIN_SCRIPT, str(clip)],
            "callintel analyze": [
                sys.executable,
                *("-m", "callintel", "analyze", str(clip), "--json", str(Path(tmp) / "r.json")),
            ],
        }
        measured: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
        for i in range(max(3, repeat)):
            for name, command in runs.items():
                print(f"  start-up: {name} {i + 1}/{max(3, repeat)} ...", flush=True)
                measured[name].append(_timed_process(command))
    rows, out = [], {}
    plain_wall = statistics.median(w for w, _ in measured["plain faster-whisper script"])
    for name, samples in measured.items():
        wall = statistics.median(w for w, _ in samples)
        peak = max(m for _, m in samples)
        out[name] = {"wall_s": wall, "peak_rss_mib": peak, "walls": [w for w, _ in samples]}
        rows.append([name, f"{wall:.2f}", f"{peak:.0f}", f"{wall / plain_wall:.2f}x"])
    print_table(["jfk.flac (11 s), whole process, median", "wall s", "peak RSS MiB", "vs plain"], rows)
    return out


def print_table(headers: list[str], rows: list[list[str]]) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
        print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
        for row in rows:
            print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
        return
    table = Table(title="callintel vs plain faster-whisper (whisper-base, int8, 2 threads)")
    for i, h in enumerate(headers):
        table.add_column(h, justify="left" if i == 0 else "right", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    Console(width=max(160, Console().width)).print(table)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=1, help="runs per configuration (median wall kept)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the numbers to this JSON file")
    parser.add_argument(
        "--no-startup", dest="startup", action="store_false", help="skip the start-up line on jfk.flac"
    )
    parser.add_argument("--startup-only", action="store_true", help="measure only the start-up line")
    parser.add_argument(
        "--runs",
        default="".join(RUNS),
        help="which runs, e.g. 'gh' (the plain sequential baselines a and b always run)",
    )
    parser.add_argument("--child", choices=sorted(RUNS), help=argparse.SUPPRESS)
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        child_main(args.child, args.input)
        return
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if set(args.runs) - set(RUNS):
        parser.error(f"--runs takes letters of {''.join(RUNS)}")

    print(f"python: {sys.executable}; repeat: {args.repeat}", flush=True)
    if args.startup_only:
        summary = {"startup": startup(args.repeat)}
        if args.json:
            args.json.write_text(json.dumps(summary, indent=2) + "\n", "utf-8")
            print(f"wrote {args.json}")
        return
    with tempfile.TemporaryDirectory(prefix="callintel-bench-") as tmp:
        inputs = build_inputs(Path(tmp))
        chosen = {"a", "b", *args.runs}
        results = {
            run: measure(run, inputs[layout], args.repeat)
            for run, (_, layout, _, _) in RUNS.items()
            if run in chosen
        }
    summary = report(results)
    if args.startup:
        summary["startup"] = startup(args.repeat)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n", "utf-8")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
