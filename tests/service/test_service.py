"""The REST service and its job queue, on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient

from api import create_app
from callintel.errors import AudioDecodeError
from callintel.service.worker import Worker
from callintel.store import jobs
from callintel.store.blobs import BlobStore
from callintel.store.db import Database
from callintel.store.models import Base, Job, include_name, include_object
from tests.service_helpers import (
    FakeAnalyzer,
    auth,
    iter_rows,
    make_key,
    service_settings,
    tags_of,
)


class Service:
    def __init__(self, db: Database, tmp_path: Path, **limits: Any) -> None:
        self.db = db
        self.settings = service_settings(tmp_path, db.url, **limits)
        self.analyzer = FakeAnalyzer()
        self.app = create_app(self.settings, in_process_workers=0, db=db)
        self.client = TestClient(self.app)
        self.blobs = BlobStore(self.settings.audio_dir)
        self.worker = Worker(db, self.blobs, self.analyzer, name="test-worker")
        self.admin = make_key(db, "admin", "*")
        self.crm = make_key(db, "crm", "d1")
        self.qa_other = make_key(db, "qa", "d2")

    def upload(
        self, path: Path, key: str | None = None, headers: dict[str, str] | None = None, **form: Any
    ) -> Any:
        data = {"dealer": "d1", "scenario": "showroom"} | form
        with path.open("rb") as f:
            return self.client.post(
                "/v1/calls",
                files={"audio": (path.name, f, "audio/flac")},
                data=data,
                headers=auth(key or self.crm) | (headers or {}),
            )

    def stored_files(self) -> list[Path]:
        return [p for p in self.settings.audio_dir.rglob("*") if p.is_file()]


@pytest.fixture
def service(db: Database, tmp_path: Path) -> Service:
    return Service(db, tmp_path)


def test_migrations_build_exactly_the_models(db: Database) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_name": include_name, "include_object": include_object}
        )
        assert compare_metadata(context, Base.metadata) == []


def test_api_keys_are_hashed_at_rest(service: Service) -> None:
    rows = list(iter_rows(service.db, "api_keys"))
    assert len(rows) == 3
    for key in (service.admin, service.crm, service.qa_other):
        assert not any(key in str(value) for row in rows for value in row.values())
    assert service.client.get("/v1/calls", headers=auth(service.crm)).status_code == 200
    assert service.client.get("/v1/calls", headers=auth(service.crm[:-1] + "x")).status_code == 401


def test_upload_worker_result(service: Service, audio_dir: Path) -> None:
    response = service.upload(
        audio_dir / "jfk.flac", external_id="crm-1", customer_id="cust-9", salesperson_id="s7"
    )
    assert response.status_code == 202, response.text
    call = response.json()
    assert call["status"] == "queued" and call["dealer"] == "d1" and call["customer_id"] == "cust-9"
    assert call["duration_s"] == pytest.approx(11.0, abs=0.1)
    (stored,) = service.stored_files()
    assert stored.name.endswith(".flac") and "jfk" not in str(stored)  # named by content, not by client

    assert service.worker.run_once() is True
    assert service.worker.run_once() is False  # nothing left
    ((path, options),) = service.analyzer.calls
    assert path == stored and options.scenario == "showroom"

    detail = service.client.get(f"/v1/calls/{call['id']}", headers=auth(service.crm)).json()
    assert detail["status"] == "done"
    assert detail["intent"]["grade"] == "A" and detail["scorecard"]["score"] == 80.0
    assert detail["transcript"][1]["text"] == "我想看看领克08"
    assert {(t["key"], t["value"]) for t in detail["tags"]} == {
        ("intent_grade", "A"),
        ("model_interest", "领克 08"),
    }
    events = list(iter_rows(service.db, "events"))
    assert [e["type"] for e in events] == ["call.analyzed", "customer.tags_changed"]

    listing = service.client.get("/v1/calls", headers=auth(service.crm)).json()
    assert listing["total"] == 1 and listing["items"][0]["id"] == call["id"]


def test_audio_supports_range_requests(service: Service, audio_dir: Path) -> None:
    call = service.upload(audio_dir / "jfk.flac").json()
    whole = (audio_dir / "jfk.flac").read_bytes()
    full = service.client.get(f"/v1/calls/{call['id']}/audio", headers=auth(service.crm))
    assert full.status_code == 200 and full.content == whole and full.headers["content-type"] == "audio/flac"
    part = service.client.get(
        f"/v1/calls/{call['id']}/audio", headers=auth(service.crm) | {"Range": "bytes=100-199"}
    )
    assert part.status_code == 206 and part.content == whole[100:200]


def test_reupload_is_idempotent(service: Service, audio_dir: Path) -> None:
    first = service.upload(audio_dir / "jfk.flac", external_id="crm-1")
    again = service.upload(audio_dir / "jfk.flac", external_id="crm-1")
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["id"] == first.json()["id"]
    keyed = service.upload(audio_dir / "jfk.flac", headers={"Idempotency-Key": "k-1"})
    keyed_again = service.upload(audio_dir / "jfk.flac", headers={"Idempotency-Key": "k-1"})
    assert keyed.status_code == 202 and keyed_again.status_code == 200
    assert keyed_again.json()["id"] == keyed.json()["id"] != first.json()["id"]
    assert len(list(iter_rows(service.db, "calls"))) == 2
    assert len(list(iter_rows(service.db, "jobs"))) == 2
    assert len(list(iter_rows(service.db, "recordings"))) == 1 and len(service.stored_files()) == 1


def test_a_dealer_never_sees_another_dealers_calls(service: Service, audio_dir: Path) -> None:
    call = service.upload(audio_dir / "jfk.flac").json()
    other = auth(service.qa_other)
    for method, url in (
        ("GET", f"/v1/calls/{call['id']}"),
        ("GET", f"/v1/calls/{call['id']}/audio"),
    ):
        assert service.client.request(method, url, headers=other).status_code == 404
    assert service.client.get("/v1/calls", headers=other).json()["total"] == 0
    assert service.client.get("/v1/calls?dealer=d1", headers=other).json()["total"] == 0
    assert service.upload(audio_dir / "jfk.flac", key=service.qa_other).status_code == 403  # d1 not in scope
    qa_d1 = make_key(service.db, "qa", "d1")
    assert service.client.delete(f"/v1/calls/{call['id']}", headers=auth(qa_d1)).status_code == 403  # role
    crm_d2 = make_key(service.db, "crm", "d2")
    assert service.client.delete(f"/v1/calls/{call['id']}", headers=auth(crm_d2)).status_code == 404
    assert service.client.get(f"/v1/calls/{call['id']}", headers=auth(service.admin)).status_code == 200


def test_every_call_endpoint_hides_another_dealers_call(service: Service, audio_dir: Path) -> None:
    call = service.upload(audio_dir / "jfk.flac", customer_id="c-1").json()
    service.worker.run_once()
    admin_of_d2 = make_key(service.db, "admin", "d2")  # even an admin key is bound to its dealers
    for key in (service.qa_other, make_key(service.db, "crm", "d2"), admin_of_d2):
        requests = [
            ("GET", f"/v1/calls/{call['id']}", None),
            ("GET", f"/v1/calls/{call['id']}/audio", None),
            ("POST", f"/v1/calls/{call['id']}/review", {"grade": "N"}),
            ("DELETE", f"/v1/calls/{call['id']}", None),
            ("GET", "/v1/customers/c-1/journey", None),
            ("GET", "/v1/customers/c-1/journey?dealer=d1", None),
        ]
        for method, url, body in requests:
            response = service.client.request(method, url, json=body, headers=auth(key))
            assert response.status_code in (403, 404), (method, url, response.status_code)
        assert service.client.get("/v1/calls?dealer=d1", headers=auth(key)).json()["items"] == []
        assert service.upload(audio_dir / "jfk.flac", key=key).status_code == 403
    assert list(iter_rows(service.db, "reviews")) == []
    assert service.client.get(f"/v1/calls/{call['id']}", headers=auth(service.crm)).json()["status"] == "done"


def test_delete_erases_audio_and_derived_data(service: Service, audio_dir: Path) -> None:
    shared_a = service.upload(audio_dir / "jfk.flac", external_id="a").json()
    shared_b = service.upload(audio_dir / "jfk.flac", external_id="b").json()
    own = service.upload(audio_dir / "en_auto_repairs_40_agent.flac").json()
    while service.worker.run_once():
        pass
    assert len(service.stored_files()) == 2
    assert service.client.delete(f"/v1/calls/{own['id']}", headers=auth(service.crm)).status_code == 204
    assert len(service.stored_files()) == 1  # its own recording is gone
    assert service.client.delete(f"/v1/calls/{shared_a['id']}", headers=auth(service.crm)).status_code == 204
    assert len(service.stored_files()) == 1  # still used by shared_b
    assert service.client.get(f"/v1/calls/{shared_a['id']}", headers=auth(service.crm)).status_code == 404
    for table in ("transcripts", "analyses", "tags", "events", "jobs"):
        assert {r["call_id"] for r in iter_rows(service.db, table)} == {shared_b["id"]}, table
    assert service.client.delete(f"/v1/calls/{shared_b['id']}", headers=auth(service.crm)).status_code == 204
    assert service.stored_files() == [] and list(iter_rows(service.db, "recordings")) == []


def _nothing_written(service: Service) -> None:
    assert list(iter_rows(service.db, "calls")) == [] and list(iter_rows(service.db, "recordings")) == []
    assert service.stored_files() == []
    staging = service.settings.audio_dir / ".staging"
    assert not staging.exists() or list(staging.iterdir()) == []


@pytest.mark.parametrize(
    ("content", "form", "status", "message"),
    [
        (b"", {}, 422, "empty"),
        (b"this is not audio at all, only text named .wav" * 10, {}, 415, "not a recording"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt " + b"\x00garbage" * 50, {}, 422, "cannot be read"),
        (None, {"dealer": "nobody"}, 403, "not scoped"),
        (None, {"scenario": "garage"}, 422, "scenario"),
        (None, {"channel_layout": "quad"}, 422, "channel_layout"),
        (None, {"language": "klingon"}, 422, "unknown language"),
        (None, {"recorded_at": "yesterday"}, 422, "recorded_at"),
        (None, {"external_id": "x" * 201}, 422, "external_id"),
        (None, {"salesperson_id": "bad\x00id"}, 422, "salesperson_id"),
        (None, {"dealer": "../etc"}, 422, "dealer"),
    ],
)
def test_bad_uploads_are_refused_and_leave_nothing(
    service: Service,
    audio_dir: Path,
    tmp_path: Path,
    content: bytes | None,
    form: dict[str, str],
    status: int,
    message: str,
) -> None:
    path = audio_dir / "jfk.flac"
    if content is not None:
        path = tmp_path / "upload.wav"
        path.write_bytes(content)
    response = service.upload(path, **form)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert message in response.json()["detail"]
    _nothing_written(service)


def test_path_like_file_names_are_never_used(service: Service, audio_dir: Path) -> None:
    with (audio_dir / "jfk.flac").open("rb") as f:
        response = service.client.post(
            "/v1/calls",
            files={"audio": ("../../../tmp/evil\x00.wav", f, "audio/wav")},
            data={"dealer": "d1"},
            headers=auth(service.crm),
        )
    assert response.status_code == 202, response.text
    (stored,) = service.stored_files()
    assert stored.parent.parent.parent == service.settings.audio_dir and stored.suffix == ".flac"  # sniffed


def test_unknown_dealer_and_missing_parts(service: Service, audio_dir: Path) -> None:
    response = service.upload(audio_dir / "jfk.flac", key=service.admin, dealer="d9")
    assert response.status_code == 422 and "unknown dealer" in response.json()["detail"]
    no_file = service.client.post("/v1/calls", data={"dealer": "d1"}, headers=auth(service.crm))
    assert no_file.status_code == 422 and "audio" in no_file.json()["detail"]
    not_multipart = service.client.post(
        "/v1/calls",
        content=b'{"dealer": "d1"}',
        headers=auth(service.crm) | {"Content-Type": "application/json"},
    )
    assert not_multipart.status_code == 422
    truncated = service.client.post(
        "/v1/calls",
        content=b'--xyz\r\nContent-Disposition: form-data; name="dealer"\r\n\r\nd1\r\n--xyz\r\nContent-Dispo',
        headers=auth(service.crm) | {"Content-Type": "multipart/form-data; boundary=xyz"},
    )
    assert 400 <= truncated.status_code < 500
    assert service.client.post("/v1/calls", headers={}).status_code == 401
    _nothing_written(service)


def test_upload_size_limit(db: Database, tmp_path: Path, audio_dir: Path) -> None:
    service = Service(db, tmp_path, max_upload_bytes=50_000)
    response = service.upload(audio_dir / "en_auto_repairs_40_agent.flac")  # several MB
    assert response.status_code == 413 and response.headers["content-type"] == "application/problem+json"
    _nothing_written(service)


def test_jobs_are_claimed_once_and_released_when_a_worker_dies(service: Service, audio_dir: Path) -> None:
    service.upload(audio_dir / "jfk.flac")
    lease = dt.timedelta(seconds=30)
    with service.db.session() as session:
        first = jobs.claim(session, "w1", lease)
    with service.db.session() as session:
        assert jobs.claim(session, "w2", lease) is None  # held by w1
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=31)  # w1 died: its lease ran out
    with service.db.session() as session:
        second = jobs.claim(session, "w2", lease, now=later)
    assert first is not None and second is not None and second.job_id == first.job_id and second.attempt == 2
    with service.db.session() as session:
        assert jobs.finish(session, first.job_id, "w1") is False  # fenced: no longer w1's
        assert jobs.heartbeat(session, first.job_id, "w1", lease) is False
    with service.db.session() as session:
        assert jobs.finish(session, first.job_id, "w2") is True
    with service.db.session() as session:
        job = session.get(Job, first.job_id)
        assert job is not None and job.status == "done"


def test_a_job_whose_worker_keeps_dying_fails_for_good(service: Service, audio_dir: Path) -> None:
    call = service.upload(audio_dir / "jfk.flac").json()
    lease = dt.timedelta(seconds=1)
    now = dt.datetime.now(dt.UTC)
    for attempt in range(3):
        with service.db.session() as session:
            assert (
                jobs.claim(session, f"w{attempt}", lease, now=now + dt.timedelta(seconds=2 * attempt))
                is not None
            )
    with service.db.session() as session:
        assert jobs.claim(session, "w9", lease, now=now + dt.timedelta(seconds=10)) is None
    detail = service.client.get(f"/v1/calls/{call['id']}", headers=auth(service.crm)).json()
    assert detail["status"] == "failed" and "stopped responding" in detail["error"]


def test_bad_audio_fails_at_once_other_errors_retry(service: Service, audio_dir: Path) -> None:
    call = service.upload(audio_dir / "jfk.flac").json()
    service.analyzer.fail_with = RuntimeError("model server hiccup")
    assert service.worker.run_once() is True
    with service.db.session() as session:
        job = session.query(Job).one()
        assert (job.status, job.attempts) == ("queued", 1) and "hiccup" in (job.error or "")
        job.available_at = dt.datetime.now(dt.UTC)  # skip the backoff
    service.analyzer.fail_with = AudioDecodeError("truncated stream")
    assert service.worker.run_once() is True
    detail = service.client.get(f"/v1/calls/{call['id']}", headers=auth(service.crm)).json()
    assert detail["status"] == "failed" and "truncated stream" in detail["error"]


def test_health_readiness_and_metrics(service: Service, audio_dir: Path) -> None:
    assert service.client.get("/healthz").json() == {"status": "ok"}
    assert service.client.get("/readyz").status_code == 200
    service.upload(audio_dir / "jfk.flac")
    metrics = service.client.get("/metrics").text
    assert 'callintel_jobs{status="queued"} 1.0' in metrics


def test_the_worker_analyses_up_to_the_service_limit(service: Service, audio_dir: Path) -> None:
    """The limit an operator sets (CALLINTEL_MAX_AUDIO_SECONDS) is the one the worker applies too,
    not only the upload's: a recording the upload took is not refused at analysis."""
    worker = Worker(service.db, service.blobs, service.analyzer, name="w", max_audio_seconds=6 * 3600.0)
    assert service.upload(audio_dir / "jfk.flac").status_code == 202
    assert worker.run_once() is True
    ((_, options),) = service.analyzer.calls
    assert options.max_seconds == 6 * 3600.0


