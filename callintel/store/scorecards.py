"""The scorecards in use: the shipped file of each scenario, or the edit made through the API
(``PUT /v1/scorecards/{scenario}``), which replaces it for every later analysis."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from sqlalchemy.orm import Session

from callintel.domain import Scenario
from callintel.errors import ConfigError, InvalidInput
from callintel.store.models import ScorecardRecord, utcnow
from callintel.understand.scoring import Scorecard, load_scorecard, parse_scorecard


@dataclass(frozen=True)
class ScorecardInUse:
    """A scenario's scorecard: as its YAML file holds it (``document``) and as the service uses
    it (``effective``: defaults filled, lexicon cues merged)."""

    scenario: Scenario
    source: Literal["file", "api"]
    document: dict[str, Any]
    effective: Scorecard
    updated_at: dt.datetime | None = None


def scorecard_path(models_dir: Path, scenario: str) -> Path:
    """The shipped scorecard file of ``scenario``."""
    return Path(models_dir) / "scorecards" / f"{scenario}.yaml"


def edited_scorecard(session: Session, scenario: Scenario, models_dir: Path) -> ScorecardInUse | None:
    """The scorecard of ``scenario`` edited through the API, if there is one."""
    record = session.get(ScorecardRecord, scenario)
    if record is None:
        return None
    effective = parse_scorecard(record.document, scorecard_path(models_dir, scenario))
    return ScorecardInUse(scenario, "api", record.document, effective, record.updated_at)


def shipped_scorecard(scenario: Scenario, models_dir: Path) -> ScorecardInUse:
    """The scorecard file of ``scenario`` as shipped.

    Raises:
        ConfigError: the file cannot be read or is not a valid scorecard.
    """
    path = scorecard_path(models_dir, scenario)
    try:
        document = yaml.safe_load(path.read_text("utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"cannot read {path}: {e}") from e
    return ScorecardInUse(scenario, "file", document, load_scorecard(path))


def replace_scorecard(
    session: Session, scenario: Scenario, document: dict[str, Any], models_dir: Path, key_id: str
) -> ScorecardInUse:
    """Check ``document`` as the scorecard of ``scenario`` and make it the one in use, edited by
    the API key ``key_id``.

    Raises:
        InvalidInput: the scorecard has a problem (nothing is changed); the message names file
            paths relative to the scorecards' folder.
    """
    path = scorecard_path(models_dir, scenario)
    try:
        card = parse_scorecard(document, path)
    except ConfigError as e:
        raise InvalidInput(str(e).replace(f"{path}: ", "").replace(str(path.parent), "scorecards")) from e
    now = utcnow()
    record = session.get(ScorecardRecord, scenario)
    if record is None:
        record = ScorecardRecord(scenario=scenario)
        session.add(record)
    record.document = document
    record.version = card.version[:64]
    record.updated_by = key_id
    record.updated_at = now
    return ScorecardInUse(scenario, "api", document, card, now)
