"""Schema-driven fuzzing of the REST API: no generated request may make the service answer 5xx.

Schemathesis reads the app's own OpenAPI document and sends requests built from it, in-process
over ASGI, to every operation: valid ones and (negative mode) ones that break the schema. The
database is migrated and holds a few real rows (analysed calls, a customer, dealer d1), and about
half the generated requests are pointed at them, so that path parameters sometimes find
something. Hypothesis is derandomised, so a CI run repeats exactly.

Every operation is fuzzed even when an earlier one fails; the failure lists them all, each with
the smallest request Hypothesis found and the server's exception.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from api import create_app
from callintel.store.db import Database
from callintel.worker import Worker
from tests.service_helpers import FakeAnalyzer, auth, backends, fresh_database_url, make_key, service_settings

MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


class Seeded:
    """The app on a fresh, migrated database with an admin key, dealer d1 and two analysed calls."""

    dealer = "d1"
    customer = "cust-1"

    def __init__(self, backend: str, tmp_path: Path, audio_dir: Path) -> None:
        self.audio_dir = audio_dir
        self.db = Database(fresh_database_url(backend, tmp_path))
        self.app = create_app(
            service_settings(tmp_path, self.db.url),
            analyzer=lambda: FakeAnalyzer(),
            in_process_workers=0,
            db=self.db,
            sync_analysis=True,
        )
        self.admin = make_key(self.db, "admin", "*")
        crm = make_key(self.db, "crm", self.dealer)  # registers the dealer
        with TestClient(self.app) as client:
            recording = audio_dir / "jfk.flac"
            self.kept = self._upload(client, crm, recording, customer_id=self.customer)
            # Erased by the DELETE fuzzing, so that the other operations keep finding `kept`.
            self.victim = self._upload(client, crm, recording, external_id="erase-me")
            worker = Worker(self.db, self.app.state.blobs, FakeAnalyzer(), name="fuzz-worker")
            while worker.run_once():
                pass
            assert client.get(f"/v1/calls/{self.kept}", headers=auth(crm)).json()["status"] == "done"

    def _upload(self, client: TestClient, key: str, path: Path, **form: str) -> str:
        with path.open("rb") as f:
            response = client.post(
                "/v1/calls",
                files={"audio": (path.name, f, "audio/flac")},
                data={"dealer": self.dealer} | form,
                headers=auth(key),
            )
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    def point_at_rows(self, case: Any, audio: bytes | None) -> None:
        """Make ``case`` name the seeded call, customer and dealer wherever it has such a parameter,
        and upload ``audio`` (a real recording, or a cut one) in place of the generated file."""
        path = case.path_parameters
        if path and "call_id" in path:
            path["call_id"] = self.victim if case.method.upper() == "DELETE" else self.kept
        if path and "customer_id" in path:
            path["customer_id"] = self.customer
        if case.query and "dealer" in case.query:
            case.query["dealer"] = self.dealer
        if isinstance(case.body, dict) and "dealer" in case.body:
            case.body["dealer"] = self.dealer
        if isinstance(case.body, dict) and "audio" in case.body and audio is not None:
            case.body["audio"] = audio


@pytest.fixture(params=backends())
def seeded(request: pytest.FixtureRequest, tmp_path: Path, audio_dir: Path) -> Iterator[Seeded]:
    service = Seeded(request.param, tmp_path, audio_dir)
    yield service
    service.db.dispose()


def fuzz(seeded: Seeded, headers: dict[str, str], max_examples: int) -> list[str]:
    """Fuzz every operation in every mode; the failures, one text each."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", seeded.app)
    # Only `headers` authenticate: no generated Authorization or X-API-Key headers.
    schema.config.generation.update(with_security_parameters=False)
    recording = (seeded.audio_dir / "jfk.flac").read_bytes()
    audio = st.sampled_from([None, recording, recording[:4096]])
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in MODES:

            @settings(
                max_examples=max_examples,
                deadline=None,
                derandomize=True,
                database=None,
                phases=[Phase.explicit, Phase.generate, Phase.shrink],
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            )
            @given(case=operation.as_strategy(generation_mode=mode), real=st.booleans(), audio=audio)
            def requests_never_fail(case: Any, real: bool, audio: bytes | None) -> None:
                if real:
                    seeded.point_at_rows(case, audio)
                response = case.call(headers=headers)
                case.validate_response(response, checks=[not_a_server_error])

            try:
                requests_never_fail()
            except Unsatisfiable:
                # Nothing of this operation can break its schema (no parameters, or only free strings).
                assert mode == GenerationMode.NEGATIVE, operation.label
            except (Exception, BaseExceptionGroup) as e:  # the app raised, or a check failed (a group)
                detail = "".join(traceback.format_exception(e, limit=-6))
                failures.append(f"{operation.label} ({mode.value}):\n{detail}")
    return failures


def test_admin_requests_never_answer_5xx(seeded: Seeded) -> None:
    failures = fuzz(seeded, auth(seeded.admin), max_examples=30)
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("key", [None, "ci_not-a-real-key"], ids=["no-key", "bad-key"])
def test_unauthenticated_requests_never_answer_5xx(seeded: Seeded, key: str | None) -> None:
    failures = fuzz(seeded, auth(key) if key else {}, max_examples=8)
    assert not failures, "\n\n".join(failures)
