"""The purchase-intent grade from the classifier and the timeline the customer stated.

DOMAIN.md defines the grades by when the customer will buy (H within 7 days, A 15, B 30,
C about 3 months, N no intent). When the attribute tagger has read a timeline from the call,
that timeline is evidence for one grade; the classifier's probabilities are combined with it
as a likelihood, ``p(grade) ∝ p_classifier(grade) * q(grade)``, where ``q`` gives the implied
grade a weight ``reliability`` and shares the rest among the others. ``reliability`` is fitted
on the development split by negative log-likelihood (like the temperature), so a timeline the
tagger misreads, or a customer who says "next week" and is only browsing, costs what it
costs on data and the probabilities stay calibrated.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from callintel.corpus.labels import grade_for_days


def combine_with_timeline(
    probabilities: np.ndarray, grades: Sequence[str], days: int | None, reliability: float | None
) -> np.ndarray:
    """``probabilities`` (over ``grades``) updated by a stated timeline of ``days``."""
    if days is None or reliability is None:
        return probabilities
    implied = grades.index(grade_for_days(days))
    weights = np.full(len(grades), (1.0 - reliability) / (len(grades) - 1))
    weights[implied] = reliability
    combined = probabilities * weights
    return np.asarray(combined / combined.sum())


def fit_reliability(
    probabilities: np.ndarray, labels: np.ndarray, grades: Sequence[str], timelines: Sequence[int | None]
) -> float:
    """The reliability (0.2-0.99) that minimises the NLL of the combined grades on ``labels``."""
    best, best_loss = 0.2, float("inf")
    for reliability in np.linspace(0.2, 0.99, 80):
        loss = 0.0
        for p, label, days in zip(probabilities, labels, timelines, strict=True):
            combined = combine_with_timeline(p, grades, days, float(reliability))
            loss -= float(np.log(max(combined[label], 1e-12)))
        if loss < best_loss:
            best, best_loss = float(reliability), loss
    return round(best, 4)
