"""Benchmark: search across calls (``GET /v1/search``'s store function) over 10,000 stored calls.

What it does
------------
A fresh database (SQLite in a temporary folder, and PostgreSQL with ``--postgres-url``, whose
``public`` schema is dropped and recreated) holds ``--calls`` synthetic calls: the dialogues of
the project's corpus generator (``callintel.training.corpus``, about 2/3 Mandarin, 1/3 English,
15 turns each), spread over 5 dealers, with their scenario, grade and call date, each turn
timed 4 s after the last. The transcripts are stored and indexed as ``store_result`` does
(``callintel.store.search.index_turns``).

Then each of 20 queries (Mandarin and English, words and phrases, with and without filters,
with a key of all dealers or of one) runs once to warm up and ``--repeat`` times measured, each
in its own session as a request has: ``callintel.store.search.search`` (the count, the page of
20 hits, their snippets and highlights). Reported: p50/p95 per query and over all runs, the
hits found, and the size of the index (the ``search_turns`` table and its full-text index).

Usage::

    python bench/bench_search.py [--calls 10000] [--repeat 10] [--postgres-url URL] [--json OUT]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, insert, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from callintel.store import search  # noqa: E402
from callintel.store.db import Database, upgrade  # noqa: E402
from callintel.store.keys import Principal  # noqa: E402
from callintel.store.models import Call, Dealer, Transcript, new_id  # noqa: E402
from callintel.store.search import SearchFilters  # noqa: E402
from callintel.training.corpus.generator import generate  # noqa: E402

console = Console()
DEALERS = [f"d{i}" for i in range(1, 6)]
EVERY_DEALER = Principal("bench", "qa", None)
ONE_DEALER = Principal("bench", "qa", frozenset({"d1"}))
NOV = (dt.date(2026, 11, 1), dt.date(2026, 11, 30))
H1 = (dt.date(2026, 1, 1), dt.date(2026, 6, 30))


@dataclass(frozen=True)
class Case:
    query: str
    filters: SearchFilters = SearchFilters()
    who: Principal = EVERY_DEALER

    def label(self) -> str:
        f = self.filters
        parts = [
            f"role={f.role}" if f.role else "",
            f"scenario={f.scenario}" if f.scenario else "",
            f"grade={','.join(f.grades)}" if f.grades else "",
            f"{f.since}..{f.until}" if f.since else "",
            "key: d1" if self.who.dealers else "",
        ]
        return " ".join(p for p in parts if p) or "-"


CASES = [
    Case("比亚迪"),
    Case("最低价"),
    Case("预算"),
    Case("试驾"),
    Case("车"),  # one character, in most Mandarin turns: the widest prefix
    Case("以旧换新补贴"),
    Case("零跑C10"),
    Case("电池安全"),
    Case("分期", SearchFilters(role="customer")),
    Case("现金优惠", SearchFilters(scenario="showroom")),
    Case("小米", SearchFilters(grades=("H", "A"))),
    Case("落地价", SearchFilters(since=NOV[0], until=NOV[1])),
    Case("预算", SearchFilters(role="customer"), ONE_DEALER),
    Case("price"),
    Case('"test drive"'),
    Case("monthly payments"),
    Case('"trade in"', SearchFilters(role="customer")),
    Case("financing", SearchFilters(role="sales", scenario="inbound_call")),
    Case("wechat", SearchFilters(grades=("H",), since=H1[0], until=H1[1])),
    Case("budget", SearchFilters(), ONE_DEALER),
]


def fresh_database(url: str) -> Database:
    if not url.startswith("sqlite"):
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    upgrade(url)
    return Database(url)


def fill(db: Database, calls: int, seed: int) -> tuple[int, float]:
    """Store ``calls`` generated dialogues; (turns stored, seconds taken)."""
    started = time.perf_counter()
    turns_stored = 0
    with db.session() as session:
        session.add_all(Dealer(id=d, name=d) for d in DEALERS)
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        with db.session() as session:
            session.execute(insert(Call), [b["call"] for b in batch])
            session.execute(insert(Transcript), [b["transcript"] for b in batch])
            for b in batch:
                c = b["call"]
                call = search.IndexedCall(c["id"], c["dealer_id"], c["scenario"], c["recorded_at"])
                search.index_turns(session, call, b["transcript"]["turns"])
        batch.clear()

    for i, dialogue in enumerate(generate("train", calls, seed=seed)):
        call_id = new_id()
        day = dt.date.fromisoformat(dialogue["call_date"])
        recorded = dt.datetime.combine(day, dt.time(9 + i % 9, i % 60), dt.UTC)
        turns = [
            {"role": t["role"], "speaker": t["role"], "channel": None, "start": 4.0 * n, "end": 4.0 * n + 3.5,
             "text": t["text"], "words": []}
            for n, t in enumerate(dialogue["turns"])
        ]  # fmt: skip
        turns_stored += len(turns)
        batch.append(
            {
                "call": {
                    "id": call_id,
                    "dealer_id": DEALERS[i % len(DEALERS)],
                    "scenario": dialogue["scenario"],
                    "language": dialogue["language"],
                    "recorded_at": recorded,
                    "status": "done",
                    "grade": dialogue["grade"],
                    "created_at": recorded,
                    "updated_at": recorded,
                },
                "transcript": {"call_id": call_id, "language": dialogue["language"], "turns": turns},
            }
        )
        if len(batch) == 500:
            flush()
    if batch:
        flush()
    return turns_stored, time.perf_counter() - started


def index_size(db: Database) -> dict[str, int]:
    """Bytes of the stored turns and of their full-text index."""
    with db.engine.connect() as connection:
        if db.url.startswith("sqlite"):
            rows = connection.execute(
                text("SELECT name, SUM(pgsize) FROM dbstat WHERE name LIKE 'search_%' GROUP BY name")
            ).all()
            sizes = {str(name): int(size) for name, size in rows}
            return {
                "turns_table": sum(v for k, v in sizes.items() if not k.startswith("search_fts")),
                "fulltext_index": sum(v for k, v in sizes.items() if k.startswith("search_fts")),
            }
        turns = connection.execute(text("SELECT pg_table_size('search_turns')")).scalar_one()
        gin = connection.execute(text("SELECT pg_relation_size('ix_search_turns_tokens')")).scalar_one()
        return {"turns_table": int(turns), "fulltext_index": int(gin)}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def measure(db: Database, repeat: int) -> list[dict[str, Any]]:
    out = []
    for case in CASES:
        runs: list[float] = []
        total = 0
        for attempt in range(repeat + 1):
            started = time.perf_counter()
            with db.session() as session:
                page = search.search(session, case.who, case.query, case.filters, limit=20)
            elapsed = (time.perf_counter() - started) * 1000
            if attempt:  # the first run warms the caches
                runs.append(elapsed)
            total = page.total
        out.append({"query": case.query, "filters": case.label(), "hits": total, "runs_ms": runs})
    return out


def run_backend(name: str, url: str, calls: int, repeat: int, seed: int) -> dict[str, Any]:
    console.print(f"[bold]{name}[/]: storing {calls} calls…")
    db = fresh_database(url)
    try:
        turns, seconds = fill(db, calls, seed)
        if not url.startswith("sqlite"):
            with db.engine.connect() as connection:
                connection.execute(text("ANALYZE"))
        console.print(f"  {turns} turns stored and indexed in {seconds:.1f} s")
        results = measure(db, repeat)
        size = index_size(db)
    finally:
        db.dispose()
    every = [ms for r in results for ms in r["runs_ms"]]
    return {
        "backend": name,
        "calls": calls,
        "turns": turns,
        "fill_seconds": round(seconds, 1),
        "size_bytes": size,
        "p50_ms": round(percentile(every, 0.5), 1),
        "p95_ms": round(percentile(every, 0.95), 1),
        "queries": [
            {
                "query": r["query"],
                "filters": r["filters"],
                "hits": r["hits"],
                "p50_ms": round(statistics.median(r["runs_ms"]), 1),
                "p95_ms": round(percentile(r["runs_ms"], 0.95), 1),
            }
            for r in results
        ],
    }


def show(report: dict[str, Any]) -> None:
    table = Table(title=f"{report['backend']}: {report['calls']} calls, {report['turns']} turns")
    for column in ("query", "filters", "hits", "p50 ms", "p95 ms"):
        table.add_column(column, justify="right" if "ms" in column or column == "hits" else "left")
    for q in report["queries"]:
        table.add_row(q["query"], q["filters"], str(q["hits"]), f"{q['p50_ms']:.1f}", f"{q['p95_ms']:.1f}")
    table.add_row("all runs", "", "", f"{report['p50_ms']:.1f}", f"{report['p95_ms']:.1f}")
    console.print(table)
    size = report["size_bytes"]
    console.print(
        f"index size: turns table {size['turns_table'] / 2**20:.1f} MiB, "
        f"full-text index {size['fulltext_index'] / 2**20:.1f} MiB; stored in {report['fill_seconds']} s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument(
        "--repeat", type=int, default=10, help="measured runs of each query (after one warm-up)"
    )
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument(
        "--postgres-url", help="also on this PostgreSQL database (its public schema is dropped)"
    )
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--json", type=Path, help="write the reports here")
    args = parser.parse_args()
    reports = []
    with tempfile.TemporaryDirectory() as folder:
        if not args.no_sqlite:
            reports.append(
                run_backend(
                    "SQLite", f"sqlite:///{Path(folder) / 'bench.db'}", args.calls, args.repeat, args.seed
                )
            )
            show(reports[-1])
        if args.postgres_url:
            reports.append(run_backend("PostgreSQL", args.postgres_url, args.calls, args.repeat, args.seed))
            show(reports[-1])
    if args.json:
        args.json.write_text(json.dumps(reports, ensure_ascii=False, indent=2), encoding="utf-8")
    slow = [r["backend"] for r in reports if r["p95_ms"] >= 300]
    if slow:
        console.print(f"[red]p95 over the 300 ms target on {', '.join(slow)}[/]")
    return 1 if slow else 0


if __name__ == "__main__":
    raise SystemExit(main())
