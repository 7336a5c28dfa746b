"""Audio out: a recording decoded at its own rate, channels and bit depth, and written back as FLAC.

What the store keeps of a recording it has edited (PII muted by ``callintel.store.redact``) must
stay the recording: ``read_native`` decodes any format callintel reads without the resampling to
16 kHz and the mix down to two channels that ``decode.load_audio`` does for the models, and
``write_flac`` writes it losslessly, in 32-bit samples where the source had more than 16 bits.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from callintel.audio.decode import sniff_format
from callintel.errors import AudioDecodeError, EmptyAudioError, NotAudioError

_BLOCK = 65536
"""Samples per channel converted at a time when encoding."""


@dataclass(frozen=True, eq=False)
class NativeAudio:
    """A recording as it is: ``samples`` (channels, n) float32 at the source's sample rate."""

    samples: np.ndarray
    sample_rate: int
    layout: str
    """FFmpeg's name of the channel layout (``mono``, ``stereo``, ``5.1`` ...)."""
    wide: bool
    """Whether the source holds more than 16 bits a sample (lossless 24/32-bit or float PCM)."""

    @property
    def flac_sample_format(self) -> str:
        """The FLAC sample format that keeps the source's depth: ``s32`` when wide, else ``s16``."""
        return "s32" if self.wide else "s16"


def read_native(path: Path) -> NativeAudio:
    """Decode ``path`` keeping its sample rate, every channel and whether it is wider than 16 bits.

    Raises:
        FileNotFoundError, EmptyAudioError, NotAudioError, AudioDecodeError.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such audio file: {path}")
    with path.open("rb") as f:
        head = f.read(16)
    if not head:
        raise EmptyAudioError(f"{path.name} is empty (0 bytes)")
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.error.FFmpegError as e:
        if sniff_format(head) is not None:
            raise AudioDecodeError(f"{path.name} looks like audio but cannot be read: {e}") from e
        raise NotAudioError(f"{path.name} is not a recognised audio file") from e
    chunks: list[np.ndarray] = []
    with container:
        if not container.streams.audio:
            raise NotAudioError(f"{path.name} has no audio stream ({container.format.name})")
        stream = container.streams.audio[0]
        codec = stream.codec_context
        rate = int(codec.sample_rate or 0)
        layout = codec.layout.name if codec.layout is not None else "mono"
        sample_format = codec.format.name if codec.format is not None else ""
        wide = codec.name.startswith(("pcm_s24", "pcm_s32", "pcm_f", "flac", "alac", "wavpack")) and (
            sample_format.startswith(("s32", "flt", "dbl"))
        )
        try:
            resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
            for frame in container.decode(stream):
                frame.pts = None
                chunks += [out.to_ndarray() for out in resampler.resample(frame)]
            chunks += [out.to_ndarray() for out in resampler.resample(None)]
        except av.error.FFmpegError as e:
            raise AudioDecodeError(f"{path.name} is corrupt: decoding failed ({e})") from e
    if not chunks:
        raise EmptyAudioError(f"{path.name} contains no audio samples")
    samples = np.ascontiguousarray(np.concatenate(chunks, axis=1), dtype=np.float32)
    if samples.shape[1] == 0:
        raise EmptyAudioError(f"{path.name} contains no audio samples")
    return NativeAudio(samples, rate, layout, wide)


def write_flac(destination: Path, audio: NativeAudio) -> None:
    """Write ``audio`` to ``destination`` as FLAC at its rate and layout, in
    ``audio.flac_sample_format`` (samples clipped to [-1, 1]).

    The file is written next to ``destination`` and renamed into place, so a reader never sees
    half a file and ``destination`` may be the file ``audio`` was read from.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".flac", dir=destination.parent)
    os.close(fd)
    try:
        _encode_flac(Path(tmp_name), audio.samples, audio.sample_rate, audio.layout, audio.flac_sample_format)
        os.replace(tmp_name, destination)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _encode_flac(path: Path, samples: np.ndarray, rate: int, layout: str, sample_format: str) -> None:
    with av.open(str(path), "w", format="flac") as out:
        stream = out.add_stream("flac", rate=rate, layout=layout)
        stream.codec_context.format = sample_format
        frame_size = stream.codec_context.frame_size or 4096
        resampler = av.AudioResampler(format=sample_format, layout=layout, rate=rate)
        fifo = av.AudioFifo()
        for first in range(0, samples.shape[1], _BLOCK):
            block = np.ascontiguousarray(np.clip(samples[:, first : first + _BLOCK], -1.0, 1.0))
            frame = av.AudioFrame.from_ndarray(block, format="fltp", layout=layout)
            frame.rate = rate
            for converted in resampler.resample(frame):
                fifo.write(converted)
        for converted in resampler.resample(None):
            fifo.write(converted)
        while (chunk := fifo.read(frame_size)) is not None:
            for packet in stream.encode(chunk):
                out.mux(packet)
        rest = fifo.read()
        if rest is not None and rest.samples:
            for packet in stream.encode(rest):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
