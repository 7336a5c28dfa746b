"""Tags on a customer's journey: which ones are kept, and what a customer's current tags are.

An analysis produces DOMAIN.md's namespaced tags (``intent_grade:H``, ``model_interest:领克 08``)
with the models' confidence. :class:`TagPolicy` decides which go onto the journey (a minimum
confidence per tag key, from ``models/tags/tags.yaml``, overridable per dealer). The current
value of a key is the newest call's: a newer call's tags of a key replace the older ones as a
set (a customer who now looks at two models has those two), and the history stays.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import yaml

from callintel.errors import ConfigError
from callintel.understand.normalize import budget_band, timeline_bucket
from callintel.understand.types import AttributeValue, IntentResult, ScorecardResult, Tag
from callintel.yamlfile import load_yaml

TAG_KEYS: tuple[str, ...] = (
    "intent_grade",
    "model_interest",
    "competitor",
    "concern",
    "usage",
    "budget_band",
    "purchase_timeline",
    "payment",
    "powertrain",
    "body_type",
    "trade_in",
    "script_score",
    "script_missed",
    "violation",
)
"""The tag keys an analysis produces (DOMAIN.md, "Tags on the customer journey")."""

LIST_ATTRIBUTES = frozenset({"models_of_interest", "competitors", "usage", "concerns"})
"""Attributes that collect every value mentioned; the others keep the latest mention."""

ATTRIBUTE_TAG_KEYS: Mapping[str, str] = {
    "models_of_interest": "model_interest",
    "competitors": "competitor",
    "concerns": "concern",
    "usage": "usage",
    "budget_cny": "budget_band",
    "purchase_timeline_days": "purchase_timeline",
    "payment": "payment",
    "powertrain": "powertrain",
    "body_type": "body_type",
    "trade_in": "trade_in",
}
"""The tag key each attribute gives (``household`` gives none)."""


def attribute_tags(key: str, item: AttributeValue, confidence: float) -> list[Tag]:
    """The journey tags of one attribute's value (none for an attribute that gives no tag)."""
    tag_key = ATTRIBUTE_TAG_KEYS.get(key)
    if tag_key is None:
        return []
    if key in LIST_ATTRIBUTES:
        return [Tag(tag_key, v, confidence) for v in item.items()]
    if key == "budget_cny":
        budget = item.budget()
        low, high = budget["min"], budget["max"]
        if low is None and high is None:
            return []
        band = budget_band(
            None if low is None else int(low),
            None if high is None else int(high),
            budget.get("currency", "CNY"),
        )
        return [Tag(tag_key, band, confidence)]
    if key == "purchase_timeline_days":
        return [Tag(tag_key, timeline_bucket(item.days()), confidence)]
    if key == "trade_in":
        return [Tag(tag_key, "yes" if item.value else "no", confidence)]
    return [Tag(tag_key, str(item.value), confidence)]


def make_tags(
    attributes: Mapping[str, AttributeValue], intent: IntentResult | None, scorecard: ScorecardResult
) -> tuple[Tag, ...]:
    """DOMAIN.md's namespaced tags from an understanding (no ``intent_grade`` without a grade)."""
    tags = [] if intent is None else [Tag("intent_grade", intent.grade, intent.probabilities[intent.grade])]
    for key in ATTRIBUTE_TAG_KEYS:
        if key in attributes:
            item = attributes[key]
            tags += attribute_tags(key, item, round(max(e.confidence for e in item.evidence), 4))
    tags.append(Tag("script_score", f"{scorecard.score:.0f}", 1.0))
    for key, checkpoint in scorecard.checkpoints.items():
        if not checkpoint.passed and checkpoint.applicable:
            tags.append(Tag("script_missed", key, round(float(checkpoint.confidence), 4)))
    for violation in scorecard.violations:
        # A lexicon cue is the QA team's own rule: it counts as certain, whatever the classifier said.
        p = 1.0 if violation.matched is not None else round(float(violation.confidence), 4)
        tags.append(Tag("violation", violation.type, p))
    return tuple(tags)


