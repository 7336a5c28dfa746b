"""Speech to timed words with faster-whisper, cleaned of Whisper's known failure modes."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
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
    from faster_whisper.transcribe import Segment as FasterWhisperSegment

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

UNTIMED_LANGUAGES = frozenset({"en"})
"""Languages whose batched windows are decoded without timestamp tokens (faster-whisper's batched
default). With them, Mandarin windows start better (国中市 for 广州市: pooled CER 0.145 -> 0.097 in
``bench/eval_quality.py --asr``); English loses nothing without them (WER 0.034 without, 0.040
with) and decodes about a quarter faster. Languages not measured keep the timestamp tokens, as
sequential decoding does."""


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

    def detect_language(
        self, samples: np.ndarray, speech: Sequence[tuple[float, float]] | None = None
    ) -> tuple[str, float]:
        """The spoken language of the audio's first speech, and its probability.

        ``speech``: the speech regions (seconds) found ahead; their first 30 s are used as they
        are. None: VAD runs here.
        """
        if speech is None:
            language, probability, _ = self.model.detect_language(samples, vad_filter=True)
            return language, float(probability)
        pieces, total = [], 0
        for start, end in speech:
            piece = samples[int(start * 16000) : int(end * 16000)]
            pieces.append(piece[: int(WINDOW_SECONDS * 16000) - total])
            total += len(pieces[-1])
            if total >= WINDOW_SECONDS * 16000:
                break
        if not total:  # no speech: what faster-whisper does with silence
            pieces = [samples[: int(WINDOW_SECONDS * 16000)]]
        language, probability, _ = self.model.detect_language(np.concatenate(pieces), vad_filter=False)
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
        if options.batch_size > 0 and speech is not None:
            return self.transcribe_channels([(channel, samples)], [speech], options, progress=progress)[0]
        if options.batch_size > 0:
            # The batched pipeline cuts its own windows where VAD finds speech.
            probability = 1.0
            if options.language is None:  # known first: it decides the timestamp tokens
                language, probability = self.detect_language(samples)
                options = replace(options, language=language)
            segments, info = self.batched.transcribe(
                samples,
                vad_filter=True,
                vad_parameters={"min_silence_duration_ms": options.min_silence_ms},
                **self._batched_options(options),
            )
        else:
            # VAD with faster-whisper's own parameters, as plain faster-whisper: cutting at
            # shorter pauses splices more speech together and loses words at the joins.
            segments, info = self.model.transcribe(
                samples,
                language=options.language,
                beam_size=options.beam_size,
                vad_filter=options.vad_filter,
                word_timestamps=True,
                hotwords=options.hotwords,
                initial_prompt=options.initial_prompt,
                condition_on_previous_text=options.condition_on_previous_text,
            )
            probability = float(info.language_probability)
        cleaner = _Cleaner(options, info.language, channel)
        for raw in segments:
            progress(float(raw.end))
            cleaner.add(raw)
        progress(len(samples) / 16000)
        return cleaner.transcript(probability if options.batch_size > 0 else float(info.language_probability))

    def transcribe_channels(
        self,
        channels: Sequence[tuple[int | None, np.ndarray]],
        speech: Sequence[Sequence[tuple[float, float]]],
        options: TranscriptionOptions,
        *,
        progress: ProgressHook = _no_progress,
    ) -> list[Transcript]:
        """Transcribe the channels of one call in the same batches (``options.batch_size`` > 0).

        Each channel's ``speech`` regions are cut into windows; the channels are laid one after
        another on one timeline so that a batch takes windows of both parties of a stereo call
        (fewer, fuller batches), and each window's text goes back to its channel and time.
        ``progress`` gets the time done on that joined timeline.
        """
        if options.batch_size < 1:
            raise ValueError("transcribe_channels decodes in batches: batch_size must be at least 1")
        lengths = [len(samples) / 16000 for _, samples in channels]
        offsets = [sum(lengths[:i]) for i in range(len(channels))]
        windows = [
            (start + offset, end + offset)
            for offset, regions in zip(offsets, speech, strict=True)
            for start, end in speech_windows(regions)
        ]
        if not windows:  # VAD found no speech
            return [_Cleaner(options, options.language or "", c).transcript(0.0) for c, _ in channels]
        probability = 1.0
        if options.language is None:  # known first: it decides the timestamp tokens
            first = next(i for i, regions in enumerate(speech) if regions)
            language, probability = self.detect_language(channels[first][1], speech[first])
            options = replace(options, language=language)
        cleaners = [_Cleaner(options, options.language or "", channel) for channel, _ in channels]
        segments, info = self.batched.transcribe(
            np.concatenate([samples for _, samples in channels]) if len(channels) > 1 else channels[0][1],
            vad_filter=False,
            clip_timestamps=[{"start": s, "end": e} for s, e in windows],
            **self._batched_options(options),
        )
        for raw in segments:
            progress(float(raw.end))
            middle = (raw.start + raw.end) / 2  # a segment lies inside one window, so one channel
            index = max(i for i, offset in enumerate(offsets) if offset <= middle)
            cleaners[index].add(raw, offsets[index])
        progress(sum(lengths))
        return [c.transcript(probability) for c in cleaners]

    @staticmethod
    def _batched_options(options: TranscriptionOptions) -> dict[str, object]:
        return {
            "language": options.language,
            "beam_size": options.beam_size,
            "word_timestamps": True,
            "hotwords": options.hotwords,
            "initial_prompt": options.initial_prompt,
            # Each window is decoded without the text before it: windows of a batch run together.
            "condition_on_previous_text": False,
            "without_timestamps": options.language in UNTIMED_LANGUAGES,
            "batch_size": options.batch_size,
        }


class _Cleaner:
    """Whisper's segments of one channel, made into words (Simplified Chinese where asked) and
    cleaned of hallucinations, keeping what was removed."""

    def __init__(self, options: TranscriptionOptions, language: str, channel: int | None) -> None:
        self.options = options
        self.language = language
        self.channel = channel
        self.kept: list[Segment] = []
        self.removed: list[RemovedText] = []
        self._previous_key = ""
        self._copies = 0

    def add(self, raw: FasterWhisperSegment, offset: float = 0.0) -> None:
        """One segment of faster-whisper's, its times ``offset`` seconds late."""
        options = self.options
        chinese = self.language in ("zh", "yue") and options.simplified_chinese
        words = tuple(
            Word(
                word=to_simplified(w.word) if chinese else w.word,
                start=round(float(w.start) - offset, 3),
                end=round(float(w.end) - offset, 3),
                probability=round(float(w.probability), 4),
            )
            for w in (raw.words or ())
        )
        if not words and raw.text.strip():
            text = to_simplified(raw.text) if chinese else raw.text
            start, end = round(float(raw.start) - offset, 3), round(float(raw.end) - offset, 3)
            words = (Word(text, start, end, float(np.exp(raw.avg_logprob))),)
        if options.filter_hallucinations:
            words, dropped = _filter(words, self.channel, options.hotwords)
            self.removed.extend(dropped)
            key = "".join(w.word for w in words).strip()
            self._copies = self._copies + 1 if key and key == self._previous_key else 1
            # A line said twice is speech ("Okay." "Okay."); a third copy is Whisper looping.
            if len(key) >= 4 and self._copies > 2:
                self.removed.append(_removed(words, self.channel, "repeated line"))
                return
            self._previous_key = key or self._previous_key
        text = "".join(w.word for w in words).strip()
        if text:
            self.kept.append(Segment(words[0].start, words[-1].end, text, words))

    def transcript(self, language_probability: float) -> Transcript:
        return Transcript(self.language, language_probability, tuple(self.kept), tuple(self.removed))


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
