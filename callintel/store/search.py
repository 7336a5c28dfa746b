"""Search across calls: the words and phrases of stored transcripts (``GET /v1/search``).

Each turn of a stored transcript is a row of ``search_turns`` with its tokens, indexed by the
database's own full-text machinery: an FTS5 table on SQLite, a ``tsvector`` GIN index on
PostgreSQL. A query is turned into the same tokens and asked as a phrase, so both backends find
the same turns.

How text becomes tokens (the same for what is stored and what is asked, in :func:`canonical`
form: full-width as ASCII, Traditional as Simplified, lower case):

- Mandarin has no spaces between words, so a run of Chinese characters is indexed as its
  overlapping character pairs, and its last character alone (比亚迪汉 → 比亚 亚迪 迪汉 汉): the
  CJK-bigram scheme of Lucene's ``CJKAnalyzer``. A query of two or more characters is the phrase
  of its pairs, which finds it anywhere inside a run, whatever the words around it; one
  character is a prefix of a token. A word segmenter (jieba) was not used: it can cut the same
  characters differently in a query and in a sentence (最低价 alone, 最低 价 in context) and then
  misses them, it knows no ASR misspellings (零克 for 领克), and its dictionary costs a second to
  load. Spaces between Chinese characters (ASR noise, :mod:`callintel.text`) do not break a run;
  punctuation does.
- Other text is split into words of letters and digits; English words are stemmed (Snowball),
  so "discounts" finds "discount".

A query is one or more terms separated by spaces, each a phrase that must be in the turn; a
phrase with spaces is written in double quotes ("lowest price"). Nothing the user types reaches
the full-text syntax of either database: only tokens made here do, quoted.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    bindparam,
    cast,
    column,
    delete,
    func,
    insert,
    select,
    table,
)
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.orm import Session

from callintel.domain import Grade, Role, Scenario
from callintel.errors import InvalidInput
from callintel.store.keys import Principal
from callintel.store.models import Call, SearchTurn
from callintel.text import CJK, canonical

MAX_QUERY_CHARS = 200
"""The longest query taken (characters)."""
MAX_TERMS = 10
"""The most terms (words or quoted phrases) a query may have."""
MAX_TOKEN_CHARS = 64
"""A longer word is cut to this (PostgreSQL refuses lexemes over 2 KiB)."""
SNIPPET_CHARS = 100
"""About how long a hit's snippet is, around its first match."""

_RUN = re.compile(rf"(?P<cjk>[{CJK}](?:\s*[{CJK}])*)|(?P<word>[^\W_{CJK}]+)")
_ENGLISH = re.compile(r"[a-z]+")
_TERM = re.compile(r'"([^"]*)"|(\S+)')
_QUOTES = str.maketrans({"“": '"', "”": '"', "＂": '"'})  # a Chinese keyboard's quotes too
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# The FTS5 table of search_turns.tokens on SQLite (migration 0007).
_FTS = table("search_fts", column("rowid"), column("tokens"))


