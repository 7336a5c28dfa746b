"""``/v1/dealers``: a dealer's settings (redaction, tag thresholds)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from api.deps import AdminDep, QaOrCrmDep, SessionDep
from api.problems import documented
from callintel.store.dealers import dealer_settings, replace_dealer_settings
from callintel.store.policy import DealerSettings

router = APIRouter(prefix="/v1", tags=["dealers"])


@router.get(
    "/dealers/{dealer_id}/settings", response_model=DealerSettings, responses=documented(400, 401, 404)
)
def get_dealer_settings(dealer_id: str, who: QaOrCrmDep, session: SessionDep) -> DealerSettings:
    """The dealer's redaction and tag settings (defaults where not set)."""
    return dealer_settings(session, who, dealer_id)


@router.put(
    "/dealers/{dealer_id}/settings",
    response_model=DealerSettings,
    responses=documented(400, 401, 403, 404, 413, 422),
)
def put_dealer_settings(
    dealer_id: str,
    who: AdminDep,
    session: SessionDep,
    settings: Annotated[DealerSettings, Body(description="Redaction and tag thresholds.")],
) -> DealerSettings:
    """Replace the dealer's settings (admin); they apply to calls analysed from now on. Checked
    first: invalid settings are refused (422) and change nothing."""
    return replace_dealer_settings(session, who, dealer_id, settings)
