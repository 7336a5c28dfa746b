"""QA scorecards: per-turn classifier outputs in, a 0-100 script score with evidence out.

A scorecard (``models/scorecards/<scenario>.yaml``, edited by QA teams) weights the nine
sales-script checkpoints of DOMAIN.md for one scenario, sets a penalty for each of the four
violations, and may add a dealer's own checkpoints, realised by keyword or by embedding
similarity to example phrases, with no retraining. Every checkpoint and violation in the
result points at the turn(s) and time span that decided it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from callintel.domain import CHECKPOINTS, VIOLATIONS, one_of
from callintel.errors import ConfigError
from callintel.text import flatten
from callintel.transcript import ROLES, Role
from callintel.understand.types import CheckpointResult, Evidence, ScorecardResult, ViolationResult
from callintel.yamlfile import load_yaml

logger = logging.getLogger(__name__)

_MAX_EVIDENCE = 3

Embedder = Callable[[Sequence[str]], np.ndarray]
"""Texts in, one embedding per text out (rows need not be normalised)."""

AppliesWhen = Literal["always", "customer_concern"]
_Model = TypeVar("_Model", bound=BaseModel)
LEXICON_SUFFIX = ".lexicon.yaml"


# --- Scorecard files ---------------------------------------------------------------------


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CheckpointConfig(_Config):
    """One of the nine standard checkpoints on a scorecard.

    A sales turn realises it when the classifier reaches the threshold or when one of its cues
    (``keywords``/``patterns``, and those of the scorecard's ``checkpoint_lexicon``) matches.
    """

    label: str = Field(min_length=1)
    weight: float = Field(ge=0)
    required: bool = False
    enabled: bool = True
    # Overrides the scorecard's threshold for this checkpoint.
    threshold: float | None = Field(default=None, gt=0, le=1)
    # customer_concern: judged only when a customer voiced a concern, on the sales turns
    # after it; otherwise left out of the weight total rather than failed.
    applies_when: AppliesWhen = "always"
    keywords: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return ViolationCues._compiles(value)


class ViolationCues(_Config):
    """Words and regular expressions that reveal a violation whatever the model says.

    Both are matched on the flattened turn (see :func:`callintel.text.flatten`): lower case, Simplified
    characters, full-width as ASCII, no spaces beside Chinese characters.
    """

    keywords: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as e:
                raise ValueError(f"pattern {pattern!r} is not a regular expression: {e}") from e
        return value


class ViolationConfig(ViolationCues):
    """A violation's penalty, in score points per occurrence, up to ``max_count`` occurrences.

    A sales turn commits it when one of its cues (its own ``keywords``/``patterns`` and those
    of the scorecard's lexicon) matches, or, only where ``threshold`` is set, when the
    classifier reaches it alone. Unset by default: on the natural dialogues the classifier
    alone at 0.7 flagged 116 ordinary sales turns for 4 real violations (issue 14).
    """

    label: str = ""
    penalty: float = Field(ge=0)
    max_count: int = Field(default=1, ge=1)
    threshold: float | None = Field(default=None, gt=0, le=1)


class CustomCheckpointConfig(_Config):
    """A dealer's own checkpoint, found by keyword or by similarity to example phrases."""

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str = Field(min_length=1)
    weight: float = Field(ge=0)
    required: bool = False
    enabled: bool = True
    applies_when: AppliesWhen = "always"
    keywords: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    similarity: float = Field(default=0.8, gt=0, le=1)

    @model_validator(mode="after")
    def _has_a_trigger(self) -> CustomCheckpointConfig:
        if not any(k.strip() for k in self.keywords) and not any(e.strip() for e in self.examples):
            raise ValueError(f"custom checkpoint {self.key!r} needs at least one keyword or example")
        return self


class Scorecard(_Config):
    """A scenario's QA scorecard, as read from ``models/scorecards/<scenario>.yaml``."""

    scenario: str = Field(min_length=1)
    version: str = "1"
    description: str = ""
    threshold: float = Field(default=0.5, gt=0, le=1)
    checkpoints: dict[str, CheckpointConfig]
    violations: dict[str, ViolationConfig]
    custom_checkpoints: tuple[CustomCheckpointConfig, ...] = ()
    # A lexicon file beside the scorecard whose violation cues are added to the scorecard's own.
    lexicon: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]+\.lexicon\.yaml$")
    # A lexicon file beside the scorecard whose checkpoint cues are added to the checkpoints' own.
    checkpoint_lexicon: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]+\.lexicon\.yaml$")

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) else value

    @field_validator("checkpoints")
    @classmethod
    def _all_nine(cls, value: dict[str, CheckpointConfig]) -> dict[str, CheckpointConfig]:
        _check_keys("checkpoint", value, CHECKPOINTS, complete=True)
        return {key: value[key] for key in CHECKPOINTS}  # the taxonomy's order, whatever the file's

    @field_validator("violations")
    @classmethod
    def _all_four(cls, value: dict[str, ViolationConfig]) -> dict[str, ViolationConfig]:
        _check_keys("violation", value, VIOLATIONS, complete=True)
        return {key: value[key] for key in VIOLATIONS}

    @model_validator(mode="after")
    def _consistent(self) -> Scorecard:
        seen: set[str] = set()
        for custom in self.custom_checkpoints:
            if custom.key in CHECKPOINTS:
                raise ValueError(f"custom checkpoint {custom.key!r} reuses a standard checkpoint's key")
            if custom.key in seen:
                raise ValueError(f"custom checkpoint {custom.key!r} is defined twice")
            seen.add(custom.key)
        items: list[tuple[str, CheckpointConfig | CustomCheckpointConfig]] = [
            *self.checkpoints.items(),
            *((c.key, c) for c in self.custom_checkpoints),
        ]
        for key, item in items:
            if item.required and not item.enabled:
                raise ValueError(f"checkpoint {key!r} is required but disabled")
        if not any(i.enabled and i.applies_when == "always" and i.weight > 0 for _, i in items):
            raise ValueError("no enabled checkpoint that always applies has a positive weight")
        return self

    def threshold_of(self, key: str) -> float:
        """The probability at or above which a turn realises a standard checkpoint."""
        item = self.checkpoints.get(key)
        if item is None:
            raise KeyError(f"unknown checkpoint {key!r}; valid: {', '.join(CHECKPOINTS)}")
        return item.threshold if item.threshold is not None else self.threshold

    def classifier_threshold(self, violation: str) -> float | None:
        """The probability at which the classifier alone, without a cue, finds ``violation``;
        None when only a cue finds it."""
        item = self.violations.get(violation)
        if item is None:
            raise KeyError(f"unknown violation {violation!r}; valid: {', '.join(VIOLATIONS)}")
        return item.threshold


