"""A job's run as the status comment and the run page tell it: each way BotRun stops, with its text from
the templates, and the live log fed by the run's events (JobRunner on the in-memory GitHub, FakePipeline)."""

from __future__ import annotations

from pathlib import Path

import pytest

from repomind.bot.commands.options import BotOptions
from repomind.bot.jobs.bot_run import BotRun, Ending
from repomind.bot.jobs.job_runner import JobRunner
from repomind.bot.render import text
from repomind.bot.solving.pipeline_port import PipelineOutcome
from repomind.bot.status import StatusComment
from repomind.pipeline.solve import events as ev
from repomind.pipeline.solve.outcome import Category, OutcomeStatus, Stopped
from repomind.pipeline.solve.reflect import AttemptRecord
from repomind.store import Job, JobRequest, JobState, Ledger, make_engine
from repomind.store.joblog import latest_events
from repomind.testing import FakeGitHubFactory, FakePipeline, FakeQueue, GitHubState, make_git_repo
from repomind.testing.pipeline import scripted_localisation
from tests.bot.conftest import CALC, FIXED
from tests.bot.helpers import REPO

#: A secret-shaped token (a GitHub personal access token) that must never reach GitHub.
TOKEN = "ghp_" + "A1b2C3d4E5" * 4


def _setup(tmp_path: Path, pipeline: FakePipeline) -> tuple[GitHubState, Ledger, Job]:
    state = GitHubState(tmp_path / "gh")
    state.add_repo(REPO, make_git_repo(tmp_path / "src", CALC))
    state.open_issue(REPO, "add() subtracts", "...")
    ledger = Ledger(make_engine(f"sqlite:///{tmp_path / 'store.db'}"))
    runner = JobRunner(
        ledger, FakeGitHubFactory(state), pipeline, FakeQueue(), BotOptions("repomind", tmp_path / "work")
    )
    job, _ = ledger.open_job(JobRequest(REPO, 1, 1, "label", "fix"))
    runner.run(job.id)
    return state, ledger, ledger.job(job.id)


def _status(state: GitHubState) -> str:
    [body] = [c.body for c in state.comments_on(REPO, 1) if "repomind:job:1" in c.body]
    return body


def test_a_passing_run_ends_with_the_pr_and_the_run_page_has_its_story(tmp_path: Path) -> None:
    state, ledger, job = _setup(tmp_path, FakePipeline(edits={"calc.py": FIXED}))
    assert job.state is JobState.SUCCEEDED and job.error is None
    body = _status(state)
    assert "✅ draft PR ready" in body and f"Draft PR #{job.pr_number} holds the change" in body
    assert "| 1 | ✅ passed: scripted edit | 3 / 0 |" in body
    log = [(e.kind, e.message) for e in latest_events(ledger, job.id, 200)]
    assert ("status", "🏃 running") in log and ("status", "✅ draft PR ready") in log
    assert ("stage", "Writing and testing a patch…") in log  # from the Localised event
    assert ("stage", "Attempt 1: asking scripted/fake…") in log  # a progress line of the run
    assert any(kind == "localised" and "calc.py" in message for kind, message in log)
    assert ("attempt", "attempt 1: passed: scripted edit (tests: 3 passed, 0 failed)") in log


def test_no_passing_patch(tmp_path: Path) -> None:
    pipeline = FakePipeline(edits={"calc.py": "x = 1\n"}, status=OutcomeStatus.FAILED)
    state, _ledger, job = _setup(tmp_path, pipeline)
    assert job.state is JobState.FAILED and job.error == pipeline.explanation
    body = _status(state)
    assert "❌ no passing patch" in body and pipeline.explanation in body
    assert "Nothing was pushed. `/repomind retry <hint>` tries again with your hint." in body
    assert "| 1 | ❌ test-failure: scripted edit | 2 / 1 |" in body
    assert state.branches(REPO) == ["main"]


def test_needs_a_hint(tmp_path: Path) -> None:
    loc = scripted_localisation(["calc.py", "a.py", "b.py", "c.py", "d.py", "e.py"])
    pipeline = FakePipeline(edits={"calc.py": FIXED}, status=OutcomeStatus.NEEDS_HINT, localisation=loc)
    state, _ledger, job = _setup(tmp_path, pipeline)
    assert job.state is JobState.FAILED and job.error == "needs a hint: the calibrated set is too wide"
    body = _status(state)
    assert "🤔 needs a hint" in body and "The calibrated set has 6 files, more than `max_set_size`" in body
    assert "`/repomind include PATH`" in body


