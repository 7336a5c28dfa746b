"""Customer-attribute spans to the values DOMAIN.md names: cars, budgets, timelines, payment ...

The understanding stage finds a span (预算二十万左右, 零克 08, 下个月) and these pure functions
read its value ({"min": 180000, "max": 220000}, "领克 08", 30). Car names go through a gazetteer
(``models/gazetteer/cars.yaml``, ``gazetteer``); everything else through keyword tables
(``keywords``), Chinese and English, one module per kind: ``budget``, ``timeline``,
``preferences`` (payment, trade-in, powertrain, body type, usage, concerns, household), with
numbers said in words read by ``numbers``. The hard parts are left to kept libraries: Chinese
numerals to cn2an, Traditional characters to OpenCC (``callintel.text``), near-miss car names to
rapidfuzz.

Every function returns None when the text says nothing it can read, never a guess.
"""

from __future__ import annotations

import datetime as dt

from callintel.domain import ATTRIBUTES
from callintel.understand.normalize.budget import budget_band, call_currency, normalize_budget, script_counts
from callintel.understand.normalize.gazetteer import CarSpec, Gazetteer
from callintel.understand.normalize.preferences import (
    normalize_body_type,
    normalize_concern,
    normalize_household,
    normalize_payment,
    normalize_powertrain,
    normalize_trade_in,
    normalize_usage,
)
from callintel.understand.normalize.timeline import normalize_timeline, timeline_bucket

__all__ = [
    "ATTRIBUTE_KEYS",
    "CarSpec",
    "Gazetteer",
    "NormalizedValue",
    "budget_band",
    "call_currency",
    "normalize",
    "normalize_body_type",
    "normalize_budget",
    "normalize_concern",
    "normalize_household",
    "normalize_payment",
    "normalize_powertrain",
    "normalize_timeline",
    "normalize_trade_in",
    "normalize_usage",
    "script_counts",
    "timeline_bucket",
]

# The value sets and keys are DOMAIN.md's, shared with the corpus (one definition).
ATTRIBUTE_KEYS = ATTRIBUTES

NormalizedValue = int | str | bool | dict[str, int | None]
"""What ``normalize`` returns for a span it can read (it returns None otherwise)."""


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
