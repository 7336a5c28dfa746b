"""Audio in: every format and layout the issue names, and every kind of bad input."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from callintel.audio.decode import SAMPLE_RATE, load_audio
from callintel.errors import (
    AudioDecodeError,
    AudioTooLongError,
    EmptyAudioError,
    NotAudioError,
    SilentAudioError,
)
from tests.helpers import tone, write_audio

# (file name, codec, container, source rate, channels)
FORMATS = [
    ("pcm16.wav", "pcm_s16le", "wav", 44100, 2),
    ("pcm16_mono_22k.wav", "pcm_s16le", "wav", 22050, 1),
    ("mulaw_8k.wav", "pcm_mulaw", "wav", 8000, 1),
    ("alaw_8k.wav", "pcm_alaw", "wav", 8000, 1),
    ("telephone_stereo.wav", "pcm_mulaw", "wav", 8000, 2),
    ("call.flac", "flac", "flac", 16000, 2),
    ("call.mp3", "libmp3lame", "mp3", 44100, 2),
    ("call.m4a", "aac", "ipod", 48000, 1),
    ("call.aac", "aac", "adts", 24000, 2),
    ("call.opus", "libopus", "ogg", 48000, 2),
    ("call.ogg", "vorbis", "ogg", 44100, 2),
    ("call.amr", "libopencore_amrnb", "amr", 8000, 1),
]


@pytest.mark.parametrize(("name", "codec", "container", "rate", "channels"), FORMATS)
def test_decodes_format_to_16k_keeping_channels(
    tmp_path: Path, name: str, codec: str, container: str, rate: int, channels: int
) -> None:
    seconds = 2.0
    path = write_audio(tmp_path / name, tone(seconds, rate, channels), rate, codec, container)
    audio = load_audio(path)
    assert audio.sample_rate == SAMPLE_RATE
    assert audio.channels == channels
    assert audio.info.source_sample_rate == rate
    assert audio.info.source_channels == channels
    assert audio.samples.dtype == np.float32
    # Encoders add priming/padding (AAC, Opus, MP3): a few tens of milliseconds at most.
    assert abs(audio.duration - seconds) < 0.15
    # The tone survives: its level is close to the written one on every channel.
    rms = np.sqrt(np.mean(audio.samples[:, 1600:-1600] ** 2, axis=1))
    assert np.all(rms > 0.15), rms
    if channels == 2:
        assert not audio.is_dual_mono()


def test_resamples_with_the_right_pitch(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "a.wav", tone(1.0, 8000, freq=440.0), 8000, "pcm_s16le", "wav")
    audio = load_audio(path)
    spectrum = np.abs(np.fft.rfft(audio.samples[0]))
    peak_hz = np.argmax(spectrum) * SAMPLE_RATE / audio.samples.shape[1]
    assert abs(peak_hz - 440.0) < 2.0


def test_same_signal_on_both_channels_is_dual_mono(tmp_path: Path) -> None:
    signal = tone(1.0, 16000)
    path = write_audio(tmp_path / "dual.wav", np.vstack([signal, signal]), 16000, "pcm_s16le", "wav")
    assert load_audio(path).is_dual_mono()


def test_bytes_and_file_objects_are_accepted(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "a.flac", tone(1.0, 16000), 16000, "flac", "flac")
    from_bytes = load_audio(path.read_bytes())
    with path.open("rb") as f:
        from_file = load_audio(f)
    assert np.array_equal(from_bytes.samples, from_file.samples)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(EmptyAudioError, match="empty"):
        load_audio(path)
    with pytest.raises(EmptyAudioError):
        load_audio(b"")


def test_text_named_wav_is_not_audio(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("销售: 您好，欢迎光临\n客户: 我想看看领克08\n", encoding="utf-8")
    with pytest.raises(NotAudioError, match="not a recognised audio file"):
        load_audio(path)


def test_random_bytes_are_not_audio() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(NotAudioError):
        load_audio(rng.integers(0, 256, 50_000, dtype=np.uint8).tobytes())


def test_image_is_not_audio() -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
    with pytest.raises(NotAudioError):
        load_audio(png)


def test_corrupt_flac_is_a_decode_error(tmp_path: Path) -> None:
    good = write_audio(tmp_path / "a.flac", tone(2.0, 16000), 16000, "flac", "flac").read_bytes()
    # Keep the magic, destroy the STREAMINFO block that says how to decode.
    broken = good[:4] + b"\xff" * 60 + good[64:200]
    with pytest.raises(AudioDecodeError):
        load_audio(broken)


def test_wav_header_without_data_is_a_decode_or_empty_error() -> None:
    header = (
        b"RIFF" + struct.pack("<I", 36) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16)
    )
    with pytest.raises((AudioDecodeError, EmptyAudioError)):
        load_audio(header)


def test_silence_is_refused(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "silence.wav", np.zeros((1, 16000), np.float32), 16000, "pcm_s16le", "wav")
    with pytest.raises(SilentAudioError, match="silent"):
        load_audio(path)
    # The check can be turned off, e.g. to measure a file.
    assert load_audio(path, silence_dbfs=None).duration == pytest.approx(1.0)


def test_over_long_is_refused_from_the_header(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "long.flac", tone(5.0, 8000), 8000, "flac", "flac")
    with pytest.raises(AudioTooLongError, match="limit"):
        load_audio(path, max_seconds=3.0)
    assert load_audio(path, max_seconds=6.0).duration == pytest.approx(5.0, abs=0.01)


def test_over_long_is_refused_while_decoding_when_the_header_lies(tmp_path: Path) -> None:
    # Raw ADTS AAC carries no duration: only decoding can find the length.
    path = write_audio(tmp_path / "long.aac", tone(6.0, 16000), 16000, "aac", "adts")
    with pytest.raises(AudioTooLongError):
        load_audio(path, max_seconds=2.0)


def test_missing_file() -> None:
    with pytest.raises(FileNotFoundError):
        load_audio("/nonexistent/call.wav")
