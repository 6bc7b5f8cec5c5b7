"""A worker that dies mid-job: the job is retried without a second status comment, branch or PR."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from repomind.bot.commands.options import BotOptions
from repomind.bot.jobs.job_runner import JobRunner
from repomind.store import JobRequest, JobState, Ledger, make_engine
from repomind.testing import (
    FakeGitHubFactory,
    FakePipeline,
    FakeQueue,
    GitHubState,
    StandInGitHub,
    make_git_repo,
)
from tests.bot.conftest import CALC, FIXED
from tests.bot.helpers import REPO, adjust, fixture, process_env, serve, settings_for, wait_for
from tests.test_cli import REPOMIND


def _own(state: GitHubState, number: int, job_id: int) -> list[str]:
    return [c.body for c in state.comments_on(REPO, number) if f"repomind:job:{job_id}" in c.body]


@pytest.fixture
def worker_env(github: StandInGitHub, tmp_path: Path) -> dict[str, str]:
    return process_env(
        github,
        tmp_path / "data",
        tmp_path / "script.json",
        REPOMIND_JOB_LEASE_S="2",
        REPOMIND_LOG_FORMAT="json",
    )


@pytest.fixture
def workers(worker_env: dict[str, str], tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


@pytest.mark.slow
def test_a_worker_killed_mid_job_is_retried_without_duplicates(
    github: StandInGitHub, tmp_path: Path, worker_env: dict[str, str], workers: list[subprocess.Popen[bytes]]
) -> None:
    started, release = tmp_path / "started", tmp_path / "release"
    (tmp_path / "script.json").write_text(
        json.dumps({"edits": {"calc.py": FIXED}, "started_file": str(started), "release_file": str(release)})
    )
    server = serve(settings_for(github, tmp_path / "data", job_lease_s=2.0), pipeline=None, worker=False)
    try:
        payload = adjust(fixture("issues.labeled"), issue=1, sender="alice", label="repomind")
        assert server.deliver("issues", payload).status_code == 202

        log_a = (tmp_path / "worker-a.log").open("wb")
        workers.append(subprocess.Popen([REPOMIND, "worker"], env=worker_env, stdout=log_a, stderr=log_a))
        wait_for(started.exists, timeout=60, what="the first worker to reach the pipeline")
        assert len(_own(github.state, 1, 1)) == 1
        workers[0].send_signal(signal.SIGKILL)  # dies mid-job: no cleanup, lease left behind
        workers[0].wait(timeout=10)
        [job] = server.ledger.all_jobs()
        assert job.state is JobState.RUNNING and job.claims == 1

        release.touch()
        wait_for(
            lambda: server.ledger.recoverable() == [job.id], timeout=30, what="the dead worker's lease to end"
        )
        log_b = (tmp_path / "worker-b.log").open("wb")
        workers.append(subprocess.Popen([REPOMIND, "worker"], env=worker_env, stdout=log_b, stderr=log_b))
        wait_for(
            lambda: server.ledger.all_jobs()[0].state is JobState.SUCCEEDED,
            timeout=60,
            what=f"the second worker to finish: {(tmp_path / 'worker-b.log').read_text()[-2000:]}",
        )
        workers[1].send_signal(signal.SIGTERM)
        assert workers[1].wait(timeout=30) is not None
    finally:
        server.stop()
    [job] = server.ledger.all_jobs()
    assert job.claims == 2
    assert len(_own(github.state, 1, 1)) == 1 and "draft PR ready" in _own(github.state, 1, 1)[0]
    assert len(github.state.pulls(REPO)) == 1
    assert github.state.branches(REPO) == ["main", "repomind/issue-1"]
    assert github.state.get_file(REPO, "calc.py", "repomind/issue-1") == FIXED
    # the token never reached a log line
    logs = (tmp_path / "worker-a.log").read_text() + (tmp_path / "worker-b.log").read_text()
    assert not any(token in logs for token in github.state.tokens)


def test_artefacts_made_but_not_recorded_are_found_not_duplicated(tmp_path: Path) -> None:
    """The worst moment to die: after the comment, the push and the PR, before the ledger knew."""
    state = GitHubState(tmp_path / "gh")
    state.add_repo(REPO, make_git_repo(tmp_path / "src", CALC))
    state.open_issue(REPO, "add() subtracts", "...")
    ledger = Ledger(make_engine(f"sqlite:///{tmp_path / 'store.db'}"))
    pipeline = FakePipeline(edits={"calc.py": FIXED})
    runner = JobRunner(
        ledger,
        FakeGitHubFactory(state),
        pipeline,
        FakeQueue(),
        BotOptions("repomind", tmp_path / "work", lease_s=5),
    )
    job, _ = ledger.open_job(JobRequest(REPO, 1, 1, "label", "fix", requested_by="alice"))
    runner.run(job.id)
    assert ledger.job(job.id).state is JobState.SUCCEEDED
    # forget everything the ledger knew, as if the worker had died before recording it
    ledger.update_job(
        job.id,
        state=JobState.RUNNING,
        active_key="x",
        lease_owner="dead",
        lease_expires=0.0,
        status_comment_id=None,
        pr_number=None,
        head_sha=None,
        result=None,
    )
    assert ledger.recoverable() == [job.id]
    runner.run(job.id)
    again = ledger.job(job.id)
    assert again.state is JobState.SUCCEEDED and again.claims == 2 and len(pipeline.calls) == 2
    assert len(_own(state, 1, job.id)) == 1
    assert len(state.pulls(REPO)) == 1 and again.pr_number == state.pulls(REPO)[0].number
    assert state.get_file(REPO, "calc.py", "repomind/issue-1") == FIXED
