"""The ``callintel`` command line."""

from __future__ import annotations

import datetime as dt
import json
import logging
import signal
import threading
import time
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from callintel.domain import ATTRIBUTES, CHECKPOINTS, GRADES, VIOLATIONS
from callintel.errors import CallintelError
from callintel.understand.types import Understanding

if TYPE_CHECKING:
    from callintel.training.build import EvalReport
    from callintel.training.call_eval import CallEvalReport
    from callintel.understand.metrics import ConversationMetrics
    from callintel.understand.tasks import Task
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


class Scenario(StrEnum):
    showroom = "showroom"
    inbound_call = "inbound_call"
    outbound_followup = "outbound_followup"


class Device(StrEnum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


# Options that `analyze` and `batch` share.
LanguageOption = Annotated[
    str | None, typer.Option(help="Force a language (zh, en); detected when left out.")
]
ModelOption = Annotated[
    str | None, typer.Option(help="ASR model: registry name, faster-whisper name or local path.")
]
DeviceOption = Annotated[Device, typer.Option(help="Where to run the models.")]
ComputeTypeOption = Annotated[
    str, typer.Option(help="CTranslate2 compute type; auto = int8 on CPU, float16 on CUDA.")
]
BeamSizeOption = Annotated[int, typer.Option(help="Beam size for decoding.")]
UnderstandOption = Annotated[bool, typer.Option(help="Score, extract attributes and grade intent.")]


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes:02d}:{secs:02d}"


@app.command()
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
            understand=understand,
            scenario=scenario.value if scenario else None,
            call_date=call_date,
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
    if result.understanding is not None:
        print_understanding(result.understanding)
    if result.metrics is not None:
        print_metrics(result.metrics)
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


def print_metrics(metrics: ConversationMetrics) -> None:
    """The conversation metrics as one table (definitions: docs/metrics.md)."""
    table = Table(title="Conversation")
    for column in ("", "sales", "customer"):
        table.add_column(column)
    roles = (metrics.sales, metrics.customer)
    unit = "chars/min" if metrics.rate_unit == "chars_per_min" else "words/min"
    rows = [
        ("talk time", [f"{r.talk_time:.1f} s ({r.talk_ratio:.0%})" for r in roles]),
        ("turns", [str(r.turns) for r in roles]),
        ("longest monologue", [f"{r.longest_monologue:.1f} s" for r in roles]),
        ("questions", [str(r.questions) for r in roles]),
        (
            f"speaking rate ({unit})",
            ["-" if r.speaking_rate is None else f"{r.speaking_rate:.0f}" for r in roles],
        ),
        ("interruptions made", [str(r.interruptions) for r in roles]),
    ]
    for name, values in rows:
        table.add_row(name, *values)
    console.print(table)
    line = (
        f"silence {metrics.silence_time:.1f} s (longest {metrics.longest_silence:.1f} s)   "
        f"overlap {metrics.overlap_time:.1f} s   turn switches {metrics.turn_switches}"
    )
    if metrics.sentiment is not None and metrics.sentiment.turns:
        quarters = " ".join("-" if q is None else f"{q:+.2f}" for q in metrics.sentiment.quarters)
        line += f"   customer sentiment by quarter {quarters} ({metrics.sentiment.direction or 'n/a'})"
    console.print(line)


def print_understanding(understanding: Understanding) -> None:
    """The scorecard, attributes, intent grade and tags, as tables."""
    card = understanding.scorecard
    table = Table(title=f"Scorecard ({understanding.scenario}): {card['score']:.0f}/100")
    for column in ("checkpoint", "passed", "p", "evidence"):
        table.add_column(column)
    for key, item in card["checkpoints"].items():
        mark = (
            "[green]yes[/]"
            if item["passed"]
            else ("n/a" if not item.get("applicable", True) else "[red]no[/]")
        )
        evidence = item["evidence"][0] if item["evidence"] else None
        where = f"turn {evidence['turn']}: {evidence['text'][:40]}" if evidence else ""
        table.add_row(key, mark, f"{item['confidence']:.2f}", where)
    console.print(table)
    for violation in card["violations"]:
        cue = f" [dim](lexicon: {violation['matched']})[/]" if violation.get("matched") else ""
        console.print(
            f"[red]violation[/] {violation['type']} (turn {violation['turn']}): {violation['text'][:60]}{cue}"
        )
    attributes = Table(title="Customer attributes")
    for column in ("attribute", "value", "evidence"):
        attributes.add_column(column)
    for key, item in understanding.attributes.items():
        attributes.add_row(
            key, json.dumps(item.value, ensure_ascii=False), " / ".join(e.text for e in item.evidence)
        )
    console.print(attributes)
    probabilities = " ".join(f"{g}={p:.2f}" for g, p in understanding.intent.probabilities.items())
    console.print(f"[bold]Intent grade {understanding.intent.grade}[/] ({probabilities})")
    console.print("Tags: " + ", ".join(t.name for t in understanding.tags), highlight=False)