def test_errors_are_problem_details_without_traces(service: Service) -> None:
    response = service.client.get("/v1/calls/nope", headers=auth(service.crm))
    assert response.status_code == 404 and response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "/problems/not-found",
        "title": "Not Found",
        "status": 404,
        "detail": "no call 'nope'",
    }
    assert service.client.get("/v1/calls?limit=100000", headers=auth(service.crm)).status_code == 422
    assert "openapi" in service.client.get("/openapi.json").json()


def test_synchronous_analysis_for_short_recordings(db: Database, tmp_path: Path, audio_dir: Path) -> None:
    service = Service(db, tmp_path, sync_max_seconds=20.0)
    app = create_app(service.settings, analyzer=lambda: service.analyzer, in_process_workers=0, db=db)
    with TestClient(app) as client, (audio_dir / "jfk.flac").open("rb") as f:
        ok = client.post(
            "/v1/calls:analyze",
            files={"audio": ("a.flac", f, "audio/flac")},
            data={"scenario": "inbound_call", "language": "en"},
            headers=auth(service.crm),
        )
        assert ok.status_code == 200, ok.text
        assert ok.json()["understanding"]["intent"]["grade"] == "A"
        ((_, options),) = service.analyzer.calls
        assert options.scenario == "inbound_call" and options.transcription.language == "en"
        with (audio_dir / "pyannote_sample.wav").open("rb") as long_file:  # 30 s
            too_long = client.post(
                "/v1/calls:analyze", files={"audio": ("b.wav", long_file)}, headers=auth(service.crm)
            )
        assert (
            too_long.status_code == 413
            and "synchronous analysis takes up to 20 s" in too_long.json()["detail"]
        )
    _nothing_written(service)


