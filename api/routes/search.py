"""``/v1/search``: words and phrases in the transcripts of the calls a key may see."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import QaOrCrmDep, SessionDep
from api.problems import documented
from callintel.domain import Grade, Role, Scenario
from callintel.store import search as store
from callintel.store.calls import time_zone
from callintel.store.search import MAX_QUERY_CHARS, SearchFilters, SearchPage

router = APIRouter(prefix="/v1", tags=["search"])


@router.get("/search", response_model=SearchPage, responses=documented(400, 401, 422))
def search(
    who: QaOrCrmDep,
    session: SessionDep,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=MAX_QUERY_CHARS,
            description="Words or Chinese characters, each of which must be in the turn; a phrase "
            'with spaces in double quotes ("lowest price"). Case, full-width forms and Traditional '
            "characters do not matter; English words match their other forms (discounts: discount).",
        ),
    ],
    role: Annotated[Role | None, Query(description="Only what the salesperson or the customer said.")] = None,
    dealer: Annotated[str | None, Query(max_length=64)] = None,
    scenario: Annotated[Scenario | None, Query()] = None,
    since: Annotated[dt.date | None, Query(description="Calls on or after this day (see `tz`).")] = None,
    until: Annotated[dt.date | None, Query(description="Calls on or before this day (see `tz`).")] = None,
    tz: Annotated[str, Query(max_length=64, description="Time zone of `since`/`until`.")] = "UTC",
    grade: Annotated[list[Grade] | None, Query(description="Calls of these intent grades.")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
) -> SearchPage:
    """The turns of the calls this key may see that say every term of `q`: newest call first,
    then in the order spoken. Each hit has the call, the turn, its time, who said it, a snippet
    with the matches' offsets, and the console link that opens the call at that moment. A call
    day is the recording time, else the upload time. What redaction masked, and erased calls,
    are not found."""
    filters = SearchFilters(
        dealer=dealer,
        role=role,
        scenario=scenario,
        since=since,
        until=until,
        zone=time_zone(tz),
        grades=tuple(grade or ()),
    )
    return store.search(session, who, q, filters, limit, offset)
