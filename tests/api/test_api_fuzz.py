"""Schema-driven fuzzing of the REST API: no generated request may make the service answer 5xx.

Schemathesis reads the app's own OpenAPI document and sends requests built from it, in-process
over ASGI, to every operation: valid ones and (negative mode) ones that break the schema. The
database is migrated and holds a few real rows (analysed calls, a customer, dealer d1). Of the
generated requests, a third are pointed at those rows (and upload a real recording, whole or cut),
so that they get past the lookups; a third carry awkward strings (NUL, traversal, quotes) in every
path, query and body field; the rest go as generated. Hypothesis is derandomised: a CI run repeats.

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
import yaml
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import response_headers_conformance, response_schema_conformance

from api import create_app
from callintel.service.worker import Worker
from callintel.store.db import Database
from tests.service_helpers import FakeAnalyzer, auth, backends, fresh_database_url, make_key, service_settings

MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
# Strings that databases, URL routing and logs handle badly; Hypothesis finds them only by chance.
AWKWARD = ["\x00", "a\x00b", "%00", "%2F..%2F", "../../etc/passwd", "' OR '1'='1", "\u202e\U0001f600", " "]
# Full-text query syntax of SQLite FTS5 and PostgreSQL tsquery (GET /v1/search, issue 17).
AWKWARD += ['"', '领克" OR "', "NEAR(领克 08", "*", "领克:* & !", "{tokens}: x", "a <-> b", "\\'"]
# No 5xx; and a response the schema documents (its status and media type) has the documented shape.
# Not checked: status_code_conformance and content_type_conformance, as the schema documents none of
# the 401/403/404/409/413/415 answers, nor the application/problem+json media type of errors.
CHECKS = [not_a_server_error, response_schema_conformance, response_headers_conformance]


class Seeded:
    """The app on a fresh, migrated database with an admin key, dealer d1 and two analysed calls."""

    dealer = "d1"
    customer = "cust-1"

    def __init__(self, backend: str, tmp_path: Path, audio_dir: Path) -> None:
        self.audio_dir = audio_dir
        self.db = Database(fresh_database_url(backend, tmp_path))
        settings_ = service_settings(tmp_path, self.db.url)
        self.scorecards = {
            p.stem: yaml.safe_load(p.read_text(encoding="utf-8"))
            for p in Path(settings_.models_dir, "scorecards").glob("*.yaml")
            if not p.name.endswith(".lexicon.yaml")
        }
        self.app = create_app(
            settings_,
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
        if case.query and "q" in case.query:
            case.query["q"] = "领克"  # in the seeded transcripts: search finds, cuts and marks it
        if isinstance(case.body, dict) and "dealer" in case.body:
            case.body["dealer"] = self.dealer
        if isinstance(case.body, dict) and "audio" in case.body and audio is not None:
            case.body["audio"] = audio
        if case.method.upper() == "PUT" and path and "scenario" in path and isinstance(case.body, dict):
            # The scenario's own scorecard under the generated keys, so some documents are valid.
            case.body = self.scorecards.get(path["scenario"], {}) | case.body


def make_awkward(case: Any, value: str) -> None:
    """Put ``value`` in every string of ``case``'s path, query and (top-level) body fields."""
    for fields in (case.path_parameters, case.query, case.body):
        if isinstance(fields, dict):
            for name, old in fields.items():
                if isinstance(old, str):
                    fields[name] = value


@pytest.fixture(params=backends())
def seeded(request: pytest.FixtureRequest, tmp_path: Path, audio_dir: Path) -> Iterator[Seeded]:
    service = Seeded(request.param, tmp_path, audio_dir)
    yield service
    service.db.dispose()


def fuzz(
    seeded: Seeded,
    credentials: st.SearchStrategy[dict[str, str]],
    generate_credentials: bool,
    max_examples: int,
) -> list[str]:
    """Fuzz every operation in every mode, sending the headers ``credentials`` draws (over any
    generated ones); the failures, one text each."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", seeded.app)
    # Whether Schemathesis invents Authorization and X-API-Key headers of its own.
    schema.config.generation.update(with_security_parameters=generate_credentials)
    recording = (seeded.audio_dir / "jfk.flac").read_bytes()
    audio = st.sampled_from([None, recording, recording, recording[:4096]])
    failures: list[str] = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):  # the app's own schema does not describe an operation correctly
            failures.append(f"invalid OpenAPI schema: {result.err()}")
            continue
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
            @given(
                case=operation.as_strategy(generation_mode=mode),
                headers=credentials,
                variant=st.sampled_from(["generated", "seeded", "awkward"]),
                audio=audio,
                odd=st.sampled_from(AWKWARD),
            )
            def requests_never_fail(
                case: Any, headers: dict[str, str], variant: str, audio: bytes | None, odd: str
            ) -> None:
                if variant == "seeded":
                    seeded.point_at_rows(case, audio)
                elif variant == "awkward":
                    make_awkward(case, odd)
                response = case.call(headers=headers)
                case.validate_response(response, checks=CHECKS)

            try:
                requests_never_fail()
            except Unsatisfiable:
                # Nothing of this operation can break its schema (no parameters, or only free strings).
                assert mode == GenerationMode.NEGATIVE, operation.label
            except (Exception, BaseExceptionGroup) as e:  # the app raised, or a check failed (a group)
                detail = "".join(traceback.format_exception(e, limit=-6))
                failures.append(f"{operation.label} ({mode.value}):\n{detail}")
    return failures


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(q=st.text(min_size=1, max_size=220) | st.sampled_from(AWKWARD).map(lambda s: "领克 " + s + " 08"))
def _search_queries(client: TestClient, key: str, q: str) -> None:
    response = client.get("/v1/search", params={"q": q}, headers=auth(key))
    # 400: the service's guard refuses any URL with a NUL, before the route.
    assert response.status_code in ((200, 422) if "\x00" not in q else (400,)), (q, response.status_code)
    if response.status_code == 200:
        for hit in response.json()["items"]:
            assert all(0 <= s < e <= len(hit["snippet"]) for s, e in hit["highlights"]), hit


def test_any_search_query_answers_200_or_a_problem(seeded: Seeded) -> None:
    """Search with any text (FTS and tsquery syntax, SQL, quotes, NUL, surrogates, too long)."""
    with TestClient(seeded.app) as client:
        _search_queries(client, seeded.admin)
        found = client.get("/v1/search", params={"q": "领克"}, headers=auth(seeded.admin)).json()
    assert found["total"] == 2  # the two seeded calls still say it: nothing was changed


def test_admin_requests_never_answer_5xx(seeded: Seeded) -> None:
    failures = fuzz(seeded, st.just(auth(seeded.admin)), generate_credentials=False, max_examples=40)
    assert not failures, "\n\n".join(failures)


def test_requests_without_a_key_never_answer_5xx(seeded: Seeded) -> None:
    failures = fuzz(seeded, st.just({}), generate_credentials=False, max_examples=8)
    assert not failures, "\n\n".join(failures)


def test_requests_with_a_bad_key_never_answer_5xx(seeded: Seeded) -> None:
    admin = seeded.admin
    near_misses = [
        auth("ci_not-a-real-key"),
        auth(admin[:-1] + ("x" if admin[-1] != "x" else "y")),  # the admin key's prefix, a wrong secret
        {"X-API-Key": admin + "x"},
        {"Authorization": f"Basic {admin}"},
        {},  # only the credentials Schemathesis generates
    ]
    failures = fuzz(seeded, st.sampled_from(near_misses), generate_credentials=True, max_examples=10)
    assert not failures, "\n\n".join(failures)