def test_customer_journey_keeps_history_and_current_tags(service: Service, audio_dir: Path) -> None:
    first = service.upload(audio_dir / "jfk.flac", customer_id="c-1").json()
    service.worker.run_once()
    second = service.upload(audio_dir / "pyannote_sample.wav", customer_id="c-1").json()
    original = service.analyzer.__call__

    def hotter(path: Path, options: Any, scorecard: Any) -> Any:
        result = original(path, options, scorecard)
        assert result.understanding is not None
        tags = tags_of([{"key": "intent_grade", "value": "H", "confidence": 0.8}])
        return replace(result, understanding=replace(result.understanding, tags=tags))

    service.worker.analyze = hotter
    service.worker.run_once()
    journey = service.client.get("/v1/customers/c-1/journey", headers=auth(service.crm)).json()
    assert [c["id"] for c in journey["calls"]] == [first["id"], second["id"]]
    current = {t["key"]: (t["value"], t["call_id"]) for t in journey["current_tags"]}
    assert current["intent_grade"] == ("H", second["id"])  # the newest replaces the older
    assert current["model_interest"] == ("领克 08", first["id"])  # not said again: kept
    assert [t["value"] for t in journey["history"] if t["key"] == "intent_grade"] == ["A", "H"]
    assert service.client.get("/v1/customers/c-1/journey", headers=auth(service.qa_other)).status_code == 404


