"""``/v1/customers``: a customer's journey."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import QaOrCrmDep, SessionDep
from api.problems import documented
from callintel.store.journeys import Journey, customer_journey

router = APIRouter(prefix="/v1", tags=["customers"])


@router.get(
    "/customers/{customer_id}/journey", response_model=Journey, responses=documented(400, 401, 404, 409)
)
def journey(customer_id: str, who: QaOrCrmDep, session: SessionDep, dealer: str | None = None) -> Journey:
    """A customer's calls and tags (the customer id is the CRM's, per dealer)."""
    return customer_journey(session, who, customer_id, dealer)
