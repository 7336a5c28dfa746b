"""Operations: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest

from api.deps import AnalysisMetricsDep, DatabaseDep, MetricsReaderDep, SessionDep
from api.models import Health, Ready
from api.problems import documented, problem_response
from callintel.store.analytics import job_counts
from callintel.store.db import is_current
from callintel.store.subscriptions import deliveries_by_status

router = APIRouter(tags=["ops"])


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get("/readyz", response_model=Ready, responses=documented(503))
def readyz(database: DatabaseDep) -> Ready | JSONResponse:
    """The database answers and its schema is migrated."""
    try:
        ready = is_current(database.engine)
    except Exception as e:
        return problem_response(503, f"database not reachable: {type(e).__name__}")
    if not ready:
        return problem_response(503, "database schema missing: run `callintel db upgrade`")
    return Ready(status="ready")


@router.get(
    "/metrics",
    response_class=Response,
    dependencies=[MetricsReaderDep],
    responses={
        200: {"description": "Prometheus' text format.", "content": {"text/plain": {}}},
        **documented(401),
    },
)
def metrics(session: SessionDep, analyses: AnalysisMetricsDep) -> Response:
    """Prometheus metrics: jobs and webhook deliveries by status (from the database), and the
    analyses of this process's workers (counts by outcome, durations, stage timings; see
    docs/deploy.md). With ``CALLINTEL_METRICS_TOKEN`` set, the token is required as a bearer token."""
    registry = CollectorRegistry()
    jobs = Gauge("callintel_jobs", "Jobs by status", ["status"], registry=registry)
    sending = Gauge(
        "callintel_webhook_deliveries", "Webhook deliveries by status", ["status"], registry=registry
    )
    for job_status, count in job_counts(session).items():
        jobs.labels(job_status).set(count)
    for delivery_status, count in deliveries_by_status(session).items():
        sending.labels(delivery_status).set(count)
    return Response(generate_latest(registry) + analyses.exposition(), media_type=CONTENT_TYPE_LATEST)
