"""Benchmark: webhook delivery throughput and the time to drain a backlog (loopback only).

What it does
------------
A fresh database (SQLite in a temporary folder, or ``--database-url`` for PostgreSQL, whose
``public`` schema is then dropped and recreated), one dealer, one webhook subscription to a real
HTTP receiver on 127.0.0.1 (``tests/receiver.py``: it verifies every signature and answers 204),
and the dispatcher of ``callintel.service.delivery`` with its default options unless told otherwise.
Events are written with ``store.events.emit`` exactly as the worker writes them (each with one
delivery), spread over ``--customers`` customers (per-customer order limits how many of one
customer's events can be in flight: one).

1. **Steady throughput**: the receiver is up; ``--events`` events are written, then the
   dispatcher delivers them; events/s from the first attempt to the last delivery.
2. **Backlog after an outage**: the receiver is down; ``--backlog`` events (10,000) are written
   while a dispatcher keeps trying (every delivery it takes fails with a refused connection and
   is rescheduled with the backoff) for ``--outage`` seconds; then the receiver comes back on the
   same port, and the time until every delivery is delivered is measured. With the default
   backoff (5 s doubling), deliveries that failed during the outage are due again within a few
   backoff periods, so the drain time includes that wait; it is reported apart from the pure
   sending time (``--outage 0`` gives the plain drain of a backlog that is all due).

Every event must arrive exactly once by event id, with a valid signature, each customer's events
in order; the script checks and exits 1 otherwise.

Usage::

    python bench/bench_delivery.py [--events 2000] [--backlog 10000] [--customers 500]
        [--outage 20] [--concurrency 8] [--database-url URL] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from callintel.service.delivery import DeliveryOptions, Dispatcher  # noqa: E402
from callintel.store.db import Database, upgrade  # noqa: E402
from callintel.store.events import emit  # noqa: E402
from callintel.store.models import Customer, Dealer, WebhookSubscription  # noqa: E402
from tests.receiver import Receiver  # noqa: E402

SECRET = "whsec_bench_secret_0123456789"
console = Console()


def fresh_database(url: str | None, folder: Path) -> Database:
    if url is None:
        url = f"sqlite:///{folder / 'bench.db'}"
    else:
        from sqlalchemy import create_engine, text

        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    upgrade(url)
    return Database(url)


def setup(db: Database, receiver: Receiver, customers: int) -> list[str]:
    with db.session() as session:
        session.add(Dealer(id="bench", name="bench"))
        session.flush()
        session.add(WebhookSubscription(dealer_id="bench", url=receiver.url, secret=SECRET, events=[]))
        rows = [Customer(dealer_id="bench", external_id=f"cust-{i}") for i in range(customers)]
        session.add_all(rows)
        session.flush()
        return [c.id for c in rows]


def write_events(db: Database, customers: list[str], n: int, start: int) -> float:
    """Write ``n`` events (one transaction per 100, like a busy worker pool); returns seconds."""
    clock = time.perf_counter()
    for first in range(0, n, 100):
        with db.session() as session:
            for i in range(first, min(n, first + 100)):
                customer = customers[(start + i) % len(customers)]
                emit(
                    session,
                    "bench",
                    "call.analyzed",
                    {
                        "n": start + i,
                        "customer_id": customer,
                        "tags": [{"key": "intent_grade", "value": "A"}],
                    },
                    customer_id=customer,
                )
    return time.perf_counter() - clock


def pending(db: Database) -> int:
    from sqlalchemy import func, select

    from callintel.store.models import WebhookDelivery

    with db.session() as session:
        return int(session.scalar(select(func.count()).where(WebhookDelivery.status != "delivered")) or 0)


def drain(dispatcher: Dispatcher, db: Database, timeout: float) -> tuple[float, int]:
    """Run the dispatcher until nothing is pending; returns (seconds, rounds)."""
    clock = time.perf_counter()
    rounds = 0
    while pending(db):
        if time.perf_counter() - clock > timeout:
            raise SystemExit(f"not drained after {timeout} s: {pending(db)} left")
        rounds += 1
        if not dispatcher.run_once():
            time.sleep(dispatcher.options.poll_seconds / 10)
    return time.perf_counter() - clock, rounds


def check(receiver: Receiver, expected: int) -> list[str]:
    problems = []
    unique = receiver.unique()
    if len(unique) != expected:
        problems.append(f"{len(unique)} distinct events arrived, {expected} expected")
    if not all(r.signature_ok for r in receiver.received):
        problems.append("a signature did not verify")
    last: dict[str, int] = {}
    for item in unique.values():
        customer = str(item.data["customer_id"])
        if item.seq < last.get(customer, -1):
            problems.append(f"customer {customer}: event {item.seq} arrived after {last[customer]}")
            break
        last[customer] = item.seq
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--backlog", type=int, default=10_000)
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument("--outage", type=float, default=20.0, help="seconds the receiver is away")
    parser.add_argument("--concurrency", type=int, default=DeliveryOptions().concurrency)
    parser.add_argument("--batch-size", type=int, default=DeliveryOptions().batch_size)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    options = DeliveryOptions(concurrency=args.concurrency, batch_size=args.batch_size)
    report: dict[str, Any] = {
        "options": {"concurrency": options.concurrency, "batch_size": options.batch_size}
    }
    with tempfile.TemporaryDirectory() as tmp:
        db = fresh_database(args.database_url, Path(tmp))
        report["database"] = db.engine.dialect.name
        receiver = Receiver(secret=SECRET).start()
        try:
            customers = setup(db, receiver, args.customers)
            # 1. Steady throughput.
            write_events(db, customers, args.events, 0)
            dispatcher = Dispatcher(db, options)
            seconds, rounds = drain(dispatcher, db, args.timeout)
            report["steady"] = {
                "events": args.events,
                "seconds": seconds,
                "events_per_s": args.events / seconds,
            }
            problems = check(receiver, args.events)

            # 2. A backlog written while the receiver is away, the dispatcher failing meanwhile.
            receiver.stop()
            stop = threading.Event()
            trying = threading.Thread(target=dispatcher.run, args=(stop,), daemon=True)
            clock = time.perf_counter()
            trying.start()
            write_seconds = write_events(db, customers, args.backlog, args.events)
            remaining = args.outage - (time.perf_counter() - clock)
            if remaining > 0:
                time.sleep(remaining)
            stop.set()
            trying.join()
            outage_seconds = time.perf_counter() - clock
            receiver.start()
            back = time.perf_counter()
            seconds, rounds = drain(dispatcher, db, args.timeout)
            dispatcher.close()
            report["backlog"] = {
                "events": args.backlog,
                "write_seconds": write_seconds,
                "outage_seconds": outage_seconds,
                "drain_seconds": seconds,
                "events_per_s_while_draining": args.backlog / seconds,
                "total_from_return": time.perf_counter() - back,
                "rounds": rounds,
            }
            problems += check(receiver, args.events + args.backlog)
        finally:
            receiver.stop()
            db.dispose()

    table = Table(
        title=f"Webhook delivery to a loopback receiver ({report['database']}, "
        f"{options.concurrency} in flight, batches of {options.batch_size}, {args.customers} customers)"
    )
    table.add_column("measure")
    table.add_column("value", justify="right")
    steady = report["steady"]
    table.add_row("steady: events delivered", f"{steady['events']}")
    table.add_row("steady: throughput", f"{steady['events_per_s']:.0f} events/s ({steady['seconds']:.1f} s)")
    backlog = report["backlog"]
    table.add_row("backlog: events written while the receiver was away", f"{backlog['events']}")
    table.add_row("backlog: receiver away for", f"{backlog['outage_seconds']:.1f} s")
    table.add_row("backlog: drain time after it came back", f"{backlog['drain_seconds']:.1f} s")
    table.add_row(
        "backlog: throughput while draining", f"{backlog['events_per_s_while_draining']:.0f} events/s"
    )
    table.add_row(
        "exactly once by event id, signatures valid, order per customer", "yes" if not problems else "NO"
    )
    console.print(table)
    for problem in problems:
        console.print(f"[red]{problem}[/]")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
