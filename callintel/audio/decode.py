"""Audio in: decode any common recording once, to float32 16 kHz, one row per channel.

Decoding goes through PyAV (FFmpeg), as faster-whisper's own ``decode_audio`` does, but
keeps the channels apart (a call-centre recording carries one party per channel) and turns
FFmpeg's failures into the specific errors of :mod:`callintel.errors`.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np

from callintel.errors import (
    AudioDecodeError,
    AudioTooLongError,
    EmptyAudioError,
    NotAudioError,
    SilentAudioError,
    UnsupportedFormatError,
)

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000
AudioSource = str | Path | bytes | BinaryIO

# Leading bytes of the containers we expect; used to tell "corrupt audio" from "not audio".
_MAGIC: tuple[tuple[int, bytes], ...] = (
    (0, b"RIFF"),
    (0, b"fLaC"),
    (0, b"ID3"),
    (0, b"\xff\xfb"),
    (0, b"\xff\xf3"),
    (0, b"\xff\xf2"),
    (0, b"\xff\xf1"),  # ADTS AAC
    (0, b"\xff\xf9"),
    (0, b"OggS"),
    (0, b"#!AMR"),
    (4, b"ftyp"),
    (0, b"caff"),
    (0, b"FORM"),
)


@dataclass(frozen=True)
class AudioInfo:
    """What the input was before decoding."""

    container: str
    codec: str
    source_sample_rate: int
    source_channels: int
    duration: float


@dataclass(frozen=True, eq=False)
class Audio:
    """Decoded audio: ``samples`` has shape (channels, n), float32 in [-1, 1], 16 kHz."""

    samples: np.ndarray
    info: AudioInfo
    sample_rate: int = SAMPLE_RATE

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def duration(self) -> float:
        return self.samples.shape[1] / self.sample_rate

    def mono(self) -> np.ndarray:
        """The channels mixed down to one."""
        if self.channels == 1:
            return self.samples[0]
        return self.samples.mean(axis=0, dtype=np.float32)

    def is_dual_mono(self, min_correlation: float = 0.95) -> bool:
        """True for a two-channel file that carries one mix on both sides (not one party each)."""
        if self.channels != 2:
            return False
        left, right = self.samples
        if not left.any() or not right.any():
            return False
        return float(np.corrcoef(left, right)[0, 1]) >= min_correlation


_FORMATS: tuple[tuple[int, bytes, str], ...] = (
    (0, b"fLaC", "flac"),
    (0, b"ID3", "mp3"),
    (0, b"\xff\xfb", "mp3"),
    (0, b"\xff\xf3", "mp3"),
    (0, b"\xff\xf2", "mp3"),
    (0, b"\xff\xf1", "aac"),
    (0, b"\xff\xf9", "aac"),
    (0, b"OggS", "ogg"),
    (0, b"#!AMR", "amr"),
    (4, b"ftyp", "m4a"),
    (0, b"caff", "caf"),
    (0, b"\x1a\x45\xdf\xa3", "webm"),
)


def sniff_format(head: bytes) -> str | None:
    """The container named by a file's first bytes (wav, flac, mp3, aac, ogg, amr, m4a, caf,
    aiff, webm), whatever the file is called; None when they name no audio container."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    return next((fmt for offset, magic, fmt in _FORMATS if head[offset : offset + len(magic)] == magic), None)


def probe_duration(path: Path) -> float:
    """The duration in seconds of the audio stream in ``path``, read from its headers (or by
    demuxing when the headers do not say).

    Raises:
        NotAudioError when there is no audio stream; AudioDecodeError when it cannot be read.
    """
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            streams = list(container.streams.audio)
            if not streams:
                raise NotAudioError("the file has no audio stream")
            duration = _header_duration(container, streams[0])
            if duration is None:
                end = 0.0
                for packet in container.demux(streams[0]):
                    if packet.pts is not None and packet.time_base is not None:
                        end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
                duration = end
            return float(duration)
    except av.error.FFmpegError as e:
        # Not str(e): it names the path, which is the store's business, not the client's.
        raise AudioDecodeError(f"the file cannot be read as audio ({e.strerror or type(e).__name__})") from e


def _looks_like_media(head: bytes) -> bool:
    return any(head[offset : offset + len(magic)] == magic for offset, magic in _MAGIC)


