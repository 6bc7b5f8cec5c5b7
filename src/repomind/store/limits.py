"""Limits per installation: how many pipeline jobs run at once, and how much a calendar month may cost.

The concurrency limit is enforced where jobs are claimed (:meth:`repomind.store.ledger.Ledger.claim`),
inside the claim's transaction, so it holds across threads, worker processes and hosts: on SQLite the
transaction holds the write lock from its start (``BEGIN IMMEDIATE``), on PostgreSQL
:func:`over_capacity` first takes a transaction-scoped advisory lock on the installation, so two workers
claiming two jobs of one installation count each other's claims. A job beyond the limit stays queued (no
failure) and is claimed when one ends.

The spend of a month is the sum of ``cost_usd`` in the results of the installation's jobs that last
changed in that calendar month (UTC); at the cap a job does not start (:mod:`repomind.bot.jobs.job_runner`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from repomind.store.models import Job, JobState

#: The high half of the PostgreSQL advisory lock key of an installation's claims ("repo" in ASCII).
_LOCK_SPACE = 0x7265706F << 32


class LimitSettings(Protocol):
    """The settings the limits read (:class:`repomind.settings.Settings`, or :class:`Limits`)."""

    @property
    def max_concurrent_jobs(self) -> int | None: ...

    @property
    def monthly_budget_usd(self) -> float | None: ...


@dataclass(frozen=True)
class Limits:
    """An installation's limits, from ``REPOMIND_MAX_CONCURRENT_JOBS`` and ``REPOMIND_MONTHLY_BUDGET_USD``
    (None: unlimited), resolved once by the composition root."""

    max_concurrent_jobs: int | None = None
    monthly_budget_usd: float | None = None

    @classmethod
    def of(cls, settings: LimitSettings) -> Limits:
        return cls(settings.max_concurrent_jobs, settings.monthly_budget_usd)


@dataclass(frozen=True)
class InstallationUsage:
    """One installation's use of its limits, for the dashboard and ``/repomind status``."""

    installation_id: int
    repos: tuple[str, ...]
    running: int
    queued: int
    max_concurrent: int | None
    spent_month_usd: float
    monthly_budget_usd: float | None
    resets_at: datetime

    @property
    def over_budget(self) -> bool:
        return self.monthly_budget_usd is not None and self.spent_month_usd >= self.monthly_budget_usd

    @property
    def at_capacity(self) -> bool:
        return self.max_concurrent is not None and self.running >= self.max_concurrent


@dataclass(frozen=True)
class BudgetReached:
    """Why a job did not start: the month's spend, the cap and when the month (and the spend) resets."""

    spent_usd: float
    budget_usd: float
    resets_at: datetime


def month_start(now: datetime) -> datetime:
    """The first instant of ``now``'s calendar month, UTC."""
    now = now.astimezone(UTC)
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month(now: datetime) -> datetime:
    """When the spend of ``now``'s month resets: the first instant of the next calendar month, UTC."""
    start = month_start(now)
    if start.month == 12:
        return start.replace(year=start.year + 1, month=1)
    return start.replace(month=start.month + 1)


def _cost(result: Any) -> float:
    if not isinstance(result, dict):
        return 0.0
    cost = result.get("cost_usd")
    return float(cost) if isinstance(cost, int | float) and cost > 0 else 0.0


def _spend(s: Session, since: datetime, installation_id: int | None = None) -> dict[int, float]:
    query = select(Job.installation_id, Job.result).where(Job.result.is_not(None), Job.updated_at >= since)
    if installation_id is not None:
        query = query.where(Job.installation_id == installation_id)
    spent: dict[int, float] = {}
    for inst, result in s.execute(query):
        spent[int(inst)] = spent.get(int(inst), 0.0) + _cost(result)
    return spent


def spent_this_month(ledger: Any, installation_id: int, *, now: datetime | None = None) -> float:
    """The installation's spend in the calendar month of ``now`` (UTC), from its jobs' ``cost_usd``."""
    with ledger.reading() as s:
        return _spend(s, month_start(now or datetime.now(UTC)), installation_id).get(installation_id, 0.0)