def _check_keys(kind: str, given: Mapping[str, Any], valid: tuple[str, ...], complete: bool = False) -> None:
    unknown = [k for k in given if k not in valid]
    if unknown:
        raise ValueError(f"unknown {kind} {', '.join(map(repr, unknown))}; valid: {', '.join(valid)}")
    missing = [k for k in valid if k not in given]
    if complete and missing:
        raise ValueError(
            f"missing {kind} {', '.join(map(repr, missing))}; list every {kind} "
            "(use enabled: false or penalty: 0 to switch one off)"
        )


class Lexicon(_Config):
    """A file of cues shared by scorecards: violation cues (``lexicon: <file>`` in a scorecard)
    or checkpoint cues (``checkpoint_lexicon: <file>``)."""

    description: str = ""
    violations: dict[str, ViolationCues] = Field(default_factory=dict)
    checkpoints: dict[str, ViolationCues] = Field(default_factory=dict)

    @field_validator("violations")
    @classmethod
    def _known(cls, value: dict[str, ViolationCues]) -> dict[str, ViolationCues]:
        _check_keys("violation", value, VIOLATIONS)
        return value

    @field_validator("checkpoints")
    @classmethod
    def _known_checkpoints(cls, value: dict[str, ViolationCues]) -> dict[str, ViolationCues]:
        _check_keys("checkpoint", value, CHECKPOINTS)
        return value


def _read_yaml(path: Path, what: str) -> dict[str, Any]:
    try:
        raw = load_yaml(path.read_text("utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"cannot read {what} {path}: {e}") from e
    if not isinstance(raw, dict):
        raise ConfigError(f"invalid {what} {path}: expected a mapping at the top, got {type(raw).__name__}")
    return raw


def _validate(model: type[_Model], raw: Mapping[str, Any], path: Path, what: str) -> _Model:
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}" for err in e.errors()
        )
        raise ConfigError(f"invalid {what} {path}: {problems}") from e


