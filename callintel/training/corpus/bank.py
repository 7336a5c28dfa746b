"""Phrase banks: the YAML templates and lexicons of one split and language.

A template is text with ``{slot}`` holes. Slots named after an attribute (``model``, ``budget``,
``timeline``, ``payment``, ``trade_in``, ``no_trade_in``, ``powertrain``, ``body_type``, ``usage``,
``household``, ``concern``, ``competitor`` in customer turns) become labelled pieces; every other slot
(``agent``, ``store``, ``price``, ``powertrain_x`` ...) is filled with plain, unlabelled text.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DATA_DIR = Path(__file__).resolve().parent / "data"
_SLOT = re.compile(r"\{(\w+)\}")

# Customer slot name -> the attribute key its piece is labelled with.
LABELLED_SLOTS: dict[str, str] = {
    "model": "models_of_interest",
    "competitor": "competitors",
    "budget": "budget_cny",
    "timeline": "purchase_timeline_days",
    "payment": "payment",
    "trade_in": "trade_in",
    "no_trade_in": "trade_in",
    "powertrain": "powertrain",
    "body_type": "body_type",
    "usage": "usage",
    "household": "household",
    "concern": "concerns",
}


@dataclass(frozen=True)
class Template:
    """A parsed template: alternating literal strings and slot names, plus where it came from."""

    id: str
    text: str
    parts: tuple[tuple[str, bool], ...]  # (literal or slot name, is_slot)
    slots: tuple[str, ...]

    @classmethod
    def parse(cls, tid: str, text: str) -> Template:
        parts: list[tuple[str, bool]] = []
        pos = 0
        for m in _SLOT.finditer(text):
            if m.start() > pos:
                parts.append((text[pos : m.start()], False))
            parts.append((m.group(1), True))
            pos = m.end()
        if pos < len(text):
            parts.append((text[pos:], False))
        return cls(tid, text, tuple(parts), tuple(p for p, s in parts if s))

    @property
    def labelled_slots(self) -> tuple[str, ...]:
        return tuple(s for s in self.slots if s in LABELLED_SLOTS)


@dataclass(frozen=True)
class Bank:
    """Everything one (split, language) generator draws from."""

    split: str
    lang: str
    sales: dict[str, dict[str, tuple[Template, ...]]]  # checkpoint/filler -> scenario|"all" -> templates
    violations: dict[str, tuple[Template, ...]]
    customer: dict[str, tuple[Template, ...]]
    lexicon: dict[str, Any]

    def sales_templates(self, kind: str, scenario: str) -> tuple[Template, ...]:
        by_scn = self.sales[kind]
        return by_scn.get(scenario, ()) + by_scn.get("all", ())

    def all_templates(self) -> list[Template]:
        out = [t for by in self.sales.values() for ts in by.values() for t in ts]
        out += [t for ts in self.violations.values() for t in ts]
        out += [t for ts in self.customer.values() for t in ts]
        return out


def _templates(prefix: str, items: Any) -> tuple[Template, ...]:
    if not isinstance(items, list):
        raise ValueError(f"{prefix}: expected a list of templates, got {type(items).__name__}")
    return tuple(Template.parse(f"{prefix}#{i}", str(t)) for i, t in enumerate(items))


@functools.lru_cache(maxsize=8)
def load_bank(split: str, lang: str, data_dir: Path = DATA_DIR) -> Bank:
    """Load ``data/<split>/<lang>.yaml``."""
    path = data_dir / split / f"{lang}.yaml"
    if not path.exists():
        raise ValueError(f"no phrase bank for split={split!r} language={lang!r} (looked for {path})")
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    pre = f"{split}/{lang}"
    sales: dict[str, dict[str, tuple[Template, ...]]] = {}
    for kind, val in raw["sales"].items():
        by = val if isinstance(val, dict) else {"all": val}
        sales[kind] = {scn: _templates(f"{pre}/sales/{kind}/{scn}", ts) for scn, ts in by.items()}
    violations = {k: _templates(f"{pre}/violation/{k}", v) for k, v in raw["violations"].items()}
    customer = {k: _templates(f"{pre}/customer/{k}", v) for k, v in raw["customer"].items()}
    return Bank(split, lang, sales, violations, customer, raw["lexicon"])