class TagLike(Protocol):
    @property
    def key(self) -> str: ...

    @property
    def value(self) -> str: ...

    @property
    def call_id(self) -> str: ...


@dataclass(frozen=True)
class TagPolicy:
    """The minimum confidence for a tag to go onto the journey, per key (``default`` for the rest)."""

    min_confidence: Mapping[str, float] = field(default_factory=lambda: {"default": 0.5})

    def threshold(self, key: str) -> float:
        return float(self.min_confidence.get(key, self.min_confidence.get("default", 0.0)))

    def keeps(self, key: str, confidence: float) -> bool:
        return confidence >= self.threshold(key)

    def select(self, tags: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """The tags (dicts with ``key``, ``value``, ``confidence``) that go onto the journey."""
        return [dict(t) for t in tags if self.keeps(str(t["key"]), float(t["confidence"]))]

    def overridden(self, overrides: Mapping[str, Any] | None) -> TagPolicy:
        """This policy with a dealer's ``min_confidence`` overrides on top (checked)."""
        if not overrides:
            return self
        return TagPolicy({**self.min_confidence, **check_thresholds(overrides, "the dealer's tag settings")})


def check_thresholds(raw: Any, where: str) -> dict[str, float]:
    """``{key: minimum confidence}`` checked: known keys (or ``default``), numbers in [0, 1]."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: min_confidence must be a mapping of tag key to a number in [0, 1]")
    out: dict[str, float] = {}
    for key, value in raw.items():
        if key != "default" and key not in TAG_KEYS:
            raise ConfigError(f"{where}: unknown tag key {key!r}; valid: default, {', '.join(TAG_KEYS)}")
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise ConfigError(f"{where}: min_confidence of {key!r} must be a number in [0, 1], not {value!r}")
        if math.isnan(value):
            raise ConfigError(f"{where}: min_confidence of {key!r} is not a number")
        out[str(key)] = float(value)
    return out


def load_policy(models_dir: Path) -> TagPolicy:
    """The shipped policy, ``<models_dir>/tags/tags.yaml`` (everything kept at 0.5 when absent)."""
    path = Path(models_dir) / "tags" / "tags.yaml"
    if not path.is_file():
        return TagPolicy()
    try:
        raw = load_yaml(path.read_text("utf-8")) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from e
    return TagPolicy(check_thresholds(raw.get("min_confidence", {}), str(path)))


T = TypeVar("T", bound=TagLike)


def current_tags(history: Sequence[T]) -> list[T]:
    """The current tags from a customer's tag history (oldest first): for each key, the tags of
    the newest call that has that key."""
    current: dict[str, list[T]] = {}
    for tag in history:
        kept = current.get(tag.key)
        if kept is None or kept[0].call_id != tag.call_id:
            current[tag.key] = [tag]
        else:
            kept.append(tag)
    return [t for tags in current.values() for t in tags]


@dataclass(frozen=True)
class TagChanges:
    """How a customer's current tags changed: ``(key, value)`` pairs added and removed."""

    added: tuple[tuple[str, str], ...]
    removed: tuple[tuple[str, str], ...]

    def __bool__(self) -> bool:
        return bool(self.added or self.removed)

    def to_dict(self) -> dict[str, list[dict[str, str]]]:
        return {
            "added": [{"key": k, "value": v} for k, v in self.added],
            "removed": [{"key": k, "value": v} for k, v in self.removed],
        }


def changes(before: Iterable[TagLike], after: Iterable[TagLike]) -> TagChanges:
    """What differs between two sets of current tags (confidence and source call aside)."""
    old = {(t.key, t.value) for t in before}
    new = {(t.key, t.value) for t in after}
    return TagChanges(tuple(sorted(new - old)), tuple(sorted(old - new)))
