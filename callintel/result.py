"""Typed results of an analysis, serialisable to JSON with a schema version.

The dataclasses are the contract; JSON and the JSON Schema in ``schemas/`` are generated
from them with pydantic's ``TypeAdapter``, so the three cannot drift apart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import TypeAdapter

from callintel.metrics import ConversationMetrics
from callintel.options import AnalysisOptions
from callintel.understand.types import Understanding

SCHEMA_VERSION = "1.0"

Role = Literal["sales", "customer"]
ROLES: tuple[Role, ...] = ("sales", "customer")
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


@dataclass(frozen=True)
class AnalysisResult:
    language: str
    language_probability: float
    duration: float
    channel_layout: ChannelLayout
    turns: tuple[Turn, ...]
    roles: RoleDecision
    source: SourceInfo
    models: tuple[ModelInfo, ...]
    options: AnalysisOptions
    removed: tuple[RemovedText, ...] = ()
    understanding: Understanding | None = None
    metrics: ConversationMetrics | None = None
    warnings: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    schema_version: str = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return _adapter().dump_python(self, mode="json")

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)

    @classmethod
    def from_json(cls, text: str | bytes) -> AnalysisResult:
        return _adapter().validate_json(text)


@lru_cache(maxsize=1)
def _adapter() -> TypeAdapter[AnalysisResult]:
    return TypeAdapter(AnalysisResult)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of :class:`AnalysisResult` as written to JSON."""
    schema = _adapter().json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://callintel.dev/schemas/analysis-{SCHEMA_VERSION}.json"
    schema["title"] = "callintel analysis result"
    return schema


SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "analysis.schema.json"
