"""The form spans are read in, and keyword tables: a value and the phrases (regular
expressions) that name it, found leftmost-longest, with the negations that deny them.

Phrases that start with a Latin letter match whole words only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from callintel.text import canonical

CJK = "\u3400-\u9fff"
"""Chinese characters (CJK Unified Ideographs and Extension A), for a regular-expression class."""


def prepare(text: str) -> str:
    """Full-width to ASCII (NFKC), Traditional to Simplified, lower case, no spaces inside Chinese."""
    text = canonical(text)
    # ASR puts spaces between Chinese characters and numbers at random (零克 08, 十五 到 二十万).
    text = re.sub(rf"(?<=[{CJK}\d])\s+(?=[{CJK}\d])", "", text)
    return text.strip()


@dataclass(frozen=True)
class Hit:
    """A phrase of a keyword table found in a text: where, and the value it names."""

    start: int
    end: int
    value: str


def compile_table(table: Mapping[str, Sequence[str]]) -> tuple[tuple[re.Pattern[str], str], ...]:
    """A keyword table ready for ``scan``: each phrase compiled, with the value it names."""
    compiled = []
    for value, phrases in table.items():
        for phrase in phrases:
            pattern = f"(?<![a-z])(?:{phrase})(?![a-z])" if re.match(r"[a-z(]", phrase) else phrase
            compiled.append((re.compile(pattern), value))
    return tuple(compiled)


def scan(table: Sequence[tuple[re.Pattern[str], str]], text: str) -> list[Hit]:
    """Every phrase of a table in a text, leftmost-longest, without overlaps, in text order."""
    found = sorted(
        (Hit(m.start(), m.end(), value) for pattern, value in table for m in pattern.finditer(text)),
        key=lambda h: (h.start, h.start - h.end),
    )
    kept: list[Hit] = []
    for hit in found:
        if hit.end > hit.start and (not kept or hit.start >= kept[-1].end):
            kept.append(hit)
    return kept


# 不要纯电, 不考虑贷款, 没有旧车, 非插电 ... ; "don't want an electric", "no loan", "without a loan".
_NEGATION_ZH = re.compile(
    r"(?:不|没|别|非|无需)(?:太|怎么|一定)?"
    r"(?:想要|需要|打算|考虑|喜欢|想|要|用|是|买|选|做|走|办|有|会|能|必)?"
    r"(?:要|买|开|考虑|用|选|做|走|办)?(?:个|辆|台|部|什么)?$"
)
_NEGATION_EN = re.compile(
    r"(?<![a-z])(?:no|not|nothing|don't|dont|do not|won't|wont|will not|never|without|rather not|isn't|"
    r"aren't|doesn't|didn't|can't|cannot)(?:\s+[a-z']+){0,3}\s+$"
)


def negated(text: str, start: int) -> bool:
    """Whether the words just before ``start`` deny what follows."""
    if _NEGATION_ZH.search(text[max(0, start - 8) : start]):
        return True
    return bool(_NEGATION_EN.search(text[max(0, start - 40) : start]))


def first_affirmed(table: Sequence[tuple[re.Pattern[str], str]], text: str) -> str | None:
    """The value of the first phrase of ``table`` in ``text`` that is not denied; None if none."""
    prepared = prepare(text)
    for hit in scan(table, prepared):
        if not negated(prepared, hit.start):
            return hit.value
    return None
