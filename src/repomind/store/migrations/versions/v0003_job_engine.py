"""One leased-job engine for pipeline and training jobs (issue #18): a training job queued again after a
failure waits out a backoff, kept in ``training_jobs.retry_at`` (epoch seconds, like ``lease_expires``).

The column is nullable: every job already there is due now, as it was before.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-18
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("training_jobs")}
    if "retry_at" not in present:  # a store made by create_all of these models has it already
        op.add_column("training_jobs", sa.Column("retry_at", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("training_jobs") as batch:
        batch.drop_column("retry_at")
