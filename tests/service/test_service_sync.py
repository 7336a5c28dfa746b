"""A CRM's synchronous analysis is answered while the in-process worker analyses a long call.

The worker and ``POST /v1/calls:analyze`` share one :data:`~callintel.service.worker.Analyzer`
made by ``pipeline_analyzer``. Here the pipeline behind it is a stand-in whose long analysis
blocks until the test releases it: the short request must come back while the long one is still
running (before issue 15 one lock per process made it wait for the whole long call).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from api import create_app
from callintel.options import AnalysisOptions
from callintel.result import AnalysisResult
from callintel.service.worker import pipeline_analyzer
from callintel.store.db import Database
from tests.service_helpers import auth, fake_result, make_key, service_settings


class LongThenShort:
    """A pipeline whose analysis of ``long.wav`` holds until ``release`` is set."""

    def __init__(self) -> None:
        self.long_started = threading.Event()
        self.release = threading.Event()
        self.scorecards: list[Any] = []

    def analyze(self, path: Path, options: AnalysisOptions, scorecard: Any = None) -> AnalysisResult:
        self.scorecards.append(scorecard)
        if path.suffix == ".wav":  # the upload of pyannote_sample.wav (30 s) stands for the long call
            self.long_started.set()
            assert self.release.wait(60), "the test never released the long analysis"
        return fake_result(options)


def test_a_short_synchronous_request_is_answered_while_the_worker_is_busy(
    db: Database, tmp_path: Path, audio_dir: Path
) -> None:
    pipeline = LongThenShort()
    analyzer = pipeline_analyzer(pipeline)  # type: ignore[arg-type]  (a stand-in pipeline)
    settings = service_settings(tmp_path, db.url)
    app = create_app(settings, analyzer=lambda: analyzer, in_process_workers=1, db=db)
    crm = make_key(db, "crm", "d1")
    try:
        with TestClient(app) as client:
            with (audio_dir / "pyannote_sample.wav").open("rb") as f:
                queued = client.post(
                    "/v1/calls",
                    files={"audio": ("long.wav", f, "audio/wav")},
                    data={"dealer": "d1", "scenario": "showroom"},
                    headers=auth(crm),
                )
            assert queued.status_code in (200, 201, 202), queued.text
            assert pipeline.long_started.wait(30), "the in-process worker never took the long call"
            started = time.monotonic()
            with (audio_dir / "jfk.flac").open("rb") as f:
                answer = client.post(
                    "/v1/calls:analyze",
                    files={"audio": ("short.flac", f, "audio/flac")},
                    data={"scenario": "inbound_call"},
                    headers=auth(crm),
                )
            assert answer.status_code == 200, answer.text
            assert answer.json()["understanding"]["intent"]["grade"] == "A"
            assert not pipeline.release.is_set() and time.monotonic() - started < 30
            call = client.get(f"/v1/calls/{queued.json()['id']}", headers=auth(crm)).json()
            assert call["status"] == "processing"  # the long one was still being analysed
            pipeline.release.set()
            deadline = time.monotonic() + 30
            while call["status"] != "done" and time.monotonic() < deadline:
                time.sleep(0.1)
                call = client.get(f"/v1/calls/{call['id']}", headers=auth(crm)).json()
            assert call["status"] == "done"
    finally:
        pipeline.release.set()