def load_lexicon(path: Path | str) -> Lexicon:
    path = Path(path)
    return _validate(Lexicon, _read_yaml(path, "lexicon"), path, "lexicon")


def load_scorecard(path: Path | str) -> Scorecard:
    """Read and check one scorecard file; :class:`ConfigError` names the file and the problem.

    The cues of its ``lexicon`` file, if it names one, are added to each violation's own.
    """
    path = Path(path)
    return parse_scorecard(_read_yaml(path, "scorecard"), path)


def parse_scorecard(raw: Mapping[str, Any], path: Path) -> Scorecard:
    """Check a scorecard given as data, as if it were the file ``path`` (its name must be the
    scenario's; its lexicon is looked for beside it)."""
    card = _validate(Scorecard, raw, path, "scorecard")
    if card.scenario != path.stem:
        raise ConfigError(f"invalid scorecard {path}: scenario {card.scenario!r} must match the file name")
    if card.lexicon is not None:
        shared = load_lexicon(path.parent / card.lexicon).violations
        card = card.model_copy(update={"violations": _with_cues(card.violations, shared)})
    if card.checkpoint_lexicon is not None:
        shared = load_lexicon(path.parent / card.checkpoint_lexicon).checkpoints
        card = card.model_copy(update={"checkpoints": _with_cues(card.checkpoints, shared)})
    return card


_Cued = TypeVar("_Cued", ViolationConfig, CheckpointConfig)


def _with_cues(items: dict[str, _Cued], shared: Mapping[str, ViolationCues]) -> dict[str, _Cued]:
    """Each item with the lexicon's cues for its key added after its own."""
    out = {}
    for key, own in items.items():
        cues = shared.get(key, ViolationCues())
        out[key] = own.model_copy(
            update={"keywords": own.keywords + cues.keywords, "patterns": own.patterns + cues.patterns}
        )
    return out


def load_scorecards(models_dir: Path | str) -> dict[str, Scorecard]:
    """Every scorecard under ``models_dir/scorecards``, by scenario."""
    folder = Path(models_dir) / "scorecards"
    paths = [p for p in sorted(folder.glob("*.yaml")) if not p.name.endswith(LEXICON_SUFFIX)]
    if not paths:
        raise ConfigError(f"no scorecards (*.yaml) in {folder}")
    return {card.scenario: card for card in map(load_scorecard, paths)}


# --- Inputs and results ------------------------------------------------------------------


@dataclass(frozen=True)
class ScoredTurn:
    """A turn with the classifier's probabilities.

    Sales turns carry one probability per checkpoint and violation key (a key left out
    counts as 0); customer turns say whether the customer voiced a concern.
    """

    index: int
    role: Role
    text: str
    start: float | None
    end: float | None
    checkpoints: Mapping[str, float] = field(default_factory=dict)
    violations: Mapping[str, float] = field(default_factory=dict)
    customer_concern: bool = False

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role {self.role!r} is not one of {', '.join(ROLES)}")
        _check_keys("checkpoint", self.checkpoints, CHECKPOINTS)
        _check_keys("violation", self.violations, VIOLATIONS)
        for key, p in {**self.checkpoints, **self.violations}.items():
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"turn {self.index}: probability of {key!r} is {p}, outside [0, 1]")


# --- The engine --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Hit:
    turn: ScoredTurn
    probability: float
    counts: bool
    matched: str | None = None


