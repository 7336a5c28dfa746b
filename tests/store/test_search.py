"""Search across calls (``GET /v1/search``, ``callintel.store.search``): what it finds in Mandarin
and English, its filters and dealer scope, that it forgets erased, re-analysed and redacted text,
and that bad queries are refused with 422; on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from api import create_app
from callintel.errors import InvalidInput
from callintel.options import AnalysisOptions
from callintel.result import AnalysisResult
from callintel.service.worker import Worker
from callintel.store import search
from callintel.store.blobs import BlobStore
from callintel.store.db import Database, upgrade
from callintel.store.models import Call
from callintel.store.results import store_result
from callintel.transcript import Turn
from tests.service_helpers import (
    analysis_result,
    auth,
    fake_result,
    make_key,
    scorecard,
    service_settings,
)

UTC = dt.UTC

# (dealer, scenario, recorded_at, grade, turns as (role, text, start))
CALLS: list[tuple[str, str, dt.datetime, str, list[tuple[str, str, float]]]] = [
    (
        "d1",
        "showroom",
        dt.datetime(2026, 11, 2, 9, tzinfo=UTC),
        "A",
        [
            ("sales", "您好，欢迎光临，我是销售顾问小王", 0.0),
            ("customer", "我在看比亚迪汉，也在对比零克 08", 3.5),
            ("sales", "这已经是我们的最低价了", 8.25),
        ],
    ),
    (
        "d1",
        "inbound_call",
        dt.datetime(2026, 11, 10, 9, tzinfo=UTC),
        "C",
        [("customer", "比亞迪的價格更便宜", 1.0), ("sales", "我们有金融方案，首付两成", 4.0)],
    ),
    (
        "d1",
        "showroom",
        dt.datetime(2026, 11, 12, 23, 30, tzinfo=UTC),  # 13 Nov in Shanghai
        "H",
        [
            ("sales", "This is the lowest price we can offer, with free charging for a year.", 0.0),
            ("customer", "I am comparing it with the Tesla Model Y and its discounts.", 6.0),
        ],
    ),
    (
        "d2",
        "showroom",
        dt.datetime(2026, 11, 12, 9, tzinfo=UTC),
        "B",
        [("customer", "比亚迪汉我也看过", 2.0), ("sales", "最低价就是这个了", 5.0)],
    ),
]


def result_with(turns: list[tuple[str, str, float]], grade: str) -> AnalysisResult:
    stored = analysis_result(scorecard({"greeting": True}), grade)
    said = tuple(
        Turn(role, f"S{i}", None, start, start + 2.0, words, ())
        for i, (role, words, start) in enumerate(turns)
    )
    return replace(stored, turns=said)


class Searcher:
    def __init__(self, db: Database, tmp_path: Path) -> None:
        self.db = db
        self.client = TestClient(create_app(service_settings(tmp_path, db.url), in_process_workers=0, db=db))
        self.qa = make_key(db, "qa", "d1")
        self.other = make_key(db, "qa", "d2")
        self.admin = make_key(db, "admin", "*")
        self.crm = make_key(db, "crm", "d1")
        self.ids: list[str] = []
        with db.session() as session:
            for dealer, scenario, when, grade, turns in CALLS:
                call = Call(dealer_id=dealer, scenario=scenario, recorded_at=when)
                session.add(call)
                session.flush()
                store_result(session, call, result_with(turns, grade))
                self.ids.append(call.id)

    def answer(self, key: str | None = None, **params: Any) -> Any:
        return self.client.get("/v1/search", params=params, headers=auth(key or self.qa))

    def hits(self, q: str, key: str | None = None, **params: Any) -> list[tuple[int, int]]:
        """(call index in CALLS, turn) of each hit, in the order answered."""
        answer = self.answer(key, q=q, **params)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        assert page["total"] >= len(page["items"])
        return [(self.ids.index(hit["call_id"]), hit["turn"]) for hit in page["items"]]


@pytest.fixture
def searcher(db: Database, tmp_path: Path) -> Searcher:
    return Searcher(db, tmp_path)


def test_mandarin_words_are_found_inside_sentences_newest_call_first(searcher: Searcher) -> None:
    assert searcher.hits("比亚迪") == [(1, 0), (0, 1)]  # d2's call is another dealer's
    # Traditional and Simplified, full-width and ASR spaces between characters are one spelling.
    assert searcher.hits("比亞迪") == [(1, 0), (0, 1)]
    assert searcher.hits("零克08") == [(0, 1)]
    assert searcher.hits("零克０８") == [(0, 1)]
    assert searcher.hits("最低价") == [(0, 2)]
    assert searcher.hits("汉") == [(0, 1)]  # one character
    assert searcher.hits("迪汉") == [(0, 1)]
    assert searcher.hits("比亚迪汉") == [(0, 1)]
    assert searcher.hits("比亚迪价格") == []  # not side by side anywhere
    assert searcher.hits("比亚迪 价格") == [(1, 0)]  # two terms, both in the turn
    assert searcher.hits("宝马") == []


def test_a_hit_has_the_turn_its_time_a_highlighted_snippet_and_a_link(searcher: Searcher) -> None:
    answer = searcher.answer(q="比亚迪汉")
    (hit,) = answer.json()["items"]
    assert hit["call_id"] == searcher.ids[0]
    assert (hit["turn"], hit["start"], hit["role"]) == (1, 3.5, "customer")
    assert hit["snippet"] == "我在看比亚迪汉，也在对比零克 08"
    assert [hit["snippet"][s:e] for s, e in hit["highlights"]] == ["比亚迪汉"]
    assert hit["link"] == f"/console/calls/{searcher.ids[0]}?t=3.5"
    assert (hit["dealer"], hit["scenario"], hit["grade"]) == ("d1", "showroom", "A")
    assert hit["called_at"].startswith("2026-11-02T09:00")
    english = searcher.answer(q="discount").json()["items"][0]
    assert [english["snippet"][s:e] for s, e in english["highlights"]] == ["discounts"]


def test_english_words_and_phrases(searcher: Searcher) -> None:
    assert searcher.hits('"lowest price"') == [(2, 0)]
    assert searcher.hits('"LOWEST PRICES"') == [(2, 0)]  # case and the plural do not matter
    assert searcher.hits('"price lowest"') == []  # a quoted phrase keeps its order
    assert searcher.hits("price lowest") == [(2, 0)]  # words without quotes: each in the turn
    assert searcher.hits("discount") == [(2, 1)]
    assert searcher.hits("model y") == [(2, 1)]
    assert searcher.hits("charging year") == [(2, 0)]
    assert searcher.hits("cheapest") == []


def test_filters_who_said_it_scenario_grade_and_days(searcher: Searcher) -> None:
    assert searcher.hits("比亚迪", role="customer") == [(1, 0), (0, 1)]
    assert searcher.hits("比亚迪", role="sales") == []
    assert searcher.hits("最低价", role="sales") == [(0, 2)]
    assert searcher.hits("最低价", role="customer") == []
    assert searcher.hits("比亚迪", scenario="inbound_call") == [(1, 0)]
    assert searcher.hits("比亚迪", grade=["A", "H"]) == [(0, 1)]
    assert searcher.hits("比亚迪", since="2026-11-03") == [(1, 0)]
    assert searcher.hits("比亚迪", until="2026-11-09") == [(0, 1)]
    # The day is the call's in the asked time zone: 23:30 UTC on the 12th is the 13th in Shanghai.
    assert searcher.hits("lowest", since="2026-11-13", tz="Asia/Shanghai") == [(2, 0)]
    assert searcher.hits("lowest", since="2026-11-13") == []
    assert searcher.hits("比亚迪", dealer="d1") == [(1, 0), (0, 1)]
    assert searcher.answer(q="比亚迪", tz="Mars/Base").status_code == 422


def test_a_key_finds_only_its_dealers_calls(searcher: Searcher) -> None:
    assert searcher.hits("比亚迪", key=searcher.other) == [(3, 0)]
    assert searcher.hits("最低价", key=searcher.other) == [(3, 1)]
    assert searcher.hits("比亚迪", key=searcher.other, dealer="d1") == []  # asking does not widen the scope
    assert searcher.hits("最低价", key=searcher.qa, dealer="d2") == []
    assert searcher.hits("比亚迪", key=searcher.admin) == [(3, 0), (1, 0), (0, 1)]
    assert searcher.answer(q="比亚迪").json()["total"] == 2


def test_paging(searcher: Searcher) -> None:
    page = searcher.answer(searcher.admin, q="比亚迪", limit=2).json()
    assert (page["total"], len(page["items"])) == (3, 2)
    rest = searcher.answer(searcher.admin, q="比亚迪", limit=2, offset=2).json()
    assert [h["call_id"] for h in rest["items"]] == [searcher.ids[0]]


def _indexed(db: Database, call_id: str) -> list[str]:
    with db.engine.connect() as connection:
        return list(
            connection.execute(
                text("SELECT text FROM search_turns WHERE call_id = :c"), {"c": call_id}
            ).scalars()
        )


def _fts_rows(db: Database, token: str) -> int | None:
    """How many rows SQLite's FTS5 index has for ``token``; None on PostgreSQL (no such table)."""
    if not db.url.startswith("sqlite"):
        return None
    with db.engine.connect() as connection:
        return int(
            connection.execute(
                text("SELECT count(*) FROM search_fts WHERE search_fts MATCH :q"), {"q": f'"{token}"'}
            ).scalar_one()
        )


