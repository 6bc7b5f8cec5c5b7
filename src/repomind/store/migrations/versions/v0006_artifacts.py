"""Run artifacts in the shared store (issue #22): ``artifacts`` keeps each run's files (report,
trajectory, attempt diffs) keyed by run id and name, so the run page and training read them whichever
host ran the job. A new table; nothing already there changes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "artifacts" in sa.inspect(op.get_bind()).get_table_names():  # made by create_all of these models
        return
    op.create_table(
        "artifacts",
        sa.Column("run_id", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "name"),
    )


def downgrade() -> None:
    op.drop_table("artifacts")
