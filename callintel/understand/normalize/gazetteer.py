"""Customer-attribute spans to the values DOMAIN.md names: cars, budgets, timelines, payment ...

The understanding stage finds a span (预算二十万左右, 零克 08, 下个月) and these pure functions
read its value ({"min": 180000, "max": 220000}, "领克 08", 30). Car names go through a gazetteer
(``models/gazetteer/cars.yaml``); everything else through the keyword tables below, Chinese and
English. The hard parts are left to kept libraries: Chinese numerals to cn2an, Traditional
characters to OpenCC (``to_simplified``), near-miss car names to rapidfuzz.

Every function returns None when the text says nothing it can read, never a guess.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
import math
import re
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

import cn2an
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from rapidfuzz import fuzz, process

from callintel.domain import ATTRIBUTES
from callintel.errors import ConfigError
from callintel.text import canonical, simplified

logger = logging.getLogger(__name__)

Powertrain = Literal["ev", "phev", "erev", "hybrid", "ice"]
BodyType = Literal["suv", "sedan", "mpv", "hatchback", "wagon"]
Payment = Literal["full", "loan", "lease"]

# The value sets and keys are DOMAIN.md's, shared with the corpus (one definition).
ATTRIBUTE_KEYS = ATTRIBUTES

NormalizedValue = int | str | bool | dict[str, int | None]
"""What ``normalize`` returns for a span it can read (it returns None otherwise)."""

_CJK = "\u3400-\u9fff"
_CN_DIGITS = "零一二三四五六七八九"
_CN_NUMERALS = "零〇一二两三四五六七八九十百千万"


def _prepare(text: str) -> str:
    """Full-width to ASCII (NFKC), Traditional to Simplified, lower case, no spaces inside Chinese."""
    text = canonical(text)
    # ASR puts spaces between Chinese characters and numbers at random (零克 08, 十五 到 二十万).
    text = re.sub(rf"(?<=[{_CJK}\d])\s+(?=[{_CJK}\d])", "", text)
    return text.strip()


def _fold(text: str) -> str:
    """The form car names are compared in: prepared, punctuation to spaces, no spaces beside
    Chinese characters, digits or '+' (so 'Model 3', 'model3' and 'MODEL３' fold alike)."""
    text = re.sub(rf"[^0-9a-z+{_CJK}]+", " ", _prepare(text))
    text = re.sub(rf"\s+(?=[{_CJK}0-9+])|(?<=[{_CJK}0-9+])\s+", "", text)
    return text.strip()


def _arabic(text: str) -> str:
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


def _expand_pairs(text: str) -> str:
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


def _english_numbers(text: str) -> str:
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


def _numbers(text: str) -> str:
    """Prepared text with every number in Arabic digits, Chinese and English."""
    # cn2an leaves a lone 两 before some words (两周, 两星期); 二 means the same to it.
    text = re.sub(r"两(?=[周星礼到至])", "二", _expand_pairs(text))
    return _english_numbers(_arabic(text))


# ---------------------------------------------------------------------------------------------
# Keyword tables: a value and the phrases (regular expressions) that name it.
# Phrases that start with a Latin letter match whole words only.


@dataclass(frozen=True)
class _Hit:
    start: int
    end: int
    value: str


def _compile(table: Mapping[str, Sequence[str]]) -> tuple[tuple[re.Pattern[str], str], ...]:
    compiled = []
    for value, phrases in table.items():
        for phrase in phrases:
            pattern = f"(?<![a-z])(?:{phrase})(?![a-z])" if re.match(r"[a-z(]", phrase) else phrase
            compiled.append((re.compile(pattern), value))
    return tuple(compiled)


def _scan(table: Sequence[tuple[re.Pattern[str], str]], text: str) -> list[_Hit]:
    """Every phrase of a table in a text, leftmost-longest, without overlaps, in text order."""
    found = sorted(
        (_Hit(m.start(), m.end(), value) for pattern, value in table for m in pattern.finditer(text)),
        key=lambda h: (h.start, h.start - h.end),
    )
    kept: list[_Hit] = []
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


def _negated(text: str, start: int) -> bool:
    """Whether the words just before ``start`` deny what follows."""
    if _NEGATION_ZH.search(text[max(0, start - 8) : start]):
        return True
    return bool(_NEGATION_EN.search(text[max(0, start - 40) : start]))


def _first_affirmed(table: Sequence[tuple[re.Pattern[str], str]], text: str) -> str | None:
    prepared = _prepare(text)
    for hit in _scan(table, prepared):
        if not _negated(prepared, hit.start):
            return hit.value
    return None


# ---------------------------------------------------------------------------------------------
# Cars


@dataclass(frozen=True)
class CarSpec:
    """One model of the gazetteer; ``canonical`` is DOMAIN.md's ``"Brand Model"``."""

    brand: str
    brand_en: str
    model: str
    powertrain: str
    body_type: str
    price_cny: tuple[int, int]
    model_en: str = ""
    """The model's English name (``RAV4`` of 丰田 RAV4荣放); empty: the same as ``model``."""

    @property
    def canonical(self) -> str:
        return f"{self.brand} {self.model}"

    @property
    def english(self) -> str:
        """The name said in an English call: ``Toyota RAV4``."""
        return f"{self.brand_en} {self.model_en or self.model}"


class _ModelEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)
    name: str
    en: str | None = None
    aliases: list[str] = []
    context_aliases: list[str] = []
    powertrain: Powertrain
    body_type: BodyType
    price_cny: tuple[int, int]


class _BrandEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)
    name: str
    en: str
    aliases: list[str] = []
    weak_aliases: list[str] = []
    exclude: list[str] = []
    models: list[_ModelEntry] = Field(min_length=1)


class _GazetteerFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    brands: list[_BrandEntry] = Field(min_length=1)


_MAX_GAP = 4
"""Characters (folded) allowed between a brand and its model: 比亚迪的汉, 比亚迪新款汉."""


def _joined(a: str, b: str) -> bool:
    """Two characters of one Latin word or one number (x5 is not inside x50, nor 08 in 2008)."""
    return a.isascii() and b.isascii() and ((a.isalpha() and b.isalpha()) or (a.isdigit() and b.isdigit()))


def _occurrences(text: str, alias: str) -> Iterator[int]:
    """Start of every occurrence of ``alias`` that does not cut a Latin word or a number (an
    English plural ``s`` may follow a Latin name).

    Letters meet digits freely, since folding joins them (Lynk & Co 08 -> lynk co08).
    """
    start = text.find(alias)
    while start != -1:
        end = start + len(alias)
        # An English plural or possessive of a name is the name ("the Rangers", "Camrys").
        if alias[-1].isalpha() and alias.isascii() and text[end : end + 1] == "s":
            end += 1
        left_ok = start == 0 or not _joined(text[start - 1], alias[0])
        right_ok = end == len(text) or not _joined(alias[-1], text[end])
        if left_ok and right_ok:
            yield start
        start = text.find(alias, start + 1)


def _spoken_forms(alias: str) -> set[str]:
    """A folded alias and its digits as Chinese numerals: 08 -> 零八, L9 -> l九, 300 -> 三百, 三零零."""
    forms = {alias}
    if any(c.isdigit() for c in alias):
        forms.add(re.sub(r"\d", lambda m: _CN_DIGITS[int(m.group())], alias))

        def spoken(m: re.Match[str]) -> str:
            digits = m.group()
            if len(digits) > 1 and digits[0] != "0":
                return str(cn2an.an2cn(digits))
            return "".join(_CN_DIGITS[int(d)] for d in digits)

        forms.add(re.sub(r"\d+", spoken, alias))
    return forms


def _needs_brand(alias: str) -> bool:
    """Too short or too common to name a model alone: one character or letter, or only digits."""
    return len(alias) < 2 or alias.isdigit()


@dataclass(frozen=True)
class _BrandHit:
    start: int
    end: int
    brand: str
    weak: bool


