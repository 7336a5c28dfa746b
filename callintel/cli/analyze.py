"""One call at a time: `analyze` a recording, `understand` a transcript, list the `models`."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import TaskID
from rich.table import Table

from callintel.cli.common import console, errors, fail, one_malloc_arena
from callintel.cli.options import (
    BeamSizeOption,
    Channels,
    ComputeTypeOption,
    Device,
    DeviceOption,
    LanguageOption,
    ModelOption,
    Scenario,
    UnderstandOption,
)
from callintel.cli.render import print_analysis, print_understanding, stage_progress
from callintel.errors import CallintelError
from callintel.settings import Settings
from callintel.understand.types import Understanding


def analyze(
    file: Annotated[Path, typer.Argument(help="Recording: WAV, FLAC, MP3, M4A, OGG/Opus, AMR ...")],
    language: LanguageOption = None,
    channels: Annotated[
        Channels, typer.Option(help="stereo: one party per channel; mono: diarize the mix.")
    ] = Channels.auto,
    agent_channel: Annotated[
        int, typer.Option(help="Stereo: channel of the agent/salesperson (0 left, 1 right).")
    ] = 0,
    speakers: Annotated[int | None, typer.Option(help="Mono: number of speakers (0 = estimate).")] = 2,
    sales_speaker: Annotated[
        str | None, typer.Option(help="Override roles: this speaker id (S1, S2...) is sales.")
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the full result as JSON here.")
    ] = None,
    model: ModelOption = None,
    device: DeviceOption = Device.auto,
    compute_type: ComputeTypeOption = "auto",
    beam_size: BeamSizeOption = 5,
    batch_size: Annotated[
        int,
        typer.Option(
            help="Whisper windows decoded together (faster-whisper batched); 0: sequential."
        ),
    ] = 8,
    domain_hotwords: Annotated[
        bool,
        typer.Option(help="Prime Whisper with car brand names (off: it hurts the base model, see README)."),
    ] = False,
    max_seconds: Annotated[float | None, typer.Option(help="Refuse recordings longer than this.")] = None,
    scenario: Annotated[
        Scenario | None, typer.Option(help="Scorecard: default inbound_call for stereo, showroom for mono.")
    ] = None,
    call_date: Annotated[
        str | None, typer.Option(help="Date of the call (ISO), for 年底/next month.")
    ] = None,
    understand: UnderstandOption = True,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what happens.")] = False,
) -> None:
    """Transcribe a recording, attribute words to speakers and roles, print the transcript."""
    one_malloc_arena()  # first: before any library starts a thread
    from callintel.options import AnalysisOptions, SpeakerOptions, TranscriptionOptions
    from callintel.pipeline import Pipeline, models_needed, prepare

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING)
    settings = Settings.from_env()
    try:
        options = AnalysisOptions(
            transcription=TranscriptionOptions(language=language, beam_size=beam_size, batch_size=batch_size),
            speakers=SpeakerOptions(
                channels=channels.value,
                agent_channel=agent_channel,
                num_speakers=speakers or None,
                sales_speaker=sales_speaker,
            ),
            domain_hotwords=domain_hotwords,
            max_seconds=max_seconds or settings.max_audio_seconds,
            understand=understand,
            scenario=scenario.value if scenario else None,
            call_date=call_date,
        )
        prepared = prepare(file, options)  # decoded first: its layout says which models it needs
        with console.status("Loading models…"):
            # The speaker and understanding models load in the background while Whisper decodes.
            pipeline = Pipeline.from_settings(
                settings,
                model,
                device=device.value,
                compute_type=compute_type,
                preload=models_needed(prepared.audio, options),
            )
        with stage_progress() as bar:
            tasks: dict[str, TaskID] = {}

            def hook(stage: str, done: float, total: float) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(stage.capitalize(), total=total)
                bar.update(tasks[stage], completed=done, total=total)

            result = pipeline.analyze(file, options, progress=hook, prepared=prepared)
    except (CallintelError, ValueError, FileNotFoundError) as e:
        fail(f"{type(e).__name__}: {e}")

    print_analysis(file, result)
    for warning in result.warnings:
        errors.print(f"[yellow]warning:[/] {warning}")
    if json_out is not None:
        json_out.write_text(result.to_json(), encoding="utf-8")
        errors.print(f"wrote {json_out}")


def models() -> None:
    """List the configured models and whether each is available offline."""
    from callintel.registry import ModelRegistry

    settings = Settings.from_env()
    try:
        registry = ModelRegistry(settings.models_dir, settings.cache_dir)
    except CallintelError as e:
        fail(str(e))
    table = Table(title="Configured models")
    table.add_column("name", no_wrap=True)
    for column in ("kind", "default", "available", "detail"):
        table.add_column(column)
    missing = False
    for spec in registry.specs():
        state = registry.availability(spec.name)
        missing |= not state.available
        available = "[green]yes[/]" if state.available else "[red]no[/]"
        table.add_row(
            spec.name, spec.kind, "yes" if spec.default else "", available, f"{spec.version}; {state.detail}"
        )
    console.print(table)
    console.print(
        "Any faster-whisper model name (small, large-v3, …) or local CTranslate2 directory "
        "also works with --model where its files are on this machine."
    )
    if missing:
        raise typer.Exit(code=1)


def understand_transcript(
    file: Annotated[
        Path, typer.Argument(help="Transcript: JSON, or lines with 销售:/客户: or Agent:/Customer:.")
    ],
    scenario: Annotated[
        Scenario | None, typer.Option(help="Scorecard (default: the file's, else showroom).")
    ] = None,
    call_date: Annotated[str | None, typer.Option(help="Date of the call (ISO).")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the result as JSON.")] = None,
) -> None:
    """Run the understanding stage alone on an existing transcript."""
    from pydantic import TypeAdapter

    from callintel.pipeline import load_understander
    from callintel.understand.transcripts import read_transcript

    settings = Settings.from_env()
    try:
        transcript = read_transcript(file)
        date = dt.date.fromisoformat(call_date) if call_date else None
        understander = load_understander(settings, None)
        if understander is None:
            raise CallintelError("understanding models are not trained: run `callintel train`")
        chosen = scenario.value if scenario else (transcript.scenario or "showroom")
        result = understander.understand(transcript.turns, chosen, date)
    except (CallintelError, ValueError, OSError) as e:
        fail(f"{type(e).__name__}: {e}")
    print_understanding(result)
    if json_out is not None:
        data = TypeAdapter(Understanding).dump_python(result, mode="json")
        json_out.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