def test_review_is_stored_as_a_labelled_correction(service: Service, audio_dir: Path) -> None:
    call = service.upload(audio_dir / "jfk.flac").json()
    qa = make_key(service.db, "qa", "d1")
    url = f"/v1/calls/{call['id']}/review"
    body = {
        "checkpoints": {"greeting": False},
        "grade": "B",
        "attributes": {"budget_cny": {"min": 1, "max": 2}},
    }
    assert service.client.post(url, json=body, headers=auth(qa)).status_code == 409  # not analysed yet
    service.worker.run_once()
    assert service.client.post(url, json=body, headers=auth(service.crm)).status_code == 403  # role
    bad = service.client.post(url, json={"checkpoints": {"greting": True}}, headers=auth(qa))
    assert bad.status_code == 422 and "unknown checkpoint greting" in bad.json()["detail"]
    assert service.client.post(url, json={"grade": "Z"}, headers=auth(qa)).status_code == 422
    done = service.client.post(url, json=body, headers=auth(qa))
    assert done.status_code == 201, done.text
    (row,) = iter_rows(service.db, "reviews")
    assert row["call_id"] == call["id"]
    assert service.client.post(url, json=body, headers=auth(service.qa_other)).status_code == 404


def test_reviews_export_as_training_dialogues(service: Service, audio_dir: Path, tmp_path: Path) -> None:
    from callintel.store.export import reviewed_dialogues
    from callintel.training.corpus.jsonl import read_jsonl, write_jsonl

    reviewed = service.upload(audio_dir / "jfk.flac", external_id="r").json()
    service.upload(audio_dir / "pyannote_sample.wav", external_id="not-reviewed")
    # An after-sales call is no sale: reviewed or not, it is no training dialogue.
    after_sales = service.upload(audio_dir / "stereo_diarization.wav", scenario="service_call").json()
    while service.worker.run_once():
        pass
    qa = make_key(service.db, "qa", "d1")
    body = {"grade": "B", "checkpoints": {"greeting": False, "needs_discovery": True}}
    assert (
        service.client.post(f"/v1/calls/{reviewed['id']}/review", json=body, headers=auth(qa)).status_code
        == 201
    )
    answer = service.client.post(
        f"/v1/calls/{after_sales['id']}/review", json={"checkpoints": {"greeting": False}}, headers=auth(qa)
    )
    assert answer.status_code == 201, answer.text
    with service.db.session() as session:
        (dialogue,) = reviewed_dialogues(session)
    assert (
        dialogue["id"] == f"review-{reviewed['id']}"
        and dialogue["grade"] == "B"
        and dialogue["source"] == "review"
    )
    sales, customer = dialogue["turns"]
    assert sales["checkpoints"] == []  # the review failed greeting; needs_discovery had no turn to put it on
    assert customer["attributes"] == [{"key": "models_of_interest", "start": 4, "end": 8, "value": "领克 08"}]
    path = tmp_path / "reviews.jsonl"
    write_jsonl(path, [dialogue])
    assert list(read_jsonl(path)) == [dialogue]  # valid input for `callintel train --data`

    swapped = {"swap_roles": True}
    assert (
        service.client.post(f"/v1/calls/{reviewed['id']}/review", json=swapped, headers=auth(qa)).status_code
        == 201
    )
    with service.db.session() as session:
        (dialogue,) = reviewed_dialogues(session)
    assert [t["role"] for t in dialogue["turns"]] == ["customer", "sales"]
    # Reviews merge item by item: the first review's grade stands beside the later swap.
    assert dialogue["turns"][0]["attributes"] == [] and dialogue["grade"] == "B"
    detail = service.client.get(f"/v1/calls/{reviewed['id']}", headers=auth(qa)).json()
    review = detail["review"]
    assert review["grade"] == "B" and review["swap_roles"] is True
    assert review["checkpoints"] == {"greeting": False, "needs_discovery": True} and review["reviewed_at"]
    unswap = {"swap_roles": False, "checkpoints": {"greeting": True}}
    service.client.post(f"/v1/calls/{reviewed['id']}/review", json=unswap, headers=auth(qa))
    review = service.client.get(f"/v1/calls/{reviewed['id']}", headers=auth(qa)).json()["review"]
    assert review["swap_roles"] is False and review["checkpoints"]["greeting"] is True
    assert review["checkpoints"]["needs_discovery"] is True
    unreviewed = next(
        c
        for c in service.client.get("/v1/calls", headers=auth(qa)).json()["items"]
        if c["id"] not in (reviewed["id"], after_sales["id"])
    )
    assert service.client.get(f"/v1/calls/{unreviewed['id']}", headers=auth(qa)).json()["review"] is None


