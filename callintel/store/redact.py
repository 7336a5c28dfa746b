"""PII redaction for transcripts and recordings (PIPL/GDPR): find, mask, mute.

``find_pii`` finds phone numbers, ID-card numbers (居民身份证), bank cards, mainland licence
plates and e-mail addresses in Mandarin or English text, including numbers read out digit by
digit in Chinese (幺三八 零零幺三 八零零零). Masking is length-preserving, so offsets, word
timings and anything else keyed to character positions keep working on the redacted text.

How numbers are found: the text is first mapped character for character (so offsets hold) to
ASCII digits: full-width digits, 零〇一二三四五六七八九, and the spoken forms 幺 (1), 两 (2),
洞 (0); 加 before digits becomes '+'. Quantity characters (十百千万亿) are not mapped, so
二十万 or 三千五 never form a digit run. Runs of at least seven digits, allowing short runs of
separators (spaces, hyphens, dots, commas, 、, brackets) between them, are the candidates; each
is checked as an ID number (mod 11-2 checksum and birth date), a bank card (Luhn, 16-19 digits)
and a phone number (``phonenumbers.PhoneNumberMatcher``), in that order of precedence.
"""

from __future__ import annotations

import calendar
import copy
import datetime as dt
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import phonenumbers
from phonenumbers import Leniency, PhoneNumberMatcher

from callintel.audio.encode import read_native, write_flac

logger = logging.getLogger(__name__)

PII_KINDS: tuple[str, ...] = ("phone", "id_card", "bank_card", "plate", "email")

# When candidates overlap, the earlier kind wins (an 18-digit ID is not a bank card; an
# e-mail such as 12345678@qq.com is not a phone number).
_PRECEDENCE = {"email": 0, "id_card": 1, "bank_card": 2, "phone": 3, "plate": 4}

MIN_DIGITS = 7
"""Digit runs shorter than this are never phone, ID or bank-card numbers."""


@dataclass(frozen=True)
class PiiSpan:
    """One piece of PII: character offsets ``[start, end)`` into the text searched."""

    start: int
    end: int
    kind: str
    text: str


@dataclass(frozen=True)
class RedactedSpan:
    """Where something was masked in a transcript, for audit and for muting the audio.

    ``start``/``end`` are seconds, from the words that carried the masked characters (the
    turn's own times when its words cannot be aligned to its text; None when it has no words).
    """

    turn: int
    kind: str
    start: float | None
    end: float | None


# ---------------------------------------------------------------------------------------
# Character mapping (1:1, so offsets into the mapped text are offsets into the original)

_DIGIT_MAP: dict[str, str] = {
    **{chr(0xFF10 + d): str(d) for d in range(10)},  # full-width ０-９
    **dict(zip("零一二三四五六七八九", "0123456789", strict=True)),
    "〇": "0",
    "洞": "0",  # radio/aviation reading of 0
    "幺": "1",  # 1 read so that it cannot be heard as 7
    "两": "2",
    "兩": "2",
}
_PUNCT_MAP: dict[str, str] = {
    "＋": "+",
    "（": "(",
    "）": ")",
    "－": "-",
    "．": ".",
    "＠": "@",
    "\u3000": " ",
    "\u00a0": " ",
}
_TRANSLATION = str.maketrans({**_DIGIT_MAP, **_PUNCT_MAP})
_PLUS_WORD = re.compile(r"加(?=\s?[0-9])")


def to_ascii_digits(text: str) -> str:
    """``text`` with every digit-like character (full-width, Chinese, spoken 幺/两/洞) turned
    into an ASCII digit and 加 before digits into '+', one character for one, so offsets hold.

    Chinese characters of quantity (十百千万亿) are left alone: they break a run of digits.
    """
    mapped = text.translate(_TRANSLATION)
    return _PLUS_WORD.sub("+", mapped)


# ---------------------------------------------------------------------------------------
# Checks for each kind of number

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# First two digits of a 居民身份证 number: the province-level division (GB/T 2260).
_ID_PROVINCES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46}
    | {50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83, 91}
)


