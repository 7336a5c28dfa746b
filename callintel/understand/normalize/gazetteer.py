"""The car gazetteer (``models/gazetteer/cars.yaml``): its one reader and schema, and the
matcher from what is said (零克 08, 領克08, the RAV4 hybrid) to DOMAIN.md's ``"Brand Model"``.

Robust to ASR through the file's aliases and homophones, Chinese numerals, case, full-width
and Traditional forms; near-miss names through rapidfuzz. The corpus generator reads the
same file through ``Gazetteer.load``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import cn2an
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from rapidfuzz import fuzz, process

from callintel.domain import BodyType, Powertrain
from callintel.errors import ConfigError
from callintel.understand.normalize.keywords import CJK, prepare
from callintel.understand.normalize.numbers import CN_DIGITS, CN_NUMERALS
from callintel.yamlfile import load_yaml

logger = logging.getLogger(__name__)


def _fold(text: str) -> str:
    """The form car names are compared in: prepared, punctuation to spaces, no spaces beside
    Chinese characters, digits or '+' (so 'Model 3', 'model3' and 'MODEL３' fold alike)."""
    text = re.sub(rf"[^0-9a-z+{CJK}]+", " ", prepare(text))
    text = re.sub(rf"\s+(?=[{CJK}0-9+])|(?<=[{CJK}0-9+])\s+", "", text)
    return text.strip()


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
    aliases: tuple[str, ...] = ()
    """The model's other names as the file writes them (not its context aliases)."""
    brand_aliases: tuple[str, ...] = ()
    """The brand's other names as the file writes them (not its weak aliases)."""

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
        forms.add(re.sub(r"\d", lambda m: CN_DIGITS[int(m.group())], alias))

        def spoken(m: re.Match[str]) -> str:
            digits = m.group()
            if len(digits) > 1 and digits[0] != "0":
                return str(cn2an.an2cn(digits))
            return "".join(CN_DIGITS[int(d)] for d in digits)

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
        if re.search(f"[{CJK}]", alias):
            # Not a name read out in numerals (F一百五十 would be any 一百五十).
            return len(alias) >= 4 and len(re.findall(f"[{CJK}]", re.sub(f"[{CN_NUMERALS}]", "", alias))) >= 2
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
        tokens = [m.span() for m in re.finditer(rf"[0-9a-z+]+|[{CJK}]", folded)]
        longest = max(self._fuzzy, default=0) + 1
        best: tuple[float, int, str] | None = None
        for i, (start, _) in enumerate(tokens):
            for _, end in tokens[i:]:
                window = folded[start:end]
                if len(window) > longest:
                    break
                chinese = bool(re.search(f"[{CJK}]", window))
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
    if not re.search(f"[{CJK}]", model.name):
        return ""
    latin = [a for a in (*model.context_aliases, *model.aliases) if a.isascii() and re.search("[A-Za-z]", a)]
    return latin[0] if latin else ""


@lru_cache(maxsize=8)
def _load_gazetteer(path: Path) -> Gazetteer:
    try:
        raw = _GazetteerFile.model_validate(load_yaml(path.read_text("utf-8")))
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
                    tuple(model.aliases),
                    tuple(brand.aliases),
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