def test_an_erased_call_is_no_longer_found_nor_kept_in_the_index(searcher: Searcher) -> None:
    assert _fts_rows(searcher.db, "迪汉") in (None, 2)
    erased = searcher.client.delete(f"/v1/calls/{searcher.ids[0]}", headers=auth(searcher.crm))
    assert erased.status_code == 204, erased.text
    assert searcher.hits("比亚迪") == [(1, 0)]
    assert searcher.hits("零克") == []
    assert _indexed(searcher.db, searcher.ids[0]) == []
    assert _fts_rows(searcher.db, "迪汉") in (None, 1)  # d2's call still says it
    assert _fts_rows(searcher.db, "零克") in (None, 0)


def test_a_new_analysis_replaces_what_search_finds(searcher: Searcher) -> None:
    with searcher.db.session() as session:
        call = session.get(Call, searcher.ids[0])
        assert call is not None
        store_result(session, call, result_with([("customer", "我更喜欢理想 L6", 1.0)], "B"))
    assert searcher.hits("比亚迪") == [(1, 0)]
    assert searcher.hits("理想") == [(0, 0)]
    assert _indexed(searcher.db, searcher.ids[0]) == ["我更喜欢理想 L6"]
    assert _fts_rows(searcher.db, "零克") in (None, 0)


