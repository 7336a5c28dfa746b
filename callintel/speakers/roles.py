"""Which speaker is the salesperson and which the customer, with a confidence.

Decided from what each speaker says (weighted cue phrases in ``models/roles/cues.yaml``),
combined in log-odds with what the layout tells: the agent channel of a stereo call, and
the mild prior that whoever speaks first greets or answers. A user can override it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from callintel.errors import ConfigError
from callintel.text import flatten
from callintel.transcript import RoleDecision, SpeakerRole
from callintel.yamlfile import load_yaml

_MAX_COUNT = 3


class _CueFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scale: float
    first_speaker_prior: float
    channel_prior: float
    sales: dict[str, dict[str, float]]
    customer: dict[str, dict[str, float]]


@dataclass(frozen=True)
class SpeakerText:
    """What one speaker said, in order, and where."""

    speaker: str
    text: str
    first_start: float
    channel: int | None = None


@dataclass(frozen=True)
class RoleCues:
    scale: float
    first_speaker_prior: float
    channel_prior: float
    sales: tuple[tuple[re.Pattern[str], float], ...]
    customer: tuple[tuple[re.Pattern[str], float], ...]

    def evidence(self, text: str) -> tuple[float, tuple[str, ...]]:
        """Sales-minus-customer evidence of a text, and the phrases that gave it."""
        flat = flatten(text)
        score = 0.0
        found: list[str] = []
        for patterns, sign in ((self.sales, 1.0), (self.customer, -1.0)):
            for pattern, weight in patterns:
                matches = [m.group(0) for m in pattern.finditer(flat)][:_MAX_COUNT]
                if matches:
                    score += sign * weight * len(matches)
                    found.extend(("+" if sign > 0 else "-") + m.strip() for m in matches)
        return score, tuple(found)


@lru_cache(maxsize=8)
def load_cues(path: Path) -> RoleCues:
    try:
        raw = _CueFile.model_validate(load_yaml(path.read_text("utf-8")))
    except (OSError, yaml.YAMLError, ValidationError) as e:
        raise ConfigError(f"invalid role cue file {path}: {e}") from e

    def compile_all(groups: Mapping[str, Mapping[str, float]]) -> tuple[tuple[re.Pattern[str], float], ...]:
        return tuple((re.compile(p), w) for phrases in groups.values() for p, w in phrases.items())

    return RoleCues(
        raw.scale,
        raw.first_speaker_prior,
        raw.channel_prior,
        compile_all(raw.sales),
        compile_all(raw.customer),
    )


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


class RoleAssigner:
    """Gives each speaker the role ``sales`` or ``customer``."""

    def __init__(self, cues: RoleCues) -> None:
        self.cues = cues

    @classmethod
    def from_models_dir(cls, models_dir: Path) -> RoleAssigner:
        return cls(load_cues(Path(models_dir) / "roles" / "cues.yaml"))

    def assign(
        self,
        speakers: Sequence[SpeakerText],
        agent_channel: int | None = None,
        sales_speaker: str | None = None,
    ) -> RoleDecision:
        """Decide roles. Exactly one speaker is ``sales``; every other is ``customer``.

        Args:
            speakers: each speaker's text; its ``channel`` is set for stereo calls.
            agent_channel: the channel configured as the agent's (stereo), or None.
            sales_speaker: a user's override: this speaker is sales, certainty 1.
        """
        if not speakers:
            return RoleDecision((), 0.0, "text")
        if sales_speaker is not None:
            ids = [s.speaker for s in speakers]
            if sales_speaker not in ids:
                raise ValueError(f"sales_speaker {sales_speaker!r} is not a speaker of this call: {ids}")
            return RoleDecision(
                tuple(
                    SpeakerRole(
                        s.speaker,
                        "sales" if s.speaker == sales_speaker else "customer",
                        1.0 if s.speaker == sales_speaker else 0.0,
                        s.channel,
                        ("override",),
                    )
                    for s in speakers
                ),
                1.0,
                "override",
            )
        first = min(speakers, key=lambda s: s.first_start).speaker
        logits: list[float] = []
        evidence: list[tuple[str, ...]] = []
        for s in speakers:
            score, found = self.cues.evidence(s.text)
            logit = self.cues.scale * score
            if s.speaker == first:
                logit += self.cues.first_speaker_prior
            if agent_channel is not None and s.channel is not None:
                logit += self.cues.channel_prior if s.channel == agent_channel else -self.cues.channel_prior
            logits.append(logit)
            evidence.append(found)
        # P(speaker i is the one salesperson): a softmax over speakers' logits.
        top = max(logits)
        weights = [math.exp(x - top) for x in logits]
        total = sum(weights)
        probabilities = [w / total for w in weights]
        if len(speakers) == 1:
            probabilities = [_sigmoid(logits[0])]
        sales_index = max(range(len(speakers)), key=lambda i: probabilities[i])
        if len(speakers) == 1 and probabilities[0] < 0.5:
            sales_index = -1  # one speaker who sounds like a customer
        decided = tuple(
            SpeakerRole(
                s.speaker,
                "sales" if i == sales_index else "customer",
                round(probabilities[i], 4),
                s.channel,
                evidence[i],
            )
            for i, s in enumerate(speakers)
        )
        confidence = probabilities[0] if len(speakers) == 1 else probabilities[sales_index]
        if len(speakers) == 1:
            confidence = max(confidence, 1 - confidence)
        method: Literal["text", "channel+text"] = (
            "channel+text"
            if agent_channel is not None and any(s.channel is not None for s in speakers)
            else "text"
        )
        return RoleDecision(decided, round(confidence, 4), method)
