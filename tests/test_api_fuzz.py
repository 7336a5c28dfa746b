"""Schema-driven fuzzing of the REST API: no generated request may make the service answer 5xx.

Schemathesis reads the app's own OpenAPI document and sends, in-process over ASGI, requests built
from it (valid ones and, in the negative mode, ones that break the schema) to every operation, on
a migrated database holding a few real rows (an analysed call, its customer) so that path
parameters sometimes name something that exists. Hypothesis is derandomised: a CI run repeats.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from api import create_app
from callintel.store.db import Database
from callintel.worker import Worker
from tests.service_helpers import FakeAnalyzer, auth, backends, fresh_database_url, make_key, service_settings

FUZZ_SETTINGS = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


class Seeded:
    """The app on a fresh database with an admin key, dealer d1 and two uploaded calls."""

    def __init__(self, backend: str, tmp_path: Path, audio_dir: Path) -> None:
        self.db = Database(fresh_database_url(backend, tmp_path))
        settings_ = service_settings(tmp_path, self.db.url)
        self.app = create_app(
            settings_, analyzer=lambda: FakeAnalyzer(), in_process_workers=0, db=self.db, sync_analysis=True
        )
        self.admin = make_key(self.db, "admin", "*")
        crm = make_key(self.db, "crm", "d1")  # registers dealer d1
        with TestClient(self.app) as client:
            self.kept = self._upload(client, crm, audio_dir / "jfk.flac", customer_id="cust-1")
            self.victim = self._upload(client, crm, audio_dir / "jfk.flac", external_id="erase-me")
            worker = Worker(self.db, self.app.state.blobs, FakeAnalyzer(), name="fuzz-worker")
            while worker.run_once():
                pass
            assert client.get(f"/v1/calls/{self.kept}", headers=auth(crm)).json()["status"] == "done"
        self.customer = "cust-1"

    @staticmethod
    def _upload(client: TestClient, key: str, path: Path, **form: str) -> str:
        with path.open("rb") as f:
            response = client.post(
                "/v1/calls",
                files={"audio": (path.name, f, "audio/flac")},
                data={"dealer": "d1"} | form,
                headers=auth(key),
            )
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    def schema(self, headers: dict[str, str]) -> Any:
        schema = schemathesis.openapi.from_asgi("/openapi.json", self.app)
        schema.config.update(headers=headers)
        schema.config.generation.update(
            modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], deterministic=True
        )
        seeded = self

        @schema.hook
        def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any]) -> Any:
            # Now and then name the rows that exist; DELETE erases its own call, not the one the others read.
            real: dict[str, Any] = {}
            if "call_id" in path_parameters:
                is_delete = context.operation is not None and context.operation.method.upper() == "DELETE"
                real["call_id"] = seeded.victim if is_delete else seeded.kept
            if "customer_id" in path_parameters:
                real["customer_id"] = seeded.customer
            if not real:
                return st.just(path_parameters)
            return st.sampled_from([path_parameters, path_parameters | real])

        return schema

    def close(self) -> None:
        self.db.dispose()


@pytest.fixture(params=backends())
def seeded(request: pytest.FixtureRequest, tmp_path: Path, audio_dir: Path) -> Iterator[Seeded]:
    service = Seeded(request.param, tmp_path, audio_dir)
    yield service
    service.close()


@pytest.fixture
def admin_schema(seeded: Seeded) -> Any:
    return seeded.schema(auth(seeded.admin))


@pytest.fixture
def anonymous_schema(seeded: Seeded) -> Any:
    return seeded.schema({})


@pytest.fixture
def bad_key_schema(seeded: Seeded) -> Any:
    return seeded.schema(auth("ci_not-a-real-key"))


admin = schemathesis.pytest.from_fixture("admin_schema")
anonymous = schemathesis.pytest.from_fixture("anonymous_schema")
bad_key = schemathesis.pytest.from_fixture("bad_key_schema")


@admin.parametrize()
@FUZZ_SETTINGS
def test_admin_requests_never_answer_5xx(case: Any) -> None:
    response = case.call()
    case.validate_response(response, checks=[not_a_server_error])


@anonymous.parametrize()
@settings(FUZZ_SETTINGS, max_examples=10)
def test_requests_without_a_key_never_answer_5xx(case: Any) -> None:
    response = case.call()
    case.validate_response(response, checks=[not_a_server_error])


@bad_key.parametrize()
@settings(FUZZ_SETTINGS, max_examples=10)
def test_requests_with_a_bad_key_never_answer_5xx(case: Any) -> None:
    response = case.call()
    case.validate_response(response, checks=[not_a_server_error])
