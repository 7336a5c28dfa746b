"""Operators see the work (issue 17): a structured log line for each analysis started and ended
(call, dealer, stage timings, outcome, duration, error type), and Prometheus counters and
histograms at /metrics, which a token can close. SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api import create_app
from callintel.errors import AudioDecodeError
from callintel.options import AnalysisOptions
from callintel.result import AnalysisResult
from callintel.service.monitoring import logfmt
from callintel.service.worker import Worker
from callintel.store.blobs import BlobStore
from callintel.store.db import Database
from tests.service_helpers import FakeAnalyzer, auth, make_key, service_settings

TIMINGS = {
    "decode": 0.2,
    "language": 0.1,
    "transcribe": 3.5,
    "roles": 0.01,
    "understand": 0.4,
    "metrics": 0.02,
}


class TimedAnalyzer(FakeAnalyzer):
    """The fake pipeline, with the stage timings a real result carries."""

    def __call__(self, path: Path, options: AnalysisOptions, scorecard: Any = None) -> AnalysisResult:
        return replace(super().__call__(path, options, scorecard), timings=dict(TIMINGS))


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Prometheus' text format as {(sample name, sorted labels): value}."""
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return out


def analysis_lines(caplog: pytest.LogCaptureFixture, event: str) -> list[dict[str, str]]:
    """The fields of the worker's ``event=<event>`` lines (logfmt; quoted values unquoted)."""
    lines = []
    for record in caplog.records:
        message = record.getMessage()
        if message.startswith(f"event={event} "):
            pairs = re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)', message)
            lines.append({k: v.strip('"') for k, v in pairs})
            assert record.analysis["event"] == event  # the same fields on the record, for JSON logs
    return lines


def test_each_analysis_is_logged_and_counted(
    db: Database, tmp_path: Path, audio_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = service_settings(tmp_path, db.url)
    app = create_app(settings, in_process_workers=0, db=db)
    client = TestClient(app)
    analyzer = TimedAnalyzer()
    # The worker counts into the app's metrics, as the in-process workers do.
    worker = Worker(
        db, BlobStore(settings.audio_dir), analyzer, name="w1", metrics=app.state.analysis_metrics
    )
    crm = make_key(db, "crm", "d1")

    def upload(name: str, external_id: str, scenario: str = "showroom") -> str:
        with (audio_dir / name).open("rb") as f:
            answer = client.post(
                "/v1/calls",
                files={"audio": (name, f, "audio/flac")},
                data={"dealer": "d1", "scenario": scenario, "external_id": external_id},
                headers=auth(crm),
            )
        assert answer.status_code == 202, answer.text
        call_id: str = answer.json()["id"]
        return call_id

    before = samples(client.get("/metrics").text)
    assert not any(name == "callintel_analyses_total" for name, _ in before), "nothing counted yet"
    caplog.set_level(logging.INFO, logger="callintel.service.worker")

    done = upload("jfk.flac", "ok")
    assert worker.run_once()
    analyzer.fail_with = AudioDecodeError("truncated stream")
    broken = upload("zh_funasr_asr_example.wav", "broken", scenario="inbound_call")
    assert worker.run_once()
    analyzer.fail_with = RuntimeError("out of memory")
    flaky = upload("stereo_diarization.wav", "flaky")
    assert worker.run_once()

    starts = analysis_lines(caplog, "analysis.start")
    assert [(s["call"], s["dealer"], s["attempt"]) for s in starts] == [
        (done, "d1", "1"),
        (broken, "d1", "1"),
        (flaky, "d1", "1"),
    ]
    ok, audio_error, retried = analysis_lines(caplog, "analysis.end")
    assert ok["call"] == done and ok["dealer"] == "d1" and ok["scenario"] == "showroom"
    assert ok["outcome"] == "done" and float(ok["duration_s"]) > 0 and float(ok["audio_s"]) == 4.0
    assert float(ok["transcribe_s"]) == 3.5 and float(ok["understand_s"]) == 0.4 and float(ok["store_s"]) > 0
    assert "error_type" not in ok
    assert audio_error["call"] == broken and audio_error["outcome"] == "failed"
    assert audio_error["error_type"] == "AudioDecodeError" and audio_error["error"] == "truncated stream"
    assert (
        retried["call"] == flaky and retried["outcome"] == "retry" and retried["error_type"] == "RuntimeError"
    )
    assert "transcribe_s" not in audio_error and "transcribe_s" not in retried
    failures = [
        r for r in caplog.records if r.getMessage().startswith("event=analysis.end") and r.levelno >= 30
    ]
    assert len(failures) == 2, "a failed analysis logs at WARNING"

    metrics_text = client.get("/metrics").text
    after = samples(metrics_text)
    assert after[("callintel_analyses_total", (("outcome", "done"), ("scenario", "showroom")))] == 1.0
    assert after[("callintel_analyses_total", (("outcome", "failed"), ("scenario", "inbound_call")))] == 1.0
    assert after[("callintel_analyses_total", (("outcome", "retry"), ("scenario", "showroom")))] == 1.0
    assert (
        after[
            ("callintel_analysis_failures_total", (("error_type", "AudioDecodeError"), ("retried", "false")))
        ]
        == 1.0
    )
    assert (
        after[("callintel_analysis_failures_total", (("error_type", "RuntimeError"), ("retried", "true")))]
        == 1.0
    )
    assert after[("callintel_analysis_duration_seconds_count", (("outcome", "done"),))] == 1.0
    assert after[("callintel_analysis_duration_seconds_count", (("outcome", "retry"),))] == 1.0
    transcribe = (("stage", "transcribe"),)
    assert after[("callintel_analysis_stage_duration_seconds_count", transcribe)] == 1.0
    assert after[("callintel_analysis_stage_duration_seconds_sum", transcribe)] == pytest.approx(3.5)
    assert after[("callintel_analysis_stage_duration_seconds_bucket", (("le", "2.5"), *transcribe))] == 0.0
    assert after[("callintel_analysis_stage_duration_seconds_bucket", (("le", "5.0"), *transcribe))] == 1.0
    assert after[("callintel_analysed_audio_seconds_total", ())] == 4.0
    assert after[("callintel_jobs", (("status", "done"),))] == 1.0  # the database's gauges are still there
    # No dealer, call or customer ids in what a scraper reads.
    for call_id in (done, broken, flaky):
        assert call_id not in metrics_text
    assert "d1" not in metrics_text and "dealer" not in metrics_text


def test_a_metrics_token_closes_metrics(db: Database, tmp_path: Path) -> None:
    settings = replace(service_settings(tmp_path, db.url), metrics_token="scrape-8f2c")
    client = TestClient(create_app(settings, in_process_workers=0, db=db))
    missing = client.get("/metrics")
    assert missing.status_code == 401 and missing.headers["content-type"] == "application/problem+json"
    assert "callintel_" not in missing.text
    assert client.get("/metrics", headers=auth("scrape-8f2d")).status_code == 401
    admin = make_key(db, "admin", "*")
    assert client.get("/metrics", headers=auth(admin)).status_code == 401, "an API key is no metrics token"
    opened = client.get("/metrics", headers=auth("scrape-8f2c"))
    assert opened.status_code == 200 and "# TYPE callintel_analyses_total counter" in opened.text
    assert client.get("/healthz").status_code == 200  # the probes stay open


def test_logfmt_quotes_what_needs_it() -> None:
    line = logfmt({"event": "analysis.end", "error": 'bad "x" = 1', "empty": "", "none": None, "s": 1.23456})
    assert line == 'event=analysis.end error="bad \\"x\\" = 1" empty="" s=1.235'
