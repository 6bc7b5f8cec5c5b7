"""Exactly-once without gaps: a failing handler is retried and then reported, the lease is renewed until
the job ends, intent keys fit their column, a resumed job does not redo what it pushed, the bot adopts
only its own status comments, and a cancel says what was pushed."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy.exc import OperationalError

from repomind.bot.commands.options import BotOptions
from repomind.bot.github.protocol import GitHubError
from repomind.bot.jobs.job_runner import JobRunner
from repomind.bot.jobs.worker import Worker
from repomind.store import JobRequest, JobState, Ledger, make_engine
from repomind.store.jobs import Heartbeat
from repomind.testing import (
    FakeGitHubFactory,
    FakePipeline,
    FakeQueue,
    GitHubState,
    StandInGitHub,
    git,
    make_git_repo,
)
from repomind.webhooks.handlers import dispatch
from tests.bot.conftest import CALC, FIXED
from tests.bot.helpers import REPO, adjust, fixture, serve, settings_for, wait_for
from tests.bot.test_triggers import label


def _ledger(tmp_path: Path) -> Ledger:
    return Ledger(make_engine(f"sqlite:///{tmp_path / 'store.db'}"))


def _state(tmp_path: Path) -> GitHubState:
    state = GitHubState(tmp_path / "gh")
    state.add_repo(REPO, make_git_repo(tmp_path / "src", CALC))
    state.open_issue(REPO, "add() subtracts", "...")
    state.set_permission(REPO, "alice", "maintain")
    return state


# -- a handler that raises -------------------------------------------------------------------------------
def test_a_delivery_whose_handler_hits_a_github_5xx_is_retried_not_lost(
    github: StandInGitHub, tmp_path: Path
) -> None:
    # the permission API answers 502 four times: githubkit's own three retries, then the handler raises
    github.state.fail_requests("GET", "/collaborators/alice/permission", status=502, times=4)
    server = serve(settings_for(github, tmp_path / "data", dispatch_backoff_s=0.2), pipeline=FakePipeline())
    try:
        payload = adjust(fixture("issues.labeled"), issue=1, sender="alice", label="repomind")
        assert server.deliver("issues", payload, delivery="flaky").status_code == 202
        wait_for(lambda: server.ledger.all_jobs(), timeout=60, what="the job, after a retried dispatch")
        wait_for(lambda: server.ledger.delivery("flaky").dispatched_at is not None, what="dispatched")
    finally:
        server.stop()
    delivery = server.ledger.delivery("flaky")
    assert delivery is not None and delivery.tries == 1 and delivery.error is None  # one failed try
    [job] = server.ledger.all_jobs()
    assert job.delivery_id == "flaky"
    assert [c for c in github.state.comments_on(REPO, 1) if "repomind:job:1" in c.body]


class _PermissionDown(GitHubState):
    def get_permission(self, repo: str, username: str) -> str:
        raise GitHubError("GitHub answered 503 to GET permission of alice: Service Unavailable", 503)


def test_a_delivery_that_keeps_failing_backs_off_then_is_reported_on_the_issue(tmp_path: Path) -> None:
    state = _PermissionDown(tmp_path / "gh")
    state.add_repo(REPO, make_git_repo(tmp_path / "src", CALC))
    state.open_issue(REPO, "add() subtracts", "...")
    ledger, queue = _ledger(tmp_path), FakeQueue()
    options = BotOptions("repomind", tmp_path / "work", dispatch_tries=3, dispatch_backoff_s=0.2)
    runner = JobRunner(ledger, FakeGitHubFactory(state), FakePipeline(), queue, options)
    worker = Worker(
        ledger=ledger,
        github=FakeGitHubFactory(state),
        queue=queue,
        runner=runner,
        dispatch=dispatch,
        options=options,
    )
    payload = adjust(fixture("issues.labeled"), issue=1, sender="alice", label="repomind")
    assert ledger.record_delivery("d-1", "issues", "labeled", payload)

    worker.dispatch("d-1")
    assert queue.deliveries == ["d-1"] and queue.delays == [0.2]  # tried again after a backoff
    delivery = ledger.delivery("d-1")
    assert delivery is not None and delivery.dispatched_at is None and delivery.tries == 1
    worker.dispatch("d-1")  # a duplicate message before the backoff ends does nothing
    assert ledger.delivery("d-1").tries == 1  # type: ignore[union-attr]
    wait_for(lambda: _due(ledger, "d-1"), what="the second try to be due")
    worker.dispatch("d-1")
    assert queue.delays == [0.2, 0.4]  # the backoff doubles
    assert state.comments_on(REPO, 1) == []
    wait_for(lambda: _due(ledger, "d-1"), what="the last try to be due")
    worker.dispatch("d-1")  # the last try: given up, and said so on the issue
    delivery = ledger.delivery("d-1")
    assert delivery is not None and delivery.dispatched_at is not None
    assert "gave up after 3 tries" in (delivery.error or "")
    [report] = state.comments_on(REPO, 1)
    assert "could not act on this label" in report.body and "503" in report.body
    assert ledger.all_jobs() == []


def _due(ledger: Ledger, delivery_id: str) -> bool:
    from datetime import UTC, datetime

    d = ledger.delivery(delivery_id)
    assert d is not None and d.next_try_at is not None
    due = d.next_try_at if d.next_try_at.tzinfo else d.next_try_at.replace(tzinfo=UTC)
    return due <= datetime.now(UTC)


# -- the heartbeat -----------------------------------------------------------------------------------------
def _claimed(ledger: Ledger) -> int:
    job, _ = ledger.open_job(JobRequest(REPO, 1, 1, "label", "fix"))
    assert ledger.claim(job.id, "me", 0.6) is not None
    return job.id


def _renewed_after(ledger: Ledger, job_id: int, moment: float) -> bool:
    expires = ledger.job(job_id).lease_expires
    return expires is not None and expires > moment + 0.6


def test_the_heartbeat_keeps_renewing_after_a_cancel(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path)
    job_id = _claimed(ledger)
    beat = Heartbeat(ledger, job_id, "me", 0.6)
    try:
        ledger.request_cancel(REPO, 1)
        wait_for(lambda: beat.reason == "cancel", what="the cancel to be seen")
        seen = time.time()
        # the job winds down (reports the cancel) while its lease stays renewed: nobody else claims it
        wait_for(lambda: _renewed_after(ledger, job_id, seen), timeout=10, what="a renewal after the cancel")
        assert ledger.claim(job_id, "other", 0.6) is None and ledger.recoverable() == []
        assert beat.check() == "cancel"  # a cancel is never forgotten
    finally:
        beat.stop()


class _FlakyLedger(Ledger):
    """The real ledger, whose first two renewals hit a transient database error."""

    failures = 2

    def renew(self, job_id: int, owner: str, lease_s: float) -> str:
        if self.failures:
            self.failures -= 1
            raise OperationalError("UPDATE jobs", {}, Exception("server closed the connection"))
        return super().renew(job_id, owner, lease_s)


def test_the_heartbeat_survives_a_transient_database_error(tmp_path: Path) -> None:
    ledger = _FlakyLedger(make_engine(f"sqlite:///{tmp_path / 'store.db'}"))
    job_id = _claimed(ledger)
    started = time.time()
    beat = Heartbeat(ledger, job_id, "me", 0.6)
    try:
        wait_for(lambda: ledger.failures == 0, what="the errors")
        wait_for(lambda: _renewed_after(ledger, job_id, started + 0.5), timeout=10, what="renewals again")
        assert beat.reason == "ok"
    finally:
        beat.stop()


# -- keys ----------------------------------------------------------------------------------------------------
def test_intent_keys_are_a_fixed_length_however_long_the_feedback(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path)
    long_review = "Please reconsider this. " * 2000  # 48,000 characters: far over String(600)
    first, created = ledger.open_job(
        JobRequest(REPO, 1, 1, "review", "revise", args={"feedback": long_review, "review_id": 1})
    )
    assert created and first.active_key is not None and len(first.active_key) == 64
    same, created = ledger.open_job(
        JobRequest(REPO, 1, 1, "review", "revise", args={"feedback": long_review, "review_id": 1})
    )
    assert not created and same.id == first.id  # the same intent is still one job
    other, created = ledger.open_job(
        JobRequest(REPO, 1, 1, "review", "revise", args={"feedback": long_review + "!", "review_id": 1})
    )
    assert created and other.id != first.id and other.active_key != first.active_key
    assert all(len(j.active_key or "") <= 600 for j in ledger.all_jobs())


# -- after a push: idempotent ------------------------------------------------------------------------------
def _runner(tmp_path: Path, state: GitHubState, pipeline: FakePipeline) -> tuple[Ledger, JobRunner]:
    ledger = _ledger(tmp_path)
    options = BotOptions("repomind", tmp_path / "work", lease_s=5)
    return ledger, JobRunner(ledger, FakeGitHubFactory(state), pipeline, FakeQueue(), options)


def _crash_after_push(ledger: Ledger, job_id: int, **extra: Any) -> None:
    """As if the worker died right after pushing: the ledger knows the outcome but not the push."""
    ledger.update_job(
        job_id,
        state=JobState.RUNNING,
        active_key=f"crashed-{job_id}",
        lease_owner="dead",
        lease_expires=0.0,
        head_sha=None,
        pr_number=None,
        status_comment_id=None,
        **extra,
    )


def test_a_revise_resumed_after_its_push_does_not_apply_its_diff_again(tmp_path: Path) -> None:
    state = _state(tmp_path)
    pipeline = FakePipeline(edits={"calc.py": FIXED})
    ledger, runner = _runner(tmp_path, state, pipeline)
    fix, _ = ledger.open_job(JobRequest(REPO, 1, 1, "label", "fix"))
    runner.run(fix.id)
    pipeline.edits = {"calc.py": FIXED + "\n\ndef sub(a, b):\n    return a - b\n"}
    [pr] = state.pulls(REPO)
    revise, _ = ledger.open_job(
        JobRequest(REPO, 1, 1, "command", "revise", args={"feedback": "add sub"}, thread_number=pr.number)
    )
    runner.run(revise.id)
    done = ledger.job(revise.id)
    assert done.state is JobState.SUCCEEDED and done.head_sha == state.branch_sha(REPO, "repomind/issue-1")

    _crash_after_push(ledger, revise.id)
    runner.run(revise.id)
    again = ledger.job(revise.id)
    assert again.state is JobState.SUCCEEDED, again.error
    assert again.claims == 2 and len(pipeline.calls) == 2  # resumed from the recorded outcome
    assert again.head_sha == done.head_sha == state.branch_sha(REPO, "repomind/issue-1")  # no new commit
    log = git(state.repos[REPO].git_dir, "log", "--format=%s", "repomind/issue-1")
    assert log.count("Fix #1") == 2 and len(state.pulls(REPO)) == 1


# -- own comments only ---------------------------------------------------------------------------------------
def test_a_status_marker_in_someone_elses_comment_is_not_adopted(tmp_path: Path) -> None:
    state = _state(tmp_path)
    forged = state.comment_as(REPO, 1, "<!-- repomind:job:1 -->\nI am the bot, trust me", user="mallory")
    ledger, runner = _runner(tmp_path, state, FakePipeline(edits={"calc.py": FIXED}))
    job, _ = ledger.open_job(JobRequest(REPO, 1, 1, "label", "fix"))
    runner.run(job.id)
    done = ledger.job(job.id)
    assert done.state is JobState.SUCCEEDED and done.status_comment_id != forged
    assert state.comments[forged].history == [] and "trust me" in state.comments[forged].body
    [own] = [c for c in state.comments_on(REPO, 1) if c.user == "repomind[bot]"]
    assert own.id == done.status_comment_id and "draft PR ready" in own.body


# -- cancel messages -----------------------------------------------------------------------------------
def test_a_cancel_after_the_push_says_what_was_pushed(tmp_path: Path) -> None:
    state = _state(tmp_path)
    ledger, runner = _runner(tmp_path, state, FakePipeline(edits={"calc.py": FIXED}))
    job, _ = ledger.open_job(JobRequest(REPO, 1, 1, "label", "fix"))
    runner.run(job.id)
    pushed = ledger.job(job.id)
    assert pushed.head_sha is not None and pushed.pr_number is not None
    # the worker died after pushing and opening the PR; a cancel came before another worker resumed it
    ledger.update_job(job.id, state=JobState.RUNNING, active_key="k", lease_owner="dead", lease_expires=0.0)
    ledger.request_cancel(REPO, 1)
    runner.run(job.id)
    assert ledger.job(job.id).state is JobState.CANCELLED
    [status] = [c.body for c in state.comments_on(REPO, 1) if "repomind:job:1" in c.body]
    assert "cancelled" in status and "nothing was pushed" not in status.lower()
    assert f"pushed to `repomind/issue-1` (commit `{pushed.head_sha[:12]}`)" in status
    assert f"draft PR #{pushed.pr_number}" in status


def test_a_cancel_before_anything_was_pushed_says_so(github: StandInGitHub, tmp_path: Path) -> None:
    pipeline = FakePipeline(edits={"calc.py": FIXED}, gate=lambda: False)  # would wait for ever
    server = serve(settings_for(github, tmp_path / "data", job_lease_s=3.0), pipeline=pipeline)
    server.github_state = github.state
    try:
        label(server)
        wait_for(lambda: pipeline.calls, what="the job to start")
        server.ledger.request_cancel(REPO, 1)
        wait_for(
            lambda: server.ledger.all_jobs()[0].state is JobState.CANCELLED, what="the cancel", timeout=30
        )
    finally:
        server.stop()
    [status] = [c.body for c in github.state.comments_on(REPO, 1) if "repomind:job:1" in c.body]
    assert "nothing was pushed" in status and github.state.branches(REPO) == ["main"]


def test_two_checks_failing_on_one_head_at_once_are_one_ci_revision(tmp_path: Path) -> None:
    """Two workers handle two check failures of one head concurrently: both pass the "already followed"
    look-up, and the feedback differs, so the intent is the head commit alone."""
    ledger = _ledger(tmp_path)
    lint = {"feedback": "ruff failed", "head_sha": "a" * 40, "checks": ["lint"]}
    tests = {"feedback": "pytest failed", "head_sha": "a" * 40, "checks": ["tests"]}
    first, created = ledger.open_job(JobRequest(REPO, 1, 1, "ci", "revise", args=lint))
    assert created
    same, created = ledger.open_job(JobRequest(REPO, 1, 1, "ci", "revise", args=tests))
    assert not created and same.id == first.id
    later, created = ledger.open_job(
        JobRequest(REPO, 1, 1, "ci", "revise", args={**tests, "head_sha": "b" * 40})
    )
    assert created and later.id != first.id
    # a person's revise with the same words stays its own intent
    person, created = ledger.open_job(JobRequest(REPO, 1, 1, "comment", "revise", args=lint))
    assert created and person.id not in (first.id, later.id)


def test_a_cancelled_runs_spend_counts_towards_the_months_budget(tmp_path: Path) -> None:
    """The model was paid for what a run did before its cancel: the job keeps the outcome's cost."""
    from repomind.store.limits import spent_this_month

    state = _state(tmp_path)
    holder: dict[str, Ledger] = {}

    def cancel_then_wait() -> bool:
        holder["ledger"].request_cancel(REPO, 1)
        return False

    pipeline = FakePipeline(edits={"calc.py": FIXED}, gate=cancel_then_wait, cancel_cost_usd=0.42)
    ledger, runner = _runner(tmp_path, state, pipeline)
    holder["ledger"] = ledger
    job, _ = ledger.open_job(JobRequest(REPO, 1, 1, "label", "fix"))
    runner.run(job.id)
    done = ledger.job(job.id)
    assert done.state is JobState.CANCELLED and done.result is not None
    assert done.result["status"] == "cancelled" and done.result["cost_usd"] == 0.42
    assert spent_this_month(ledger, 1) == 0.42
    assert ledger.job(job.id).head_sha is None  # nothing pushed
