"""Workers that claim several queued calls at once (issue 16): each job is still completed exactly
once, fenced by its own lease, on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import signal
import threading
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import create_app
from callintel.errors import AudioDecodeError, AudioError
from callintel.options import AnalysisOptions
from callintel.result import AnalysisResult
from callintel.service.worker import BatchAnalyzer, Worker
from callintel.settings import Settings
from callintel.store import jobs
from callintel.store.db import Database
from callintel.store.models import Call, Job
from tests.service.test_service import Service, _start_worker, _wait
from tests.service_helpers import FakeAnalyzer, auth, fake_result, iter_rows

FILES = ("jfk.flac", "pyannote_sample.wav", "zh_funasr_asr_example.wav")


@pytest.fixture
def service(db: Database, tmp_path: Path) -> Service:
    return Service(db, tmp_path)


def upload_calls(service: Service, audio_dir: Path, count: int, **form: Any) -> list[str]:
    return [
        service.upload(audio_dir / FILES[i % len(FILES)], external_id=f"e{i}", **form).json()["id"]
        for i in range(count)
    ]


def batch_worker(
    service: Service, analyzer: Any, name: str = "batcher", batch: int = 4, **kwargs: Any
) -> Worker:
    return Worker(service.db, service.blobs, analyzer, name=name, batch=batch, **kwargs)


def assert_each_done_once(service: Service, ids: list[str], attempts: int = 1) -> None:
    """Every call done with one job done, one analysis and one ``call.analyzed`` event."""
    job_rows = {j["call_id"]: j for j in iter_rows(service.db, "jobs")}
    assert {i: (job_rows[i]["status"], job_rows[i]["attempts"]) for i in ids} == dict.fromkeys(
        ids, ("done", attempts)
    )
    assert Counter(r["call_id"] for r in iter_rows(service.db, "analyses")) == Counter(ids)
    analyzed = [e["call_id"] for e in iter_rows(service.db, "events") if e["type"] == "call.analyzed"]
    assert Counter(analyzed) == Counter(ids)
    with service.db.session() as session:
        assert {session.get(Call, i).status for i in ids} == {"done"}  # type: ignore[union-attr]


def _json(value: Any) -> Any:
    """A JSON column as read with plain SQL: text on SQLite, decoded on PostgreSQL."""
    return json.loads(value) if isinstance(value, str) else value


def _timeless(value: Any) -> Any:
    """``value`` without its ``created_at`` times, its lists in a set order (a customer's current
    tags come in no particular order)."""
    if isinstance(value, dict):
        return {k: _timeless(v) for k, v in value.items() if k != "created_at"}
    if isinstance(value, list):
        return sorted((_timeless(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    return value


def test_claim_many_takes_the_oldest_and_each_job_once_across_concurrent_workers(
    service: Service, audio_dir: Path
) -> None:
    ids = upload_calls(service, audio_dir, 14)
    lease = dt.timedelta(seconds=60)
    with service.db.session() as session:
        first = jobs.claim_many(session, "w0", lease, 3)
    assert [c.call_id for c in first] == ids[:3] and {c.attempt for c in first} == {1}
    with service.db.session() as session:
        assert [c.status for c in session.query(Call).filter(Call.id.in_(ids[:3]))] == ["processing"] * 3

    taken: dict[str, list[str]] = {"w1": [], "w2": []}
    start = threading.Barrier(2)

    def claim_all(name: str) -> None:
        start.wait()
        while True:
            with service.db.session() as session:
                claimed = jobs.claim_many(session, name, lease, 3)
            if not claimed:
                return
            taken[name].extend(c.call_id for c in claimed)

    threads = [threading.Thread(target=claim_all, args=(name,)) for name in taken]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(taken["w1"] + taken["w2"]) == sorted(ids[3:])  # every job once, none twice
    owners = {j["call_id"]: (j["lease_owner"], j["attempts"]) for j in iter_rows(service.db, "jobs")}
    assert all(owners[c] == (name, 1) for name, calls in taken.items() for c in calls)
    with pytest.raises(ValueError, match="at least 1"), service.db.session() as session:
        jobs.claim_many(session, "w3", lease, 0)


def test_claim_many_follows_the_expiry_and_retry_rules_of_claim(service: Service, audio_dir: Path) -> None:
    ids = upload_calls(service, audio_dir, 3)
    with service.db.session() as session:  # the third has used all its attempts
        session.query(Job).filter(Job.call_id == ids[2]).update({"attempts": 3})
    lease = dt.timedelta(seconds=30)
    now = dt.datetime.now(dt.UTC)
    with service.db.session() as session:
        assert [c.call_id for c in jobs.claim_many(session, "w1", lease, 5, now=now)] == ids[:2]
    with service.db.session() as session:
        assert jobs.claim_many(session, "w2", lease, 5, now=now + dt.timedelta(seconds=10)) == []  # held
    with service.db.session() as session:  # w1 died: its leases ran out
        again = jobs.claim_many(session, "w2", lease, 5, now=now + dt.timedelta(seconds=31))
    assert [(c.call_id, c.attempt) for c in again] == [(ids[0], 2), (ids[1], 2)]
    with service.db.session() as session:
        assert {c.call_id for c in jobs.claim_many(session, "w3", lease, 5)} == set()
        assert jobs.heartbeat_many(session, [c.job_id for c in again] + ["nope"], "w2", lease) == {
            c.job_id for c in again
        }
        assert jobs.heartbeat_many(session, [c.job_id for c in again], "w1", lease) == set()  # not w1's


def test_a_batch_worker_completes_each_job_once_as_a_single_one_would(
    service: Service, audio_dir: Path
) -> None:
    def upload(prefix: str, customer: str) -> list[str]:
        return [
            service.upload(audio_dir / name, external_id=f"{prefix}{i}", customer_id=customer).json()["id"]
            for i, name in enumerate(FILES)
        ]

    single_ids = upload("s", "c-single")
    while service.worker.run_once():  # batch 1: today's path
        pass
    batch_ids = upload("b", "c-batch") + upload("x", "c-other")
    analyzer = FakeAnalyzer()
    assert isinstance(analyzer, BatchAnalyzer)
    worker = batch_worker(service, analyzer, batch=4)
    assert worker.run_once() is True and analyzer.batches == [4]
    assert worker.run_once() is True and analyzer.batches == [4, 2]
    assert worker.run_once() is False
    assert_each_done_once(service, single_ids + batch_ids)

    results = {r["call_id"]: r["result"] for r in iter_rows(service.db, "analyses")}
    assert [results[i] for i in batch_ids[:3]] == [results[i] for i in single_ids]

    def story(ids: list[str], prefix: str, customer: str) -> list[tuple[str, str]]:
        """The events of ``ids``, ids and names replaced by their place, as the outbox holds them."""

        def neutral(text: str) -> str:
            for k, call_id in enumerate(ids):
                text = text.replace(call_id, f"call-{k}").replace(f'"{prefix}{k}"', f'"ext-{k}"')
            return text.replace(customer, "customer")

        return [
            (e["type"], neutral(json.dumps(_timeless(_json(e["payload"])), sort_keys=True)))
            for e in iter_rows(service.db, "events")
            if e["call_id"] in ids
        ]

    assert story(batch_ids[:3], "b", "c-batch") == story(single_ids, "s", "c-single")
    tags = {
        customer: service.client.get(f"/v1/customers/{customer}/journey", headers=auth(service.crm)).json()
        for customer in ("c-single", "c-batch")
    }
    assert sorted((t["key"], t["value"]) for t in tags["c-batch"]["current_tags"]) == sorted(
        (t["key"], t["value"]) for t in tags["c-single"]["current_tags"]
    )


def test_each_call_of_a_batch_is_scored_with_its_scenario_s_edited_scorecard(
    service: Service, audio_dir: Path
) -> None:
    url = "/v1/scorecards/showroom"
    document = service.client.get(url, headers=auth(service.crm)).json()["document"]
    edited = dict(document, version="2.0", threshold=0.6)
    assert service.client.put(url, json=edited, headers=auth(service.admin)).status_code == 200
    service.upload(audio_dir / "jfk.flac", external_id="s", scenario="showroom")
    service.upload(audio_dir / "jfk.flac", external_id="i", scenario="inbound_call")
    service.upload(audio_dir / "jfk.flac", external_id="s2", scenario="showroom")
    analyzer = FakeAnalyzer()
    assert batch_worker(service, analyzer).run_once() is True
    assert analyzer.batches == [3]
    scenarios = [options.scenario for _, options in analyzer.calls]
    cards = [card.version if card is not None else None for card in analyzer.scorecards]
    assert list(zip(scenarios, cards, strict=True)) == [
        ("showroom", "2.0"),
        ("inbound_call", None),  # not edited: the file's
        ("showroom", "2.0"),
    ]


@pytest.mark.parametrize("whole_batch_raises", [False, True])
def test_one_failing_call_of_a_batch_fails_only_itself(
    service: Service, audio_dir: Path, whole_batch_raises: bool
) -> None:
    ok = [service.upload(audio_dir / "jfk.flac", external_id=f"ok{i}").json()["id"] for i in range(2)]
    flaky = service.upload(audio_dir / "jfk.flac", external_id="flaky", scenario="inbound_call").json()["id"]
    broken = service.upload(audio_dir / "jfk.flac", external_id="bad", scenario="outbound_followup").json()[
        "id"
    ]
    analyzer = FakeAnalyzer()
    errors: dict[str | None, Exception] = {
        "inbound_call": RuntimeError("model server hiccup"),
        "outbound_followup": AudioDecodeError("truncated stream"),
    }
    analyzer.fail_when = lambda options: errors.get(options.scenario)
    if whole_batch_raises:  # e.g. a bug the batch path hits: its calls are then analysed one by one
        analyzer.batch_fails_with = KeyError("boom")
    assert batch_worker(service, analyzer).run_once() is True
    assert_each_done_once(service, ok)
    job_rows = {j["call_id"]: j for j in iter_rows(service.db, "jobs")}
    assert job_rows[flaky]["status"] == "queued" and "hiccup" in job_rows[flaky]["error"]  # retried later
    assert job_rows[broken]["status"] == "failed" and "truncated" in job_rows[broken]["error"]  # for good
    failed = [e["call_id"] for e in iter_rows(service.db, "events") if e["type"] == "call.failed"]
    assert failed == [broken]


def test_a_job_taken_over_during_the_batch_is_not_stored_by_the_first_worker(
    service: Service, audio_dir: Path
) -> None:
    ids = upload_calls(service, audio_dir, 3)
    analyzer = FakeAnalyzer()
    lease = dt.timedelta(seconds=0.6)
    inner = analyzer.analyze_many

    def slow_and_robbed(calls: Any) -> Any:
        # The second job's lease ran out (say, the database was away) and another worker took it.
        with service.db.session() as session:
            session.query(Job).filter(Job.call_id == ids[1]).update({"lease_owner": "thief"})
        time.sleep(0.5)  # a heartbeat or two see it
        return inner(calls)

    analyzer.analyze_many = slow_and_robbed  # type: ignore[method-assign]
    assert batch_worker(service, analyzer, lease=lease).run_once() is True
    assert_each_done_once(service, [ids[0], ids[2]])
    (robbed,) = (j for j in iter_rows(service.db, "jobs") if j["call_id"] == ids[1])
    assert (robbed["status"], robbed["lease_owner"]) == ("running", "thief")
    assert ids[1] not in {r["call_id"] for r in iter_rows(service.db, "analyses")}


def test_a_worker_that_stops_mid_batch_leaves_its_jobs_to_another_and_its_late_results_are_refused(
    service: Service, audio_dir: Path
) -> None:
    ids = upload_calls(service, audio_dir, 3)
    lease = dt.timedelta(seconds=0.5)
    with service.db.session() as session:  # the first worker claims a batch, then hangs or dies
        held = jobs.claim_many(session, "first", lease, 4)
    assert [c.call_id for c in held] == ids
    with service.db.session() as session:
        paths = {
            c.job_id: service.blobs.path(session.get(Call, c.call_id).recording.storage_path) for c in held
        }  # type: ignore[union-attr]
    time.sleep(0.6)  # no heartbeat: the leases run out
    assert batch_worker(service, FakeAnalyzer(), name="second").run_once() is True
    assert_each_done_once(service, ids, attempts=2)
    first = Worker(service.db, service.blobs, FakeAnalyzer(), name="first")
    for claimed in held:  # the first worker comes back with its results: fenced
        late: AnalysisResult = fake_result(AnalysisOptions(scenario="showroom"))
        assert first.complete(claimed, paths[claimed.job_id], late) is False
        first.fail(claimed, "late", retry=True)  # nor can it fail them
    assert_each_done_once(service, ids, attempts=2)


def test_heartbeats_keep_every_lease_of_a_long_batch(service: Service, audio_dir: Path) -> None:
    ids = upload_calls(service, audio_dir, 3)
    analyzer = FakeAnalyzer()
    inner = analyzer.analyze_many
    stolen: list[list[str]] = []

    def long_analysis(calls: Any) -> Any:
        for _ in range(4):  # 2 s in all, more than three leases
            time.sleep(0.5)
            with service.db.session() as session:
                stolen.append(
                    [c.call_id for c in jobs.claim_many(session, "thief", dt.timedelta(seconds=5), 5)]
                )
        return inner(calls)

    analyzer.analyze_many = long_analysis  # type: ignore[method-assign]
    assert batch_worker(service, analyzer, lease=dt.timedelta(seconds=0.6)).run_once() is True
    assert stolen == [[]] * 4  # every lease was renewed in time
    assert_each_done_once(service, ids)


def test_a_batch_worker_process_killed_mid_batch(service: Service, audio_dir: Path, tmp_path: Path) -> None:
    ids = upload_calls(service, audio_dir, 4)
    markers = tmp_path / "markers"
    markers.mkdir()

    def owners() -> set[str | None]:
        return {j["lease_owner"] if j["status"] == "running" else None for j in iter_rows(service.db, "jobs")}

    doomed = _start_worker(service, "doomed", 30.0, markers, batch=4)
    try:
        _wait(lambda: owners() == {"doomed"}, 30, "the first worker to claim the whole batch")
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(10)
    finally:
        doomed.kill()
    survivor = _start_worker(service, "survivor", 0.2, markers, batch=3)
    try:
        _wait(
            lambda: {j["status"] for j in iter_rows(service.db, "jobs")} == {"done"},
            60,
            "the second worker to finish every job",
        )
    finally:
        survivor.terminate()
        survivor.wait(10)
    assert sorted(p.name for p in markers.iterdir()) == [f"survivor-{n}" for n in range(1, 5)]
    assert_each_done_once(service, ids, attempts=2)


@pytest.mark.slow
def test_the_pipeline_analyzes_a_batch_as_it_analyzes_each_call(
    pipeline: Any, understanding_dir: Path, audio_dir: Path, settings: Any, tmp_path: Path
) -> None:
    """The real models: a batch's calls get the results they get one by one (transcript, roles,
    scorecard with the call's own edited card, intent), and an unreadable one fails alone."""
    from callintel.service.worker import pipeline_analyzer
    from callintel.understand.scoring import load_scorecards

    assert pipeline.understander is not None, "understanding models not loaded"
    edited = load_scorecards(settings.models_dir)["showroom"].model_copy(update={"version": "edited-9"})
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00WAVEbroken")
    work = [
        (audio_dir / "jfk.flac", AnalysisOptions(scenario="showroom"), edited),
        (broken, AnalysisOptions(), None),
        (audio_dir / "zh_funasr_asr_example.wav", AnalysisOptions(scenario="inbound_call"), None),
    ]
    analyzer = pipeline_analyzer(pipeline)
    together = analyzer.analyze_many(work)
    assert isinstance(together[1], AudioError)  # the worker fails it for good, alone
    for (path, options, card), batched in zip(work, together, strict=True):
        if path == broken:
            continue
        alone = analyzer(path, options, card)
        assert isinstance(batched, AnalysisResult)
        assert [(t.role, t.text) for t in batched.turns] == [(t.role, t.text) for t in alone.turns]
        assert batched.understanding is not None and alone.understanding is not None
        assert batched.understanding.scorecard == alone.understanding.scorecard
        assert batched.understanding.intent.grade == alone.understanding.intent.grade
    first = together[0]
    assert isinstance(first, AnalysisResult) and first.understanding is not None
    assert first.understanding.scorecard.scorecard_version == "edited-9"  # its own card


def test_the_in_process_worker_batches_as_the_settings_say(
    service: Service, audio_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALLINTEL_WORKER_BATCH", "3")
    assert Settings.from_env().worker_batch == 3
    with pytest.raises(ValueError, match="1 to 64"):
        Settings(worker_batch=0)
    ids = upload_calls(service, audio_dir, 3)  # queued before the worker starts
    analyzer = FakeAnalyzer()
    settings = replace(service.settings, worker_batch=3)
    app = create_app(settings, analyzer=lambda: analyzer, in_process_workers=1, db=service.db)
    with TestClient(app):
        _wait(lambda: {j["status"] for j in iter_rows(service.db, "jobs")} == {"done"}, 30, "the jobs")
    assert analyzer.batches == [3]
    assert_each_done_once(service, ids)
