"""`batch`: many recordings at once, from a folder, a manifest or the service's queue; or the
stored transcripts understood again."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from callintel.cli.common import console, errors, fail
from callintel.cli.options import (
    BeamSizeOption,
    ComputeTypeOption,
    Device,
    DeviceOption,
    LanguageOption,
    ModelOption,
    Scenario,
    UnderstandOption,
)
from callintel.cli.render import BatchProgress, print_batch_summary
from callintel.errors import CallintelError
from callintel.settings import Settings


class Engine(StrEnum):
    local = "local"
    ray = "ray"


def batch(
    source: Annotated[
        str,
        typer.Argument(
            help="A folder of recordings, a manifest (.csv/.jsonl: path + metadata), or db: "
            "(the service's pending calls, or with --reanalyze its analysed ones)."
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Results JSONL, also what a rerun resumes from [default: callintel-batch.jsonl; "
            "for db: none, results go to the database].",
        ),
    ] = None,
    reanalyze: Annotated[
        bool,
        typer.Option(
            help="db: only. Run the understanding stage again on stored transcripts (after a "
            "scorecard or model change); no audio is read."
        ),
    ] = False,
    batch_size: Annotated[
        int, typer.Option(help="Whisper windows decoded together (faster-whisper batched); 0: sequential.")
    ] = 8,
    workers: Annotated[
        int, typer.Option(help="CPU threads decoding and finding speech ahead of the models (0: all cores).")
    ] = 0,
    group: Annotated[
        int, typer.Option(min=1, max=256, help="Calls whose turns the classifiers take together.")
    ] = 8,
    limit: Annotated[
        int | None, typer.Option(min=1, help="db: take at most this many pending calls.")
    ] = None,
    dealer: Annotated[str | None, typer.Option(help="--reanalyze: only this dealer's calls.")] = None,
    since: Annotated[dt.datetime | None, typer.Option(help="--reanalyze: calls uploaded from (UTC).")] = None,
    until: Annotated[
        dt.datetime | None, typer.Option(help="--reanalyze: calls uploaded before (UTC).")
    ] = None,
    engine: Annotated[
        Engine,
        typer.Option(help="local: this machine; ray: the same stages on a Ray cluster (docs/batch.md)."),
    ] = Engine.local,
    ray_address: Annotated[
        str | None, typer.Option(help="--engine ray: the cluster (default: RAY_ADDRESS, or a local one).")
    ] = None,
    actors: Annotated[int, typer.Option(min=1, help="--engine ray: model actors (one per GPU).")] = 1,
    gpus_per_actor: Annotated[float, typer.Option(min=0, help="--engine ray: GPUs each actor holds.")] = 0.0,
    cpus_per_actor: Annotated[int, typer.Option(min=1, help="--engine ray: CPUs each actor holds.")] = 1,
    language: LanguageOption = None,
    scenario: Annotated[
        Scenario | None,
        typer.Option(
            help="Default scorecard (a manifest's scenario column wins); --reanalyze: only these calls."
        ),
    ] = None,
    model: ModelOption = None,
    device: DeviceOption = Device.auto,
    compute_type: ComputeTypeOption = "auto",
    beam_size: BeamSizeOption = 5,
    understand: UnderstandOption = True,
) -> None:
    """Analyse many recordings: progress with audio hours, throughput and ETA; a summary at the
    end. Resumable: a rerun skips what the output already holds for the same models; db: takes
    the pending calls from the queue and stores results, tags and events as the workers do."""
    from callintel.batch.db import is_db_source
    from callintel.batch.local import Ledger, fingerprint, pipeline_stage, read_source, run_batch
    from callintel.batch.local import default_options as batch_options
    from callintel.pipeline import Pipeline

    settings = Settings.from_env()
    from_db = is_db_source(source)
    if reanalyze and not from_db:
        fail("--reanalyze works on the database's stored transcripts: SOURCE db:")
    if from_db and engine == Engine.ray:
        fail("db: runs on the local engine (the Ray engine writes JSONL results)")
    if reanalyze:
        _reanalyze(settings, dealer, scenario.value if scenario else None, since, until, group)
        return
    try:
        options = batch_options(
            language, batch_size, beam_size, understand, scenario.value if scenario else None
        )
        # Absolute paths: Ray's workers do not share this directory.
        items = [] if from_db else read_source(Path(source).resolve(), options)
        with console.status("Loading models…"):
            pipeline = Pipeline.from_settings(settings, model, device=device.value, compute_type=compute_type)
    except (CallintelError, ValueError) as e:
        fail(str(e))
    versions = {"asr": pipeline.transcriber.info.version, "asr_name": pipeline.transcriber.info.name}
    if understand and pipeline.understander is not None:  # (loads the models)
        versions["understanding"] = pipeline.understander.models.directory_version
    batch_fp = fingerprint(versions, options)
    ledger: Any
    if from_db:
        ledger, items = _pending_calls(settings, pipeline, batch_fp, out, options, limit)
    else:
        ledger = Ledger(out or Path("callintel-batch.jsonl"), batch_fp)
    with BatchProgress(items) as show:
        try:
            if engine == Engine.ray:
                from callintel.batch.ray import PipelineStage, run_batch_ray

                summary = run_batch_ray(
                    items,
                    PipelineStage(asr_model=model, device=device.value, compute_type=compute_type),
                    ledger,
                    group=group,
                    actors=actors,
                    num_gpus=gpus_per_actor,
                    cpus_per_actor=cpus_per_actor,
                    address=ray_address,
                    on_outcome=show,
                )
            else:
                summary = run_batch(
                    items, pipeline_stage(pipeline), ledger, workers=workers, group=group, on_outcome=show
                )
        except (CallintelError, ConnectionError) as e:
            fail(str(e))
        finally:
            ledger.close()
    print_batch_summary(f"Batch: {source}", summary)
    if out is not None or not from_db:
        errors.print(f"results: {out or 'callintel-batch.jsonl'}")
    if summary.failures:
        raise typer.Exit(code=1)


def _pending_calls(
    settings: Settings, pipeline: Any, batch_fp: str, out: Path | None, options: Any, limit: int | None
) -> tuple[Any, list[Any]]:
    """The database's queued calls claimed for this batch, and the ledger that stores their
    results there."""
    from callintel.batch.db import PendingCalls, use_edited_scorecards
    from callintel.batch.local import Ledger
    from callintel.service.worker import Worker, pipeline_analyzer
    from callintel.store.blobs import BlobStore
    from callintel.store.db import Database

    db = Database(settings.database_url)
    if pipeline.understander is not None:  # the batch scores with the scorecards edited through the API
        pipeline.understander = use_edited_scorecards(db, pipeline.understander, settings.models_dir)
    worker = Worker(
        db,
        BlobStore(settings.audio_dir),
        pipeline_analyzer(pipeline),
        models_dir=settings.models_dir,
        max_audio_seconds=settings.max_audio_seconds,
    )
    pending = PendingCalls(worker, batch_fp, tee=Ledger(out, batch_fp) if out else None)
    items = pending.claim(options, limit)
    errors.print(f"claimed {len(items)} pending calls from the database")
    return pending, items


def _reanalyze(
    settings: Settings,
    dealer: str | None,
    scenario: str | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
    group: int,
) -> None:
    from callintel.batch.db import reanalyze_calls, use_edited_scorecards
    from callintel.pipeline import load_understander
    from callintel.store.db import Database

    db = Database(settings.database_url)
    with console.status("Loading the understanding models…"):
        understander = load_understander(settings, None)
    if understander is None:
        fail("the understanding models are not trained: run `callintel train`")
    understander = use_edited_scorecards(db, understander, settings.models_dir)
    with BatchProgress([]) as show:
        summary = reanalyze_calls(
            db,
            understander,
            settings.models_dir,
            dealer=dealer,
            scenario=scenario,
            since=since,
            until=until,
            group=group,
            on_outcome=show,
        )
    db.dispose()
    print_batch_summary("Reanalysis of stored transcripts", summary)
    if summary.failures:
        raise typer.Exit(code=1)
