"""The dashboard's indexes (issue #22): the runs list is read newest first, filtered by repository or
state (``(repo, id)``, ``(state, id)``), and a run's live log is read in order after a given event
(``(job_id, id)`` on ``job_events``). Only indexes: no row changes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-20
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_INDEXES = [
    ("ix_jobs_repo_id", "jobs", ["repo", "id"]),
    ("ix_jobs_state_id", "jobs", ["state", "id"]),
    ("ix_job_events_job_id_id", "job_events", ["job_id", "id"]),
]


def upgrade() -> None:
    present = sa.inspect(op.get_bind())
    for name, table, columns in _INDEXES:
        if name not in {i["name"] for i in present.get_indexes(table)}:  # made by create_all already
            op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _columns in reversed(_INDEXES):
        op.drop_index(name, table_name=table)
