"""Speech to timed words with faster-whisper, cleaned of Whisper's known failure modes."""

from __future__ import annotations

import bisect
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
SAMPLE_RATE = 16000

UNTIMED_LANGUAGES = frozenset({"en"})
"""Languages whose batched windows are decoded without timestamp tokens (faster-whisper's batched
default). With them, Mandarin windows start better (国中市 for 广州市: pooled CER 0.145 -> 0.097 in
``bench/eval_quality.py --asr``); English loses nothing without them (WER 0.034 without, 0.040
with) and decodes about a quarter faster. Languages not measured keep the timestamp tokens, as
sequential decoding does."""


MAX_KEPT_SILENCE = 2.0
"""Seconds of a pause between two speech regions kept when they are packed into one window: a
longer pause (on a stereo channel, mostly the other party talking) is cut to this, so that a
window holds more speech and a call needs fewer windows (the demo call's two channels: 10
windows instead of 13). Shorter pauses stay whole, as in plain faster-whisper, whose VAD
splits only at 2 s of silence: Whisper base drops a whole Mandarin sentence after a 1.4 s pause
cut to 1 s (bench/eval_quality.py --asr, "Mandarin clips joined")."""


def speech_windows(
    regions: Sequence[tuple[float, float]],
    length: float = WINDOW_SECONDS,
    max_silence: float = MAX_KEPT_SILENCE,
) -> list[list[tuple[float, float]]]:
    """Consecutive speech regions (each at most ``length`` long) packed into windows of at most
    ``length`` seconds for the batched pipeline, each window a list of the spans of audio it
    holds, played one after another: pauses up to ``max_silence`` are kept whole, a longer one
    is cut to its first and last ``max_silence / 2`` seconds (so Whisper still hears a pause)."""
    windows: list[list[tuple[float, float]]] = []
    filled = 0.0
    for start, end in regions:
        end = min(end, start + length)
        if windows:
            spans = windows[-1]
            pause = start - spans[-1][1]
            added = min(max(pause, 0.0), max_silence) + (end - start)
            if filled + added <= length:
                filled += added
                if pause <= max_silence:
                    spans[-1] = (spans[-1][0], end)
                else:
                    spans[-1] = (spans[-1][0], spans[-1][1] + max_silence / 2)
                    spans.append((start - max_silence / 2, end))
                continue
        windows.append([(start, end)])
        filled = end - start
    return windows


@dataclass(frozen=True)
class _Packed:
    """The speech of a call's channels laid end to end as one signal: the windows to decode on
    it, and where each piece of it came from."""

    samples: np.ndarray
    windows: list[tuple[float, float]]  # seconds on the packed signal
    starts: list[float]  # packed time at which each piece begins, ascending
    pieces: list[tuple[int, float]]  # (channel index, original time) at each piece's beginning

    @classmethod
    def lay_out(
        cls, channels: Sequence[np.ndarray], speech: Sequence[Sequence[tuple[float, float]]]
    ) -> _Packed:
        parts: list[np.ndarray] = []
        windows: list[tuple[float, float]] = []
        starts: list[float] = []
        pieces: list[tuple[int, float]] = []
        position = 0  # samples
        for index, (samples, regions) in enumerate(zip(channels, speech, strict=True)):
            for spans in speech_windows(regions):
                first = position
                for start, end in spans:
                    part = samples[max(0, round(start * SAMPLE_RATE)) : round(end * SAMPLE_RATE)]
                    if not len(part):
                        continue
                    starts.append(position / SAMPLE_RATE)
                    pieces.append((index, max(0, round(start * SAMPLE_RATE)) / SAMPLE_RATE))
                    parts.append(part)
                    position += len(part)
                if position > first:
                    windows.append((first / SAMPLE_RATE, position / SAMPLE_RATE))
        samples = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
        return cls(samples, windows, starts, pieces)

    def piece_at(self, time: float) -> int:
        return max(0, bisect.bisect_right(self.starts, time) - 1)

    def channel_at(self, time: float) -> int:
        return self.pieces[self.piece_at(time)][0]

    def mapper(self, piece: int) -> Callable[[float], float]:
        """Packed time to original time, for the words of a segment found in ``piece``'s window:
        each time goes through the piece it falls in, kept within the channel."""
        channel = self.pieces[piece][0]

        def original(time: float) -> float:
            i = self.piece_at(time)
            while self.pieces[i][0] != channel:  # a time just past the channel's last piece
                i -= 1 if self.pieces[i][0] > channel else -1
            return self.pieces[i][1] + (time - self.starts[i])

        return original


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

        Each channel's ``speech`` regions are packed into windows (``speech_windows``: long
        pauses cut short); the windows of all channels are laid one after another as one signal,
        so that a batch takes windows of both parties of a stereo call (fewer, fuller batches),
        and each window's words go back to their channel and original time. ``progress`` gets
        the time done, the channels counted one after another.
        """
        if options.batch_size < 1:
            raise ValueError("transcribe_channels decodes in batches: batch_size must be at least 1")
        packed = _Packed.lay_out([samples for _, samples in channels], speech)
        total = sum(len(samples) for _, samples in channels) / SAMPLE_RATE
        if not packed.windows:  # VAD found no speech
            return [_Cleaner(options, options.language or "", c).transcript(0.0) for c, _ in channels]
        probability = 1.0
        if options.language is None:  # known first: it decides the timestamp tokens
            first = next(i for i, regions in enumerate(speech) if regions)
            language, probability = self.detect_language(channels[first][1], speech[first])
            options = replace(options, language=language)
        cleaners = [_Cleaner(options, options.language or "", channel) for channel, _ in channels]
        segments, _ = self.batched.transcribe(
            packed.samples,
            vad_filter=False,
            clip_timestamps=[{"start": s, "end": e} for s, e in packed.windows],
            **self._batched_options(options),
        )
        done = 0.0
        for raw in segments:
            piece = packed.piece_at((raw.start + raw.end) / 2)  # a segment lies inside one window
            channel, original = packed.pieces[piece]
            done = max(done, original + sum(len(s) for _, s in channels[:channel]) / SAMPLE_RATE)
            progress(min(done, total))
            cleaners[channel].add(raw, packed.mapper(piece))
        progress(total)
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

    def add(self, raw: FasterWhisperSegment, to_original: Callable[[float], float] = float) -> None:
        """One segment of faster-whisper's, its times taken back to the channel's by ``to_original``."""
        options = self.options
        chinese = self.language in ("zh", "yue") and options.simplified_chinese
        words = tuple(
            Word(
                word=to_simplified(w.word) if chinese else w.word,
                # A word keeps its length: its end goes back through its start's piece, so a
                # word that runs over a cut pause does not stretch over the silence cut out.
                start=round(to_original(float(w.start)), 3),
                end=round(to_original(float(w.start)) + float(w.end) - float(w.start), 3),
                probability=round(float(w.probability), 4),
            )
            for w in (raw.words or ())
        )
        if not words and raw.text.strip():
            text = to_simplified(raw.text) if chinese else raw.text
            start = round(to_original(float(raw.start)), 3)
            end = round(start + float(raw.end) - float(raw.start), 3)
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
