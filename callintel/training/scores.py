"""Scores of the understanding models, as `callintel eval` prints and the tests assert."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support


@dataclass(frozen=True)
class LabelScore:
    label: str
    precision: float
    recall: float
    f1: float
    support: int


def label_scores(labels: Sequence[str], truth: np.ndarray, predicted: np.ndarray) -> list[LabelScore]:
    """Per-label precision/recall/F1 of multi-hot arrays (examples × labels)."""
    p, r, f, s = precision_recall_fscore_support(truth, predicted, average=None, zero_division=0)
    return [
        LabelScore(label, float(p[i]), float(r[i]), float(f[i]), int(s[i])) for i, label in enumerate(labels)
    ]


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = 10) -> float:
    """ECE: the confidence-vs-accuracy gap averaged over equal-width confidence bins."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            ece += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(ece)


@dataclass(frozen=True)
class GradeScores:
    grades: tuple[str, ...]
    accuracy: float
    off_by_more_than_one: float
    ece: float
    confusion: list[list[int]]


def grade_scores(grades: Sequence[str], truth: np.ndarray, probabilities: np.ndarray) -> GradeScores:
    """Accuracy, share of errors more than one grade away (H-A-B-C-N order), ECE, confusion."""
    predicted = probabilities.argmax(axis=1)
    return GradeScores(
        grades=tuple(grades),
        accuracy=float((predicted == truth).mean()),
        off_by_more_than_one=float((np.abs(predicted - truth) > 1).mean()),
        ece=expected_calibration_error(probabilities, truth),
        confusion=confusion_matrix(truth, predicted, labels=list(range(len(grades)))).tolist(),
    )


@dataclass(frozen=True)
class AttributeScore:
    key: str
    exact_match: float  # share of gold (key, value) pairs found with the same normalised value
    precision: float
    f1: float
    support: int


@dataclass
class AttributeTally:
    """Counts gold and predicted (turn, key, value) triples per attribute key."""

    gold: dict[str, int] = field(default_factory=dict)
    predicted: dict[str, int] = field(default_factory=dict)
    matched: dict[str, int] = field(default_factory=dict)

    def add(self, gold: set[tuple[str, str]], predicted: set[tuple[str, str]]) -> None:
        """One turn's (key, canonical value) pairs."""
        for key, _ in gold:
            self.gold[key] = self.gold.get(key, 0) + 1
        for key, _ in predicted:
            self.predicted[key] = self.predicted.get(key, 0) + 1
        for key, _ in gold & predicted:
            self.matched[key] = self.matched.get(key, 0) + 1

    def scores(self) -> list[AttributeScore]:
        out = []
        for key in sorted(set(self.gold) | set(self.predicted)):
            gold, predicted, matched = (
                self.gold.get(key, 0),
                self.predicted.get(key, 0),
                self.matched.get(key, 0),
            )
            recall = matched / gold if gold else 0.0
            precision = matched / predicted if predicted else 0.0
            f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
            out.append(AttributeScore(key, recall, precision, f1, gold))
        return out