def _progress_bar() -> Progress:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    return Progress(*columns, console=errors)


@app.command()
def train(
    task: Annotated[
        list[str] | None,
        typer.Option(help="Task(s): script, attributes, intent, sentiment (default all)."),
    ] = None,
    base_model: Annotated[
        str | None, typer.Option(help="Hugging Face checkpoint directory to fine-tune.")
    ] = None,
    epochs: Annotated[float | None, typer.Option(help="Epochs (default per task).")] = None,
    data: Annotated[list[Path] | None, typer.Option(help="Extra labelled JSONL (docs/corpus.md).")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Where to save; default the cache's default models.")
    ] = None,
    if_missing: Annotated[bool, typer.Option(help="Do nothing when the default models are trained.")] = False,
) -> None:
    """Train the understanding models on the generated corpus.

    Seeded and reproducible: the same code and corpus give the same models on one machine.
    """
    from callintel.training import build
    from callintel.training.corpus.jsonl import read_jsonl

    settings = Settings.from_env()
    directory = out or build.default_directory(settings.cache_dir)
    if if_missing and build.is_trained(directory):
        console.print(f"understanding models already trained in {directory}")
        return
    tasks = cast("tuple[Task, ...]", tuple(task or build.TASKS))
    unknown = [t for t in tasks if t not in build.TASKS]
    if unknown:
        errors.print(f"[bold red]error:[/] unknown task(s) {unknown}; choose from {list(build.TASKS)}")
        raise typer.Exit(code=2)
    try:
        extra = [d for path in data or () for d in read_jsonl(path)]
    except (OSError, ValueError) as e:
        errors.print(f"[bold red]error:[/] {e}")
        raise typer.Exit(code=2) from e
    with _progress_bar() as bar:
        bars: dict[str, TaskID] = {}

        def hook(stage: str, done: int, total: int) -> None:
            if stage not in bars:
                bars[stage] = bar.add_task(stage, total=total)
            bar.update(bars[stage], completed=done, total=total)

        report = build.build(
            directory,
            tasks=tasks,
            extra=extra,
            base_model=base_model,
            epochs=epochs,
            progress=hook,  # type: ignore[arg-type]
        )
    heldout = build.corpus("heldout", 600, seed=0)
    evaluation = build.evaluate(directory, heldout, settings.models_dir)
    build.write_model_cards(directory, evaluation, report)
    console.print(f"trained {list(tasks)} in {report['seconds']:.0f} s into {directory}")
    print_evaluation(evaluation)