@dataclass(frozen=True, eq=False)
class Gazetteer:
    """Car brands and models with the names said for them, and a matcher from text to names.

    Build it with ``Gazetteer.load(path)`` or ``Gazetteer.from_models_dir(models_dir)``.
    """

    specs: tuple[CarSpec, ...]
    brand_names: tuple[str, ...]
    brand_aliases: Mapping[str, tuple[tuple[str, bool], ...]]
    """Folded alias -> (brand, weak) pairs; a weak alias counts only before one of its models."""
    model_aliases: Mapping[str, tuple[tuple[int, bool], ...]]
    """Folded alias -> (index into specs, needs the brand said right before) pairs, file order."""
    excludes: Mapping[str, tuple[str, ...]]
    fuzzy_threshold: float = 80.0
    """rapidfuzz ``ratio`` (0-100) a near-miss must reach to count as a name."""
    _by_canonical: dict[str, CarSpec] = field(default_factory=dict, init=False, repr=False)
    _fuzzy: dict[int, dict[str, str]] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_canonical.update({s.canonical: s for s in self.specs})
        # Near-miss candidates: names that stand alone, long enough that one wrong character
        # still leaves most of the name (4+ with a Chinese character, 6+ Latin-only).
        for alias, brands in self.brand_aliases.items():
            if any(not weak for _, weak in brands) and self._fuzzy_worthy(alias):
                first = next(b for b, weak in brands if not weak)
                self._fuzzy.setdefault(len(alias), {}).setdefault(alias, first)
        for alias, targets in self.model_aliases.items():
            standalone = [i for i, needs in targets if not needs]
            if standalone and self._fuzzy_worthy(alias):
                self._fuzzy.setdefault(len(alias), {}).setdefault(alias, self.specs[standalone[0]].canonical)

    @staticmethod
    def _fuzzy_worthy(alias: str) -> bool:
        if re.search(f"[{_CJK}]", alias):
            # Not a name read out in numerals (F一百五十 would be any 一百五十).
            return (
                len(alias) >= 4 and len(re.findall(f"[{_CJK}]", re.sub(f"[{_CN_NUMERALS}]", "", alias))) >= 2
            )
        # A Latin name: one word of letters ("Porshe" for Porsche); not "3 Series", which
        # "services" is close to, nor names with spaces that windows across words would find.
        return len(alias) >= 6 and alias.isalpha()

    @classmethod
    def load(cls, path: str | Path) -> Gazetteer:
        """The gazetteer in a cars.yaml file (cached per path); ConfigError when it cannot be read."""
        return _load_gazetteer(Path(path).resolve())

    @classmethod
    def from_models_dir(cls, models_dir: str | Path) -> Gazetteer:
        """The gazetteer at ``models_dir/gazetteer/cars.yaml``."""
        return cls.load(Path(models_dir) / "gazetteer" / "cars.yaml")

    def brands(self) -> tuple[str, ...]:
        """Canonical brand names, in file order."""
        return self.brand_names

    def models(self, brand: str | None = None) -> tuple[str, ...]:
        """Canonical ``"Brand Model"`` names, of one brand or of all."""
        return tuple(s.canonical for s in self.specs if brand is None or s.brand == brand)

    def spec(self, name: str) -> CarSpec | None:
        """Powertrain, body type and price of a model, by canonical name or by anything
        ``match_model`` reads as one; None for a brand alone or an unknown name."""
        found = self._by_canonical.get(name)
        if found is None:
            matched = self.match_model(name)
            found = self._by_canonical.get(matched) if matched else None
        return found

    def named(self, name: str, language: str) -> str:
        """A canonical ``"Brand Model"`` (or brand) as said in ``language``: the English names of
        the same gazetteer entry in an English call (丰田 RAV4荣放 -> ``Toyota RAV4``), else as is."""
        if language != "en":
            return name
        spec = self._by_canonical.get(name)
        if spec is not None:
            return spec.english
        english = {s.brand: s.brand_en for s in self.specs}
        return english.get(name, name)

    def match_model(self, text: str) -> str | None:
        """The first car named in ``text``: ``"Brand Model"``, or ``"Brand"`` when only a brand is
        named; None when there is none. See ``find_models`` for the rules."""
        found = self.find_models(text)
        return found[0] if found else None

    def find_models(self, text: str, brand: str | None = None) -> tuple[str, ...]:
        """Every car named in ``text``, in order of mention, each once.

        ``brand``: the make the conversation is about (the dealer's), whose short model names
        (S07, 400, 汉) then count without the make said before them; on a tie it wins.

        Robust to ASR: aliases and homophones from the gazetteer (零克 -> 领克), spaces (零克 08),
        Chinese numerals (零八, L九), case and full-width forms, Traditional characters (領克).
        A model whose name is one character, one letter or digits (汉, Y, 08), or listed as a
        context alias, counts only right after its brand (比亚迪汉, 领克的08). When a name fits
        several brands' models and no brand is said, the brand listed first in the file wins.
        When nothing matches exactly, the closest name by rapidfuzz ratio (at least
        ``fuzzy_threshold``, same length or one character more or less) is taken.
        """
        folded = _fold(text)
        if not folded:
            return ()
        brand_hits = self._brand_hits(folded)
        candidates: list[tuple[int, int, bool, int, int, _BrandHit | None]] = []
        for alias, targets in self.model_aliases.items():
            for start in _occurrences(folded, alias):
                owner = self._brand_before(brand_hits, start)
                for index, needs_brand in targets:
                    bound = owner is not None and owner.brand == self.specs[index].brand
                    implied = owner is None and self.specs[index].brand == brand
                    if needs_brand and not (bound or implied):
                        continue
                    candidates.append(
                        (start, -len(alias), not (bound or implied), index, start + len(alias), owner)
                    )
        candidates.sort(key=lambda c: c[:4])
        named: list[tuple[int, str]] = []
        taken: list[tuple[int, int]] = []
        used: set[_BrandHit] = set()
        for start, _, unbound, index, end, owner in candidates:
            if any(start < e and s < end for s, e in taken):
                continue
            taken.append((start, end))
            if not unbound and owner is not None and owner.brand == self.specs[index].brand:
                used.add(owner)
                named.append((owner.start, self.specs[index].canonical))
            else:
                named.append((start, self.specs[index].canonical))
        for hit in brand_hits:
            if hit.weak or hit in used or any(hit.start < e and s < hit.end for s, e in taken):
                continue
            named.append((hit.start, hit.brand))
        if not named:
            near = self._near_miss(folded)
            return (near,) if near else ()
        ordered: list[str] = []
        for _, name in sorted(named, key=lambda n: n[0]):
            if name not in ordered:
                ordered.append(name)
        return tuple(ordered)

    def _brand_hits(self, folded: str) -> list[_BrandHit]:
        hits = []
        for alias, brands in self.brand_aliases.items():
            for start in _occurrences(folded, alias):
                end = start + len(alias)
                for brand, weak in brands:
                    if not self._excluded(folded, start, end, brand):
                        hits.append(_BrandHit(start, end, brand, weak))
        hits.sort(key=lambda h: (h.start, h.start - h.end, h.weak))
        kept: list[_BrandHit] = []
        for hit in hits:
            if not kept or hit.start >= kept[-1].end:
                kept.append(hit)
        return kept

    def _excluded(self, folded: str, start: int, end: int, brand: str) -> bool:
        for phrase in self.excludes.get(brand, ()):
            for at in _occurrences(folded, phrase):
                if at <= start and end <= at + len(phrase):
                    return True
        return False

    @staticmethod
    def _brand_before(hits: Sequence[_BrandHit], start: int) -> _BrandHit | None:
        before = [h for h in hits if h.end <= start and start - h.end <= _MAX_GAP]
        return max(before, key=lambda h: h.end) if before else None

    def _near_miss(self, folded: str) -> str | None:
        tokens = [m.span() for m in re.finditer(rf"[0-9a-z+]+|[{_CJK}]", folded)]
        longest = max(self._fuzzy, default=0) + 1
        best: tuple[float, int, str] | None = None
        for i, (start, _) in enumerate(tokens):
            for _, end in tokens[i:]:
                window = folded[start:end]
                if len(window) > longest:
                    break
                chinese = bool(re.search(f"[{_CJK}]", window))
                if not chinese and (" " in window or len(window) < 6):
                    continue  # English near-misses are whole words: not "be grand", "class"
                # A Chinese window may have one character more than the name, never fewer: with
                # fewer, 小汽车 would be 小米汽车.
                lengths = (
                    (len(window) - 1, len(window))
                    if chinese
                    else (len(window) - 1, len(window), len(window) + 1)
                )
                for length in lengths:
                    choices = self._fuzzy.get(length)
                    if not choices:
                        continue
                    # English words sit closer to one another than Chinese names: a higher bar
                    # ("rangers" is no "Wrangler").
                    cutoff = self.fuzzy_threshold if chinese else max(self.fuzzy_threshold, 85.0)
                    hit = process.extractOne(window, choices.keys(), scorer=fuzz.ratio, score_cutoff=cutoff)
                    if hit is not None and (best is None or (hit[1], len(hit[0])) > best[:2]):
                        best = (hit[1], len(hit[0]), choices[hit[0]])
        if best is not None:
            logger.debug("near-miss car name in %r: %s (%.0f)", folded, best[2], best[0])
        return best[2] if best else None


def _english_name(model: _ModelEntry) -> str:
    """A model's English name when the file gives none: its name if already Latin, else its
    first Latin alias (context aliases first: 汉 -> Han, 元PLUS -> Atto 3); empty if none."""
    if not re.search(f"[{_CJK}]", model.name):
        return ""
    latin = [a for a in (*model.context_aliases, *model.aliases) if a.isascii() and re.search("[A-Za-z]", a)]
    return latin[0] if latin else ""


