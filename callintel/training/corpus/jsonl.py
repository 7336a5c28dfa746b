"""Reading, writing and validating the corpus format of ``docs/corpus.md``."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, NoReturn

from callintel.domain import (
    ATTRIBUTES,
    BODY_TYPES,
    CHECKPOINTS,
    CONCERNS,
    GRADES,
    INTENT_SIGNALS,
    LANGUAGES,
    PAYMENTS,
    POWERTRAINS,
    ROLES,
    SCENARIOS,
    USAGES,
    VIOLATIONS,
)


def attribute_value_problem(key: str, value: Any) -> str | None:
    """The problem with an attribute value, or None when it is in DOMAIN.md's form."""
    if key == "budget_cny":
        if not isinstance(value, Mapping) or set(value) != {"min", "max"}:
            return "budget_cny value must be {min, max}"
        lo, hi = value["min"], value["max"]
        bounds = [v for v in (lo, hi) if v is not None]
        if not bounds or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in bounds):
            return f"budget_cny needs non-negative integers (null for an open end), got {dict(value)}"
        if lo is not None and hi is not None and lo > hi:
            return f"budget_cny min must not exceed max, got {dict(value)}"
        return None
    if key in ("models_of_interest", "competitors", "household"):
        return None if isinstance(value, str) and value.strip() else f"{key} value must be a non-empty string"
    if key == "purchase_timeline_days":
        ok = value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0)
        return None if ok else "purchase_timeline_days must be a non-negative int or null"
    if key == "trade_in":
        return None if isinstance(value, bool) else "trade_in value must be true or false"
    choices = {
        "payment": PAYMENTS,
        "powertrain": POWERTRAINS,
        "body_type": BODY_TYPES,
        "usage": USAGES,
        "concerns": CONCERNS,
    }[key]
    return None if value in choices else f"{key} value {value!r} is not one of {', '.join(choices)}"


def check_spans(turn: Mapping[str, Any]) -> list[str]:
    """Problems with a customer turn's spans: each must lie inside the text and cover non-blank words."""
    problems = []
    text = turn.get("text", "")
    for i, a in enumerate(turn.get("attributes") or ()):
        start, end = a.get("start"), a.get("end")
        if not isinstance(start, int) or not isinstance(end, int) or isinstance(start, bool):
            problems.append(f"attribute {i} ({a.get('key')}): start/end must be integers")
        elif not 0 <= start < end <= len(text):
            problems.append(
                f"attribute {i} ({a.get('key')}): span [{start}, {end}) outside text of {len(text)}"
            )
        elif not text[start:end].strip():
            problems.append(f"attribute {i} ({a.get('key')}): span [{start}, {end}) is blank")
    return problems


def validate_dialogue(d: Any, line: int | None = None) -> None:
    """Raise ValueError naming the line and the problem when ``d`` is not a valid corpus dialogue."""
    where = f"line {line}: " if line is not None else ""

    def fail(msg: str) -> NoReturn:
        ident = d.get("id") if isinstance(d, Mapping) else None
        raise ValueError(f"{where}dialogue {ident!r}: {msg}" if ident else f"{where}{msg}")

    if not isinstance(d, Mapping):
        fail("a dialogue must be a JSON object")
    for field in ("id", "language", "scenario", "call_date", "grade", "turns"):
        if field not in d:
            fail(f"missing field {field!r}")
    if d["language"] not in LANGUAGES:
        fail(f"unknown language {d['language']!r}; valid: {', '.join(LANGUAGES)}")
    if d["scenario"] not in SCENARIOS:
        fail(f"unknown scenario {d['scenario']!r}; valid: {', '.join(SCENARIOS)}")
    if d["grade"] not in GRADES:
        fail(f"unknown grade {d['grade']!r}; valid: {', '.join(GRADES)}")
    if not isinstance(d["turns"], list) or not d["turns"]:
        fail("turns must be a non-empty list")
    for n, t in enumerate(d["turns"]):
        if not isinstance(t, Mapping):
            fail(f"turn {n}: must be an object")
        role = t.get("role")
        if role not in ROLES:
            fail(f"turn {n}: unknown role {role!r}; valid: {', '.join(ROLES)}")
        if not isinstance(t.get("text"), str):
            fail(f"turn {n}: text must be a string")
        if role == "sales":
            if t.get("attributes"):
                fail(f"turn {n}: a sales turn has no attributes")
            for field, valid in (("checkpoints", CHECKPOINTS), ("violations", VIOLATIONS)):
                for k in t.get(field) or ():
                    if k not in valid:
                        fail(f"turn {n}: unknown {field[:-1]} {k!r}; valid: {', '.join(valid)}")
        else:
            if t.get("checkpoints") or t.get("violations"):
                fail(f"turn {n}: a customer turn has no checkpoints or violations")
            sig = t.get("intent_signal", "neutral")
            if sig not in INTENT_SIGNALS:
                fail(f"turn {n}: unknown intent_signal {sig!r}; valid: {', '.join(INTENT_SIGNALS)}")
            for a in t.get("attributes") or ():
                key = a.get("key") if isinstance(a, Mapping) else None
                if key not in ATTRIBUTES:
                    fail(f"turn {n}: unknown attribute key {key!r}; valid: {', '.join(ATTRIBUTES)}")
                problem = attribute_value_problem(str(key), a.get("value"))
                if problem:
                    fail(f"turn {n}: {problem}")
            for problem in check_spans(t):
                fail(f"turn {n}: {problem}")


def write_jsonl(path: str | Path, dialogues: Iterable[Mapping[str, Any]]) -> int:
    """Write one dialogue per line (UTF-8, no ASCII escaping); return how many were written."""
    n = 0
    with Path(path).open("w", encoding="utf-8") as f:
        for d in dialogues:
            f.write(json.dumps(d, ensure_ascii=False) + "\n")
            n += 1
    return n


def read_jsonl(path: str | Path, validate: bool = True) -> Iterator[dict[str, Any]]:
    """Yield the dialogues of a corpus file, validating each (ValueError names the line)."""
    with Path(path).open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"line {lineno}: not valid JSON ({e.msg})") from e
            if validate:
                validate_dialogue(d, line=lineno)
            yield d