@app.command(name="eval")
def evaluate(
    data: Annotated[
        list[Path] | None,
        typer.Option(
            help="Labelled JSONL, call-level (../shared/data/dialogues) or corpus format; repeatable. "
            "Default: the generated held-out split."
        ),
    ] = None,
    models: Annotated[
        Path | None, typer.Option(help="Model directory; default the trained default models.")
    ] = None,
    dialogues: Annotated[int, typer.Option(help="Held-out dialogues to generate when no --data.")] = 600,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the report as JSON.")] = None,
    errors_out: Annotated[
        Path | None, typer.Option("--errors", help="With --data: write each wrong decision as a JSON line.")
    ] = None,
) -> None:
    """Score the understanding models.

    With --data: each call goes through the whole understanding stage (scorecards, lexicon,
    normaliser, grade) and is scored at the call's level, for zh, en and both. Without: the
    per-turn scores of each model on the generated held-out split (the model card's figures).
    """
    from callintel.training import build
    from callintel.training.labelled import read_labelled_calls
    from callintel.understand.tasks import REQUIRED_TASKS

    settings = Settings.from_env()
    directory = models or build.default_directory(settings.cache_dir)
    try:  # the data first: a wrong file is told before any model is looked for
        calls = [call for path in data or () for call in read_labelled_calls(path)]
    except (OSError, ValueError) as e:
        errors.print(f"[bold red]error:[/] {e}")
        raise typer.Exit(code=2) from e
    # A directory trained before the sentiment model still evaluates (without sentiment).
    if not all(build.is_trained_task(directory, t) for t in REQUIRED_TASKS):
        errors.print(f"[bold red]error:[/] no trained models in {directory}: run `callintel train`")
        raise typer.Exit(code=2)
    if not data:
        report = build.evaluate(directory, build.corpus("heldout", dialogues, seed=0), settings.models_dir)
        print_evaluation(report)
        if json_out is not None:
            json_out.write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False), encoding="utf-8")
        return

    from callintel.training.call_eval import evaluate_calls
    from callintel.understand.classifiers import Understander

    understander = Understander(directory, settings.models_dir)
    call_report = evaluate_calls(
        calls,
        lambda group: understander.understand_many([(c.turns, c.scenario, c.call_date) for c in group]),
        understander.gazetteer.named,
    )
    print_call_evaluation(call_report)
    if json_out is not None:
        text = json.dumps(call_report.to_dict(), indent=2, ensure_ascii=False, default=list)
        json_out.write_text(text, encoding="utf-8")
    if errors_out is not None:
        lines = (json.dumps(e, ensure_ascii=False, default=list) for e in call_report.errors)
        errors_out.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


def print_call_evaluation(report: CallEvalReport) -> None:
    """The call-level tables, one column per language group."""
    groups = report.groups
    names = [f"{g.language} ({g.calls})" for g in groups]

    def table(title: str, *columns: str) -> Table:
        t = Table(title=title)
        for column in columns:
            t.add_column(column)
        return t

    checkpoints = table("Checkpoints per call: P / R / F1", "checkpoint", *names)
    for i, key in enumerate(CHECKPOINTS):
        s = [g.checkpoints[i] for g in groups]
        checkpoints.add_row(
            key, *(f"{x.precision:.2f} / {x.recall:.2f} / {x.f1:.2f}  ({x.support})" for x in s)
        )
    checkpoints.add_row("macro-F1", *(f"{g.checkpoint_macro_f1:.3f}" for g in groups))
    checkpoints.add_row("evidence on a labelled turn", *(f"{g.checkpoint_evidence:.3f}" for g in groups))
    console.print(checkpoints)

    violations = table("Violations as the scorecards decide (turn and type): P / R", "violation", *names)
    for i, violation in enumerate(VIOLATIONS):
        s = [g.violations[i] for g in groups]
        violations.add_row(violation, *(f"{x.precision:.2f} / {x.recall:.2f}  ({x.support})" for x in s))
    violations.add_row(
        "all types", *(f"{g.violation_precision:.2f} / {g.violation_recall:.2f}" for g in groups)
    )
    violations.add_row(
        "calls without one that get one",
        *(f"{g.clean_calls_flagged:.2f}  (of {g.clean_calls})" for g in groups),
    )
    console.print(violations)

    attributes = table("Attributes per call: right / precision / recall (calls said)", "attribute", *names)
    for i, attribute in enumerate(ATTRIBUTES):
        a = [g.attributes[i] for g in groups]
        attributes.add_row(
            attribute, *(f"{x.right:.2f} / {x.precision:.2f} / {x.recall:.2f}  ({x.said})" for x in a)
        )
    console.print(attributes)

    for g in groups:
        confusion = table(f"Grade confusion, {g.language} (rows: label, columns: reported)", "", *GRADES)
        for grade, row in zip(GRADES, g.grades.confusion, strict=True):
            confusion.add_row(grade, *map(str, row))
        console.print(confusion)
    summary = table("Grade and evidence", "", *names)
    summary.add_row("grade accuracy", *(f"{g.grades.accuracy:.3f}" for g in groups))
    summary.add_row("off by more than one grade", *(f"{g.grades.off_by_more_than_one:.3f}" for g in groups))
    summary.add_row("ECE", *(f"{g.grades.ece:.3f}" for g in groups))
    summary.add_row("items reported without a turn", *(str(g.uncited) for g in groups))
    console.print(summary)


