"""Limits per installation as a job sees them: a job beyond the concurrency cap waits queued while another
installation's job runs; a job at the monthly spend cap ends with a status comment naming the cap and
its reset, and ``/repomind status`` says so; a wait for GitHub's rate limit is shown on the status
comment while it lasts."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

from repomind.bot.commands.grammar import parse
from repomind.bot.commands.options import BotOptions
from repomind.bot.commands.triggers import BotContext, Where, answer
from repomind.bot.github.client import GithubkitFactory
from repomind.bot.github.ratelimit import RateLimitPolicy
from repomind.bot.jobs.job_runner import JobRunner
from repomind.log import get_logger
from repomind.store import JobRequest, JobState, Ledger, latest_events, make_engine
from repomind.store.limits import Limits, next_month
from repomind.testing import (
    FakeGitHubFactory,
    FakePipeline,
    FakeQueue,
    GitHubState,
    StandInGitHub,
    make_git_repo,
)
from tests.bot.conftest import CALC, FIXED
from tests.bot.helpers import REPO

OTHER = "zeta/calc"


def _state(tmp_path: Path) -> GitHubState:
    state = GitHubState(tmp_path / "gh")
    for repo in (REPO, OTHER):
        state.add_repo(repo, make_git_repo(tmp_path / f"src-{repo.replace('/', '-')}", CALC))
        for _ in range(2):
            state.open_issue(repo, "add() subtracts", "calc.add(2, 3) returns -1")
        state.set_permission(repo, "alice", "maintain")
    return state


def _open(ledger: Ledger, repo: str, installation: int, issue: int) -> int:
    job, _ = ledger.open_job(JobRequest(repo, installation, issue, "label", "fix", requested_by="alice"))
    return job.id


def _status_body(state: GitHubState, repo: str, issue: int, job_id: int) -> str:
    [body] = [c.body for c in state.comments_on(repo, issue) if f"repomind:job:{job_id}" in c.body]
    return body


def test_a_job_beyond_the_cap_waits_queued_while_another_installation_runs(tmp_path: Path) -> None:
    state, queue = _state(tmp_path), FakeQueue()
    ledger = Ledger(make_engine(f"sqlite:///{tmp_path / 'store.db'}"))
    release = threading.Event()
    held = {"first": True}

    def gate() -> bool:  # the first job of installation 77 stays in its pipeline until released
        return release.is_set() or not held["first"]

    pipeline = FakePipeline(edits={"calc.py": FIXED}, gate=gate)
    options = BotOptions("repomind", tmp_path / "work", lease_s=30, limits=Limits(max_concurrent_jobs=1))
    runner = JobRunner(ledger, FakeGitHubFactory(state), pipeline, queue, options)
    first, second = _open(ledger, REPO, 77, 1), _open(ledger, REPO, 77, 2)
    other = _open(ledger, OTHER, 88, 1)

    running = threading.Thread(target=runner.run, args=(first,))
    running.start()
    try:
        while ledger.job(first).state is not JobState.RUNNING or not pipeline.calls:
            running.join(0.05)
        held["first"] = False  # later jobs pass the gate at once
        runner.run(second)  # installation 77 is at its cap: not claimed, still queued, not failed
        assert ledger.job(second).state is JobState.QUEUED and ledger.job(second).claims == 0
        waiting = "waiting: 1 of at most 1 runs of this installation are running"
        assert waiting in _status_body(state, REPO, 2, second)  # not the generic "Starting…"
        comment = ledger.job(second).status_comment_id or 0
        state.edit_comment(REPO, comment, "edited since")
        runner.run(second)  # refused again: no second update of the comment nor of the live log
        assert state.comments[comment].body == "edited since"
        slot_lines = [e.message for e in latest_events(ledger, second) if e.kind == "slot"]
        assert len(slot_lines) == 1 and waiting in slot_lines[0]
        runner.run(other)  # installation 88 is not held back by 77's cap
        assert ledger.job(other).state is JobState.SUCCEEDED
    finally:
        release.set()
        running.join(60)
    assert ledger.job(first).state is JobState.SUCCEEDED
    assert second in queue.jobs  # the freed slot is offered to the job waiting for it
    runner.run(second)
    assert ledger.job(second).state is JobState.SUCCEEDED
    assert len(pipeline.calls) == 3
    assert "waiting: 1 of at most" not in state.comments[comment].body  # the run's own lines replaced it
    assert not [e for e in latest_events(ledger, other) if e.kind == "slot"]  # never held back


def test_a_job_at_the_monthly_budget_does_not_start_and_says_why(tmp_path: Path) -> None:
    state, queue = _state(tmp_path), FakeQueue()
    ledger = Ledger(make_engine(f"sqlite:///{tmp_path / 'store.db'}"))
    pipeline = FakePipeline(edits={"calc.py": FIXED})
    limits = Limits(max_concurrent_jobs=2, monthly_budget_usd=5.0)
    options = BotOptions("repomind", tmp_path / "work", limits=limits)
    runner = JobRunner(ledger, FakeGitHubFactory(state), pipeline, queue, options)
    spent = _open(ledger, REPO, 77, 1)
    ledger.update_job(spent, state=JobState.SUCCEEDED, active_key=None, result={"cost_usd": 5.25})

    job = _open(ledger, REPO, 77, 2)
    runner.run(job)
    ended = ledger.job(job)
    resets = next_month(datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    assert ended.state is JobState.FAILED and pipeline.calls == []  # nothing ran, nothing was spent
    assert ended.error == f"monthly budget of $5.00 reached ($5.25 spent this month); resets {resets}"
    body = _status_body(state, REPO, 2, job)
    assert "💸 not started: the monthly budget is spent" in body
    assert "has spent $5.25 this month, which reaches its monthly budget of $5.00" in body
    assert "`REPOMIND_MONTHLY_BUDGET_USD`), so this run did not start and spent nothing" in body
    assert f"The budget resets on {resets}" in body

    other = _open(ledger, OTHER, 88, 1)  # another installation has its own month
    runner.run(other)
    assert ledger.job(other).state is JobState.SUCCEEDED
    # ... and the run's own budget never goes past what the month has left
    assert pipeline.calls[0]["run_config"].repo.budget_usd == 5.0  # type: ignore[attr-defined]

    ctx = BotContext(
        github=state, queue=queue, ledger=ledger, options=options, log=get_logger("test"), delivery_id=None
    )
    command = parse("/repomind status")
    assert command is not None
    answer(ctx, Where(REPO, 77, 2, 2, comment_id=None), "alice", command)
    reply = state.comments_on(REPO, 2)[-1].body
    assert "💸 **This installation's monthly budget is spent**: $5.25 of $5.00 this month" in reply
    assert f"new runs do not start until it resets on {resets}" in reply
    assert "0 of at most 2 runs of this installation are running" in reply


def test_a_long_wait_for_githubs_rate_limit_is_shown_on_the_status_comment(
    github: StandInGitHub, tmp_path: Path
) -> None:
    slept: list[float] = []
    policy = RateLimitPolicy(sleep=slept.append)
    factory = GithubkitFactory(
        github.app_id,
        github.private_key,
        base_url=github.url,
        client_options={"http_cache": False},
        rate_limits=policy,
    )
    ledger = Ledger(make_engine(f"sqlite:///{tmp_path / 'store.db'}"))
    runner = JobRunner(
        ledger,
        factory,
        FakePipeline(edits={"calc.py": FIXED}),
        FakeQueue(),
        BotOptions("repomind", tmp_path / "w"),
    )
    # Opening the draft PR runs into a secondary limit: GitHub asks for a minute.
    github.state.rate_limit("POST", f"/repos/{REPO}/pulls", secondary=True, retry_after=60)
    job = _open(ledger, REPO, 77, 1)
    runner.run(job)

    assert ledger.job(job).state is JobState.SUCCEEDED and slept == [60.0]
    [comment] = [c for c in github.state.comments_on(REPO, 1) if f"repomind:job:{job}" in c.body]
    shown = [b for b in comment.history if "⏳ waiting 60 s for GitHub's rate limit…" in b]
    assert len(shown) == 1 and "🏃 running" in shown[0]  # shown while it waited ...
    assert "waiting" not in comment.body and "✅ draft PR ready" in comment.body  # ... and gone after
    log = [(e.kind, e.message) for e in latest_events(ledger, job, 200)]
    assert ("stage", "⏳ waiting 60 s for GitHub's rate limit…") in log  # the run page's live log too