def test_nul_in_the_url_is_a_client_error(service: Service) -> None:
    # Found by the schemathesis run: PostgreSQL text cannot hold NUL, so it answered 500.
    for url in (
        "/v1/calls/%00",
        "/v1/calls/a%00b/audio",
        "/v1/calls?dealer=%00",
        "/v1/customers/0/journey?dealer=x%00",
    ):
        response = service.client.get(url, headers=auth(service.admin))
        assert response.status_code == 400 and "NUL" in response.json()["detail"], url


def test_revoked_keys_and_invalid_json_bodies(service: Service, audio_dir: Path) -> None:
    from callintel.store.keys import revoke_key

    call = service.upload(audio_dir / "jfk.flac").json()
    service.worker.run_once()
    qa = make_key(service.db, "qa", "d1")
    url = f"/v1/calls/{call['id']}/review"
    broken = service.client.post(
        url, content=b'{"grade": "B"', headers=auth(qa) | {"Content-Type": "application/json"}
    )
    assert broken.status_code == 422 and broken.headers["content-type"] == "application/problem+json"
    assert service.client.post(url, json=["not", "an", "object"], headers=auth(qa)).status_code == 422
    assert service.client.post(url, json={"nonsense": 1}, headers=auth(qa)).status_code == 422
    assert list(iter_rows(service.db, "reviews")) == []
    with service.db.session() as session:
        assert revoke_key(session, qa.split("_")[1]) is not None
    assert service.client.get("/v1/calls", headers=auth(qa)).status_code == 401


