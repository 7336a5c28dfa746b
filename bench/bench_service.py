"""Benchmark: a bounded load test of the REST service on loopback.

What it does
------------
Starts its own ``callintel serve`` (the real pipeline: Whisper + the understanding models, with
``--in-process-workers N``) on a free port of 127.0.0.1, with a temporary
``CALLINTEL_DATA_DIR`` and SQLite there (or ``--database-url``), creates a ``crm`` key with
``callintel keys create``, and then lets ``--clients`` threads upload ``--uploads`` short clips
between them over HTTP (``POST /v1/calls``, multipart). Each client then polls
``GET /v1/calls/{id}`` for its calls until every one is ``done`` or ``failed``.

The clips are 3-6 s slices of the recordings in ``shared/data/audio`` (the stereo telephone call
``en_auto_repairs_40`` with agent left and caller right, and the mono/stereo short clips), WAV or
FLAC, each with a different +-1 LSB dither so that no two share a SHA-256 (the store keeps audio
by content hash; identical bytes would still be analysed per call, but distinct bytes make every
upload a new recording, as in real traffic). A few uploads (``--duplicates``) are then sent
again with the same bytes and ``external_id``: the service must answer 200 with the same call
id and create nothing; they are counted apart from the load.

What is reported
----------------
Total wall time from the first upload to the last ``done`` seen (server start and model load are
reported apart), audio seconds uploaded, throughput (uploads/s and audio seconds per wall second,
i.e. x real time), latency p50/p95/max of uploads, p50/p95 of status polls, p50/p95 of upload ->
``done`` (from the start of the upload to the poll that saw ``done``; each call is polled
``--poll-interval`` after its upload, then 1.5x less often each time up to
``--poll-max-interval``, so this is late by up to that much), the final status counts, the
duplicates, and whether anything was lost.
The run is bounded: ``--uploads`` requests and ``--timeout`` seconds (server start included),
after which it stops and reports what did not finish. Exit status 1 when any upload did not end
``done``, a duplicate was not answered 200 with the same id, or the service lists another number
of calls for the run's dealer than were accepted; 2 when the server did not come up. The server
is always stopped.

In-process workers share one loaded pipeline, which takes concurrent calls (no lock since issue 15:
Whisper's windows from several threads interleave in CTranslate2), so ``--in-process-workers``
above 1 lets calls overlap, but on a small machine they share the same cores. ``--worker-batch N``
has each worker claim up to N queued calls at once and analyse them together (``callintel serve
--worker-batch``; default: the server's own, ``CALLINTEL_WORKER_BATCH`` or 1).

``--sync-latency`` measures something else, in process: the latency of a synchronous analysis
(``POST /v1/calls:analyze``, an 8 s clip) while the in-process analyzer is busy with the
4-minute demo call, with the analyzer as it is and serialised behind one lock as it was before
(see :func:`sync_latency`).

Only loopback: the server listens on 127.0.0.1 and the clients talk to nothing else.

Usage (from the repository root)::

    python bench/bench_service.py [--uploads 200] [--clients 8] [--in-process-workers 1]
        [--worker-batch N] [--timeout 900] [--database-url URL [--reset-database]] [--json OUT]
    python bench/bench_service.py --sync-latency [--sync-requests 10] [--sync-seconds 8]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from machine_load import machine_busy_seconds, own_cpu_seconds, process_cpu_seconds

REPO_ROOT = Path(__file__).resolve().parents[1]
AUDIO_DIR = REPO_ROOT.parent / "shared" / "data" / "audio"
HOST = "127.0.0.1"  # loopback only, never anything else
SAMPLE_RATE = 16000
SCENARIOS = ("showroom", "inbound_call", "outbound_followup")

if str(REPO_ROOT) not in sys.path:
    sys.path.insert(1, str(REPO_ROOT))


# --------------------------------------------------------------------------- clips


@dataclass(frozen=True)
class Clip:
    index: int
    name: str  # source and slice, for the report
    data: bytes
    fmt: str  # wav or flac
    channels: int
    seconds: float
    sha256: str


def _sources() -> dict[str, np.ndarray]:
    """Name -> float32 samples (channels, n) at 16 kHz, from the shared test audio."""
    from callintel.audio.decode import load_audio

    def load(name: str) -> np.ndarray:
        path = AUDIO_DIR / name
        if not path.is_file():
            sys.exit(f"bench_service: missing test audio {path} (the shared data checkout beside the repo)")
        return load_audio(path, silence_dbfs=None).samples

    agent = load("en_auto_repairs_40_agent.flac")[0]
    caller = load("en_auto_repairs_40_caller.flac")[0]
    n = max(len(agent), len(caller))
    return {
        "call_stereo": np.stack([np.pad(agent, (0, n - len(agent))), np.pad(caller, (0, n - len(caller)))]),
        "pyannote_mono": load("pyannote_sample.wav")[:1],
        "jfk_mono": load("jfk.flac")[:1],
        "zh_aishell_mono": load("zh_aishell_BAC009S0724W0121.wav")[:1],
        "zh_funasr_mono": load("zh_funasr_asr_example.wav")[:1],
        "diarization_stereo": load("stereo_diarization.wav")[:2],
    }


def _encode(samples: np.ndarray, fmt: str, rng: np.random.Generator) -> bytes:
    import soundfile

    pcm = (np.clip(samples, -1.0, 1.0) * 32767).round().astype(np.int32)
    pcm += rng.integers(-1, 2, size=pcm.shape)  # a +-1 LSB dither: distinct bytes for every clip
    pcm = np.clip(pcm, -32768, 32767).astype(np.int16)
    out = io.BytesIO()
    soundfile.write(out, pcm.T, SAMPLE_RATE, format=fmt.upper(), subtype="PCM_16")
    return out.getvalue()


def build_clips(count: int, seed: int) -> list[Clip]:
    """``count`` clips of 3-6 s with speech in them (peak above -30 dBFS), all with distinct bytes."""
    sources = _sources()
    names = sorted(sources)
    rng = np.random.default_rng(seed)
    clips: list[Clip] = []
    seen: set[str] = set()
    while len(clips) < count:
        i = len(clips)
        name = names[i % len(names)]
        audio = sources[name]
        total = audio.shape[1] / SAMPLE_RATE
        for _ in range(50):
            seconds = float(min(rng.uniform(3.0, 6.0), total))
            start = float(rng.uniform(0.0, total - seconds))
            piece = audio[:, int(start * SAMPLE_RATE) : int((start + seconds) * SAMPLE_RATE)]
            if float(np.abs(piece).max()) > 10 ** (-30 / 20):
                break
        fmt = "wav" if i % 2 == 0 else "flac"
        data = _encode(piece, fmt, rng)
        digest = hashlib.sha256(data).hexdigest()
        if digest in seen:  # practically impossible with the dither; draw again
            continue
        seen.add(digest)
        clips.append(
            Clip(
                index=i,
                name=f"{name}[{start:.1f}s+{seconds:.1f}s]",
                data=data,
                fmt=fmt,
                channels=int(piece.shape[0]),
                seconds=piece.shape[1] / SAMPLE_RATE,
                sha256=digest,
            )
        )
    return clips


# --------------------------------------------------------------------------- server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _cli() -> list[str]:
    """``callintel`` of this checkout: ``python -m`` run in REPO_ROOT imports the package there
    (the venv's ``callintel`` script would import whichever checkout the venv was installed from,
    e.g. the main worktree rather than this one)."""
    return [sys.executable, "-m", "callintel"]


def reset_schema(url: str) -> None:
    """Empty a PostgreSQL database (``DROP SCHEMA public CASCADE``), as the service tests do."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