# --- text to tokens ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    """A Chinese character or a (stemmed) word, at ``[start, end)`` of the text it came from.
    Units of one run of Chinese characters share ``run``; each word is a run of its own."""

    form: str
    start: int
    end: int
    run: int
    cjk: bool


@lru_cache(maxsize=1)
def _english() -> Any:
    try:
        import snowballstemmer
    except ImportError as e:  # a core dependency; only a broken install gets here
        raise ImportError("search needs snowballstemmer: pip install snowballstemmer") from e
    return snowballstemmer.stemmer("english")


_stem_lock = threading.Lock()


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    if not _ENGLISH.fullmatch(word):
        return word[:MAX_TOKEN_CHARS]
    with _stem_lock:  # a Snowball stemmer keeps state while it works
        return str(_english().stemWord(word))[:MAX_TOKEN_CHARS]


def _normalized(text: str) -> tuple[str, list[int]]:
    """``canonical(text)`` and, for each of its characters, the index of the character of
    ``text`` it came from."""
    norm = canonical(text)
    if len(norm) == len(text):
        return norm, list(range(len(text)))
    pieces = [canonical(ch) for ch in text]  # a character that NFKC widens (㎞ → km)
    return "".join(pieces), [i for i, piece in enumerate(pieces) for _ in piece]


def units(text: str) -> list[Unit]:
    """The units of ``text``, in order, with their offsets into ``text``."""
    norm, origin = _normalized(text)
    out: list[Unit] = []
    for run, match in enumerate(_RUN.finditer(norm)):
        if match.group("cjk") is not None:
            out.extend(
                Unit(norm[i], origin[i], origin[i] + 1, run, True)
                for i in range(match.start(), match.end())
                if not norm[i].isspace()
            )
        else:
            out.append(
                Unit(_stem(match.group()), origin[match.start()], origin[match.end() - 1] + 1, run, False)
            )
    return out


def _runs(items: Sequence[Unit]) -> list[list[Unit]]:
    return [list(group) for _, group in itertools.groupby(items, key=lambda u: u.run)]


def document_tokens(text: str) -> list[str]:
    """The tokens a turn's text is indexed by: each word; each run of Chinese characters as its
    character pairs, then its last character."""
    tokens: list[str] = []
    for run in _runs(units(text)):
        forms = [u.form for u in run]
        if run[0].cjk:
            tokens.extend(a + b for a, b in itertools.pairwise(forms))
            tokens.append(forms[-1])
        else:
            tokens.extend(forms)
    return tokens


@dataclass(frozen=True)
class Term:
    """A word or phrase of a query: a phrase of ``tokens``; with ``prefix``, the last token only
    begins a token of the turn (a single Chinese character at the end)."""

    text: str
    units: tuple[Unit, ...]
    tokens: tuple[str, ...]
    prefix: bool


def _term(text: str) -> Term | None:
    found = units(text)
    if not found:
        return None
    runs = _runs(found)
    tokens: list[str] = []
    prefix = False
    for index, run in enumerate(runs):
        forms = [u.form for u in run]
        if not run[0].cjk:
            tokens.extend(forms)
            continue
        tokens.extend(a + b for a, b in itertools.pairwise(forms))
        if index < len(runs) - 1:
            tokens.append(forms[-1])  # the run ends here in the turn too: its last-character token
        elif len(forms) == 1:
            tokens.append(forms[0])
            prefix = True
    return Term(text, tuple(found), tuple(tokens), prefix)


@dataclass(frozen=True)
class Query:
    """A parsed query: every term must be in the turn."""

    text: str
    terms: tuple[Term, ...]

    def fts5(self) -> str:
        """The SQLite FTS5 expression (tokens are letters and digits only, so quoting is safe)."""
        return " AND ".join(f'"{" ".join(t.tokens)}"' + (" *" if t.prefix else "") for t in self.terms)

    def tsquery(self) -> str:
        """The PostgreSQL ``tsquery`` (read as written, without a text search configuration)."""
        phrases = []
        for t in self.terms:
            lexemes = [f"'{token}'" for token in t.tokens]
            if t.prefix:
                lexemes[-1] += ":*"
            phrases.append("(" + " <-> ".join(lexemes) + ")")
        return " & ".join(phrases)


def parse_query(text: str) -> Query:
    """The terms of ``text``: words separated by spaces, or phrases in double quotes ("…" or
    “…”; a quote without its pair is punctuation). Punctuation, symbols and any full-text operator are not
    searched for.

    Raises:
        InvalidInput: the query is empty, longer than :data:`MAX_QUERY_CHARS`, holds a control
            character, has no letter, digit or Chinese character, or more than :data:`MAX_TERMS`
            terms.
    """
    if not text.strip():
        raise InvalidInput("the query is empty: give a word or phrase to search for")
    if len(text) > MAX_QUERY_CHARS:
        raise InvalidInput(f"the query is too long ({len(text)} characters; at most {MAX_QUERY_CHARS})")
    if _CONTROL.search(text):
        raise InvalidInput("the query holds a control character (such as NUL or a line break)")
    terms = []
    for match in _TERM.finditer(text.translate(_QUOTES)):
        term = _term(match.group(1) if match.group(1) is not None else match.group(2))
        if term is not None:
            terms.append(term)
    if not terms:
        raise InvalidInput("the query has nothing to search for: give letters, digits or Chinese characters")
    if len(terms) > MAX_TERMS:
        raise InvalidInput(f"the query has {len(terms)} terms; at most {MAX_TERMS}")
    return Query(text, tuple(terms))


# --- matches in a turn's text --------------------------------------------------------------------


def _matches_at(doc: Sequence[Unit], at: int, term: Sequence[Unit]) -> bool:
    """Whether ``term``'s units are at ``doc[at:]``, with Chinese characters joined (or not) as
    the term has them: what the token phrase of the index asks for."""
    if at + len(term) > len(doc):
        return False
    for j, unit in enumerate(term):
        if doc[at + j].form != unit.form:
            return False
        if j and (term[j - 1].run == unit.run) != (doc[at + j - 1].run == doc[at + j].run):
            return False
    return True


def highlights(text: str, query: Query) -> list[tuple[int, int]]:
    """Where ``query``'s terms are in ``text``: sorted, merged ``[start, end)`` offsets."""
    doc = units(text)
    spans = sorted(
        (doc[i].start, doc[i + len(term.units) - 1].end)
        for term in query.terms
        for i in range(len(doc))
        if _matches_at(doc, i, term.units)
    )
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _word_char(ch: str) -> bool:
    """A character that a cut must not fall after: part of a word that is not Chinese (a
    Chinese character is a word boundary on both sides), or a combining mark."""
    return (ch.isalnum() and not re.match(rf"[{CJK}]", ch)) or unicodedata.category(ch).startswith("M")


