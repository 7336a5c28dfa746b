"""Where callintel keeps its files. The only place that reads environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from callintel.options import MAX_AUDIO_SECONDS

_PACKAGE_DIR = Path(__file__).resolve().parent


def _default_models_dir() -> Path:
    # A source checkout (editable install, Docker image) has models/ beside the package;
    # a wheel carries a copy inside the package as callintel/_models.
    checkout = _PACKAGE_DIR.parent / "models"
    return checkout if checkout.is_dir() else _PACKAGE_DIR / "_models"


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "callintel"


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "callintel"


@dataclass(frozen=True)
class Settings:
    """Paths and limits, read once from the environment at the program's edge.

    Variables: CALLINTEL_MODELS_DIR, CALLINTEL_CACHE_DIR, CALLINTEL_MAX_AUDIO_SECONDS,
    CALLINTEL_DATA_DIR (stored audio, the default SQLite database), CALLINTEL_DATABASE_URL
    (SQLAlchemy URL; default SQLite in the data dir), CALLINTEL_MAX_UPLOAD_BYTES,
    CALLINTEL_SYNC_MAX_SECONDS (longest recording ``POST /v1/calls:analyze`` takes),
    CALLINTEL_WORKER_BATCH (queued calls a worker claims and analyses together, 1 to 64),
    CALLINTEL_METRICS_TOKEN (the bearer token ``/metrics`` asks for; empty: open),
    CALLINTEL_AUDIO_URL_SECRET (signs the player's short-lived audio links; unset: a random secret
    per process, so set it when several service processes answer the same console),
    CALLINTEL_AUDIO_URL_SECONDS (how long such a link is valid).
    """

    models_dir: Path = field(default_factory=_default_models_dir)
    cache_dir: Path = field(default_factory=_default_cache_dir)
    max_audio_seconds: float = MAX_AUDIO_SECONDS
    data_dir: Path = field(default_factory=_default_data_dir)
    database_url: str = ""
    max_upload_bytes: int = 512 * 1024 * 1024
    sync_max_seconds: float = 120.0
    worker_batch: int = 1
    metrics_token: str = field(default="", repr=False)
    audio_url_secret: str = field(default="", repr=False)
    audio_url_seconds: int = 3600

    def __post_init__(self) -> None:
        if not 1 <= self.worker_batch <= 64:
            raise ValueError(f"worker_batch must be 1 to 64, not {self.worker_batch}")
        if not 10 <= self.audio_url_seconds <= 7 * 86400:
            raise ValueError(f"audio_url_seconds must be 10 to 604800, not {self.audio_url_seconds}")
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{self.data_dir / 'callintel.db'}")

    @property
    def audio_dir(self) -> Path:
        return self.data_dir / "audio"

    @classmethod
    def from_env(cls) -> Settings:
        defaults = cls()
        env = os.environ.get
        data_dir = Path(env("CALLINTEL_DATA_DIR", defaults.data_dir))
        return cls(
            models_dir=Path(env("CALLINTEL_MODELS_DIR", defaults.models_dir)),
            cache_dir=Path(env("CALLINTEL_CACHE_DIR", defaults.cache_dir)),
            max_audio_seconds=float(env("CALLINTEL_MAX_AUDIO_SECONDS", defaults.max_audio_seconds)),
            data_dir=data_dir,
            database_url=env("CALLINTEL_DATABASE_URL", ""),
            max_upload_bytes=int(env("CALLINTEL_MAX_UPLOAD_BYTES", defaults.max_upload_bytes)),
            sync_max_seconds=float(env("CALLINTEL_SYNC_MAX_SECONDS", defaults.sync_max_seconds)),
            worker_batch=int(env("CALLINTEL_WORKER_BATCH", defaults.worker_batch)),
            metrics_token=env("CALLINTEL_METRICS_TOKEN", ""),
            audio_url_secret=env("CALLINTEL_AUDIO_URL_SECRET", ""),
            audio_url_seconds=int(env("CALLINTEL_AUDIO_URL_SECONDS", defaults.audio_url_seconds)),
        )
