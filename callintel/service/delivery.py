"""Webhook delivery: the outbox's pending deliveries POSTed to the CRM/CDP, signed, retried.

Each delivery is a POST of the event envelope (``store.events.envelope``) as JSON with:

- ``Callintel-Event-Id``: the event's id; the same on every retry and replay, so the receiver
  can drop duplicates (delivery is at least once).
- ``Callintel-Event-Type``, ``Callintel-Event-Seq``: the event's type and sequence number
  (increasing in commit order: a receiver can reorder by it).
- ``Callintel-Timestamp``: Unix seconds when this attempt was signed.
- ``Callintel-Signature``: ``t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<body>" with the
  subscription's secret>`` (:func:`verify` checks one; receivers should reject old timestamps).

A 2xx answer delivers it. Anything else (an error status, a refused connection, a timeout)
is retried after an exponential backoff with jitter; after ``max_attempts`` the delivery is
``dead`` (the dead-letter state) until ``callintel deliveries replay``. A customer's events go
out in order: a delivery waits while an earlier one of the same customer and subscription is
pending. Dispatchers in several processes may run at once: a delivery is claimed by bumping
its attempt count in a conditional UPDATE, and held for ``hold_seconds`` while being sent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import random
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
from sqlalchemy import and_, exists, select, update
from sqlalchemy.orm import Session, aliased

from callintel.store.db import Database
from callintel.store.events import envelope
from callintel.store.models import Event, WebhookDelivery, WebhookSubscription, utcnow

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "Callintel-Signature"
USER_AGENT = "callintel-webhooks/1"


@dataclass(frozen=True)
class DeliveryOptions:
    """How deliveries are retried and sent.

    With the defaults a delivery is tried 25 times over 8 to 15 hours (delays of 5 s doubling up
    to an hour, each between half and all of that) before it goes to the dead letters.
    """

    max_attempts: int = 25
    base_delay: float = 5.0
    max_delay: float = 3600.0
    timeout: float = 10.0
    batch_size: int = 100
    concurrency: int = 8
    hold_seconds: float = 120.0
    poll_seconds: float = 1.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.concurrency < 1 or self.batch_size < 1:
            raise ValueError("max_attempts, concurrency and batch_size must be at least 1")
        if not 0 < self.base_delay <= self.max_delay:
            raise ValueError("base_delay must be positive and at most max_delay")
        if self.hold_seconds <= self.timeout:
            raise ValueError("hold_seconds must be longer than the request timeout")

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based): "equal jitter"."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** min(attempt - 1, 30))
        return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Callintel-Signature`` header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str, body: bytes, tolerance: float = 300.0, now: float | None = None) -> bool:
    """Whether ``header`` is a valid signature of ``body`` made within ``tolerance`` seconds (what
    a receiver does; constant-time comparison)."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
        given = parts["v1"]
    except (ValueError, KeyError):
        return False
    if abs((now if now is not None else time.time()) - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, given)


@dataclass(frozen=True)
class _Claimed:
    delivery_id: str
    attempt: int
    url: str
    secret: str
    event: dict[str, object]


@dataclass(frozen=True)
class _Outcome:
    delivered: bool
    status: int | None
    error: str | None