def snippet(
    text: str, spans: Sequence[tuple[int, int]], width: int = SNIPPET_CHARS
) -> tuple[str, list[tuple[int, int]]]:
    """About ``width`` characters of ``text`` around its first span, cut between words (or
    between Chinese characters), with "…" where it was cut; the spans that fall inside, as
    offsets into the snippet."""
    if len(text) <= width:
        return text, list(spans)
    first = spans[0] if spans else (0, 0)
    start = max(0, min(first[0] - width // 3, len(text) - width))
    end = min(len(text), max(start + width, first[1]))
    while 0 < start < first[0] and _word_char(text[start - 1]) and _word_char(text[start]):
        start += 1
    while first[1] < end < len(text) and _word_char(text[end - 1]) and _word_char(text[end]):
        end -= 1
    head = "…" if start > 0 else ""
    body = text[start:end].strip()
    lead = len(text[start:end]) - len(text[start:end].lstrip())
    shift = len(head) - start - lead
    kept = [(max(s + shift, len(head)), min(e + shift, len(head) + len(body))) for s, e in spans]
    return head + body + ("…" if end < len(text) else ""), [(s, e) for s, e in kept if s < e]


# --- the index -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class IndexedCall:
    """What each turn row keeps of its call, for the filters and the order that need no join:
    none of it changes once the call is uploaded."""

    id: str
    dealer_id: str
    scenario: str
    called_at: dt.datetime  # recorded, else uploaded

    @classmethod
    def of(cls, call: Call) -> IndexedCall:
        return cls(call.id, call.dealer_id, call.scenario, call.recorded_at or call.created_at)


def index_turns(session: Session | Connection, call: IndexedCall, turns: Iterable[dict[str, Any]]) -> None:
    """Make ``turns`` (a stored transcript's, as JSON) what search finds of ``call``, replacing
    what it found before (a re-analysis, a redacted transcript)."""
    session.execute(delete(SearchTurn).where(SearchTurn.call_id == call.id))
    rows = [
        {
            "call_id": call.id,
            "dealer_id": call.dealer_id,
            "scenario": call.scenario,
            "called_at": call.called_at,
            "turn": index,
            "role": str(turn.get("role") or ""),
            "start": float(turn.get("start") or 0.0),
            "end": float(turn.get("end") or 0.0),
            "text": text,
            "tokens": tokens,
        }
        for index, turn in enumerate(turns)
        if (tokens := document_tokens(text := str(turn.get("text") or "")))
    ]
    if rows:
        session.execute(insert(SearchTurn), rows)


# --- searching -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchFilters:
    """Which turns a search keeps; None (or empty) keeps all. Days are inclusive, in ``zone``;
    a call's day is its recording time, else its upload time."""

    dealer: str | None = None
    role: Role | None = None
    scenario: Scenario | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    zone: ZoneInfo = ZoneInfo("UTC")
    grades: tuple[Grade, ...] = ()


class SearchHit(BaseModel):
    """A turn that has the query: where it is, who said it, and the words around the match."""

    model_config = ConfigDict(frozen=True)

    call_id: str
    turn: int = Field(description="The turn's index in the call's transcript.")
    start: float = Field(description="When the turn starts, in seconds from the start of the call.")
    end: float
    role: Role | None = Field(description="Who said it: `sales` or `customer`.")
    snippet: str = Field(description="The turn's words around the first match; '…' where cut.")
    highlights: list[tuple[int, int]] = Field(
        description="Where the query is in `snippet`: [start, end) character offsets."
    )
    dealer: str
    scenario: Scenario
    grade: Grade | None = Field(description="The call's intent grade; QA's if reviewed.")
    called_at: dt.datetime = Field(description="When the call was recorded, else uploaded.")
    link: str = Field(description="The console page of the call, opened at this turn.")


class SearchPage(BaseModel):
    model_config = ConfigDict(frozen=True)

    query: str
    items: list[SearchHit]
    total: int = Field(description="How many turns match.")
    limit: int
    offset: int


def _matching(session: Session, query: Query) -> ColumnElement[bool]:
    if session.get_bind().dialect.name == "postgresql":
        return SearchTurn.tokens.op("@@", is_comparison=True)(cast(bindparam("q", query.tsquery()), TSQUERY))
    matches = _FTS.c.tokens.op("MATCH", is_comparison=True)(query.fts5())
    return SearchTurn.id.in_(select(_FTS.c.rowid).where(matches))


_Statement = TypeVar("_Statement", bound=Select[*tuple[Any, ...]])


def _filtered(
    statement: _Statement, session: Session, who: Principal, query: Query, f: SearchFilters
) -> _Statement:
    # The dealer, scenario and day are the turn row's own, so the full-text match drives the
    # query: SQLite's planner, given an index on calls.dealer_id, would look every hit up again
    # for each of the dealer's calls (seconds on 10,000 calls).
    statement = statement.select_from(SearchTurn).where(_matching(session, query))
    if who.dealers is not None:
        statement = statement.where(SearchTurn.dealer_id.in_(sorted(who.dealers)))
    if f.dealer is not None:
        statement = statement.where(SearchTurn.dealer_id == f.dealer)
    if f.role is not None:
        statement = statement.where(SearchTurn.role == f.role)
    if f.scenario is not None:
        statement = statement.where(SearchTurn.scenario == f.scenario)
    # Imported here: calls imports results, which imports this module to index transcripts.
    from callintel.store.calls import day_bounds

    start, end = day_bounds(f.since, f.until, f.zone)
    if start is not None:
        statement = statement.where(SearchTurn.called_at >= start)
    if end is not None:
        statement = statement.where(SearchTurn.called_at < end)
    if f.grades:  # QA may change a grade: the call's own, read where it is kept
        graded = select(Call.id).where(Call.id == SearchTurn.call_id, Call.grade.in_(f.grades))
        statement = statement.where(graded.exists())
    return statement


def search(
    session: Session,
    who: Principal,
    text: str,
    filters: SearchFilters = SearchFilters(),
    limit: int = 20,
    offset: int = 0,
) -> SearchPage:
    """The turns of the calls ``who`` may see that have every term of ``text`` and pass
    ``filters``: newest call first, then in the order spoken.

    Raises:
        InvalidInput: as :func:`parse_query`.
    """
    query = parse_query(text)
    total = session.scalar(_filtered(select(func.count(SearchTurn.id)), session, who, query, filters)) or 0
    turns = session.scalars(
        _filtered(select(SearchTurn), session, who, query, filters)
        .order_by(SearchTurn.called_at.desc(), SearchTurn.call_id, SearchTurn.turn)
        .limit(limit)
        .offset(offset)
    ).all()
    grades = dict(
        session.execute(select(Call.id, Call.grade).where(Call.id.in_(sorted({t.call_id for t in turns}))))
        .tuples()
        .all()
    )
    items = []
    for turn in turns:
        shown, marks = snippet(turn.text, highlights(turn.text, query))
        items.append(
            SearchHit.model_validate(
                {
                    "call_id": turn.call_id,
                    "turn": turn.turn,
                    "start": turn.start,
                    "end": turn.end,
                    "role": turn.role if turn.role in ("sales", "customer") else None,
                    "snippet": shown,
                    "highlights": marks,
                    "dealer": turn.dealer_id,
                    "scenario": turn.scenario,
                    "grade": grades.get(turn.call_id),
                    "called_at": turn.called_at,
                    "link": f"/console/calls/{turn.call_id}?t={round(turn.start, 2):g}",
                }
            )
        )
    return SearchPage(query=text, items=items, total=total, limit=limit, offset=offset)
