"""`callintel batch db:`: the service's pending calls in a batch, and `--reanalyze` on stored
transcripts, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from callintel.batch.db import REANALYSIS_MODEL, PendingCalls, reanalyze_calls, use_edited_scorecards
from callintel.batch.local import BatchItem, run_batch
from callintel.options import AnalysisOptions, TranscriptionOptions
from callintel.pipeline import Prepared
from callintel.service.worker import Worker
from callintel.store.db import Database
from callintel.store.models import Call, Job
from tests.service.test_service import Service
from tests.service_helpers import auth, iter_rows

BATCH = AnalysisOptions(transcription=TranscriptionOptions(batch_size=4))


@pytest.fixture
def service(db: Database, tmp_path: Path) -> Service:
    return Service(db, tmp_path)


class Stage:
    """The models' stage standing in for the pipeline: the service's fake result per call."""

    def __init__(self, service: Service, interrupt_after: int | None = None) -> None:
        self.service = service
        self.seen: list[tuple[BatchItem, Prepared]] = []
        self.interrupt_after = interrupt_after

    def __call__(self, work: Sequence[tuple[BatchItem, Prepared]]) -> list[Mapping[str, Any] | Exception]:
        out: list[Mapping[str, Any] | Exception] = []
        for item, prepared in work:
            if self.interrupt_after is not None and len(self.seen) == self.interrupt_after:
                raise KeyboardInterrupt
            self.seen.append((item, prepared))
            out.append(self.service.analyzer(item.path, item.options))
        return out


def calls_by_id(service: Service) -> dict[str, dict[str, Any]]:
    listing = service.client.get("/v1/calls", headers=auth(service.admin)).json()
    return {c["id"]: c for c in listing["items"]}


def test_pending_calls_are_claimed_analysed_and_stored_like_the_worker(
    service: Service, audio_dir: Path
) -> None:
    first = service.upload(audio_dir / "jfk.flac", customer_id="cust-9", language="en").json()
    second = service.upload(audio_dir / "zh_funasr_asr_example.wav", scenario="inbound_call").json()
    broken = service.upload(audio_dir / "en_auto_repairs_40_agent.flac").json()
    with service.db.session() as session:  # the stored file of the third call is damaged on disk
        call = session.get(Call, broken["id"])
        assert call is not None and call.recording is not None
        service.blobs.path(call.recording.storage_path).write_bytes(b"RIFF\x00\x00\x00\x00WAVEbroken")

    worker = Worker(service.db, service.blobs, service.analyzer, name="batch-1")
    pending = PendingCalls(worker, "fp-1")
    items = pending.claim(BATCH)
    assert [i.metadata["call_id"] for i in items] == [first["id"], second["id"], broken["id"]]
    assert items[0].options.transcription.language == "en"  # the call's own metadata
    assert items[1].options.scenario == "inbound_call" and items[0].options.transcription.batch_size == 4
    assert service.worker.run_once() is False  # a worker beside the batch finds nothing to take

    stage = Stage(service)
    try:
        summary = run_batch(items, stage, pending, workers=2, group=2)
    finally:
        pending.close()
    assert [item.metadata["call_id"] for item, _ in stage.seen] == [first["id"], second["id"]]
    assert all(p.speech is not None for _, p in stage.seen)  # VAD ran ahead, in the CPU workers
    assert (summary.done, len(summary.failures)) == (2, 1)
    ((path, reason),) = summary.failures
    assert path == str(items[2].path) and reason.split(":")[0] in ("EmptyAudioError", "NotAudioError")

    calls = calls_by_id(service)
    assert calls[first["id"]]["status"] == "done" and calls[first["id"]]["grade"] == "A"
    assert calls[second["id"]]["status"] == "done" and calls[second["id"]]["score"] == 80.0
    assert calls[broken["id"]]["status"] == "failed"  # unusable audio: not retried
    journey = service.client.get("/v1/customers/cust-9/journey", headers=auth(service.crm)).json()
    assert {(t["key"], t["value"]) for t in journey["current_tags"]} >= {("intent_grade", "A")}
    events = [(e["type"], e["call_id"]) for e in iter_rows(service.db, "events")]
    assert ("call.analyzed", first["id"]) in events and ("call.analyzed", second["id"]) in events
    assert ("customer.tags_changed", first["id"]) in events and ("call.failed", broken["id"]) in events
    jobs = {j["call_id"]: j for j in iter_rows(service.db, "jobs")}
    assert jobs[first["id"]]["status"] == "done" and jobs[broken["id"]]["status"] == "failed"
    assert service.worker.run_once() is False  # nothing left for the workers


def test_a_stopped_batch_gives_its_calls_back(service: Service, audio_dir: Path) -> None:
    ids = [
        service.upload(audio_dir / name).json()["id"] for name in ("jfk.flac", "zh_funasr_asr_example.wav")
    ]
    pending = PendingCalls(Worker(service.db, service.blobs, service.analyzer, name="batch-2"), "fp")
    items = pending.claim(BATCH, limit=5)
    with pytest.raises(KeyboardInterrupt):
        try:
            run_batch(items, Stage(service, interrupt_after=1), pending, workers=1, group=1)
        finally:
            pending.close()
    calls = calls_by_id(service)
    assert calls[ids[0]]["status"] == "done" and calls[ids[1]]["status"] == "queued"
    with service.db.session() as session:
        job = session.query(Job).filter(Job.call_id == ids[1]).one()
        assert job.attempts == 0 and job.lease_owner is None  # the claim did not cost an attempt
    assert service.worker.run_once() is True  # a worker can take it at once
    assert calls_by_id(service)[ids[1]]["status"] == "done"


def test_claims_are_limited_and_kept_alive(service: Service, audio_dir: Path) -> None:
    for _ in range(2):
        service.upload(audio_dir / "jfk.flac")
    import datetime as dt

    pending = PendingCalls(
        Worker(service.db, service.blobs, service.analyzer, name="batch-3"),
        "fp",
        lease=dt.timedelta(seconds=0.6),
    )
    (item,) = pending.claim(BATCH, limit=1)
    with service.db.session() as session:
        before = session.query(Job).filter(Job.call_id == item.metadata["call_id"]).one().lease_expires_at
    import time

    time.sleep(0.9)  # past the first lease: the heartbeat (every 0.2 s) has renewed it
    with service.db.session() as session:
        after = session.query(Job).filter(Job.call_id == item.metadata["call_id"]).one().lease_expires_at
    pending.close()
    assert after > before
    assert service.worker.run_once() is True  # the other call was never claimed by the batch


@pytest.mark.slow
def test_reanalyze_runs_understanding_again_on_stored_transcripts(
    service: Service, audio_dir: Path, pipeline: Any, understanding_dir: Path
) -> None:
    from callintel.service.worker import pipeline_analyzer
    from callintel.understand.classifiers import Understander

    ids = [
        service.upload(audio_dir / "zh_funasr_asr_example.wav", customer_id="cust-1").json()["id"],
        service.upload(audio_dir / "jfk.flac", scenario="inbound_call").json()["id"],
    ]
    worker = Worker(service.db, service.blobs, pipeline_analyzer(pipeline), name="w")
    while worker.run_once():
        pass
    before = {e["id"] for e in iter_rows(service.db, "events")}
    transcripts = {r["call_id"]: r["turns"] for r in iter_rows(service.db, "transcripts")}

    understander = Understander(understanding_dir, service.settings.models_dir)
    summary = reanalyze_calls(service.db, understander, service.settings.models_dir, group=8)
    assert (summary.total, summary.done, summary.skipped, summary.failures) == (2, 2, 0, [])
    analyses = sorted(iter_rows(service.db, "analyses"), key=lambda r: r["created_at"])
    assert len(analyses) == 4
    for call_id in ids:
        first, again = [a for a in analyses if a["call_id"] == call_id]
        names = {m["name"]: m["version"] for m in _json(again["result"])["models"]}
        assert REANALYSIS_MODEL in names and REANALYSIS_MODEL not in {
            m["name"] for m in _json(first["result"])["models"]
        }
        assert _json(again["result"])["turns"] == _json(first["result"])["turns"]  # not transcribed again
        assert (
            _json(again["scorecard"])["checkpoints"].keys() == _json(first["scorecard"])["checkpoints"].keys()
        )
    assert {r["call_id"]: r["turns"] for r in iter_rows(service.db, "transcripts")} == transcripts
    new_events = [e for e in iter_rows(service.db, "events") if e["id"] not in before]
    assert sorted(e["call_id"] for e in new_events if e["type"] == "call.analyzed") == sorted(ids)

    # A rerun with the same models and scorecards does nothing.
    summary = reanalyze_calls(service.db, understander, service.settings.models_dir)
    assert (summary.done, summary.skipped) == (0, 2)

    # A scorecard edited through the API: only that scenario's calls are scored again, with it.
    url = "/v1/scorecards/showroom"
    document = service.client.get(url, headers=auth(service.admin)).json()["document"]
    edited = dict(document, version="9", threshold=0.99)
    assert service.client.put(url, json=edited, headers=auth(service.admin)).status_code == 200
    understander = use_edited_scorecards(service.db, understander, service.settings.models_dir)
    summary = reanalyze_calls(service.db, understander, service.settings.models_dir)
    assert (summary.done, summary.skipped) == (1, 1)
    detail = service.client.get(f"/v1/calls/{ids[0]}", headers=auth(service.admin)).json()
    assert detail["scorecard"]["scorecard_version"] == "9"


def _json(value: Any) -> Any:
    import json

    return json.loads(value) if isinstance(value, str) else value


@pytest.mark.slow
def test_the_command_on_the_database(
    service: Service,
    audio_dir: Path,
    understanding_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from typer.testing import CliRunner

    from callintel.cli import app

    monkeypatch.setenv("CALLINTEL_DATA_DIR", str(service.settings.data_dir))
    monkeypatch.setenv("CALLINTEL_DATABASE_URL", service.db.url)
    call = service.upload(audio_dir / "zh_funasr_asr_example.wav", customer_id="cust-3").json()
    out = tmp_path / "copy.jsonl"
    first = CliRunner().invoke(app, ["batch", "db:", "--batch-size", "4", "--out", str(out)])
    assert first.exit_code == 0, first.output
    assert "claimed 1 pending calls" in first.output and "analysed               │ 1" in first.output
    detail = service.client.get(f"/v1/calls/{call['id']}", headers=auth(service.crm)).json()
    assert detail["status"] == "done" and detail["intent"]["grade"] in "HABCN" and detail["transcript"]
    (copied,) = [line for line in out.read_text("utf-8").splitlines() if line]
    assert call["id"] in copied

    again = CliRunner().invoke(app, ["batch", "db:", "--reanalyze"])
    assert again.exit_code == 0 and "analysed               │ 1" in again.output, again.output
    assert len(list(iter_rows(service.db, "analyses"))) == 2
    refused = CliRunner().invoke(app, ["batch", str(audio_dir), "--reanalyze"])
    assert refused.exit_code == 2 and "db:" in refused.output


def test_a_recording_uploaded_twice_is_analysed_once(service: Service, audio_dir: Path) -> None:
    ids = [service.upload(audio_dir / "jfk.flac", external_id=f"crm-{n}").json()["id"] for n in range(2)]
    pending = PendingCalls(Worker(service.db, service.blobs, service.analyzer, name="batch-4"), "fp")
    stage = Stage(service)
    try:
        summary = run_batch(pending.claim(BATCH), stage, pending, workers=1, group=1)  # two groups
    finally:
        pending.close()
    assert len(stage.seen) == 1 and (summary.done, summary.reused) == (1, 1)
    calls = calls_by_id(service)
    assert all(calls[i]["status"] == "done" and calls[i]["grade"] == "A" for i in ids)
