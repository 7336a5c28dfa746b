"""Transcripts without audio: JSON, or plain text with 销售:/客户: or Agent:/Customer: prefixes."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from callintel.domain import SCENARIOS
from callintel.understand.classifiers import CallTurn

_PREFIXES = {
    "sales": ("销售", "顾问", "销售顾问", "客服", "坐席", "agent", "sales", "salesperson", "advisor", "rep"),
    "customer": ("客户", "顾客", "客人", "customer", "caller", "client"),
}
_LINE = re.compile(r"^\s*([^:：]{1,20})\s*[:：]\s*(.*)$")


@dataclass(frozen=True)
class Transcript:
    language: str | None
    scenario: str | None
    turns: tuple[CallTurn, ...]


def _role(prefix: str) -> str | None:
    prefix = prefix.strip().lower()
    for role, names in _PREFIXES.items():
        if prefix in names:
            return role
    return None


def parse_transcript(text: str) -> Transcript:
    """Parse a transcript given as JSON or as prefixed plain text.

    Raises:
        ValueError: with the line or field that is wrong.
    """
    stripped = text.lstrip()
    if stripped.startswith("{"):
        return _from_json(stripped)
    turns: list[CallTurn] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        match = _LINE.match(line)
        role = _role(match.group(1)) if match else None
        if match is None or role is None:
            if turns:  # a continuation line of the previous turn
                last = turns[-1]
                turns[-1] = CallTurn(last.role, f"{last.text} {line.strip()}", last.start, last.end)
                continue
            raise ValueError(
                f"line {number}: expected 'ROLE: text' with ROLE one of 销售/客户/Agent/Customer, "
                f"got {line[:40]!r}"
            )
        turns.append(CallTurn(role, match.group(2).strip()))
    if not turns:
        raise ValueError("the transcript has no turns")
    return Transcript(None, None, tuple(turns))


def _from_json(text: str) -> Transcript:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"invalid JSON transcript: {e}") from e
    if not isinstance(data, dict) or not isinstance(data.get("turns"), list) or not data["turns"]:
        raise ValueError("a JSON transcript needs a non-empty 'turns' list")
    scenario = data.get("scenario")
    if scenario is not None and scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; use one of {list(SCENARIOS)}")
    turns = []
    for i, turn in enumerate(data["turns"]):
        if not isinstance(turn, dict) or turn.get("role") not in ("sales", "customer"):
            raise ValueError(f"turns[{i}]: 'role' must be 'sales' or 'customer'")
        if not isinstance(turn.get("text"), str):
            raise ValueError(f"turns[{i}]: 'text' must be a string")
        start, end = turn.get("start"), turn.get("end")
        for name, value in (("start", start), ("end", end)):
            if value is not None and not isinstance(value, (int, float)):
                raise ValueError(f"turns[{i}]: '{name}' must be a number of seconds")
        turns.append(CallTurn(turn["role"], turn["text"], start, end))
    return Transcript(data.get("language"), scenario, tuple(turns))


def read_transcript(path: Path) -> Transcript:
    return parse_transcript(Path(path).read_text(encoding="utf-8"))
