"""Labelled calls for evaluation: the call-level format of the natural dialogues, or the corpus.

Two formats are read, one JSON object a line, told apart line by line:

- **call level** (``../shared/data/dialogues/``): ``turns`` of ``{speaker, text}``, the call's
  ``checkpoints`` (every key, true or false) with ``turn_checkpoints`` (sales turn -> keys, the
  evidence), ``violations`` (``{turn, type, text}``, the text a substring of that turn),
  ``attributes`` (the 11 keys, ``null``/``[]`` when not said) and ``intent_grade``;
- **corpus** (``docs/corpus.md``): per-turn labels, brought up to the call's level here (a
  checkpoint is passed when a sales turn carries it; a list attribute collects every value; any
  other attribute takes the customer's last word).

Every problem is a ``ValueError`` that names the line, the dialogue and the field.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from callintel.domain import ATTRIBUTES, CHECKPOINTS, GRADES, LANGUAGES, SCENARIOS, VIOLATIONS
from callintel.training.corpus.jsonl import attribute_value_problem, validate_dialogue
from callintel.understand.classifiers import CallTurn

LIST_KEYS = ("models_of_interest", "competitors", "usage", "concerns")
CURRENCIES = ("CNY", "USD", "GBP", "EUR", "AUD", "CAD", "SGD", "HKD", "NZD", "JPY")
DEFAULT_CALL_DATE = dt.date(2026, 11, 20)
"""The natural dialogues' date (their README): relative timelines count from it."""


@dataclass(frozen=True)
class LabelledViolation:
    turn: int
    type: str
    text: str


@dataclass(frozen=True)
class LabelledCall:
    """One call with the labels a careful QA reviewer wrote down for the whole call."""

    id: str
    language: str
    scenario: str
    call_date: dt.date
    turns: tuple[CallTurn, ...]
    checkpoints: frozenset[str]
    turn_checkpoints: Mapping[int, frozenset[str]]
    violations: tuple[LabelledViolation, ...]
    attributes: Mapping[str, Any]
    grade: str


def read_labelled_calls(path: Path) -> list[LabelledCall]:
    """Every call in a JSONL file of either format; ValueError names the line and field at fault."""
    calls = list(_read(Path(path)))
    if not calls:
        raise ValueError(f"{path}: no dialogues in the file")
    return calls


def _read(path: Path) -> Iterator[LabelledCall]:
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}: line {number}: invalid JSON: {e.msg}") from e
            yield parse_labelled_call(data, f"{path}: line {number}")


def parse_labelled_call(data: Any, where: str = "") -> LabelledCall:
    """One call from a decoded JSON object of either format."""
    if isinstance(data, Mapping) and "intent_grade" in data:
        return _call_level(data, where)
    if isinstance(data, Mapping) and "grade" in data:
        try:
            validate_dialogue(data)
        except ValueError as e:
            raise ValueError(f"{where}: {e}" if where else str(e)) from e
        return from_corpus(data)
    raise ValueError(
        f"{where}: neither format: a call-level dialogue has 'intent_grade', a corpus dialogue 'grade'"
    )


