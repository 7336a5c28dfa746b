"""How the pipeline loads its models (issue 16, quick to start): the speaker and understanding
models load on first use, once, or ahead in a background thread; nothing heavy at import.

Fast: a fake transcriber and counting loaders stand in for the models (the real ones are in the
slow tests of test_pipeline.py).
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from callintel.audio.decode import load_audio
from callintel.errors import ModelNotFound
from callintel.options import AnalysisOptions
from callintel.pipeline import Lazy, Pipeline, load_in_background, models_needed
from callintel.settings import Settings
from callintel.speakers.diarize import Diarization, Diarizer
from callintel.speakers.roles import RoleAssigner
from callintel.transcribe.whisper import Segment, Transcriber, Transcript
from callintel.transcript import ModelInfo, Word
from tests.helpers import tone, write_audio

REPO_ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "sklearn", "librosa", "resemblyzer")


class FakeTranscriber:
    """Two words per channel, whatever the audio."""

    info = ModelInfo("fake-asr", "asr", "fake", "1")

    def detect_language(self, samples: np.ndarray) -> tuple[str, float]:
        return "en", 1.0

    def transcribe(self, samples: np.ndarray, options: Any, **kwargs: Any) -> Transcript:
        words = (Word(" Hello", 0.1, 0.4, 0.9), Word(" there.", 0.5, 0.9, 0.9))
        return Transcript("en", 1.0, (Segment(0.1, 0.9, " Hello there.", words),), ())

    def transcribe_channels(
        self, channels: list[Any], speech: Any, options: Any, **kwargs: Any
    ) -> list[Transcript]:
        return [self.transcribe(samples, options) for _, samples in channels]


class FakeDiarizer:
    info = ModelInfo("fake-speakers", "speaker-embedding", "fake", "1")

    def diarize(self, samples: np.ndarray, speech: Any, options: Any) -> Diarization:
        return Diarization((), (), np.zeros((1, 0), np.float32))


class FakeUnderstander:
    def understand_many(self, calls: list[Any]) -> list[None]:
        return [None] * len(calls)


class Counting:
    """A loader that counts its calls and takes ``seconds`` (a model loading)."""

    def __init__(self, model: Any, seconds: float = 0.0) -> None:
        self.model, self.seconds, self.calls = model, seconds, 0

    def __call__(self) -> Any:
        self.calls += 1
        time.sleep(self.seconds)
        return self.model


@pytest.fixture
def loaders() -> tuple[Counting, Counting]:
    return Counting(FakeDiarizer()), Counting(FakeUnderstander())


@pytest.fixture
def pipeline(settings: Settings, loaders: tuple[Counting, Counting]) -> Pipeline:
    diarizer, understander = loaders
    return Pipeline(
        FakeTranscriber(),  # type: ignore[arg-type]
        RoleAssigner.from_models_dir(settings.models_dir),
        {},
        diarizer,
        understander,
    )


@pytest.fixture
def stereo(tmp_path: Path) -> Path:
    return write_audio(tmp_path / "stereo.wav", tone(2.0, 16000, channels=2), 16000, "pcm_s16le", "wav")


def test_importing_the_pipeline_and_the_cli_loads_no_heavy_library() -> None:
    code = (
        "import sys, callintel.cli, callintel.pipeline, callintel.understand.classifiers; "
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout


def test_no_model_loads_until_a_call_needs_it(
    pipeline: Pipeline, loaders: tuple[Counting, Counting], stereo: Path
) -> None:
    diarizer, understander = loaders
    pipeline.analyze(stereo, AnalysisOptions(understand=False))
    assert (diarizer.calls, understander.calls) == (0, 0)  # stereo: no speaker model either
    pipeline.analyze(stereo)
    pipeline.analyze(stereo)
    assert (diarizer.calls, understander.calls) == (0, 1)  # loaded once, on the first understanding


def test_a_mono_call_loads_the_speaker_model_once(
    pipeline: Pipeline, loaders: tuple[Counting, Counting], audio_dir: Path
) -> None:
    diarizer, understander = loaders
    for _ in range(2):
        result = pipeline.analyze(audio_dir / "jfk.flac", AnalysisOptions(understand=False))
    assert result.channel_layout == "mono"
    assert [m.name for m in result.models] == ["fake-asr", "fake-speakers"]
    assert (diarizer.calls, understander.calls) == (1, 0)


def test_threads_asking_for_a_model_load_it_once() -> None:
    loader = Counting(object(), seconds=0.2)
    lazy = Lazy(loader)
    got: list[Any] = []
    threads = [threading.Thread(target=lambda: got.append(lazy.get())) for _ in range(8)]
    load_in_background([lazy])  # a background load too
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert loader.calls == 1
    assert len(got) == 8 and all(model is loader.model for model in got)


def test_preload_loads_in_the_background_and_a_use_waits_for_it(
    pipeline: Pipeline, loaders: tuple[Counting, Counting]
) -> None:
    diarizer, understander = loaders
    understander.seconds = 0.3
    clock = time.perf_counter()
    pipeline.preload(["understanding"])
    assert time.perf_counter() - clock < 0.2  # returns at once
    assert pipeline.understander is understander.model  # waits for the background load
    assert (diarizer.calls, understander.calls) == (0, 1)


def test_a_failed_background_load_raises_where_the_model_is_used() -> None:
    def broken() -> None:
        raise ModelNotFound("no such model")

    lazy: Lazy[None] = Lazy(broken)
    load_in_background([lazy])
    with pytest.raises(ModelNotFound, match="no such model"):
        lazy.get()
    assert not lazy.loaded


def test_from_settings_loads_the_asr_model_only(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    diarizer, understander = Counting(FakeDiarizer()), Counting(FakeUnderstander())
    monkeypatch.setattr(Transcriber, "from_registry", classmethod(lambda cls, *a, **k: FakeTranscriber()))
    monkeypatch.setattr(Diarizer, "from_registry", classmethod(lambda cls, *a, **k: diarizer()))
    monkeypatch.setattr("callintel.pipeline._load_understander", lambda *a: understander())

    pipeline = Pipeline.from_settings(settings, understanding_dir=tmp_path)
    assert (diarizer.calls, understander.calls) == (0, 0)
    assert pipeline.understander is understander.model
    assert pipeline.understander is understander.model
    assert (diarizer.calls, understander.calls) == (0, 1)

    preloaded = Pipeline.from_settings(settings, understanding_dir=tmp_path, preload=["speakers"])
    assert preloaded.diarizer is diarizer.model
    assert (diarizer.calls, understander.calls) == (1, 1)


def test_models_needed_follow_the_layout_and_options(audio_dir: Path, stereo: Path) -> None:
    mono = load_audio(audio_dir / "jfk.flac")  # dual-mono: analysed as mono
    assert models_needed(mono, AnalysisOptions()) == {"speakers", "understanding"}
    assert models_needed(mono, AnalysisOptions(understand=False)) == {"speakers"}
    assert models_needed(load_audio(stereo), AnalysisOptions()) == {"understanding"}
