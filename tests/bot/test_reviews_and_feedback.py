"""A review that requests changes starts a revision; a closed bot PR becomes feedback for training."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from repomind.store import JobState
from repomind.store.feedback import all_feedback
from repomind.store.queue import TRAINING
from repomind.testing import FakePipeline, StandInGitHub, git, make_git_repo
from tests.bot.conftest import FIXED
from tests.bot.helpers import REPO, Server, adjust, fixture, serve, settings_for, wait_for


def _pr_payload(name: str, number: int, *, sender: str = "alice") -> dict[str, Any]:
    payload = adjust(fixture(name), issue=number, sender=sender)
    payload["pull_request"]["head"]["ref"] = "repomind/issue-1"
    payload["pull_request"]["base"]["ref"] = "main"
    return payload


def _with_pr(github: StandInGitHub, tmp_path: Path, pipeline: FakePipeline) -> tuple[Server, int]:
    server = serve(settings_for(github, tmp_path / "data"), pipeline=pipeline)
    server.deliver("issues", adjust(fixture("issues.labeled"), issue=1, sender="alice", label="repomind"))
    wait_for(lambda: github.state.pulls(REPO), what="the PR")
    wait_for(lambda: server.ledger.all_jobs()[0].state is JobState.SUCCEEDED)
    return server, github.state.pulls(REPO)[0].number


def test_changes_requested_on_a_bot_pr_starts_a_revision(github: StandInGitHub, tmp_path: Path) -> None:
    pipeline = FakePipeline(edits={"calc.py": FIXED})
    server, pr = _with_pr(github, tmp_path, pipeline)
    try:
        github.state.add_review_comment(
            REPO, pr, review_id=555, path="calc.py", line=2, body="add a docstring"
        )
        github.state.add_review_comment(REPO, pr, review_id=999, path="x.py", line=1, body="another review")
        commented = _pr_payload("pull_request_review.submitted", pr)
        assert server.deliver("pull_request_review", commented).status_code == 202  # "commented": no job
        payload = _pr_payload("pull_request_review.submitted", pr)
        payload["review"].update(id=555, state="changes_requested", body="Close, but not yet.")
        pipeline.edits = {"calc.py": 'def add(a, b):\n    """Sum."""\n    return a + b\n'}
        assert server.deliver("pull_request_review", payload).status_code == 202
        wait_for(
            lambda: (
                len(server.ledger.all_jobs()) == 2 and server.ledger.all_jobs()[1].state.value == "succeeded"
            )
        )
    finally:
        server.stop()
    job = server.ledger.all_jobs()[1]
    assert job.trigger == "review" and job.command == "revise"
    feedback = pipeline.calls[-1]["hints"].feedback  # type: ignore[attr-defined]
    assert feedback.startswith("Close, but not yet.") and "`calc.py` line 2: add a docstring" in feedback
    assert "another review" not in feedback
    assert '"""Sum."""' in (github.state.get_file(REPO, "calc.py", "repomind/issue-1") or "")


def test_a_merged_bot_pr_records_accepted_feedback_with_the_maintainers_edits(
    github: StandInGitHub, tmp_path: Path
) -> None:
    server, pr = _with_pr(github, tmp_path, FakePipeline(edits={"calc.py": FIXED}))
    try:
        # a maintainer pushes an edit onto the bot's branch, reviews, then merges
        edit = make_git_repo(tmp_path / "maint", {"x": ""})
        git(edit, "fetch", "-q", str(github.state.repos[REPO].git_dir), "repomind/issue-1")
        git(edit, "checkout", "-q", "-B", "work", "FETCH_HEAD")
        (edit / "calc.py").write_text(FIXED + "\n# reviewed by alice\n")
        git(edit, "commit", "-qam", "maintainer edit")
        git(edit, "push", "-q", str(github.state.repos[REPO].git_dir), "work:repomind/issue-1")
        github.state.add_review_comment(REPO, pr, review_id=1, path="calc.py", line=2, body="nice")
        github.state.merge_pull(REPO, pr)
        payload = _pr_payload("pull_request.closed.merged", pr)
        assert server.deliver("pull_request", payload).status_code == 202
        assert server.deliver("pull_request", payload, delivery="again").status_code == 202  # closed twice
        wait_for(lambda: all_feedback(server.ledger), what="feedback")
        queue = server.server.config.app.state.runtime.queue  # type: ignore[attr-defined]
        wait_for(lambda: queue.pending(TRAINING) == 2, what="the training queue")
    finally:
        server.stop()
    [fb] = all_feedback(server.ledger)
    assert fb.merged and fb.pr_number == pr and fb.issue_number == 1 and fb.issue_title == "add() subtracts"
    assert (
        fb.bot_diff is not None
        and "+    return a + b" in fb.bot_diff
        and "reviewed by alice" not in fb.bot_diff
    )
    assert (
        fb.merged_diff is not None
        and "# reviewed by alice" in fb.merged_diff
        and "+    return a + b" in fb.merged_diff
    )
    assert [c["body"] for c in fb.review_comments] == ["nice"]


def test_a_pr_closed_unmerged_is_a_rejected_example_and_other_prs_are_ignored(
    github: StandInGitHub, tmp_path: Path
) -> None:
    server, pr = _with_pr(github, tmp_path, FakePipeline(edits={"calc.py": FIXED}))
    try:
        payload = _pr_payload("pull_request.closed", pr)
        payload["pull_request"].update(merged=False, merged_at=None)
        server.deliver("pull_request", payload)
        other = _pr_payload("pull_request.closed", 99)
        other["pull_request"]["head"]["ref"] = "feature/x"
        server.deliver("pull_request", other)
        wait_for(lambda: all_feedback(server.ledger), what="feedback")
    finally:
        server.stop()
    [fb] = all_feedback(server.ledger)
    assert not fb.merged and fb.merged_diff is None and fb.bot_diff
