"""Fixtures for the service tests: a database on each backend, the app, keys and a fake analyser."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter
from sqlalchemy import create_engine, text

from callintel.domain import GRADES, as_grade, gives_purchase_grade
from callintel.options import AnalysisOptions
from callintel.result import AnalysisResult
from callintel.settings import Settings
from callintel.store.db import Database, upgrade
from callintel.store.keys import create_key
from callintel.transcript import ModelInfo, RoleDecision, SourceInfo, SpeakerRole, Turn
from callintel.understand.metrics import ConversationMetrics
from callintel.understand.types import (
    AttributeEvidence,
    AttributeValue,
    CheckpointResult,
    Evidence,
    IntentResult,
    ScorecardResult,
    Tag,
    Understanding,
    UnderstandingModels,
)

POSTGRES_URL = os.environ.get("CALLINTEL_TEST_POSTGRES_URL")


def backends() -> list[Any]:
    """SQLite always; PostgreSQL where `scripts/postgres.sh` gave a URL. In CI it must have."""
    if POSTGRES_URL is None and os.environ.get("CI"):
        raise RuntimeError(
            "CI=true but CALLINTEL_TEST_POSTGRES_URL is not set: `make test` starts PostgreSQL"
        )
    marks = (
        [] if POSTGRES_URL else [pytest.mark.skip(reason="no PostgreSQL: set CALLINTEL_TEST_POSTGRES_URL")]
    )
    return ["sqlite", pytest.param("postgresql", marks=marks)]


def fresh_database_url(backend: str, tmp_path: Path) -> str:
    """An empty, migrated database of ``backend``."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'callintel.db'}"
    else:
        assert POSTGRES_URL is not None
        url = POSTGRES_URL
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    upgrade(url)
    return url


def fake_turns() -> tuple[Turn, ...]:
    return (
        Turn("sales", "S1", None, 0.0, 2.0, "您好，欢迎光临", ()),
        Turn("customer", "S2", None, 2.0, 4.0, "我想看看领克08", ()),
    )


def fake_result(
    options: AnalysisOptions,
    *,
    turns: tuple[Turn, ...] | None = None,
    scorecard: ScorecardResult | None = None,
    attributes: dict[str, AttributeValue] | None = None,
    intent: IntentResult | None = None,
    tags: tuple[Tag, ...] | None = None,
    metrics: ConversationMetrics | None = None,
    duration: float = 4.0,
) -> AnalysisResult:
    """A complete :class:`AnalysisResult` as the pipeline makes it (real types, every field), with
    the small call the service tests expect: sales greets, the customer asks about the 领克 08,
    grade A, score 80."""
    turns = fake_turns() if turns is None else turns
    scenario = options.scenario or "showroom"
    if scorecard is None:
        greeting = Evidence(0, turns[0].start, turns[0].end, turns[0].text, 0.9)
        scorecard = ScorecardResult(
            scenario=scenario,
            scorecard_version="1",
            score=80.0,
            checkpoints={
                "greeting": CheckpointResult(True, 0.9, False, 1.0, True, (greeting,)),
                "needs_discovery": CheckpointResult(False, 0.8, False, 1.0, True, ()),
            },
            violations=(),
            missed_required=(),
        )
    if attributes is None:
        attributes = {
            "models_of_interest": AttributeValue(
                ["领克 08"], (AttributeEvidence(1, turns[-1].start, turns[-1].end, "领克08", 0.9),)
            )
        }
    graded = gives_purchase_grade(scenario)  # an after-sales call gets no grade, as the pipeline's
    if intent is None and graded:
        intent = IntentResult("A", {"H": 0.1, "A": 0.6, "B": 0.2, "C": 0.05, "N": 0.05})
    if tags is None:
        tags = ((Tag("intent_grade", "A", 0.6),) if graded else ()) + (Tag("model_interest", "领克 08", 0.9),)
    understanding = Understanding(
        scenario=scenario,
        call_date=options.call_date or "2026-11-23",
        scorecard=scorecard,
        attributes=attributes,
        intent=intent,
        tags=tags,
        models=UnderstandingModels(
            "understanding-2", *(f"understanding-2/{task}" for task in ("script", "attributes", "intent"))
        ),
    )
    speakers = sorted({(t.speaker, t.role) for t in turns})
    return AnalysisResult(
        language="zh",
        language_probability=0.99,
        duration=duration,
        channel_layout="mono",
        turns=turns,
        roles=RoleDecision(
            tuple(SpeakerRole(s, r, 0.9 if r == "sales" else 0.1) for s, r in speakers), 0.9, "text"
        ),
        source=SourceInfo("flac", "flac", 16000, 1, duration, "0" * 64),
        models=(ModelInfo("whisper-base", "asr", "faster-whisper", "fake"),),
        options=options,
        understanding=understanding,
        metrics=metrics,
    )


