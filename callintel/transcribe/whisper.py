"""Speech to timed words with faster-whisper, cleaned of Whisper's known failure modes."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from callintel.options import TranscriptionOptions
from callintel.registry import ModelRegistry, ResolvedModel
from callintel.text import to_simplified
from callintel.transcribe.hallucination import (
    FilterResult,
    collapse_repeats,
    remove_credits,
    remove_prompt_echo,
)
from callintel.transcript import ModelInfo, RemovedText, Word

if TYPE_CHECKING:
    from faster_whisper import BatchedInferencePipeline, WhisperModel

logger = logging.getLogger(__name__)

ProgressHook = Callable[[float], None]
"""Called with the audio time (seconds) transcribed so far."""


def _no_progress(_: float) -> None:
    return None


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str
    words: tuple[Word, ...]


@dataclass(frozen=True)
class Transcript:
    language: str
    language_probability: float
    segments: tuple[Segment, ...]
    removed: tuple[RemovedText, ...]


WINDOW_SECONDS = 30.0  # Whisper's input window


def speech_windows(
    regions: Sequence[tuple[float, float]], length: float = WINDOW_SECONDS
) -> list[tuple[float, float]]:
    """Consecutive speech regions (each at most ``length`` long) merged into windows of at most
    ``length`` seconds, for the batched pipeline: each window is decoded in place, so the
    silence inside one is kept and the silence between two is skipped."""
    windows: list[tuple[float, float]] = []
    for start, end in regions:
        if windows and end - windows[-1][0] <= length:
            windows[-1] = (windows[-1][0], end)
        else:
            windows.append((start, min(end, start + length)))
    return windows


def pick_device(device: str, cuda_devices: int) -> str:
    """Resolve 'auto' to 'cuda' when a CUDA device is present, else 'cpu'."""
    if device == "auto":
        return "cuda" if cuda_devices > 0 else "cpu"
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', not {device!r}")
    return device


def pick_compute_type(compute_type: str, device: str) -> str:
    """Resolve 'auto' to int8 on CPU and float16 on CUDA."""
    if compute_type != "auto":
        return compute_type
    return "float16" if device == "cuda" else "int8"


class Transcriber:
    """Transcribes one channel of 16 kHz audio into timed words."""

    def __init__(self, model: WhisperModel, info: ModelInfo) -> None:
        self.model = model
        self.info = info
        self._batched: BatchedInferencePipeline | None = None

    @property
    def batched(self) -> BatchedInferencePipeline:
        """faster-whisper's batched pipeline on the same model (made on first use)."""
        if self._batched is None:
            from faster_whisper import BatchedInferencePipeline

            self._batched = BatchedInferencePipeline(self.model)
        return self._batched

    @classmethod
    def load(
        cls,
        resolved: ResolvedModel,
        device: str = "auto",
        compute_type: str = "auto",
        cpu_threads: int = 0,
    ) -> Transcriber:
        import ctranslate2
        from faster_whisper import WhisperModel

        device = pick_device(device, ctranslate2.get_cuda_device_count())
        compute_type = pick_compute_type(compute_type, device)
        model = WhisperModel(
            str(resolved.path), device=device, compute_type=compute_type, cpu_threads=cpu_threads
        )
        info = ModelInfo(
            name=resolved.name,
            kind="asr",
            engine="faster-whisper",
            version=f"{resolved.version} [{device} {compute_type}]",
        )
        return cls(model, info)

    @classmethod
    def from_registry(cls, registry: ModelRegistry, name: str | None = None, **kwargs: object) -> Transcriber:
        resolved = registry.resolve(name or registry.default_name("asr"), "asr")
        return cls.load(resolved, **kwargs)  # type: ignore[arg-type]

    def detect_language(self, samples: np.ndarray) -> tuple[str, float]:
        """The spoken language of the audio's first speech, and its probability."""
        language, probability, _ = self.model.detect_language(samples, vad_filter=True)
        return language, float(probability)

    def transcribe(
        self,
        samples: np.ndarray,
        options: TranscriptionOptions = TranscriptionOptions(),
        *,
        channel: int | None = None,
        progress: ProgressHook = _no_progress,
        speech: Sequence[tuple[float, float]] | None = None,
    ) -> Transcript:
        """Transcribe one channel. Word timestamps are always on: speakers need them.

        ``speech``: with ``options.batch_size``, the channel's speech regions found ahead (e.g.
        by a batch's CPU workers, see ``pipeline.prepare``); None: VAD runs here.
        """
        if options.batch_size > 0 and speech is not None and not speech:
            return Transcript(options.language or "", 0.0, (), ())  # VAD found no speech
        if options.batch_size > 0:
            windows = None if speech is None else speech_windows(speech)
            segments, info = self.batched.transcribe(
                samples,
                language=options.language,
                beam_size=options.beam_size,
                # The batched pipeline decodes the windows given, or cuts its own where VAD
                # finds speech.
                vad_filter=windows is None,
                vad_parameters={"min_silence_duration_ms": options.min_silence_ms},
                clip_timestamps=None if windows is None else [{"start": s, "end": e} for s, e in windows],
                word_timestamps=True,
                hotwords=options.hotwords,
                initial_prompt=options.initial_prompt,
                condition_on_previous_text=False,
                batch_size=options.batch_size,
            )
        else:
            segments, info = self.model.transcribe(
                samples,
                language=options.language,
                beam_size=options.beam_size,
                vad_filter=options.vad_filter,
                vad_parameters={"min_silence_duration_ms": options.min_silence_ms},
                word_timestamps=True,
                hotwords=options.hotwords,
                initial_prompt=options.initial_prompt,
                condition_on_previous_text=options.condition_on_previous_text,
            )
        chinese = info.language in ("zh", "yue") and options.simplified_chinese
        kept: list[Segment] = []
        removed: list[RemovedText] = []
        previous_key = ""
        for raw in segments:
            progress(float(raw.end))
            words = tuple(
                Word(
                    word=to_simplified(w.word) if chinese else w.word,
                    start=round(float(w.start), 3),
                    end=round(float(w.end), 3),
                    probability=round(float(w.probability), 4),
                )
                for w in (raw.words or ())
            )
            if not words and raw.text.strip():
                text = to_simplified(raw.text) if chinese else raw.text
                words = (Word(text, float(raw.start), float(raw.end), float(np.exp(raw.avg_logprob))),)
            if options.filter_hallucinations:
                words, dropped = _filter(words, channel, options.hotwords)
                removed.extend(dropped)
                key = "".join(w.word for w in words).strip()
                if key and key == previous_key and len(key) >= 4:
                    removed.append(_removed(words, channel, "repeated line"))
                    continue
                previous_key = key or previous_key
            text = "".join(w.word for w in words).strip()
            if not text:
                continue
            kept.append(Segment(words[0].start, words[-1].end, text, words))
        progress(len(samples) / 16000)
        return Transcript(info.language, float(info.language_probability), tuple(kept), tuple(removed))


def _filter(
    words: tuple[Word, ...], channel: int | None, hotwords: str | None
) -> tuple[tuple[Word, ...], list[RemovedText]]:
    removed: list[RemovedText] = []
    steps: tuple[Callable[[tuple[Word, ...]], FilterResult], ...] = (
        collapse_repeats,
        remove_credits,
        lambda ws: remove_prompt_echo(ws, hotwords),
    )
    for step in steps:
        result = step(words)
        words = result.words
        removed.extend(
            _removed(run, channel, reason) for run, reason in zip(result.removed, result.reasons, strict=True)
        )
    return words, removed


def _removed(words: tuple[Word, ...], channel: int | None, reason: str) -> RemovedText:
    return RemovedText(
        channel=channel,
        start=words[0].start if words else 0.0,
        end=words[-1].end if words else 0.0,
        text="".join(w.word for w in words).strip(),
        reason=reason,
    )
