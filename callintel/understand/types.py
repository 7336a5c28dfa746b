"""Typed inputs and results of the understanding stage (no heavy imports: the pipeline and the
result module use them)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NotRequired

from typing_extensions import TypedDict  # pydantic reads TypedDicts from here before Python 3.12

from callintel.domain import Grade, Scenario, Violation

if TYPE_CHECKING:
    from callintel.understand.scoring import Scorecard


@dataclass(frozen=True)
class CallTurn:
    """One turn of a call as the understanding stage needs it."""

    role: str
    text: str
    start: float | None = None
    end: float | None = None


@dataclass(frozen=True)
class CallToUnderstand:
    """One call for :meth:`Understander.understand_many`: its turns in time order, its scenario,
    the call's date (relative timelines count from it; None: today) and the scorecard to score
    it with (None: the scenario's own)."""

    turns: Sequence[CallTurn]
    scenario: str
    call_date: dt.date | None = None
    scorecard: Scorecard | None = None


@dataclass(frozen=True)
class AttributeEvidence:
    """Where an attribute was read: the turn, its time span, and the words."""

    turn: int
    start: float | None
    end: float | None
    text: str
    confidence: float


class Budget(TypedDict):
    """``budget_cny``'s value: yuan, or the amounts as spoken with ``currency`` (ISO 4217) when the
    call is in another currency; ``min`` 0 for "under X", ``max`` None for "over X"."""

    min: int | float | None
    max: int | float | None
    currency: NotRequired[str]


AttributeData = Budget | bool | int | float | str | list[str]
"""An attribute's value in DOMAIN.md's form: a budget; yes/no (``trade_in``); days
(``purchase_timeline_days``); a choice or text (``payment``, ``powertrain``, ``body_type``,
``household``); a list (``models_of_interest``, ``competitors``, ``usage``, ``concerns``)."""


@dataclass(frozen=True)
class AttributeValue:
    """An attribute's value and the turns it was read from."""

    value: AttributeData
    evidence: tuple[AttributeEvidence, ...]

    def budget(self) -> Budget:
        """The value of a ``budget_cny``."""
        if not isinstance(self.value, dict):
            raise TypeError(f"not a budget: {self.value!r}")
        return self.value

    def days(self) -> int:
        """The value of a ``purchase_timeline_days``."""
        if isinstance(self.value, bool) or not isinstance(self.value, int | float):
            raise TypeError(f"not a number of days: {self.value!r}")
        return int(self.value)

    def items(self) -> list[str]:
        """The value of a list attribute (``models_of_interest``, ``competitors``, ``usage``,
        ``concerns``)."""
        if not isinstance(self.value, list | tuple):
            raise TypeError(f"not a list: {self.value!r}")
        return [str(v) for v in self.value]


@dataclass(frozen=True)
class IntentResult:
    """The lead grade and the probability of each grade."""

    grade: Grade
    probabilities: dict[Grade, float]


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
class Evidence:
    """A turn that decided an item: where it is, what was said, how strongly it counted.

    ``near_miss`` marks the best turn of a failed checkpoint; ``matched`` is the keyword
    that realised a custom checkpoint, if a keyword did.
    """

    turn: int
    start: float | None
    end: float | None
    text: str
    probability: float
    near_miss: bool = False
    matched: str | None = None


@dataclass(frozen=True)
class CheckpointResult:
    """``confidence`` is the best turn's probability if passed, 1 minus it if failed."""

    passed: bool
    confidence: float
    required: bool
    weight: float
    applicable: bool
    evidence: tuple[Evidence, ...]
    label: str = ""
    custom: bool = False


@dataclass(frozen=True)
class ViolationResult:
    """One occurrence of a violation; ``penalty`` is what it cost (0 past ``max_count``).

    ``confidence`` is the classifier's probability; ``matched`` is the keyword or pattern of
    the scorecard that found it, if one did (then it counts whatever the probability).
    """

    type: Violation
    turn: int
    text: str
    start: float | None
    end: float | None
    confidence: float
    penalty: float = 0.0
    matched: str | None = None


@dataclass(frozen=True)
class ScorecardResult:
    """A call scored against its scenario's scorecard: the 0-100 score, each checkpoint with its
    evidence (custom checkpoints under their own keys), the violations found, and the required
    checkpoints missed."""

    scenario: str
    scorecard_version: str
    score: float
    checkpoints: dict[str, CheckpointResult]
    violations: tuple[ViolationResult, ...]
    missed_required: tuple[str, ...]
    penalty: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, as in the result (``schemas/analysis.schema.json``)."""
        from pydantic import TypeAdapter

        data: dict[str, Any] = TypeAdapter(ScorecardResult).dump_python(self, mode="json")
        return data


@dataclass(frozen=True)
class Understanding:
    """What the understanding stage read from a call. ``intent`` is None where the scenario gives
    no purchase grade (``service_call``: an after-sales call is no sale, so not applicable)."""

    scenario: Scenario
    call_date: str
    scorecard: ScorecardResult
    attributes: dict[str, AttributeValue]
    intent: IntentResult | None
    tags: tuple[Tag, ...]
    models: UnderstandingModels
    sentiment: tuple[TurnSentiment, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
