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

from callintel.domain import grade_for_days

DECLINED_RELIABILITY = 0.9
"""Weight of grade N when the customer says they will not buy and gives no time (issue 14:
on the natural dialogues every such call was graded N by its reviewer)."""
FULL_EVIDENCE_CHARACTERS = 150
"""Customer characters (a word counts 5) at which the classifier's grade is taken at full
weight; below, it is mixed with the uniform distribution in proportion."""
STATED_WEIGHT = 0.8
"""The classifier's weight beside a stated timeline (the rest uniform)."""
UNSTATED_WEIGHT = 0.6
"""The classifier's weight when no timeline is stated: trained on generated dialogues, it is
confidently wrong on natural ones (ECE 0.29), so the rest goes to the uniform distribution."""


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


def grade_probabilities(
    probabilities: np.ndarray,
    grades: Sequence[str],
    days: int | None,
    reliability: float | None,
    declined: str | None,
    customer_characters: int,
) -> np.ndarray:
    """The grade distribution of a call from all its evidence.

    A stated timeline decides most (``combine_with_timeline``). Without one, the classifier
    is tempered toward the uniform distribution, the more so the less the customer said (a
    10-second clip gives an uncertain grade, not a confident B), and a customer who says they
    will not buy (不买, "not in the market") makes N likely; one who bought elsewhere already
    (``declined == "lost"``) makes N likely whatever time they mention. With a timeline the
    classifier is tempered too, so that its certainty on a kind of talk it never saw cannot
    outvote what the customer said.
    """
    uniform = np.full(len(grades), 1.0 / len(grades))
    if days is not None and declined != "lost":
        stated = STATED_WEIGHT * np.asarray(probabilities) + (1.0 - STATED_WEIGHT) * uniform
        return combine_with_timeline(stated, grades, days, reliability)
    weight = UNSTATED_WEIGHT * min(1.0, customer_characters / FULL_EVIDENCE_CHARACTERS)
    tempered = weight * np.asarray(probabilities) + (1.0 - weight) * uniform
    if not declined or "N" not in grades:
        return np.asarray(tempered / tempered.sum())
    likelihood = np.full(len(grades), (1.0 - DECLINED_RELIABILITY) / (len(grades) - 1))
    likelihood[grades.index("N")] = DECLINED_RELIABILITY
    combined = tempered * likelihood
    return np.asarray(combined / combined.sum())


def customer_characters(texts: Sequence[str]) -> int:
    """How much the customer said: Chinese characters, and five per Latin word."""
    text = " ".join(texts)
    chinese = sum(1 for c in text if "\u3400" <= c <= "\u9fff")
    words = len([w for w in text.split() if any(c.isascii() and c.isalpha() for c in w)])
    return chinese + 5 * words
