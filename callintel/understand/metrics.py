"""Conversation metrics of one call, per call and per role, from its timed turns.

Pure arithmetic on the transcript (no models): who talked how much, monologues, silences,
overlaps and interruptions, questions, speaking rate, and the customer's sentiment across the
call. Every definition, threshold and known limit is written up in ``docs/metrics.md``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from callintel.domain import ROLES, Role
from callintel.transcript import Turn
from callintel.understand.types import TurnSentiment

logger = logging.getLogger(__name__)

RateUnit = Literal["chars_per_min", "words_per_min"]
TrendDirection = Literal["rising", "falling", "flat"]
Interval = tuple[float, float]

# Languages whose speaking rate is counted in CJK characters rather than words.
CHARACTER_LANGUAGES = frozenset({"zh", "yue"})


@dataclass(frozen=True)
class MetricsOptions:
    """The thresholds the metrics use (seconds unless named otherwise); kept in the result.

    Attributes:
        word_gap: a pause between two words of one turn up to this long counts as talking
            (Whisper's word timings leave small gaps; 0.5 s is also the transcriber's
            ``min_silence_ms``, the shortest pause the pipeline treats as silence).
        monologue_gap: a role's speech stays one monologue across a pause up to this long in
            which the other role says nothing.
        interruption_overlap: the other role must still be talking this long after a turn
            starts for that turn to interrupt (ignores turn-boundary timing jitter).
        backchannel_max: a turn shorter than this that ends while the other role is still
            talking ("mm-hm", 嗯) is a back-channel, not an interruption.
        trend_threshold: the sentiment trend (difference of quarter means, score in [-1, 1])
            is ``rising``/``falling`` beyond +/- this, ``flat`` within.
    """

    word_gap: float = 0.5
    monologue_gap: float = 3.0
    interruption_overlap: float = 0.3
    backchannel_max: float = 1.0
    trend_threshold: float = 0.2


@dataclass(frozen=True)
class RoleMetrics:
    """How one role (``sales`` or ``customer``) took part in the call."""

    role: Role
    talk_time: float
    talk_ratio: float
    talk_percent: float
    turns: int
    longest_monologue: float
    longest_monologue_start: float | None
    questions: int
    speaking_rate: float | None
    rate_unit: RateUnit
    interruptions: int
    interrupted: int


@dataclass(frozen=True)
class Interruption:
    """``by`` started talking at ``at`` while ``of`` was still talking, for ``overlap`` s."""

    by: Role
    of: Role
    at: float
    overlap: float


@dataclass(frozen=True)
class SentimentPoint:
    """The customer's sentiment in one customer turn (index into the result's turns)."""

    turn: int
    start: float
    end: float
    label: str
    score: float


@dataclass(frozen=True)
class SentimentMetrics:
    """The customer's sentiment per turn and its trend over the call's four quarters.

    ``quarters`` holds the mean score of the customer turns whose midpoint falls in each
    quarter of the call (None where there is none); ``trend`` is the last non-empty quarter's
    mean minus the first's (None with fewer than two non-empty quarters).
    """

    turns: tuple[SentimentPoint, ...]
    quarters: tuple[float | None, ...]
    trend: float | None
    direction: TrendDirection | None


@dataclass(frozen=True)
class ConversationMetrics:
    """Call-level and per-role conversation metrics; times in seconds.

    ``talk_time`` is the time anyone speaks (overlaps counted once), so
    ``sales.talk_time + customer.talk_time == talk_time + overlap_time`` and
    ``talk_time + silence_time == duration``.
    """

    duration: float
    talk_time: float
    silence_time: float
    longest_silence: float
    longest_silence_start: float | None
    overlap_time: float
    turns: int
    turn_switches: int
    switches_per_minute: float | None
    rate_unit: RateUnit
    sales: RoleMetrics
    customer: RoleMetrics
    interruptions: tuple[Interruption, ...]
    interruption_counts: dict[str, int]
    sentiment: SentimentMetrics | None
    options: MetricsOptions


def conversation_metrics(
    turns: Sequence[Turn],
    duration: float,
    language: str,
    sentiment: Sequence[TurnSentiment] = (),
    options: MetricsOptions = MetricsOptions(),
) -> ConversationMetrics:
    """Compute the conversation metrics of a call from its timed turns.

    Args:
        turns: the call's turns, as in ``AnalysisResult.turns`` (indices in ``sentiment``
            refer to this sequence).
        duration: the recording's length; silence is measured within ``[0, duration]``
            (extended to the last word when that ends later).
        language: the call's language code; ``zh``/``yue`` count speaking rate in CJK
            characters per minute, others in words per minute.
        sentiment: the customer's sentiment per customer turn, or empty where there is none
            (the result's ``sentiment`` is then None).
        options: the thresholds.
    """
    horizon = max(duration, max((t.end for t in turns), default=0.0), 0.0)
    characters = language.split("-")[0].lower() in CHARACTER_LANGUAGES
    rate_unit: RateUnit = "chars_per_min" if characters else "words_per_min"
    talk = {
        role: _union(span for t in turns if t.role == role for span in _turn_talk(t, options.word_gap))
        for role in ROLES
    }
    anyone = _union([*talk["sales"], *talk["customer"]])
    talk_time = _measure(anyone)
    overlap = _measure(_intersect(talk["sales"], talk["customer"]))
    silences = _gaps(anyone, 0.0, horizon)
    longest = max(silences, key=lambda s: s[1] - s[0], default=None)

    ordered = sorted(turns, key=lambda t: (t.start, t.end))
    switches = sum(a.role != b.role for a, b in zip(ordered, ordered[1:], strict=False))
    interruptions = _interruptions(ordered, talk, options)
    role_sum = sum(_measure(talk[r]) for r in ROLES)

    per_role = {}
    for role in ROLES:
        own = [t for t in turns if t.role == role]
        seconds = _measure(talk[role])
        ratio = seconds / role_sum if role_sum > 0 else 0.0
        monologue = _longest_monologue(talk[role], talk[_other(role)], options.monologue_gap)
        units = sum(_rate_units(t.text, rate_unit) for t in own)
        per_role[role] = RoleMetrics(
            role=role,
            talk_time=_r(seconds),
            talk_ratio=round(ratio, 4),
            talk_percent=round(100 * ratio, 1),
            turns=len(own),
            longest_monologue=_r(monologue[1] - monologue[0]) if monologue else 0.0,
            longest_monologue_start=_r(monologue[0]) if monologue else None,
            questions=sum(count_questions(t.text) for t in own),
            speaking_rate=round(units / (seconds / 60), 1) if seconds > 0 else None,
            rate_unit=rate_unit,
            interruptions=sum(i.by == role for i in interruptions),
            interrupted=sum(i.of == role for i in interruptions),
        )

    return ConversationMetrics(
        duration=_r(horizon),
        talk_time=_r(talk_time),
        silence_time=_r(max(horizon - talk_time, 0.0)),
        longest_silence=_r(longest[1] - longest[0]) if longest else 0.0,
        longest_silence_start=_r(longest[0]) if longest else None,
        overlap_time=_r(overlap),
        turns=len(turns),
        turn_switches=switches,
        switches_per_minute=round(switches / (horizon / 60), 2) if horizon > 0 else None,
        rate_unit=rate_unit,
        sales=per_role["sales"],
        customer=per_role["customer"],
        interruptions=tuple(interruptions),
        interruption_counts={
            f"{by}->{of}": sum(i.by == by and i.of == of for i in interruptions)
            for by in ROLES
            for of in ROLES
            if by != of
        },
        sentiment=_sentiment(turns, horizon, sentiment, options.trend_threshold) if sentiment else None,
        options=options,
    )


# --- questions -------------------------------------------------------------------------------

# After a CJK end mark, or after an ASCII one followed by a space (not "2.5", "a.m.").
_SENTENCE_END = re.compile(r"(?<=[。！？])|(?<=[.!?])(?=\s)")
_ABBREVIATION = re.compile(r"(?:\b(?:[A-Za-z]\.){2,}|\b(?:Mr|Mrs|Ms|Dr|St|vs|etc)\.)$")
_WORD = re.compile(r"[^\W_]")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_ZH_FINAL = ("吗", "么", "呢")
_ZH_INTERROGATIVE = re.compile(
    r"什么|怎么|多少|哪|几|是不是|有没有|能不能|可不可以|要不要|会不会|对不对|行不行|好不好|对吗|好吗|为啥|为什么"
)
# Statements that contain an interrogative word: 没什么, 过几天 (in a few days), 几乎 ...
_ZH_NOT_INTERROGATIVE = re.compile(r"没什么|不怎么|什么都|怎么都|哪都|哪儿都|过几|这几|那几|好几|几乎")
_EN_QUESTION_START = frozenset(
    "what when where which who whom whose why how "
    "do does did is are was were am can could will would shall should may might must have has had "
    "isn't aren't wasn't weren't don't doesn't didn't can't couldn't won't wouldn't shouldn't "
    "haven't hasn't hadn't".split()
)


def sentences(text: str) -> list[str]:
    """The sentences of a turn's text, split after 。！？ and after .!? followed by a space.

    Each keeps its end mark; ``a.m.``, ``U.S.`` and ``Mr.`` end no sentence.
    """
    out: list[str] = []
    pending = ""
    for piece in _SENTENCE_END.split(text):
        pending += piece
        if _ABBREVIATION.search(pending.rstrip()):
            continue
        if not _WORD.search(pending) and out:
            out[-1] += pending.strip()  # stray end marks ("？！") stay with their sentence
        elif pending.strip():
            out.append(pending.strip())
        pending = ""
    if _WORD.search(pending):
        out.append(pending.strip())
    return [s for s in out if _WORD.search(s)]


def is_question(sentence: str) -> bool:
    """Whether one sentence asks a question (the rules are in docs/metrics.md)."""
    s = sentence.strip()
    if s.endswith(("?", "？")):
        return True
    body = s.rstrip("。！.!，,、…~～ ")
    if _CJK.search(body):
        # Whisper often leaves Mandarin questions without ？ (or ends them with 。).
        if body.endswith(_ZH_FINAL):
            return True
        return bool(_ZH_INTERROGATIVE.search(_ZH_NOT_INTERROGATIVE.sub("", body)))
    if not body or s.endswith((".", "!")):
        return False  # Whisper punctuated this English sentence as a statement
    first = body.split()[0].lower().strip("\"'“‘,")
    return first in _EN_QUESTION_START


def count_questions(text: str) -> int:
    """How many sentences of ``text`` are questions."""
    return sum(is_question(s) for s in sentences(text))


# --- speaking rate ---------------------------------------------------------------------------


def _rate_units(text: str, unit: RateUnit) -> int:
    if unit == "chars_per_min":
        return len(_CJK.findall(text))
    return sum(1 for token in text.split() if _WORD.search(token))


# --- intervals -------------------------------------------------------------------------------


def _turn_talk(turn: Turn, word_gap: float) -> list[Interval]:
    """When a turn's speaker is talking: its words, pauses up to ``word_gap`` closed; the
    turn's own span when it has no words."""
    spans = sorted((w.start, w.end) for w in turn.words if w.end > w.start)
    if not spans:
        return [(turn.start, turn.end)] if turn.end > turn.start else []
    merged = [spans[0]]
    for start, end in spans[1:]:
        if start - merged[-1][1] <= word_gap:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _union(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, disjoint intervals covering the given ones."""
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _measure(intervals: Iterable[Interval]) -> float:
    return sum((end - start for start, end in intervals), 0.0)


def _intersect(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    """The intersection of two sorted disjoint interval lists."""
    out: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if start < end:
            out.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def _gaps(intervals: Sequence[Interval], lo: float, hi: float) -> list[Interval]:
    """The parts of ``[lo, hi]`` that sorted disjoint ``intervals`` leave uncovered."""
    out: list[Interval] = []
    cursor = lo
    for start, end in intervals:
        if start > cursor:
            out.append((cursor, min(start, hi)))
        cursor = max(cursor, end)
        if cursor >= hi:
            break
    if cursor < hi:
        out.append((cursor, hi))
    return [g for g in out if g[1] > g[0]]


def _longest_monologue(own: Sequence[Interval], other: Sequence[Interval], max_gap: float) -> Interval | None:
    """The longest stretch in which only this role speaks.

    The role's talk minus the other's talk, joined across pauses up to ``max_gap`` in which
    the other role says nothing.
    """
    pieces: list[Interval] = []
    for start, end in own:
        pieces.extend(_gaps(other, start, end))
    if not pieces:
        return None
    runs = [pieces[0]]
    for start, end in pieces[1:]:
        gap = (runs[-1][1], start)
        if gap[1] - gap[0] <= max_gap and not _intersect([gap], other):
            runs[-1] = (runs[-1][0], end)
        else:
            runs.append((start, end))
    return max(runs, key=lambda r: r[1] - r[0])


def _interruptions(
    ordered: Sequence[Turn], talk: dict[Role, list[Interval]], options: MetricsOptions
) -> list[Interruption]:
    """Turns that start while the other role is talking and keeps talking for at least
    ``interruption_overlap`` seconds; back-channels excepted."""
    found: list[Interruption] = []
    for turn in ordered:
        other = _other(turn.role)
        own = _turn_talk(turn, options.word_gap)
        if not own:
            continue
        start, end = own[0][0], own[-1][1]
        for o_start, o_end in talk[other]:
            if o_start < start < o_end:
                overlap = min(o_end, end) - start
                backchannel = end <= o_end and end - start < options.backchannel_max
                if overlap >= options.interruption_overlap and not backchannel:
                    found.append(Interruption(turn.role, other, _r(start), _r(overlap)))
                break
    return found


# --- sentiment -------------------------------------------------------------------------------


def _sentiment(
    turns: Sequence[Turn], horizon: float, items: Sequence[TurnSentiment], threshold: float
) -> SentimentMetrics:
    points: list[SentimentPoint] = []
    for item in sorted(items, key=lambda s: s.turn):
        turn = turns[item.turn] if 0 <= item.turn < len(turns) else None
        if turn is None or turn.role != "customer":
            logger.warning("sentiment for turn %d ignored: not a customer turn of this call", item.turn)
            continue
        points.append(
            SentimentPoint(item.turn, _r(turn.start), _r(turn.end), item.label, round(item.score, 4))
        )
    scores: list[list[float]] = [[], [], [], []]
    if horizon > 0:
        for point in points:
            quarter = min(max(int(4 * (point.start + point.end) / 2 / horizon), 0), 3)
            scores[quarter].append(point.score)
    quarters = tuple(round(sum(q) / len(q), 4) if q else None for q in scores)
    filled = [q for q in quarters if q is not None]
    trend = round(filled[-1] - filled[0], 4) if len(filled) >= 2 else None
    direction: TrendDirection | None = None
    if trend is not None:
        direction = "rising" if trend > threshold else "falling" if trend < -threshold else "flat"
    return SentimentMetrics(tuple(points), quarters, trend, direction)


def _other(role: Role) -> Role:
    return "customer" if role == "sales" else "sales"


def _r(seconds: float) -> float:
    return round(seconds, 3)