@lru_cache(maxsize=8)
def _load_gazetteer(path: Path) -> Gazetteer:
    try:
        raw = _GazetteerFile.model_validate(yaml.safe_load(path.read_text("utf-8")))
    except (OSError, yaml.YAMLError, ValidationError) as e:
        raise ConfigError(f"invalid car gazetteer {path}: {e}") from e
    specs: list[CarSpec] = []
    brand_aliases: dict[str, list[tuple[str, bool]]] = {}
    model_aliases: dict[str, list[tuple[int, bool]]] = {}
    excludes: dict[str, tuple[str, ...]] = {}

    def add(table: dict[str, list[tuple[str, bool]]], alias: str, entry: tuple[str, bool]) -> None:
        if alias and entry not in table.setdefault(alias, []):
            table[alias].append(entry)

    for brand in raw.brands:
        weak = {_fold(a) for a in brand.weak_aliases}
        strong = {_fold(a) for a in (brand.name, brand.en, *brand.aliases)} - weak
        for alias in strong:
            add(brand_aliases, alias, (brand.name, False))
        for alias in weak:
            add(brand_aliases, alias, (brand.name, True))
        excludes[brand.name] = tuple(_fold(p) for p in brand.exclude if _fold(p))
        for model in brand.models:
            low, high = model.price_cny
            if low > high:
                raise ConfigError(
                    f"invalid car gazetteer {path}: {brand.name} {model.name} price {low} > {high}"
                )
            index = len(specs)
            specs.append(
                CarSpec(
                    brand.name,
                    brand.en,
                    model.name,
                    model.powertrain,
                    model.body_type,
                    (low, high),
                    model.en or _english_name(model),
                )
            )
            context = {_fold(a) for a in model.context_aliases}
            own = {_fold(a) for a in (model.name, *model.aliases, *model.context_aliases, model.en or "")}
            own.discard("")
            # 比亚迪海豹 is 比亚迪 + 海豹, which the brand binding reads; kept whole, it would cut
            # 比亚迪海豹06 short.
            redundant = {a for a in own for b in strong if a.startswith(b) and a[len(b) :] in own}
            for alias in own - redundant:
                needs_brand = alias in context or _needs_brand(alias)
                for form in _spoken_forms(alias):
                    entries = model_aliases.setdefault(form, [])
                    if all(i != index for i, _ in entries):
                        entries.append((index, needs_brand))
    names = [s.canonical for s in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"invalid car gazetteer {path}: models listed twice: {', '.join(duplicates)}")
    logger.debug("car gazetteer %s: %d brands, %d models", path, len(raw.brands), len(specs))
    return Gazetteer(
        specs=tuple(specs),
        brand_names=tuple(b.name for b in raw.brands),
        brand_aliases={a: tuple(v) for a, v in brand_aliases.items()},
        model_aliases={a: tuple(v) for a, v in model_aliases.items()},
        excludes=excludes,
    )


# ---------------------------------------------------------------------------------------------
# Budget

_QUANTITY = re.compile(
    r"(?<![\d.])(?>(?P<num>\d+(?:\.\d+)?)\s*(?P<fuzz>几|多|来)?\s*"
    r"(?P<unit>W|k(?![a-z])|千(?!米)|thousand|grand|million|mil(?![a-z])|m(?![a-z]))?\s*(?P<more>多)?)"
    # Counts of other things: days, months, km, kids, seats, the 3 of 第3辆 ...
    r"(?!\s*(?:天|日|周|星期|礼拜|个|月|年|号|点|岁|公里|千米|km|kw|%|分|小时|次|辆|台|口|人|座|米|"
    r"days?|weeks?|months?|years?|kids?|children|seats?|people|miles?|kilomet))"
)
_RANGE_SEPARATOR = re.compile(r"\s*(?:到|至|-|~|～|—|–|to|and|或者|或|or)\s*")
_UNIT_WAN = re.compile(
    r"(?<=[\d零〇一二两三四五六七八九十百几多来])\s*(?:个?\s*(?:万|w|wan)(?![a-z])"
    # 二十个 / 二十个左右 / 二十到三十个: a bare 个 ending an amount is 万 in car-price talk
    r"|个(?=\s*(?:左右|上下|的样子|以内|之内|以下|以上|出头|吧|啊|呢|到|至|-|~|～|[，。,.!?；;]|$)))"
)
_UNIT_SCALE = {"W": 10_000, "k": 1_000, "千": 1_000, "thousand": 1_000, "grand": 1_000}
_MILLION = 1_000_000
_BUDGET_LIMITS = (10_000, 50_000_000)
# fmt: off
_BUDGET_MODIFIERS = _compile(
    {
        "upper": [
            "以内", "之内", "以下", "内(?!饰|部|容|心|存)", "不超过", "不能超过", "别超过", "不要超过",
            "别超", "不能超", "不超", "can.?t go (?:past|over|above)", "cannot go (?:past|over|above)",
            "ceiling",
            "最多", "顶多", "撑死", "最高", "封顶", "nothing over",
            "nothing above", "不到", "不足", "低于", "少于", "under", "below", "less than",
            "up to", "at most", "no more than", "not more than", "max(?:imum)?", "within", "tops",
            "or less",
        ],
        "lower": [
            "以上", "起步", "起码", "至少", "最少", "不低于", "不少于", "超过", "多于", "往上", "over",
            "above", "more than", "at least", "minimum", "or more", "plus",
        ],
        # 控制在20万 caps the budget, 控制在20万左右 only aims at it: weaker than 左右
        "aim": ["控制在"],
        "slightly_over": ["出头", "a bit over", "just over", "slightly over", "a little over"],
        "approx": [
            "左右", "上下", "差不多", "大概", "大约", "约", "估计", "将近", "接近", "前后", "around",
            "about", "roughly", "approximately", "approx", "give or take", "or so", "ish", "的样子",
            "something like", "in the region of", "ballpark", "or thereabouts", "more or less",
        ],
    }
)
# fmt: on


@dataclass(frozen=True)
class _Quantity:
    start: int
    end: int
    low: float
    high: float
    approx: bool
    has_unit: bool


def _budget_text(text: str) -> str:
    text = re.sub(r"(?<=\d),(?=\d{3})", "", _prepare(text))
    # "forty to forty-five thousand": thousand as a unit (grand), so that it carries to the
    # first number of a range as 万 does; number words before it are read as a number.
    text = re.sub(r"(?<=[a-z])[\s-]+thousand\b", " grand", text)
    # "between twenty-five and twenty-seven" is a range, not 25 + 27.
    text = re.sub(r"\bbetween ([a-z0-9 .-]+?) and ", r"between \1 to ", text)
    text = _UNIT_WAN.sub("W", _expand_pairs(text))  # 'W' (upper case: text is lower) marks 万
    return _english_numbers(_arabic(text))


def _quantity(m: re.Match[str], chinese: bool, unit: str | None) -> _Quantity | None:
    num = float(m["num"])
    if unit in ("million", "mil", "m"):
        scale = _MILLION
    elif unit:
        scale = _UNIT_SCALE[unit]
    elif num >= _BUDGET_LIMITS[0]:
        scale = 1
    elif chinese and 2 <= num <= 500:
        scale = 10_000  # a bare 15 or 二十 in a Chinese budget means 万
    elif not chinese and 10 <= num <= 300:
        scale = 1_000  # "under thirty-five", "around fifty-five ish": thousands in car-price talk
    else:
        return None
    low = high = num
    if m["fuzz"] in ("几", "多") or m["more"]:
        step = 10 ** math.floor(math.log10(num)) if num >= 1 else 1
        high = num + step
    return _Quantity(m.start(), m.end(), low * scale, high * scale, m["fuzz"] == "来", bool(unit))


