"""Small helpers for tests: writing audio in any format with PyAV, a day of recordings, error rates."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import av
import numpy as np


def tone(seconds: float, rate: int, channels: int = 1, freq: float = 440.0, level: float = 0.3) -> np.ndarray:
    """A (channels, n) float32 signal: a tone per channel (different pitch per channel)."""
    t = np.arange(int(seconds * rate)) / rate
    rows = [level * np.sin(2 * np.pi * (freq * (1 + 0.5 * c)) * t) for c in range(channels)]
    return np.asarray(rows, dtype=np.float32)


def day_of_recordings(root: Path, audio_dir: Path) -> Path:
    """A folder as a batch finds it: two real clips, a copy of one in a subfolder (same content),
    a corrupt WAV and a file that is not audio."""
    (root / "dealer-2").mkdir(parents=True)
    shutil.copy(audio_dir / "jfk.flac", root / "a-jfk.flac")
    shutil.copy(audio_dir / "zh_funasr_asr_example.wav", root / "b-zh.wav")
    shutil.copy(audio_dir / "jfk.flac", root / "dealer-2" / "c-jfk-copy.flac")  # same content
    (root / "d-broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt not really")
    (root / "notes.txt").write_text("not a recording")
    return root


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


TICK = 0.1  # seconds, as callintel.speakers.diarize.TICK


def energy_truth(agent: np.ndarray, caller: np.ndarray) -> np.ndarray:
    """Per 0.1 s tick of two 16 kHz tracks: 0 agent, 1 caller, -1 neither or both (within 6 dB)."""
    hop = int(TICK * 16000)
    n = min(len(agent), len(caller)) // hop
    rms = [np.sqrt(np.mean(x[: n * hop].reshape(n, hop) ** 2, axis=1)) + 1e-9 for x in (agent, caller)]
    loud = np.maximum(*rms) > 10 ** (-40 / 20)
    truth = np.where(rms[0] > 2 * rms[1], 0, np.where(rms[1] > 2 * rms[0], 1, -1))
    return np.where(loud, truth, -1)


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Share of items labelled alike, under the best one-to-one relabelling."""
    from scipy.optimize import linear_sum_assignment

    k = int(max(a.max(), b.max())) + 1
    counts = np.zeros((k, k))
    np.add.at(counts, (a, b), 1)
    rows, cols = linear_sum_assignment(-counts)
    return float(counts[rows, cols].sum() / len(a))


def read_rttm(path: Path):
    """Speaker turns of an RTTM file as a pyannote Annotation."""
    from pyannote.core import Annotation, Segment

    annotation = Annotation()
    for line in path.read_text().splitlines():
        fields = line.split()
        start, length = float(fields[3]), float(fields[4])
        annotation[Segment(start, start + length)] = fields[7]
    return annotation


def diarization_error_rate(reference, segments, collar: float = 0.0) -> float:
    """DER (pyannote.metrics, overlap scored) of callintel speaker segments."""
    from pyannote.core import Annotation, Segment
    from pyannote.metrics.diarization import DiarizationErrorRate

    hypothesis = Annotation()
    for seg in segments:
        hypothesis[Segment(seg.start, seg.end)] = seg.speaker
    return float(DiarizationErrorRate(collar=collar, skip_overlap=False)(reference, hypothesis))


def word_role_accuracy(result, truth: np.ndarray) -> tuple[int, int]:
    """(right, judged): words wholly inside one party's energy-truth speech whose role matches
    (party 0 is the agent, so ``sales``)."""
    right = judged = 0
    for turn in result.turns:
        for word in turn.words:
            first = int(word.start / TICK)
            ticks = truth[first : max(first + 1, int(word.end / TICK))]
            ticks = ticks[ticks >= 0]
            if len(ticks) == 0 or not np.all(ticks == ticks[0]):
                continue
            judged += 1
            right += (turn.role == "sales") == (ticks[0] == 0)
    return right, judged
