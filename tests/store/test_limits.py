"""Limits per installation in the store: the concurrency cap is decided in the claim, race-safe on SQLite
and PostgreSQL; the month's spend and the dashboard's usage rows."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from repomind.store.db import make_engine
from repomind.store.ledger import JobRequest, Ledger
from repomind.store.limits import (
    Limits,
    budget_reached,
    month_start,
    next_month,
    spent_this_month,
    usage,
    waiting_for_a_slot,
)
from repomind.store.models import JobState
from tests.services import PostgresServer
from tests.threads import race


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'repomind.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.new_database("limits")


def _open(ledger: Ledger, installation: int, repo: str, issue: int) -> int:
    job, _ = ledger.open_job(JobRequest(repo, installation, issue, "label", "fix", requested_by="alice"))
    return job.id


def test_workers_racing_for_one_installations_jobs_never_run_more_than_its_cap(store_url: str) -> None:
    ledger = Ledger(make_engine(store_url))
    try:
        mine = [_open(ledger, 7, "acme/calc", issue) for issue in range(1, 9)]
        other = _open(ledger, 8, "zeta/app", 1)
        jobs = [*mine, other]
        # Nine workers (threads with their own connections, as on several hosts) claim nine jobs at once.
        claims = race(len(jobs), lambda i: ledger.claim(jobs[i], f"worker-{i}", 60, max_concurrent=2))
        won = {jobs[i] for i, job in enumerate(claims) if job is not None}
        assert len(won & set(mine)) == 2  # the cap of installation 7, whoever won
        assert other in won  # another installation's job is not held back by installation 7's

        states = {j.id: j.state for j in ledger.all_jobs()}
        assert sorted(states[j] for j in mine).count(JobState.RUNNING) == 2
        assert all(states[j] is JobState.QUEUED for j in set(mine) - won)  # waiting, not failed

        # A job ends: its slot goes to the oldest job waiting, and only one more fits.
        ended = min(won & set(mine))
        ledger.finish(ended, JobState.SUCCEEDED)
        waiting = waiting_for_a_slot(ledger, 7, 2)
        assert waiting == sorted(set(mine) - won)[:2]
        assert ledger.claim(waiting[0], "next", 60, max_concurrent=2) is not None
        assert ledger.claim(waiting[1], "next", 60, max_concurrent=2) is None
        assert ledger.claim(waiting[1], "next", 60) is not None  # no cap: no wait
    finally:
        ledger.dispose()


def test_a_running_job_taken_over_keeps_its_own_slot(tmp_path: Path) -> None:
    now = [1000.0]
    ledger = Ledger(make_engine(f"sqlite:///{tmp_path / 'r.db'}"), clock=lambda: now[0])
    first = _open(ledger, 7, "acme/calc", 1)
    second = _open(ledger, 7, "acme/calc", 2)
    assert ledger.claim(first, "dies", 30, max_concurrent=1) is not None
    now[0] += 31  # the worker died: its lease expired
    assert ledger.claim(second, "other", 30, max_concurrent=1) is None  # the dead job still holds the slot
    assert ledger.claim(first, "other", 30, max_concurrent=1) is not None  # its takeover is not refused


def _spend(ledger: Ledger, job_id: int, cost: float | None, *, at: datetime) -> None:
    ledger.update_job(job_id, result={"status": "success", "cost_usd": cost}, state=JobState.SUCCEEDED)
    ledger.update_job(job_id, updated_at=at)


def test_the_months_spend_sums_the_installations_costs_in_that_utc_month(tmp_path: Path) -> None:
    ledger = Ledger(make_engine(f"sqlite:///{tmp_path / 's.db'}"))
    april = datetime(2025, 4, 15, 12, tzinfo=UTC)
    jobs = [_open(ledger, 7, "acme/calc", i) for i in range(1, 5)]
    _spend(ledger, jobs[0], 1.25, at=datetime(2025, 4, 1, 0, 0, 1, tzinfo=UTC))
    _spend(ledger, jobs[1], 2.5, at=datetime(2025, 4, 30, 23, 59, tzinfo=UTC))
    _spend(ledger, jobs[2], 40.0, at=datetime(2025, 3, 31, 23, 59, tzinfo=UTC))  # last month: not counted
    _spend(ledger, jobs[3], None, at=april)  # no cost known: nothing
    other = _open(ledger, 8, "zeta/app", 1)
    _spend(ledger, other, 9.0, at=april)

    assert spent_this_month(ledger, 7, now=april) == pytest.approx(3.75)
    assert budget_reached(ledger, 7, Limits(monthly_budget_usd=5.0), now=april) is None
    reached = budget_reached(ledger, 7, Limits(monthly_budget_usd=3.75), now=april)
    assert reached is not None and reached.resets_at == datetime(2025, 5, 1, tzinfo=UTC)
    assert budget_reached(ledger, 7, Limits(), now=april) is None  # no cap

    rows = usage(ledger, Limits(max_concurrent_jobs=3, monthly_budget_usd=5.0), now=april)
    assert [(u.installation_id, u.repos, u.spent_month_usd, u.over_budget) for u in rows] == [
        (7, ("acme/calc",), 3.75, False),
        (8, ("zeta/app",), 9.0, True),
    ]
    assert rows[0].max_concurrent == 3 and rows[0].monthly_budget_usd == 5.0 and rows[0].running == 0


def test_months_reset_on_the_first_at_midnight_utc() -> None:
    assert month_start(datetime(2025, 12, 31, 23, 59, tzinfo=UTC)) == datetime(2025, 12, 1, tzinfo=UTC)
    assert next_month(datetime(2025, 12, 31, 23, 59, tzinfo=UTC)) == datetime(2026, 1, 1, tzinfo=UTC)
    assert next_month(datetime(2025, 2, 1, tzinfo=UTC)) == datetime(2025, 3, 1, tzinfo=UTC)
