"""How the commands show things: the rich tables, transcripts and progress bars they share.

Renderers print results the library computed; they decide nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from callintel.cli.common import console, errors
from callintel.domain import ATTRIBUTES, CHECKPOINTS, GRADES, VIOLATIONS
from callintel.errors import CallintelError

if TYPE_CHECKING:
    from callintel.result import AnalysisResult
    from callintel.training.build import EvalReport
    from callintel.training.call_eval import CallEvalReport
    from callintel.training.scores import LabelScore
    from callintel.understand.metrics import ConversationMetrics
    from callintel.understand.types import Understanding


def clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes:02d}:{secs:02d}"


def print_analysis(file: Path, result: AnalysisResult) -> None:
    """One analysed recording: a line on the call and its roles, the transcript by role, then
    the understanding and the conversation metrics when the result has them."""
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
            f"[dim]{clock(turn.start)}-{clock(turn.end)}[/] [{colour}]{turn.role:<8}[/] "
            f"[dim]{turn.speaker}[/] {turn.text}",
            highlight=False,
        )
    if result.understanding is not None:
        print_understanding(result.understanding)
    if result.metrics is not None:
        print_metrics(result.metrics)


def stage_progress() -> Progress:
    """A bar per stage of one recording's analysis, in percent, on stderr; gone when done."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    return Progress(*columns, console=errors, transient=True)


def progress_bar() -> Progress:
    """A bar per stage counted in items (done/total), on stderr."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    return Progress(*columns, console=errors)


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
    table = Table(title=f"Scorecard ({understanding.scenario}): {card.score:.0f}/100")
    for column in ("checkpoint", "passed", "p", "evidence"):
        table.add_column(column)
    for key, item in card.checkpoints.items():
        mark = "[green]yes[/]" if item.passed else ("n/a" if not item.applicable else "[red]no[/]")
        evidence = item.evidence[0] if item.evidence else None
        where = f"turn {evidence.turn}: {evidence.text[:40]}" if evidence else ""
        table.add_row(key, mark, f"{item.confidence:.2f}", where)
    console.print(table)
    for violation in card.violations:
        cue = f" [dim](lexicon: {violation.matched})[/]" if violation.matched else ""
        console.print(
            f"[red]violation[/] {violation.type} (turn {violation.turn}): {violation.text[:60]}{cue}"
        )
    attributes = Table(title="Customer attributes")
    for column in ("attribute", "value", "evidence"):
        attributes.add_column(column)
    for key, value in understanding.attributes.items():
        attributes.add_row(
            key, json.dumps(value.value, ensure_ascii=False), " / ".join(e.text for e in value.evidence)
        )
    console.print(attributes)
    intent = understanding.intent
    if intent is None:
        console.print(f"[bold]Intent grade[/] not applicable ({understanding.scenario}: no purchase)")
    else:
        probabilities = " ".join(f"{g}={p:.2f}" for g, p in intent.probabilities.items())
        console.print(f"[bold]Intent grade {intent.grade}[/] ({probabilities})")
    console.print("Tags: " + ", ".join(t.name for t in understanding.tags), highlight=False)


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


def _label_table(title: str, first: str, scores: Sequence[LabelScore]) -> Table:
    """Precision, recall, F1 and support of each label, one row each."""
    table = Table(title=title)
    for column in (first, "precision", "recall", "F1", "support"):
        table.add_column(column)
    for s in scores:
        table.add_row(s.label, f"{s.precision:.3f}", f"{s.recall:.3f}", f"{s.f1:.3f}", str(s.support))
    return table


def print_evaluation(report: EvalReport) -> None:
    """The per-turn scores of each model on a generated split (the model card's figures)."""
    console.print(
        _label_table(
            f"Script labels ({report.dialogues} dialogues)",
            "label",
            report.checkpoints + report.violations_model,
        )
    )
    console.print(
        _label_table(
            "Violations as the scorecards decide (classifier at threshold, or lexicon cue)",
            "violation",
            report.violations,
        )
    )
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
    console.print(
        _label_table(
            "Customer sentiment per turn (stance towards buying, the corpus's intent_signal)",
            "label",
            sentiment.labels,
        )
    )
    console.print(
        f"sentiment accuracy {sentiment.accuracy:.3f}   macro-F1 {sentiment.macro_f1:.3f}   "
        f"ECE {sentiment.ece:.3f}"
    )


class BatchProgress:
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


def print_batch_summary(title: str, summary: Any) -> None:
    """A batch's (or a reanalysis's) counts, audio hours, throughput and grades; then each
    failure on stderr."""
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
