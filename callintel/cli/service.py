"""The service's processes: `serve` the API, run a `worker`, bring the database to its schema
(`db upgrade`)."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import replace
from typing import Annotated

import typer

from callintel.cli.common import console, stop_on_signals
from callintel.settings import Settings


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    in_process_workers: Annotated[
        int, typer.Option(help="Worker threads in this process; 0 when `callintel worker` processes run.")
    ] = 1,
    deliveries: Annotated[
        bool, typer.Option(help="Send webhooks from this process (off: run `callintel deliveries run`).")
    ] = True,
    worker_batch: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=64,
            help="Queued calls an in-process worker claims and analyses together "
            "[default: CALLINTEL_WORKER_BATCH, else 1].",
        ),
    ] = None,
) -> None:
    """Run the REST API (migrating the database first), with an in-process worker and webhook
    dispatcher by default."""
    import uvicorn

    from api import create_app
    from callintel.service.delivery import DeliveryOptions
    from callintel.store.db import upgrade

    _log_to_stderr()
    settings = Settings.from_env()
    if worker_batch is not None:
        settings = replace(settings, worker_batch=worker_batch)
    upgrade(settings.database_url)
    app_ = create_app(
        settings,
        in_process_workers=in_process_workers,
        deliveries=DeliveryOptions() if deliveries else None,
    )
    uvicorn.run(app_, host=host, port=port)


def worker(
    poll: Annotated[float, typer.Option(help="Seconds between looks at an empty queue.")] = 1.0,
    lease: Annotated[float, typer.Option(help="Seconds a job is held without a heartbeat.")] = 60.0,
    batch: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=64,
            help="Queued calls claimed and analysed together [default: CALLINTEL_WORKER_BATCH, else 1].",
        ),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=65535,
            help="Serve this worker's Prometheus metrics on this port (all addresses; see docs/deploy.md).",
        ),
    ] = None,
) -> None:
    """Process queued calls until stopped (SIGINT/SIGTERM finish the current job first); each
    analysis is logged (event=analysis.start / analysis.end lines) and counted."""
    from prometheus_client import start_http_server

    from callintel.pipeline import Pipeline
    from callintel.service.monitoring import AnalysisMetrics
    from callintel.service.worker import Worker, pipeline_analyzer
    from callintel.store.blobs import BlobStore
    from callintel.store.db import Database

    _log_to_stderr()
    settings = Settings.from_env()
    metrics = AnalysisMetrics()
    if metrics_port is not None:
        start_http_server(metrics_port, registry=metrics.registry)
    db = Database(settings.database_url)
    stop = stop_on_signals()
    analyze = pipeline_analyzer(Pipeline.from_settings(settings, preload=("speakers", "understanding")))
    Worker(
        db,
        BlobStore(settings.audio_dir),
        analyze,
        lease=dt.timedelta(seconds=lease),
        poll_seconds=poll,
        models_dir=settings.models_dir,
        max_audio_seconds=settings.max_audio_seconds,
        batch=batch if batch is not None else settings.worker_batch,
        metrics=metrics,
    ).run(stop)
    db.dispose()


def _log_to_stderr() -> None:
    """callintel's INFO lines (the workers' analysis lines) and other libraries' warnings on
    stderr, unless the process was given a logging configuration already."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("callintel").setLevel(logging.INFO)


def db_upgrade() -> None:
    """Create or migrate the database schema (CALLINTEL_DATABASE_URL; default SQLite in the data dir)."""
    from callintel.store.db import upgrade

    settings = Settings.from_env()
    upgrade(settings.database_url)
    console.print(f"database at head: {_safe_url(settings.database_url)}")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
