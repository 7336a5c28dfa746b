"""Delivery to the CRM/CDP: webhook subscriptions, their deliveries, the pull API for events,
and a dealer's settings (redaction, tag thresholds)."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import func, select

from api.auth import require
from api.problems import Problem
from callintel.service.delivery import REPLAY_CHOICES, replay
from callintel.store.events import EVENT_TYPES, envelope, events_after
from callintel.store.keys import Principal
from callintel.store.models import Dealer, WebhookDelivery, WebhookSubscription, utcnow
from callintel.store.policy import DealerSettings

router = APIRouter(prefix="/v1")
EventType = Literal["call.analyzed", "customer.tags_changed", "call.failed"]
assert set(EventType.__args__) == set(EVENT_TYPES)  # type: ignore[attr-defined]


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dealer: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    url: str = Field(min_length=8, max_length=2000, description="http(s) URL that receives the POSTs.")
    events: list[EventType] = Field(default_factory=list, description="Event types; empty: all of them.")
    secret: str | None = Field(
        default=None,
        min_length=16,
        max_length=200,
        description="Signing secret (16+ characters); generated when left out. Shown only in this answer.",
    )
    description: str = Field(default="", max_length=200)

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("the URL must be http:// or https:// with a host")
        if parts.username or parts.password:
            raise ValueError("put no credentials in the URL: the signature authenticates deliveries")
        if any(ord(c) < 33 for c in url):
            raise ValueError("the URL contains spaces or control characters")
        return url


class SubscriptionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    dealer_id: str
    url: str
    events: list[str]
    active: bool
    description: str
    created_at: dt.datetime
    secret: str | None = Field(default=None, description="Only in the answer that created it.")


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    event_id: str
    event_seq: int
    status: str
    attempts: int
    next_attempt_at: dt.datetime
    last_status: int | None
    last_error: str | None
    delivered_at: dt.datetime | None
    created_at: dt.datetime


class EventOut(BaseModel):
    id: str
    seq: int
    type: str
    created_at: str
    dealer_id: str
    data: dict[str, Any]


class EventPage(BaseModel):
    items: list[EventOut]
    next_after: int = Field(description="Pass as `after` to get the next page (unchanged when empty).")


def _out(row: WebhookSubscription, secret: str | None = None) -> SubscriptionOut:
    """A subscription as answered: the secret only when given (at creation), never read back."""
    return SubscriptionOut.model_validate(row).model_copy(update={"secret": secret})


def _subscription(session: Any, who: Principal, subscription_id: str) -> WebhookSubscription:
    found = session.get(WebhookSubscription, subscription_id)
    if found is None or not who.may_see(found.dealer_id):
        raise Problem(404, f"no webhook subscription {subscription_id!r}")
    return found


@router.post("/webhooks", status_code=201, response_model=SubscriptionOut, tags=["webhooks"])
def create_subscription(
    request: Request,
    who: Annotated[Principal, Depends(require("crm"))],
    body: Annotated[SubscriptionIn, Body()],
) -> SubscriptionOut:
    """Subscribe a URL to a dealer's events. Deliveries are signed with the secret (header
    ``Callintel-Signature``); see docs/webhooks.md."""
    if not who.may_see(body.dealer):
        raise Problem(403, f"this key is not scoped to dealer {body.dealer!r}")
    secret = body.secret or f"whsec_{secrets.token_urlsafe(32)}"
    with request.app.state.db.session() as session:
        if session.get(Dealer, body.dealer) is None:
            raise Problem(422, f"unknown dealer {body.dealer!r}")
        row = WebhookSubscription(
            dealer_id=body.dealer,
            url=body.url,
            secret=secret,
            events=list(body.events),
            description=body.description,
            created_at=utcnow(),
        )
        session.add(row)
        session.flush()
        return _out(row, secret)


@router.get("/webhooks", response_model=list[SubscriptionOut], tags=["webhooks"])
def list_subscriptions(
    request: Request, who: Annotated[Principal, Depends(require("crm"))]
) -> list[SubscriptionOut]:
    """The subscriptions of the dealers this key may see (secrets are not shown)."""
    query = select(WebhookSubscription).order_by(WebhookSubscription.created_at)
    if who.dealers is not None:
        query = query.where(WebhookSubscription.dealer_id.in_(sorted(who.dealers)))
    with request.app.state.db.session() as session:
        return [_out(s) for s in session.scalars(query)]


@router.delete("/webhooks/{subscription_id}", status_code=204, tags=["webhooks"])
def delete_subscription(
    request: Request, subscription_id: str, who: Annotated[Principal, Depends(require("crm"))]
) -> None:
    """Stop delivering to this URL; its pending deliveries are dropped (events stay pullable)."""
    with request.app.state.db.session() as session:
        session.delete(_subscription(session, who, subscription_id))


@router.get("/webhooks/{subscription_id}/deliveries", response_model=list[DeliveryOut], tags=["webhooks"])
def list_deliveries(
    request: Request,
    subscription_id: str,
    who: Annotated[Principal, Depends(require("crm"))],
    status: Annotated[Literal["pending", "delivered", "dead"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DeliveryOut]:
    """The newest deliveries to this subscription, with their attempts and last error."""
    with request.app.state.db.session() as session:
        _subscription(session, who, subscription_id)
        query = select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
        if status is not None:
            query = query.where(WebhookDelivery.status == status)
        rows = session.scalars(query.order_by(WebhookDelivery.event_seq.desc()).limit(limit))
        return [DeliveryOut.model_validate(r) for r in rows]


@router.post("/webhooks/{subscription_id}/replay", tags=["webhooks"])
def replay_deliveries(
    request: Request,
    subscription_id: str,
    who: Annotated[Principal, Depends(require("crm"))],
    status: Annotated[Literal["dead", "delivered", "all"], Query()] = "dead",
) -> dict[str, int]:
    """Send this subscription's dead (or delivered, or all finished) deliveries again."""
    statuses = REPLAY_CHOICES[status]
    with request.app.state.db.session() as session:
        _subscription(session, who, subscription_id)
        count = replay(session, statuses, subscription_id=subscription_id)
    return {"replayed": count}