def print_evaluation(report: EvalReport) -> None:
    table = Table(title=f"Script labels ({report.dialogues} dialogues)")
    for column in ("label", "precision", "recall", "F1", "support"):
        table.add_column(column)
    for s in report.checkpoints + report.violations_model:
        table.add_row(s.label, f"{s.precision:.3f}", f"{s.recall:.3f}", f"{s.f1:.3f}", str(s.support))
    console.print(table)
    scored = Table(title="Violations as the scorecards decide (classifier at threshold, or lexicon cue)")
    for column in ("violation", "precision", "recall", "F1", "support"):
        scored.add_column(column)
    for s in report.violations:
        scored.add_row(s.label, f"{s.precision:.3f}", f"{s.recall:.3f}", f"{s.f1:.3f}", str(s.support))
    console.print(scored)
    console.print(
        f"checkpoint macro-F1 {report.checkpoint_macro_f1:.3f}   violation recall "
        f"{report.violation_recall:.3f} (classifier alone at 0.5: {report.violation_recall_model:.3f})"
    )
    attributes = Table(title="Attributes (normalised values)")
    for column in ("key", "exact match", "precision", "F1", "support"):
        attributes.add_column(column)
    for a in report.attributes:
        attributes.add_row(a.key, f"{a.exact_match:.3f}", f"{a.precision:.3f}", f"{a.f1:.3f}", str(a.support))
    console.print(attributes)
    grades = report.grades
    confusion = Table(title="Grade confusion (rows: truth, columns: predicted)")
    confusion.add_column("")
    for g in grades.grades:
        confusion.add_column(g)
    for g, row in zip(grades.grades, grades.confusion, strict=True):
        confusion.add_row(g, *map(str, row))
    console.print(confusion)
    console.print(
        f"grade accuracy {grades.accuracy:.3f}   off by more than one grade "
        f"{grades.off_by_more_than_one:.3f}   ECE {grades.ece:.3f}"
    )
    sentiment = report.sentiment
    if sentiment is None:
        console.print("sentiment: no sentiment model in this directory (trained before it existed)")
        return
    table = Table(title="Customer sentiment per turn (stance towards buying, the corpus's intent_signal)")
    for column in ("label", "precision", "recall", "F1", "support"):
        table.add_column(column)
    for s in sentiment.labels:
        table.add_row(s.label, f"{s.precision:.3f}", f"{s.recall:.3f}", f"{s.f1:.3f}", str(s.support))
    console.print(table)
    console.print(
        f"sentiment accuracy {sentiment.accuracy:.3f}   macro-F1 {sentiment.macro_f1:.3f}   "
        f"ECE {sentiment.ece:.3f}"
    )


@app.command(name="understand")
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
    import datetime as dt

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
        errors.print(f"[bold red]error:[/] {type(e).__name__}: {e}")
        raise typer.Exit(code=2) from e
    print_understanding(result)
    if json_out is not None:
        data = TypeAdapter(Understanding).dump_python(result, mode="json")
        json_out.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")


# --- The service ------------------------------------------------------------------------------


class Engine(StrEnum):
    local = "local"
    ray = "ray"


