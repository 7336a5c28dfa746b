"""`callintel batch --engine ray`: the records of the local engine, on a local Ray instance."""

from __future__ import annotations

import itertools
import json
import logging
import shutil
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from callintel.batch import ray as batch_ray
from callintel.batch.local import (
    AnalyzeMany,
    BatchItem,
    Ledger,
    Summary,
    default_options,
    read_source,
    run_batch,
)
from callintel.batch.ray import PipelineStage, _decode, _Models, _Settler, run_batch_ray
from callintel.pipeline import Prepared
from tests.helpers import day_of_recordings

# Batched transcription, so that decoding also finds the speech (what the fake models count).
OPTIONS = default_options(language=None, batch_size=4, beam_size=5, understand=True)


class Fake:
    """Makes deterministic stand-in models (picklable, for Ray's actors): their answers follow from
    the decoded audio and speech; each recording they analyse is logged to ``log`` (the actors
    run in other processes)."""

    def __init__(self, log: Path, fail_on: str | None = None) -> None:
        self.log = log
        self.fail_on = fail_on

    def __call__(self) -> AnalyzeMany:
        return self.analyze

    def analyze(self, work: Sequence[tuple[BatchItem, Prepared]]) -> list[Mapping[str, Any] | Exception]:
        with self.log.open("a", encoding="utf-8") as f:
            f.writelines(f"{item.path.name}\n" for item, _ in work)
        return [self.one(item, prepared) for item, prepared in work]

    def one(self, item: BatchItem, prepared: Prepared) -> Mapping[str, Any] | Exception:
        if item.path.name == self.fail_on:
            return RuntimeError("CUDA out of memory")
        samples = prepared.audio.samples
        speech = prepared.speech or {}
        return {
            "duration": prepared.audio.duration,
            "content": int(prepared.sha256[:8], 16),
            "peak": round(float(np.abs(samples).max()), 6),
            "turns": sum(len(regions) for regions in speech.values()),
            "regions": len(prepared.regions or ()),
            "understanding": {"intent": {"grade": "B"}, "scorecard": {"score": 40.0 + len(speech)}},
        }


def analysed(log: Path) -> list[str]:
    return sorted(log.read_text("utf-8").split()) if log.exists() else []


def column(values: list[Any]) -> np.ndarray:
    """A column of a Ray Data batch in numpy format: the values as Python objects."""
    out = np.empty(len(values), dtype=object)
    for position, value in enumerate(values):
        out[position] = value
    return out


def by_path(ledger: Path) -> dict[str, dict[str, Any]]:
    lines = [json.loads(line) for line in ledger.read_text("utf-8").splitlines()]
    records = {r["path"]: r for r in lines}
    assert len(records) == len(lines), "one record per path"
    return records


def totals(summary: Summary) -> tuple[Any, ...]:
    return (
        summary.total,
        summary.done,
        summary.reused,
        summary.skipped,
        summary.failures,
        summary.grades,
        sorted(summary.scores),
        round(summary.audio_seconds, 6),
    )


@pytest.fixture
def folder(tmp_path: Path, audio_dir: Path) -> Path:
    return day_of_recordings(tmp_path / "day", audio_dir)


@pytest.fixture(scope="module")
def ray_instance() -> Iterator[Any]:
    """One local Ray instance of 2 CPUs for the module; the engine uses it and leaves it running.

    Its workers get 2 OpenMP threads, not the one Ray gives a 1-CPU actor: single-threaded,
    Whisper's CPU kernels give slightly different numbers (other word timings, now and then another
    word) than the local engine's multi-threaded ones.
    """
    ray = pytest.importorskip("ray")
    ray.init(
        address="local",  # a new instance, whatever else runs on the machine
        num_cpus=2,
        num_gpus=0,
        object_store_memory=300 * 2**20,
        include_dashboard=False,
        logging_level=logging.WARNING,
        runtime_env={"env_vars": {"OMP_NUM_THREADS": "2"}},
    )
    yield ray
    ray.shutdown()