def id_card_check_char(first17: str) -> str:
    """The GB 11643-1999 check character (ISO 7064 mod 11-2) of an ID number's first 17 digits."""
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def is_id_card(number: str) -> bool:
    """True for an 18-character 居民身份证 number: known province, a real birth date between
    1900 and today, and the right check character (digit or X)."""
    if len(number) != 18 or not number[:17].isascii() or not number[:17].isdigit():
        return False
    if int(number[:2]) not in _ID_PROVINCES:
        return False
    year, month, day = int(number[6:10]), int(number[10:12]), int(number[12:14])
    if not (1900 <= year <= dt.date.today().year and 1 <= month <= 12):
        return False
    if not 1 <= day <= calendar.monthrange(year, month)[1]:
        return False
    return number[17].upper() == id_card_check_char(number[:17])


def luhn_ok(digits: str) -> bool:
    """True when ``digits`` passes the Luhn check (payment card numbers)."""
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def is_bank_card(digits: str) -> bool:
    """True for 16-19 digits passing the Luhn check."""
    return 16 <= len(digits) <= 19 and digits.isascii() and digits.isdigit() and luhn_ok(digits)


_CN_MOBILE = re.compile(r"1[3-9]\d{9}")
_CN_LANDLINE = re.compile(r"0[1-9]\d{8,10}")


def _phone_shape_ok(raw: str, digits: str, region: str) -> bool:
    """For a number phonenumbers calls only *possible*: accept it when its shape says phone.

    That is a Chinese mobile (prefixes are allocated faster than the metadata follows), a
    number written with '+' (nobody writes a price or a date so), or, in China, an area code
    after the trunk 0 (010-80000000: the metadata knows only the local ranges it has seen).
    """
    if _CN_MOBILE.fullmatch(digits) or raw.lstrip("( ").startswith("+"):
        return True
    return region == "CN" and bool(_CN_LANDLINE.fullmatch(digits))


# ---------------------------------------------------------------------------------------
# Finding

_SEP = r"[ \t\-\u2010-\u2015.,，、()/]"
_RUN = re.compile(rf"(?:[+(]\s?)?[0-9](?:{_SEP}{{0,3}}[0-9])*")
_X_TAIL = re.compile(rf"{_SEP}{{0,2}}([Xx叉])")
# Characters that, written straight after digits, make them a quantity, a date or a price.
_UNITS = frozenset("年月日号万千百十亿元块毛角岁个点%度台辆次天周秒倍公米")
_COMMAS = str.maketrans({",": " ", "，": " ", "、": " "})