class Scorer:
    """Scores a call's turns against one scorecard.

    Args:
        scorecard: the scenario's scorecard.
        embed: sentence embedder for custom checkpoints' examples; with None only their
            keywords are used.
    """

    def __init__(self, scorecard: Scorecard, embed: Embedder | None = None) -> None:
        self.scorecard = scorecard
        self.embed = embed
        # Unit mean embedding of each custom checkpoint's examples, filled on first use.
        self.example_vectors: dict[str, np.ndarray] = {}
        self._keywords = {
            c.key: tuple((k, _keyword_pattern(k)) for k in c.keywords if k.strip())
            for c in scorecard.custom_checkpoints
        }
        self._cues = {key: _compile_cues(v.keywords, v.patterns) for key, v in scorecard.violations.items()}
        self._checkpoint_cues = {
            key: _compile_cues(c.keywords, c.patterns) for key, c in scorecard.checkpoints.items()
        }
        if embed is None:
            for c in scorecard.custom_checkpoints:
                if c.enabled and c.examples and not self._keywords[c.key]:
                    logger.warning("custom checkpoint %r has only examples and no embedder: never met", c.key)

    @classmethod
    def from_models_dir(cls, models_dir: Path | str, scenario: str, embed: Embedder | None = None) -> Scorer:
        cards = load_scorecards(models_dir)
        if scenario not in cards:
            raise ValueError(f"no scorecard for scenario {scenario!r}; available: {', '.join(sorted(cards))}")
        return cls(cards[scenario], embed)

    def score(self, turns: Sequence[ScoredTurn]) -> ScorecardResult:
        """Judge every checkpoint and violation of the scorecard on ``turns`` (in time order)."""
        card = self.scorecard
        sales = [t for t in turns if t.role == "sales"]
        concern = next((i for i, t in enumerate(turns) if t.role == "customer" and t.customer_concern), None)
        after_concern = [] if concern is None else [t for t in turns[concern + 1 :] if t.role == "sales"]

        def pool(applies_when: AppliesWhen) -> tuple[bool, list[ScoredTurn]]:
            if applies_when == "always":
                return True, sales
            return concern is not None, after_concern

        results: dict[str, CheckpointResult] = {}
        for key, cp in card.checkpoints.items():
            if not cp.enabled:
                continue
            applicable, candidates = pool(cp.applies_when)
            threshold = card.threshold_of(key)
            hits = []
            for t in candidates:
                p = t.checkpoints.get(key, 0.0)
                matched = None if p >= threshold else self._first_cue(self._checkpoint_cues[key], t.text)
                # A cue is the QA team's own rule: it counts as certain, like a custom keyword.
                hits.append(_Hit(t, 1.0 if matched else p, p >= threshold or matched is not None, matched))
            results[key] = _judge(hits, applicable, cp.required, cp.weight, cp.label, custom=False)

        customs = [c for c in card.custom_checkpoints if c.enabled]
        similarities = self._similarities(customs, sales)
        for c in customs:
            applicable, candidates = pool(c.applies_when)
            hits = []
            for t in candidates:
                flat = flatten(t.text)
                matched = next((k for k, pattern in self._keywords[c.key] if pattern.search(flat)), None)
                sim = similarities.get((c.key, id(t)), 0.0)
                hits.append(
                    _Hit(t, 1.0 if matched else sim, matched is not None or sim >= c.similarity, matched)
                )
            results[c.key] = _judge(hits, applicable, c.required, c.weight, c.label, custom=True)

        violations = self._violations(turns)
        penalty = sum(v.penalty for v in violations)
        counted = [r for r in results.values() if r.applicable]
        total = sum(r.weight for r in counted)
        earned = sum(r.weight for r in counted if r.passed)
        base = 100.0 * earned / total if total > 0 else 100.0
        return ScorecardResult(
            scenario=card.scenario,
            scorecard_version=card.version,
            score=round(min(100.0, max(0.0, base - penalty)), 1),
            checkpoints=results,
            violations=violations,
            missed_required=tuple(
                k for k, r in results.items() if r.applicable and r.required and not r.passed
            ),
            penalty=penalty,
        )

    def classifier_finds(self, vtype: str, probability: float) -> bool:
        """Whether the classifier alone, at ``probability``, counts ``vtype`` on this scorecard."""
        threshold = self.scorecard.classifier_threshold(vtype)
        return threshold is not None and probability >= threshold

    def violation_cue(self, vtype: str, text: str) -> str | None:
        """The first of the violation's keywords or patterns found in ``text``, if any."""
        return self._first_cue(self._cues[vtype], text)

    @staticmethod
    def _first_cue(cues: tuple[tuple[str, re.Pattern[str]], ...], text: str) -> str | None:
        if not cues:
            return None
        flat = flatten(text)
        return next((cue for cue, pattern in cues if pattern.search(flat)), None)

    def _violations(self, turns: Sequence[ScoredTurn]) -> tuple[ViolationResult, ...]:
        found: list[tuple[int, int, ViolationResult]] = []
        for order, (vtype, cfg) in enumerate(self.scorecard.violations.items()):
            n = 0
            for position, t in enumerate(turns):
                if t.role != "sales":
                    continue
                p = t.violations.get(vtype, 0.0)
                matched = self.violation_cue(vtype, t.text)
                if matched is None and not self.classifier_finds(vtype, p):
                    continue
                cost = cfg.penalty if n < cfg.max_count else 0.0
                n += 1
                found.append(
                    (
                        position,
                        order,
                        ViolationResult(
                            one_of(vtype, VIOLATIONS, "violation"),
                            t.index,
                            t.text,
                            t.start,
                            t.end,
                            p,
                            cost,
                            matched,
                        ),
                    )
                )
        return tuple(v for _, _, v in sorted(found, key=lambda item: item[:2]))

    def _similarities(
        self, customs: Sequence[CustomCheckpointConfig], sales: Sequence[ScoredTurn]
    ) -> dict[tuple[str, int], float]:
        """Cosine similarity of each sales turn to each custom checkpoint's examples, keyed by
        (checkpoint, ``id`` of the turn object): turn indices need not be unique."""
        customs = [c for c in customs if any(e.strip() for e in c.examples)]
        if self.embed is None or not customs or not sales:
            return {}
        missing = [c for c in customs if c.key not in self.example_vectors]
        if missing:
            texts = [e for c in missing for e in c.examples if e.strip()]
            vectors = self._embed(texts)
            at = 0
            for c in missing:
                n = sum(1 for e in c.examples if e.strip())
                self.example_vectors[c.key] = _unit(vectors[at : at + n].mean(axis=0))
                at += n
        turn_vectors = self._embed([t.text for t in sales])
        out: dict[tuple[str, int], float] = {}
        for c in customs:
            sims = turn_vectors @ self.example_vectors[c.key]
            for t, sim in zip(sales, sims, strict=True):
                out[(c.key, id(t))] = float(np.clip(sim, 0.0, 1.0))
        return out

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        assert self.embed is not None
        vectors = np.asarray(self.embed(list(texts)), dtype=np.float64)
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            raise ValueError(
                f"embed returned shape {vectors.shape} for {len(texts)} texts; expected (n, dim)"
            )
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms > 0, norms, 1.0)


