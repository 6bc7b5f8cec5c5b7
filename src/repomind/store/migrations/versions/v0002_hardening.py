"""The hardening of issue #17: the issue text kept with each job, the commit a job started from, webhook
deliveries retried with backoff, feedback attributed to its installation, training data and adapters kept
per installation (``scope``), and an index on ``jobs.installation_id`` (a tenant's purge finds its jobs).

Every new column is nullable or has a server default, so the rows already there stay valid: old
deliveries have made no failed try, old adapters and training jobs are ``shared`` (never served to an
installation's runs unless the operator shares), old feedback takes its installation from its job.
A store that this morning's ``add_missing_columns`` already gave some of these columns keeps them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _columns() -> list[tuple[str, sa.Column[object]]]:
    """The new columns (made anew each time: a Column belongs to the one table it is added to)."""
    return [
        ("jobs", sa.Column("issue_title", sa.Text(), nullable=True)),
        ("jobs", sa.Column("issue_body", sa.Text(), nullable=True)),
        ("jobs", sa.Column("issue_edited_by", sa.String(length=100), nullable=True)),
        ("jobs", sa.Column("base_sha", sa.String(length=64), nullable=True)),
        ("deliveries", sa.Column("tries", sa.Integer(), server_default="0", nullable=False)),
        ("deliveries", sa.Column("next_try_at", sa.DateTime(timezone=True), nullable=True)),
        ("feedback", sa.Column("installation_id", sa.Integer(), nullable=True)),
        ("training_jobs", sa.Column("scope", sa.String(length=60), server_default="shared", nullable=False)),
        ("adapters", sa.Column("scope", sa.String(length=60), server_default="shared", nullable=False)),
    ]


_INDEXES = [
    ("ix_jobs_installation_id", "jobs", "installation_id"),
    ("ix_feedback_installation_id", "feedback", "installation_id"),
    ("ix_training_jobs_scope", "training_jobs", "scope"),
    ("ix_adapters_scope", "adapters", "scope"),
]


def upgrade() -> None:
    present = sa.inspect(op.get_bind())
    for table, column in _columns():
        if column.name not in {c["name"] for c in present.get_columns(table)}:
            op.add_column(table, column)
    for name, table, column_name in _INDEXES:
        if name not in {i["name"] for i in present.get_indexes(table)}:
            op.create_index(name, table, [column_name], unique=False)
    # Feedback recorded before its installation was kept belongs to its job's installation.
    op.execute(
        "UPDATE feedback SET installation_id = "
        "(SELECT jobs.installation_id FROM jobs WHERE jobs.id = feedback.job_id) "
        "WHERE installation_id IS NULL AND job_id IS NOT NULL"
    )
    for table in ("training_jobs", "adapters"):  # a column added without its default by add_missing_columns
        op.execute(f"UPDATE {table} SET scope = 'shared' WHERE scope IS NULL")


def downgrade() -> None:
    for name, table, _column in reversed(_INDEXES):
        op.drop_index(name, table_name=table)
    for table, column in reversed(_columns()):
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column.name)