def _open_source(source: AudioSource) -> tuple[BinaryIO, str]:
    """Return a readable binary stream and a name for messages."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise EmptyAudioError("the input is empty (0 bytes)")
        return io.BytesIO(bytes(source)), "<bytes>"
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"no such audio file: {path}")
        if path.stat().st_size == 0:
            raise EmptyAudioError(f"{path.name} is empty (0 bytes)")
        return path.open("rb"), path.name
    return source, getattr(source, "name", "<stream>")


def load_audio(
    source: AudioSource,
    *,
    max_seconds: float | None = None,
    silence_dbfs: float | None = -60.0,
) -> Audio:
    """Decode a recording to 16 kHz float32, keeping up to two channels.

    Args:
        source: a path, the file's bytes, or a binary file object.
        max_seconds: refuse recordings longer than this (checked from the header first,
            then while decoding, so a lying header cannot make it decode forever).
        silence_dbfs: refuse recordings whose peak is below this level; None accepts them.

    Raises:
        EmptyAudioError, NotAudioError, AudioDecodeError, UnsupportedFormatError,
        AudioTooLongError, SilentAudioError.
    """
    stream, name = _open_source(source)
    try:
        head = stream.read(16)
        stream.seek(0)
        if not head:
            raise EmptyAudioError(f"{name} is empty (0 bytes)")
        return _decode(stream, name, head, max_seconds, silence_dbfs)
    finally:
        if isinstance(source, (str, Path)):
            stream.close()


def _decode(
    stream: BinaryIO, name: str, head: bytes, max_seconds: float | None, silence_dbfs: float | None
) -> Audio:
    try:
        container = av.open(stream, mode="r", metadata_errors="ignore")
    except av.error.FFmpegError as e:
        if _looks_like_media(head):
            raise AudioDecodeError(f"{name} looks like audio but cannot be read: {e}") from e
        raise NotAudioError(f"{name} is not a recognised audio file") from e
    with container:
        if not container.streams.audio:
            raise NotAudioError(f"{name} has no audio stream ({container.format.name})")
        audio_stream = container.streams.audio[0]
        codec = audio_stream.codec_context
        if codec is None or codec.name is None:
            raise UnsupportedFormatError(f"{name}: no decoder for its audio codec")
        header_seconds = _header_duration(container, audio_stream)
        if max_seconds is not None and header_seconds is not None and header_seconds > max_seconds:
            raise AudioTooLongError(
                f"{name} is {header_seconds:.0f} s long; the limit is {max_seconds:.0f} s"
            )
        source_channels = codec.channels or 1
        layout = "mono" if source_channels == 1 else "stereo"
        resampler = av.AudioResampler(format="flt", layout=layout, rate=SAMPLE_RATE)
        limit = None if max_seconds is None else int(max_seconds * SAMPLE_RATE)
        chunks: list[np.ndarray] = []
        decoded = 0
        try:
            for frame in container.decode(audio_stream):
                frame.pts = None  # let the resampler count time itself (odd timestamps)
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray())
                    decoded += out.samples
                if limit is not None and decoded > limit:
                    raise AudioTooLongError(f"{name} is longer than the limit of {max_seconds:.0f} s")
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray())
        except av.error.FFmpegError as e:
            raise AudioDecodeError(
                f"{name} is corrupt: decoding failed after {decoded / SAMPLE_RATE:.1f} s ({e})"
            ) from e
        info_container = container.format.name
        source_rate = codec.sample_rate or SAMPLE_RATE
    channels = 1 if layout == "mono" else 2
    if not chunks:
        raise EmptyAudioError(f"{name} contains no audio samples")
    interleaved = np.concatenate(chunks, axis=1).reshape(-1)
    samples = np.ascontiguousarray(interleaved.reshape(-1, channels).T, dtype=np.float32)
    if samples.shape[1] == 0:
        raise EmptyAudioError(f"{name} contains no audio samples")
    if silence_dbfs is not None:
        peak = float(np.max(np.abs(samples)))
        peak_dbfs = 20 * np.log10(peak) if peak > 0 else -np.inf
        if peak_dbfs < silence_dbfs:
            raise SilentAudioError(
                f"{name} is silent (peak {peak_dbfs:.0f} dBFS, threshold {silence_dbfs:.0f} dBFS)"
            )
    info = AudioInfo(
        container=info_container,
        codec=codec.name,
        source_sample_rate=int(source_rate),
        source_channels=int(source_channels),
        duration=samples.shape[1] / SAMPLE_RATE,
    )
    logger.debug("decoded %s: %s", name, info)
    return Audio(samples=samples, info=info)


def _header_duration(container: av.container.InputContainer, stream: av.audio.AudioStream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None
