"""From the attribute tagger's token probabilities to normalised attribute mentions.

The tagger finds *where* an attribute is said; the normaliser (grammar and gazetteer) reads
*what* it says. A small model trained from scratch often tags only part of an expression
(``二十`` of ``二十个左右``, ``汉`` and ``达`` of ``汉兰达``), so for the keys whose values are
expressions (budget, timeline, car names) the decoder:

1. joins fragments of one key separated by a short gap inside a clause (``280`` ``to``
   ``360 grand``); car names join only across one character that is not a conjunction, so
   two cars said side by side (``迈腾和L60``) stay two;
2. reads a window around the span, a few units (a Chinese character, or a run of Latin
   letters and digits) either side, never across clause punctuation, and keeps the
   window's value when it has one: the normaliser already ignores the words around an
   amount or a date, and the window brings back the approximators, bounds and units the
   tagger left out (``大概``, ``的样子``, ``以下``, ``give or take``). For car names the
   smallest window that names a whole ``Brand Model`` wins over a brand alone.

A brand alone is dropped when the same turn names one of that brand's models under the same
key (``Volkswagen`` beside ``迈腾``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from callintel.domain import ATTRIBUTES
from callintel.understand.normalize import Gazetteer, normalize
from callintel.understand.tasks import spans_from_tags, word_span

EXPRESSION_KEYS = frozenset({"budget_cny", "purchase_timeline_days"})
CAR_KEYS = frozenset({"models_of_interest", "competitors"})
EXPRESSION_WINDOW = 4
"""Units read either side of a budget or timeline span."""
CAR_WINDOW = 2
"""Units tried either side of a car-name span (the brand said before a model, a suffix after)."""
_EXPRESSION_GAP = 3
_CLAUSE_STOP = re.compile(r"[，。！？；、!?;\n|]|[,.](?=\s|$)")
_UNIT = re.compile(r"[A-Za-z0-9][A-Za-z0-9'+]*(?:[.-][A-Za-z0-9]+)*|\S")
_CONJUNCTION = re.compile(r"^\s*(?:和|与|跟|或|还有|、|,|，|/)?\s*$")
# (left, right) widenings of a car-name span, smallest first: (0, 0), (1, 0), (0, 1), (1, 1) ...
_CAR_WIDENINGS = sorted(
    ((a, b) for a in range(CAR_WINDOW + 1) for b in range(CAR_WINDOW + 1)), key=lambda p: (p[0] + p[1], -p[0])
)


@dataclass(frozen=True)
class Mention:
    """One attribute said in a turn: its key, character span, normalised value and score."""

    key: str
    start: int
    end: int
    text: str
    value: Any
    score: float


def read_mentions(
    text: str,
    probabilities: np.ndarray,
    offsets: Sequence[Sequence[int]],
    labels: Sequence[str],
    call_date: dt.date,
    gazetteer: Gazetteer,
) -> list[Mention]:
    """The attribute mentions in one customer turn, from the tagger's softmax output.

    ``probabilities`` is tokens x labels (BIO labels named by ``labels``), ``offsets`` the
    tokens' character spans in ``text``.
    """
    tags = [labels[k] for k in probabilities.argmax(axis=1)]
    spans = [
        (*word_span(text, start, end), key, score)
        for start, end, key, score in spans_from_tags(offsets, tags, probabilities.max(axis=1).tolist())
        if key in ATTRIBUTES
    ]
    units = _units(text)
    mentions: list[Mention] = []
    for start, end, key, score in _join(text, spans):
        window = _read(text, units, start, end, key, call_date, gazetteer)
        if window is None:
            continue
        (start, end), value = window
        mentions.append(Mention(key, start, end, text[start:end], value, round(float(score), 4)))
    return _drop_bare_brands(mentions)


def _join(text: str, spans: Sequence[tuple[int, int, str, float]]) -> list[tuple[int, int, str, float]]:
    """Fragments of one expression joined (score: their mean)."""
    joined: list[list[Any]] = []  # [start, end, key, score sum, count]
    for start, end, key, score in sorted(spans):
        last = next((j for j in reversed(joined) if j[2] == key), None)
        if last is not None and last[1] <= start and _joinable(key, text[last[1] : start]):
            last[1] = max(last[1], end)
            last[3] += score
            last[4] += 1
            continue
        joined.append([start, end, key, score, 1])
    return [(s, e, k, total / n) for s, e, k, total, n in sorted(joined)]


def _joinable(key: str, gap: str) -> bool:
    if _CLAUSE_STOP.search(gap):
        return False
    if key in EXPRESSION_KEYS:
        return len(gap.strip()) <= _EXPRESSION_GAP
    if key in CAR_KEYS:
        # Only spaces, or one character that is not a conjunction (兰 of 汉兰达, not 和).
        return not gap.strip() or (len(gap.strip()) == 1 and not _CONJUNCTION.match(gap))
    return False


def _names_model(value: Any) -> bool:
    """Whether a car value is a whole ``Brand Model``, not a brand alone."""
    return " " in str(value)


def _units(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _UNIT.finditer(text)]


def _widen(
    text: str, units: Sequence[tuple[int, int]], start: int, end: int, left: int, right: int
) -> tuple[int, int]:
    """The span grown by up to ``left``/``right`` units, stopping at clause punctuation."""
    inside = [i for i, (s, e) in enumerate(units) if s < end and e > start]
    if not inside:
        return start, end
    first, last = inside[0], inside[-1]
    for _ in range(left):
        if first == 0 or _CLAUSE_STOP.match(text[units[first - 1][0] : units[first - 1][1]]):
            break
        first -= 1
    for _ in range(right):
        if last + 1 >= len(units) or _CLAUSE_STOP.match(text[units[last + 1][0] : units[last + 1][1]]):
            break
        last += 1
    return min(start, units[first][0]), max(end, units[last][1])


def _read(
    text: str,
    units: Sequence[tuple[int, int]],
    start: int,
    end: int,
    key: str,
    call_date: dt.date,
    gazetteer: Gazetteer,
) -> tuple[tuple[int, int], Any] | None:
    """The extent and value of one span, widened as the module docstring says."""

    def value(extent: tuple[int, int]) -> Any:
        return normalize(key, text[extent[0] : extent[1]], call_date, gazetteer)

    if key in EXPRESSION_KEYS:
        wide = _widen(text, units, start, end, EXPRESSION_WINDOW, EXPRESSION_WINDOW)
        for extent in (wide, (start, end)):
            found = value(extent)
            if found is not None:
                return extent, found
        return None
    if key in CAR_KEYS:
        fallback: tuple[tuple[int, int], Any] | None = None
        for left, right in _CAR_WIDENINGS:
            extent = _widen(text, units, start, end, left, right)
            found = value(extent)
            if found is None:
                continue
            if _names_model(found):
                return extent, found
            if fallback is None:
                fallback = (extent, found)
        return fallback
    found = value((start, end))
    return None if found is None else ((start, end), found)


def _drop_bare_brands(mentions: list[Mention]) -> list[Mention]:
    def car(m: Mention) -> bool:
        return m.key in CAR_KEYS

    named = {(m.key, str(m.value).split(" ", 1)[0]) for m in mentions if car(m) and _names_model(m.value)}
    return [
        m for m in mentions if not (car(m) and not _names_model(m.value) and (m.key, str(m.value)) in named)
    ]
