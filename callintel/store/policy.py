"""What a dealer chose for its calls: redaction of personal data, and which tags reach the CRM.

Stored in ``dealers.settings`` (``PUT /v1/dealers/{dealer}/settings``), validated here, and read
by the worker when it stores a call's results.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from callintel.errors import ConfigError
from callintel.store.redact import PII_KINDS
from callintel.understand.tags import TagPolicy, check_thresholds


class RedactionSettings(BaseModel):
    """Mask personal data in what is stored and sent: the transcript, the analysis, tags and
    webhook payloads (and mute the audio over the same spans if ``mute_audio``). Scoring runs
    on the words as spoken first, so asking for a phone number (留资) still counts."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    kinds: list[str] = Field(default_factory=lambda: list(PII_KINDS), description=f"Some of {PII_KINDS}.")
    mute_audio: bool = Field(default=False, description="Replace the stored audio by a copy muted there.")

    @field_validator("kinds")
    @classmethod
    def _known_kinds(cls, kinds: list[str]) -> list[str]:
        unknown = sorted(set(kinds) - set(PII_KINDS))
        if unknown:
            raise ValueError(f"unknown kinds {unknown}; valid: {', '.join(PII_KINDS)}")
        return kinds


class TagSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_confidence: dict[str, float] = Field(
        default_factory=dict,
        description="Tag key (or `default`) -> the least confidence for a tag to go onto the journey; "
        "overrides models/tags/tags.yaml.",
    )

    @field_validator("min_confidence")
    @classmethod
    def _known_keys(cls, value: dict[str, float]) -> dict[str, float]:
        try:
            return check_thresholds(value, "tags.min_confidence")
        except ConfigError as e:
            raise ValueError(str(e)) from e


class DealerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    redaction: RedactionSettings = Field(default_factory=RedactionSettings)
    tags: TagSettings = Field(default_factory=TagSettings)

    @classmethod
    def of(cls, stored: dict[str, Any] | None) -> DealerSettings:
        """A dealer's stored settings (defaults when none); a stored value that no longer
        validates is a configuration error, never silently ignored."""
        try:
            return cls.model_validate(stored or {})
        except ValidationError as e:
            raise ConfigError(f"the dealer's stored settings are not valid: {e}") from e

    def tag_policy(self, base: TagPolicy) -> TagPolicy:
        return base.overridden(self.tags.min_confidence)
