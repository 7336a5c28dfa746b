"""`deliveries`: send the webhook deliveries, send them again, see how they stand."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer
from rich.table import Table

from callintel.cli.common import console, fail, stop_on_signals
from callintel.settings import Settings


def deliveries_run(
    max_attempts: Annotated[int, typer.Option(help="Attempts before a delivery is dead.")] = 25,
    concurrency: Annotated[int, typer.Option(help="Requests in flight at once.")] = 8,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for a receiver.")] = 10.0,
) -> None:
    """Send webhook deliveries until stopped (run one or several beside the API)."""
    from callintel.service.delivery import DeliveryOptions, Dispatcher
    from callintel.store.db import Database

    settings = Settings.from_env()
    db = Database(settings.database_url)
    stop = stop_on_signals()
    try:
        options = DeliveryOptions(max_attempts=max_attempts, concurrency=concurrency, timeout=timeout)
    except ValueError as e:
        fail(str(e))
    dispatcher = Dispatcher(db, options)
    try:
        dispatcher.run(stop)
    finally:
        dispatcher.close()
        db.dispose()


def deliveries_replay(
    status: Annotated[
        str, typer.Option(help="Which deliveries: dead (the dead letters), delivered, or all.")
    ] = "dead",
    subscription: Annotated[str | None, typer.Option(help="Only this subscription's.")] = None,
    event: Annotated[list[str] | None, typer.Option(help="Only this event id (repeat).")] = None,
    since: Annotated[
        str | None, typer.Option(help="Only deliveries created since (ISO date/time, UTC).")
    ] = None,
) -> None:
    """Send deliveries again: they go back to pending with fresh attempts, due now. Receivers
    drop duplicates by event id."""
    from callintel.service.delivery import REPLAY_CHOICES, replay
    from callintel.store.db import Database

    statuses = REPLAY_CHOICES.get(status)
    if statuses is None:
        fail(f"--status must be dead, delivered or all, not {status!r}")
    try:
        start = dt.datetime.fromisoformat(since) if since else None
    except ValueError as e:
        fail(f"--since: {e}")
    if start is not None and start.tzinfo is None:
        start = start.replace(tzinfo=dt.UTC)
    settings = Settings.from_env()
    db = Database(settings.database_url)
    try:
        with db.session() as session:
            count = replay(
                session, statuses, subscription_id=subscription, event_ids=event or (), since=start
            )
    finally:
        db.dispose()
    console.print(f"{count} deliveries queued again")


def deliveries_status() -> None:
    """Deliveries by subscription and status."""
    from callintel.store.db import Database
    from callintel.store.deliveries import delivery_counts

    settings = Settings.from_env()
    db = Database(settings.database_url)
    try:
        with db.session() as session:
            rows = delivery_counts(session)
    finally:
        db.dispose()
    table = Table(title="Webhook deliveries")
    for column in ("subscription", "dealer", "url", "pending", "delivered", "dead"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row.subscription_id, row.dealer_id, row.url, str(row.pending), str(row.delivered), str(row.dead)
        )
    console.print(table)
