"""Fixtures for the service tests: a database on each backend, the app, keys and a fake analyser."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from callintel.options import AnalysisOptions
from callintel.settings import Settings
from callintel.store.db import Database, upgrade
from callintel.store.keys import create_key

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


class FakeAnalyzer:
    """Stands in for the pipeline: records what it was asked, answers a small result."""

    def __init__(self) -> None:
        self.calls: list[tuple[Path, AnalysisOptions]] = []
        self.scorecards: list[Any] = []
        self.fail_with: BaseException | None = None

    def __call__(self, path: Path, options: AnalysisOptions, scorecard: Any = None) -> Mapping[str, Any]:
        self.calls.append((path, options))
        self.scorecards.append(scorecard)
        if self.fail_with is not None:
            raise self.fail_with
        return {
            "language": "zh",
            "turns": [
                {"role": "sales", "speaker": "S1", "start": 0.0, "end": 2.0, "text": "您好，欢迎光临"},
                {"role": "customer", "speaker": "S2", "start": 2.0, "end": 4.0, "text": "我想看看领克08"},
            ],
            "models": [{"name": "whisper-base", "version": "fake"}],
            "understanding": {
                "scenario": options.scenario,
                "scorecard": {
                    "score": 80.0,
                    "checkpoints": {
                        "greeting": {"passed": True, "evidence": [{"turn": 0, "near_miss": False}]},
                        "needs_discovery": {"passed": False, "evidence": []},
                    },
                    "violations": [],
                },
                "attributes": {
                    "models_of_interest": {"value": ["领克 08"], "evidence": [{"turn": 1, "text": "领克08"}]}
                },
                "intent": {
                    "grade": "A",
                    "probabilities": {"H": 0.1, "A": 0.6, "B": 0.2, "C": 0.05, "N": 0.05},
                },
                "tags": [
                    {"key": "intent_grade", "value": "A", "confidence": 0.6},
                    {"key": "model_interest", "value": "领克 08", "confidence": 0.9},
                ],
                "models": {"directory_version": "understanding-2"},
            },
        }


def scorecard(passed: dict[str, bool | None], violations: tuple[str, ...] = ()) -> dict[str, Any]:
    """A stored scorecard: ``None`` marks a checkpoint not applicable; weights 1, penalty 10 each."""
    checkpoints = {
        key: {"passed": bool(ok), "applicable": ok is not None, "weight": 1.0, "required": False}
        for key, ok in passed.items()
    }
    applicable = [ok for ok in passed.values() if ok is not None]
    base = 100.0 * sum(1 for ok in applicable if ok) / len(applicable) if applicable else 100.0
    return {
        "score": round(max(0.0, base - 10.0 * len(violations)), 1),
        "checkpoints": checkpoints,
        "violations": [{"type": v, "turn": 0, "text": "", "penalty": 10.0} for v in violations],
        "penalty": 10.0 * len(violations),
    }


def analysis_result(card: dict[str, Any], grade: str) -> dict[str, Any]:
    return {
        "language": "zh",
        "turns": [{"role": "sales", "speaker": "S1", "start": 0.0, "end": 1.0, "text": "您好"}],
        "models": [{"name": "whisper", "version": "x"}],
        "understanding": {"scorecard": card, "intent": {"grade": grade}, "tags": []},
    }


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
