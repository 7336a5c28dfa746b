"""The understanding models: `train` them, `eval` them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer
from rich.progress import TaskID

from callintel.cli.common import console, fail
from callintel.cli.render import print_call_evaluation, print_evaluation, progress_bar
from callintel.settings import Settings

if TYPE_CHECKING:
    from callintel.understand.tasks import Task


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
        fail(f"unknown task(s) {unknown}; choose from {list(build.TASKS)}")
    try:
        extra = [d for path in data or () for d in read_jsonl(path)]
    except (OSError, ValueError) as e:
        fail(str(e))
    with progress_bar() as bar:
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
        fail(str(e))
    # A directory trained before the sentiment model still evaluates (without sentiment).
    if not all(build.is_trained_task(directory, t) for t in REQUIRED_TASKS):
        fail(f"no trained models in {directory}: run `callintel train`")
    if not data:
        report = build.evaluate(directory, build.corpus("heldout", dialogues, seed=0), settings.models_dir)
        print_evaluation(report)
        if json_out is not None:
            json_out.write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False), encoding="utf-8")
        return

    from callintel.training.call_eval import evaluate_calls
    from callintel.understand.classifiers import CallToUnderstand, Understander

    understander = Understander(directory, settings.models_dir)
    call_report = evaluate_calls(
        calls,
        lambda group: understander.understand_many(
            [CallToUnderstand(c.turns, c.scenario, c.call_date) for c in group]
        ),
        understander.gazetteer.named,
    )
    print_call_evaluation(call_report)
    if json_out is not None:
        text = json.dumps(call_report.to_dict(), indent=2, ensure_ascii=False, default=list)
        json_out.write_text(text, encoding="utf-8")
    if errors_out is not None:
        lines = (json.dumps(e, ensure_ascii=False, default=list) for e in call_report.errors)
        errors_out.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