def test_scorecards_read_and_edited_through_the_api(service: Service, audio_dir: Path) -> None:
    url = "/v1/scorecards/showroom"
    shipped = service.client.get(url, headers=auth(service.crm)).json()
    assert (
        shipped["source"] == "file" and shipped["effective"]["violations"]["rude"]["keywords"]
    )  # lexicon merged
    assert service.client.get("/v1/scorecards/garage", headers=auth(service.crm)).status_code == 422

    edited = dict(shipped["document"], version="2.0", threshold=0.6)
    assert service.client.put(url, json=edited, headers=auth(service.crm)).status_code == 403
    put = service.client.put(url, json=edited, headers=auth(service.admin))
    assert put.status_code == 200, put.text
    now = service.client.get(url, headers=auth(service.crm)).json()
    assert (
        now["source"] == "api"
        and now["effective"]["version"] == "2.0"
        and now["effective"]["threshold"] == 0.6
    )

    for broken, message in (
        ({k: v for k, v in edited.items() if k != "checkpoints"}, "checkpoints"),
        (dict(edited, scenario="inbound_call"), "must match"),
        (dict(edited, lexicon="../../etc/passwd.lexicon.yaml"), "lexicon"),
        (dict(edited, threshold=7), "threshold"),
    ):
        refused = service.client.put(url, json=broken, headers=auth(service.admin))
        assert refused.status_code == 422 and message in refused.json()["detail"], refused.text
    assert (
        service.client.get(url, headers=auth(service.crm)).json()["effective"]["threshold"] == 0.6
    )  # unchanged

    service.upload(audio_dir / "jfk.flac")
    service.worker.run_once()
    (used,) = service.analyzer.scorecards
    assert used.version == "2.0" and used.threshold == 0.6  # later analyses use the edit