def normalize_budget(text: str) -> tuple[int | None, int | None] | None:
    """A budget in yuan as ``(min, max)``; None when the text names no amount.

    Rules (Chinese numerals read by cn2an; 万, w, W, 个w and wan all mean 10 000; k, 千,
    thousand, grand 1 000; m, million 1 000 000; currency words and $ are ignored, since the
    English dialogues are China-market too; a bare number 2-500 in Chinese text is in 万):

    - a range, 15到20万, 十五到二十万, 15-20万, 150k to 200k, between 150k and 200k -> (150000, 200000);
      the unit of the second number carries to the first; spoken pairs 十五六万 -> (150000, 160000);
    - about, 二十万左右 / 上下 / 差不多 / 大概 / 的样子 / 二十来万 / around / something like 200k
      -> +-10%: (180000, 220000);
    - 二十个 (colloquial) is 二十万 when the amount ends there (二十个左右, 二十到三十个);
    - 控制在20万 caps it, (None, 200000), but 控制在20万左右 is about 20万;
    - open above, 20万以内 / 不超过20万 / 最多 / 不到 / under 200k -> (None, 200000);
    - open below, 30万以上 / 至少 / 不低于 / over 300k / at least -> (300000, None);
    - 二十多万, 二十几万 -> (200000, 300000) (the next step of the number's last digit), 十几万 ->
      (100000, 200000), 5万多 -> (50000, 60000); 二十万出头 -> (200000, 220000);
    - several amounts that are not a range (至少15万最多20万) -> (the least, the most);
    - one amount and no qualifier, 20万 -> (200000, 200000).

    Amounts outside 10 000 - 50 000 000 yuan are ignored (a 5000 monthly payment, 千万别).
    """
    prepared = _budget_text(text)
    chinese = bool(re.search(f"[{_CJK}]", prepared))
    matches = list(_QUANTITY.finditer(prepared))
    quantities: list[_Quantity] = []
    i = 0
    while i < len(matches):
        m = matches[i]
        nxt = matches[i + 1] if i + 1 < len(matches) else None
        if nxt is not None and _RANGE_SEPARATOR.fullmatch(prepared[m.end() : nxt.start()]) and nxt["unit"]:
            first = _quantity(m, chinese, m["unit"] or nxt["unit"])
            second = _quantity(nxt, chinese, nxt["unit"])
            if first is not None and second is not None:
                low, high = min(first.low, second.low), max(first.high, second.high)
                quantities.append(_Quantity(m.start(), nxt.end(), low, high, False, True))
                quantities.append(quantities[-1])  # a range counts as two amounts
                i += 2
                continue
        q = _quantity(m, chinese, m["unit"])
        if q is not None:
            quantities.append(q)
        i += 1
    quantities = [q for q in quantities if _BUDGET_LIMITS[0] <= q.low and q.high <= _BUDGET_LIMITS[1]]
    if not quantities:
        return None
    if len(quantities) > 1:
        return round(min(q.low for q in quantities)), round(max(q.high for q in quantities))
    q = quantities[0]
    kinds = {h.value for h in _scan(_BUDGET_MODIFIERS, prepared) if not (q.start <= h.start < q.end)}
    if "upper" in kinds:
        return None, round(q.high)
    if "lower" in kinds:
        return round(q.low), None
    if "slightly_over" in kinds and q.low == q.high:
        return round(q.low), round(q.low * 1.1)
    if (q.approx or "approx" in kinds) and q.low == q.high:
        return round(q.low * 0.9), round(q.high * 1.1)
    if "aim" in kinds:
        return None, round(q.high)
    return round(q.low), round(q.high)


# Money words of a call, strongest first: a currency named outright, then the words of the
# country a dealer is in (a budget of "forty grand" is in the currency of the showroom).
_CURRENCY_NAMED: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (code, re.compile(pattern, re.IGNORECASE))
    for code, pattern in (
        ("GBP", r"£|\bpounds?\b|\bquid\b|\bgbp\b"),
        ("EUR", r"€|\beuros?\b|\beur\b"),
        ("AUD", r"\baud\b|a\$|aussie dollars?|australian dollars?"),
        ("CAD", r"\bcad\b|c\$|canadian dollars?"),
        ("NZD", r"\bnzd\b|nz\$|kiwi dollars?"),
        ("USD", r"\busd\b|us\$|\bbucks\b"),
        ("CNY", r"[元块]钱?|万块|人民币|\byuan\b|\brmb\b|\bcny\b"),
    )
)
_CURRENCY_REGION: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (code, re.compile(pattern, re.IGNORECASE))
    for code, pattern in (
        # Australia: on-road prices are "drive away"; utes, novated leases, rego, g'day.
        ("AUD", r"drive ?away|\bute\b|\butes\b|novated|\brego\b|g'?day|\barvo\b|\bservo\b|\bmate\b"),
        # UK: part-exchange, PCP finance, the MOT, motorways, petrol.
        ("GBP", r"part[- ]?ex|\bpcp\b|\bmot\b|motorway|\bpetrol\b|\bbrilliant\b|\blovely\b"),
        ("CAD", r"\bcanada\b|\btoronto\b|\bvancouver\b|\bmontreal\b|\bcalgary\b"),
        # North America: dollars, gas, the lot, KBB/Carfax, credit scores.
        ("USD", r"\$|\bdollars?\b|\bgas\b|\bkbb\b|carfax|\bmpg\b|credit score|\bmiles?\b"),
    )
)


def script_counts(text: str) -> tuple[int, int]:
    """How many Chinese characters and Latin letters ``text`` has (what tells its language)."""
    chinese = sum(1 for c in text if "\u3400" <= c <= "\u9fff")
    latin = sum(1 for c in text if c.isascii() and c.isalpha())
    return chinese, latin


def call_currency(text: str) -> str:
    """The ISO 4217 code a call's amounts are in: a currency it names (£, quid, 元, bucks),
    else the one of the market its words belong to (drive away: AUD; part-ex: GBP; gas,
    dollars: USD); a Chinese call, or an English call with no clue at all, is in yuan (the
    China-market English of the corpus)."""
    chinese, latin = script_counts(text)
    if chinese * 2 > latin:
        return "CNY"
    for table in (_CURRENCY_NAMED, _CURRENCY_REGION):
        counts = {code: len(pattern.findall(text)) for code, pattern in table}
        best = max(counts, key=lambda code: counts[code])
        if counts[best]:
            return best
    return "CNY"


def budget_band(low: int | None, high: int | None, currency: str = "CNY") -> str:
    """The ``budget_band`` tag value: a 5万-wide band such as ``20-25万``.

    In another currency the bands are 5 thousand wide and carry the code: ``USD 40-45k``,
    ``GBP ≤30k``.

    A closed budget goes in the band holding its midpoint (18-22万 -> ``20-25万``, 15-20万 ->
    ``15-20万``; a midpoint on a boundary goes up), so a range spanning bands gets one band and
    the bands stay a fixed set for CRM segments. From 100万 up the band is ``≥100万``. An
    open-ended budget keeps its bound: (None, 200000) -> ``≤20万``, (300000, None) -> ``≥30万``.
    """
    wan = 10_000
    if low is None and high is None:
        raise ValueError("budget_band needs a min or a max")
    if currency != "CNY":
        return f"{currency} {_thousands_band(low or None, high)}"
    if low is None:
        return f"≤{_wan(high)}万"
    if high is None:
        return f"≥{_wan(low)}万"
    band = int(((low + high) / 2) // (5 * wan)) * 5
    if band >= 100:
        return "≥100万"
    return f"{band}-{band + 5}万"


def _thousands_band(low: int | None, high: int | None) -> str:
    k = 1_000
    if low is None:
        return f"≤{(high or 0) / k:g}k"
    if high is None:
        return f"≥{low / k:g}k"
    band = int(((low + high) / 2) // (5 * k)) * 5
    return f"{band}-{band + 5}k"


def _wan(yuan: int | None) -> str:
    value = (yuan or 0) / 10_000
    return f"{value:g}"


# ---------------------------------------------------------------------------------------------
# Timeline

# Chinese New Year (春节): the date of 正月初一 per year; other years fall back to 1 February.
_SPRING_FESTIVAL = {
    2023: dt.date(2023, 1, 22),
    2024: dt.date(2024, 2, 10),
    2025: dt.date(2025, 1, 29),
    2026: dt.date(2026, 2, 17),
    2027: dt.date(2027, 2, 6),
    2028: dt.date(2028, 1, 26),
    2029: dt.date(2029, 2, 13),
    2030: dt.date(2030, 2, 3),
    2031: dt.date(2031, 1, 23),
    2032: dt.date(2032, 2, 11),
}


def _next_spring_festival(day: dt.date) -> dt.date:
    for year in (day.year, day.year + 1):
        festival = _SPRING_FESTIVAL.get(year, dt.date(year, 2, 1))
        if festival >= day:
            return festival
    return dt.date(day.year + 2, 2, 1)


def _next_date(day: dt.date, month: int, dom: int) -> dt.date:
    this_year = dt.date(day.year, month, dom)
    return this_year if this_year >= day else dt.date(day.year + 1, month, dom)


TimelineRule = Callable[[re.Match[str], dt.date], int | None]


def _days(n: int) -> TimelineRule:
    return lambda m, day: n


def _times(unit_days: int) -> TimelineRule:
    return lambda m, day: round(float(m["n"]) * unit_days)


def _until(month: int, dom: int) -> TimelineRule:
    return lambda m, day: (_next_date(day, month, dom) - day).days


def _year_end(m: re.Match[str], day: dt.date) -> int:
    return (dt.date(day.year, 12, 31) - day).days


def _this_month_end(m: re.Match[str], day: dt.date) -> int:
    """月底 like 年底: the days left to the last day of the call's month."""
    return calendar.monthrange(day.year, day.month)[1] - day.day


def _next_year(month: int, dom: int) -> TimelineRule:
    """Days to a date of the year after the call's (明年底: 31 December, 明年年中: 1 July)."""
    return lambda m, day: (dt.date(day.year + 1, month, dom) - day).days


def _spring_festival(offset: int) -> TimelineRule:
    return lambda m, day: (_next_spring_festival(day) - day).days + offset


def _next_month_day(dom: int) -> TimelineRule:
    def rule(m: re.Match[str], day: dt.date) -> int:
        year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
        return (dt.date(year, month, dom) - day).days

    return rule


def _month_end(m: re.Match[str], day: dt.date) -> int | None:
    month = int(m["m"])
    if not 1 <= month <= 12:
        return None
    year = day.year if month >= day.month else day.year + 1
    return (dt.date(year, month, calendar.monthrange(year, month)[1]) - day).days


def _weekday(m: re.Match[str], day: dt.date) -> int:
    target = 7 if m["wd"] in ("日", "天") else int(m["wd"])
    return (target - day.isoweekday()) % 7


def _next_weekday(m: re.Match[str], day: dt.date) -> int:
    """下周六 / next Saturday: that weekday of the next calendar week (下下周六: the one after)."""
    target = 7 if m["wd"] in ("日", "天") else int(m["wd"])
    weeks = 2 if m.group(0).startswith("下下") else 1
    return 7 * weeks - day.isoweekday() + target


_EN_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sept", "sep"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        1,
    )
    for name in names
}
_EN_MONTH = "(?P<mon>" + "|".join(sorted(_EN_MONTHS, key=len, reverse=True)) + r")(?![a-z])"
_EN_WEEKDAYS = {
    name: number
    for number, name in enumerate(
        ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"), 1
    )
}
_EN_ORDINALS = {
    word: n
    for n, word in enumerate(
        "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth "
        "fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth".split(),
        1,
    )
} | {"thirtieth": 30}
_EN_DAY = (
    r"(?P<d>\d{1,2}|"
    + "|".join(_EN_ORDINALS)
    + r"|twenty[- ](?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth)|thirty[- ]first)"
    + r"(?:st|nd|rd|th)?"
)


