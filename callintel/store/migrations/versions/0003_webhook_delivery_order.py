"""webhook delivery order and events per customer

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 10:57:54.070143
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callintel.store.models import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("customer_id", sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f("ix_events_customer_id"), ["customer_id"], unique=False)

    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("event_seq", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column("ordering_key", sa.String(length=64), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("last_status", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("created_at", UTCDateTime(timezone=True), nullable=False, server_default=sa.func.now())
        )
        batch_op.create_index("ix_deliveries_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(
            "ix_deliveries_order", ["subscription_id", "ordering_key", "event_seq"], unique=False
        )

    with op.batch_alter_table("webhook_subscriptions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("description", sa.String(length=200), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("webhook_subscriptions", schema=None) as batch_op:
        batch_op.drop_column("description")

    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_order")
        batch_op.drop_index("ix_deliveries_due")
        batch_op.drop_column("created_at")
        batch_op.drop_column("last_status")
        batch_op.drop_column("ordering_key")
        batch_op.drop_column("event_seq")

    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_customer_id"))
        batch_op.drop_column("customer_id")
