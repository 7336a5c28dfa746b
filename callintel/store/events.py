"""The outbox: events written in the same transaction as the change they announce.

``emit`` adds the event and one pending delivery per matching webhook subscription; the
dispatcher (``callintel.service.delivery``) sends them later, and ``GET /v1/events?after=`` serves the
same events to CRMs that pull. Event ``seq`` numbers increase in commit order: on PostgreSQL
the transactions that emit take a transaction-scoped advisory lock first, so a transaction
cannot commit a lower ``seq`` after a reader has seen a higher one (a puller paging with
``after=`` never skips an event). SQLite serialises all writers anyway.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from callintel.store.models import Event, WebhookDelivery, WebhookSubscription, utcnow

EVENT_TYPES: Final[tuple[str, ...]] = (
    "call.analyzed",
    "customer.tags_changed",
    "call.failed",
    "call.reviewed",
)
_OUTBOX_LOCK: Final[int] = 0x63616C6C  # any constant: the key of the outbox's advisory lock


def emit(
    session: Session,
    dealer_id: str,
    type: str,
    payload: Mapping[str, Any],
    call_id: str | None = None,
    customer_id: str | None = None,
) -> Event:
    """Add an event and its deliveries to the session's transaction (committed with it)."""
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type!r}; valid: {', '.join(EVENT_TYPES)}")
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _OUTBOX_LOCK})
    now = utcnow()
    event = Event(
        dealer_id=dealer_id,
        call_id=call_id,
        customer_id=customer_id,
        type=type,
        payload=dict(payload),
        created_at=now,
    )
    session.add(event)
    session.flush()  # assigns seq
    subscriptions = session.scalars(
        select(WebhookSubscription).where(
            WebhookSubscription.dealer_id == dealer_id, WebhookSubscription.active.is_(True)
        )
    ).all()
    for subscription in subscriptions:
        if subscription.events and type not in subscription.events:
            continue
        session.add(
            WebhookDelivery(
                subscription_id=subscription.id,
                event_id=event.id,
                event_seq=event.seq,
                ordering_key=ordering_key(event),
                next_attempt_at=now,
                created_at=now,
            )
        )
    return event


def ordering_key(event: Event) -> str:
    """Deliveries of one key go out in ``seq`` order: the customer's, else the call's."""
    if event.customer_id:
        return f"customer:{event.customer_id}"
    if event.call_id:
        return f"call:{event.call_id}"
    return f"event:{event.id}"


def envelope(event: Event) -> dict[str, Any]:
    """An event as webhooks and the pull API send it."""
    return {
        "id": event.id,
        "seq": event.seq,
        "type": event.type,
        "created_at": event.created_at.isoformat(),
        "dealer_id": event.dealer_id,
        "data": event.payload,
    }


def events_after(
    session: Session,
    dealers: Sequence[str] | None,
    after: int,
    limit: int,
    types: Sequence[str] = (),
) -> list[Event]:
    """Events with ``seq > after`` of ``dealers`` (None: all), oldest first."""
    query = select(Event).where(Event.seq > after)
    if dealers is not None:
        query = query.where(Event.dealer_id.in_(list(dealers)))
    if types:
        query = query.where(Event.type.in_(list(types)))
    return list(session.scalars(query.order_by(Event.seq).limit(limit)))