_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLATE_LETTER = "A-HJ-NP-Za-hj-np-z"  # I and O are not used on plates
_PLATE = re.compile(
    rf"[{_PROVINCES}]\s?[{_PLATE_LETTER}][·•・.\- ]?"
    # Five or six characters (six on new-energy plates); trailer, learner and police plates
    # put 挂/学/警 in the last place (粤B·1234学), Hong Kong and Macau ones 港/澳.
    rf"([{_PLATE_LETTER}0-9]{{5,6}}(?![A-Za-z0-9])[挂学警]?|[{_PLATE_LETTER}0-9]{{4}}[挂学警港澳])"
)
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9][A-Za-z0-9._%+\-]*@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"
    r"(?![A-Za-z0-9])"
)
_TLDS = r"(?:com|net|org|edu|gov|cn|io|co|uk|de|fr|jp|hk|tw|me|info|biz)"
_SPOKEN_DOT = r"(?:\s+dot\s+|\s*点\s*)"
_SPOKEN_EMAIL = re.compile(
    rf"(?<![A-Za-z0-9])[A-Za-z0-9]+(?:(?:{_SPOKEN_DOT}|\s+underscore\s+|\s*下划线\s*)[A-Za-z0-9]+)*"
    rf"(?:\s+at\s+|\s*艾特\s*)[A-Za-z0-9]+(?:{_SPOKEN_DOT}[A-Za-z0-9]+)*{_SPOKEN_DOT}{_TLDS}(?![A-Za-z0-9])",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class _Candidate:
    start: int
    end: int
    kind: str


def _check_kinds(kinds: Iterable[str]) -> frozenset[str]:
    chosen = frozenset(kinds)
    unknown = sorted(chosen - set(PII_KINDS))
    if unknown:
        raise ValueError(f"unknown PII kind(s) {unknown}; valid kinds are {', '.join(PII_KINDS)}")
    return chosen


def find_pii(text: str, kinds: Iterable[str] = PII_KINDS, region: str = "CN") -> list[PiiSpan]:
    """The PII in ``text``, in order, without overlaps.

    Args:
        text: a transcript line or any string, Mandarin or English.
        kinds: which of :data:`PII_KINDS` to report. All kinds are still looked for, so a
            number is reported under its real kind or not at all (an ID number is never
            reported as a phone because ``id_card`` was left out).
        region: the phonenumbers region for numbers written without a country code.

    Raises:
        ValueError: a kind that is not in :data:`PII_KINDS`.
    """
    chosen = _check_kinds(kinds)
    if not text:
        return []
    mapped = to_ascii_digits(text)
    candidates: list[_Candidate] = []
    candidates += _find_emails(mapped)
    for run in _RUN.finditer(mapped):
        candidates += _scan_run(text, mapped, run.start(), run.end(), region.upper())
    candidates += _find_plates(mapped)
    accepted: list[_Candidate] = []
    for cand in sorted(candidates, key=lambda c: (_PRECEDENCE[c.kind], c.start)):
        if all(cand.end <= a.start or cand.start >= a.end for a in accepted):
            accepted.append(cand)
    spans = [PiiSpan(c.start, c.end, c.kind, text[c.start : c.end]) for c in accepted if c.kind in chosen]
    spans.sort(key=lambda s: s.start)
    logger.debug("found %d PII span(s) in %d characters", len(spans), len(text))
    return spans


def _find_emails(mapped: str) -> list[_Candidate]:
    found = [_Candidate(m.start(), m.end(), "email") for m in _EMAIL.finditer(mapped)]
    for m in _SPOKEN_EMAIL.finditer(mapped):
        found.append(_Candidate(m.start(), m.end(), "email"))
    return found


def _find_plates(mapped: str) -> list[_Candidate]:
    found = []
    for m in _PLATE.finditer(mapped):
        # Plates carry at most two letters after the city letter; words such as 京A MODEL do not.
        if sum(c.isdigit() for c in m.group(1)) >= 3:
            found.append(_Candidate(m.start(), m.end(), "plate"))
    return found


def _scan_run(text: str, mapped: str, start: int, end: int, region: str) -> list[_Candidate]:
    """ID, bank-card and phone numbers inside one run of digits and separators."""
    if end < len(mapped) and mapped[end] in _UNITS and mapped[end : end + 2] != "号码":
        # The last group counts something (验证码800777，1990年; 1500000元): it is not part of a
        # number, unless it is one long enough to be nothing else (幺三八零零幺三八零零零号码).
        last_digits = re.search(r"[0-9]+$", mapped[start:end])
        if last_digits is None or last_digits.start() > 0 or end - start < 11:
            end = start + (last_digits.start() if last_digits else 0)
            while end > start and not mapped[end - 1].isdigit():
                end -= 1
            if end == start:
                return []
    tokens = [i for i in range(start, end) if "0" <= mapped[i] <= "9"]
    if len(tokens) < MIN_DIGITS:
        return []
    x_tail = _X_TAIL.match(mapped, end)
    after = x_tail.end() if x_tail else end
    if x_tail and after < len(mapped) and mapped[after].isascii() and mapped[after].isalpha():
        x_tail, after = None, end
    # A run glued to Latin letters is part of a code (a VIN, an order number, a model name).
    before_ok = start == 0 or not (mapped[start - 1].isascii() and mapped[start - 1].isalpha())
    after_ok = after >= len(mapped) or not (mapped[after].isascii() and mapped[after].isalpha())
    if not (before_ok and after_ok):
        return []
    id_tokens = tokens + [x_tail.start(1)] if x_tail else tokens
    covered = [False] * len(id_tokens)
    found: list[_Candidate] = []

    def take(i: int, j: int, kind: str, span_start: int | None = None, span_end: int | None = None) -> None:
        for k in range(i, j + 1):
            covered[k] = True
        s = id_tokens[i] if span_start is None else span_start
        e = id_tokens[j] + 1 if span_end is None else span_end
        found.append(_Candidate(s, e, kind))

    def digits(i: int, j: int) -> str:
        return "".join(mapped[p] if mapped[p].isdigit() else "X" for p in id_tokens[i : j + 1])

    def one_separator(i: int, j: int) -> bool:
        # Card and ID numbers are grouped with one kind of separator; two dates or a date and
        # a price side by side ("2000-01-01，2009-09-28") are not, however their digits add up.
        seps = {mapped[id_tokens[k] + 1 : id_tokens[k + 1]] for k in range(i, j)}
        return len(seps - {""}) <= 1

    def id_card(i: int, j: int) -> bool:
        return is_id_card(digits(i, j)) and one_separator(i, j)

    def bank_card(i: int, j: int) -> bool:
        return is_bank_card(digits(i, j)) and one_separator(i, j)

    lead = start if mapped[start] in "+(" else None
    if id_card(0, len(id_tokens) - 1):
        take(0, len(id_tokens) - 1, "id_card")
        return found
    if bank_card(0, len(tokens) - 1):
        take(0, len(tokens) - 1, "bank_card")
        return found
    for i, j in _windows(id_tokens, covered, id_card):
        take(i, j, "id_card")
    for seg_i, seg_j in _segments(covered[: len(tokens)]):
        seg_start = lead if seg_i == 0 and lead is not None else tokens[seg_i]
        for s, e in _phones(mapped, seg_start, tokens[seg_j] + 1, region, text[seg_start] == "加"):
            first = next(k for k, p in enumerate(tokens) if p >= s)
            last = max(k for k, p in enumerate(tokens) if p < e)
            take(first, last, "phone", span_start=s, span_end=e)
    for i, j in _windows(tokens, covered, bank_card):
        take(i, j, "bank_card")
    return found


def _groups(tokens: Sequence[int]) -> list[tuple[int, int]]:
    """Token index ranges of digits written together (no separator between them)."""
    groups: list[tuple[int, int]] = []
    first = 0
    for k in range(1, len(tokens) + 1):
        if k == len(tokens) or tokens[k] != tokens[k - 1] + 1:
            groups.append((first, k - 1))
            first = k
    return groups


def _windows(
    tokens: Sequence[int], covered: Sequence[bool], check: Callable[[int, int], bool]
) -> list[tuple[int, int]]:
    """Greedy, longest-first windows of whole digit groups that pass ``check``, left to right,
    over tokens not yet covered. Windows longer than 19 digits are never tried."""
    groups = _groups(tokens)
    found: list[tuple[int, int]] = []
    gi = 0
    while gi < len(groups):
        hit = None
        i = groups[gi][0]
        last = gi
        while last + 1 < len(groups) and groups[last + 1][1] - i + 1 <= 19:
            last += 1
        for gj in range(last, gi - 1, -1):
            j = groups[gj][1]
            if j - i + 1 > 19 or any(covered[i : j + 1]):
                continue
            if j - i + 1 >= 16 and check(i, j):
                hit = gj
                found.append((i, j))
                break
        gi = gi + 1 if hit is None else hit + 1
    return found


def _segments(covered: Sequence[bool]) -> list[tuple[int, int]]:
    """Maximal index ranges of uncovered tokens with at least MIN_DIGITS of them."""
    segments = []
    k = 0
    while k < len(covered):
        if covered[k]:
            k += 1
            continue
        first = k
        while k < len(covered) and not covered[k]:
            k += 1
        if k - first >= MIN_DIGITS:
            segments.append((first, k - 1))
    return segments


def _phones(mapped: str, start: int, end: int, region: str, spoken_plus: bool) -> list[tuple[int, int]]:
    """Phone numbers in ``mapped[start:end]``: those phonenumbers calls valid, then those it
    calls possible whose shape says phone. Offsets are into ``mapped``."""
    segment = mapped[start:end]
    found = _match_phones(segment, region)
    if spoken_plus and not any(s == 0 and valid for s, _, valid in found):
        # '+' may be a mapped 加 ("加13800138000" is "add 138…", not a country code).
        without = _match_phones(" " + segment[1:], region)
        if without:
            found = without
    return [(start + s, start + e) for s, e, _ in found]


def _match_phones(segment: str, region: str) -> list[tuple[int, int, bool]]:
    """(start, end, valid) of the phone numbers in ``segment`` (mapped text, commas kept)."""
    plain = segment.translate(_COMMAS)  # phonenumbers does not take commas as separators
    found: list[tuple[int, int, bool]] = []
    for match in PhoneNumberMatcher(plain, region, leniency=Leniency.VALID):
        if _plausible(segment[match.start : match.end], match.number):
            found.append((match.start, match.end, True))
    for match in PhoneNumberMatcher(plain, region, leniency=Leniency.POSSIBLE):
        if any(match.start < e and s < match.end for s, e, _ in found):
            continue
        raw = segment[match.start : match.end]
        number_digits = "".join(c for c in raw if c.isdigit())
        if _phone_shape_ok(raw, number_digits, region) and _plausible(raw, match.number):
            if phonenumbers.is_possible_number(match.number):
                found.append((match.start, match.end, False))
    found.sort()
    return found


_SEPARATOR_CLASS = str.maketrans({" ": "-", "\t": "-", "(": None, ")": None, "+": None, "，": ",", "、": ","})
_SEPARATOR_CLASS.update({c: "-" for c in range(0x2010, 0x2016)})


def _plausible(raw: str, number: phonenumbers.PhoneNumber) -> bool:
    """Reject what phonenumbers accepts but nobody writes as a phone number: fewer than seven
    digits, separators of several kinds (two dates side by side), or a Chinese landline whose
    trunk 0 is missing (2000010110 is "valid" as 020-00010110, and is more likely a date)."""
    digits = "".join(c for c in raw if c.isdigit())
    if len(digits) < MIN_DIGITS:
        return False
    body = re.sub(r"^[(\s]*\+\s*", "", raw.strip())  # "+ 49 …": the space after '+' is no separator
    separators = set(re.sub(r"[0-9]", "", body).translate(_SEPARATOR_CLASS))
    if len(separators) > 1:
        return False
    explicit = raw.lstrip("( ").startswith("+") or digits.startswith("00")
    if number.country_code == 86 and not explicit and not digits.startswith("0"):
        kind = phonenumbers.number_type(number)
        if kind in (
            phonenumbers.PhoneNumberType.FIXED_LINE,
            phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
        ):
            return False
    return True


# ---------------------------------------------------------------------------------------
# Masking


def mask_text(text: str, spans: Sequence[PiiSpan], char: str = "*") -> str:
    """Length-preserving: every character of a span that is not a space becomes ``char``.

    Raises:
        ValueError: ``char`` is not one character, or a span lies outside ``text``.
    """
    if len(char) != 1:
        raise ValueError(f"char must be a single character, not {char!r}")
    chars = list(text)
    for span in spans:
        if not 0 <= span.start <= span.end <= len(text):
            raise ValueError(f"span {span.start}:{span.end} lies outside a text of {len(text)} characters")
        for i in range(span.start, span.end):
            if not chars[i].isspace():
                chars[i] = char
    return "".join(chars)


def redact_turns(
    turns: Sequence[Mapping[str, Any]], kinds: Iterable[str] = PII_KINDS
) -> tuple[list[dict[str, Any]], list[RedactedSpan]]:
    """Mask PII in stored turns, text and words alike, and say where it was spoken.

    Turns are the stored JSON form ({"role", "speaker", "channel", "start", "end", "text",
    "words": [{"word", "start", "end", "probability"}]}), whose words join to the text. A
    number spread over several words (digit by digit) is masked in each of them. When the
    words join to the text only up to whitespace, they are aligned on the other characters;
    when they do not join at all, each word is searched on its own and the spans take the
    turn's times.

    Returns:
        New turns (the input is not changed) and one :class:`RedactedSpan` per masked span.

    Raises:
        ValueError: an unknown kind.
    """
    chosen = _check_kinds(kinds)
    out_turns: list[dict[str, Any]] = []
    redacted: list[RedactedSpan] = []
    for index, turn in enumerate(turns):
        new = copy.deepcopy(dict(turn))
        text = turn.get("text")
        if not isinstance(text, str) or not text:
            out_turns.append(new)
            continue
        spans = find_pii(text, chosen)
        if not spans:
            out_turns.append(new)
            continue
        new["text"] = mask_text(text, spans)
        words = list(new.get("words") or [])
        strings = [str(w.get("word", "")) for w in words]
        alignment = _align(text, strings)
        if not words:
            redacted += [RedactedSpan(index, s.kind, None, None) for s in spans]
        elif alignment is None:
            logger.debug("turn %d: words do not join to its text; masking word by word", index)
            for w, s in zip(words, strings, strict=True):
                w["word"] = mask_text(s, find_pii(s, chosen))
            start, end = _float_or_none(turn.get("start")), _float_or_none(turn.get("end"))
            redacted += [RedactedSpan(index, s.kind, start, end) for s in spans]
        else:
            redacted += _mask_words(index, text, spans, words, strings, alignment)
        out_turns.append(new)
    return out_turns, redacted


def _align(text: str, words: Sequence[str]) -> list[int | None] | None:
    """For each character of ``text``, its offset in the joined words (None for whitespace
    the words lack); None when the two differ in anything but whitespace."""
    joined = "".join(words)
    if joined == text:
        return list(range(len(text)))
    text_chars = [i for i, c in enumerate(text) if not c.isspace()]
    word_chars = [i for i, c in enumerate(joined) if not c.isspace()]
    if [text[i] for i in text_chars] != [joined[i] for i in word_chars]:
        return None
    alignment: list[int | None] = [None] * len(text)
    for t, w in zip(text_chars, word_chars, strict=True):
        alignment[t] = w
    return alignment


def _mask_words(
    index: int,
    text: str,
    spans: Sequence[PiiSpan],
    words: list[dict[str, Any]],
    strings: Sequence[str],
    alignment: Sequence[int | None],
) -> list[RedactedSpan]:
    owner: list[int] = []  # word index of each character of the joined words
    for k, s in enumerate(strings):
        owner += [k] * len(s)
    chars = list("".join(strings))
    redacted = []
    for span in spans:
        hit: list[int] = []
        for i in range(span.start, span.end):
            j = alignment[i]
            if j is None or text[i].isspace():
                continue
            chars[j] = "*"
            hit.append(owner[j])
        first, last = (min(hit), max(hit)) if hit else (None, None)
        redacted.append(
            RedactedSpan(
                turn=index,
                kind=span.kind,
                start=None if first is None else _float_or_none(words[first].get("start")),
                end=None if last is None else _float_or_none(words[last].get("end")),
            )
        )
    offset = 0
    for word, s in zip(words, strings, strict=True):
        word["word"] = "".join(chars[offset : offset + len(s)])
        offset += len(s)
    return redacted


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)