def test_who_said_it_follows_a_review_that_swaps_the_roles(searcher: Searcher) -> None:
    call_id = searcher.ids[0]
    swap = searcher.client.post(
        f"/v1/calls/{call_id}/review", json={"swap_roles": True}, headers=auth(searcher.qa)
    )
    assert swap.status_code == 201, swap.text
    assert searcher.hits("最低价", role="customer") == [(0, 2)]
    assert searcher.hits("最低价", role="sales") == []
    # Analysed again, the call keeps QA's roles in search as everywhere.
    with searcher.db.session() as session:
        call = session.get(Call, call_id)
        assert call is not None
        store_result(session, call, result_with([("sales", "最低价就是这个了", 1.0)], "B"))
    assert searcher.hits("最低价", role="customer") == [(0, 0)]
    unswap = searcher.client.post(
        f"/v1/calls/{call_id}/review", json={"swap_roles": False}, headers=auth(searcher.qa)
    )
    assert unswap.status_code == 201, unswap.text
    assert searcher.hits("最低价", role="sales") == [(0, 0)]


def test_what_redaction_masked_is_not_found(db: Database, tmp_path: Path, audio_dir: Path) -> None:
    settings = service_settings(tmp_path, db.url)
    client = TestClient(create_app(settings, in_process_workers=0, db=db))
    said = "好的，我的电话是幺三八零零幺三八零零零，加我微信"

    def analyze(path: Path, options: AnalysisOptions, scorecard: Any = None) -> AnalysisResult:
        return fake_result(options, turns=(Turn("customer", "S2", None, 1.0, 4.0, said, ()),))

    worker = Worker(db, BlobStore(settings.audio_dir), analyze, name="w")
    make_key(db, "crm", "d1", "d2")  # registers both dealers
    admin = make_key(db, "admin", "*")
    redaction = {"redaction": {"enabled": True, "kinds": ["phone"], "mute_audio": False}}
    assert client.put("/v1/dealers/d1/settings", json=redaction, headers=auth(admin)).status_code == 200
    for dealer in ("d1", "d2"):
        with (audio_dir / "jfk.flac").open("rb") as f:
            answer = client.post(
                "/v1/calls", files={"audio": ("jfk.flac", f)}, data={"dealer": dealer}, headers=auth(admin)
            )
        assert answer.status_code == 202, answer.text
    assert worker.run_once() and worker.run_once()

    def dealers_of(q: str) -> list[str]:
        answer = client.get("/v1/search", params={"q": q}, headers=auth(admin))
        assert answer.status_code == 200, answer.text
        return sorted(hit["dealer"] for hit in answer.json()["items"])

    assert dealers_of("微信") == ["d1", "d2"]
    assert dealers_of("幺三八") == ["d2"]  # d1 asked for redaction
    assert dealers_of("零零幺三") == ["d2"]
    snippet = client.get("/v1/search", params={"q": "微信", "dealer": "d1"}, headers=auth(admin)).json()
    assert "*" in snippet["items"][0]["snippet"] and "幺" not in snippet["items"][0]["snippet"]
    assert _fts_rows(db, "幺三") in (None, 1)


