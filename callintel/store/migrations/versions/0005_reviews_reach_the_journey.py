"""QA's word on the journey: who reviewed and whether the review is complete; a tag's source,
reviewer, place on the journey and supersession

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 19:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callintel.store.models import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reviewer", sa.String(length=200), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("complete", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("tags", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source", sa.String(length=16), nullable=False, server_default="model"))
        batch_op.add_column(sa.Column("reviewer", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("analysis_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("as_of", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("superseded_at", UTCDateTime(timezone=True), nullable=True))
    _backfill()
    with op.batch_alter_table("tags", schema=None) as batch_op:
        batch_op.alter_column("as_of", existing_type=UTCDateTime(timezone=True), nullable=False)


def _backfill() -> None:
    """Reviews get their key's name as reviewer; a tag's place on the journey is when it was
    written; the tags of a call analysed more than once are superseded by its newest analysis's,
    to which the call's remaining tags belong (core SQL on the tables as this revision leaves them)."""
    bind = op.get_bind()
    reviews = sa.table("reviews", sa.column("api_key_id", sa.String), sa.column("reviewer", sa.String))
    keys = sa.table("api_keys", sa.column("id", sa.String), sa.column("name", sa.String))
    analyses = sa.table(
        "analyses",
        sa.column("id", sa.String),
        sa.column("call_id", sa.String),
        sa.column("created_at", UTCDateTime()),
    )
    tags = sa.table(
        "tags",
        sa.column("call_id", sa.String),
        sa.column("analysis_id", sa.String),
        sa.column("created_at", UTCDateTime()),
        sa.column("as_of", UTCDateTime()),
        sa.column("superseded_at", UTCDateTime()),
    )
    bind.execute(
        reviews.update()
        .where(reviews.c.api_key_id.is_not(None))
        .values(reviewer=sa.select(keys.c.name).where(keys.c.id == reviews.c.api_key_id).scalar_subquery())
    )
    bind.execute(tags.update().values(as_of=tags.c.created_at))
    newest = bind.execute(
        sa.select(tags.c.call_id, sa.func.max(tags.c.created_at)).group_by(tags.c.call_id)
    ).all()
    for call_id, last in newest:
        bind.execute(
            tags.update()
            .where(tags.c.call_id == call_id, tags.c.created_at < last)
            .values(superseded_at=last)
        )
        analysis = bind.execute(
            sa.select(analyses.c.id)
            .where(analyses.c.call_id == call_id)
            .order_by(analyses.c.created_at.desc())
            .limit(1)
        ).scalar()
        bind.execute(
            tags.update()
            .where(tags.c.call_id == call_id, tags.c.superseded_at.is_(None))
            .values(analysis_id=analysis)
        )


def downgrade() -> None:
    with op.batch_alter_table("tags", schema=None) as batch_op:
        batch_op.drop_column("superseded_at")
        batch_op.drop_column("as_of")
        batch_op.drop_column("analysis_id")
        batch_op.drop_column("reviewer")
        batch_op.drop_column("source")
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.drop_column("complete")
        batch_op.drop_column("reviewer")
