"""``/v1/scorecards``: the scorecard of each scenario, read and replaced."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from api.deps import AdminDep, QaOrCrmDep, SessionDep, SettingsDep
from api.models import ScorecardOut
from api.problems import Problem, documented
from callintel.domain import Scenario
from callintel.errors import ConfigError
from callintel.store.scorecards import edited_scorecard, replace_scorecard, shipped_scorecard

router = APIRouter(prefix="/v1", tags=["scorecards"])


@router.get("/scorecards/{scenario}", response_model=ScorecardOut, responses=documented(400, 401, 422, 500))
def get_scorecard(
    scenario: Scenario, who: QaOrCrmDep, session: SessionDep, settings: SettingsDep
) -> ScorecardOut:
    """The scenario's scorecard in use."""
    in_use = edited_scorecard(session, scenario, settings.models_dir)
    if in_use is None:
        try:
            in_use = shipped_scorecard(scenario, settings.models_dir)
        except ConfigError as e:
            raise Problem(500, f"the shipped scorecard for {scenario!r} cannot be read") from e
    return ScorecardOut.model_validate(in_use)


@router.put(
    "/scorecards/{scenario}", response_model=ScorecardOut, responses=documented(400, 401, 403, 413, 422)
)
def put_scorecard(
    scenario: Scenario,
    who: AdminDep,
    session: SessionDep,
    settings: SettingsDep,
    document: Annotated[dict[str, Any], Body(description="The scorecard, as its YAML file would hold it.")],
) -> ScorecardOut:
    """Replace the scenario's scorecard for every later analysis (admin). It is checked first:
    a scorecard with a problem is refused (422) and changes nothing. Bump its ``version``."""
    return ScorecardOut.model_validate(
        replace_scorecard(session, scenario, document, settings.models_dir, who.key_id)
    )
