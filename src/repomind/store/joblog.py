"""A job's live log in the ledger: the lines its status comment went through, for the run page."""

from __future__ import annotations

from sqlalchemy import select

from repomind.store.ledger import Ledger
from repomind.store.models import JobEvent

#: Longest message kept for one line.
MAX_MESSAGE = 2000


def add_event(ledger: Ledger, job_id: int, kind: str, message: str) -> None:
    with ledger.session() as s:
        s.add(JobEvent(job_id=job_id, kind=kind[:20], message=message[:MAX_MESSAGE]))


def latest_events(ledger: Ledger, job_id: int, limit: int = 50) -> list[JobEvent]:
    """The job's last ``limit`` lines, oldest first."""
    with ledger.reading() as s:
        rows = s.scalars(
            select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.id.desc()).limit(limit)
        ).all()
    return list(reversed(rows))


def first_event(ledger: Ledger, job_id: int, kind: str) -> JobEvent | None:
    """The job's first line of ``kind`` (None when it has none)."""
    with ledger.reading() as s:
        return s.scalars(
            select(JobEvent)
            .where(JobEvent.job_id == job_id, JobEvent.kind == kind)
            .order_by(JobEvent.id)
            .limit(1)
        ).first()
