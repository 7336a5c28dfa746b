"""The model registry: assembly once, integrity checks, clear errors offline."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

from callintel.errors import ModelIntegrityError, ModelNotFound
from callintel.registry import ModelRegistry

PART1 = b"first part of the weights " * 1000
PART2 = b"second part" * 700


@pytest.fixture
def fake_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two installed 'packages' carrying a model in parts, as the Whisper ones do."""
    site = tmp_path / "site"
    for module, files in {
        "fakemodel_part_a": {"data/model.bin.part1": PART1},
        "fakemodel_part_b": {"data/model.bin.part2": PART2, "data/config.json": b"{}"},
    }.items():
        for rel, content in files.items():
            target = site / module / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        (site / module / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(site))
    for name in ("fakemodel_part_a", "fakemodel_part_b"):
        sys.modules.pop(name, None)
    return site


def write_spec(models_dir: Path, sha256: str, size: int, module_b: str = "fakemodel_part_b") -> None:
    folder = models_dir / "fake-asr"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.yaml").write_text(
        f"""
name: fake-asr
kind: asr
engine: faster-whisper
default: true
version: "fake 1"
source:
  type: pypi-parts
  install: "pip install fake-parts"
  files:
    - name: model.bin
      parts: [fakemodel_part_a/data/model.bin.part1, {module_b}/data/model.bin.part2]
      size: {size}
      sha256: "{sha256}"
    - name: config.json
      parts: [{module_b}/data/config.json]
""",
        encoding="utf-8",
    )


def test_assembles_once_and_verifies(fake_packages: Path, tmp_path: Path) -> None:
    whole = PART1 + PART2
    write_spec(tmp_path / "models", hashlib.sha256(whole).hexdigest(), len(whole))
    registry = ModelRegistry(tmp_path / "models", tmp_path / "cache")
    assert registry.availability("fake-asr").detail == "installed, assembled on first use"
    resolved = registry.resolve("fake-asr")
    assert (resolved.path / "model.bin").read_bytes() == whole
    assert (resolved.path / "config.json").read_bytes() == b"{}"
    assert registry.default_name("asr") == "fake-asr"
    stamp = (resolved.path / "model.bin").stat().st_mtime_ns
    # A second registry (another process) reuses the assembled copy, no rewrite.
    again = ModelRegistry(tmp_path / "models", tmp_path / "cache").resolve("fake-asr")
    assert again.path == resolved.path
    assert (again.path / "model.bin").stat().st_mtime_ns == stamp
    assert registry.availability("fake-asr").detail == "assembled"


def test_checksum_mismatch_is_refused_and_leaves_nothing(fake_packages: Path, tmp_path: Path) -> None:
    whole = PART1 + PART2
    write_spec(tmp_path / "models", "0" * 64, len(whole))
    registry = ModelRegistry(tmp_path / "models", tmp_path / "cache")
    with pytest.raises(ModelIntegrityError, match="SHA-256"):
        registry.resolve("fake-asr")
    leftovers = [p for p in (tmp_path / "cache" / "models").iterdir() if not p.name.endswith(".lock")]
    assert leftovers == []


def test_size_mismatch_is_refused(fake_packages: Path, tmp_path: Path) -> None:
    write_spec(tmp_path / "models", hashlib.sha256(PART1 + PART2).hexdigest(), 5)
    with pytest.raises(ModelIntegrityError, match="expected 5"):
        ModelRegistry(tmp_path / "models", tmp_path / "cache").resolve("fake-asr")


def test_missing_package_names_what_to_install(fake_packages: Path, tmp_path: Path) -> None:
    write_spec(tmp_path / "models", "0" * 64, 1, module_b="not_installed_pkg")
    registry = ModelRegistry(tmp_path / "models", tmp_path / "cache")
    with pytest.raises(ModelNotFound, match="pip install fake-parts"):
        registry.resolve("fake-asr")
    assert not registry.availability("fake-asr").available


def test_unknown_faster_whisper_model_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    registry = ModelRegistry(tmp_path / "models", tmp_path / "cache")
    with pytest.raises(ModelNotFound, match="not available offline"):
        registry.resolve("large-v3")
    with pytest.raises(ModelNotFound, match="unknown ASR model"):
        registry.resolve("no-such-size")


def test_local_ctranslate2_directory(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "models", tmp_path / "cache")
    folder = tmp_path / "my-whisper"
    folder.mkdir()
    with pytest.raises(ModelNotFound, match="no model.bin"):
        registry.resolve(str(folder))
    (folder / "model.bin").write_bytes(b"x")
    resolved = registry.resolve(str(folder))
    assert resolved.path == folder and resolved.engine == "faster-whisper"


def test_project_registry_is_valid(settings) -> None:
    registry = ModelRegistry(settings.models_dir, settings.cache_dir)
    assert registry.default_name("asr") == "whisper-base"
    assert registry.default_name("speaker-embedding") == "resemblyzer"
    for spec in registry.specs():
        assert registry.availability(spec.name).available, spec.name


@pytest.mark.slow
def test_embedded_whisper_base_assembles_and_matches_checksum(settings) -> None:
    registry = ModelRegistry(settings.models_dir, settings.cache_dir)
    path = registry.resolve("whisper-base").path
    assert (path / "model.bin").stat().st_size == 145217607
    assert {"config.json", "tokenizer.json", "vocabulary.json"} <= {p.name for p in path.iterdir()}
