"""Call-level evaluation: the understanding stage run as a user runs it, scored as a QA reviewer would.

Each labelled call goes through ``Understander.understand`` (scorecards, lexicon, normaliser,
grade) and the result is compared with what a careful person wrote down for the call:

- **checkpoints**: passed or not, per call (P/R/F1 per checkpoint, macro-F1), where the call's
  scorecard judges the checkpoint (one it disables, like the walkaround on an outbound call, is
  left out), and whether the turn a passed checkpoint cites is one the reviewer marked;
- **violations**, as the scorecards decide: a (turn, type) found against the labelled ones (P/R
  per type and over all types) and the share of calls without a violation that get one;
- **attributes**: the call's value per key is *right* when it equals the label, a key not said
  counting as right only when nothing is reported (the CRM sees either); ``household`` is free
  text, so only said/not said is compared;
- **grade**: accuracy, share more than one grade away, ECE, confusion.

Every table is given for zh, en and both.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from callintel.domain import ATTRIBUTES, CHECKPOINTS, GRADES, VIOLATIONS
from callintel.training.labelled import LIST_KEYS, LabelledCall
from callintel.training.scores import GradeScores, LabelScore, grade_scores
from callintel.understand.types import Understanding

FREE_TEXT_KEYS = frozenset({"household"})
"""Attributes whose value is free text: compared as said / not said."""

Understand = Callable[[Sequence[LabelledCall]], list[Understanding]]


@dataclass(frozen=True)
class AttributeRight:
    key: str
    right: float  # share of calls whose reported value equals the label (nothing = not said)
    precision: float  # share of reported values that are right
    recall: float  # share of said values reported right
    said: int  # calls in which the label has a value


@dataclass(frozen=True)
class CallScores:
    """The call-level scores of one language group."""

    language: str
    calls: int
    checkpoints: tuple[LabelScore, ...]
    checkpoint_macro_f1: float
    checkpoint_evidence: float  # share of passed-and-labelled checkpoints citing a labelled turn
    violations: tuple[LabelScore, ...]
    violation_precision: float
    violation_recall: float
    clean_calls: int
    clean_calls_flagged: float
    attributes: tuple[AttributeRight, ...]
    grades: GradeScores
    uncited: int  # checkpoints, violations and attributes reported without a turn


@dataclass(frozen=True)
class CallEvalReport:
    groups: tuple[CallScores, ...]  # zh, en, all (the languages present, then all)
    errors: tuple[dict[str, Any], ...]  # one line per wrong call-level decision, for reading

    def group(self, language: str) -> CallScores:
        return next(g for g in self.groups if g.language == language)

    def to_dict(self) -> dict[str, Any]:
        return {"groups": [asdict(g) for g in self.groups], "errors": list(self.errors)}


def evaluate_calls(
    calls: Sequence[LabelledCall], understand: Understand, named: Callable[[str, str], str] | None = None
) -> CallEvalReport:
    """Run ``understand`` over ``calls`` and score the results call by call.

    ``named(car, language)`` gives a labelled car name as said in the call's language (the
    corpus labels English calls with the gazetteer's Chinese names; DOMAIN.md names a car in
    the call's language).
    """
    results = understand(calls)
    if named is not None:
        calls = [_named_cars(call, named) for call in calls]
    decided = [_Decided.of(call, result) for call, result in zip(calls, results, strict=True)]
    languages = [lang for lang in ("zh", "en") if any(c.language == lang for c in calls)]
    groups = [_score(lang, [d for d in decided if d.call.language == lang]) for lang in languages]
    if len(languages) != 1:
        groups.append(_score("all", decided))
    errors = tuple(e for d in decided for e in d.errors())
    return CallEvalReport(tuple(groups), errors)


def _named_cars(call: LabelledCall, named: Callable[[str, str], str]) -> LabelledCall:
    attributes = dict(call.attributes)
    for key in ("models_of_interest", "competitors"):
        if key in attributes:
            attributes[key] = [named(str(v), call.language) for v in attributes[key]]
    return replace(call, attributes=attributes)


def canonical(key: str, value: Any) -> Any:
    """A value in the form compared: lists as sorted tuples (car names case-folded), an open
    budget's lower end as 0, yuan as the default currency, free text as said (True)."""
    if value is None or value == [] or value == ():
        return None
    if key in FREE_TEXT_KEYS:
        return True
    if key in ("models_of_interest", "competitors"):  # IONIQ 5 and Ioniq 5 are one car
        return tuple(sorted(str(v).casefold() for v in value))
    if key in LIST_KEYS:
        return tuple(sorted(str(v) for v in value))
    if key == "budget_cny" and isinstance(value, Mapping):
        return (value.get("min") or 0, value.get("max"), value.get("currency") or "CNY")
    return json.dumps(value, sort_keys=True, ensure_ascii=False) if isinstance(value, dict | list) else value


