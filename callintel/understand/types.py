"""Typed results of the understanding stage (no heavy imports: the result module uses them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class AttributeEvidence:
    """Where an attribute was read: the turn, its time span, and the words."""

    turn: int
    start: float | None
    end: float | None
    text: str
    confidence: float


@dataclass(frozen=True)
class AttributeValue:
    value: Any
    evidence: tuple[AttributeEvidence, ...]


@dataclass(frozen=True)
class IntentResult:
    grade: str
    probabilities: dict[str, float]


@dataclass(frozen=True)
class Tag:
    """A namespaced tag for the customer's journey (DOMAIN.md), e.g. ``intent_grade:H``."""

    key: str
    value: str
    confidence: float

    @property
    def name(self) -> str:
        return f"{self.key}:{self.value}"


@dataclass(frozen=True)
class TurnSentiment:
    """The customer's sentiment in one turn, from the sentiment head.

    ``label`` is ``positive``, ``neutral`` or ``negative``; ``score`` is
    P(positive) - P(negative), in [-1, 1].
    """

    turn: int
    label: str
    score: float
    probabilities: dict[str, float]


@dataclass(frozen=True)
class UnderstandingModels:
    """Which trained models produced the understanding, for tracing."""

    directory_version: str
    script: str
    attributes: str
    intent: str


@dataclass(frozen=True)
class Understanding:
    scenario: str
    call_date: str
    scorecard: dict[str, Any]
    attributes: dict[str, AttributeValue]
    intent: IntentResult
    tags: tuple[Tag, ...]
    models: UnderstandingModels
    sentiment: tuple[TurnSentiment, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
