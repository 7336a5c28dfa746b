"""Option validation and device selection (the GPU path's logic, checked on CPU)."""

from __future__ import annotations

import pytest

from callintel.options import MAX_AUDIO_SECONDS, AnalysisOptions, SpeakerOptions, TranscriptionOptions
from callintel.settings import Settings
from callintel.transcribe.whisper import pick_compute_type, pick_device


def test_device_selection() -> None:
    assert pick_device("auto", cuda_devices=0) == "cpu"
    assert pick_device("auto", cuda_devices=2) == "cuda"
    assert pick_device("cpu", cuda_devices=1) == "cpu"
    with pytest.raises(ValueError, match="'auto', 'cpu' or 'cuda'"):
        pick_device("tpu", cuda_devices=0)


def test_compute_type_selection() -> None:
    assert pick_compute_type("auto", "cpu") == "int8"
    assert pick_compute_type("auto", "cuda") == "float16"
    assert pick_compute_type("int8_float16", "cuda") == "int8_float16"


def test_language_must_be_a_whisper_code() -> None:
    assert TranscriptionOptions(language="zh").language == "zh"
    with pytest.raises(ValueError, match="'zh' or 'en'"):
        TranscriptionOptions(language="chinese")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"channels": "quad"},
        {"agent_channel": 2},
        {"num_speakers": 0},
        {"num_speakers": 9},
        {"max_speakers": 0},
    ],
)
def test_speaker_options_reject_bad_values(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        SpeakerOptions(**kwargs)


def test_options_are_frozen() -> None:
    options = AnalysisOptions()
    with pytest.raises(AttributeError):
        options.max_seconds = 1  # type: ignore[misc]


def test_one_audio_length_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    # The upload limit (settings) and the analysis' own limit (options) are one value, 4 h
    # (issue 15): a recording the API accepts is never refused by the worker or the batch.
    monkeypatch.delenv("CALLINTEL_MAX_AUDIO_SECONDS", raising=False)
    assert MAX_AUDIO_SECONDS == 4 * 3600
    assert Settings().max_audio_seconds == Settings.from_env().max_audio_seconds == MAX_AUDIO_SECONDS
    assert AnalysisOptions().max_seconds == MAX_AUDIO_SECONDS


@pytest.mark.gpu
def test_transcriber_runs_on_cuda(settings, audio_dir) -> None:
    import ctranslate2

    from callintel.audio.decode import load_audio
    from callintel.registry import ModelRegistry
    from callintel.transcribe.whisper import Transcriber

    assert ctranslate2.get_cuda_device_count() > 0
    registry = ModelRegistry(settings.models_dir, settings.cache_dir)
    transcriber = Transcriber.from_registry(registry, device="cuda")
    assert "cuda float16" in transcriber.info.version
    transcript = transcriber.transcribe(load_audio(audio_dir / "jfk.flac").mono())
    assert "country" in " ".join(s.text for s in transcript.segments).lower()
