"""Who spoke when in a mono recording: speaker embeddings, clustering, word attribution.

Embeddings come from Resemblyzer's GE2E voice encoder (its weights ship in the PyPI
package, so it works offline), computed on 1.6 s windows sliding over the speech found by
Silero VAD (faster-whisper's copy). Windows are clustered into speakers; every 0.1 s tick
of the recording then gets each speaker's score from the windows that cover it, and a
word goes to the speaker with the most score over its span.

The mel spectrogram (librosa's, as Resemblyzer computes it) and the spectral clustering
(scikit-learn's) are computed here with numpy and SciPy, bit for bit the same: importing librosa
and scikit-learn cost a one-call process about 3 s and 250 MiB (issue 16).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from callintel.audio.decode import SAMPLE_RATE
from callintel.options import SpeakerOptions
from callintel.registry import ModelRegistry, ResolvedModel
from callintel.transcript import ModelInfo

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

TICK = 0.1  # seconds: the time resolution of speaker labels
_FRAMES_PER_WINDOW = 160  # Resemblyzer's partial utterance: 160 mel frames of 10 ms
_HOP = SAMPLE_RATE // 100
_WINDOW_STEP_FRAMES = 25  # 0.25 s between window starts
_MIN_SPEECH_IN_WINDOW = 0.5
_TARGET_DBFS = -30.0


@dataclass(frozen=True)
class SpeakerSegment:
    start: float
    end: float
    speaker: str


@dataclass(frozen=True, eq=False)
class Diarization:
    """Speaker segments over the speech, and per-tick speaker scores for attribution."""

    segments: tuple[SpeakerSegment, ...]
    speakers: tuple[str, ...]
    scores: np.ndarray  # (ticks, speakers)

    def speaker_of(self, start: float, end: float) -> str:
        """The speaker with the most score between ``start`` and ``end`` seconds."""
        if not self.speakers:
            raise ValueError("no speakers were found")
        first = min(int(start / TICK), len(self.scores) - 1)
        last = max(first + 1, int(np.ceil(end / TICK)))
        return self.speakers[int(np.argmax(self.scores[first:last].sum(axis=0)))]


def speech_regions(
    samples: np.ndarray, min_silence_ms: int = 500, max_speech_s: float = float("inf")
) -> list[tuple[float, float]]:
    """Speech spans (seconds) found by Silero VAD; a span longer than ``max_speech_s`` is split
    at its quietest point (Silero's own rule)."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    vad = VadOptions(min_silence_duration_ms=min_silence_ms, max_speech_duration_s=max_speech_s)
    stamps = get_speech_timestamps(samples, vad)
    return [(s["start"] / SAMPLE_RATE, s["end"] / SAMPLE_RATE) for s in stamps]


class Diarizer:
    """Finds speakers in mono audio with a speaker-embedding model."""

    def __init__(self, encoder: torch.nn.Module, info: ModelInfo, batch_size: int = 64) -> None:
        self.encoder = encoder
        self.info = info
        self.batch_size = batch_size

    @classmethod
    def load(cls, resolved: ResolvedModel, device: str = "auto") -> Diarizer:
        import torch
        from resemblyzer import VoiceEncoder

        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        encoder = VoiceEncoder(device=device, verbose=False, weights_fpath=resolved.path)
        encoder.eval()
        info = ModelInfo(
            resolved.name, "speaker-embedding", resolved.engine, f"{resolved.version} [{device}]"
        )
        return cls(encoder, info)

    @classmethod
    def from_registry(
        cls, registry: ModelRegistry, name: str | None = None, device: str = "auto"
    ) -> Diarizer:
        name = name or registry.default_name("speaker-embedding")
        return cls.load(registry.resolve(name, "speaker-embedding"), device)

    def diarize(
        self,
        samples: np.ndarray,
        speech: Sequence[tuple[float, float]],
        options: SpeakerOptions = SpeakerOptions(),
    ) -> Diarization:
        """Split mono 16 kHz audio into speakers S1, S2, … in order of first appearance."""
        duration = len(samples) / SAMPLE_RATE
        n_ticks = max(1, int(np.ceil(duration / TICK)))
        speech_mask = _mask(speech, n_ticks)
        if not speech_mask.any():
            return Diarization((), (), np.zeros((n_ticks, 0), np.float32))
        starts = _window_starts(speech_mask, n_ticks)
        embeddings = self._embed(samples, speech_mask, starts)
        labels = cluster(embeddings, options.num_speakers, options.max_speakers)
        k = int(labels.max()) + 1
        centroids = np.stack([embeddings[labels == c].mean(axis=0) for c in range(k)])
        centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
        similarity = embeddings @ centroids.T
        scores = _tick_scores(similarity, starts, n_ticks)
        # Name speakers in order of first appearance in the speech.
        tick_labels = np.argmax(scores, axis=1)
        order: list[int] = []
        for label in tick_labels[speech_mask]:
            if label not in order:
                order.append(int(label))
        order += [c for c in range(k) if c not in order]
        scores = scores[:, order]
        speakers = tuple(f"S{i + 1}" for i in range(k))
        tick_labels = np.argmax(scores, axis=1)
        return Diarization(_segments(tick_labels, speech_mask, speakers), speakers, scores)

    def _embed(self, samples: np.ndarray, speech_mask: np.ndarray, starts: np.ndarray) -> np.ndarray:
        import torch

        speech = samples[np.repeat(speech_mask, int(TICK * SAMPLE_RATE))[: len(samples)]]
        rms = float(np.sqrt(np.mean(speech**2))) if speech.size else 0.0
        gain = 10 ** (_TARGET_DBFS / 20) / rms if rms > 0 else 1.0
        mel = mel_spectrogram((samples * gain).astype(np.float32))
        needed = int(starts.max()) + _FRAMES_PER_WINDOW if starts.size else 0
        if mel.shape[0] < needed:
            mel = np.pad(mel, ((0, needed - mel.shape[0]), (0, 0)))
        windows = np.stack([mel[s : s + _FRAMES_PER_WINDOW] for s in starts])
        device = next(self.encoder.parameters()).device
        out = []
        with torch.inference_mode():
            for i in range(0, len(windows), self.batch_size):
                batch = torch.from_numpy(windows[i : i + self.batch_size]).to(device)
                out.append(self.encoder(batch).float().cpu().numpy())
        return np.concatenate(out)


_N_FFT = 400  # Resemblyzer's 25 ms window
_N_MELS = 40
_STFT_BLOCK = 4096  # frames transformed at a time (librosa does it in blocks too)


def mel_spectrogram(wav: np.ndarray) -> np.ndarray:
    """Resemblyzer's ``wav_to_mel_spectrogram``, shape (frames, 40), computed as librosa's
    ``melspectrogram`` computes it, operation for operation, with numpy alone.

    Resemblyzer calls librosa, whose first use imports numba and scipy.signal: about 2.5 s and
    170 MiB for one call's speaker stage. The result is bit-identical (tests/speakers): the power
    spectrogram is column-major like librosa's, as einsum sums a row-major one in another order.
    """
    y = np.pad(wav, _N_FFT // 2)  # centred frames, zero padding (librosa's default)
    frames = np.lib.stride_tricks.sliding_window_view(y, _N_FFT)[::_HOP].T  # (n_fft, n_frames)
    power = np.empty((_N_FFT // 2 + 1, frames.shape[1]), dtype=np.float32, order="F")
    window = _hann()[:, None]
    for start in range(0, frames.shape[1], _STFT_BLOCK):
        block = np.fft.rfft(window * frames[:, start : start + _STFT_BLOCK], axis=0)
        power[:, start : start + _STFT_BLOCK] = np.abs(block.astype(np.complex64)) ** 2.0
    mel: np.ndarray = np.einsum("...ft,mf->...mt", power, _mel_basis(), optimize=True)
    return mel.astype(np.float32).T


def _hann() -> np.ndarray:
    """The periodic Hann window, as ``scipy.signal.get_window("hann", n_fft)`` computes it."""
    fac = np.linspace(-np.pi, np.pi, _N_FFT + 1)
    window = np.zeros(_N_FFT + 1)
    for k, a in enumerate((0.5, 0.5)):
        window += a * np.cos(k * fac)
    return window[:-1]


def _mel_basis() -> np.ndarray:
    """librosa's ``filters.mel(sr=16000, n_fft=400, n_mels=40)``: Slaney's mel scale and area
    normalisation."""
    f_sp, min_log_hz, logstep = 200.0 / 3, 1000.0, np.log(6.4) / 27.0  # linear below 1 kHz, then log
    min_log_mel = min_log_hz / f_sp
    top = min_log_mel + np.log(SAMPLE_RATE / 2 / min_log_hz) / logstep  # 8 kHz in mels
    mels = np.linspace(0.0, top, _N_MELS + 2)
    mel_f = f_sp * mels  # back to Hz: the band edges
    log_t = mels >= min_log_mel
    mel_f[log_t] = min_log_hz * np.exp(logstep * (mels[log_t] - min_log_mel))
    fftfreqs = np.fft.rfftfreq(n=_N_FFT, d=1.0 / SAMPLE_RATE)
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    weights = np.zeros((_N_MELS, _N_FFT // 2 + 1), dtype=np.float32)
    for i in range(_N_MELS):
        weights[i] = np.maximum(0, np.minimum(-ramps[i] / fdiff[i], ramps[i + 2] / fdiff[i + 1]))
    weights *= (2.0 / (mel_f[2 : _N_MELS + 2] - mel_f[:_N_MELS]))[:, np.newaxis]
    return weights


def _mask(spans: Sequence[tuple[float, float]], n_ticks: int) -> np.ndarray:
    mask = np.zeros(n_ticks, dtype=bool)
    for start, end in spans:
        mask[int(start / TICK) : max(int(start / TICK) + 1, int(np.ceil(end / TICK)))] = True
    return mask


def _window_starts(speech_mask: np.ndarray, n_ticks: int) -> np.ndarray:
    """Mel-frame starts of windows that are mostly speech (at least one per speech run)."""
    frames_per_tick = int(TICK * 100)
    ticks_per_window = _FRAMES_PER_WINDOW // frames_per_tick
    coverage = np.convolve(speech_mask.astype(float), np.ones(ticks_per_window), "full")[
        ticks_per_window - 1 :
    ]
    coverage = coverage / ticks_per_window  # coverage[t]: speech share of the window starting at tick t
    candidates = np.arange(0, n_ticks * frames_per_tick, _WINDOW_STEP_FRAMES)
    chosen: list[int] = [
        int(s)
        for s in candidates
        if coverage[min(int(s) // frames_per_tick, n_ticks - 1)] >= _MIN_SPEECH_IN_WINDOW
    ]
    # Short utterances never fill half a window: give each speech run one centred window.
    runs = _runs(speech_mask)
    for first, last in runs:
        centre = (first + last) / 2 * frames_per_tick
        start = max(0, int(centre - _FRAMES_PER_WINDOW / 2))
        if not any(abs(s - start) < _FRAMES_PER_WINDOW // 2 for s in chosen):
            chosen.append(start)
    return np.array(sorted(set(chosen)), dtype=int)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(first, last+1) of each run of True."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def cluster(embeddings: np.ndarray, num_speakers: int | None, max_speakers: int) -> np.ndarray:
    """Cluster L2-normalised embeddings; estimate the count by eigengap when not given."""
    n = len(embeddings)
    if n == 1 or num_speakers == 1:
        return np.zeros(n, dtype=int)
    affinity = _affinity(embeddings)
    k = num_speakers or estimate_speakers(affinity, max_speakers)
    k = min(k, n)
    if k == 1:
        return np.zeros(n, dtype=int)
    return _refine(embeddings, spectral_clustering(affinity, k), k)


def spectral_clustering(affinity: np.ndarray, k: int) -> np.ndarray:
    """Labels of ``k`` clusters of a symmetric affinity matrix: the spectral embedding of its
    normalised Laplacian (ARPACK), assigned by QR with column pivoting (Damle et al., 2019).

    scikit-learn's ``SpectralClustering(affinity="precomputed", assign_labels="cluster_qr",
    random_state=0).fit_predict``, the same SciPy calls on the same arrays (tests/speakers
    compares them), without importing scikit-learn: about 1 s and 85 MiB for one call.
    """
    from scipy.linalg import eigh, qr, svd
    from scipy.sparse.csgraph import laplacian
    from scipy.sparse.linalg import eigsh

    adjacency = np.asarray(affinity, dtype=np.float64)
    normalised, dd = laplacian(adjacency, normed=True, return_diag=True)
    normalised.flat[:: len(normalised) + 1] = 1.0
    v0 = np.random.RandomState(0).uniform(-1, 1, len(normalised))
    try:
        # Shift-invert about a small negative sigma: the eigenvalues nearest 0 (scikit-learn's).
        _, vectors = eigsh(normalised, k=k, sigma=-1e-5, which="LM", tol=0, v0=v0)
    except RuntimeError:  # ARPACK did not converge: all eigenvectors, densely
        vectors = eigh(normalised, check_finite=False)[1][:, :k]
    embedding = vectors.T[:k] / dd  # u = D^-1/2 x
    # Deterministic signs: each vector's largest entry positive.
    embedding *= np.sign(embedding[range(k), np.argmax(np.abs(embedding), axis=1)])[:, np.newaxis]
    maps = embedding.T
    _, _, pivots = qr(maps.T, pivoting=True)
    ut, _, v = svd(maps[pivots[:k], :].T)
    return np.abs(np.dot(maps, np.dot(ut, v.conj()))).argmax(axis=1)


def _refine(embeddings: np.ndarray, labels: np.ndarray, k: int, steps: int = 10) -> np.ndarray:
    """A few spherical k-means steps from the spectral labels.

    Spectral clustering on a pruned graph pulls the edge of a small cluster (a customer who
    says little) into the large one; moving each window to its nearest centroid fixes that.
    """
    for _ in range(steps):
        if len(np.unique(labels)) < k:
            break
        centroids = np.stack([embeddings[labels == c].mean(axis=0) for c in range(k)])
        centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
        updated = np.argmax(embeddings @ centroids.T, axis=1)
        if np.array_equal(updated, labels):
            break
        labels = updated
    return labels


def _affinity(embeddings: np.ndarray, keep: float = 0.2) -> np.ndarray:
    """Cosine affinity, each row pruned to its strongest neighbours and symmetrised."""
    similarity = np.clip(embeddings @ embeddings.T, 0.0, 1.0)
    n = len(similarity)
    neighbours = max(2, int(np.ceil(keep * n)))
    threshold = -np.sort(-similarity, axis=1)[:, neighbours - 1 : neighbours]
    pruned = np.where(similarity >= threshold, similarity, 0.0)
    return np.maximum(pruned, pruned.T)


def estimate_speakers(affinity: np.ndarray, max_speakers: int) -> int:
    """Number of speakers from the largest eigengap of the normalised Laplacian."""
    degree = affinity.sum(axis=1)
    inv_sqrt = 1.0 / np.sqrt(np.maximum(degree, 1e-12))
    laplacian = np.eye(len(affinity)) - inv_sqrt[:, None] * affinity * inv_sqrt[None, :]
    eigenvalues = np.sort(np.linalg.eigvalsh(laplacian))[: max_speakers + 1]
    gaps = np.diff(eigenvalues)
    return int(np.argmax(gaps[:max_speakers]) + 1)


def _tick_scores(similarity: np.ndarray, starts: np.ndarray, n_ticks: int) -> np.ndarray:
    """Each tick's speaker scores: covering windows' similarities, weighted to the centre."""
    k = similarity.shape[1]
    total = np.zeros((n_ticks, k), dtype=np.float64)
    weight = np.zeros(n_ticks, dtype=np.float64)
    frames_per_tick = int(TICK * 100)
    span = _FRAMES_PER_WINDOW // frames_per_tick
    shape = np.bartlett(span + 2)[1:-1]  # triangular, peak at the window's centre
    for row, start in zip(similarity, starts, strict=True):
        first = start // frames_per_tick
        last = min(first + span, n_ticks)
        if first >= n_ticks:
            continue
        w = shape[: last - first]
        total[first:last] += w[:, None] * row[None, :]
        weight[first:last] += w
    # Ticks no window covers (far from speech) take the nearest covered tick's scores.
    covered = weight > 0
    scores = np.zeros_like(total)
    scores[covered] = total[covered] / weight[covered, None]
    if not covered.all():
        idx = np.flatnonzero(covered)
        nearest = idx[np.clip(np.searchsorted(idx, np.arange(n_ticks)), 0, len(idx) - 1)]
        scores[~covered] = scores[nearest[~covered]]
    return scores.astype(np.float32)


def _segments(
    tick_labels: np.ndarray, speech_mask: np.ndarray, speakers: tuple[str, ...]
) -> tuple[SpeakerSegment, ...]:
    segments: list[SpeakerSegment] = []
    for first, last in _runs(speech_mask):
        start = first
        for t in range(first + 1, last + 1):
            if t == last or tick_labels[t] != tick_labels[start]:
                segments.append(
                    SpeakerSegment(round(start * TICK, 2), round(t * TICK, 2), speakers[tick_labels[start]])
                )
                start = t
    return tuple(segments)