def test_the_same_records_as_the_local_engine(folder: Path, tmp_path: Path, ray_instance: Any) -> None:
    items = read_source(folder, OPTIONS)
    assert [i.path.name for i in items] == ["a-jfk.flac", "b-zh.wav", "d-broken.wav", "c-jfk-copy.flac"]
    local_out, ray_out = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    local = run_batch(items, Fake(tmp_path / "local.log").analyze, Ledger(local_out, "f"), workers=2, group=8)
    seen: list[str] = []
    # Two recordings a call of the models, so the copy may be in another call than its first.
    on_ray = run_batch_ray(
        items,
        Fake(tmp_path / "ray.log"),
        Ledger(ray_out, "f"),
        group=2,
        on_outcome=lambda outcome: seen.append(f"{outcome.item.path.name} {outcome.status}"),
    )
    assert analysed(tmp_path / "local.log") == ["a-jfk.flac", "b-zh.wav"]
    # The copy is analysed again only if it reaches the models in another call than its first.
    assert analysed(tmp_path / "ray.log") in (
        ["a-jfk.flac", "b-zh.wav"],
        ["a-jfk.flac", "b-zh.wav", "c-jfk-copy.flac"],
    )
    records = by_path(ray_out)
    assert records == by_path(local_out)
    assert sorted(seen) == [
        "a-jfk.flac done",
        "b-zh.wav done",
        "c-jfk-copy.flac reused",
        "d-broken.wav failed",
    ]
    broken = records[str(folder / "d-broken.wav")]
    assert broken["status"] == "failed" and broken["sha256"] is None
    assert "AudioDecodeError" in broken["error"] or "NotAudioError" in broken["error"]
    copy, first = records[str(folder / "dealer-2" / "c-jfk-copy.flac")], records[str(folder / "a-jfk.flac")]
    assert copy["result"] == first["result"] and copy["sha256"] == first["sha256"]
    assert first["result"]["turns"] > 0 and first["result"]["regions"] > 0  # the decode found speech
    assert totals(on_ray) == totals(local)
    assert on_ray.failures == [(str(folder / "d-broken.wav"), broken["error"])]

    # The rerun does no model work (the actors do not even load the models); the failed file is
    # tried again and fails again.
    again = run_batch_ray(items, Fake(tmp_path / "rerun.log"), Ledger(ray_out, "f"), group=2)
    assert not (tmp_path / "rerun.log").exists()
    assert (again.skipped, again.done, again.reused, len(again.failures)) == (3, 0, 0, 1)
    assert len(ray_out.read_text("utf-8").splitlines()) == 5


def test_a_model_error_fails_the_content_and_its_copies_as_locally(
    folder: Path, tmp_path: Path, ray_instance: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batch_ray, "MAX_DECODE_TASKS", 2)  # two recordings a decode task
    items = read_source(folder, OPTIONS)
    local_out, ray_out = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    fail = "a-jfk.flac"
    run_batch(items, Fake(tmp_path / "l.log", fail_on=fail).analyze, Ledger(local_out, "f"), group=8)
    summary = run_batch_ray(items, Fake(tmp_path / "r.log", fail_on=fail), Ledger(ray_out, "f"), group=8)
    records = by_path(ray_out)
    assert records == by_path(local_out)
    assert "CUDA out of memory" in records[str(folder / "a-jfk.flac")]["error"]
    copy = records[str(folder / "dealer-2" / "c-jfk-copy.flac")]
    assert copy["status"] == "failed" and "failed earlier in this batch" in copy["error"]
    assert copy["sha256"] == records[str(folder / "a-jfk.flac")]["sha256"]
    assert (summary.done, summary.reused, len(summary.failures)) == (1, 0, 3)


