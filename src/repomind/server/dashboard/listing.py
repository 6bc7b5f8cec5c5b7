"""The runs list: newest first, filtered by repository and state, 50 a page, limited to the repositories
the viewer can read.

Visibility is settled per repository, not per row: the distinct repositories with runs (an index scan
of ``ix_jobs_repo_id``) are checked once each through :meth:`repomind.server.signin.Access.can_read`
(cached per session), and the query then keeps ``repo IN (readable)``. The operator sees every run.
Only the columns a row shows are read (never a diff).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select

from repomind.server import viewing
from repomind.server.dashboard.schemas import RunSummary
from repomind.server.signin import Access, Viewer
from repomind.store import Job, JobState, Ledger

PAGE_SIZE = 50


@dataclass(frozen=True)
class RunFilter:
    repo: str | None = None
    state: JobState | None = None
    page: int = 1


def repositories(ledger: Ledger) -> list[str]:
    """Every repository that has a run."""
    with ledger.reading() as s:
        return sorted(s.scalars(select(Job.repo).distinct()))


def readable(access: Access, viewer: Viewer, ledger: Ledger) -> list[str] | None:
    """The repositories ``viewer`` may see runs of; None for the operator (all of them)."""
    if viewer.operator:
        return None
    return sorted(viewing.readable(access, viewer, repositories(ledger)))


_COLUMNS = (
    Job.id,
    Job.repo,
    Job.issue_number,
    Job.trigger,
    Job.requested_by,
    Job.command,
    Job.state,
    Job.args,
    Job.result,
    Job.created_at,
    Job.updated_at,
    Job.pr_number,
)


def list_runs(
    ledger: Ledger, visible: list[str] | None, wanted: RunFilter
) -> tuple[list[RunSummary], int, int, int]:
    """(the page's runs, the page number, the number of pages (at least 1), the number of runs); a page
    past the last is empty."""
    conditions: list[ColumnElement[bool]] = []
    if visible is not None:
        conditions.append(Job.repo.in_(visible))
    if wanted.repo:
        conditions.append(Job.repo == wanted.repo)
    if wanted.state is not None:
        conditions.append(Job.state == wanted.state)
    page = max(1, wanted.page)
    if visible == []:
        return [], page, 1, 0
    with ledger.reading() as s:
        total = s.scalar(select(func.count()).select_from(Job).where(*conditions)) or 0
        rows = s.execute(
            select(*_COLUMNS)
            .where(*conditions)
            .order_by(Job.id.desc())
            .limit(PAGE_SIZE)
            .offset((page - 1) * PAGE_SIZE)
        ).all()
    pages = max(1, math.ceil(total / PAGE_SIZE))
    return [summary(row._mapping) for row in rows], page, pages, total


def summary(job: Any) -> RunSummary:
    """A row of the list from a job (or a row with the job's columns)."""
    result: dict[str, Any] = job["result"] or {}
    args: dict[str, Any] = job["args"] or {}
    state = JobState(job["state"])
    steps = result.get("steps")
    attempts = steps if isinstance(steps, int) else len(result.get("attempts") or ())
    return RunSummary(
        id=job["id"],
        repository=job["repo"],
        issue=job["issue_number"],
        trigger=job["trigger"],
        requested_by=job["requested_by"] or "",
        command=job["command"],
        state=state.value,
        strategy=str(result.get("strategy") or args.get("strategy") or ""),
        attempts=attempts,
        tokens=_number(result.get("tokens"), int),
        cost_usd=_number(result.get("cost_usd"), float),
        created_at=_aware(job["created_at"]),
        duration_s=None if state.active else _seconds(job["created_at"], job["updated_at"]),
        pull_request=job["pr_number"],
        url=f"/runs/{job['id']}",
    )


def job_columns(job: Job) -> dict[str, Any]:
    return {column.key: getattr(job, column.key) for column in _COLUMNS}


def _number(value: Any, kind: type[int] | type[float]) -> Any:
    return kind(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((_aware(end) - _aware(start)).total_seconds(), 1)