@dataclass(frozen=True)
class _Decided:
    call: LabelledCall
    passed: frozenset[str]
    judged: frozenset[str]  # the checkpoints the call's scorecard has enabled
    cited: Mapping[str, frozenset[int]]  # passed checkpoint -> the turns its evidence cites
    violations: frozenset[tuple[int, str]]
    attributes: Mapping[str, Any]
    grade_probabilities: tuple[float, ...]
    uncited: int

    @classmethod
    def of(cls, call: LabelledCall, result: Understanding) -> _Decided:
        card = result.scorecard
        passed: frozenset[str] = frozenset(
            k for k, c in card.checkpoints.items() if k in CHECKPOINTS and c.passed
        )
        judged = frozenset(k for k in card.checkpoints if k in CHECKPOINTS)
        cited = {k: frozenset(e.turn for e in card.checkpoints[k].evidence) for k in passed}
        violations = frozenset((v.turn, v.type) for v in card.violations)
        uncited = sum(1 for k in passed if not cited[k])
        uncited += sum(1 for a in result.attributes.values() if not a.evidence)
        attributes = {key: a.value for key, a in result.attributes.items()}
        grades = result.intent.probabilities if result.intent is not None else {}
        probabilities = tuple(grades.get(g, 0.0) for g in GRADES)
        return cls(call, passed, judged, cited, violations, attributes, probabilities, uncited)

    def errors(self) -> list[dict[str, Any]]:
        c = self.call
        out: list[dict[str, Any]] = []
        for key in self.judged:
            if (key in c.checkpoints) != (key in self.passed):
                out.append({"id": c.id, "what": "checkpoint", "key": key, "label": key in c.checkpoints})
        gold = {(v.turn, v.type) for v in c.violations}
        for turn, vtype in sorted(self.violations ^ gold):
            out.append(
                {
                    "id": c.id,
                    "what": "violation",
                    "key": vtype,
                    "turn": turn,
                    "label": (turn, vtype) in gold,
                    "text": c.turns[turn].text,
                }
            )
        for key in ATTRIBUTES:
            label, reported = canonical(key, c.attributes.get(key)), canonical(key, self.attributes.get(key))
            if label != reported:
                out.append(
                    {"id": c.id, "what": "attribute", "key": key, "label": label, "reported": reported}
                )
        grade = GRADES[int(np.argmax(self.grade_probabilities))]
        if grade != c.grade:
            out.append({"id": c.id, "what": "grade", "label": c.grade, "reported": grade})
        return out


def _score(language: str, decided: Sequence[_Decided]) -> CallScores:
    checkpoints = tuple(
        _label_score(key, [(key in d.call.checkpoints, key in d.passed) for d in decided if key in d.judged])
        for key in CHECKPOINTS
    )
    both = [(d, k) for d in decided for k in d.passed if k in d.call.checkpoints]
    evidence = sum(1 for d, k in both if d.cited[k] & _turns_with(d.call, k)) / max(1, len(both))

    per_type = []
    total = {"tp": 0, "fp": 0, "fn": 0}
    for vtype in VIOLATIONS:
        tp = fp = fn = 0
        for d in decided:
            gold = {(v.turn, v.type) for v in d.call.violations if v.type == vtype}
            found = {v for v in d.violations if v[1] == vtype}
            tp, fp, fn = tp + len(gold & found), fp + len(found - gold), fn + len(gold - found)
        per_type.append(_from_counts(vtype, tp, fp, fn))
        total = {"tp": total["tp"] + tp, "fp": total["fp"] + fp, "fn": total["fn"] + fn}
    clean = [d for d in decided if not d.call.violations]

    attributes = []
    for key in ATTRIBUTES:
        pairs = [
            (canonical(key, d.call.attributes.get(key)), canonical(key, d.attributes.get(key)))
            for d in decided
        ]
        said = [p for p in pairs if p[0] is not None]
        reported = [p for p in pairs if p[1] is not None]
        attributes.append(
            AttributeRight(
                key=key,
                right=sum(a == b for a, b in pairs) / max(1, len(pairs)),
                precision=sum(a == b for a, b in reported) / max(1, len(reported)),
                recall=sum(a == b for a, b in said) / max(1, len(said)),
                said=len(said),
            )
        )
    truth = np.array([GRADES.index(d.call.grade) for d in decided])
    probabilities = np.array([d.grade_probabilities for d in decided])
    return CallScores(
        language=language,
        calls=len(decided),
        checkpoints=checkpoints,
        checkpoint_macro_f1=float(np.mean([s.f1 for s in checkpoints])),
        checkpoint_evidence=evidence,
        violations=tuple(per_type),
        violation_precision=total["tp"] / max(1, total["tp"] + total["fp"]),
        violation_recall=total["tp"] / max(1, total["tp"] + total["fn"]),
        clean_calls=len(clean),
        clean_calls_flagged=sum(1 for d in clean if d.violations) / max(1, len(clean)),
        attributes=tuple(attributes),
        grades=grade_scores(GRADES, truth, probabilities),
        uncited=sum(d.uncited for d in decided),
    )


def _turns_with(call: LabelledCall, key: str) -> frozenset[int]:
    return frozenset(i for i, keys in call.turn_checkpoints.items() if key in keys)


def _label_score(label: str, pairs: Sequence[tuple[bool, bool]]) -> LabelScore:
    tp = sum(1 for t, p in pairs if t and p)
    fp = sum(1 for t, p in pairs if p and not t)
    fn = sum(1 for t, p in pairs if t and not p)
    return _from_counts(label, tp, fp, fn)


def _from_counts(label: str, tp: int, fp: int, fn: int) -> LabelScore:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return LabelScore(label, precision, recall, f1, tp + fn)
