"""``/v1/team/pass-rates``: how each salesperson and each checkpoint does over time.

Each number can be opened as the calls behind it through ``GET /v1/calls`` with the same dealer,
scenario, days and time zone, plus ``salesperson_id`` and ``passed`` or ``missed``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import QaOrCrmDep, SessionDep, SettingsDep
from api.problems import documented
from callintel.domain import Scenario
from callintel.store import analytics
from callintel.store.analytics import Bucket, PassRates
from callintel.store.calls import time_zone

router = APIRouter(prefix="/v1/team", tags=["team"])


@router.get("/pass-rates", response_model=PassRates, responses=documented(400, 401, 422))
def pass_rates(
    who: QaOrCrmDep,
    session: SessionDep,
    settings: SettingsDep,
    dealer: Annotated[str | None, Query(max_length=64)] = None,
    scenario: Annotated[Scenario | None, Query()] = None,
    since: Annotated[dt.date | None, Query(description="First day; default 12 weeks before `until`.")] = None,
    until: Annotated[dt.date | None, Query(description="Last day; default today in `tz`.")] = None,
    tz: Annotated[str, Query(max_length=64)] = "UTC",
    bucket: Annotated[Bucket, Query(description="The period of each point of a series.")] = "week",
) -> PassRates:
    """Checkpoint pass rates of the analysed calls this key may see, per salesperson and per
    checkpoint, overall and per period. Calls without a salesperson count in the checkpoints'
    rates but in no salesperson's."""
    return analytics.pass_rates(
        session,
        who,
        settings.models_dir,
        time_zone(tz),
        dealer=dealer,
        scenario=scenario,
        since=since,
        until=until,
        bucket=bucket,
    )