def _day_number(text: str) -> int:
    if text.isdigit():
        return int(text)
    if text in _EN_ORDINALS:
        return _EN_ORDINALS[text]
    tens, unit = re.split(r"[- ]", text)
    return {"twenty": 20, "thirty": 30}[tens] + _EN_ORDINALS[unit]


def _month_number(m: re.Match[str]) -> int:
    return _EN_MONTHS[m["mon"]] if m.groupdict().get("mon") else int(m["m"])


def _on_date(dom: int | None = None) -> TimelineRule:
    """Days to a day of a month said (3月15号, the fifteenth of December; mid-January: ``dom`` 15)."""

    def rule(m: re.Match[str], day: dt.date) -> int | None:
        month = _month_number(m)
        number = dom if dom is not None else _day_number(m["d"])
        if not 1 <= month <= 12 or not 1 <= number <= calendar.monthrange(day.year + 1, month)[1]:
            return None
        return (_next_date(day, month, number) - day).days

    return rule


def _en_month_end(m: re.Match[str], day: dt.date) -> int:
    month = _EN_MONTHS[m["mon"]]
    year = day.year if month >= day.month else day.year + 1
    return (dt.date(year, month, calendar.monthrange(year, month)[1]) - day).days


def _en_weekday(m: re.Match[str], day: dt.date) -> int:
    target = _EN_WEEKDAYS[m["wd"]]
    ahead = (target - day.isoweekday()) % 7
    return ahead + 7 if m.group(0).startswith("next") and ahead < 7 - day.isoweekday() + 1 else ahead


def _couple_few(m: re.Match[str], day: dt.date) -> int:
    count = 2 if m["q"] == "couple" else 3
    return count * {"day": 1, "week": 7, "month": 30}[m["u"]]


_NUM = r"(?<![\d.])(?P<n>\d+(?:\.\d+)?)"
_TIMELINE_RULES: tuple[tuple[re.Pattern[str], TimelineRule], ...] = tuple(
    (re.compile(pattern), rule)
    for pattern, rule in (
        (r"今天|当天|当场|现场|(?<![a-z])today(?![a-z])|(?<![a-z])tonight", _days(0)),
        (r"马上|立刻|立即|立马|现在就|right away|right now|immediately|straight away|at once", _days(1)),
        (r"明天|(?<![a-z])tomorrow", _days(1)),
        (r"后天|day after tomorrow", _days(2)),
        (r"大后天", _days(3)),
        (r"尽快|越快越好|越早越好|(?<![a-z])asap(?![a-z])|as soon as possible", _days(7)),
        (r"过几天|这几天|几天|(?<![a-z])few days", _days(3)),
        (r"(?:(?<![a-z])a\s+)?(?P<q>couple|few)\s+(?:of\s+)?(?P<u>day|week|month)s?", _couple_few),
        (_NUM + r"\s*(?:个)?\s*多?\s*天", _times(1)),
        (r"十来天|十天左右", _days(10)),
        (_NUM + r"\s*来\s*天", _times(1)),
        (_NUM + r"\s*days?(?![a-z])", _times(1)),
        (
            r"这周|本周|这个?星期|这个?礼拜|周末|这周末|"
            r"this week(?:end)?|the weekend|end of (?:the|this) week|within the week|"
            r"before the week is out",
            _days(7),
        ),
        (r"(?<![a-z])(?:a|one) week(?![a-z])", _days(7)),
        (r"下周|下个?星期|下个?礼拜|下周末|next week(?:end)?", _days(14)),
        (r"下下周|下下个?星期|week after next", _days(21)),
        (r"几周|几个星期|几个礼拜", _days(21)),
        (_NUM + r"\s*(?:个)?\s*(?:周|星期|礼拜)(?![1-7日天])", _times(7)),
        (_NUM + r"\s*weeks?(?![a-z])", _times(7)),
        (r"(?:这|本)?(?:周|星期|礼拜)(?P<wd>[1-6日天])", _weekday),
        (r"下下?个?(?:周|星期|礼拜)(?P<wd>[1-6日天])", _next_weekday),
        (r"(?:next |this |on )?(?P<wd>" + "|".join(_EN_WEEKDAYS) + ")", _en_weekday),
        (r"(?<![a-z])(?:a |the |next |one )?fortnight", _days(14)),
        (r"(?<![\d.])(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*(?:号|日)", _on_date()),
        (r"(?<![\d.])(?P<m>\d{1,2})\s*月份?\s*(?:中旬|中)", _on_date(15)),
        (r"(?:the\s+)?" + _EN_DAY + r"\s+(?:of\s+)?" + _EN_MONTH, _on_date()),
        (_EN_MONTH + r"\s+(?:the\s+)?" + _EN_DAY, _on_date()),
        (r"(?:mid|middle of)[- ]?" + _EN_MONTH, _on_date(15)),
        # Not before a month: its first day ("not buying till March").
        (r"(?<![a-z])(?:till|until|til|before) (?:the )?" + _EN_MONTH, _on_date(1)),
        # A month name alone only after a preposition: "may" and "march" are also verbs.
        (r"(?<![a-z])(?:in|by|before|end of|early|late|until|till) (?:the )?" + _EN_MONTH, _en_month_end),
        (r"christmas|xmas", _until(12, 25)),
        (r"(?<![a-z])a month(?![a-z])", _days(30)),
        (r"这个?月|本月|月内|this month", _this_month_end),
        (
            r"(?:这个?|本)?月(?:底|末)|end of (?:the|this) month|before the month is out|month[- ]end",
            _this_month_end,
        ),
        (r"下个?月|next month", _days(30)),
        (r"下个?月(?:中旬|中)|(?:the )?middle of next month|mid[- ]next month", _next_month_day(15)),
        (r"下个?月(?:初|头)|(?:the )?(?:start|beginning) of next month|early next month", _next_month_day(1)),
        (r"半个月|(?<![\d.])0\.5个月|half a month", _days(15)),
        (r"几个月", _days(90)),
        (_NUM + r"\s*个\s*多?\s*月", _times(30)),
        (r"(?<![\d.])(?P<n>\d+)个半月", lambda m, day: round((int(m["n"]) + 0.5) * 30)),
        (_NUM + r"\s*months?(?![a-z])", _times(30)),
        (r"(?<![\d.])(?P<m>\d{1,2})\s*月(?:份|底|初|前|之前|末)?", _month_end),
        (r"这个?季度|本季度|(?<![a-z])(?:a|one|this|the) quarter(?![a-z])", _days(90)),
        (_NUM + r"\s*个\s*季度", _times(90)),
        (r"下个?季度|next quarter", _days(180)),
        (r"半年|half a year|half year", _days(180)),
        (r"(?<![\d.])(?P<n>[1-5](?:\.5)?)\s*年(?!级|代|前|底)", _times(365)),
        (_NUM + r"\s*years?(?![a-z])", _times(365)),
        (r"(?<![a-z])(?:a|one) year(?![a-z])", _days(365)),
        (r"明年|next year", _days(365)),
        (r"明年年?底|明年年末|end of next year", _next_year(12, 31)),
        (
            r"明年年?初|明年开年|(?:the )?(?:start|beginning) of next year|early next year",
            _until(1, 1),
        ),
        (r"明年年?中|(?:the )?middle of next year|mid[- ]next year", _next_year(7, 1)),
        (
            r"年底|年末|年前|年内|今年|岁末|年终(?!奖|分红)|this year|end of (?:the|this) year|year[ -]end|"
            r"by (?:the )?end of (?:the )?year",
            _year_end,
        ),
        (
            r"春节|过年|开年|(?:chinese|lunar) new year|spring festival|(?<![a-z])cny(?![a-z])",
            _spring_festival(0),
        ),
        (
            r"年后|过完年|春节后|春节之后|过了年|"
            r"after (?:the )?(?:chinese|lunar) new year|after (?:the )?spring festival",
            _spring_festival(15),
        ),
        (r"国庆|national day|golden week", _until(10, 1)),
        (r"劳动节|(?<![\d.])51(?:前|之前|假期)|may day", _until(5, 1)),
        (r"双\s*11|singles'? day|double eleven", _until(11, 11)),
        (r"元旦|new year's day", _until(1, 1)),
        (r"最近|近期|这段时间|近段时间|(?<![a-z])soon(?![a-z])|shortly|in the near future", _days(30)),
    )
)


