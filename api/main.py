"""The FastAPI application: its state, lifespan (the models, the in-process workers and webhook
dispatcher), request guards, errors and routes."""

from __future__ import annotations

import contextlib
import secrets
import threading
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import FastAPI, Request, Response

from api import console, docs, problems
from api.audio_links import AudioLinks
from api.routes import api_router
from callintel.service.delivery import DeliveryOptions, Dispatcher
from callintel.service.monitoring import AnalysisMetrics
from callintel.service.worker import Analyzer, Worker
from callintel.settings import Settings
from callintel.store.blobs import BlobStore
from callintel.store.db import Database


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
    blobs = BlobStore(settings.audio_dir)
    # The in-process workers' analyses, counted and timed for /metrics.
    analysis_metrics = AnalysisMetrics()
    stop = threading.Event()
    wake = threading.Event()
    threads: list[threading.Thread] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        analyze = None
        if in_process_workers > 0 or sync_analysis:
            analyze = (analyzer or _load_pipeline(settings))()
            # The same analyzer as the workers': it takes concurrent calls, so no lock.
            app.state.sync_analyzer = analyze if sync_analysis else None
        if in_process_workers > 0:
            assert analyze is not None
            for i in range(in_process_workers):
                worker = Worker(
                    database,
                    blobs,
                    analyze,
                    poll_seconds=1.0,
                    models_dir=settings.models_dir,
                    max_audio_seconds=settings.max_audio_seconds,
                    batch=settings.worker_batch,
                    metrics=analysis_metrics,
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
        # api.docs serves them without a CDN.
        docs_url=None,
        redoc_url=None,
    )
    # What the routes are given (api.deps reads it, nothing else).
    app.state.settings = settings
    app.state.db = database
    app.state.blobs = blobs
    app.state.analysis_metrics = analysis_metrics
    app.state.wake_workers = wake.set
    app.state.sync_analyzer = None
    secret = settings.audio_url_secret.encode() or secrets.token_bytes(32)
    app.state.audio_links = AudioLinks(secret, settings.audio_url_seconds)
    problems.install(app)
    app.include_router(api_router)
    console.install(app)
    docs.install(app)
    _install_request_guards(app, settings.max_upload_bytes)
    return app


def _load_pipeline(settings: Settings) -> Callable[[], Analyzer]:
    def load() -> Analyzer:
        from callintel.pipeline import Pipeline
        from callintel.service.worker import pipeline_analyzer

        # The speaker and understanding models load in the background while the service starts.
        return pipeline_analyzer(Pipeline.from_settings(settings, preload=("speakers", "understanding")))

    return load


def _install_request_guards(app: FastAPI, max_bytes: int) -> None:
    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
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
                    413, f"the request is larger than the limit of {max_bytes} bytes", kind="too-large"
                )
        return await call_next(request)