def _start_worker(
    service: Service, name: str, seconds: float, markers: Path, batch: int = 1
) -> subprocess.Popen[bytes]:
    script = Path(__file__).resolve().parents[1] / "worker_process.py"
    args = [sys.executable, str(script), service.db.url, str(service.settings.audio_dir), name, str(seconds)]
    return subprocess.Popen([*args, str(markers), str(batch)])


def _wait(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _job_owner(service: Service) -> str | None:
    with service.db.session() as session:
        job = session.query(Job).one()
        return job.lease_owner if job.status == "running" else None


def test_a_killed_worker_s_job_completes_on_another_once(
    service: Service, audio_dir: Path, tmp_path: Path
) -> None:
    call = service.upload(audio_dir / "jfk.flac").json()
    markers = tmp_path / "markers"
    markers.mkdir()
    doomed = _start_worker(service, "doomed", 30.0, markers)
    try:
        _wait(lambda: _job_owner(service) == "doomed", 30, "the first worker to take the job")
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(10)
    finally:
        doomed.kill()
    survivor = _start_worker(service, "survivor", 0.2, markers)
    try:
        _wait(
            lambda: (
                service.client.get(f"/v1/calls/{call['id']}", headers=auth(service.crm)).json()["status"]
                == "done"
            ),
            60,
            "the second worker to finish the job",
        )
    finally:
        survivor.terminate()
        survivor.wait(10)
    assert sorted(p.name for p in markers.iterdir()) == ["survivor-1"]
    (job,) = iter_rows(service.db, "jobs")
    assert job["status"] == "done" and job["attempts"] == 2
    assert (
        len(list(iter_rows(service.db, "analyses"))) == 1 and len(list(iter_rows(service.db, "events"))) == 1
    )


def test_concurrent_workers_process_each_job_once(service: Service, audio_dir: Path, tmp_path: Path) -> None:
    files = [
        audio_dir / "jfk.flac",
        audio_dir / "pyannote_sample.wav",
        audio_dir / "en_auto_repairs_40_agent.flac",
    ]
    ids = [service.upload(f, external_id=f"e{i}").json()["id"] for i, f in enumerate(files * 2)]
    markers = tmp_path / "markers"
    markers.mkdir()
    workers = [_start_worker(service, f"w{i}", 0.3, markers) for i in range(3)]
    try:
        _wait(lambda: {r["status"] for r in iter_rows(service.db, "jobs")} == {"done"}, 90, "all jobs done")
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(10)
    assert len(list(markers.iterdir())) == len(ids)  # no job analysed twice
    assert sorted(r["call_id"] for r in iter_rows(service.db, "analyses")) == sorted(ids)
