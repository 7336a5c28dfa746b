"""scorecards edited through the API

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 09:10:57.736692
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "scorecards",
        sa.Column("scenario", sa.String(length=32), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("updated_by", sa.String(length=32), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["api_keys.id"],
        ),
        sa.PrimaryKeyConstraint("scenario"),
    )


def downgrade() -> None:

    op.drop_table("scorecards")
