"""Filters for Whisper's known hallucinations: subtitle credits, looping repeats.

Whisper was trained on subtitled video, so on silence or noise it writes what subtitle
files say (字幕由…提供, 请不吝点赞订阅, "Thanks for watching") and it can loop, writing one
phrase again and again. These filters work on words, so the text stays consistent with
the word timestamps, and they report what they removed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from callintel.text import comparison_key
from callintel.transcript import Word

# Whole phrases that are subtitle credits or channel outros, never car-sales speech.
CREDIT_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        r"字幕[由是]?.{0,20}?(提供|制作|翻译|校对|组)",
        r"(中文|简体|繁体|双语)?字幕(志愿者|组|制作)?",
        r"请?不吝点赞.{0,8}(订阅|转发|打赏|支持)*",
        r"(点赞|订阅|转发|打赏)(、|和|与)?(点赞|订阅|转发|打赏)+(支持)?",
        r"明镜(与|和)点点栏目",
        r"感谢(您的)?(观看|收看)",
        r"谢谢(大家|您)?(的)?(观看|收看)",
        r"下期再见",
        r"优优独播剧场.{0,12}",
        # Matched on normalised text (no spaces, no punctuation), so written that way.
        r"thanks?(you)?(so(much)?)?forwatching",
        r"pleasesubscribe(to(my|our|the)channel)?",
        r"subtitles?(by|madeby|providedby).{0,40}",
        r"amaraorg(community)?",
        r"transcribedby.{0,30}",
    )
)


@dataclass(frozen=True)
class FilterResult:
    words: tuple[Word, ...]
    removed: tuple[tuple[Word, ...], ...]
    reasons: tuple[str, ...]


def remove_credits(words: Sequence[Word]) -> FilterResult:
    """Drop the words that make up a subtitle credit or outro phrase."""
    keys = [comparison_key(w.word) for w in words]
    text = "".join(keys)
    owner: list[int] = [i for i, key in enumerate(keys) for _ in key]
    drop: set[int] = set()
    for pattern in CREDIT_PATTERNS:
        for match in pattern.finditer(text):
            if match.end() > match.start():
                drop.update(owner[match.start() : match.end()])
    # Words that normalise to nothing (punctuation) go with a removed neighbour.
    for i, key in enumerate(keys):
        if not key and (i - 1 in drop or i + 1 in drop):
            drop.add(i)
    return _split(words, drop, "subtitle credit")


def collapse_repeats(
    words: Sequence[Word], min_unit_chars: int = 4, max_short_repeats: int = 4, max_long_repeats: int = 2
) -> FilterResult:
    """Cut a phrase that Whisper loops on back to one copy.

    People say a phrase twice ("okay, okay", "thank you, thank you", "没问题没问题"), so two
    copies stay; a unit of at least ``min_unit_chars`` characters said more than
    ``max_long_repeats`` times in a row is Whisper looping and is kept once. A shorter unit
    ("对", "好") is natural to repeat more often, so only runs longer than
    ``max_short_repeats`` copies are cut back to one.
    """
    keys = [comparison_key(w.word) for w in words]
    index = [i for i, key in enumerate(keys) if key]
    units = [keys[i] for i in index]
    drop: set[int] = set()
    n = len(units)
    i = 0
    while i < n:
        best: tuple[int, int] | None = None  # (unit length, copies)
        for length in range(1, (n - i) // 2 + 1):
            unit = units[i : i + length]
            copies = 1
            while units[i + copies * length : i + (copies + 1) * length] == unit:
                copies += 1
            if copies < 2:
                continue
            chars = sum(len(u) for u in unit)
            if copies > (max_long_repeats if chars >= min_unit_chars else max_short_repeats):
                best = (length, copies)
                break
        if best is None:
            i += 1
            continue
        length, copies = best
        for j in range(i + length, i + copies * length):
            drop.add(index[j])
        i += copies * length
    return _split(words, drop, "repeated phrase")


def _split(words: Sequence[Word], drop: set[int], reason: str) -> FilterResult:
    if not drop:
        return FilterResult(tuple(words), (), ())
    kept = tuple(w for i, w in enumerate(words) if i not in drop)
    runs: list[tuple[Word, ...]] = []
    run: list[Word] = []
    for i, w in enumerate(words):
        if i in drop:
            run.append(w)
        elif run:
            runs.append(tuple(run))
            run = []
    if run:
        runs.append(tuple(run))
    return FilterResult(kept, tuple(runs), tuple(reason for _ in runs))


def remove_prompt_echo(words: Sequence[Word], prompt: str | None, min_terms: int = 3) -> FilterResult:
    """Drop runs of ``min_terms`` or more prompt/hotword terms said in the prompt's order.

    Whisper (the base model especially) sometimes copies its hotwords into the transcript;
    a customer naming several brands in exactly the prompt's order is far less likely.
    """
    terms = [comparison_key(t) for t in re.split(r"[\s,，、;；]+", prompt or "") if comparison_key(t)]
    if len(terms) < min_terms or not words:
        return FilterResult(tuple(words), (), ())
    keys = [comparison_key(w.word) for w in words]
    text = "".join(keys)
    owner = [i for i, key in enumerate(keys) for _ in key]
    drop: set[int] = set()
    # Any window of min_terms consecutive prompt terms, found as consecutive text.
    for first in range(len(terms) - min_terms + 1):
        run = "".join(terms[first : first + min_terms])
        start = text.find(run)
        while start != -1:
            end = start + len(run)
            # Extend over further terms that follow in order.
            nxt = first + min_terms
            while nxt < len(terms) and text.startswith(terms[nxt], end):
                end += len(terms[nxt])
                nxt += 1
            drop.update(owner[start:end])
            start = text.find(run, end)
    return _split(words, drop, "hotword echo")
