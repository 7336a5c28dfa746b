"""A speaker-attributed transcript and what it was made from: the types every stage shares.

Words and turns come out of transcription and diarization, roles out of the role stage; the
understanding stage and the conversation metrics read them; :class:`callintel.result.AnalysisResult`
gathers them with the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from callintel.domain import ROLES, Role

__all__ = ["ROLES", "ChannelLayout", "ModelInfo", "RemovedText", "Role", "RoleDecision", "SourceInfo",
           "SpeakerRole", "Turn", "Word"]

ChannelLayout = Literal["stereo", "mono"]


@dataclass(frozen=True)
class Word:
    """A word as Whisper writes it: English words carry their leading space, so joining a
    turn's words reproduces its text."""

    word: str
    start: float
    end: float
    probability: float


@dataclass(frozen=True)
class Turn:
    """One stretch of speech by one speaker."""

    role: Role
    speaker: str
    channel: int | None
    start: float
    end: float
    text: str
    words: tuple[Word, ...]


@dataclass(frozen=True)
class SpeakerRole:
    """The role given to one speaker, with the probability that the speaker is ``sales``."""

    speaker: str
    role: Role
    sales_probability: float
    channel: int | None = None
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True)
class RoleDecision:
    """Which speaker is sales and which is customer, and how sure we are.

    ``confidence`` is the probability that the whole assignment is right. ``method`` says
    what decided it: the words alone, the channel prior combined with the words, or a user's
    override.
    """

    speakers: tuple[SpeakerRole, ...]
    confidence: float
    method: Literal["text", "channel+text", "override"]

    def role_of(self, speaker: str) -> Role:
        for item in self.speakers:
            if item.speaker == speaker:
                return item.role
        raise KeyError(f"unknown speaker {speaker!r}; known: {[s.speaker for s in self.speakers]}")


@dataclass(frozen=True)
class ModelInfo:
    """A model that took part in producing a result."""

    name: str
    kind: str
    engine: str
    version: str


@dataclass(frozen=True)
class SourceInfo:
    """The input recording, described without its file name or path (they may be personal)."""

    container: str
    codec: str
    sample_rate: int
    channels: int
    duration: float
    sha256: str


@dataclass(frozen=True)
class RemovedText:
    """Text the hallucination filters removed, kept for audit."""

    channel: int | None
    start: float
    end: float
    text: str
    reason: str
