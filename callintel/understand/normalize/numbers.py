"""Numbers said in words to Arabic digits: Chinese numerals (through cn2an), spoken ranges
(两三天, 十五六万) and English number words (two hundred thousand)."""

from __future__ import annotations

import logging
import re
import warnings

import cn2an

logger = logging.getLogger(__name__)

CN_DIGITS = "零一二三四五六七八九"
CN_NUMERALS = "零〇一二两三四五六七八九十百千万"


def arabic(text: str) -> str:
    """Chinese numerals to Arabic digits inside a sentence (cn2an), 二十 -> 20, 三天 -> 3天."""
    with warnings.catch_warnings():
        # cn2an warns on every fragment it cannot read (a lone 万) and leaves it as it is.
        warnings.simplefilter("ignore")
        try:
            return str(cn2an.transform(text, "cn2an"))
        except (ValueError, KeyError, IndexError) as e:  # cn2an raises on some odd fragments
            logger.debug("cn2an could not read %r: %s", text, e)
            return text


_PAIR_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_PAIR = re.compile(
    r"(?<![零〇一二两三四五六七八九十百千])(?P<pre>[一二两三四五六七八九]?十)?"
    r"(?P<a>[一二两三四五六七八九])(?P<b>[一二两三四五六七八九])(?P<mul>[十百千])?"
)


def expand_pairs(text: str) -> str:
    """Spoken approximate ranges to explicit ones: 两三天 -> 二到三天, 十五六万 -> 十五到十六万,
    二三十万 -> 二十到三十万 (cn2an would read 两三 as 23)."""

    def repl(m: re.Match[str]) -> str:
        a, b = _PAIR_DIGITS[m["a"]], _PAIR_DIGITS[m["b"]]
        pre, mul = m["pre"] or "", m["mul"] or ""
        if not (b == a + 1 or (a, b) == (3, 5)) or (pre and mul):
            return m.group(0)
        low, high = m["a"].replace("两", "二"), m["b"].replace("两", "二")
        return f"{pre}{low}{mul}到{pre}{high}{mul}"

    return _PAIR.sub(repl, text)


_EN_SMALL = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen".split()
    )
}
_EN_TENS = {
    w: 10 * i for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), 2)
}
_EN_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
_EN_WORD = "|".join(sorted([*_EN_SMALL, *_EN_TENS, *_EN_SCALES], key=len, reverse=True))
_EN_FIRST = "|".join(sorted([*_EN_SMALL, *_EN_TENS], key=len, reverse=True))
# A number starts with a digit word or 'a': a scale word alone (the thousand of '200 thousand')
# stays a word, read as a unit.
_EN_NUMBER = re.compile(
    rf"(?<![a-z])(?:(?:a|an)\s+(?=hundred|thousand|million)|(?={_EN_FIRST}))(?:{_EN_WORD})"
    rf"(?:[\s-]+(?:and\s+)?(?:{_EN_WORD}))*(?![a-z])"
)


def english_numbers(text: str) -> str:
    """English number words to digits: 'two hundred thousand' -> '200000', 'three days' -> '3 days'."""

    def repl(m: re.Match[str]) -> str:
        total, current = 0, 0
        for word in re.findall(r"[a-z]+", m.group(0)):
            if word in _EN_SMALL:
                current += _EN_SMALL[word]
            elif word in _EN_TENS:
                current += _EN_TENS[word]
            elif word == "hundred":
                current = max(current, 1) * 100
            elif word in _EN_SCALES:
                total += max(current, 1) * _EN_SCALES[word]
                current = 0
        return str(total + current)

    return _EN_NUMBER.sub(repl, text)


def to_digits(text: str) -> str:
    """Prepared text with every number in Arabic digits, Chinese and English."""
    # cn2an leaves a lone 两 before some words (两周, 两星期); 二 means the same to it.
    text = re.sub(r"两(?=[周星礼到至])", "二", expand_pairs(text))
    return english_numbers(arabic(text))