def create_key(env: dict[str, str], dealer: str) -> str:
    created = subprocess.run(
        [*_cli(), "keys", "create", "--role", "crm", "--dealer", dealer, "--name", "bench_service"],
        env=env,
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )
    if created.returncode != 0:
        sys.exit(f"bench_service: `callintel keys create` failed:\n{created.stdout}{created.stderr}")
    return created.stdout.strip().splitlines()[-1]


def wait_ready(server: subprocess.Popen[bytes], base: str, deadline: float, log: Path) -> None:
    import httpx

    with httpx.Client(base_url=base, timeout=10) as client:
        while True:
            try:
                if client.get("/readyz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if server.poll() is not None:
                raise RuntimeError(f"the server exited ({server.returncode}):\n{_tail(log)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server was not ready in time:\n{_tail(log)}")
            time.sleep(0.5)


def stop_server(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)


def _tail(path: Path, chars: int = 4000) -> str:
    try:
        return path.read_text("utf-8", errors="replace")[-chars:]
    except OSError:
        return ""


def _log_tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of the server log that are not uvicorn access lines."""
    access = re.compile(r' HTTP/1\.[01]" \d{3} ')
    kept = [line for line in _tail(path, 1 << 20).splitlines() if not access.search(line)]
    return "\n".join(kept[-lines:])


# --------------------------------------------------------------------------- clients


@dataclass
class Upload:
    clip: int
    name: str
    seconds: float
    external_id: str
    started: float = 0.0  # monotonic
    upload_s: float | None = None
    http_status: int | None = None
    call_id: str | None = None
    status: str | None = None  # the last status seen
    error: str | None = None
    done_after_s: float | None = None  # upload start -> the poll that saw done/failed
    polls: int = 0


@dataclass
class Duplicate:
    clip: int
    external_id: str
    first_id: str | None
    http_status: int | None = None
    call_id: str | None = None
    upload_s: float | None = None

    @property
    def ok(self) -> bool:
        return self.http_status == 200 and self.call_id is not None and self.call_id == self.first_id


@dataclass
class Shared:
    poll_latencies: list[float] = field(default_factory=list)
    poll_errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _post(client: Any, clip: Clip, dealer: str, external_id: str, headers: dict[str, str]) -> Any:
    return client.post(
        "/v1/calls",
        files={"audio": (f"clip{clip.index}.{clip.fmt}", clip.data, f"audio/{clip.fmt}")},
        data={
            "dealer": dealer,
            "scenario": SCENARIOS[clip.index % len(SCENARIOS)],
            "external_id": external_id,
        },
        headers=headers,
    )


def client_main(
    base: str,
    headers: dict[str, str],
    dealer: str,
    clips: list[Clip],
    uploads: list[Upload],
    duplicates: list[Duplicate],
    shared: Shared,
    poll_interval: float,
    poll_max: float,
    stop: threading.Event,
) -> None:
    """One client: upload its share, re-send its duplicates, then poll its calls to the end."""
    import httpx

    by_index = {c.index: c for c in clips}
    with httpx.Client(base_url=base, timeout=60) as client:
        for up in uploads:
            if stop.is_set():
                up.error = "not uploaded: the time limit was reached"
                continue
            clip = by_index[up.clip]
            up.started = time.monotonic()
            try:
                response = _post(client, clip, dealer, up.external_id, headers)
            except httpx.HTTPError as e:
                up.error = f"upload: {type(e).__name__}: {e}"
                continue
            finally:
                up.upload_s = time.monotonic() - up.started
            up.http_status = response.status_code
            if response.status_code != 202:
                up.error = f"upload answered {response.status_code}: {response.text[:200]}"
                continue
            body = response.json()
            up.call_id, up.status = body["id"], body["status"]

        first = {up.clip: up.call_id for up in uploads}
        for dup in duplicates:
            if stop.is_set():
                break
            dup.first_id = first.get(dup.clip)
            clock = time.monotonic()
            try:
                response = _post(client, by_index[dup.clip], dealer, dup.external_id, headers)
            except httpx.HTTPError:
                continue
            finally:
                dup.upload_s = time.monotonic() - clock
            dup.http_status = response.status_code
            if response.status_code in (200, 202):
                dup.call_id = response.json()["id"]

        # Each call is polled first ``poll_interval`` after its upload, then ever less often
        # (x1.5 up to ``poll_max``), as a polite client would: a fixed fast poll of hundreds of
        # queued calls would spend the server's CPU on status requests instead of analysis.
        pending = {up.external_id: up for up in uploads if up.call_id is not None}
        interval = dict.fromkeys(pending, poll_interval)
        due = {k: time.monotonic() + poll_interval for k in pending}
        while pending and not stop.is_set():
            now = time.monotonic()
            ready = [k for k in pending if due[k] <= now]
            if not ready:
                stop.wait(min(due[k] for k in pending) - now)
                continue
            for k in sorted(ready, key=due.__getitem__):
                if stop.is_set():
                    break
                up = pending[k]
                clock = time.monotonic()
                interval[k] = min(interval[k] * 1.5, poll_max)
                due[k] = clock + interval[k]
                try:
                    response = client.get(f"/v1/calls/{up.call_id}", headers=headers)
                except httpx.HTTPError:
                    with shared.lock:
                        shared.poll_errors += 1
                    continue
                now = time.monotonic()
                up.polls += 1
                with shared.lock:
                    shared.poll_latencies.append(now - clock)
                if response.status_code != 200:
                    with shared.lock:
                        shared.poll_errors += 1
                    continue
                body = response.json()
                up.status = body["status"]
                if up.status in ("done", "failed"):
                    up.done_after_s = now - up.started
                    up.error = body.get("error")
                    del pending[k]


def _percentile(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def _fmt_s(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


# --------------------------------------------------------------------------- main


def run(args: argparse.Namespace) -> int:
    import httpx

    started = time.monotonic()
    deadline = started + args.timeout
    token = secrets.token_hex(3)
    dealer = f"bench-{token}"
    print(
        f"python: {sys.executable}; uploads {args.uploads}, clients {args.clients}, "
        f"in-process workers {args.in_process_workers}, worker batch {args.worker_batch or 'default'}, "
        f"duplicates {args.duplicates}, timeout {args.timeout:.0f} s",
        flush=True,
    )
    clips = build_clips(args.uploads, args.seed)
    audio_seconds = sum(c.seconds for c in clips)
    layouts = {ch: sum(1 for c in clips if c.channels == ch) for ch in (1, 2)}
    print(
        f"clips: {len(clips)} ({audio_seconds:.0f} s of audio; {layouts[2]} stereo, {layouts[1]} mono; "
        f"{len({c.sha256 for c in clips})} distinct SHA-256)",
        flush=True,
    )

    with tempfile.TemporaryDirectory(prefix="callintel-bench-service-") as tmp:
        tmp_dir = Path(tmp)
        url = args.database_url or f"sqlite:///{tmp_dir / 'callintel.db'}"
        if args.reset_database:
            reset_schema(url)
        env = os.environ | {"CALLINTEL_DATA_DIR": str(tmp_dir / "data"), "CALLINTEL_DATABASE_URL": url}
        key = create_key(env, dealer)
        port = _free_port()
        log = tmp_dir / "server.log"
        base = f"http://{HOST}:{port}"
        headers = {"Authorization": f"Bearer {key}"}
        print(f"server: {_safe_url(url)}, {base}; log {log} (its tail is printed on failure)", flush=True)
        with log.open("wb") as log_file:
            server = subprocess.Popen(
                [
                    *_cli(),
                    "serve",
                    "--host",
                    HOST,
                    "--port",
                    str(port),
                    "--in-process-workers",
                    str(args.in_process_workers),
                    *(["--worker-batch", str(args.worker_batch)] if args.worker_batch else []),
                ],
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=REPO_ROOT,
            )
        try:
            clock = time.monotonic()
            wait_ready(server, base, min(deadline, clock + 300), log)
            startup_s = time.monotonic() - clock
            print(f"server ready after {startup_s:.1f} s (models loaded); load starts", flush=True)
            result = load(args, base, headers, dealer, clips, server, deadline)
            result["startup_s"] = startup_s
            try:  # cross-checks: the calls the service holds for this run's dealer, the models used
                with httpx.Client(base_url=base, timeout=30) as client:
                    listed = client.get("/v1/calls", params={"dealer": dealer, "limit": 1}, headers=headers)
                    result["calls_listed"] = listed.json()["total"] if listed.status_code == 200 else None
                    done_id = next((u["call_id"] for u in result["uploads"] if u["status"] == "done"), None)
                    if done_id is not None:
                        detail = client.get(f"/v1/calls/{done_id}", headers=headers).json()
                        result["models"] = detail.get("models")
            except httpx.HTTPError as e:
                print(f"the service did not answer after the load: {type(e).__name__}: {e}", file=sys.stderr)
        except RuntimeError as e:
            print(f"bench_service: {e}", file=sys.stderr)
            return 2
        finally:
            stop_server(server)
            if server.returncode not in (0, -15, None):
                print(f"server exit status {server.returncode}", file=sys.stderr)
        summary = report(args, result, audio_seconds)
        if not summary["ok"]:
            print(f"server log, without the access lines ({log}):\n{_log_tail(log)}", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n", "utf-8")
        print(f"wrote {args.json}")
    return 0 if summary["ok"] else 1


def load(
    args: argparse.Namespace,
    base: str,
    headers: dict[str, str],
    dealer: str,
    clips: list[Clip],
    server: subprocess.Popen[bytes],
    deadline: float,
) -> dict[str, Any]:
    """The load itself: the clients' threads, bounded by ``deadline``."""
    run_id = dealer.removeprefix("bench-")
    uploads = [Upload(c.index, c.name, c.seconds, f"bench-{run_id}-{c.index:05d}") for c in clips]
    shares: list[list[Upload]] = [uploads[i :: args.clients] for i in range(args.clients)]
    # Each duplicate re-sends one of the first uploads of a client's share (registered by then).
    duplicates: list[list[Duplicate]] = [[] for _ in range(args.clients)]
    for k in range(args.duplicates):
        share = shares[k % args.clients]
        if share:
            original = share[(k // args.clients) % len(share)]
            duplicates[k % args.clients].append(Duplicate(original.clip, original.external_id, None))

    shared = Shared()
    stop = threading.Event()
    server_cpu, own_cpu, busy = process_cpu_seconds(server.pid), own_cpu_seconds(), machine_busy_seconds()
    clock = time.monotonic()
    threads = [
        threading.Thread(
            target=client_main,
            args=(base, headers, dealer, clips, shares[i], duplicates[i], shared)
            + (args.poll_interval, args.poll_max_interval, stop),
            name=f"client-{i}",
            daemon=True,
        )
        for i in range(args.clients)
    ]
    for thread in threads:
        thread.start()
    last_report = clock
    while any(t.is_alive() for t in threads):
        try:
            if time.monotonic() > deadline and not stop.is_set():
                print("time limit reached: stopping the clients", flush=True)
                stop.set()
            if server.poll() is not None and not stop.is_set():
                print(f"the server exited ({server.returncode}): stopping the clients", flush=True)
                stop.set()
            if time.monotonic() - last_report >= 30:
                last_report = time.monotonic()
                finished = sum(1 for u in uploads if u.status in ("done", "failed"))
                sent = sum(1 for u in uploads if u.upload_s is not None)
                print(
                    f"  {last_report - clock:5.0f} s: {sent} uploaded, {finished} finished of {len(uploads)}",
                    flush=True,
                )
            time.sleep(0.5)
        except KeyboardInterrupt:
            print("interrupted: stopping the clients", flush=True)
            stop.set()
    wall = time.monotonic() - clock
    server_cpu = process_cpu_seconds(server.pid) - server_cpu
    own_cpu = own_cpu_seconds() - own_cpu
    other = (machine_busy_seconds() - busy) - server_cpu - own_cpu
    # The load's wall time ends at the last call seen finished (not at the last idle poll round).
    ends = [u.started + u.done_after_s for u in uploads if u.done_after_s is not None]
    load_wall = (max(ends) - clock) if ends and not stop.is_set() else wall
    return {
        "uploads": [asdict(u) for u in uploads],
        "duplicates": [asdict(d) | {"ok": d.ok} for dups in duplicates for d in dups],
        "poll_latencies": shared.poll_latencies,
        "poll_errors": shared.poll_errors,
        "wall_s": load_wall,
        "timed_out": stop.is_set(),
        "server_cpu_s": server_cpu,
        "client_cpu_s": own_cpu,
        "other_cpu_pct": max(0.0, 100 * other / (wall * (os.cpu_count() or 1))),
    }


def report(args: argparse.Namespace, result: dict[str, Any], audio_seconds: float) -> dict[str, Any]:
    uploads = result["uploads"]
    dups = result["duplicates"]
    wall = result["wall_s"]
    statuses: dict[str, int] = {}
    for u in uploads:
        key = u["status"] or ("upload failed" if u["upload_s"] is not None else "not uploaded")
        statuses[key] = statuses.get(key, 0) + 1
    done = [u for u in uploads if u["status"] == "done"]
    lost = [u for u in uploads if u["status"] != "done"]
    done_audio = sum(u["seconds"] for u in done)
    upload_lat = [u["upload_s"] for u in uploads if u["upload_s"] is not None and u["http_status"] == 202]
    polls = result["poll_latencies"]
    to_done = [u["done_after_s"] for u in done]
    dups_ok = sum(1 for d in dups if d["ok"])
    accepted = sum(1 for u in uploads if u["call_id"] is not None)
    extra = result.get("calls_listed") != accepted  # a duplicate made a call, or the list disagrees
    ok = not lost and dups_ok == len(dups) and not result["timed_out"] and not extra

    rows: list[tuple[str, str]] = [
        ("uploads", f"{len(uploads)} (+ {len(dups)} duplicates)"),
        ("clients", str(args.clients)),
        ("in-process workers", str(args.in_process_workers)),
        ("worker batch", str(args.worker_batch or "default")),
        ("server start (models loaded)", f"{result['startup_s']:.1f} s"),
        (
            "total wall time (first upload -> last done)",
            f"{wall:.1f} s" + (" (stopped before the end)" if result["timed_out"] else ""),
        ),
        ("audio uploaded", f"{audio_seconds:.1f} s"),
        ("throughput", f"{len(done) / wall:.3f} uploads/s, {done_audio / wall:.2f} audio s/s (x real time)"),
        (
            "upload latency p50 / p95 / max",
            f"{_fmt_s(_percentile(upload_lat, 50))} / {_fmt_s(_percentile(upload_lat, 95))} / "
            f"{_fmt_s(max(upload_lat) if upload_lat else None)}",
        ),
        (
            "poll latency p50 / p95",
            f"{_fmt_s(_percentile(polls, 50))} / {_fmt_s(_percentile(polls, 95))} "
            f"({len(polls)} polls, {len(polls) / wall:.1f}/s, {result['poll_errors']} errors)",
        ),
        (
            "upload -> done p50 / p95",
            f"{_fmt_s(_percentile(to_done, 50))} / {_fmt_s(_percentile(to_done, 95))} "
            f"(polls every {args.poll_interval:g}-{args.poll_max_interval:g} s)",
        ),
        ("final status", ", ".join(f"{k} {v}" for k, v in sorted(statuses.items()))),
        ("duplicates answered 200, same id", f"{dups_ok} of {len(dups)}"),
        ("calls listed for the dealer", f"{result.get('calls_listed')} (uploads accepted: {accepted})"),
        (
            "CPU (2 cores = 2 s/s)",
            f"server {result['server_cpu_s']:.0f} s, clients {result['client_cpu_s']:.0f} s, "
            f"other processes {result['other_cpu_pct']:.0f} %",
        ),
    ]
    print_table(rows)
    if result.get("models"):
        print("models: " + ", ".join(f"{k} {v}" for k, v in sorted(result["models"].items())))
    if result["other_cpu_pct"] > 10:
        print(
            f"WARNING: other processes used {result['other_cpu_pct']:.0f} % of the CPUs during the load; "
            "the times are inflated. Rerun on a quiet machine."
        )
    if result["timed_out"]:
        print(f"STOPPED (time limit of {args.timeout:.0f} s, or interrupted) before every upload finished.")
    if not lost:
        print(f"nothing lost: every upload ended done ({len(done)} of {len(uploads)})")
    else:
        print(f"NOT done: {len(lost)} of {len(uploads)} uploads:")
        for u in lost:
            what = u["call_id"] or u["external_id"]
            print(f"  {what} ({u['name']}): {u['status'] or '-'} {u['error'] or ''}".rstrip())
    for d in dups:
        if not d["ok"]:
            print(
                f"duplicate of {d['external_id']} answered {d['http_status']} with id {d['call_id']} "
                f"(first upload: {d['first_id']})"
            )
    return {
        "config": {
            "uploads": args.uploads,
            "clients": args.clients,
            "in_process_workers": args.in_process_workers,
            "worker_batch": args.worker_batch,
            "duplicates": args.duplicates,
            "poll_interval_s": args.poll_interval,
            "poll_max_interval_s": args.poll_max_interval,
            "timeout_s": args.timeout,
            "database": "postgresql" if args.database_url else "sqlite",
        },
        "startup_s": result["startup_s"],
        "wall_s": wall,
        "audio_s": audio_seconds,
        "throughput": {"uploads_per_s": len(done) / wall, "audio_s_per_s": done_audio / wall},
        "latency_s": {
            "upload": _summary(upload_lat),
            "poll": _summary(polls),
            "upload_to_done": _summary(to_done),
        },
        "statuses": statuses,
        "duplicates_ok": dups_ok,
        "duplicates": dups,
        "calls_listed": result.get("calls_listed"),
        "timed_out": result["timed_out"],
        "not_done": [u["call_id"] or u["external_id"] for u in lost],
        "cpu": {
            "server_s": result["server_cpu_s"],
            "clients_s": result["client_cpu_s"],
            "other_pct": result["other_cpu_pct"],
        },
        "models": result.get("models"),
        "uploads": uploads,
        "ok": ok,
    }


def _summary(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50": _percentile(values, 50),
        "p95": _percentile(values, 95),
        "max": max(values),
        "mean": statistics.fmean(values),
    }


def print_table(rows: list[tuple[str, str]]) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        width = max(len(k) for k, _ in rows)
        for k, v in rows:
            print(f"{k.ljust(width)}  {v}")
        return
    table = Table(title="callintel service under load (loopback, real pipeline)")
    table.add_column("measure", no_wrap=True)
    table.add_column("value", no_wrap=True)
    for k, v in rows:
        table.add_row(k, v)
    Console(width=max(120, Console().width)).print(table)


# --------------------------------------------------------------------------- synchronous latency


def sync_latency(args: argparse.Namespace) -> int:
    """Latency of ``POST /v1/calls:analyze`` on a short clip while the in-process worker's
    analyzer is busy with the 4-minute demo call, with the analyzer as it is (no lock: the
    pipeline takes concurrent calls) and serialised behind one lock (what
    ``pipeline_analyzer`` did before issue 15: one analysis at a time per process), and idle.

    In process (FastAPI's TestClient, a temporary SQLite); one pipeline loaded once and shared
    by the three rows. The long call is analysed again and again on a background thread, as the
    in-process worker would, until the row's requests are done."""
    from fastapi.testclient import TestClient

    from api import create_app
    from callintel.audio.decode import load_audio
    from callintel.pipeline import Pipeline
    from callintel.service.worker import pipeline_analyzer
    from callintel.settings import Settings
    from callintel.store.db import Database, upgrade
    from callintel.store.keys import create_key
    from tests.helpers import write_audio

    long_call = REPO_ROOT / "demo" / "auto_repairs_call.flac"
    with tempfile.TemporaryDirectory(prefix="callintel-sync-bench-") as tmp_name:
        tmp = Path(tmp_name)
        clip = load_audio(AUDIO_DIR / "jfk.flac")
        short = write_audio(
            tmp / "short.flac",
            clip.samples[:, : int(args.sync_seconds * clip.sample_rate)],
            clip.sample_rate,
            "flac",
        )
        base = Settings.from_env()
        url = f"sqlite:///{tmp / 'callintel.db'}"
        upgrade(url)
        settings = Settings(
            models_dir=base.models_dir, cache_dir=base.cache_dir, data_dir=tmp / "data", database_url=url
        )
        db = Database(url)
        with db.session() as session:
            _, key = create_key(session, "crm", ["bench"])
        clock = time.perf_counter()
        pipeline = Pipeline.from_settings(settings)
        pipeline.understander  # noqa: B018 - loads the understanding models now (they load lazily)
        load_seconds = time.perf_counter() - clock
        concurrent = pipeline_analyzer(pipeline)
        lock = threading.Lock()

        def serialised(path: Path, options: Any, scorecard: Any) -> Any:
            with lock:
                return concurrent(path, options, scorecard)

        rows: list[tuple[str, list[float], int]] = []
        for name, analyzer, busy in (
            ("idle (nothing else running)", concurrent, False),
            ("busy, one lock per process (before)", serialised, True),
            ("busy, no lock (now)", concurrent, True),
        ):
            app = create_app(settings, analyzer=lambda a=analyzer: a, in_process_workers=0, db=db)
            stop = threading.Event()
            long_runs = 0

            def keep_busy(a: Any = analyzer, stop: threading.Event = stop) -> None:
                nonlocal long_runs
                from callintel.options import AnalysisOptions

                while not stop.is_set():
                    a(long_call, AnalysisOptions(), None)
                    long_runs += 1
                    # A worker stores the result and claims its next job before analysing again:
                    # a waiting request gets the lock then (Python's locks are not fair).
                    stop.wait(0.5)

            latencies: list[float] = []
            with TestClient(app) as client:
                client.post(  # warm-up, not counted
                    "/v1/calls:analyze",
                    files={"audio": ("short.flac", short.read_bytes(), "audio/flac")},
                    headers={"Authorization": f"Bearer {key}"},
                ).raise_for_status()
                worker = threading.Thread(target=keep_busy, daemon=True)
                if busy:
                    worker.start()
                    time.sleep(args.sync_head_start)  # the long call is well under way
                for _ in range(args.sync_requests):
                    start = time.perf_counter()
                    response = client.post(
                        "/v1/calls:analyze",
                        files={"audio": ("short.flac", short.read_bytes(), "audio/flac")},
                        headers={"Authorization": f"Bearer {key}"},
                    )
                    response.raise_for_status()
                    latencies.append(time.perf_counter() - start)
                stop.set()
                if busy:
                    worker.join()
            rows.append((name, latencies, long_runs))
        db.dispose()
    print(
        f"pipeline load {load_seconds:.1f} s (not counted); clip {args.sync_seconds:.0f} s of jfk.flac; "
        f"{args.sync_requests} requests per row, one at a time; long call: demo/auto_repairs_call.flac"
    )
    table = [("row", "p50 s | p95 s | max s | long analyses done meanwhile")]
    for name, values, runs in rows:
        table.append(
            (
                name,
                f"{_percentile(values, 50):.2f} | {_percentile(values, 95):.2f} | "
                f"{max(values):.2f} | {runs if 'busy' in name else '-'}",
            )
        )
    print_table(table)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    name: {
                        "latencies": values,
                        "p50": _percentile(values, 50),
                        "p95": _percentile(values, 95),
                        "long_runs": runs,
                    }
                    for name, values, runs in rows
                },
                indent=2,
            )
        )
    return 0


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--uploads", type=int, default=200, help="distinct clips to upload (default 200)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client threads (default 8)")
    parser.add_argument(
        "--in-process-workers", type=int, default=1, help="`callintel serve --in-process-workers` (default 1)"
    )
    parser.add_argument(
        "--worker-batch",
        type=int,
        default=None,
        help="`callintel serve --worker-batch`: queued calls a worker claims and analyses together "
        "(default: the server's)",
    )
    parser.add_argument(
        "--duplicates",
        type=int,
        default=None,
        help="uploads sent again with the same bytes and external_id (default uploads/20, at least 1)",
    )
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="overall bound in seconds, server start included"
    )
    parser.add_argument(
        "--poll-interval", type=float, default=1.0, help="first poll of a call this long after its upload"
    )
    parser.add_argument(
        "--poll-max-interval",
        type=float,
        default=10.0,
        help="then x1.5 per poll up to this many seconds between polls of one call (default 10)",
    )
    parser.add_argument(
        "--database-url", help="use this database instead of a temporary SQLite one (e.g. PostgreSQL)"
    )
    parser.add_argument(
        "--reset-database",
        action="store_true",
        help="DROP SCHEMA public CASCADE on --database-url first (PostgreSQL; erases everything there)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the clip slicing and dither")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the numbers to this JSON file")
    parser.add_argument(
        "--sync-latency",
        action="store_true",
        help="instead of the load test: latency of POST /v1/calls:analyze while a 4-minute call is analysed",
    )
    parser.add_argument("--sync-requests", type=int, default=10, help="--sync-latency: requests per row")
    parser.add_argument("--sync-seconds", type=float, default=8.0, help="--sync-latency: clip length (s)")
    parser.add_argument(
        "--sync-head-start", type=float, default=5.0, help="--sync-latency: seconds the long call runs first"
    )
    args = parser.parse_args(argv)
    if args.sync_latency:
        sys.exit(sync_latency(args))
    if args.uploads < 1 or args.clients < 1 or args.in_process_workers < 1:
        parser.error("--uploads, --clients and --in-process-workers must be at least 1")
    if args.reset_database and not args.database_url:
        parser.error("--reset-database needs --database-url")
    if args.duplicates is None:
        args.duplicates = max(1, args.uploads // 20)
    sys.exit(run(args))


if __name__ == "__main__":
    main()
