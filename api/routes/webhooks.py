"""Delivery to the CRM/CDP: webhook subscriptions, their deliveries, and the pull API for events."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Query

from api.deps import CrmDep, SessionDep
from api.models import DeliveryOut, EventOut, EventPage, EventType, Replayed, SubscriptionIn, SubscriptionOut
from api.problems import Problem, documented
from callintel.service.delivery import REPLAY_CHOICES, replay
from callintel.store import subscriptions
from callintel.store.events import envelope, events_after
from callintel.store.models import WebhookSubscription
from callintel.store.subscriptions import DeliveryStatus

router = APIRouter(prefix="/v1", tags=["webhooks"])


def _out(row: WebhookSubscription, secret: str | None = None) -> SubscriptionOut:
    """A subscription as answered: the secret only when given (at creation), never read back."""
    return SubscriptionOut.model_validate(row).model_copy(update={"secret": secret})


@router.post(
    "/webhooks",
    status_code=201,
    response_model=SubscriptionOut,
    responses=documented(400, 401, 403, 413, 422),
)
def create_subscription(
    who: CrmDep, session: SessionDep, body: Annotated[SubscriptionIn, Body()]
) -> SubscriptionOut:
    """Subscribe a URL to a dealer's events. Deliveries are signed with the secret (header
    ``Callintel-Signature``); see docs/webhooks.md."""
    if not who.may_see(body.dealer):
        raise Problem(403, f"this key is not scoped to dealer {body.dealer!r}", kind="forbidden-dealer")
    row = subscriptions.create_subscription(
        session, body.dealer, body.url, body.events, body.secret, body.description
    )
    return _out(row, row.secret)


@router.get("/webhooks", response_model=list[SubscriptionOut], responses=documented(400, 401, 403))
def list_subscriptions(who: CrmDep, session: SessionDep) -> list[SubscriptionOut]:
    """The subscriptions of the dealers this key may see (secrets are not shown)."""
    return [_out(s) for s in subscriptions.subscriptions(session, who)]


@router.delete("/webhooks/{subscription_id}", status_code=204, responses=documented(400, 401, 403, 404))
def delete_subscription(subscription_id: str, who: CrmDep, session: SessionDep) -> None:
    """Stop delivering to this URL; its pending deliveries are dropped (events stay pullable)."""
    subscriptions.delete_subscription(session, who, subscription_id)


@router.get(
    "/webhooks/{subscription_id}/deliveries",
    response_model=list[DeliveryOut],
    responses=documented(400, 401, 403, 404, 422),
)
def list_deliveries(
    subscription_id: str,
    who: CrmDep,
    session: SessionDep,
    status: Annotated[DeliveryStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DeliveryOut]:
    """The newest deliveries to this subscription, with their attempts and last error."""
    rows = subscriptions.deliveries(session, who, subscription_id, status, limit)
    return [DeliveryOut.model_validate(r) for r in rows]


@router.post(
    "/webhooks/{subscription_id}/replay",
    response_model=Replayed,
    responses=documented(400, 401, 403, 404, 422),
)
def replay_deliveries(
    subscription_id: str,
    who: CrmDep,
    session: SessionDep,
    status: Annotated[Literal["dead", "delivered", "all"], Query()] = "dead",
) -> Replayed:
    """Send this subscription's dead (or delivered, or all finished) deliveries again."""
    subscriptions.visible_subscription(session, who, subscription_id)
    return Replayed(replayed=replay(session, REPLAY_CHOICES[status], subscription_id=subscription_id))


@router.get("/events", response_model=EventPage, responses=documented(400, 401, 403, 422))
def pull_events(
    who: CrmDep,
    session: SessionDep,
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
    items = [EventOut(**envelope(e)) for e in events_after(session, dealers, after, limit, type or ())]
    return EventPage(items=items, next_after=items[-1].seq if items else after)