def normalize_timeline(text: str, call_date: dt.date) -> int | None:
    """Days from the call date within which the customer means to buy; None when no time is said.

    Fixed spans: 今天/today -> 0; 马上/立刻/right away, 明天/tomorrow -> 1; 后天 -> 2; 大后天 -> 3;
    (过)几天/a few days -> 3; 尽快/asap -> 7; 这周/本周/周末/this week -> 7 (not the days left in the
    week: DOMAIN.md); 下周/next week -> 14; 下下周 -> 21; 下个月/next month -> 30 (DOMAIN.md);
    半个月 -> 15; 一个季度 -> 90; 下个季度 -> 180; 半年 -> 180; 明年/next year -> 365;
    最近/近期/soon -> 30; a fortnight -> 14.
    Counted: N天/N days -> N; N周/N weeks -> 7N; N个月/N months -> 30N; N个季度 -> 90N;
    N年/N years -> 365N; a couple of / a few days, weeks, months -> 2 or 3 of them;
    两三天 -> 3 and 一两个月 -> 60 (a spoken range takes its upper end).
    Dated: 这个月/本月/this month, 月底/月末/end of the month/before the month is out -> days to
    the last day of the call's month (like 年底); 下个月中旬/mid next month -> to the 15th of the
    next month, 下个月初 -> to its 1st; 年底/年前/年内/今年/by the end of the year -> days to
    31 December of the call's year; 明年底 -> to 31 December of the next year; 明年初/start of next year ->
    to 1 January; 明年年中/middle of next year -> to 1 July of the next year;
    春节(前)/过年/开年/before Chinese New Year -> days to the next Spring Festival (a table of
    its dates 2023-2032, 1 February outside it); 年后/过完年 -> that plus 15; 国庆 -> to
    1 October, 五一/劳动节 -> 1 May, 双十一 -> 11 November, 元旦 -> 1 January
    (the next one), Christmas -> 25 December; N月(份/底)/in January -> to the end of that month;
    N月中(旬)/mid-January -> to its 15th; 3月15号/the fifteenth of March/March 15th -> to that day;
    周三/星期五/Saturday -> days to that weekday; 下周六/下下周六 -> that weekday of the next week
    (or the one after).
    No rush (不急, 还早, 再说, no rush, just looking) says no time and gives None.
    When several spans are said, the last wins: people correct themselves (这周不行，下周吧 -> 14).
    """
    prepared = _numbers(_prepare(text).replace("五一", "劳动节"))
    hits: list[tuple[int, int, re.Match[str], TimelineRule]] = []
    for pattern, rule in _TIMELINE_RULES:
        hits.extend((m.start(), m.start() - m.end(), m, rule) for m in pattern.finditer(prepared))
    hits.sort(key=lambda h: (h[0], h[1]))
    kept: list[tuple[re.Match[str], TimelineRule]] = []
    end = -1
    for start, _, m, rule in hits:
        if start >= end and m.end() > start:
            kept.append((m, rule))
            end = m.end()
    for m, rule in reversed(kept):
        days = rule(m, call_date)
        if days is not None and days >= 0:
            return days
    return None


def timeline_bucket(days: int | None) -> str:
    """The ``purchase_timeline`` tag value, on the H/A/B/C grade boundaries:
    ``≤7d``, ``≤15d``, ``≤30d``, ``≤90d``, ``>90d`` (None, no timeline, counts as ``>90d``)."""
    if days is None:
        return ">90d"
    for limit in (7, 15, 30, 90):
        if days <= limit:
            return f"≤{limit}d"
    return ">90d"


# ---------------------------------------------------------------------------------------------
# Payment and trade-in

# fmt: off
_PAYMENT = _compile(
    {
        "lease": [
            "融资租赁", "以租代购", "以租代售", "经营性租赁", "租赁", "租购", "租的方式", "租车方式",
            "leas(?:e|ed|ing)",
        ],
        "loan": [
            "分期", "贷款", "按揭", "首付", "月供", "车贷", "金融方案", "做金融", "零首付", "低首付",
            "免息", "0息", "零利率", "loans?", "financ(?:e|ed|ing)", "installments?", "monthly payments?",
            "pay monthly", "down ?payment", "pay (?:it )?off over time",
        ],
        "full": [
            "全款", "一次性", "付清", "现金(?!优惠|折扣|减|返)", "全额", "pay in full", "paid in full",
            "full payment", "pay(?:ing)? (?:in )?cash", "in cash", "cash", "outright", "all at once",
            "up ?front in full", "pay (?:it )?up ?front",
            "(?:pay|paying) the (?:full|whole) (?:amount|price|sum)",
        ],
    }
)
# fmt: on
# 全款不够, 全款买不起, can't afford to pay cash: the customer will not pay in full.
_FULL_DENIED_AFTER = re.compile(r"^\S{0,3}?(?:不够|买不起|付不起|拿不出|压力大|有压力|不太行|不行|不现实)")
_FULL_DENIED_BEFORE = re.compile(
    r"(?:付不起|拿不出|买不起|can't afford(?: to)?(?: pay)?|cannot afford(?: to)?)\s*$"
)


def normalize_payment(text: str) -> str | None:
    """``full``, ``loan`` or ``lease``; None when no way of paying is said or both are weighed.

    全款/一次性/付清/现金/pay in full/cash -> full; 分期/贷款/按揭/首付/月供/免息/loan/finance/
    monthly payments/down payment -> loan; 租赁/融资租赁/以租代购/lease -> lease (a lease talks of
    首付 and 月供 too, so lease wins). Denials flip: 不贷款/不分期/不用按揭/no loan/don't need
    financing -> full; 不全款/全款不够/付不起全款/can't afford to pay cash -> loan. When full and loan
    are both affirmed (全款还是分期) the text does not decide and gives None.
    """
    prepared = _prepare(text)
    said: set[str] = set()
    for hit in _scan(_PAYMENT, prepared):
        denied = (
            _negated(prepared, hit.start)
            or (hit.value == "full" and bool(_FULL_DENIED_AFTER.search(prepared[hit.end : hit.end + 8])))
            or (
                hit.value == "full"
                and bool(_FULL_DENIED_BEFORE.search(prepared[max(0, hit.start - 30) : hit.start]))
            )
        )
        if not denied:
            said.add(hit.value)
        elif hit.value == "loan":
            said.add("full")
        elif hit.value == "full":
            said.add("loan")
    if "lease" in said:
        return "lease"
    return said.pop() if len(said) == 1 else None


