"""The same audio twice (issue 17): an upload whose bytes match a call this dealer already had
analysed reuses that call's stored transcript (understood again, no second ASR) and says so;
never across dealers. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging
import wave
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api import create_app
from callintel.audio.decode import load_audio
from callintel.options import AnalysisOptions
from callintel.pipeline import Pipeline
from callintel.result import AnalysisResult, Redaction, RedactionSpan
from callintel.service.monitoring import AnalysisMetrics
from callintel.service.worker import Worker
from callintel.store.blobs import BlobStore
from callintel.store.db import Database
from callintel.understand.types import CallToUnderstand, Understanding
from tests.service.test_service_redaction import analysis as phone_call
from tests.service_helpers import FakeAnalyzer, auth, fake_result, iter_rows, make_key, service_settings


class CountingAnalyzer(FakeAnalyzer):
    """The fake pipeline, counting its transcriptions (``calls``: one per ASR run) and the stored
    transcripts it was asked to understand again."""

    def __init__(self, analysis: Any = None) -> None:
        super().__init__()
        self.analysis = analysis or fake_result
        self.understood: list[tuple[AnalysisResult, AnalysisOptions]] = []

    def __call__(self, path: Path, options: AnalysisOptions, scorecard: Any = None) -> AnalysisResult:
        super().__call__(path, options, scorecard)
        return self.analysis(options)

    def understand_again(
        self, stored: AnalysisResult, options: AnalysisOptions, scorecard: Any
    ) -> AnalysisResult:
        self.understood.append((stored, options))
        fresh = fake_result(options, turns=stored.turns)
        return replace(
            stored,
            understanding=fresh.understanding,
            options=replace(stored.options, scenario=options.scenario),
        )


class Service:
    def __init__(self, db: Database, tmp_path: Path, analysis: Any = None, batch: int = 1) -> None:
        self.db = db
        self.settings = service_settings(tmp_path, db.url)
        self.client = TestClient(create_app(self.settings, in_process_workers=0, db=db))
        self.analyzer = CountingAnalyzer(analysis)
        self.metrics = AnalysisMetrics()
        self.worker = Worker(
            db, BlobStore(self.settings.audio_dir), self.analyzer, name="w", batch=batch, metrics=self.metrics
        )
        self.admin = make_key(db, "admin", "*")
        self.crm = make_key(db, "crm", "d1", "d2")

    def upload(self, path: Path, dealer: str = "d1", **form: str) -> str:
        with path.open("rb") as f:
            answer = self.client.post(
                "/v1/calls",
                files={"audio": (path.name, f, "audio/flac")},
                data={"dealer": dealer, "scenario": "showroom"} | form,
                headers=auth(self.crm),
            )
        assert answer.status_code == 202, answer.text
        call_id: str = answer.json()["id"]
        return call_id

    def call(self, call_id: str) -> dict[str, Any]:
        answer = self.client.get(f"/v1/calls/{call_id}", headers=auth(self.crm))
        assert answer.status_code == 200, answer.text
        detail: dict[str, Any] = answer.json()
        return detail

    def work(self) -> None:
        while self.worker.run_once():
            pass


def test_the_same_audio_twice_is_transcribed_once(
    db: Database, tmp_path: Path, audio_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    service = Service(db, tmp_path)
    first = service.upload(audio_dir / "jfk.flac", external_id="crm-1")
    service.work()
    assert len(service.analyzer.calls) == 1

    caplog.set_level(logging.INFO, logger="callintel.service.worker")
    again = service.upload(audio_dir / "jfk.flac", external_id="crm-2", scenario="inbound_call")
    service.work()
    assert len(service.analyzer.calls) == 1, "no second ASR"
    ((stored, options),) = service.analyzer.understood
    assert options.scenario == "inbound_call"

    original, reused = service.call(first), service.call(again)
    assert reused["status"] == "done" and reused["reused_transcript_of"] == first
    assert original["reused_transcript_of"] is None
    assert reused["transcript"] == original["transcript"] and [t.text for t in stored.turns] == [
        t["text"] for t in original["transcript"]
    ]
    assert reused["scorecard"]["scenario"] == "inbound_call"  # understood as its own call
    assert {(t["key"], t["value"]) for t in reused["tags"]} >= {("intent_grade", "A")}
    listed = service.client.get("/v1/calls", headers=auth(service.crm)).json()["items"]
    assert {c["id"]: c["reused_transcript_of"] for c in listed} == {first: None, again: first}
    (end,) = [r.getMessage() for r in caplog.records if "event=analysis.end" in r.getMessage()]
    assert f"call={again}" in end and f"reused_transcript_of={first}" in end and "transcribe_s" not in end
    assert service.metrics.registry.get_sample_value("callintel_transcripts_reused_total") == 1.0

    # The call whose transcript was reused is erased: the reuse stays, pointing at nothing.
    assert service.client.delete(f"/v1/calls/{first}", headers=auth(service.crm)).status_code == 204
    after = service.call(again)
    assert after["reused_transcript_of"] is None and after["transcript"] == reused["transcript"]
    # And a third upload finds the reuse, itself analysed from the same bytes.
    third = service.upload(audio_dir / "jfk.flac", external_id="crm-3")
    service.work()
    assert len(service.analyzer.calls) == 1 and service.call(third)["reused_transcript_of"] == again


def test_never_across_dealers_nor_other_transcription_asks(
    db: Database, tmp_path: Path, audio_dir: Path
) -> None:
    service = Service(db, tmp_path)
    service.upload(audio_dir / "jfk.flac", external_id="a")
    service.work()
    other_dealer = service.upload(audio_dir / "jfk.flac", dealer="d2", external_id="c")
    english = service.upload(audio_dir / "jfk.flac", external_id="d", language="en")
    mono = service.upload(audio_dir / "jfk.flac", external_id="e", channel_layout="mono")
    other_audio = service.upload(audio_dir / "zh_funasr_asr_example.wav", external_id="f")
    service.work()
    assert len(service.analyzer.calls) == 5, "each of these is transcribed"
    assert service.analyzer.understood == []
    for call in (other_dealer, english, mono, other_audio):
        assert service.call(call)["reused_transcript_of"] is None
    # Asked the same way as an analysed one: reused (the newest analysis of that audio).
    same_english = service.upload(audio_dir / "jfk.flac", external_id="g", language="en")
    service.work()
    assert len(service.analyzer.calls) == 5 and service.call(same_english)["reused_transcript_of"] == english


def test_a_batch_worker_reuses_too(db: Database, tmp_path: Path, audio_dir: Path) -> None:
    service = Service(db, tmp_path, batch=4)
    first = service.upload(audio_dir / "jfk.flac", external_id="a")
    service.work()
    copies = [service.upload(audio_dir / "jfk.flac", external_id=f"copy-{i}") for i in range(2)]
    fresh = service.upload(audio_dir / "zh_funasr_asr_example.wav", external_id="other")
    service.work()
    assert service.analyzer.batches == [1, 1], "only the new audio was analysed in the second batch"
    assert len(service.analyzer.calls) == 2 and len(service.analyzer.understood) == 2
    assert [service.call(c)["reused_transcript_of"] for c in copies] == [first, first]
    assert service.call(fresh)["reused_transcript_of"] is None


def test_a_reused_transcript_keeps_the_dealers_redaction_and_mutes_the_copy(
    db: Database, tmp_path: Path
) -> None:
    """The stored transcript is masked already: its spans still mute the new upload's audio."""
    service = Service(db, tmp_path, analysis=phone_call)
    wanted = {"redaction": {"enabled": True, "kinds": ["phone"], "mute_audio": True}}
    answer = service.client.put("/v1/dealers/d1/settings", json=wanted, headers=auth(service.admin))
    assert answer.status_code == 200, answer.text
    rate = 16000
    t = np.arange(6 * rate) / rate
    path = tmp_path / "call.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((9830 * np.sin(2 * np.pi * 300 * t)).astype("<i2").tobytes())
    first = service.upload(path, external_id="a")
    service.work()
    again = service.upload(path, external_id="b")
    service.work()
    assert len(service.analyzer.calls) == 1
    reused = service.call(again)
    assert reused["reused_transcript_of"] == first
    assert "幺三八" not in reused["transcript"][1]["text"]
    (stored,) = [r for r in iter_rows(db, "analyses") if r["call_id"] == again]
    result = stored["result"] if isinstance(stored["result"], dict) else json.loads(stored["result"])
    assert [(s["turn"], s["kind"], s["start"], s["end"]) for s in result["redaction"]["spans"]] == [
        (1, "phone", 2.8, 4.4)
    ]
    audio = service.client.get(f"/v1/calls/{again}/audio", headers=auth(service.crm))
    assert audio.status_code == 200 and audio.content[:4] == b"fLaC", (
        "the upload was replaced by a muted copy"
    )
    muted = tmp_path / "muted.flac"
    muted.write_bytes(audio.content)
    samples = load_audio(muted).mono()
    rms = lambda a, b: float(np.sqrt(np.mean(samples[int(a * rate) : int(b * rate)] ** 2)))  # noqa: E731
    assert rms(2.8, 4.4) < 1e-3 and rms(0.5, 2.5) > 0.1


