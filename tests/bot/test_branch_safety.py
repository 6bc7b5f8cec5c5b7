"""The bot never discards a commit it did not make, and never takes a PR that is not its own for its own.

A maintainer's commit on the bot's branch survives ``/repomind retry``: the retry builds on top of it,
or, where its change does not apply on top, goes to a new branch and says so. A person's PR (or a
fork's) whose branch is called ``repomind/issue-N`` is never adopted, commented on as the bot's, or
pushed to.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from repomind.bot.commands.options import BotOptions
from repomind.bot.jobs.job_runner import JobRunner
from repomind.store import JobRequest, JobState, Ledger, make_engine
from repomind.testing import (
    FakeGitHubFactory,
    FakePipeline,
    FakeQueue,
    GitHubState,
    StandInGitHub,
    git,
    make_git_repo,
)
from tests.bot.conftest import CALC, FIXED
from tests.bot.helpers import REPO, Server, adjust, fixture, serve, settings_for, wait_for
from tests.bot.test_triggers import comment, label

DOCSTRING = 'def add(a, b):\n    """Sum of a and b."""\n    return a + b\n'
INTS = "def add(a, b):\n    return int(a) + int(b)\n"
EXTRA_TEST = "\n\ndef test_add_negative():\n    assert add(-1, -2) == -3\n"


def _maintainer_commit(
    tmp_path: Path, url: str, branch: str, path: str, text: str, *, append: bool = True
) -> str:
    """A maintainer clones ``branch``, changes ``path`` and pushes (a fast-forward); the new sha."""
    work = tmp_path / "maintainer"
    subprocess.run(["git", "clone", "-q", "--branch", branch, url, str(work)], check=True)
    target = work / path
    target.write_text((target.read_text() if append else "") + text)
    git(work, "commit", "-qam", "alice: a change of her own")
    git(work, "push", "-q", "origin", f"HEAD:refs/heads/{branch}")
    return git(work, "rev-parse", "HEAD").strip()


def _ended(server: Server, count: int) -> bool:
    """``count`` jobs were opened and the last of them has ended."""
    jobs = server.ledger.all_jobs()
    return len(jobs) == count and not jobs[-1].state.active


def _history(state: GitHubState, branch: str) -> list[str]:
    return git(state.repos[REPO].git_dir, "rev-list", branch).split()


def test_retry_builds_on_a_maintainers_commit_instead_of_force_pushing(
    github: StandInGitHub, tmp_path: Path
) -> None:
    pipeline = FakePipeline(edits={"calc.py": FIXED})
    server = serve(settings_for(github, tmp_path / "data"), pipeline=pipeline)
    server.github_state = github.state
    state = github.state
    try:
        label(server)
        wait_for(lambda: _ended(server, 1), what="the first job")
        # alice pushes a commit to the draft PR's branch through the stand-in's git server
        token = state.issue_token(1).token
        url = f"http://x-access-token:{token}@127.0.0.1:{github.git_port}/{REPO}.git"
        hers = _maintainer_commit(tmp_path, url, "repomind/issue-1", "tests/test_calc.py", EXTRA_TEST)
        assert state.branch_sha(REPO, "repomind/issue-1") == hers

        pipeline.edits = {"calc.py": DOCSTRING}
        comment(server, "/repomind retry")
        wait_for(lambda: _ended(server, 2), what="the retry")
    finally:
        server.stop()
    retry = server.ledger.all_jobs()[1]
    assert retry.state is JobState.SUCCEEDED, retry.error
    assert hers in _history(state, "repomind/issue-1")  # her commit survives, in the branch's history
    assert retry.head_sha == state.branch_sha(REPO, "repomind/issue-1") and retry.branch == "repomind/issue-1"
    assert state.get_file(REPO, "calc.py", "repomind/issue-1") == DOCSTRING  # the retry's change
    assert EXTRA_TEST in (state.get_file(REPO, "tests/test_calc.py", "repomind/issue-1") or "")  # and hers
    assert len(state.pulls(REPO)) == 1
    status = next(c.body for c in state.comments_on(REPO, 1) if "repomind:job:2" in c.body)
    assert "draft PR ready" in status and "Built on top of the commits people added" in status


def _runner(tmp_path: Path, state: GitHubState, pipeline: FakePipeline) -> tuple[Ledger, JobRunner]:
    ledger = Ledger(make_engine(f"sqlite:///{tmp_path / 'store.db'}"))
    options = BotOptions("repomind", tmp_path / "work", lease_s=5)
    return ledger, JobRunner(ledger, FakeGitHubFactory(state), pipeline, FakeQueue(), options)


def _run(ledger: Ledger, runner: JobRunner, command: str, **args: object) -> int:
    job, created = ledger.open_job(JobRequest(REPO, 1, 1, "command", command, args=dict(args)))
    assert created
    runner.run(job.id)
    return job.id


def test_a_retry_that_does_not_apply_on_a_maintainers_commit_goes_to_a_new_branch(tmp_path: Path) -> None:
    state = GitHubState(tmp_path / "gh")
    state.add_repo(REPO, make_git_repo(tmp_path / "src", CALC))
    state.open_issue(REPO, "add() subtracts", "...")
    pipeline = FakePipeline(edits={"calc.py": FIXED})
    ledger, runner = _runner(tmp_path, state, pipeline)
    first = _run(ledger, runner, "fix")
    assert ledger.job(first).state is JobState.SUCCEEDED
    # alice rewrites the very line the bot changed, on the bot's branch
    hers = _maintainer_commit(
        tmp_path, state.clone_url(REPO), "repomind/issue-1", "calc.py", "def add(a, b):\n    return b + a\n"
    )
    pipeline.edits = {"calc.py": INTS}
    retry = _run(ledger, runner, "retry", hint="convert to int")
    job = ledger.job(retry)
    assert job.state is JobState.SUCCEEDED, job.error
    assert state.branch_sha(REPO, "repomind/issue-1") == hers  # her branch is as she left it
    assert job.branch == "repomind/issue-1-2" and state.branch_sha(REPO, "repomind/issue-1-2") == job.head_sha
    assert state.get_file(REPO, "calc.py", "repomind/issue-1-2") == INTS
    status = next(c.body for c in state.comments_on(REPO, 1) if f"repomind:job:{retry}" in c.body)
    assert "does not apply on top of their commits" in status and "`repomind/issue-1-2`" in status
    heads = sorted(p.pull.head for p in state.pulls(REPO) if p.pull is not None)
    assert heads == ["repomind/issue-1", "repomind/issue-1-2"]
    # the next job continues on the branch the bot moved to
    pipeline.edits = {"calc.py": INTS + "\n# again\n"}
    again = ledger.job(_run(ledger, runner, "retry", hint="once more"))
    assert again.state is JobState.SUCCEEDED and again.branch == "repomind/issue-1-2"
    assert job.head_sha in _history(state, "repomind/issue-1-2")
    assert state.branch_sha(REPO, "repomind/issue-1") == hers


def test_a_persons_or_a_forks_pr_on_a_repomind_branch_is_never_the_bots(
    github: StandInGitHub, tmp_path: Path
) -> None:
    state = github.state
    # mallory pushed her own repomind/issue-1 into the repository and opened a PR from it; a fork has one too
    token = state.issue_token(1).token
    url = f"http://x-access-token:{token}@127.0.0.1:{github.git_port}/{REPO}.git"
    work = tmp_path / "mallory"
    subprocess.run(["git", "clone", "-q", url, str(work)], check=True)
    (work / "calc.py").write_text("def add(a, b):\n    return 42\n")
    git(work, "commit", "-qam", "mallory's idea")
    git(work, "push", "-q", "origin", "HEAD:refs/heads/repomind/issue-1")
    hers = state.branch_sha(REPO, "repomind/issue-1")
    human = state.open_pull(REPO, head="repomind/issue-1", user="mallory", body="mine")
    fork = state.open_pull(REPO, head="repomind/issue-1", user="eve", body="fork", head_repo="eve/calc")
    state.set_permission(REPO, "mallory", "write")  # even a collaborator's PR is not the bot's

    pipeline = FakePipeline(edits={"calc.py": FIXED})
    server = serve(settings_for(github, tmp_path / "data"), pipeline=pipeline)
    server.github_state = state
    try:
        label(server)
        wait_for(lambda: _ended(server, 1), what="the job")
        # commands and reviews on those PRs are not taken as the bot's PR's
        body = "/repomind revise make it 43"
        for number in (human, fork):
            payload = adjust(
                fixture("issue_comment.created.pull_request"), issue=number, sender="alice", comment=body
            )
            payload["comment"]["id"] = state.comment_as(REPO, number, body, user="alice")
            assert server.deliver("issue_comment", payload).status_code == 202
            review = adjust(fixture("pull_request_review.submitted"), issue=number, sender="alice")
            review["pull_request"]["head"]["ref"] = "repomind/issue-1"
            review["review"].update(id=7, state="changes_requested", body="no")
            assert server.deliver("pull_request_review", review).status_code == 202
        wait_for(
            lambda: all(
                d is not None and d.dispatched_at is not None
                for d in (server.ledger.delivery(x) for x in _deliveries(server))
            ),
            what="every delivery handled",
        )
    finally:
        server.stop()
    [job] = server.ledger.all_jobs()
    assert job.state is JobState.SUCCEEDED, job.error
    assert state.branch_sha(REPO, "repomind/issue-1") == hers  # never pushed to
    assert job.branch == "repomind/issue-1-2"
    assert state.repos[REPO].issues[human].body == "mine" and state.repos[REPO].issues[fork].body == "fork"
    ours = [p for p in state.pulls(REPO) if p.number not in (human, fork)]
    assert len(ours) == 1 and ours[0].pull is not None and ours[0].pull.head == "repomind/issue-1-2"
    assert ours[0].user == "repomind[bot]"
    assert not [c for n in (human, fork) for c in state.comments_on(REPO, n) if c.user == "repomind[bot]"]


def _deliveries(server: Server) -> list[str]:
    from sqlalchemy import select

    from repomind.store import Delivery

    with server.ledger.reading() as s:
        return list(s.scalars(select(Delivery.id)))
