"""Who spoke when in a mono recording: speaker embeddings, clustering, word attribution.

Embeddings come from Resemblyzer's GE2E voice encoder (its weights ship in the PyPI
package, so it works offline), computed on 1.6 s windows sliding over the speech found by
Silero VAD (faster-whisper's copy). Windows are clustered into speakers; every 0.1 s tick
of the recording then gets each speaker's score from the windows that cover it, and a
word goes to the speaker with the most score over its span.

The mel spectrogram comes from transformers' audio utilities (not librosa's, whose first call
compiles with numba) and the spectral clustering is scikit-learn's algorithm on SciPy's solvers
(tests compare the labels with scikit-learn's): importing scikit-learn cost a one-call process
about 150 MiB (issue 16).
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


def mel_spectrogram(samples: np.ndarray) -> np.ndarray:
    """Resemblyzer's input features, (frames, 40): the mel power spectrogram its
    ``wav_to_mel_spectrogram`` computes with librosa (25 ms Hann windows every 10 ms, Slaney mel
    scale), computed with transformers' numpy audio utilities instead. They agree with librosa to
    1e-5 (tests/speakers) and need neither numba nor its JIT compile, which librosa's first call
    costs a one-call process (seconds and about 170 MiB)."""
    from transformers.audio_utils import mel_filter_bank, spectrogram, window_function

    n_fft = int(SAMPLE_RATE * 0.025)
    filters = mel_filter_bank(
        num_frequency_bins=n_fft // 2 + 1,
        num_mel_filters=40,
        min_frequency=0.0,
        max_frequency=SAMPLE_RATE / 2,
        sampling_rate=SAMPLE_RATE,
        norm="slaney",
        mel_scale="slaney",
    )
    mel = spectrogram(
        samples,
        window_function(n_fft, "hann"),
        frame_length=n_fft,
        hop_length=SAMPLE_RATE // 100,
        power=2.0,
        center=True,
        pad_mode="constant",
        mel_filters=filters,
        mel_floor=0.0,
    )
    return np.asarray(mel.T, dtype=np.float32)


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
