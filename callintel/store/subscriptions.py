"""Webhook subscriptions and their deliveries, as the API manages them (``/v1/webhooks``).

A subscription belongs to a dealer; one the caller may not see raises
:class:`~callintel.errors.NotFound`, as if it did not exist. The deliveries themselves are made
by :func:`callintel.store.events.emit` and sent by :mod:`callintel.service.delivery`.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Final, Literal, get_args

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callintel.errors import InvalidInput, NotFound
from callintel.store.keys import Principal
from callintel.store.models import Dealer, WebhookDelivery, WebhookSubscription, utcnow

DeliveryStatus = Literal["pending", "delivered", "dead"]
DELIVERY_STATUSES: Final[tuple[DeliveryStatus, ...]] = get_args(DeliveryStatus)


def new_secret() -> str:
    """A signing secret: 256 random bits."""
    return f"whsec_{secrets.token_urlsafe(32)}"


def create_subscription(
    session: Session,
    dealer_id: str,
    url: str,
    events: Sequence[str] = (),
    secret: str | None = None,
    description: str = "",
) -> WebhookSubscription:
    """Subscribe ``url`` to the dealer's ``events`` (empty: all), signed with ``secret`` (made
    when None; the row keeps it, for signing).

    Raises:
        InvalidInput: there is no such dealer.
    """
    if session.get(Dealer, dealer_id) is None:
        raise InvalidInput(f"unknown dealer {dealer_id!r}")
    row = WebhookSubscription(
        dealer_id=dealer_id,
        url=url,
        secret=secret or new_secret(),
        events=list(events),
        description=description,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def subscriptions(session: Session, who: Principal) -> list[WebhookSubscription]:
    """The subscriptions of the dealers ``who`` may see, oldest first."""
    query = select(WebhookSubscription).order_by(WebhookSubscription.created_at)
    if who.dealers is not None:
        query = query.where(WebhookSubscription.dealer_id.in_(sorted(who.dealers)))
    return list(session.scalars(query))


def visible_subscription(session: Session, who: Principal, subscription_id: str) -> WebhookSubscription:
    """The subscription if ``who`` may see it.

    Raises:
        NotFound: there is no such subscription, or ``who`` may not see it.
    """
    found = session.get(WebhookSubscription, subscription_id)
    if found is None or not who.may_see(found.dealer_id):
        raise NotFound(f"no webhook subscription {subscription_id!r}")
    return found


def delete_subscription(session: Session, who: Principal, subscription_id: str) -> None:
    """Delete the subscription and, by cascade, its pending deliveries (the events stay).

    Raises:
        NotFound: as :func:`visible_subscription`.
    """
    session.delete(visible_subscription(session, who, subscription_id))


def deliveries(
    session: Session,
    who: Principal,
    subscription_id: str,
    status: DeliveryStatus | None = None,
    limit: int = 100,
) -> list[WebhookDelivery]:
    """The newest ``limit`` deliveries to the subscription (of ``status``, if given).

    Raises:
        NotFound: as :func:`visible_subscription`.
    """
    visible_subscription(session, who, subscription_id)
    query = select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    return list(session.scalars(query.order_by(WebhookDelivery.event_seq.desc()).limit(limit)))


def deliveries_by_status(session: Session) -> dict[DeliveryStatus, int]:
    """Deliveries by status (every status, 0 where none), for ``/metrics``."""
    rows = session.execute(select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status))
    counts = {status: int(n) for status, n in rows}
    return {status: counts.get(status, 0) for status in DELIVERY_STATUSES}