def tags_of(dicts: list[dict[str, Any]]) -> tuple[Tag, ...]:
    """Tags written as the API shows them (key, value, confidence)."""
    return tuple(Tag(d["key"], d["value"], d["confidence"]) for d in dicts)


class FakeAnalyzer:
    """Stands in for the pipeline: records what it was asked, answers :func:`fake_result`.

    A batch analyzer too (``analyze_many``, as the pipeline's): ``batches`` records the size of
    each batch; ``fail_when`` gives the error of one call (by its options) in its place, and
    ``batch_fails_with`` raises for a whole batch."""

    def __init__(self) -> None:
        self.calls: list[tuple[Path, AnalysisOptions]] = []
        self.scorecards: list[Any] = []
        self.fail_with: BaseException | None = None
        self.fail_when: Callable[[AnalysisOptions], Exception | None] = lambda _: None
        self.batches: list[int] = []
        self.batch_fails_with: Exception | None = None

    def __call__(self, path: Path, options: AnalysisOptions, scorecard: Any = None) -> AnalysisResult:
        self.calls.append((path, options))
        self.scorecards.append(scorecard)
        if self.fail_with is not None:
            raise self.fail_with
        error = self.fail_when(options)
        if error is not None:
            raise error
        return fake_result(options)

    def analyze_many(
        self, calls: Sequence[tuple[Path, AnalysisOptions, Any]]
    ) -> list[AnalysisResult | Exception]:
        self.batches.append(len(calls))
        if self.batch_fails_with is not None:
            raise self.batch_fails_with
        out: list[AnalysisResult | Exception] = []
        for path, options, scorecard in calls:
            try:
                out.append(self(path, options, scorecard))
            except Exception as e:
                out.append(e)
        return out


def scorecard(passed: dict[str, bool | None], violations: tuple[str, ...] = ()) -> dict[str, Any]:
    """A stored scorecard (the JSON form of a :class:`ScorecardResult`): ``None`` marks a checkpoint
    not applicable; weights 1, penalty 10 each."""
    checkpoints = {
        key: {
            "passed": bool(ok),
            "confidence": 0.9,
            "applicable": ok is not None,
            "weight": 1.0,
            "required": False,
            "label": "",
            "custom": False,
            "evidence": [],
        }
        for key, ok in passed.items()
    }
    applicable = [ok for ok in passed.values() if ok is not None]
    base = 100.0 * sum(1 for ok in applicable if ok) / len(applicable) if applicable else 100.0
    return {
        "scenario": "showroom",
        "scorecard_version": "1",
        "score": round(max(0.0, base - 10.0 * len(violations)), 1),
        "checkpoints": checkpoints,
        "violations": [
            {
                "type": v,
                "turn": 0,
                "text": "",
                "start": 0.0,
                "end": 1.0,
                "confidence": 0.9,
                "penalty": 10.0,
                "matched": None,
            }
            for v in violations
        ],
        "penalty": 10.0 * len(violations),
        "missed_required": [],
    }


def analysis_result(card: dict[str, Any], grade: str) -> AnalysisResult:
    """A result with the stored scorecard ``card`` (see :func:`scorecard`) and ``grade``."""
    probabilities = {g: (1.0 if g == grade else 0.0) for g in GRADES}
    return fake_result(
        AnalysisOptions(scenario="showroom"),
        turns=(Turn("sales", "S1", None, 0.0, 1.0, "您好", ()),),
        scorecard=TypeAdapter(ScorecardResult).validate_python(card),
        attributes={},
        intent=IntentResult(as_grade(grade), probabilities),
        tags=(),
    )


def service_settings(tmp_path: Path, url: str, **limits: Any) -> Settings:
    base = Settings.from_env()
    return Settings(
        models_dir=base.models_dir,
        cache_dir=base.cache_dir,
        data_dir=tmp_path / "data",
        database_url=url,
        **limits,
    )


def make_key(db: Database, role: str, *dealers: str) -> str:
    with db.session() as session:
        _, key = create_key(session, role, list(dealers))
    return key


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def iter_rows(db: Database, table: str) -> Iterator[Mapping[str, Any]]:
    with db.engine.connect() as connection:
        yield from connection.execute(text(f"SELECT * FROM {table}")).mappings()