def _call_level(d: Mapping[str, Any], where: str) -> LabelledCall:
    ident = d.get("id")

    def fail(field: str, problem: str) -> NoReturn:
        name = f"dialogue {ident!r}: " if isinstance(ident, str) else ""
        raise ValueError(f"{where}: {name}{field}: {problem}")

    for field in ("id", "scenario", "language", "turns", "checkpoints", "violations", "attributes"):
        if field not in d:
            fail(field, "missing")
    if not isinstance(ident, str) or not ident:
        fail("id", "must be a non-empty string")
    if d["language"] not in LANGUAGES:
        fail("language", f"unknown {d['language']!r}; valid: {', '.join(LANGUAGES)}")
    if d["scenario"] not in SCENARIOS:
        fail("scenario", f"unknown {d['scenario']!r}; valid: {', '.join(SCENARIOS)}")
    if d["intent_grade"] not in GRADES:
        fail("intent_grade", f"unknown {d['intent_grade']!r}; valid: {', '.join(GRADES)}")
    call_date = DEFAULT_CALL_DATE
    if d.get("call_date") is not None:
        try:
            call_date = dt.date.fromisoformat(str(d["call_date"]))
        except ValueError:
            fail("call_date", f"not an ISO date: {d['call_date']!r}")

    raw_turns = d["turns"]
    if not isinstance(raw_turns, list) or not raw_turns:
        fail("turns", "must be a non-empty list")
    turns = []
    for i, t in enumerate(raw_turns):
        if not isinstance(t, Mapping):
            fail(f"turns[{i}]", "must be an object {speaker, text}")
        if t.get("speaker") not in ("sales", "customer"):
            fail(f"turns[{i}].speaker", f"must be 'sales' or 'customer', got {t.get('speaker')!r}")
        if not isinstance(t.get("text"), str):
            fail(f"turns[{i}].text", "must be a string")
        turns.append(CallTurn(t["speaker"], t["text"]))

    checkpoints = d["checkpoints"]
    if not isinstance(checkpoints, Mapping):
        fail("checkpoints", "must be an object of checkpoint -> true/false")
    for key, value in checkpoints.items():
        if key not in CHECKPOINTS:
            fail(f"checkpoints.{key}", f"unknown checkpoint; valid: {', '.join(CHECKPOINTS)}")
        if not isinstance(value, bool):
            fail(f"checkpoints.{key}", "must be true or false")
    by_turn: dict[int, frozenset[str]] = {}
    raw_by_turn = d.get("turn_checkpoints") or {}
    if not isinstance(raw_by_turn, Mapping):
        fail("turn_checkpoints", "must be an object of sales turn index -> checkpoint keys")
    for key, keys in raw_by_turn.items():
        index = _turn_index(key, turns)
        if index is None or turns[index].role != "sales":
            fail(f"turn_checkpoints.{key}", "must be the index of a sales turn")
        if not isinstance(keys, list) or any(k not in CHECKPOINTS for k in keys):
            fail(f"turn_checkpoints.{key}", f"must list checkpoint keys; valid: {', '.join(CHECKPOINTS)}")
        by_turn[index] = frozenset(keys)

    if not isinstance(d["violations"], list):
        fail("violations", "must be a list of {turn, type, text}")
    violations = []
    for i, v in enumerate(d["violations"]):
        field = f"violations[{i}]"
        if not isinstance(v, Mapping):
            fail(field, "must be an object {turn, type, text}")
        index = _turn_index(v.get("turn"), turns)
        if index is None or turns[index].role != "sales":
            fail(f"{field}.turn", f"{v.get('turn')!r} is not the index of a sales turn")
        if v.get("type") not in VIOLATIONS:
            fail(f"{field}.type", f"unknown violation {v.get('type')!r}; valid: {', '.join(VIOLATIONS)}")
        text = v.get("text")
        if not isinstance(text, str) or not text.strip() or text not in turns[index].text:
            fail(f"{field}.text", f"{text!r} is not in the words of turn {index}")
        violations.append(LabelledViolation(index, v["type"], text))

    attributes = d["attributes"]
    if not isinstance(attributes, Mapping):
        fail("attributes", "must be an object of the attribute keys")
    values: dict[str, Any] = {}
    for key, value in attributes.items():
        if key not in ATTRIBUTES:
            fail(f"attributes.{key}", f"unknown attribute; valid: {', '.join(ATTRIBUTES)}")
        problem = _attribute_problem(key, value)
        if problem:
            fail(f"attributes.{key}", problem)
        if value not in (None, []):
            values[key] = value

    return LabelledCall(
        id=ident,
        language=d["language"],
        scenario=d["scenario"],
        call_date=call_date,
        turns=tuple(turns),
        checkpoints=frozenset(k for k, v in checkpoints.items() if v),
        turn_checkpoints=by_turn,
        violations=tuple(violations),
        attributes=values,
        grade=d["intent_grade"],
    )


def _turn_index(value: Any, turns: list[CallTurn]) -> int | None:
    try:
        index = int(value)
    except (TypeError, ValueError):
        return None
    return index if 0 <= index < len(turns) and not isinstance(value, bool) else None


def _attribute_problem(key: str, value: Any) -> str | None:
    """Call-level attribute values: the corpus's forms, lists for the list keys, null allowed."""
    if value is None:
        return None
    if key in LIST_KEYS:
        if not isinstance(value, list):
            return f"must be a list, got {value!r}"
        single = "models_of_interest" if key == "competitors" else key
        return next((p for p in (attribute_value_problem(single, v) for v in value) if p), None)
    if key == "budget_cny" and isinstance(value, Mapping) and "currency" in value:
        if value["currency"] not in CURRENCIES:
            return f"unknown currency {value['currency']!r}; valid: {', '.join(CURRENCIES)}"
        value = {k: v for k, v in value.items() if k != "currency"}
    return attribute_value_problem(key, value)


def from_corpus(d: Mapping[str, Any]) -> LabelledCall:
    """A corpus dialogue (already validated) with its per-turn labels at the call's level."""
    turns = tuple(CallTurn(t["role"], t["text"]) for t in d["turns"])
    by_turn = {
        i: frozenset(t.get("checkpoints") or ())
        for i, t in enumerate(d["turns"])
        if t["role"] == "sales" and t.get("checkpoints")
    }
    violations = tuple(
        LabelledViolation(i, v, t["text"])
        for i, t in enumerate(d["turns"])
        if t["role"] == "sales"
        for v in t.get("violations") or ()
    )
    values: dict[str, Any] = {}
    for t in d["turns"]:
        for a in t.get("attributes") or ():
            if a["key"] in LIST_KEYS:
                listed = values.setdefault(a["key"], [])
                if a["value"] not in listed:
                    listed.append(a["value"])
            else:
                values[a["key"]] = a["value"]
    return LabelledCall(
        id=str(d["id"]),
        language=d["language"],
        scenario=d["scenario"],
        call_date=dt.date.fromisoformat(d["call_date"]),
        turns=turns,
        checkpoints=frozenset(k for keys in by_turn.values() for k in keys),
        turn_checkpoints=by_turn,
        violations=violations,
        attributes=values,
        grade=d["grade"],
    )
