"""The FastAPI application: routes, errors, the in-process worker, health and metrics."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest
from sqlalchemy import func, select, text

from api import calls, console, more, problems, team, webhooks
from callintel.service.delivery import DeliveryOptions, Dispatcher
from callintel.service.worker import Analyzer, Worker
from callintel.settings import Settings
from callintel.store.blobs import BlobStore
from callintel.store.db import Database, is_current
from callintel.store.models import Job


def create_app(
    settings: Settings,
    analyzer: Callable[[], Analyzer] | None = None,
    in_process_workers: int = 1,
    db: Database | None = None,
    sync_analysis: bool = True,
    deliveries: DeliveryOptions | None = None,
) -> FastAPI:
    """The service on ``settings``' database and storage.

    Args:
        analyzer: makes the analysis function for in-process workers (loads the models);
            called once, at startup. None with ``in_process_workers`` > 0 loads the pipeline.
        in_process_workers: worker threads inside this process (0: separate `callintel worker`
            processes do the work).
        sync_analysis: serve ``POST /v1/calls:analyze`` (loads the models into this process).
        deliveries: run a webhook dispatcher in this process with these options (None: separate
            `callintel deliveries run` processes send them).
    """
    database = db or Database(settings.database_url)
    stop = threading.Event()
    wake = threading.Event()
    threads: list[threading.Thread] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        analyze = None
        if in_process_workers > 0 or sync_analysis:
            analyze = (analyzer or _load_pipeline(settings))()
            app.state.sync_analyzer = analyze if sync_analysis else None
        if in_process_workers > 0:
            assert analyze is not None
            for i in range(in_process_workers):
                worker = Worker(
                    database, app.state.blobs, analyze, poll_seconds=1.0, models_dir=settings.models_dir
                )
                worker.name = f"{worker.name}:in-process-{i}"
                thread = threading.Thread(target=worker.run, args=(stop, wake), daemon=True)
                thread.start()
                threads.append(thread)
        dispatcher = None
        if deliveries is not None:
            dispatcher = Dispatcher(database, deliveries)
            thread = threading.Thread(target=dispatcher.run, args=(stop,), daemon=True)
            thread.start()
            threads.append(thread)
        try:
            yield
        finally:
            stop.set()
            wake.set()
            for thread in threads:
                thread.join(timeout=30)
            if dispatcher is not None:
                dispatcher.close()
            if db is None:
                database.dispose()

    app = FastAPI(
        title="callintel",
        version="1",
        description="Sales-call intelligence: upload recordings, get transcripts, scorecards, "
        "customer attributes, intent grades and journey tags.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = database
    app.state.blobs = BlobStore(settings.audio_dir)
    app.state.wake_workers = wake.set
    app.state.sync_analyzer = None
    problems.install(app)
    errors = problems.documented(400, 401, 403, 404, 409, 413, 415, 422, 500, 503)
    app.include_router(calls.router, responses=errors)
    app.include_router(more.router, responses=errors)
    app.include_router(webhooks.router, responses=errors)
    app.include_router(team.router, responses=errors)
    console.install(app)
    _install_request_guards(app, settings.max_upload_bytes)
    _install_health(app)
    return app


def _load_pipeline(settings: Settings) -> Callable[[], Analyzer]:
    def load() -> Analyzer:
        from callintel.pipeline import Pipeline
        from callintel.service.worker import pipeline_analyzer

        return pipeline_analyzer(Pipeline.from_settings(settings))

    return load


def _install_request_guards(app: FastAPI, max_bytes: int) -> None:
    @app.middleware("http")
    async def guard(request: Request, call_next: Any) -> Response:
        # NUL can be no id, name or filter here, and PostgreSQL text cannot hold it.
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        if (
            b"\x00" in request.url.path.encode()
            or b"%00" in raw_path.lower()
            or b"%00" in request.scope.get("query_string", b"")
        ):
            return problems.problem_response(400, "the URL contains a NUL character")
        # Refuse a body announced as too large before reading it (the multipart overhead is small).
        length = request.headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                return problems.problem_response(400, "Content-Length is not a number")
            if int(length) > max_bytes + 1024 * 1024:
                return problems.problem_response(
                    413, f"the request is larger than the limit of {max_bytes} bytes"
                )
        response: Response = await call_next(request)
        return response


def _install_health(app: FastAPI) -> None:
    registry = CollectorRegistry()
    queued = Gauge("callintel_jobs", "Jobs by status", ["status"], registry=registry)
    sending = Gauge(
        "callintel_webhook_deliveries", "Webhook deliveries by status", ["status"], registry=registry
    )

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    def readyz(request: Request) -> Response:
        """The database answers and its schema is migrated."""
        db: Database = request.app.state.db
        try:
            with db.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            ready = is_current(db.engine)
        except Exception as e:
            return problems.problem_response(503, f"database not reachable: {type(e).__name__}")
        if not ready:
            return problems.problem_response(503, "database schema missing: run `callintel db upgrade`")
        return Response('{"status":"ready"}', media_type="application/json")

    @app.get("/metrics", tags=["ops"], response_class=Response)
    def metrics(request: Request) -> Response:
        """Prometheus metrics."""
        with request.app.state.db.session() as session:
            counts = dict(session.execute(select(Job.status, func.count()).group_by(Job.status)).all())
            delivery = webhooks.delivery_counts(session)
        for status in ("queued", "running", "done", "failed"):
            queued.labels(status).set(counts.get(status, 0))
        for status in ("pending", "delivered", "dead"):
            sending.labels(status).set(delivery.get(status, 0))
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
