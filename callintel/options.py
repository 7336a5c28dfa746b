"""Typed options of each stage, frozen, with defaults. Results record the ones they used."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

from callintel.domain import Scenario

ChannelMode = Literal["auto", "stereo", "mono"]

MAX_AUDIO_SECONDS: Final = 4 * 3600.0
"""The longest recording analysed unless told otherwise: 4 h, since the overnight batch takes long
showroom recordings. The one definition: ``Settings.max_audio_seconds`` (the upload limit and
CALLINTEL_MAX_AUDIO_SECONDS) and ``AnalysisOptions.max_seconds`` both default to it."""


@dataclass(frozen=True)
class TranscriptionOptions:
    """How to transcribe.

    ``condition_on_previous_text`` is off by default: with it on, the base model loops on
    short or noisy calls (one phrase repeated to the end of the window).
    ``hotwords`` None with ``AnalysisOptions.domain_hotwords`` on means "the domain
    vocabulary of the detected language"; the result records the words actually used.
    ``batch_size`` above 0 (default 8) transcribes with faster-whisper's
    ``BatchedInferencePipeline``: the speech that VAD finds (pauses of ``min_silence_ms`` or
    more) is cut into windows of up to 30 s decoded that many at a time, both channels of a
    stereo call in the same batches, each window without the text before it as context. It is
    about twice as fast as sequential decoding on CPU and no less accurate on the recordings
    measured (``python bench/eval_quality.py --asr``). 0 decodes sequentially, with
    faster-whisper's own VAD parameters. ``min_silence_ms`` also separates the speech regions
    the diarizer embeds.
    """

    language: str | None = None
    beam_size: int = 5
    vad_filter: bool = True
    min_silence_ms: int = 500
    hotwords: str | None = None
    initial_prompt: str | None = None
    condition_on_previous_text: bool = False
    simplified_chinese: bool = True
    filter_hallucinations: bool = True
    batch_size: int = 8

    def __post_init__(self) -> None:
        if self.language is not None:
            from faster_whisper.tokenizer import _LANGUAGE_CODES

            if self.language not in _LANGUAGE_CODES:
                raise ValueError(
                    f"unknown language {self.language!r}; use None for auto-detection or a "
                    f"Whisper language code such as 'zh' or 'en' "
                    f"(all: {', '.join(sorted(_LANGUAGE_CODES))})"
                )
        if self.beam_size < 1:
            raise ValueError(f"beam_size must be at least 1, not {self.beam_size}")
        if not 0 <= self.batch_size <= 256:
            raise ValueError(f"batch_size must be 0 (sequential) to 256, not {self.batch_size}")


@dataclass(frozen=True)
class SpeakerOptions:
    """How to split a recording by speaker and give each speaker a role.

    ``channels``: 'stereo' takes one party per channel, 'mono' diarizes the mix, 'auto'
    picks stereo for two different channels and mono otherwise.
    ``num_speakers``: fixed count for mono diarization, or None to estimate it
    (1 to ``max_speakers``).
    ``sales_speaker``: overrides the role decision (a speaker id such as 'S2').
    """

    channels: ChannelMode = "auto"
    agent_channel: int = 0
    num_speakers: int | None = 2
    max_speakers: int = 4
    max_turn_gap: float = 2.0
    sales_speaker: str | None = None

    def __post_init__(self) -> None:
        if self.channels not in ("auto", "stereo", "mono"):
            raise ValueError(f"channels must be 'auto', 'stereo' or 'mono', not {self.channels!r}")
        if self.agent_channel not in (0, 1):
            raise ValueError(f"agent_channel must be 0 (left) or 1 (right), not {self.agent_channel}")
        if self.max_speakers < 1:
            raise ValueError(f"max_speakers must be at least 1, not {self.max_speakers}")
        if self.num_speakers is not None and not 1 <= self.num_speakers <= self.max_speakers:
            raise ValueError(
                f"num_speakers must be None (estimate) or 1..{self.max_speakers}, not {self.num_speakers}"
            )


@dataclass(frozen=True)
class AnalysisOptions:
    """Every option of an analysis; the result carries the effective copy.

    ``scenario`` None picks ``inbound_call`` for a stereo call-centre recording and
    ``showroom`` for a mono one. ``call_date`` (ISO date) anchors relative timelines
    (年底, next month); None means the day of the analysis.
    """

    transcription: TranscriptionOptions = field(default_factory=TranscriptionOptions)
    speakers: SpeakerOptions = field(default_factory=SpeakerOptions)
    domain_hotwords: bool = False
    max_seconds: float = MAX_AUDIO_SECONDS
    understand: bool = True
    scenario: Scenario | None = None
    call_date: str | None = None

    def __post_init__(self) -> None:
        if self.call_date is not None:
            import datetime as dt

            try:
                dt.date.fromisoformat(self.call_date)
            except ValueError as e:
                raise ValueError(f"call_date must be an ISO date (2026-11-23), not {self.call_date!r}") from e
