"""Typed results of an analysis, serialisable to JSON with a schema version.

The dataclasses are the contract; JSON and the JSON Schema in ``schemas/`` are generated
from them with pydantic's ``TypeAdapter``, so the three cannot drift apart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from callintel.options import AnalysisOptions
from callintel.transcript import ChannelLayout, ModelInfo, RemovedText, RoleDecision, SourceInfo, Turn
from callintel.understand.metrics import ConversationMetrics
from callintel.understand.types import Understanding

SCHEMA_VERSION = "1.0"


@dataclass(frozen=True)
class RedactionSpan:
    """Where personal data was masked: the turn, the kind (``phone``, ``id_card`` ...) and, when
    the words' times are known, when it was said (the span muted in the audio, if asked)."""

    turn: int
    kind: str
    start: float | None
    end: float | None


@dataclass(frozen=True)
class Redaction:
    """The personal data the dealer's settings masked in this result."""

    kinds: tuple[str, ...]
    spans: tuple[RedactionSpan, ...]


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
    redaction: Redaction | None = None
    schema_version: str = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return _adapter().dump_python(self, mode="json")

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)

    @classmethod
    def from_json(cls, text: str | bytes) -> AnalysisResult:
        return _adapter().validate_json(text)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnalysisResult:
        """The result of its JSON form as a dict (what :meth:`to_dict` gives)."""
        return _adapter().validate_python(data)


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
