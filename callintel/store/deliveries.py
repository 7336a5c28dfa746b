"""How webhook deliveries stand: per subscription, how many are pending, delivered and dead."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callintel.store.models import WebhookDelivery, WebhookSubscription


@dataclass(frozen=True)
class SubscriptionDeliveries:
    """One subscription and the count of its deliveries in each status."""

    subscription_id: str
    dealer_id: str
    url: str
    pending: int
    delivered: int
    dead: int


def delivery_counts(session: Session) -> list[SubscriptionDeliveries]:
    """Every subscription, oldest first, with its deliveries counted by status (0 where none)."""
    counts: dict[str, dict[str, int]] = {}
    for sub_id, status, n in session.execute(
        select(WebhookDelivery.subscription_id, WebhookDelivery.status, func.count()).group_by(
            WebhookDelivery.subscription_id, WebhookDelivery.status
        )
    ):
        counts.setdefault(sub_id, {})[status] = n
    rows = []
    for sub in session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.created_at)):
        c = counts.get(sub.id, {})
        rows.append(
            SubscriptionDeliveries(
                subscription_id=sub.id,
                dealer_id=sub.dealer_id,
                url=sub.url,
                pending=c.get("pending", 0),
                delivered=c.get("delivered", 0),
                dead=c.get("dead", 0),
            )
        )
    return rows