def budget_reached(
    ledger: Any, installation_id: int, limits: LimitSettings, *, now: datetime | None = None
) -> BudgetReached | None:
    """Why a job of the installation must not start (its month's spend is at the cap), or None."""
    cap = limits.monthly_budget_usd
    if cap is None:
        return None
    now = now or datetime.now(UTC)
    spent = spent_this_month(ledger, installation_id, now=now)
    return BudgetReached(spent, cap, next_month(now)) if spent >= cap else None


def remaining_budget(
    ledger: Any, installation_id: int, limits: LimitSettings, *, now: datetime | None = None
) -> float | None:
    """What the installation may still spend this month (None: no cap)."""
    cap = limits.monthly_budget_usd
    if cap is None:
        return None
    return max(0.0, cap - spent_this_month(ledger, installation_id, now=now))


def lock_installation(s: Session, installation_id: int) -> None:
    """Serialise the claims of one installation until this transaction ends (PostgreSQL; SQLite's
    transactions already hold the write lock)."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_SPACE + int(installation_id)})


def over_capacity(s: Session, job: Job, max_concurrent: int) -> bool:
    """In a claim's transaction: True when the job's installation already runs ``max_concurrent`` other
    jobs (a running job holds its slot until it ends or is taken over)."""
    lock_installation(s, job.installation_id)
    running = s.scalar(
        select(func.count(Job.id)).where(
            Job.installation_id == job.installation_id, Job.state == JobState.RUNNING, Job.id != job.id
        )
    )
    return int(running or 0) >= max_concurrent


def running_jobs(ledger: Any, installation_id: int) -> int:
    """How many jobs of the installation run now (each holds one of its slots)."""
    with ledger.reading() as s:
        count = s.scalar(
            select(func.count(Job.id)).where(
                Job.installation_id == installation_id, Job.state == JobState.RUNNING
            )
        )
        return int(count or 0)


def waiting_for_a_slot(ledger: Any, installation_id: int, limit: int) -> list[int]:
    """Queued jobs of the installation to offer a freed slot: the oldest queued job of each issue (a
    later one waits behind it anyway), oldest first, at most ``limit``."""
    with ledger.reading() as s:
        rows = s.execute(
            select(Job.id, Job.repo, Job.issue_number)
            .where(Job.installation_id == installation_id, Job.state == JobState.QUEUED)
            .order_by(Job.id)
        )
        seen: set[tuple[str, int]] = set()
        found: list[int] = []
        for job_id, repo, issue in rows:
            if (repo, issue) in seen:
                continue
            seen.add((repo, issue))
            found.append(int(job_id))
            if len(found) >= limit:
                break
        return found


def usage(ledger: Any, settings: LimitSettings, *, now: datetime | None = None) -> list[InstallationUsage]:
    """Every installation with jobs: its repositories, running and queued jobs, and this month's spend
    against the limits, by installation id."""
    now = now or datetime.now(UTC)
    with ledger.reading() as s:
        spent = _spend(s, month_start(now))
        rows = s.execute(
            select(Job.installation_id, Job.repo, Job.state, func.count(Job.id)).group_by(
                Job.installation_id, Job.repo, Job.state
            )
        )
        repos: dict[int, set[str]] = {}
        counts: dict[int, dict[JobState, int]] = {}
        for inst, repo, state, n in rows:
            repos.setdefault(int(inst), set()).add(str(repo))
            by_state = counts.setdefault(int(inst), {})
            by_state[state] = by_state.get(state, 0) + int(n)
    return [
        InstallationUsage(
            installation_id=inst,
            repos=tuple(sorted(repos[inst])),
            running=counts[inst].get(JobState.RUNNING, 0),
            queued=counts[inst].get(JobState.QUEUED, 0),
            max_concurrent=settings.max_concurrent_jobs,
            spent_month_usd=round(spent.get(inst, 0.0), 6),
            monthly_budget_usd=settings.monthly_budget_usd,
            resets_at=next_month(now),
        )
        for inst in sorted(repos)
    ]