def _judge(
    hits: Sequence[_Hit], applicable: bool, required: bool, weight: float, label: str, custom: bool
) -> CheckpointResult:
    if not applicable:
        return CheckpointResult(False, 1.0, required, weight, False, (), label, custom)
    ranked = sorted(hits, key=lambda h: -h.probability)  # stable: earlier turn first on ties
    passing = [h for h in ranked if h.counts]
    best = ranked[0].probability if ranked else 0.0
    if passing:
        evidence = tuple(_evidence(h, near_miss=False) for h in passing[:_MAX_EVIDENCE])
        return CheckpointResult(True, round(best, 4), required, weight, True, evidence, label, custom)
    # A failed checkpoint shows its closest turn, if any turn came near at all.
    near = (_evidence(ranked[0], near_miss=True),) if ranked and best > 0 else ()
    return CheckpointResult(False, round(1.0 - best, 4), required, weight, True, near, label, custom)


def _evidence(hit: _Hit, near_miss: bool) -> Evidence:
    t = hit.turn
    return Evidence(t.index, t.start, t.end, t.text, round(hit.probability, 4), near_miss, hit.matched)


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector




def _compile_cues(
    keywords: Sequence[str], patterns: Sequence[str]
) -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple((k, _keyword_pattern(k)) for k in keywords if k.strip()) + tuple(
        (p, re.compile(p)) for p in patterns
    )


def _keyword_pattern(keyword: str) -> re.Pattern[str]:
    # A keyword that begins or ends with a Latin letter or digit must do so at a word
    # boundary ("car" is not in "scary"); Chinese has no word boundaries to respect.
    flat = flatten(keyword)
    before = r"(?<![a-z0-9])" if re.match(r"[a-z0-9]", flat) else ""
    after = r"(?![a-z0-9])" if re.search(r"[a-z0-9]$", flat) else ""
    return re.compile(before + re.escape(flat) + after)
