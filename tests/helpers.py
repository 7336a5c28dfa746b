"""Small helpers for tests: writing audio in any format with PyAV, error rates."""

from __future__ import annotations

import re
from pathlib import Path

import av
import numpy as np


def tone(seconds: float, rate: int, channels: int = 1, freq: float = 440.0, level: float = 0.3) -> np.ndarray:
    """A (channels, n) float32 signal: a tone per channel (different pitch per channel)."""
    t = np.arange(int(seconds * rate)) / rate
    rows = [level * np.sin(2 * np.pi * (freq * (1 + 0.5 * c)) * t) for c in range(channels)]
    return np.asarray(rows, dtype=np.float32)


def write_audio(
    path: Path,
    samples: np.ndarray,
    rate: int,
    codec: str,
    container: str | None = None,
    sample_format: str | None = None,
) -> Path:
    """Encode (channels, n) float32 samples with FFmpeg through PyAV."""
    channels = samples.shape[0]
    layout = "mono" if channels == 1 else "stereo"
    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        if codec == "vorbis":
            stream.codec_context.options = {"strict": "experimental"}  # FFmpeg's own encoder
        fmt = sample_format or stream.codec_context.format.name
        frame_size = stream.codec_context.frame_size or 1024
        resampler = av.AudioResampler(format=fmt, layout=layout, rate=rate)
        flt = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples.T.reshape(1, -1)), format="flt", layout=layout
        )
        flt.rate = rate
        frames = resampler.resample(flt)
        fifo = av.AudioFifo()
        for frame in frames:
            fifo.write(frame)
        while (chunk := fifo.read(frame_size)) is not None:
            for packet in stream.encode(chunk):
                out.mux(packet)
        rest = fifo.read()
        if rest is not None and rest.samples:
            for packet in stream.encode(rest):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i]
        for j, h in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1]


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate of Chinese text, punctuation and spaces ignored."""

    def clean(s: str) -> list[str]:
        return [c for c in s if re.match(r"[\w]", c)]

    ref = clean(reference)
    return edit_distance(ref, clean(hypothesis)) / len(ref)