@router.get("/events", response_model=EventPage, tags=["webhooks"])
def pull_events(
    request: Request,
    who: Annotated[Principal, Depends(require("crm"))],
    after: Annotated[
        int, Query(ge=0, le=2**31 - 1, description="The last `seq` you have (0: from the start).")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    type: Annotated[list[EventType] | None, Query()] = None,
    dealer: Annotated[str | None, Query(max_length=64)] = None,
) -> EventPage:
    """Events after ``after``, oldest first: the pull alternative to webhooks. ``seq`` increases
    in commit order, so paging with ``next_after`` never skips an event."""
    dealers = None if who.dealers is None else sorted(who.dealers)
    if dealer is not None:
        if not who.may_see(dealer):
            return EventPage(items=[], next_after=after)
        dealers = [dealer]
    with request.app.state.db.session() as session:
        rows = events_after(session, dealers, after, limit, type or ())
        items = [EventOut(**envelope(e)) for e in rows]
    return EventPage(items=items, next_after=items[-1].seq if items else after)


@router.get("/dealers/{dealer_id}/settings", response_model=DealerSettings, tags=["dealers"])
def get_dealer_settings(
    request: Request, dealer_id: str, who: Annotated[Principal, Depends(require("qa", "crm"))]
) -> DealerSettings:
    """The dealer's redaction and tag settings (defaults where not set)."""
    with request.app.state.db.session() as session:
        dealer = session.get(Dealer, dealer_id)
        if dealer is None or not who.may_see(dealer_id):
            raise Problem(404, f"no dealer {dealer_id!r}")
        return DealerSettings.of(dealer.settings)


@router.put("/dealers/{dealer_id}/settings", response_model=DealerSettings, tags=["dealers"])
def put_dealer_settings(
    request: Request,
    dealer_id: str,
    who: Annotated[Principal, Depends(require())],
    settings: Annotated[DealerSettings, Body(description="Redaction and tag thresholds.")],
) -> DealerSettings:
    """Replace the dealer's settings (admin); they apply to calls analysed from now on. Checked
    first: invalid settings are refused (422) and change nothing."""
    with request.app.state.db.session() as session:
        dealer = session.get(Dealer, dealer_id)
        if dealer is None or not who.may_see(dealer_id):
            raise Problem(404, f"no dealer {dealer_id!r}")
        dealer.settings = settings.model_dump(mode="json")
    return settings


def delivery_counts(session: Any) -> dict[str, int]:
    """Deliveries by status, for /metrics."""
    rows = session.execute(select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status))
    return {status: int(n) for status, n in rows}
