"""Delivery to the CRM/CDP: outbox events, signed webhooks with retries and dead letters, the
pull API, journey tags with thresholds, and dealer settings. SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import random
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api import create_app
from callintel.cli import app as cli
from callintel.errors import AudioDecodeError
from callintel.options import AnalysisOptions
from callintel.result import AnalysisResult
from callintel.service.delivery import DeliveryOptions, Dispatcher, sign, verify
from callintel.service.worker import Worker
from callintel.store.blobs import BlobStore
from callintel.store.db import Database
from callintel.store.models import WebhookDelivery
from callintel.understand.tags import TagPolicy, load_policy
from tests.receiver import Receiver
from tests.service_helpers import (
    FakeAnalyzer,
    auth,
    iter_rows,
    make_key,
    service_settings,
    tags_of,
)

FAST = DeliveryOptions(
    max_attempts=30, base_delay=0.02, max_delay=0.2, timeout=2.0, hold_seconds=5.0, concurrency=4
)


class TaggingAnalyzer(FakeAnalyzer):
    """The fake pipeline, with the tags of each call chosen by the test."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[dict[str, Any]] | None = None

    def __call__(self, path: Path, options: AnalysisOptions, scorecard: Any = None) -> AnalysisResult:
        result = super().__call__(path, options, scorecard)
        if self.tags is not None:
            assert result.understanding is not None
            result = replace(result, understanding=replace(result.understanding, tags=tags_of(self.tags)))
        return result


class Service:
    def __init__(self, db: Database, tmp_path: Path) -> None:
        self.db = db
        self.settings = service_settings(tmp_path, db.url)
        self.analyzer = TaggingAnalyzer()
        self.client = TestClient(create_app(self.settings, in_process_workers=0, db=db))
        self.worker = Worker(db, BlobStore(self.settings.audio_dir), self.analyzer, name="test-worker")
        self.admin = make_key(db, "admin", "*")
        self.crm = make_key(db, "crm", "d1")
        self.crm_other = make_key(db, "crm", "d2")
        self.tmp = tmp_path
        self.uploads = 0

    def call(self, customer: str | None, tags: list[dict[str, Any]] | None = None, dealer: str = "d1") -> str:
        """Upload a distinct recording for ``customer`` and have the worker analyse it."""
        self.uploads += 1
        path = self.tmp / f"call{self.uploads}.wav"
        _write_wav(path, seconds=0.5 + self.uploads * 0.01)
        form = {"dealer": dealer, "scenario": "showroom"} | ({"customer_id": customer} if customer else {})
        key = self.crm if dealer == "d1" else self.crm_other
        with path.open("rb") as f:
            answer = self.client.post(
                "/v1/calls", files={"audio": (path.name, f, "audio/wav")}, data=form, headers=auth(key)
            )
        assert answer.status_code == 202, answer.text
        self.analyzer.tags = tags
        assert self.worker.run_once()
        return str(answer.json()["id"])

    def subscribe(self, url: str, secret: str, events: list[str] | None = None, dealer: str = "d1") -> str:
        body: dict[str, Any] = {"dealer": dealer, "url": url, "secret": secret}
        if events is not None:
            body["events"] = events
        answer = self.client.post("/v1/webhooks", json=body, headers=auth(self.crm))
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    def events(self, key: str | None = None, **params: Any) -> list[dict[str, Any]]:
        answer = self.client.get("/v1/events", params=params, headers=auth(key or self.crm))
        assert answer.status_code == 200, answer.text
        return list(answer.json()["items"])


def _write_wav(path: Path, seconds: float) -> None:
    import wave

    import numpy as np

    t = np.arange(int(16000 * seconds)) / 16000
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes((9000 * np.sin(2 * np.pi * 220 * t)).astype("<i2").tobytes())


@pytest.fixture
def service(db: Database, tmp_path: Path) -> Service:
    return Service(db, tmp_path)


