"""End to end: GitHub's payloads into the real app on loopback, the embedded worker, the GitHub stand-in
(REST + git smart HTTP with the installation token), FakePipeline editing the work tree."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from repomind.sandbox.hostenv import git_env
from repomind.store import JobState
from repomind.testing import FakePipeline, StandInGitHub, make_git_repo
from tests.bot.conftest import CALC, FIXED
from tests.bot.helpers import REPO, adjust, fixture, serve, settings_for, wait_for


def test_label_makes_a_draft_pr_whose_branch_holds_the_diff(github: StandInGitHub, tmp_path: Path) -> None:
    pipeline = FakePipeline(edits={"calc.py": FIXED})
    server = serve(settings_for(github, tmp_path / "data"), pipeline=pipeline)
    try:
        payload = adjust(fixture("issues.labeled"), issue=1, sender="alice", label="repomind")
        resp = server.deliver("issues", payload)
        assert resp.status_code == 202, resp.text
        state = github.state
        wait_for(lambda: state.pulls(REPO), what="a draft PR")
        wait_for(lambda: server.ledger.all_jobs()[0].state is JobState.SUCCEEDED, what="job done")
    finally:
        server.stop()
    # 👀 on the issue
    assert {
        "repo": REPO,
        "issue_number": 1,
        "comment_id": None,
        "content": "eyes",
        "user": "repomind[bot]",
    } in (state.reactions)
    # one status comment, edited in place to the result
    comments = state.comments_on(REPO, 1)
    assert len(comments) == 1
    status = comments[0].body
    assert "draft PR ready" in status and "calc.py" in status and "/repomind retry" in status
    assert "90% confidence" in status
    # the draft PR from repomind/issue-1 whose branch holds the diff
    [pr] = state.pulls(REPO)
    assert pr.pull is not None and pr.pull.draft and pr.pull.head == "repomind/issue-1"
    assert "Fixes #1" in pr.body and "tests/test_calc.py::test_add" in pr.body and "/repomind" in pr.body
    diff = state.get_pull_diff(REPO, pr.number)
    assert "-    return a - b" in diff and "+    return a + b" in diff
    assert state.get_file(REPO, "calc.py", "repomind/issue-1") == FIXED
    assert state.get_file(REPO, "calc.py", "main") != FIXED


@pytest.mark.parametrize("signoff", [True, False])
def test_signoff_puts_the_bots_dco_trailer_on_its_commit(
    github: StandInGitHub, tmp_path: Path, signoff: bool
) -> None:
    repo = "acme/dco"
    config = f"signoff: {'true' if signoff else 'false'}\n"
    github.add_repo(repo, make_git_repo(tmp_path / "dco", {**CALC, ".github/repomind.yml": config}))
    github.state.open_issue(repo, "add() subtracts", "calc.add(2, 3) returns -1.", user="alice")
    github.state.set_permission(repo, "alice", "maintain")
    server = serve(settings_for(github, tmp_path / "data"), pipeline=FakePipeline(edits={"calc.py": FIXED}))
    try:
        payload = adjust(fixture("issues.labeled"), repo=repo, issue=1, sender="alice", label="repomind")
        assert server.deliver("issues", payload).status_code == 202
        wait_for(lambda: github.state.pulls(repo), what="a draft PR")
    finally:
        server.stop()
    git_dir = str(github.state.repos[repo].git_dir)

    def log(fmt: str) -> str:
        cmd = ["git", "--git-dir", git_dir, "log", "-1", f"--format={fmt}", "repomind/issue-1"]
        return subprocess.run(cmd, capture_output=True, text=True, check=True, env=git_env()).stdout.strip()

    message, author = log("%B"), log("%an <%ae>")
    signed = log("%(trailers:key=Signed-off-by,valueonly)")  # git reads it as a trailer
    lines = message.splitlines()
    if signoff:
        assert lines[-2].startswith("Repomind-Job: ") and lines[-1] == f"Signed-off-by: {author}"
        assert signed == author and author.endswith("[bot]@users.noreply.github.com>")
    else:
        assert lines[-1].startswith("Repomind-Job: ") and "Signed-off-by" not in message and signed == ""
