"""Where callintel keeps its files. The only place that reads environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def _default_models_dir() -> Path:
    # A source checkout (editable install, Docker image) has models/ beside the package;
    # a wheel carries a copy inside the package as callintel/_models.
    checkout = _PACKAGE_DIR.parent / "models"
    return checkout if checkout.is_dir() else _PACKAGE_DIR / "_models"


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "callintel"


@dataclass(frozen=True)
class Settings:
    """Paths and limits, read once from the environment at the program's edge.

    Variables: CALLINTEL_MODELS_DIR, CALLINTEL_CACHE_DIR, CALLINTEL_MAX_AUDIO_SECONDS.
    """

    models_dir: Path = field(default_factory=_default_models_dir)
    cache_dir: Path = field(default_factory=_default_cache_dir)
    max_audio_seconds: float = 4 * 3600.0

    @classmethod
    def from_env(cls) -> Settings:
        defaults = cls()
        return cls(
            models_dir=Path(os.environ.get("CALLINTEL_MODELS_DIR", defaults.models_dir)),
            cache_dir=Path(os.environ.get("CALLINTEL_CACHE_DIR", defaults.cache_dir)),
            max_audio_seconds=float(
                os.environ.get("CALLINTEL_MAX_AUDIO_SECONDS", defaults.max_audio_seconds)
            ),
        )