# fmt: off
_TRADE_IN = _compile(
    {
        "no": [
            "没有旧车", "没旧车", "没有车", "没车", "无车", "不置换", "不用置换", "不需要置换",
            "不打算置换", "不想置换", "不考虑置换", "不换购", "首购", "首次购车", "第一次买车",
            "第(?:一|1)(?:辆|台|部)车", "头一(?:辆|台)车", "刚拿(?:的)?(?:驾照|驾驶证|证)", "旧车留着",
            "旧车不卖", "不卖旧车", "旧车不处理", "增购", "no trade[ -]?ins?", "not trading", "won't trade",
            "don't have (?:a|an old|a current) car", "no old car", "(?:my )?first car",
            "keep(?:ing)? my (?:old|current) car", "additional car", "second car",
        ],
        "yes": [
            "置换", "以旧换新", "旧车", "换购", "老车", "二手车评估", "卖掉(?:现在|我)的车",
            "trade[ -]?ins?", "trading (?:it |my \\w+ )?in", "trade (?:it|my \\w+(?: \\w+)?) in",
            "my old car", "part exchange", "sell my (?:old |current )?car",
        ],
    }
)
# fmt: on


def normalize_trade_in(text: str) -> bool | None:
    """True when the customer has a car to trade in, False when not, None when not said.

    True: 置换, 以旧换新, 旧车, 换购, 老车, trade in, trading my car in, my old car, part exchange.
    False: 没有旧车, 不置换 (any denied 置换), 首购, 第一辆车, 刚拿驾照, 旧车留着, 增购 (a second car
    beside the old one), no trade-in, first car, keep my old car. A denial outweighs a mention.
    """
    prepared = _prepare(text)
    verdict: bool | None = None
    for hit in _scan(_TRADE_IN, prepared):
        if hit.value == "no" or _negated(prepared, hit.start):
            return False
        verdict = True
    return verdict


# ---------------------------------------------------------------------------------------------
# Powertrain, body type, usage, concerns

# fmt: off
_POWERTRAIN = _compile(
    {
        "erev": [
            "增程", "增程式", "增程器", "range[ -]extend(?:er|ed)", "extended[ -]range", "e?rev", "reev",
        ],
        "phev": ["插混", "插电", "插电混动", "插电式混动", "dm-?i", "plug-?in(?: hybrid)?", "phev"],
        "hybrid": [
            "油电混动", "油电混合", "非插电混动", "非插混", "混动", "双擎", "油电",
            "self[ -]charging hybrid", "full hybrid", "hybrid", "hev",
        ],
        "ev": [
            "纯电", "纯电动", "(?<!油)电动车", "(?<!油)电车", "电动汽车", "bev", "evs?",
            "electric(?! hybrid)", "all[ -]electric", "battery electric",
        ],
        "ice": [
            "燃油", "油车", "汽油", "烧油", "柴油", "纯油", "gasoline", "petrol", "gas car", "diesel",
            "combustion", "ice",
        ],
    }
)
# fmt: on

# fmt: off
_BODY_TYPE = _compile(
    {
        "suv": ["suvs?", "越野车?", "运动型多功能车", "crossover", "sport utility"],
        "sedan": ["轿车", "三厢车?", "小轿车", "轿跑", "sedans?", "saloon", "four[ -]doors?"],
        "mpv": [
            "mpvs?", "商务车", "保姆车", "面包车", "多用途汽?车", "minivan", "people carrier", "people mover",
            "\\bvan",
        ],
        "hatchback": ["两厢车?", "掀背", "小钢炮", "hatchbacks?", "hatch"],
        "wagon": ["旅行车", "旅行版", "猎装", "瓦罐", "wagons?", "estate", "shooting brake", "touring"],
    }
)
# fmt: on

# fmt: off
_USAGE = _compile(
    {
        "commute": [
            "上下班", "通勤", "代步", "上班", "市区开", "城里开", "买菜", "commut(?:e|es|ing)", "to work",
            "daily driv(?:e|er|ing)", "get around town", "city driving", "around town",
        ],
        "family": [
            "家用", "家里用", "一家人", "全家", "家庭", "接送孩子", "接孩子", "送孩子", "带孩子", "带娃",
            "老婆开", "老人", "family", "kids", "school run",
        ],
        "long_distance": [
            "长途", "跑长途", "自驾游", "跑高速", "回老家", "远途", "出远门", "跨省", "long[ -]distance",
            "road trips?", "long trips?", "long drives?", "highway",
        ],
        "business": [
            "商务", "接待客户", "见客户", "谈生意", "做生意", "跑业务", "谈业务", "公司用", "公务",
            "business", "clients?",
            "company car", "work trips?",
        ],
        "ride_hailing": [
            "网约车", "跑网约", "跑滴滴", "跑专车", "专车", "滴滴", "出租车?", "拉活", "跑车拉客",
            "ride[ -]?hailing", "didi",
            "uber", "taxi",
        ],
        "leisure": [
            "周末出去玩", "出去玩", "郊游", "露营", "钓鱼", "旅游", "兜风", "自驾", "户外", "leisure",
            "weekend trips?", "camping", "fishing", "for fun", "outdoors?",
        ],
    }
)
# fmt: on

# fmt: off
_CONCERN = _compile(
    {
        "price": [
            "价格", "价钱", "性价比", "太贵", "有点贵", "挺贵", "比较贵", "贵了", "贵不贵", "优惠", "折扣",
            "降价",
            "便宜", "落地价", "多少钱", "砍价", "预算不够", "prices?", "expensive", "costs?", "discounts?",
            "cheaper", "too much",
        ],
        "range": [
            "续航", "跑多远", "里程焦虑", "掉电", "能跑多少公里", "range", "how far", "miles per charge",
        ],
        "charging": [
            "充电", "充电桩", "快充", "慢充", "超充", "换电", "家充", "charg(?:e|es|er|ers|ing)",
            "supercharg(?:er|ers|ing)", "charging stations?",
        ],
        "space": [
            "空间", "后排", "后备箱", "尾箱", "坐得下", "坐不下", "太挤", "有点挤", "挤不挤", "腿部",
            "第三排", "储物", "space", "room", "trunk", "boot", "legroom", "third row", "cramped",
        ],
        "safety": [
            "安全", "碰撞", "气囊", "自燃", "起火", "刹车", "safety", "safe", "crash(?:es)?", "airbags?",
            "catch(?:es)? fire",
        ],
        "maintenance": [
            "保养", "维修", "维护", "修车", "售后", "配件", "maintenance", "servic(?:e|ing) costs?",
            "servicing", "repairs?", "after[ -]sales",
        ],
        "resale": [
            "保值", "残值", "贬值", "二手价", "二手车价", "resale", "depreciat(?:e|es|ion)",
            "holds? (?:its|their) value", "residual value",
        ],
        "delivery_time": [
            "提车", "交付", "交车", "等车", "现车", "排队", "多久能拿到", "deliver(?:y|ed)",
            "wait(?:ing)? time", "lead time", "in stock", "how soon can i get",
        ],
        "reliability": [
            "质量", "可靠", "毛病", "故障", "耐用", "皮实", "靠谱", "召回", "reliab(?:le|ility)",
            "break(?:s)? down", "problems", "quality", "recalls?",
        ],
        "fuel_economy": [
            "油耗", "省油", "费油", "能耗", "电耗", "百公里", "fuel economy", "fuel consumption", "mpg",
            "gas mileage", "fuel[ -]efficien(?:t|cy)", "consumption",
        ],
        "comfort": [
            "舒适", "舒服", "座椅", "噪音", "隔音", "悬挂", "颠簸", "晕车", "异味", "comfort(?:able)?",
            "noisy", "noise", "quiet", "ride quality", "seats",
        ],
        "performance": [
            "动力", "加速", "百公里加速", "操控", "马力", "推背", "提速", "爬坡", "performance",
            "acceleration", "power(?:ful)?", "handling", "horsepower", "torque", "sluggish",
        ],
        "smart_features": [
            "智能", "智驾", "辅助驾驶", "自动驾驶", "车机", "语音", "座舱", "自动泊车", "领航", "ota",
            "激光雷达", "smart features?", "autopilot", "self[ -]driving", "driver assist(?:ance)?",
            "infotainment", "voice control", "screens?",
        ],
        "financing": [
            "贷款利率", "利率", "利息", "月供", "首付", "金融政策", "贷款", "分期", "免息", "征信",
            "financing", "interest rates?", "monthly payments?", "down ?payment", "loans?", "apr",
        ],
        "trade_in_value": [
            "旧车能卖多少", "旧车估价", "旧车值多少", "置换补贴", "评估价", "置换价", "旧车评估",
            "trade[ -]in (?:value|price|offer)", "old car (?:is )?worth", "valuation",
        ],
        "insurance": ["保险", "保费", "车险", "insurance", "premiums?", "insur(?:e|ed)"],
    }
)
# fmt: on
# A concern the customer sets aside is none: 续航不担心, 不在乎价格, price doesn't matter.
_CONCERN_DISMISSED_BEFORE = re.compile(
    r"(?:不担心|不在乎|不在意|不关心|不介意|无所谓|不用担心|不考虑)\S{0,2}$|"
    r"(?<![a-z])(?:not worried about|don't care about|do not care about|not concerned about|"
    r"not bothered about|no concerns? about)\s+(?:the\s+)?$"
)
_CONCERN_DISMISSED_AFTER = re.compile(
    r"^\S{0,2}?(?:不担心|没问题|不是问题|无所谓|够用|够了|还行|不重要|不在乎|都行|可以接受|能接受)|"
    r"^\s*(?:is|are)?\s*(?:fine|ok|okay|good enough|not a concern|not an issue|not a problem|no problem|"
    r"doesn't matter|does not matter)"
)


