"""the same audio twice: the uploaded bytes' hash on each call, and the call whose transcript an
analysis reused

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 19:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("audio_sha256", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("reused_transcript_of", sa.String(length=32), nullable=True))
        batch_op.create_foreign_key(
            "fk_calls_reused_transcript_of", "calls", ["reused_transcript_of"], ["id"], ondelete="SET NULL"
        )
        batch_op.create_index("ix_calls_dealer_audio", ["dealer_id", "audio_sha256"], unique=False)
    # Calls uploaded before: their recording's hash (a muted copy's, where the dealer mutes audio:
    # those calls are not found again by their original bytes).
    op.execute(
        "UPDATE calls SET audio_sha256 = "
        "(SELECT recordings.sha256 FROM recordings WHERE recordings.id = calls.recording_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index("ix_calls_dealer_audio")
        batch_op.drop_constraint("fk_calls_reused_transcript_of", type_="foreignkey")
        batch_op.drop_column("reused_transcript_of")
        batch_op.drop_column("audio_sha256")