@app.command()
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
        errors.print("[bold red]error:[/] --reanalyze works on the database's stored transcripts: SOURCE db:")
        raise typer.Exit(code=2)
    if from_db and engine == Engine.ray:
        errors.print("[bold red]error:[/] db: runs on the local engine (the Ray engine writes JSONL results)")
        raise typer.Exit(code=2)
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
        errors.print(f"[bold red]error:[/] {e}")
        raise typer.Exit(code=2) from e
    versions = {"asr": pipeline.transcriber.info.version, "asr_name": pipeline.transcriber.info.name}
    if pipeline.understander is not None and understand:
        versions["understanding"] = pipeline.understander.models.directory_version
    batch_fp = fingerprint(versions, options)
    ledger: Any
    if from_db:
        ledger, items = _pending_calls(settings, pipeline, batch_fp, out, options, limit)
    else:
        ledger = Ledger(out or Path("callintel-batch.jsonl"), batch_fp)
    with _BatchProgress(items) as show:
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
            errors.print(f"[bold red]error:[/] {e}")
            raise typer.Exit(code=2) from e
        finally:
            ledger.close()
    _print_summary(f"Batch: {source}", summary)
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
    if pipeline.understander is not None:
        use_edited_scorecards(db, pipeline.understander, settings.models_dir)
    worker = Worker(
        db, BlobStore(settings.audio_dir), pipeline_analyzer(pipeline), models_dir=settings.models_dir
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
        errors.print("[bold red]error:[/] the understanding models are not trained: run `callintel train`")
        raise typer.Exit(code=2)
    use_edited_scorecards(db, understander, settings.models_dir)
    with _BatchProgress([]) as show:
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
    _print_summary("Reanalysis of stored transcripts", summary)
    if summary.failures:
        raise typer.Exit(code=1)


class _BatchProgress:
    """A rich progress bar over a batch: audio hours done of the total, × real time, counts, ETA
    (counted in recordings when their lengths are unknown)."""

    def __init__(self, items: list[Any]) -> None:
        from callintel.audio.decode import probe_duration

        def length(path: Path) -> float:
            try:
                return probe_duration(path)
            except (CallintelError, OSError):
                return 0.0

        self.lengths = {item.path: length(item.path) for item in items}  # read from the headers once
        self.total = sum(self.lengths.values())
        self.counts: dict[str, int] = {"done": 0, "reused": 0, "skipped": 0, "failed": 0}
        self.done_seconds = 0.0
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[hours]}"),
            TextColumn("{task.fields[speed]}"),
            TextColumn("{task.fields[counts]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=errors,
        )

    def __enter__(self) -> Callable[[Any], None]:
        self.bar.__enter__()
        self.started = time.perf_counter()
        self.task = self.bar.add_task("Batch", total=self.total or None, hours="", speed="", counts="")
        return self.show

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(*exc)  # type: ignore[arg-type]

    def show(self, outcome: Any) -> None:
        self.counts[outcome.status] += 1
        known = self.lengths.get(outcome.item.path, 0.0)
        self.done_seconds += known if outcome.status != "done" else outcome.seconds
        wall = time.perf_counter() - self.started
        fields: dict[str, Any] = {"counts": " ".join(f"{k} {v}" for k, v in self.counts.items() if v)}
        if self.total:
            fields["completed"] = self.done_seconds
            fields["hours"] = f"{self.done_seconds / 3600:.2f}/{self.total / 3600:.2f} audio h"
            fields["speed"] = f"{self.done_seconds / wall:.1f}x real time" if wall > 0 else ""
        else:
            fields["advance"] = 1
        self.bar.update(self.task, **fields)


def _print_summary(title: str, summary: Any) -> None:
    table = Table(title=title)
    table.add_column("")
    table.add_column("")
    table.add_row("recordings", str(summary.total))
    table.add_row("analysed", str(summary.done))
    table.add_row("copies (result reused)", str(summary.reused))
    table.add_row("already done (skipped)", str(summary.skipped))
    table.add_row("failed", str(len(summary.failures)))
    table.add_row("audio analysed", f"{summary.audio_seconds / 3600:.2f} h")
    if summary.real_time_factor:
        table.add_row("throughput", f"{summary.real_time_factor:.1f}x real time")
    table.add_row("grades", " ".join(f"{g} {summary.grades[g]}" for g in "HABCN" if summary.grades[g]) or "-")
    table.add_row("mean score", "-" if summary.mean_score is None else f"{summary.mean_score:.1f}")
    console.print(table)
    for path, reason in summary.failures:
        errors.print(f"[red]failed:[/] {path}: {reason}")


