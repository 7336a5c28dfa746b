"""A customer's journey: the customer's calls and the tags they gave, the newest of each key
being current. The customer is named by the CRM's id, which is unique per dealer."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from callintel.domain import CallStatus, Scenario
from callintel.errors import Conflict, NotFound
from callintel.store.keys import Principal
from callintel.store.models import Call, Customer
from callintel.store.results import tag_history
from callintel.understand.tags import current_tags


class JourneyCall(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)

    id: str
    scenario: Scenario
    status: CallStatus
    recorded_at: dt.datetime | None
    created_at: dt.datetime


class JourneyTag(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)

    key: str
    value: str
    confidence: float
    call_id: str
    model_version: str
    created_at: dt.datetime = Field(
        description="When it was written: for a tag from a review, when QA set it."
    )
    source: Literal["model", "review"] = Field(description="The call's analysis, or QA's review of the call.")
    reviewer: str | None = Field(default=None, description="Who set it, for a tag from a review.")
    superseded_at: dt.datetime | None = Field(
        default=None,
        description="When it stopped being the call's (QA corrected it, or the call was analysed again); "
        "a superseded tag is history, never current.",
    )


class Journey(BaseModel):
    model_config = ConfigDict(frozen=True)

    customer_id: str
    dealer: str
    calls: list[JourneyCall]
    current_tags: list[JourneyTag] = Field(
        description="The newest value of each tag key: the newest analysed call's, QA's where reviewed."
    )
    history: list[JourneyTag] = Field(
        description="Every tag, superseded ones too, in journey order (the call's analysis, then writing)."
    )


def customer_journey(
    session: Session, who: Principal, customer_id: str, dealer: str | None = None
) -> Journey:
    """The journey of the customer the CRM calls ``customer_id`` (at ``dealer``, if given), among
    the dealers ``who`` may see.

    Raises:
        NotFound: no such customer there.
        Conflict: several dealers have a customer of that id, and ``dealer`` was not given.
    """
    query = select(Customer).where(Customer.external_id == customer_id)
    if dealer is not None:
        query = query.where(Customer.dealer_id == dealer)
    customers = [c for c in session.scalars(query) if who.may_see(c.dealer_id)]
    if not customers:
        raise NotFound(f"no customer {customer_id!r}")
    if len(customers) > 1:
        raise Conflict(f"customer {customer_id!r} exists at several dealers: pass ?dealer=")
    customer = customers[0]
    calls = session.scalars(select(Call).where(Call.customer_id == customer.id).order_by(Call.created_at))
    history = [JourneyTag.model_validate(t) for t in tag_history(session, customer.id)]
    return Journey(
        customer_id=customer.external_id,
        dealer=customer.dealer_id,
        calls=[JourneyCall.model_validate(c) for c in calls],
        current_tags=current_tags([t for t in history if t.superseded_at is None]),
        history=history,
    )
