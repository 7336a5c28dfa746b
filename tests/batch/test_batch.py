"""`callintel batch`: sources, the resumable ledger, failures that do not stop the batch."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from callintel.batch.local import BatchItem, Ledger, ManifestError, fingerprint, read_source, run_batch
from callintel.options import AnalysisOptions
from callintel.pipeline import Prepared
from tests.helpers import day_of_recordings


class Counting:
    """Stands in for the models: counts its calls, answers a small result."""

    def __init__(self, fail_on: str | None = None, interrupt_after: int | None = None) -> None:
        self.paths: list[str] = []
        self.fail_on = fail_on
        self.interrupt_after = interrupt_after

    def __call__(self, work: Sequence[tuple[BatchItem, Prepared]]) -> list[Mapping[str, Any] | Exception]:
        return [self.one(item, prepared) for item, prepared in work]

    def one(self, item: BatchItem, prepared: Prepared) -> Mapping[str, Any] | Exception:
        if self.interrupt_after is not None and len(self.paths) == self.interrupt_after:
            raise KeyboardInterrupt  # the batch is killed here
        self.paths.append(item.path.name)
        if self.fail_on and item.path.name == self.fail_on:
            return RuntimeError("CUDA out of memory")
        return {
            "duration": prepared.audio.duration,
            "understanding": {"intent": {"grade": "B"}, "scorecard": {"score": 50.0}},
            "scenario": item.options.scenario,
        }


@pytest.fixture
def folder(tmp_path: Path, audio_dir: Path) -> Path:
    return day_of_recordings(tmp_path / "day", audio_dir)


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def test_a_folder_bad_files_and_copies(folder: Path, tmp_path: Path) -> None:
    items = read_source(folder)
    assert [i.path.name for i in items] == ["a-jfk.flac", "b-zh.wav", "d-broken.wav", "c-jfk-copy.flac"]
    out = tmp_path / "out.jsonl"
    analyze = Counting()
    summary = run_batch(items, analyze, Ledger(out, "f1"), workers=2)
    assert analyze.paths == ["a-jfk.flac", "b-zh.wav"]  # the copy is not analysed again
    assert (summary.done, summary.reused, summary.skipped) == (2, 1, 0)
    ((bad, reason),) = summary.failures
    assert bad.endswith("d-broken.wav") and ("AudioDecodeError" in reason or "NotAudioError" in reason)
    assert summary.grades == {"B": 3} and summary.mean_score == 50.0
    assert 15.0 < summary.audio_seconds < 17.5  # jfk 11 s + 5.5 s; the copy is not counted twice
    by_name = {Path(r["path"]).name: r for r in records(out)}
    assert by_name["c-jfk-copy.flac"]["status"] == "reused"
    assert by_name["c-jfk-copy.flac"]["result"] == by_name["a-jfk.flac"]["result"]
    assert by_name["d-broken.wav"]["status"] == "failed" and by_name["d-broken.wav"]["error"]

    # The rerun does no work twice; the failed file is tried again (and fails again).
    again = Counting()
    summary = run_batch(items, again, Ledger(out, "f1"), workers=2)
    assert again.paths == [] and summary.skipped == 3 and len(summary.failures) == 1
    # New models or options: everything is analysed again.
    newer = Counting()
    run_batch(items, newer, Ledger(out, "f2"), workers=2)
    assert newer.paths == ["a-jfk.flac", "b-zh.wav"]


def test_killed_half_way_the_rerun_finishes_the_rest(folder: Path, tmp_path: Path) -> None:
    items = read_source(folder)
    out = tmp_path / "out.jsonl"
    with pytest.raises(KeyboardInterrupt):
        run_batch(items, Counting(interrupt_after=1), Ledger(out, "f"), workers=1)
    with out.open("a") as f:
        f.write('{"path": "/half/written", "sta')  # a record cut short by the kill
    analyze = Counting()
    summary = run_batch(items, analyze, Ledger(out, "f"), workers=1)
    assert analyze.paths == ["b-zh.wav"]
    assert (summary.skipped, summary.done, summary.reused) == (1, 1, 1)
    lines = out.read_text("utf-8").splitlines()
    assert all(json.loads(line) for line in lines)  # the cut line is gone, every line is whole
    done = [r for r in records(out) if r["status"] in ("done", "reused")]
    assert sorted(Path(r["path"]).name for r in done) == ["a-jfk.flac", "b-zh.wav", "c-jfk-copy.flac"]


def test_a_model_error_on_one_file_does_not_stop_the_batch(folder: Path, tmp_path: Path) -> None:
    items = read_source(folder)
    summary = run_batch(items, Counting(fail_on="a-jfk.flac"), Ledger(tmp_path / "o.jsonl", "f"), workers=1)
    reasons = dict(summary.failures)
    assert "CUDA out of memory" in reasons[str(folder / "a-jfk.flac")]
    assert summary.done == 2  # b-zh, and the copy of a-jfk analysed on its own


def test_manifests_csv_and_jsonl(folder: Path, tmp_path: Path) -> None:
    csv_manifest = folder / "manifest.csv"
    csv_manifest.write_text(
        "path,scenario,channel_layout,language,recorded_at,dealer,salesperson_id\n"
        "a-jfk.flac,inbound_call,mono,en,2026-11-20T10:00:00+08:00,d1,s-9\n"
        f"{folder / 'b-zh.wav'},,,,,d2,\n",
        encoding="utf-8",
    )
    first, second = read_source(csv_manifest, AnalysisOptions(scenario="showroom"))
    assert first.path == folder / "a-jfk.flac"
    assert first.options.scenario == "inbound_call" and first.options.speakers.channels == "mono"
    assert first.options.transcription.language == "en" and first.options.call_date == "2026-11-20"
    assert first.metadata["dealer"] == "d1" and first.metadata["salesperson_id"] == "s-9"
    assert second.options.scenario == "showroom" and second.metadata == {"dealer": "d2"}
    jsonl = folder / "manifest.jsonl"
    jsonl.write_text('{"path": "b-zh.wav", "customer_id": "c-1"}\n\n{"audio": "a-jfk.flac"}\n', "utf-8")
    assert [i.path.name for i in read_source(jsonl)] == ["b-zh.wav", "a-jfk.flac"]

    for text, problem in (
        ("scenario\nshowroom\n", "manifest.csv:2: no audio path"),
        ("path,scenario\na.wav,garage\n", "manifest.csv:2: unknown scenario 'garage'"),
        ("path,language\na.wav,klingon\n", "manifest.csv:2: unknown language 'klingon'"),
        ("path,recorded_at\na.wav,yesterday\n", "manifest.csv:2: call_date must be an ISO date"),
    ):
        csv_manifest.write_text(text, encoding="utf-8")
        with pytest.raises(ManifestError, match=problem):
            read_source(csv_manifest)
    jsonl.write_text('{"path": "a.wav"}\n[1, 2]\n', "utf-8")
    with pytest.raises(ManifestError, match="manifest.jsonl:2: each line must be a JSON object"):
        read_source(jsonl)
    with pytest.raises(ManifestError, match="must be .csv or .jsonl"):
        read_source(folder / "notes.txt")


def test_fingerprint_follows_models_and_general_options_only() -> None:
    base = fingerprint({"asr": "1"}, AnalysisOptions())
    assert base == fingerprint({"asr": "1"}, AnalysisOptions(scenario="showroom", call_date="2026-01-01"))
    assert base != fingerprint({"asr": "2"}, AnalysisOptions())
    assert base != fingerprint({"asr": "1"}, AnalysisOptions(understand=False))


@pytest.mark.slow
def test_the_command_with_the_real_models(tmp_path: Path, audio_dir: Path, understanding_dir: Path) -> None:
    from typer.testing import CliRunner

    from callintel.cli import app

    root = tmp_path / "calls"
    root.mkdir()
    shutil.copy(audio_dir / "jfk.flac", root / "one.flac")
    shutil.copy(audio_dir / "jfk.flac", root / "two.flac")
    (root / "three.wav").write_bytes(b"\x00" * 100)
    out = tmp_path / "results.jsonl"
    args = ["batch", str(root), "--out", str(out), "--batch-size", "4", "--workers", "2"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 1, first.output  # one file failed
    assert "analysed" in first.output and "three.wav" in first.output
    by_name = {Path(r["path"]).name: r for r in records(out)}
    assert by_name["one.flac"]["status"] == "done" and by_name["two.flac"]["status"] == "reused"
    result = by_name["one.flac"]["result"]
    assert "country" in " ".join(t["text"] for t in result["turns"]).lower()
    assert result["options"]["transcription"]["batch_size"] == 4
    assert result["understanding"]["intent"]["grade"] in "HABCN"
    second = CliRunner().invoke(app, args)
    assert "already done (skipped) │ 2" in second.output, second.output
    assert len(records(out)) == 4  # only the failed file was tried again
