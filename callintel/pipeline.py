"""The analysis pipeline: audio in, speaker-attributed transcript with roles out."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, cast

import numpy as np
import yaml

from callintel.audio.decode import Audio, AudioSource, load_audio
from callintel.errors import CallintelError, ChannelLayoutError, ConfigError
from callintel.options import AnalysisOptions, SpeakerOptions, TranscriptionOptions
from callintel.registry import ModelRegistry
from callintel.result import AnalysisResult
from callintel.settings import Settings
from callintel.speakers.diarize import Diarization, Diarizer, speech_regions
from callintel.speakers.roles import RoleAssigner, SpeakerText
from callintel.transcribe.whisper import WINDOW_SECONDS, Transcriber
from callintel.transcript import ChannelLayout, ModelInfo, RemovedText, RoleDecision, SourceInfo, Turn, Word
from callintel.understand.metrics import conversation_metrics
from callintel.understand.scoring import Scorecard
from callintel.understand.types import CallToUnderstand, CallTurn, Understanding

if TYPE_CHECKING:
    from callintel.understand.classifiers import Understander

logger = logging.getLogger(__name__)


def understanding_directory(settings: Settings, directory: Path | None) -> Path | None:
    """``directory``, or the default understanding models' when they are trained (None, with a
    warning, when they are not trained yet)."""
    from callintel.training.config import default_directory, is_trained

    if directory is None:
        directory = default_directory(settings.cache_dir)
        if not is_trained(directory):
            logger.warning("understanding models not found in %s: run `callintel train`", directory)
            return None
    return directory


def load_understander(
    settings: Settings, directory: Path | None, device: str = "auto"
) -> Understander | None:
    """The trained understanding models, or None when the default ones are not trained yet."""
    directory = understanding_directory(settings, directory)
    return None if directory is None else _load_understander(directory, settings.models_dir, device)


T = TypeVar("T")


class Lazy(Generic[T]):
    """A model loaded once, on first use: the first thread to ask loads it, the others wait.

    :func:`load_in_background` loads it ahead instead, while the caller goes on (e.g. while
    Whisper decodes); a use then waits for that load. A load that fails there is tried again,
    and raises, where the model is used.
    """

    def __init__(self, load: Callable[[], T], name: str = "model") -> None:
        self._load = load
        self._name = name
        self._value: T | None = None
        self._loaded = False
        self._lock = threading.Lock()

    @classmethod
    def ready(cls, value: T) -> Lazy[T]:
        """A model already loaded."""
        lazy = cls(lambda: value)
        lazy._value, lazy._loaded = value, True
        return lazy

    @property
    def loaded(self) -> bool:
        return self._loaded

    def __call__(self) -> T:
        return self.get()

    def get(self) -> T:
        with self._lock:
            if not self._loaded:
                self._value = self._load()
                self._loaded = True
            return cast(T, self._value)

    def load_quietly(self) -> None:
        """Load the model now, logging a failure instead of raising it (a use tries again)."""
        try:
            self.get()
        except Exception:
            logger.debug("loading the %s in the background failed", self._name, exc_info=True)


def load_in_background(models: Sequence[Lazy[Any]]) -> None:
    """Load ``models`` in a background thread, one after the other in this order: loading is
    mostly Python imports, which hold the GIL, so loading them side by side would only finish
    the first later."""
    pending = [model for model in models if not model.loaded]

    def load() -> None:
        for model in pending:
            model.load_quietly()

    if pending:
        threading.Thread(target=load, name="callintel-preload", daemon=True).start()


LazyModel = Literal["speakers", "understanding"]
"""The models a pipeline loads on first use: the speaker model (mono calls) and the
understanding models."""


ProgressHook = Callable[[str, float, float], None]
"""Called as ``hook(stage, done, total)``; for transcription, done/total are audio seconds."""


def _no_progress(stage: str, done: float, total: float) -> None:
    return None


@dataclass(frozen=True)
class AttributedWord:
    word: Word
    speaker: str
    channel: int | None


def load_hotwords(models_dir: Path) -> dict[str, str]:
    path = Path(models_dir) / "vocabulary" / "hotwords.yaml"
    try:
        data = yaml.safe_load(path.read_text("utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"cannot read the domain vocabulary {path}: {e}") from e
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise ConfigError(f"{path} must map language codes to strings of words")
    return data


def resolve_layout(audio: Audio, requested: str) -> ChannelLayout:
    """Stereo (one party per channel) or mono (diarize the mix)."""
    if requested == "mono":
        return "mono"
    if requested == "stereo":
        if audio.channels != 2:
            raise ChannelLayoutError(
                f"--channels stereo needs a two-channel recording; this one has {audio.info.source_channels}"
            )
        return "stereo"
    return "stereo" if audio.channels == 2 and not audio.is_dual_mono() else "mono"


def models_needed(audio: Audio, options: AnalysisOptions) -> frozenset[LazyModel]:
    """The lazily loaded models that analysing ``audio`` with ``options`` will use."""
    needed: set[LazyModel] = set()
    if resolve_layout(audio, options.speakers.channels) == "mono":
        needed.add("speakers")
    if options.understand:
        needed.add("understanding")
    return frozenset(needed)


def build_turns(words: Sequence[AttributedWord], max_gap: float) -> list[tuple[str, int | None, list[Word]]]:
    """Group words into turns in time order.

    A speaker's words are split into utterances at pauses longer than ``max_gap`` and
    wherever another speaker says a whole word inside the pause. Utterances are then
    ordered by start, so overlapping speech (both channels of a stereo call talking at
    once) stays whole instead of interleaving word by word.
    """
    by_speaker: dict[str, list[AttributedWord]] = {}
    for item in words:
        by_speaker.setdefault(item.speaker, []).append(item)
    utterances: list[tuple[str, int | None, list[Word]]] = []
    for speaker, items in by_speaker.items():
        items.sort(key=lambda a: (a.word.start, a.word.end))
        others = sorted((a.word.start, a.word.end) for a in words if a.speaker != speaker)
        other_starts = np.array([o[0] for o in others])
        other_ends = np.array([o[1] for o in others])
        current = [items[0].word]
        for item in items[1:]:
            gap_start, gap_end = current[-1].end, item.word.start
            lo, hi = np.searchsorted(other_starts, [gap_start, gap_end], side="left")
            interrupted = bool(np.any(other_ends[lo:hi] <= gap_end))
            if gap_end - gap_start > max_gap or interrupted:
                utterances.append((speaker, items[0].channel, current))
                current = []
            current.append(item.word)
        utterances.append((speaker, items[0].channel, current))
    utterances.sort(key=lambda u: (u[2][0].start, u[2][-1].end))
    return utterances


Speech = dict[int | None, tuple[tuple[float, float], ...]]
"""Speech regions (seconds) per channel to transcribe (None: the mono mix)."""


@dataclass(frozen=True)
class Prepared:
    """A recording decoded ahead of the models (``prepare``), e.g. by a batch's CPU workers.

    ``speech`` (when the transcription is batched): the VAD regions of each channel to
    transcribe, at most one Whisper window long; ``regions`` (mono): those the diarizer uses.
    """

    audio: Audio
    sha256: str
    decode_seconds: float
    speech: Speech | None = None
    regions: tuple[tuple[float, float], ...] | None = None


def prepare(source: AudioSource, options: AnalysisOptions = AnalysisOptions()) -> Prepared:
    """Hash, decode and (for batched transcription) find the speech of a recording: the CPU part
    of an analysis that needs no GPU model.

    Raises:
        AudioError subclasses for unusable input; ChannelLayoutError when stereo is asked of a
        mono file.
    """
    clock = time.perf_counter()
    digest = content_sha256(source)
    audio = load_audio(source, max_seconds=options.max_seconds)
    speech: Speech | None = None
    regions = None
    if options.transcription.batch_size > 0:
        min_silence = options.transcription.min_silence_ms
        # Silero VAD runs on one thread: the passes (one per channel, or the mono call's windows
        # and its diarization regions) run side by side.
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="vad") as vad:
            if resolve_layout(audio, options.speakers.channels) == "stereo":
                channels: dict[int | None, np.ndarray] = {0: audio.samples[0], 1: audio.samples[1]}
                finding_regions = None
            else:
                channels = {None: audio.mono()}
                finding_regions = vad.submit(speech_regions, channels[None], min_silence)
            finding = {
                channel: vad.submit(speech_regions, samples, min_silence, WINDOW_SECONDS)
                for channel, samples in channels.items()
            }
            speech = {channel: tuple(f.result()) for channel, f in finding.items()}
            regions = tuple(finding_regions.result()) if finding_regions else None
    return Prepared(audio, digest, time.perf_counter() - clock, speech, regions)


@dataclass(frozen=True)
class Heard:
    """A call transcribed, with speakers and roles: everything before understanding."""

    audio: Audio
    sha256: str
    layout: ChannelLayout
    language: str
    language_probability: float
    options: AnalysisOptions  # with the transcription options actually used
    turns: tuple[Turn, ...]
    roles: RoleDecision
    removed: tuple[RemovedText, ...]
    models: tuple[ModelInfo, ...]
    warnings: tuple[str, ...]
    timings: dict[str, float]

    @property
    def scenario(self) -> str:
        return call_scenario(self.options, self.layout)

    @property
    def call_turns(self) -> list[CallTurn]:
        return [CallTurn(t.role, t.text, t.start, t.end) for t in self.turns]


def call_scenario(options: AnalysisOptions, layout: ChannelLayout) -> str:
    """The scenario asked for, else the default of the layout (stereo: inbound_call, else showroom)."""
    return options.scenario or ("inbound_call" if layout == "stereo" else "showroom")


NOT_TRAINED = "understanding models are not trained: run `callintel train`"


class Pipeline:
    """Composes decoding, transcription, speaker attribution and roles."""

    def __init__(
        self,
        transcriber: Transcriber,
        roles: RoleAssigner,
        hotwords: dict[str, str],
        diarizer: Diarizer | Callable[[], Diarizer],
        understander: Understander | Callable[[], Understander] | None = None,
    ) -> None:
        """``diarizer`` and ``understander`` are loaded models or functions that load them (a
        :class:`Lazy` is one): those load on first use. ``understander`` None: no understanding."""
        self.transcriber = transcriber
        self.roles = roles
        self.hotwords = hotwords
        self._diarizer = _lazy(diarizer, "speaker model")
        self._understander = None if understander is None else _lazy(understander, "understanding models")

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        asr_model: str | None = None,
        device: str = "auto",
        compute_type: str = "auto",
        cpu_threads: int = 0,
        understanding_dir: Path | None = None,
        preload: Collection[LazyModel] = (),
    ) -> Pipeline:
        """Load the ASR model. The speaker model loads on first mono recording, the
        understanding models on first understanding; those named in ``preload`` (see
        :func:`models_needed`) start loading in a background thread first, so that they load
        while Whisper loads and decodes.

        The understanding models load from ``understanding_dir`` (by default the trained
        default models in the cache) when they are there; otherwise results carry no
        understanding and say so in ``warnings``.
        """
        registry = ModelRegistry(settings.models_dir, settings.cache_dir)
        # An unavailable ASR model fails here, before anything loads in the background.
        asr = registry.resolve(asr_model or registry.default_name("asr"), "asr")
        diarizer = Lazy(lambda: Diarizer.from_registry(registry, device=device), "speaker model")
        directory = understanding_directory(settings, understanding_dir)
        understander = None
        if directory is not None:
            load = functools.partial(_load_understander, directory, settings.models_dir, device)
            understander = Lazy(load, "understanding models")
        _start_loading(diarizer, understander, preload)
        transcriber = Transcriber.load(asr, device=device, compute_type=compute_type, cpu_threads=cpu_threads)
        return cls(
            transcriber,
            RoleAssigner.from_models_dir(settings.models_dir),
            load_hotwords(settings.models_dir),
            diarizer,
            understander,
        )

    @property
    def diarizer(self) -> Diarizer:
        """The speaker model, loaded on first use (once, whichever threads ask)."""
        return self._diarizer.get()

    @property
    def understander(self) -> Understander | None:
        """The understanding models, loaded on first use; None when there are none."""
        return None if self._understander is None else self._understander.get()

    @understander.setter
    def understander(self, understander: Understander | None) -> None:
        self._understander = None if understander is None else Lazy.ready(understander)

    def preload(self, models: Collection[LazyModel] = ("speakers", "understanding")) -> None:
        """Start loading ``models`` in a background thread; each still loads once, and a use
        waits for its load."""
        _start_loading(self._diarizer, self._understander, models)

    def analyze(
        self,
        source: AudioSource,
        options: AnalysisOptions = AnalysisOptions(),
        progress: ProgressHook = _no_progress,
        prepared: Prepared | None = None,
        scorecard: Scorecard | None = None,
    ) -> AnalysisResult:
        """Analyse one recording; ``prepared`` is ``source`` already decoded by :func:`prepare`;
        ``scorecard`` scores it instead of its scenario's file (e.g. one edited through the API).

        Raises:
            AudioError subclasses for unusable input; ChannelLayoutError when stereo is
            asked of a mono file; ValueError for an unknown speaker override.
        """
        heard = self.hear(source, options, progress, prepared)
        progress("understand", 0, 1)
        understanding = self.understand_many([heard], [scorecard])[0]
        progress("understand", 1, 1)
        return self.finish(heard, understanding)

    def analyze_many(
        self,
        calls: Sequence[tuple[AudioSource, AnalysisOptions, Prepared]],
        scorecards: Sequence[Scorecard | None] | None = None,
    ) -> list[AnalysisResult | Exception]:
        """Analyse decoded recordings together: each is transcribed on its own (Whisper batches
        inside a call), then the classifiers run once over all their turns; ``scorecards`` (one
        per call, None: the scenario's file) score them. A call that fails gives its exception in
        its place; the others go on."""
        cards = list(scorecards) if scorecards is not None else [None] * len(calls)
        heard: list[Heard | Exception] = []
        for source, options, prepared in calls:
            try:
                heard.append(self.hear(source, options, prepared=prepared))
            except (CallintelError, ValueError, RuntimeError) as e:
                heard.append(e)
        ready = [(h, card) for h, card in zip(heard, cards, strict=True) if isinstance(h, Heard)]
        try:
            done = self.understand_many([h for h, _ in ready], [card for _, card in ready])
            understood = dict(zip((id(h) for h, _ in ready), done, strict=True))
        except (CallintelError, ValueError, RuntimeError) as e:
            return [h if isinstance(h, Exception) else e for h in heard]
        return [h if isinstance(h, Exception) else self.finish(h, understood[id(h)]) for h in heard]

    def hear(
        self,
        source: AudioSource,
        options: AnalysisOptions = AnalysisOptions(),
        progress: ProgressHook = _no_progress,
        prepared: Prepared | None = None,
    ) -> Heard:
        """Decode, transcribe, attribute speakers and roles: everything but understanding."""
        timings: dict[str, float] = {}
        if prepared is None:
            prepared = prepare(source, options)
        audio, digest = prepared.audio, prepared.sha256
        layout = resolve_layout(audio, options.speakers.channels)
        timings["decode"] = prepared.decode_seconds

        clock = time.perf_counter()
        mono = audio.mono()
        asr_options, language, language_probability = self._language_and_hotwords(
            mono, layout, options, one_batched_call=prepared.speech is not None
        )
        timings["language"] = time.perf_counter() - clock

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="diarize") as background:
            # A mono call is diarized while Whisper decodes it: both release the GIL.
            diarizing = None
            if layout == "mono":
                diarizing = background.submit(
                    self._diarize, mono, prepared.regions, asr_options, options.speakers
                )
            clock = time.perf_counter()
            words, removed, detected = self._transcribe(
                audio, mono, layout, asr_options, progress, prepared.speech
            )
            if language is None:
                language, language_probability = detected
            timings["transcribe"] = time.perf_counter() - clock

            models = [self.transcriber.info]
            warnings: list[str] = []
            if diarizing is not None and words:
                clock = time.perf_counter()
                progress("speakers", 0, 1)
                diarization, timings["speakers"] = diarizing.result()
                progress("speakers", 1, 1)
                timings["speakers_wait"] = time.perf_counter() - clock
                if diarization.speakers:
                    words = [
                        AttributedWord(a.word, diarization.speaker_of(a.word.start, a.word.end), None)
                        for a in words
                    ]
                models.append(self.diarizer.info)
        if not words:
            warnings.append("no speech was recognised in the recording")

        clock = time.perf_counter()
        grouped = build_turns(words, options.speakers.max_turn_gap)
        decision = self._decide_roles(grouped, layout, options.speakers)
        turns = tuple(
            Turn(
                role=decision.role_of(speaker),
                speaker=speaker,
                channel=channel,
                start=turn_words[0].start,
                end=turn_words[-1].end,
                text=_join(turn_words),
                words=tuple(turn_words),
            )
            for speaker, channel, turn_words in grouped
        )
        timings["roles"] = time.perf_counter() - clock
        return Heard(
            audio=audio,
            sha256=digest,
            layout=layout,
            language=language,
            language_probability=language_probability,
            options=replace(options, transcription=asr_options),
            turns=turns,
            roles=decision,
            removed=tuple(removed),
            models=tuple(models),
            warnings=tuple(warnings),
            timings=timings,
        )

    def understand_many(
        self, heard: Sequence[Heard], scorecards: Sequence[Scorecard | None] | None = None
    ) -> list[Understanding | None]:
        """Understanding of each call that asks for it and has turns (None for the others), the
        classifiers batched across the calls; ``scorecards`` (one per call, None: the scenario's
        file) score them."""
        cards = list(scorecards) if scorecards is not None else [None] * len(heard)
        wanted = [(h, card) for h, card in zip(heard, cards, strict=True) if h.options.understand and h.turns]
        if not wanted or self.understander is None:
            return [None] * len(heard)
        done = self.understander.understand_many(
            [
                CallToUnderstand(
                    h.call_turns,
                    h.scenario,
                    dt.date.fromisoformat(h.options.call_date) if h.options.call_date else None,
                    card,
                )
                for h, card in wanted
            ]
        )
        by_call = dict(zip((id(h) for h, _ in wanted), done, strict=True))
        return [by_call.get(id(h)) for h in heard]

    def finish(self, heard: Heard, understanding: Understanding | None) -> AnalysisResult:
        """The result of a heard call and its understanding."""
        timings = dict(heard.timings)
        warnings = list(heard.warnings)
        if understanding is not None:
            timings["understand"] = understanding.timings.get("understand", 0.0)
        elif heard.options.understand and heard.turns and self._understander is None:
            warnings.append(NOT_TRAINED)
        clock = time.perf_counter()
        sentiment = understanding.sentiment if understanding is not None else ()
        metrics = conversation_metrics(heard.turns, heard.audio.duration, heard.language, sentiment)
        timings["metrics"] = time.perf_counter() - clock
        audio = heard.audio
        return AnalysisResult(
            language=heard.language,
            language_probability=round(heard.language_probability, 4),
            duration=round(audio.duration, 3),
            channel_layout=heard.layout,
            turns=heard.turns,
            roles=heard.roles,
            source=SourceInfo(
                container=audio.info.container,
                codec=audio.info.codec,
                sample_rate=audio.info.source_sample_rate,
                channels=audio.info.source_channels,
                duration=round(audio.info.duration, 3),
                sha256=heard.sha256,
            ),
            models=heard.models,
            options=heard.options,
            removed=heard.removed,
            understanding=understanding,
            metrics=metrics,
            warnings=tuple(warnings),
            timings={k: round(v, 3) for k, v in timings.items()},
        )

    def understand_again(
        self, stored: AnalysisResult, options: AnalysisOptions, scorecard: Scorecard | None = None
    ) -> AnalysisResult:
        """``stored``'s transcript understood again with ``options``' scenario and call date (and
        ``scorecard``, None: the scenario's file): a new result that keeps the transcript, speakers,
        roles and models of ``stored`` and runs no ASR (the same audio uploaded again, issue 17).
        Only ``understand``, ``scenario`` and ``call_date`` of ``options`` count."""
        warnings = [w for w in stored.warnings if w != NOT_TRAINED]
        timings: dict[str, float] = {}
        understanding = None
        if options.understand and stored.turns:
            understander = self.understander
            if understander is None:
                warnings.append(NOT_TRAINED)
            else:
                clock = time.perf_counter()
                understanding = understander.understand_many(
                    [
                        CallToUnderstand(
                            [CallTurn(t.role, t.text, t.start, t.end) for t in stored.turns],
                            call_scenario(options, stored.channel_layout),
                            dt.date.fromisoformat(options.call_date) if options.call_date else None,
                            scorecard,
                        )
                    ]
                )[0]
                timings["understand"] = time.perf_counter() - clock
        clock = time.perf_counter()
        sentiment = understanding.sentiment if understanding is not None else ()
        metrics = conversation_metrics(stored.turns, stored.duration, stored.language, sentiment)
        timings["metrics"] = time.perf_counter() - clock
        return replace(
            stored,
            options=replace(
                stored.options,
                understand=options.understand,
                scenario=options.scenario,
                call_date=options.call_date,
            ),
            understanding=understanding,
            metrics=metrics,
            warnings=tuple(warnings),
            timings={k: round(v, 3) for k, v in timings.items()},
            redaction=stored.redaction,
        )

    def _language_and_hotwords(
        self,
        mono: np.ndarray,
        layout: ChannelLayout,
        options: AnalysisOptions,
        *,
        one_batched_call: bool = False,
    ) -> tuple[TranscriptionOptions, str | None, float]:
        """The transcription options to use, with the language when known in advance.

        The language is detected up front only when it must be known before transcribing:
        to give both channels of a stereo call the same one (unless ``one_batched_call``
        decodes them together, in one language), or to pick hotwords. Otherwise the
        transcriber detects it in the same pass.
        """
        asr_options = options.transcription
        language, probability = asr_options.language, 1.0
        needs_language = (layout == "stereo" and not one_batched_call) or (
            options.domain_hotwords and asr_options.hotwords is None
        )
        if language is None and needs_language:
            language, probability = self.transcriber.detect_language(mono)
        hotwords = asr_options.hotwords
        if hotwords is None and options.domain_hotwords and language is not None:
            hotwords = self.hotwords.get(language)
        return replace(asr_options, language=language, hotwords=hotwords), language, probability

    def _transcribe(
        self,
        audio: Audio,
        mono: np.ndarray,
        layout: ChannelLayout,
        asr_options: TranscriptionOptions,
        progress: ProgressHook,
        speech: Speech | None = None,
    ) -> tuple[list[AttributedWord], list[RemovedText], tuple[str, float]]:
        """Words of each channel (stereo: S1 left, S2 right; mono: all S1 for now).

        Batched, with the speech found ahead, both channels of a stereo call share the batches;
        otherwise each channel is transcribed on its own."""
        channels = (0, 1) if layout == "stereo" else (None,)
        total = audio.duration * len(channels)
        signals = [(channel, mono if channel is None else audio.samples[channel]) for channel in channels]
        if asr_options.batch_size > 0 and speech is not None:
            transcripts = self.transcriber.transcribe_channels(
                signals,
                [speech.get(channel, ()) for channel in channels],
                asr_options,
                progress=lambda done: progress("transcribe", min(done, total), total),
            )
        else:
            transcripts = []
            for index, (channel, samples) in enumerate(signals):

                def hook(done: float, offset: float = index * audio.duration) -> None:
                    progress("transcribe", min(offset + done, total), total)

                transcripts.append(
                    self.transcriber.transcribe(samples, asr_options, channel=channel, progress=hook)
                )
        words: list[AttributedWord] = []
        removed: list[RemovedText] = []
        detected = (transcripts[0].language, transcripts[0].language_probability)
        for channel, transcript in zip(channels, transcripts, strict=True):
            removed.extend(transcript.removed)
            speaker = "S1" if channel is None else f"S{channel + 1}"
            words.extend(
                AttributedWord(w, speaker, channel) for segment in transcript.segments for w in segment.words
            )
        return words, removed, detected

    def _diarize(
        self,
        mono: np.ndarray,
        regions: Sequence[tuple[float, float]] | None,
        asr_options: TranscriptionOptions,
        options: SpeakerOptions,
    ) -> tuple[Diarization, float]:
        """The speakers of a mono recording (in its speech ``regions``, found here when None), and
        the seconds it took."""
        clock = time.perf_counter()
        if regions is None:
            regions = tuple(speech_regions(mono, asr_options.min_silence_ms))
        return self.diarizer.diarize(mono, regions, options), time.perf_counter() - clock

    def _decide_roles(
        self,
        grouped: list[tuple[str, int | None, list[Word]]],
        layout: ChannelLayout,
        options: SpeakerOptions,
    ) -> RoleDecision:
        texts: dict[str, list[str]] = {}
        first: dict[str, float] = {}
        channel_of: dict[str, int | None] = {}
        for speaker, channel, turn_words in grouped:
            texts.setdefault(speaker, []).append(_join(turn_words))
            first.setdefault(speaker, turn_words[0].start)
            channel_of[speaker] = channel
        speakers = [SpeakerText(s, " ".join(t), first[s], channel_of[s]) for s, t in texts.items()]
        agent = options.agent_channel if layout == "stereo" else None
        return self.roles.assign(speakers, agent_channel=agent, sales_speaker=options.sales_speaker)


def _start_loading(
    diarizer: Lazy[Diarizer], understander: Lazy[Understander] | None, models: Collection[LazyModel]
) -> None:
    """Preload the named models, the speaker model first: a call needs it first."""
    chosen: list[Lazy[Any]] = []
    if "speakers" in models:
        chosen.append(diarizer)
    if "understanding" in models and understander is not None:
        chosen.append(understander)
    load_in_background(chosen)


def _lazy(model: T | Callable[[], T], name: str) -> Lazy[T]:
    if isinstance(model, Lazy):
        return model
    if callable(model):
        return Lazy(model, name)
    return Lazy.ready(model)


def _load_understander(directory: Path, models_dir: Path, device: str) -> Understander:
    from callintel.understand.classifiers import Understander

    return Understander(directory, models_dir, device=device)


def _join(words: Sequence[Word]) -> str:
    return "".join(w.word for w in words).strip()


def content_sha256(source: AudioSource) -> str:
    digest = hashlib.sha256()
    if isinstance(source, (bytes, bytearray, memoryview)):
        digest.update(source)
    elif isinstance(source, (str, Path)):
        with Path(source).open("rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    else:
        position = source.tell()
        while chunk := source.read(1 << 20):
            digest.update(chunk)
        source.seek(position)
    return digest.hexdigest()
