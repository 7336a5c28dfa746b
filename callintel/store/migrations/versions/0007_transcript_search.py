"""search across calls: transcript turns and their full-text index

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 19:30:00

SQLite: an FTS5 table over ``search_turns.tokens`` (external content), kept in step by triggers,
so a turn deleted with its call (``ON DELETE CASCADE``) leaves the index too. PostgreSQL: the
tokens are a ``tsvector`` with a GIN index. The turns of the transcripts stored before this
revision are indexed here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import TSVECTOR

from callintel.store.models import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SQLITE_INDEX = [
    # unicode61 without diacritics removal: the tokens are made by callintel.store.search, which
    # PostgreSQL's index takes as they are; columnsize=0: results are not ranked by bm25.
    "CREATE VIRTUAL TABLE search_fts USING fts5(tokens, content='search_turns', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 0', columnsize=0)",
    "CREATE TRIGGER search_turns_ai AFTER INSERT ON search_turns BEGIN "
    "INSERT INTO search_fts(rowid, tokens) VALUES (new.id, new.tokens); END",
    "CREATE TRIGGER search_turns_ad AFTER DELETE ON search_turns BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, tokens) VALUES ('delete', old.id, old.tokens); END",
    "CREATE TRIGGER search_turns_au AFTER UPDATE ON search_turns BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, tokens) VALUES ('delete', old.id, old.tokens); "
    "INSERT INTO search_fts(rowid, tokens) VALUES (new.id, new.tokens); END",
]


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "search_turns",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("call_id", sa.String(length=32), nullable=False),
        sa.Column("dealer_id", sa.String(length=64), nullable=False),
        sa.Column("scenario", sa.String(length=32), nullable=False),
        sa.Column("called_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("turn", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("start", sa.Float(), nullable=False),
        sa.Column("end", sa.Float(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("tokens", TSVECTOR() if postgres else sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_search_turns_call_id", "search_turns", ["call_id"], unique=False)
    if postgres:
        op.create_index("ix_search_turns_tokens", "search_turns", ["tokens"], postgresql_using="gin")
    else:
        for statement in SQLITE_INDEX:
            op.execute(statement)
    _backfill()


def _backfill() -> None:
    """Index the transcripts stored before this revision."""
    from callintel.store.search import IndexedCall, index_turns

    bind = op.get_bind()
    transcripts = sa.table("transcripts", sa.column("call_id", sa.String), sa.column("turns", sa.JSON))
    calls = sa.table(
        "calls",
        sa.column("id", sa.String),
        sa.column("dealer_id", sa.String),
        sa.column("scenario", sa.String),
        sa.column("recorded_at", UTCDateTime()),
        sa.column("created_at", UTCDateTime()),
    )
    stored = sa.select(
        calls.c.id,
        calls.c.dealer_id,
        calls.c.scenario,
        calls.c.recorded_at,
        calls.c.created_at,
        transcripts.c.turns,
    ).join(transcripts, transcripts.c.call_id == calls.c.id)
    for call_id, dealer_id, scenario, recorded_at, created_at, turns in bind.execute(stored).all():
        index_turns(bind, IndexedCall(call_id, dealer_id, scenario, recorded_at or created_at), turns or [])


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        for name in ("search_turns_ai", "search_turns_ad", "search_turns_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS search_fts")
    op.drop_table("search_turns")