def normalize_powertrain(text: str) -> str | None:
    """``ev``/``phev``/``erev``/``hybrid``/``ice``: the first affirmed mention.

    纯电/电车/electric/EV -> ev; 插混/插电/DM-i/plug-in -> phev; 增程/range extender/EREV -> erev;
    油电混动/混动/双擎/hybrid -> hybrid (a bare 混动 is a hybrid, 插电混动 a phev); 燃油/油车/汽油/
    petrol/gasoline -> ice. Denied ones are skipped (不要纯电, not an electric).
    """
    return _first_affirmed(_POWERTRAIN, text)


def normalize_body_type(text: str) -> str | None:
    """``suv``/``sedan``/``mpv``/``hatchback``/``wagon``: the first affirmed mention.

    SUV/越野/crossover -> suv; 轿车/三厢/sedan -> sedan; MPV/商务车/保姆车/minivan -> mpv;
    两厢/掀背/hatchback -> hatchback; 旅行车/旅行版/猎装/wagon/estate -> wagon.
    """
    return _first_affirmed(_BODY_TYPE, text)


def normalize_usage(text: str) -> str | None:
    """One of commute, family, long_distance, business, ride_hailing, leisure: the first affirmed.

    上下班/通勤/代步/commute -> commute; 家用/一家人/接送孩子/family/kids -> family; 长途/自驾游/
    回老家/road trips -> long_distance; 商务/见客户/公司用/business -> business; 网约车/跑滴滴/
    出租/ride-hailing/Didi/Uber -> ride_hailing; 出去玩/露营/钓鱼/旅游/camping -> leisure.
    """
    return _first_affirmed(_USAGE, text)


def normalize_concern(text: str) -> str | None:
    """One of DOMAIN.md's 16 concern keys: the first worry the text voices.

    From keyword tables (价格/太贵/price -> price, 续航/range -> range, 充电/charging -> charging,
    保值/resale -> resale, 月供/利率/financing -> financing, 置换补贴/trade-in value ->
    trade_in_value ...; see ``_CONCERN``). A worry set aside is skipped: 不担心续航, 续航够用,
    价格无所谓, not worried about range, price doesn't matter. A plain 不 is not a denial here:
    不安全 and 不保值 are the worries themselves.
    """
    prepared = _prepare(text)
    for hit in _scan(_CONCERN, prepared):
        if _CONCERN_DISMISSED_BEFORE.search(prepared[max(0, hit.start - 30) : hit.start]):
            continue
        if _CONCERN_DISMISSED_AFTER.search(prepared[hit.end : hit.end + 20]):
            continue
        return hit.value
    return None


# ---------------------------------------------------------------------------------------------
# Dispatch


# Household situations: (Chinese value, English value, phrases). First match wins, so the
# wider situation (三代同堂) comes before its parts (孩子, 老人).
_HOUSEHOLD: tuple[tuple[str, str, re.Pattern[str]], ...] = tuple(
    (zh, en, re.compile(pattern))
    for zh, en, pattern in (
        (
            "三代同堂",
            "three generations",
            r"三代同堂|三代人|祖孙三代|一大家子|上有老下有小|老人(?:和|跟|带)?孩子|老的小的|"
            r"grandparents and (?:the )?kids|three generations|whole family under one roof",
        ),
        (
            "三个孩子",
            "three kids",
            r"三个(?:孩子|娃|小孩|宝宝)|仨(?:孩子|娃)|三胎|three (?:kids|children)",
        ),
        (
            "两个孩子",
            "two kids",
            r"两个(?:孩子|娃|小孩|宝宝)|俩(?:孩子|娃|小孩|宝)|二胎|"
            r"two (?:kids|children|teenagers|teens|boys|girls|little ones)|second (?:child|baby)|"
            r"(?:a|one) (?:kid|child|toddler|baby|teenager) and (?:a|one|another) (?:kid|child|toddler|baby)",
        ),
        (
            "一个孩子",
            "one child",
            r"一个(?:孩子|娃|小孩|宝宝)|有个(?:孩子|娃|小孩|宝宝)|独生|"
            r"(?<![a-z])(?:one|a) (?:kid|child|toddler|baby)(?![a-z])|our (?:son|daughter)",
        ),
        (
            "新婚",
            "newly married",
            r"新婚|刚结婚|刚成家|刚领证|just (?:got )?married|newly ?weds?|newly married",
        ),
        (
            "有老人",
            "lives with parents",
            r"老人|爸妈|父母|公婆|岳父母|parents? (?:live|living|lives) with|live with (?:my |our )?parents|"
            r"elderly",
        ),
        (
            "单身",
            "single",
            r"单身|未婚|还没结婚|没成家|就我一个人|自己一个人|(?<![a-z])single(?![a-z])|just me|live alone",
        ),
    )
)


_HOUSEHOLD_WORD = re.compile(
    r"孩子|娃|小孩|儿子|女儿|老婆|老公|爱人|媳妇|妻子|丈夫|父母|爸|妈|老人|家|口人|夫妻|两口|结婚|单身|怀孕|宝宝|"
    r"孙|兄弟|姐妹|女朋友|男朋友|对象|猫|狗|宠物|"
    r"(?<![a-z])(kids?|child(ren)?|sons?|daughters?|wife|husband|partner|family|parents|mum|mom|dad|baby|"
    r"married|single|pregnant|grand\w*|teen\w*|dogs?|cats?|girlfriend|boyfriend|couple|twins|toddler)(?![a-z])",
    re.IGNORECASE,
)


def normalize_household(text: str) -> str | None:
    """A short household description (DOMAIN.md: 两个孩子, 三代同堂).

    Common situations get one canonical value, in the text's language: 三代同堂 / three
    generations, 三个孩子, 两个孩子 (俩孩子, 二胎) / two kids, 一个孩子 (有个娃) / one child,
    新婚 (刚结婚, 刚成家) / newly married, 有老人 (爸妈跟我们住) / lives with parents, 单身 /
    single. Anything else is kept as said, simplified and stripped of punctuation.
    """
    prepared = _prepare(text)
    chinese = bool(re.search(f"[{_CJK}]", prepared))
    for zh, en, pattern in _HOUSEHOLD:
        if pattern.search(prepared):
            return zh if chinese else en
    stripped = simplified(text).strip(" \t\r\n,.;:!?，。；：！？、…")
    # Kept as said only when it speaks of people or pets at home: "guys" or "一下" is no household.
    return stripped if stripped and _HOUSEHOLD_WORD.search(stripped) else None


def normalize(
    key: str,
    text: str,
    call_date: dt.date | None = None,
    gazetteer: Gazetteer | None = None,
) -> NormalizedValue | None:
    """A span's value in DOMAIN.md's form for an attribute ``key``; None when it cannot be read.

    ``budget_cny`` -> ``{"min": int | None, "max": int | None}``; ``models_of_interest`` and
    ``competitors`` -> ``"Brand Model"`` (or ``"Brand"``); ``purchase_timeline_days`` -> int,
    counted from ``call_date`` (today when not given); ``payment`` -> full/loan/lease;
    ``trade_in`` -> bool; ``powertrain``, ``body_type``, ``usage``, ``concerns`` -> one key;
    ``household`` -> a canonical short text (``normalize_household``). The car keys use ``gazetteer``, or the
    one in the default models directory when none is given.

    Raises:
        ValueError: ``key`` is not one of ``ATTRIBUTE_KEYS``.
    """
    if key == "budget_cny":
        budget = normalize_budget(text)
        return None if budget is None else {"min": budget[0], "max": budget[1]}
    if key in ("models_of_interest", "competitors"):
        if gazetteer is None:
            from callintel.settings import Settings

            gazetteer = Gazetteer.from_models_dir(Settings().models_dir)
        return gazetteer.match_model(text)
    if key == "purchase_timeline_days":
        return normalize_timeline(text, call_date or dt.date.today())
    if key == "payment":
        return normalize_payment(text)
    if key == "trade_in":
        return normalize_trade_in(text)
    if key == "powertrain":
        return normalize_powertrain(text)
    if key == "body_type":
        return normalize_body_type(text)
    if key == "usage":
        return normalize_usage(text)
    if key == "concerns":
        return normalize_concern(text)
    if key == "household":
        return normalize_household(text)
    raise ValueError(f"unknown attribute key {key!r}: expected one of {', '.join(ATTRIBUTE_KEYS)}")