@pytest.mark.parametrize(
    ("q", "status", "why"),
    [
        ("", 422, "at least 1 character"),
        ("   ", 422, "the query is empty"),
        ("比" * 201, 422, "at most 200 characters"),
        ("比亚迪\x00", 400, "NUL"),  # the service's guard answers any URL with a NUL
        ("汉\n", 422, "control character"),
        ("!!! ... ？？", 422, "nothing to search for"),
        ('"" * ()', 422, "nothing to search for"),
        (" ".join(["a"] * 11), 422, "at most 10"),
    ],
)
def test_a_query_with_nothing_to_search_is_refused(searcher: Searcher, q: str, status: int, why: str) -> None:
    answer = searcher.answer(q=q)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert why in answer.json()["detail"], answer.text


def test_the_store_refuses_a_nul_too() -> None:
    with pytest.raises(InvalidInput, match="control character"):
        search.parse_query("比亚迪\x00")


@pytest.mark.parametrize(
    "q",
    [
        '"',
        '"比亚迪',
        '比亚迪"',
        "*",
        "比亚迪*",
        "NEAR(比亚迪 汉)",
        "price OR lowest",
        "NOT price",
        "' OR 1=1 --",
        "'; DROP TABLE calls; --",
        "{tokens}: 比亚迪",
        "比亚迪 <-> 汉",
        "lowest:* & !price",
        "^price",
        "\\ '\\'",
        "price) OR (1",
        "𠮷野家 😀",
    ],
)
def test_a_hostile_query_is_plain_text(searcher: Searcher, q: str) -> None:
    answer = searcher.answer(q=q)
    assert answer.status_code in (200, 422), answer.text
    if answer.status_code == 200:
        for hit in answer.json()["items"]:
            assert hit["dealer"] == "d1"
    with searcher.db.session() as session:
        assert session.scalar(text("SELECT count(*) FROM calls")) == len(CALLS)


def test_operators_are_searched_as_words(searcher: Searcher) -> None:
    assert searcher.hits('比亚迪"') == [(1, 0), (0, 1)]
    assert searcher.hits("NEAR(比亚迪") == []  # "near" is a word the turns do not have
    assert searcher.hits("lowest:*") == [(2, 0)]
    assert searcher.hits("(price") == [(2, 0)]