db_app = typer.Typer(help="The service's database.", no_args_is_help=True)
reviews_app = typer.Typer(help="QA reviews stored by the service.", no_args_is_help=True)
app.add_typer(reviews_app, name="reviews")
keys_app = typer.Typer(help="API keys of the service.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
deliveries_app = typer.Typer(help="Webhook deliveries to the CRM/CDP.", no_args_is_help=True)
app.add_typer(deliveries_app, name="deliveries")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database schema (CALLINTEL_DATABASE_URL; default SQLite in the data dir)."""
    from callintel.store.db import upgrade

    settings = Settings.from_env()
    upgrade(settings.database_url)
    console.print(f"database at head: {_safe_url(settings.database_url)}")


@reviews_app.command("export")
def reviews_export(
    out: Annotated[Path, typer.Argument(help="JSONL file to write (docs/corpus.md format).")],
    dealer: Annotated[str | None, typer.Option(help="Only this dealer's calls.")] = None,
) -> None:
    """Write the reviewed calls as labelled dialogues, for `callintel train --data`."""
    from callintel.store.db import Database
    from callintel.store.export import reviewed_dialogues
    from callintel.training.corpus.jsonl import write_jsonl

    settings = Settings.from_env()
    db = Database(settings.database_url)
    try:
        with db.session() as session:
            n = write_jsonl(out, list(reviewed_dialogues(session, dealer)))
    finally:
        db.dispose()
    console.print(f"wrote {n} reviewed dialogues to {out}")


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="admin, qa or crm.")],
    dealer: Annotated[list[str], typer.Option(help="A dealer the key may see (repeat); '*' for all.")],
    name: Annotated[str, typer.Option(help="A note to recognise the key by.")] = "",
) -> None:
    """Create an API key; it is printed once and only its hash is stored."""
    from callintel.store.db import Database, upgrade
    from callintel.store.keys import create_key

    settings = Settings.from_env()
    upgrade(settings.database_url)
    db = Database(settings.database_url)
    try:
        with db.session() as session:
            row, key = create_key(session, role, dealer, name)
    except ValueError as e:
        errors.print(f"[bold red]error:[/] {e}")
        raise typer.Exit(code=2) from e
    finally:
        db.dispose()
    console.print(f"key id {row.id} ({row.role}; dealers: {', '.join(row.dealers)})")
    print(key)


@keys_app.command("revoke")
def keys_revoke(
    key: Annotated[str, typer.Argument(help="The key's id or prefix (never the key itself).")],
) -> None:
    """Revoke an API key: it is refused from the next request on."""
    from callintel.store.db import Database
    from callintel.store.keys import revoke_key

    settings = Settings.from_env()
    db = Database(settings.database_url)
    try:
        with db.session() as session:
            row = revoke_key(session, key)
            if row is None:
                errors.print(f"[bold red]error:[/] no key {key!r}")
                raise typer.Exit(code=2)
            console.print(f"key {row.id} revoked")
    finally:
        db.dispose()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    in_process_workers: Annotated[
        int, typer.Option(help="Worker threads in this process; 0 when `callintel worker` processes run.")
    ] = 1,
    deliveries: Annotated[
        bool, typer.Option(help="Send webhooks from this process (off: run `callintel deliveries run`).")
    ] = True,
) -> None:
    """Run the REST API (migrating the database first), with an in-process worker and webhook
    dispatcher by default."""
    import uvicorn

    from api import create_app
    from callintel.service.delivery import DeliveryOptions
    from callintel.store.db import upgrade

    settings = Settings.from_env()
    upgrade(settings.database_url)
    app_ = create_app(
        settings,
        in_process_workers=in_process_workers,
        deliveries=DeliveryOptions() if deliveries else None,
    )
    uvicorn.run(app_, host=host, port=port)


@app.command()
def worker(
    poll: Annotated[float, typer.Option(help="Seconds between looks at an empty queue.")] = 1.0,
    lease: Annotated[float, typer.Option(help="Seconds a job is held without a heartbeat.")] = 60.0,
) -> None:
    """Process queued calls until stopped (SIGINT/SIGTERM finish the current job first)."""
    import datetime as dt

    from callintel.pipeline import Pipeline
    from callintel.service.worker import Worker, pipeline_analyzer
    from callintel.store.blobs import BlobStore
    from callintel.store.db import Database

    settings = Settings.from_env()
    db = Database(settings.database_url)
    stop = _stop_on_signals()
    analyze = pipeline_analyzer(Pipeline.from_settings(settings))
    Worker(
        db,
        BlobStore(settings.audio_dir),
        analyze,
        lease=dt.timedelta(seconds=lease),
        poll_seconds=poll,
        models_dir=settings.models_dir,
    ).run(stop)
    db.dispose()


@deliveries_app.command("run")
def deliveries_run(
    max_attempts: Annotated[int, typer.Option(help="Attempts before a delivery is dead.")] = 25,
    concurrency: Annotated[int, typer.Option(help="Requests in flight at once.")] = 8,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for a receiver.")] = 10.0,
) -> None:
    """Send webhook deliveries until stopped (run one or several beside the API)."""
    from callintel.service.delivery import DeliveryOptions, Dispatcher
    from callintel.store.db import Database

    settings = Settings.from_env()
    db = Database(settings.database_url)
    stop = _stop_on_signals()
    try:
        options = DeliveryOptions(max_attempts=max_attempts, concurrency=concurrency, timeout=timeout)
    except ValueError as e:
        errors.print(f"[bold red]error:[/] {e}")
        raise typer.Exit(code=2) from e
    dispatcher = Dispatcher(db, options)
    try:
        dispatcher.run(stop)
    finally:
        dispatcher.close()
        db.dispose()


@deliveries_app.command("replay")
def deliveries_replay(
    status: Annotated[
        str, typer.Option(help="Which deliveries: dead (the dead letters), delivered, or all.")
    ] = "dead",
    subscription: Annotated[str | None, typer.Option(help="Only this subscription's.")] = None,
    event: Annotated[list[str] | None, typer.Option(help="Only this event id (repeat).")] = None,
    since: Annotated[
        str | None, typer.Option(help="Only deliveries created since (ISO date/time, UTC).")
    ] = None,
) -> None:
    """Send deliveries again: they go back to pending with fresh attempts, due now. Receivers
    drop duplicates by event id."""
    import datetime as dt

    from callintel.service.delivery import REPLAY_CHOICES, replay
    from callintel.store.db import Database

    statuses = REPLAY_CHOICES.get(status)
    if statuses is None:
        errors.print(f"[bold red]error:[/] --status must be dead, delivered or all, not {status!r}")
        raise typer.Exit(code=2)
    try:
        start = dt.datetime.fromisoformat(since) if since else None
    except ValueError as e:
        errors.print(f"[bold red]error:[/] --since: {e}")
        raise typer.Exit(code=2) from e
    if start is not None and start.tzinfo is None:
        start = start.replace(tzinfo=dt.UTC)
    settings = Settings.from_env()
    db = Database(settings.database_url)
    try:
        with db.session() as session:
            count = replay(
                session, statuses, subscription_id=subscription, event_ids=event or (), since=start
            )
    finally:
        db.dispose()
    console.print(f"{count} deliveries queued again")


@deliveries_app.command("status")
def deliveries_status() -> None:
    """Deliveries by subscription and status."""
    from sqlalchemy import func, select

    from callintel.store.db import Database
    from callintel.store.models import WebhookDelivery, WebhookSubscription

    settings = Settings.from_env()
    db = Database(settings.database_url)
    table = Table(title="Webhook deliveries")
    for column in ("subscription", "dealer", "url", "pending", "delivered", "dead"):
        table.add_column(column)
    try:
        with db.session() as session:
            counts: dict[str, dict[str, int]] = {}
            for sub_id, status, n in session.execute(
                select(WebhookDelivery.subscription_id, WebhookDelivery.status, func.count()).group_by(
                    WebhookDelivery.subscription_id, WebhookDelivery.status
                )
            ):
                counts.setdefault(sub_id, {})[status] = n
            for sub in session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.created_at)):
                c = counts.get(sub.id, {})
                table.add_row(
                    sub.id,
                    sub.dealer_id,
                    sub.url,
                    *(str(c.get(s, 0)) for s in ("pending", "delivered", "dead")),
                )
    finally:
        db.dispose()
    console.print(table)


def _stop_on_signals() -> threading.Event:
    """An event set by SIGINT or SIGTERM: long-running commands finish their current item first."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