def test_the_records_do_not_depend_on_the_order_ray_returns_them(folder: Path, tmp_path: Path) -> None:
    """The actor and driver parts of the engine, without Ray: every order in which the recordings
    come back, and ways of grouping them into calls of the models, give the local engine's ledger."""
    items = read_source(folder, OPTIONS)
    expected = tmp_path / "local.jsonl"
    run_batch(items, Fake(tmp_path / "local.log").analyze, Ledger(expected, "f"), group=8)
    rows = [_decode({"index": index, "item": item}, frozenset()) for index, item in enumerate(items)]
    # Indices: 0 a-jfk, 1 b-zh, 2 d-broken, 3 the copy of a-jfk.
    splits = ([[0, 1, 2, 3]], [[3, 1], [2, 0]], [[3], [2], [1], [0]], [[2, 3, 0], [1]])
    for split, calls in enumerate(splits):
        log = tmp_path / "calls.log"
        log.unlink(missing_ok=True)
        models = _Models(Fake(log), "f", frozenset())
        back: dict[int, Any] = {}
        for call in calls:
            batch = {name: column([rows[i][name] for i in call]) for name in rows[0]}
            out = models(batch)
            back.update(zip((int(i) for i in out["index"]), out["back"], strict=True))
        together = any({0, 3} <= set(call) for call in calls)  # a copy with its first: analysed once
        assert ("c-jfk-copy.flac" in analysed(log)) == (not together)
        for number, order in enumerate(itertools.permutations(range(len(items)))):
            out = tmp_path / f"ray-{split}-{number}.jsonl"
            ledger = Ledger(out, "f")
            settler = _Settler(items, ledger, frozenset())
            statuses = [o.status for index in order for o in settler.add(index, back[index])]
            ledger.close()
            assert sorted(statuses) == ["done", "done", "failed", "reused"]
            assert by_path(out) == by_path(expected), (calls, order)


@pytest.mark.slow
def test_the_real_models_give_the_same_results_on_ray(
    tmp_path: Path, audio_dir: Path, understanding_dir: Path, ray_instance: Any
) -> None:
    root = tmp_path / "calls"
    root.mkdir()
    shutil.copy(audio_dir / "jfk.flac", root / "a-jfk.flac")
    shutil.copy(audio_dir / "zh_funasr_asr_example.wav", root / "b-zh.wav")
    shutil.copy(audio_dir / "jfk.flac", root / "c-jfk-copy.flac")
    (root / "d-broken.wav").write_bytes(b"\x00" * 100)
    items = read_source(root, OPTIONS)
    stage = PipelineStage(device="cpu", compute_type="int8", understanding_dir=str(understanding_dir))
    local_out, ray_out = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    run_batch(items, stage(), Ledger(local_out, "f"), workers=2, group=8)
    run_batch_ray(items, stage, Ledger(ray_out, "f"), group=8)

    def without_timings(value: Any) -> Any:
        """The records less their wall-clock times (the result's and its understanding's)."""
        if isinstance(value, dict):
            return {k: without_timings(v) for k, v in value.items() if k != "timings"}
        if isinstance(value, list):
            return [without_timings(v) for v in value]
        return value

    local, on_ray = without_timings(by_path(local_out)), without_timings(by_path(ray_out))
    assert "timings" in by_path(ray_out)[str(root / "a-jfk.flac")]["result"]
    assert on_ray == local
    first = on_ray[str(root / "a-jfk.flac")]
    assert first["status"] == "done" and on_ray[str(root / "c-jfk-copy.flac")]["status"] == "reused"
    result = first["result"]
    assert "country" in " ".join(t["text"] for t in result["turns"]).lower()
    assert result["options"]["transcription"]["batch_size"] == 4
    assert result["understanding"]["intent"]["grade"] in "HABCN"
    assert on_ray[str(root / "b-zh.wav")]["result"]["language"] == "zh"
    assert on_ray[str(root / "d-broken.wav")]["status"] == "failed"


@pytest.mark.slow
def test_the_command_with_engine_ray(
    tmp_path: Path, audio_dir: Path, understanding_dir: Path, ray_instance: Any
) -> None:
    from typer.testing import CliRunner

    from callintel.cli import app

    root = tmp_path / "calls"
    root.mkdir()
    shutil.copy(audio_dir / "zh_funasr_asr_example.wav", root / "zh.wav")
    (root / "broken.wav").write_bytes(b"\x00" * 100)
    out = tmp_path / "ray.jsonl"
    args = ["batch", str(root), "--engine", "ray", "--out", str(out), "--batch-size", "4", "--device", "cpu"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 1 and "broken.wav" in first.output, first.output  # the bad file, reported
    records = by_path(out)
    assert records[str(root / "zh.wav")]["status"] == "done"
    assert records[str(root / "zh.wav")]["result"]["understanding"]["intent"]["grade"] in "HABCN"
    again = CliRunner().invoke(app, args)
    assert "already done (skipped) │ 1" in again.output, again.output
    refused = CliRunner().invoke(app, ["batch", "db:", "--engine", "ray"])
    assert refused.exit_code == 2 and "local engine" in refused.output