class Dispatcher:
    """Sends due deliveries until stopped.

    Args:
        db: the database with the outbox.
        options: retries, timeouts, batch and concurrency.
        client: the HTTP client (tests may pass one); by default one is made and owned.
    """

    def __init__(
        self,
        db: Database,
        options: DeliveryOptions = DeliveryOptions(),
        client: httpx.Client | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.db = db
        self.options = options
        self.client = client or httpx.Client(
            timeout=options.timeout,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
            limits=httpx.Limits(max_connections=options.concurrency * 2),
        )
        self._owns_client = client is None
        self.rng = rng or random.Random()
        self._pool = ThreadPoolExecutor(max_workers=options.concurrency, thread_name_prefix="delivery")

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        if self._owns_client:
            self.client.close()

    def run(self, stop: threading.Event, wake: threading.Event | None = None) -> None:
        """Deliver until ``stop`` is set; with nothing due, look again after ``poll_seconds``
        or when ``wake`` is set."""
        while not stop.is_set():
            try:
                sent = self.run_once()
            except Exception:
                logger.exception("delivery round failed; going on")
                sent = 0
            if not sent:
                (wake or stop).wait(self.options.poll_seconds)
                if wake is not None:
                    wake.clear()

    def run_once(self, now: dt.datetime | None = None) -> int:
        """Claim the due deliveries (up to a batch), send them concurrently, record the outcomes.
        Returns how many were attempted."""
        claimed = self._claim(now or utcnow())
        if not claimed:
            return 0
        outcomes = list(self._pool.map(self._send, claimed))
        with self.db.session() as session:
            for item, outcome in zip(claimed, outcomes, strict=True):
                self._record(session, item, outcome)
        return len(claimed)

    def _claim(self, now: dt.datetime) -> list[_Claimed]:
        earlier = aliased(WebhookDelivery)
        waits_for_earlier = exists().where(
            and_(
                earlier.subscription_id == WebhookDelivery.subscription_id,
                earlier.ordering_key == WebhookDelivery.ordering_key,
                earlier.status == "pending",
                earlier.event_seq < WebhookDelivery.event_seq,
            )
        )
        out: list[_Claimed] = []
        with self.db.session() as session:
            rows = session.execute(
                select(WebhookDelivery.id, WebhookDelivery.attempts, WebhookSubscription, Event)
                .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
                .join(Event, Event.id == WebhookDelivery.event_id)
                .where(
                    WebhookDelivery.status == "pending",
                    WebhookDelivery.next_attempt_at <= now,
                    WebhookSubscription.active.is_(True),
                    ~waits_for_earlier,
                )
                .order_by(WebhookDelivery.event_seq)
                .limit(self.options.batch_size)
            ).all()
            hold = now + dt.timedelta(seconds=self.options.hold_seconds)
            for delivery_id, attempts, subscription, event in rows:
                taken = session.execute(
                    update(WebhookDelivery)
                    .where(
                        WebhookDelivery.id == delivery_id,
                        WebhookDelivery.status == "pending",
                        WebhookDelivery.attempts == attempts,
                    )
                    .values(attempts=attempts + 1, next_attempt_at=hold)
                )
                if taken.rowcount:  # type: ignore[attr-defined]
                    item = _Claimed(
                        delivery_id, attempts + 1, subscription.url, subscription.secret, envelope(event)
                    )
                    out.append(item)
        return out

    def _send(self, item: _Claimed) -> _Outcome:
        body = json.dumps(item.event, ensure_ascii=False, separators=(",", ":")).encode()
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "Callintel-Event-Id": str(item.event["id"]),
            "Callintel-Event-Type": str(item.event["type"]),
            "Callintel-Event-Seq": str(item.event["seq"]),
            "Callintel-Delivery-Attempt": str(item.attempt),
            "Callintel-Timestamp": str(timestamp),
            SIGNATURE_HEADER: sign(item.secret, timestamp, body),
        }
        try:
            response = self.client.post(item.url, content=body, headers=headers)
        except httpx.HTTPError as e:
            return _Outcome(False, None, f"{type(e).__name__}: {e}"[:500])
        if 200 <= response.status_code < 300:
            return _Outcome(True, response.status_code, None)
        return _Outcome(False, response.status_code, f"HTTP {response.status_code}: {response.text[:200]}")

    def _record(self, session: Session, item: _Claimed, outcome: _Outcome) -> None:
        now = utcnow()
        mine = and_(
            WebhookDelivery.id == item.delivery_id,
            WebhookDelivery.status == "pending",
            WebhookDelivery.attempts == item.attempt,
        )
        if outcome.delivered:
            values: dict[str, object] = {
                "status": "delivered",
                "delivered_at": now,
                "last_status": outcome.status,
                "last_error": None,
            }
        elif item.attempt >= self.options.max_attempts:
            values = {"status": "dead", "last_status": outcome.status, "last_error": outcome.error}
            logger.warning(
                "delivery %s is dead after %d attempts: %s", item.delivery_id, item.attempt, outcome.error
            )
        else:
            delay = self.options.delay(item.attempt, self.rng)
            values = {
                "next_attempt_at": now + dt.timedelta(seconds=delay),
                "last_status": outcome.status,
                "last_error": outcome.error,
            }
        session.execute(update(WebhookDelivery).where(mine).values(**values))


REPLAY_CHOICES: dict[str, tuple[str, ...]] = {
    "dead": ("dead",),
    "delivered": ("delivered",),
    "all": ("dead", "delivered"),
}
"""What ``callintel deliveries replay --status`` and ``POST /v1/webhooks/{id}/replay?status=``
name, as the delivery statuses :func:`replay` takes."""


def replay(
    session: Session,
    statuses: Sequence[str] = ("dead",),
    subscription_id: str | None = None,
    event_ids: Sequence[str] = (),
    since: dt.datetime | None = None,
    dealers: Sequence[str] | None = None,
) -> int:
    """Put deliveries back to ``pending`` with fresh attempts, due now; returns how many.

    By default the dead letters; ``statuses=("delivered", "dead")`` re-sends delivered ones too
    (receivers drop what they already have by event id)."""
    valid = {"pending", "delivered", "dead"}
    if not statuses or set(statuses) - valid:
        raise ValueError(f"statuses must be some of {sorted(valid)}, not {list(statuses)}")
    query = update(WebhookDelivery).where(WebhookDelivery.status.in_(list(statuses)))
    if subscription_id is not None:
        query = query.where(WebhookDelivery.subscription_id == subscription_id)
    if event_ids:
        query = query.where(WebhookDelivery.event_id.in_(list(event_ids)))
    if since is not None:
        query = query.where(WebhookDelivery.created_at >= since)
    if dealers is not None:
        owned = select(WebhookSubscription.id).where(WebhookSubscription.dealer_id.in_(list(dealers)))
        query = query.where(WebhookDelivery.subscription_id.in_(owned))
    result = session.execute(
        query.values(status="pending", attempts=0, next_attempt_at=utcnow(), last_error=None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
