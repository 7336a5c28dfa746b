"""The team view: how each salesperson and each checkpoint does over time; and the queue's counts.

The pass rates come from ``call_outcomes`` (QA's corrections applied), so a reviewed call counts
as QA judged it. Each number can be opened as the calls behind it through the calls list
(:func:`callintel.store.calls.list_calls`) with the same dealer, scenario, days and time zone,
plus the salesperson and the checkpoint passed or missed.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callintel.domain import JOB_STATUSES, JobStatus, Scenario
from callintel.errors import ConfigError, InvalidInput
from callintel.store.calls import call_day, day_bounds
from callintel.store.keys import Principal
from callintel.store.models import Call, CallOutcome, Job
from callintel.store.results import current_scorecard
from callintel.understand.scoring import load_scorecards

Bucket = Literal["day", "week", "month"]
MAX_DAYS = 400


class Rate(BaseModel):
    model_config = ConfigDict(frozen=True)

    calls: int = Field(description="Calls in which the checkpoints counted were applicable.")
    passed: int = Field(description="Checkpoints passed.")
    applicable: int = Field(description="Checkpoints that applied.")
    rate: float | None = Field(description="passed / applicable; None when nothing applied.")


class Point(Rate):
    period: dt.date = Field(description="The first day of the period.")


class Series(Rate):
    series: list[Point]


class SalespersonRates(Series):
    salesperson_id: str
    score: float | None = Field(description="Mean script score of the salesperson's calls.")


class CheckpointRates(Series):
    checkpoint: str
    label: str


class Cell(Rate):
    salesperson_id: str
    checkpoint: str


class PassRates(BaseModel):
    model_config = ConfigDict(frozen=True)

    since: dt.date
    until: dt.date
    tz: str
    bucket: Bucket
    periods: list[dt.date]
    overall: Series
    salespeople: list[SalespersonRates] = Field(description="Lowest pass rate first.")
    checkpoints: list[CheckpointRates] = Field(description="Lowest pass rate first.")
    cells: list[Cell] = Field(description="Per salesperson and checkpoint, over the whole range.")


def period_of(day: dt.date, bucket: Bucket) -> dt.date:
    """The first day of the period of ``bucket`` that holds ``day`` (weeks start on Monday)."""
    if bucket == "week":
        return day - dt.timedelta(days=day.weekday())
    if bucket == "month":
        return day.replace(day=1)
    return day


def periods_between(since: dt.date, until: dt.date, bucket: Bucket) -> list[dt.date]:
    """The first days of the periods from ``since`` to ``until``, inclusive."""
    out: list[dt.date] = []
    day = since
    while day <= until:
        start = period_of(day, bucket)
        if not out or out[-1] != start:
            out.append(start)
        day += dt.timedelta(days=1)
    return out


class _Tally:
    def __init__(self) -> None:
        self.calls: set[str] = set()
        self.passed = 0
        self.applicable = 0

    def add(self, call_id: str, outcome: str) -> None:
        self.calls.add(call_id)
        self.applicable += 1
        self.passed += outcome == "passed"

    def rate(self) -> dict[str, Any]:
        return {
            "calls": len(self.calls),
            "passed": self.passed,
            "applicable": self.applicable,
            "rate": round(self.passed / self.applicable, 4) if self.applicable else None,
        }


def scorecard_labels(session: Session, models_dir: Path) -> tuple[dict[str, str], dict[str, str]]:
    """The labels of every checkpoint and every violation in the scorecards in use (an edited
    scorecard over the shipped file), in scorecard order."""
    checkpoints: dict[str, str] = {}
    violations: dict[str, str] = {}
    try:
        cards = load_scorecards(models_dir)
    except ConfigError:
        return checkpoints, violations
    for scenario, shipped in cards.items():
        card = current_scorecard(session, scenario, models_dir) or shipped
        checkpoints.update({k: c.label for k, c in card.checkpoints.items()})
        checkpoints.update({c.key: c.label for c in card.custom_checkpoints})
        violations.update({k: v.label or k for k, v in card.violations.items()})
    return checkpoints, violations


def pass_rates(
    session: Session,
    who: Principal,
    models_dir: Path,
    zone: ZoneInfo,
    *,
    dealer: str | None = None,
    scenario: Scenario | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    bucket: Bucket = "week",
) -> PassRates:
    """Checkpoint pass rates of the analysed calls ``who`` may see, per salesperson and per
    checkpoint, overall and per period. Calls without a salesperson count in the checkpoints'
    rates but in no salesperson's. Days are in ``zone``; ``until`` is today there by default,
    ``since`` 12 weeks before.

    Raises:
        InvalidInput: ``since`` is after ``until``, or the range is longer than ``MAX_DAYS``.
    """
    if until is None:
        until = dt.datetime.now(zone).date()
    if since is None:
        since = until - dt.timedelta(weeks=12) + dt.timedelta(days=1)
    if since > until:
        raise InvalidInput("since is after until")
    if (until - since).days >= MAX_DAYS:
        raise InvalidInput(f"the range is longer than {MAX_DAYS} days")
    start, end = day_bounds(since, until, zone)
    query = (
        select(Call.id, Call.salesperson_id, call_day(), Call.score, CallOutcome.key, CallOutcome.outcome)
        .join(CallOutcome, CallOutcome.call_id == Call.id)
        .where(
            Call.status == "done",
            CallOutcome.kind == "checkpoint",
            CallOutcome.outcome != "n/a",
            call_day() >= start,
            call_day() < end,
        )
    )
    if who.dealers is not None:
        query = query.where(Call.dealer_id.in_(sorted(who.dealers)))
    if dealer is not None:
        query = query.where(Call.dealer_id == dealer)
    if scenario is not None:
        query = query.where(Call.scenario == scenario)

    overall: dict[dt.date | None, _Tally] = defaultdict(_Tally)
    people: dict[str, dict[dt.date | None, _Tally]] = defaultdict(lambda: defaultdict(_Tally))
    items: dict[str, dict[dt.date | None, _Tally]] = defaultdict(lambda: defaultdict(_Tally))
    cells: dict[tuple[str, str], _Tally] = defaultdict(_Tally)
    scores: dict[str, dict[str, float]] = defaultdict(dict)
    labels, _ = scorecard_labels(session, models_dir)
    for call_id, person, when, score, key, outcome in session.execute(query):
        period = period_of(when.astimezone(zone).date(), bucket)
        for tallies in [overall, items[key]] + ([people[person]] if person else []):
            tallies[None].add(call_id, outcome)
            tallies[period].add(call_id, outcome)
        if person:
            cells[person, key].add(call_id, outcome)
            if score is not None:
                scores[person][call_id] = score

    periods = periods_between(since, until, bucket)

    def series(tallies: dict[dt.date | None, _Tally]) -> dict[str, Any]:
        return {
            **tallies[None].rate(),
            "series": [Point(period=p, **tallies[p].rate()) for p in periods],
        }

    def lowest_first(rates: Rate) -> tuple[float, int]:
        return (rates.rate if rates.rate is not None else 2.0, -rates.applicable)

    salespeople = [
        SalespersonRates(
            salesperson_id=person,
            score=round(sum(scores[person].values()) / len(scores[person]), 1) if scores[person] else None,
            **series(tallies),
        )
        for person, tallies in people.items()
    ]
    checkpoints = [
        CheckpointRates(checkpoint=key, label=labels.get(key, key), **series(tallies))
        for key, tallies in items.items()
    ]
    return PassRates(
        since=since,
        until=until,
        tz=zone.key,
        bucket=bucket,
        periods=periods,
        overall=Series(**series(overall)),
        salespeople=sorted(salespeople, key=lowest_first),
        checkpoints=sorted(checkpoints, key=lowest_first),
        cells=[
            Cell(salesperson_id=person, checkpoint=key, **tally.rate())
            for (person, key), tally in sorted(cells.items())
        ],
    )


def job_counts(session: Session) -> dict[JobStatus, int]:
    """Jobs by status (every status, 0 where none), for ``/metrics``."""
    counts = dict(session.execute(select(Job.status, func.count()).group_by(Job.status)).tuples().all())
    return {status: int(counts.get(status, 0)) for status in JOB_STATUSES}