def test_the_full_text_index_is_the_databases_own(db: Database) -> None:
    with db.engine.connect() as connection:
        if db.url.startswith("sqlite"):
            sql = connection.execute(
                text("SELECT sql FROM sqlite_master WHERE name = 'search_fts'")
            ).scalar_one()
            assert "USING fts5" in sql
        else:
            sql = connection.execute(
                text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_search_turns_tokens'")
            ).scalar_one()
            assert "USING gin (tokens)" in sql
            kind = (
                "SELECT data_type FROM information_schema.columns "
                "WHERE table_name = 'search_turns' AND column_name = 'tokens'"
            )
            assert connection.execute(text(kind)).scalar_one() == "tsvector"


def test_transcripts_stored_before_the_index_are_indexed_by_the_migration(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0004")
    database = Database(url)
    with database.engine.begin() as connection:
        connection.execute(
            text("INSERT INTO dealers (id, name, settings, created_at) VALUES ('d1', '', '{}', '2026-11-01')")
        )
        connection.execute(
            text(
                "INSERT INTO calls (id, dealer_id, scenario, channel_layout, status, created_at, updated_at) "
                "VALUES ('c1', 'd1', 'showroom', 'auto', 'done', '2026-11-01 09:30:00.000000', "
                "'2026-11-01 09:30:00.000000')"
            )
        )
        connection.execute(
            text("INSERT INTO transcripts (call_id, turns, created_at) VALUES ('c1', :t, '2026-11-01')"),
            {"t": '[{"role": "customer", "text": "我在看比亚迪汉", "start": 1.0, "end": 2.0}]'},
        )
    database.dispose()
    upgrade(url)
    database = Database(url)
    from callintel.store.keys import Principal

    with database.session() as session:
        page = search.search(session, Principal("k", "qa", frozenset({"d1"})), "比亚迪")
    database.dispose()
    assert [(h.call_id, h.turn, h.start, h.dealer) for h in page.items] == [("c1", 0, 1.0, "d1")]
    assert page.items[0].called_at == dt.datetime(2026, 11, 1, 9, 30, tzinfo=UTC)


# --- tokens and snippets, without a database ------------------------------------------------------


def test_chinese_runs_become_character_pairs_and_a_last_character() -> None:
    assert search.document_tokens("比亚迪汉，好") == ["比亚", "亚迪", "迪汉", "汉", "好"]
    assert search.document_tokens("零克 08 很好") == ["零克", "克", "08", "很好", "好"]
    assert search.document_tokens("比 亚 迪") == ["比亚", "亚迪", "迪"]  # ASR spaces
    assert search.document_tokens("The DISCOUNTS, ｄｉｓｃｏｕｎｔ") == ["the", "discount", "discount"]
    assert search.document_tokens("。。。 ——") == []


def test_query_terms_and_their_phrases() -> None:
    query = search.parse_query('比亚迪 "lowest prices" 汉 20万')
    assert [t.tokens for t in query.terms] == [("比亚", "亚迪"), ("lowest", "price"), ("汉",), ("20", "万")]
    assert [t.prefix for t in query.terms] == [False, False, True, True]
    assert query.fts5() == '"比亚 亚迪" AND "lowest price" AND "汉" * AND "20 万" *'
    assert query.tsquery() == "('比亚' <-> '亚迪') & ('lowest' <-> 'price') & ('汉':*) & ('20' <-> '万':*)"
    # A run of characters followed by more in the same term ends in the turn too.
    assert search.parse_query("买20").terms[0].tokens == ("买", "20")


def test_snippets_are_cut_between_words_and_keep_the_highlights() -> None:
    words = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november "
    long = words * 3 + "the lowest price " + words * 3
    query = search.parse_query('"lowest price"')
    shown, marks = search.snippet(long, search.highlights(long, query), width=60)
    assert [shown[s:e] for s, e in marks] == ["lowest price"]
    assert shown.startswith("…") and shown.endswith("…")
    for piece in shown.strip("…").split():
        assert piece in words.split() + ["the", "lowest", "price"], piece  # no word cut in two
    chinese = "我们店里" * 20 + "这是最低价" + "请您放心" * 20
    shown, marks = search.snippet(chinese, search.highlights(chinese, search.parse_query("最低价")), width=30)
    assert [shown[s:e] for s, e in marks] == ["最低价"]
    assert len(shown) <= 32
