"""Shared fixtures: the real test recordings and, for slow tests, the real pipeline."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from callintel.audio.decode import load_audio
from callintel.settings import Settings
from callintel.store.db import Database
from tests.service_helpers import backends, fresh_database_url

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "audio"


@pytest.fixture(scope="session")
def audio_dir() -> Path:
    if not DATA_DIR.is_dir():
        pytest.fail(f"test recordings not found at {DATA_DIR}: clone the project beside shared/")
    return DATA_DIR


@pytest.fixture(params=backends())
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty, migrated service database on SQLite, and on PostgreSQL where one is given."""
    database = Database(fresh_database_url(request.param, tmp_path))
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings.from_env()


@pytest.fixture(scope="session")
def understanding_dir(settings: Settings) -> Path:
    """The default understanding models, trained exactly as `callintel train` does (cached)."""
    from callintel.training.build import build, default_directory, is_trained

    directory = default_directory(settings.cache_dir)
    if not is_trained(directory):
        build(directory)
    return directory


@pytest.fixture(scope="session")
def pipeline(settings: Settings):
    """The real default pipeline (Whisper base int8, Resemblyzer), loaded once."""
    from callintel.pipeline import Pipeline

    return Pipeline.from_settings(settings, compute_type="int8")


@pytest.fixture(scope="session")
def repairs_parts(audio_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """The auto-repairs call's agent and caller tracks, 16 kHz, same length."""
    agent = load_audio(audio_dir / "en_auto_repairs_40_agent.flac").mono()
    caller = load_audio(audio_dir / "en_auto_repairs_40_caller.flac").mono()
    n = min(len(agent), len(caller))
    return agent[:n], caller[:n]


def _cuda_devices() -> int:
    try:
        import ctranslate2

        return ctranslate2.get_cuda_device_count()
    except Exception:  # a broken CUDA install counts as none
        return 0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _cuda_devices() > 0:
        return
    skip = pytest.mark.skip(reason="no CUDA device on this machine")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