def _drain(dispatcher: Dispatcher, until: Any, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not until():
        assert time.monotonic() < deadline, "deliveries did not finish in time"
        if not dispatcher.run_once():
            time.sleep(0.02)


def _statuses(db: Database) -> dict[str, int]:
    out: dict[str, int] = {}
    for row in iter_rows(db, "webhook_deliveries"):
        out[row["status"]] = out.get(row["status"], 0) + 1
    return out


def test_signatures_verify_and_refuse_tampering_and_old_timestamps() -> None:
    body = b'{"id":"e1","type":"call.analyzed"}'
    header = sign("s3cret-s3cret-s3cret", 1_700_000_000, body)
    assert verify("s3cret-s3cret-s3cret", header, body, now=1_700_000_010)
    assert not verify("s3cret-s3cret-s3cret", header, body + b" ", now=1_700_000_010)
    assert not verify("another-secret-entirely", header, body, now=1_700_000_010)
    assert not verify("s3cret-s3cret-s3cret", header, body, now=1_700_000_000 + 301)
    assert not verify("s3cret-s3cret-s3cret", "garbage", body)


def test_backoff_grows_exponentially_with_jitter_up_to_the_cap() -> None:
    options = DeliveryOptions(base_delay=5.0, max_delay=3600.0)
    rng = random.Random(0)
    for attempt in range(1, 25):
        ceiling = min(3600.0, 5.0 * 2 ** (attempt - 1))
        delays = [options.delay(attempt, rng) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert max(delays) - min(delays) > ceiling / 10  # jitter spreads retries out
    shortest = sum(min(3600.0, 5.0 * 2 ** (a - 1)) / 2 for a in range(1, DeliveryOptions().max_attempts))
    assert shortest > 7 * 3600, "with the defaults a receiver may be down for hours before a dead letter"
    with pytest.raises(ValueError):
        DeliveryOptions(max_attempts=0)


def test_every_event_arrives_once_in_order_through_failures_outage_and_restart(
    service: Service, db: Database
) -> None:
    receiver = Receiver(secret="whsec_test_secret_1234", fail_next=3).start()
    try:
        service.subscribe(receiver.url, receiver.secret)
        dispatcher = Dispatcher(db, FAST)
        # Calls of three customers, interleaved; the first deliveries meet three failures.
        for round_ in range(2):
            for customer in ("c1", "c2", "c3"):
                value = f"领克 0{round_ + 7}"
                service.call(customer, [{"key": "model_interest", "value": value, "confidence": 0.9}])
        _drain(dispatcher, lambda: len(receiver.unique()) >= 6)
        assert receiver.answered_errors == 3
        # The CRM goes away; more results come; the service restarts (a new dispatcher).
        receiver.stop()
        for customer in ("c1", "c2", "c3", None):
            service.call(customer, [{"key": "payment", "value": "loan", "confidence": 0.8}])
        for _ in range(5):
            dispatcher.run_once()
            time.sleep(0.05)
        pending = _statuses(db).get("pending", 0)
        assert pending > 0
        failed = [r for r in iter_rows(db, "webhook_deliveries") if r["last_error"]]
        assert any("Connect" in (r["last_error"] or "") for r in failed)
        dispatcher.close()
        receiver.start()
        restarted = Dispatcher(db, FAST)
        _drain(restarted, lambda: _statuses(db).get("pending", 0) == 0)
        restarted.close()
    finally:
        receiver.stop()

    events = {row["id"]: row for row in iter_rows(db, "events")}
    assert _statuses(db) == {"delivered": len(events)}
    got = receiver.unique()
    assert set(got) == set(events), "every event arrived (by event id)"
    assert all(r.signature_ok for r in receiver.received)
    kinds = [r.type for r in got.values()]
    assert kinds.count("call.analyzed") == 10
    assert kinds.count("customer.tags_changed") == 9  # every call of a customer changed its tags
    # Per customer, first arrivals are in event order; seq numbers are unique and increasing.
    for customer in ("c1", "c2", "c3"):
        arrived = [r.seq for r in receiver.received if r.data.get("customer_id") == customer]
        firsts = list(dict.fromkeys(arrived))
        assert firsts == sorted(firsts) and len(firsts) == 6
    assert len({r.seq for r in got.values()}) == len(got)


def test_a_delivery_goes_dead_after_max_attempts_and_replay_resends_it(
    service: Service, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = Receiver(secret="whsec_test_secret_1234", fail_next=10**6, fail_status=500).start()
    try:
        subscription = service.subscribe(receiver.url, receiver.secret, events=["call.analyzed"])
        service.call("c1")
        options = DeliveryOptions(max_attempts=3, base_delay=0.01, max_delay=0.02, timeout=2, hold_seconds=5)
        dispatcher = Dispatcher(db, options)
        _drain(dispatcher, lambda: _statuses(db).get("dead", 0) == 1)
        row = next(iter_rows(db, "webhook_deliveries"))
        assert (row["attempts"], row["last_status"]) == (3, 500)
        assert "HTTP 500" in row["last_error"]
        assert receiver.answered_errors == 3 and not receiver.received
        assert dispatcher.run_once() == 0, "a dead letter is not retried by itself"
        listed = service.client.get(
            f"/v1/webhooks/{subscription}/deliveries", params={"status": "dead"}, headers=auth(service.crm)
        )
        assert [d["status"] for d in listed.json()] == ["dead"]

        receiver.fail_next = 0
        monkeypatch.setenv("CALLINTEL_DATABASE_URL", db.url)
        result = CliRunner().invoke(cli, ["deliveries", "replay", "--status", "dead"])
        assert result.exit_code == 0, result.output
        assert "1 deliveries queued again" in result.output
        _drain(dispatcher, lambda: _statuses(db) == {"delivered": 1})
        dispatcher.close()
        assert [r.attempt for r in receiver.received] == [1]
        # Replaying delivered ones through the API sends the same event id again.
        answer = service.client.post(
            f"/v1/webhooks/{subscription}/replay", params={"status": "delivered"}, headers=auth(service.crm)
        )
        assert answer.json() == {"replayed": 1}
        again = Dispatcher(db, options)
        _drain(again, lambda: len(receiver.received) == 2)
        again.close()
        assert receiver.received[0].event_id == receiver.received[1].event_id
    finally:
        receiver.stop()


def test_pull_api_pages_by_seq_and_shows_only_the_keys_dealers(service: Service) -> None:
    for i in range(5):
        service.call(f"c{i % 2}", [{"key": "payment", "value": ["loan", "full"][i % 2], "confidence": 0.9}])
    service.call("x1", dealer="d2")
    items = service.events(limit=3)
    assert [e["type"] for e in items][:1] == ["call.analyzed"]
    seen = list(items)
    while items:
        items = service.events(after=seen[-1]["seq"], limit=3)
        seen += items
    seqs = [e["seq"] for e in seen]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert {e["dealer_id"] for e in seen} == {"d1"}
    assert len([e for e in seen if e["type"] == "call.analyzed"]) == 5
    other = service.events(key=service.crm_other)
    assert {e["dealer_id"] for e in other} == {"d2"} and other
    assert service.events(dealer="d2") == [], "a dealer outside the key's scope gives nothing"
    only = service.events(type="customer.tags_changed")
    assert only and {e["type"] for e in only} == {"customer.tags_changed"}
    last = seen[-1]["seq"]
    page = service.client.get("/v1/events", params={"after": last}, headers=auth(service.crm)).json()
    assert page == {"items": [], "next_after": last}
    qa = make_key(service.db, "qa", "d1")
    assert service.client.get("/v1/events", headers=auth(qa)).status_code == 403


def test_tags_changed_only_when_current_tags_change_and_history_stays(service: Service) -> None:
    grade_a = {"key": "intent_grade", "value": "A", "confidence": 0.6}
    service.call("c1", [grade_a, {"key": "model_interest", "value": "领克 08", "confidence": 0.9}])
    service.call("c1", [grade_a, {"key": "model_interest", "value": "领克 08", "confidence": 0.8}])
    service.call("c1", [{"key": "intent_grade", "value": "H", "confidence": 0.7}])
    changes = [e["data"] for e in service.events(type="customer.tags_changed")]
    assert len(changes) == 2, "the second call changed nothing current"
    assert changes[0]["added"] == [
        {"key": "intent_grade", "value": "A"},
        {"key": "model_interest", "value": "领克 08"},
    ]
    assert changes[1]["added"] == [{"key": "intent_grade", "value": "H"}]
    assert changes[1]["removed"] == [{"key": "intent_grade", "value": "A"}]
    current = {(t["key"], t["value"]) for t in changes[1]["current"]}
    assert current == {("intent_grade", "H"), ("model_interest", "领克 08")}
    journey = service.client.get("/v1/customers/c1/journey", headers=auth(service.crm)).json()
    assert {(t["key"], t["value"]) for t in journey["current_tags"]} == current
    assert len(journey["history"]) == 5
    analyzed = service.events(type="call.analyzed")[-1]["data"]
    tag = analyzed["tags"][0]
    assert set(tag) == {
        "key", "value", "confidence", "call_id", "model_version", "created_at", "source", "reviewer"
    }  # fmt: skip
    assert tag["call_id"] == analyzed["call_id"] and tag["model_version"]
    assert (tag["source"], tag["reviewer"]) == ("model", None) and analyzed["reviewed"] is False


def test_tag_thresholds_per_key_and_per_dealer(service: Service) -> None:
    shipped = load_policy(service.settings.models_dir)
    assert shipped.threshold("intent_grade") == 0.0 and shipped.threshold("concern") == 0.5
    low = [
        {"key": "intent_grade", "value": "B", "confidence": 0.3},
        {"key": "concern", "value": "range", "confidence": 0.4},
        {"key": "model_interest", "value": "领克 08", "confidence": 0.9},
    ]
    service.call("c1", low)
    journey = service.client.get("/v1/customers/c1/journey", headers=auth(service.crm)).json()
    assert {t["key"] for t in journey["history"]} == {"intent_grade", "model_interest"}

    url = "/v1/dealers/d1/settings"
    bad = {"tags": {"min_confidence": {"model_interest": 1.5}}}
    answer = service.client.put(url, json=bad, headers=auth(service.admin))
    assert answer.status_code == 422 and "model_interest" in answer.json()["detail"]
    assert (
        service.client.put(
            url, json={"tags": {"min_confidence": {"bogus": 0.1}}}, headers=auth(service.admin)
        ).status_code
        == 422
    )
    assert service.client.put(url, json={"colour": "red"}, headers=auth(service.admin)).status_code == 422
    assert service.client.put(url, json={}, headers=auth(service.crm)).status_code == 403
    assert service.client.get(url, headers=auth(service.crm)).json()["tags"]["min_confidence"] == {}

    strict = {"tags": {"min_confidence": {"model_interest": 0.95, "concern": 0.1}}}
    assert service.client.put(url, json=strict, headers=auth(service.admin)).status_code == 200
    assert service.client.get(url, headers=auth(service.crm)).json()["tags"] == strict["tags"]
    assert service.client.get("/v1/dealers/d1/settings", headers=auth(service.crm_other)).status_code == 404
    service.call("c2", low)
    journey = service.client.get("/v1/customers/c2/journey", headers=auth(service.crm)).json()
    assert {t["key"] for t in journey["history"]} == {"intent_grade", "concern"}
    assert TagPolicy({"default": 0.5}).overridden({"concern": 0.2}).threshold("concern") == 0.2


def test_a_call_that_fails_for_good_emits_call_failed(service: Service) -> None:
    service.analyzer.fail_with = AudioDecodeError("not audio")
    service.call("c9")
    failed = service.events(type="call.failed")
    assert len(failed) == 1
    data = failed[0]["data"]
    assert data["customer_id"] == "c9" and "not audio" in data["error"]
    assert service.events(type="call.analyzed") == []


def test_subscriptions_are_scoped_to_dealers_and_checked(service: Service, db: Database) -> None:
    body = {"dealer": "d1", "url": "http://127.0.0.1:9/hook", "events": ["call.analyzed"]}
    created = service.client.post("/v1/webhooks", json=body, headers=auth(service.crm))
    assert created.status_code == 201
    sub = created.json()
    assert sub["secret"].startswith("whsec_") and len(sub["secret"]) > 30
    listed = service.client.get("/v1/webhooks", headers=auth(service.crm)).json()
    assert [s["id"] for s in listed] == [sub["id"]] and listed[0]["secret"] is None
    assert service.client.get("/v1/webhooks", headers=auth(service.crm_other)).json() == []
    other = auth(service.crm_other)
    assert service.client.delete(f"/v1/webhooks/{sub['id']}", headers=other).status_code == 404
    assert service.client.get(f"/v1/webhooks/{sub['id']}/deliveries", headers=other).status_code == 404
    for bad in (
        {"dealer": "d2", "url": "http://127.0.0.1:9/h"},
        {"dealer": "d1", "url": "ftp://example.com/h"},
        {"dealer": "d1", "url": "http://user:pw@example.com/h"},
        {"dealer": "d1", "url": "http://example.com/h", "events": ["call.deleted"]},
        {"dealer": "d1", "url": "http://example.com/h", "secret": "short"},
    ):
        answer = service.client.post("/v1/webhooks", json=bad, headers=auth(service.crm))
        assert answer.status_code in (403, 422), (bad, answer.text)
    assert len(list(iter_rows(db, "webhook_subscriptions"))) == 1
    # Only the subscribed types get deliveries; a deleted subscription drops its own.
    service.call("c1")
    assert {r["event_id"] for r in iter_rows(db, "webhook_deliveries")} == {
        e["id"] for e in service.events(type="call.analyzed")
    }
    assert service.client.delete(f"/v1/webhooks/{sub['id']}", headers=auth(service.crm)).status_code == 204
    assert list(iter_rows(db, "webhook_deliveries")) == []
    assert service.events(), "events stay pullable"


def test_erasing_a_call_erases_its_events_and_deliveries(service: Service, db: Database) -> None:
    service.subscribe("http://127.0.0.1:9/hook", "whsec_test_secret_1234")
    call = service.call("c1")
    assert list(iter_rows(db, "webhook_deliveries"))
    assert service.client.delete(f"/v1/calls/{call}", headers=auth(service.crm)).status_code == 204
    assert list(iter_rows(db, "events")) == [] and list(iter_rows(db, "webhook_deliveries")) == []


def test_two_dispatchers_never_send_one_delivery_twice(service: Service, db: Database) -> None:
    receiver = Receiver(secret="whsec_test_secret_1234").start()
    try:
        service.subscribe(receiver.url, receiver.secret)
        for i in range(12):
            service.call(f"c{i}")
        first, second = Dispatcher(db, FAST), Dispatcher(db, FAST)
        deadline = time.monotonic() + 30
        while _statuses(db).get("pending", 0) and time.monotonic() < deadline:
            first.run_once()
            second.run_once()
        first.close()
        second.close()
    finally:
        receiver.stop()
    assert _statuses(db) == {"delivered": 24}
    assert len(receiver.received) == 24 == len(receiver.unique())


def test_dispatcher_skips_inactive_subscriptions(service: Service, db: Database) -> None:
    sub = service.subscribe("http://127.0.0.1:9/hook", "whsec_test_secret_1234")
    service.call("c1")
    with db.session() as session:
        from callintel.store.models import WebhookSubscription

        row = session.get(WebhookSubscription, sub)
        assert row is not None
        row.active = False
    dispatcher = Dispatcher(db, FAST)
    assert dispatcher.run_once(dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)) == 0
    dispatcher.close()
    with db.session() as session:
        assert {d.attempts for d in session.query(WebhookDelivery)} == {0}