def test_a_patch_to_a_protected_path_is_never_pushed(tmp_path: Path) -> None:
    pipeline = FakePipeline(edits={".github/workflows/ci.yml": "on: push\n"})
    state, _ledger, job = _setup(tmp_path, pipeline)
    assert job.state is JobState.FAILED and ".github/workflows/ci.yml" in (job.error or "")
    body = _status(state)
    assert "🛡️ stopped: the patch changes protected paths" in body
    assert "The patch changes paths it may not change" in body and body.count("Nothing was pushed.") == 1
    assert state.branches(REPO) == ["main"] and state.pulls(REPO) == []


def test_an_error_is_reported_redacted_and_recorded(tmp_path: Path) -> None:
    def boom(_tree: Path) -> None:
        raise RuntimeError(f"the model server said: bad credentials {TOKEN}")

    state, _ledger, job = _setup(tmp_path, FakePipeline(edits={"calc.py": FIXED}, on_start=boom))
    assert job.state is JobState.FAILED and TOKEN not in (job.error or "")
    assert "bad credentials" in (job.error or "")
    body = _status(state)
    assert "💥 stopped by an error" in body and "Repomind hit an error and stopped:" in body
    assert TOKEN not in body and "Nothing was pushed. Comment `/repomind retry` to try again." in body


@pytest.mark.parametrize("ending", list(Ending))
def test_every_ending_has_a_headline_and_a_state(ending: Ending) -> None:
    assert text("headline", ending=ending)
    assert ending.state is (
        JobState.SUCCEEDED
        if ending is Ending.PR_READY
        else JobState.CANCELLED
        if ending is Ending.CANCELLED
        else JobState.FAILED
    )


def test_the_status_comment_follows_the_run_events(tmp_path: Path) -> None:
    state = GitHubState(tmp_path / "gh")
    state.add_repo(REPO, make_git_repo(tmp_path / "src", CALC))
    state.open_issue(REPO, "add() subtracts", "...")
    ledger = Ledger(make_engine(f"sqlite:///{tmp_path / 'store.db'}"))
    job, _ = ledger.open_job(JobRequest(REPO, 1, 1, "label", "fix"))
    status = StatusComment(state, ledger, job, run_url=None, login="repomind[bot]")
    run = BotRun(job, status)
    stream = ev.RunEvents(status.follow)
    stream.emit(ev.Localised(scripted_localisation(["calc.py"])))
    assert status.view.stage == "Writing and testing a patch…" and status.view.localisation is not None
    stream.emit(ev.AttemptStarted(1, "m", []))
    assert status.view.stage == "Attempt 1: asking m…"
    stream.emit(ev.Replied(1, "reply", "m", 1, 1, None, 0.0))  # says nothing new: the stage stays
    assert status.view.stage == "Attempt 1: asking m…"
    record = AttemptRecord(1, Category.UNVERIFIED, "no test tied to the issue", tokens=5)
    stream.emit(ev.Reflected(record))
    [attempt] = status.view.attempts
    assert attempt.outcome is Category.UNVERIFIED and attempt.tokens == 5
    ended = run.stop(Ending.NO_PATCH, error="no attempt passed", explanation="")
    assert ended.state is JobState.FAILED and ended.error == "no attempt passed"
    assert "No attempt passed the tests." in _status(state)


def test_one_outcome_vocabulary_reads_results_recorded_before_it() -> None:
    assert Stopped.NEEDS_HINT.status is OutcomeStatus.NEEDS_HINT
    assert Stopped.CANCELLED.status is OutcomeStatus.CANCELLED
    assert Stopped.BUDGET.status is Stopped.ATTEMPTS_EXHAUSTED.status is OutcomeStatus.FAILED
    recorded = {"status": "needs_hint", "attempts": [{"number": 1, "outcome": "test-failure"}]}
    outcome = PipelineOutcome.from_json(recorded)  # a job result written before the spellings were one
    assert outcome.status is OutcomeStatus.NEEDS_HINT
    assert outcome.attempts[0].outcome is Category.TEST_FAILURE
    again = PipelineOutcome.from_json(outcome.to_json())
    assert again == outcome and outcome.to_json()["status"] == "needs-hint"
    with pytest.raises(ValueError):
        OutcomeStatus("assertion")
