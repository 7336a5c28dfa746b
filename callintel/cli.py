"""The ``callintel`` command line."""

from __future__ import annotations

import logging
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from callintel.errors import CallintelError
from callintel.settings import Settings

app = typer.Typer(
    help="Sales-call intelligence: transcripts, speakers and roles from recordings.", no_args_is_help=True
)
console = Console()
errors = Console(stderr=True)


class Channels(StrEnum):
    auto = "auto"
    stereo = "stereo"
    mono = "mono"


class Device(StrEnum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes:02d}:{secs:02d}"


@app.command()
def analyze(
    file: Annotated[Path, typer.Argument(help="Recording: WAV, FLAC, MP3, M4A, OGG/Opus, AMR ...")],
    language: Annotated[
        str | None, typer.Option(help="Force a language (zh, en); detected when left out.")
    ] = None,
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
    model: Annotated[
        str | None, typer.Option(help="ASR model: registry name, faster-whisper name or local path.")
    ] = None,
    device: Annotated[Device, typer.Option(help="Where to run the models.")] = Device.auto,
    compute_type: Annotated[
        str, typer.Option(help="CTranslate2 compute type; auto = int8 on CPU, float16 on CUDA.")
    ] = "auto",
    beam_size: Annotated[int, typer.Option(help="Beam size for decoding.")] = 5,
    domain_hotwords: Annotated[
        bool,
        typer.Option(help="Prime Whisper with car brand names (off: it hurts the base model, see README)."),
    ] = False,
    max_seconds: Annotated[float | None, typer.Option(help="Refuse recordings longer than this.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what happens.")] = False,
) -> None:
    """Transcribe a recording, attribute words to speakers and roles, print the transcript."""
    from callintel.options import AnalysisOptions, SpeakerOptions, TranscriptionOptions
    from callintel.pipeline import Pipeline

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING)
    settings = Settings.from_env()
    try:
        options = AnalysisOptions(
            transcription=TranscriptionOptions(language=language, beam_size=beam_size),
            speakers=SpeakerOptions(
                channels=channels.value,
                agent_channel=agent_channel,
                num_speakers=speakers or None,
                sales_speaker=sales_speaker,
            ),
            domain_hotwords=domain_hotwords,
            max_seconds=max_seconds or settings.max_audio_seconds,
        )
        with console.status("Loading models…"):
            pipeline = Pipeline.from_settings(settings, model, device=device.value, compute_type=compute_type)
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=errors, transient=True) as bar:
            tasks: dict[str, TaskID] = {}

            def hook(stage: str, done: float, total: float) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(stage.capitalize(), total=total)
                bar.update(tasks[stage], completed=done, total=total)

            result = pipeline.analyze(file, options, progress=hook)
    except (CallintelError, ValueError, FileNotFoundError) as e:
        errors.print(f"[bold red]error:[/] {type(e).__name__}: {e}")
        raise typer.Exit(code=2) from e

    decision = ", ".join(
        f"{s.speaker}={s.role} (p_sales={s.sales_probability:.2f})" for s in result.roles.speakers
    )
    console.print(
        f"[bold]{file.name}[/]  {result.duration:.1f} s  language={result.language}  "
        f"layout={result.channel_layout}  roles: {decision}  confidence={result.roles.confidence:.2f} "
        f"({result.roles.method})"
    )
    for turn in result.turns:
        colour = "cyan" if turn.role == "sales" else "green"
        console.print(
            f"[dim]{_clock(turn.start)}-{_clock(turn.end)}[/] [{colour}]{turn.role:<8}[/] "
            f"[dim]{turn.speaker}[/] {turn.text}",
            highlight=False,
        )
    for warning in result.warnings:
        errors.print(f"[yellow]warning:[/] {warning}")
    if json_out is not None:
        json_out.write_text(result.to_json(), encoding="utf-8")
        errors.print(f"wrote {json_out}")


@app.command()
def models() -> None:
    """List the configured models and whether each is available offline."""
    from callintel.registry import ModelRegistry

    settings = Settings.from_env()
    try:
        registry = ModelRegistry(settings.models_dir, settings.cache_dir)
    except CallintelError as e:
        errors.print(f"[bold red]error:[/] {e}")
        raise typer.Exit(code=2) from e
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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