def redact_json(value: Any, kinds: Iterable[str] = PII_KINDS) -> Any:
    """A copy of a JSON-like value (dicts, lists, strings, numbers) with the PII in every
    string masked. Dict keys, numbers and other scalars are kept as they are."""
    chosen = _check_kinds(kinds)

    def walk(v: Any) -> Any:
        if isinstance(v, str):
            spans = find_pii(v, chosen)
            return mask_text(v, spans) if spans else v
        if isinstance(v, Mapping):
            return {k: walk(item) for k, item in v.items()}
        if isinstance(v, (list, tuple)):
            return [walk(item) for item in v]
        return copy.deepcopy(v)

    return walk(value)


# ---------------------------------------------------------------------------------------
# Audio


def mute(
    samples: np.ndarray, sample_rate: int, spans: Sequence[tuple[float, float]], pad: float = 0.15
) -> np.ndarray:
    """A copy of ``samples`` with silence (zeros) over each span, widened by ``pad`` seconds
    on each side and clipped to the recording, on every channel.

    Args:
        samples: (channels, n) or (n,) float samples.
        sample_rate: samples per second.
        spans: (start, end) times in seconds.
        pad: seconds added before and after each span (word times are approximate).

    Raises:
        ValueError: a non-positive rate, a negative pad, or a span that ends before it starts.
    """
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, not {sample_rate}")
    if pad < 0:
        raise ValueError(f"pad must not be negative, not {pad}")
    out = np.array(samples, copy=True)
    n = out.shape[-1]
    for start, end in spans:
        if end < start:
            raise ValueError(f"span ends before it starts: ({start}, {end})")
        first = max(0, int(np.floor((start - pad) * sample_rate)))
        last = min(n, int(np.ceil((end + pad) * sample_rate)))
        if first < last:
            out[..., first:last] = 0
    return out


def mute_file(
    source: Path, destination: Path, spans: Sequence[tuple[float, float]], pad: float = 0.15
) -> None:
    """Decode ``source`` (any format callintel reads), keeping its sample rate and channels,
    and write it to ``destination`` as FLAC with ``spans`` muted (see :func:`mute`).

    The file is written next to ``destination`` and renamed into place, so a reader never sees
    half a file and ``destination`` may be ``source``.

    Raises:
        FileNotFoundError, EmptyAudioError, NotAudioError, AudioDecodeError.
    """
    source, destination = Path(source), Path(destination)
    audio = read_native(source)
    write_flac(destination, replace(audio, samples=mute(audio.samples, audio.sample_rate, spans, pad)))
    logger.info("muted %d span(s) in %s -> %s", len(spans), source.name, destination.name)