class FakeUnderstander:
    def __init__(self) -> None:
        self.asked: list[CallToUnderstand] = []

    def understand_many(self, calls: list[CallToUnderstand]) -> list[Understanding]:
        self.asked += calls
        out = []
        for call in calls:
            understanding = fake_result(AnalysisOptions(scenario=call.scenario)).understanding  # type: ignore[arg-type]
            assert understanding is not None
            out.append(replace(understanding, timings={"understand": 0.25}))
        return out


def test_the_pipeline_understands_a_stored_transcript_without_hearing_it() -> None:
    understander = FakeUnderstander()
    # No transcriber, diarizer or role model: understanding again must not need them.
    pipeline = Pipeline(None, None, {}, lambda: None, understander)  # type: ignore[arg-type]
    stored = replace(
        fake_result(AnalysisOptions(scenario="showroom")),
        timings={"decode": 0.1, "transcribe": 3.0},
        redaction=Redaction(("phone",), (RedactionSpan(1, "phone", 2.0, 3.0),)),
    )
    result = pipeline.understand_again(
        stored, AnalysisOptions(scenario="service_call", call_date="2026-12-01")
    )
    (asked,) = understander.asked
    assert (
        asked.scenario == "service_call"
        and asked.call_date is not None
        and asked.call_date.isoformat() == "2026-12-01"
    )
    assert [t.text for t in asked.turns] == [t.text for t in stored.turns]
    assert result.turns == stored.turns and result.source == stored.source and result.models == stored.models
    assert result.redaction == stored.redaction
    assert result.options.scenario == "service_call" and result.options.call_date == "2026-12-01"
    assert set(result.timings) == {"understand", "metrics"}, "no decoding, no transcription"
    assert result.metrics is not None
