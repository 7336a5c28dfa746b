"""what the calls list filters on: grade, score, review time, scorecard outcomes

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callintel.store.models import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("grade", sa.String(length=1), nullable=True))
        batch_op.add_column(sa.Column("score", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("reviewed_at", UTCDateTime(timezone=True), nullable=True))

    op.create_table(
        "call_outcomes",
        sa.Column("call_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reviewed", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("call_id", "kind", "key"),
    )
    op.create_index("ix_call_outcomes_item", "call_outcomes", ["kind", "key", "outcome"], unique=False)
    _backfill()


def _backfill() -> None:
    """Work out the new columns for calls analysed before this revision (core SQL on the tables
    as this revision leaves them, so later model changes cannot break it)."""
    from callintel.store.export import merge_reviews
    from callintel.store.outcomes import outcomes_of

    bind = op.get_bind()
    calls = sa.table(
        "calls",
        sa.column("id", sa.String),
        sa.column("status", sa.String),
        sa.column("grade", sa.String),
        sa.column("score", sa.Float),
        sa.column("reviewed_at", UTCDateTime()),
    )
    analyses = sa.table(
        "analyses",
        sa.column("call_id", sa.String),
        sa.column("scorecard", sa.JSON),
        sa.column("intent", sa.JSON),
        sa.column("created_at", UTCDateTime()),
    )
    reviews = sa.table(
        "reviews",
        sa.column("id", sa.String),
        sa.column("call_id", sa.String),
        sa.column("corrections", sa.JSON),
        sa.column("created_at", UTCDateTime()),
    )
    call_outcomes = sa.table(
        "call_outcomes",
        sa.column("call_id", sa.String),
        sa.column("kind", sa.String),
        sa.column("key", sa.String),
        sa.column("outcome", sa.String),
        sa.column("reviewed", sa.Boolean),
    )
    for (call_id,) in bind.execute(sa.select(calls.c.id).where(calls.c.status == "done")).all():
        analysis = bind.execute(
            sa.select(analyses.c.scorecard, analyses.c.intent)
            .where(analyses.c.call_id == call_id)
            .order_by(analyses.c.created_at.desc())
            .limit(1)
        ).first()
        if analysis is None:
            continue
        rows = bind.execute(
            sa.select(reviews.c.corrections, reviews.c.created_at)
            .where(reviews.c.call_id == call_id)
            .order_by(reviews.c.created_at, reviews.c.id)
        ).all()
        result = outcomes_of(analysis.scorecard, analysis.intent, merge_reviews(r.corrections for r in rows))
        bind.execute(
            calls.update()
            .where(calls.c.id == call_id)
            .values(grade=result.grade, score=result.score, reviewed_at=rows[-1].created_at if rows else None)
        )
        if result.items:
            bind.execute(
                call_outcomes.insert(),
                [
                    {"call_id": call_id, "kind": k, "key": key, "outcome": o, "reviewed": r}
                    for (k, key), (o, r) in result.items.items()
                ],
            )


def downgrade() -> None:
    op.drop_index("ix_call_outcomes_item", table_name="call_outcomes")
    op.drop_table("call_outcomes")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_column("reviewed_at")
        batch_op.drop_column("score")
        batch_op.drop_column("grade")
