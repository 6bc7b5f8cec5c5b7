"""The "Repomind" check run on the bot's PR head, and ``follow_ci``: a failing CI check on the bot's PR
starts one revision with the check's output as feedback. End to end: the stand-in GitHub (its checks
endpoints in GitHub's shapes), the real githubkit client, the server and its worker."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from repomind.bot.checks import added_lines, conclusion, lint_annotations
from repomind.bot.github.protocol import CheckAnnotation, CheckOutput
from repomind.bot.solving.pipeline_port import PipelineOutcome, TestEvidence
from repomind.pipeline.solve.outcome import OutcomeStatus
from repomind.pipeline.toolchain.protocol import LintProblem
from repomind.store import JobState
from repomind.testing import FakePipeline, StandInGitHub, make_git_repo
from tests.bot.conftest import CALC, FIXED
from tests.bot.helpers import REPO, Server, adjust, fixture, serve, settings_for, wait_for

LOG = "E   AssertionError: assert add(2, 3) == 5  (CI-LOG-MARKER-7f3a)"


def _pr_payload(name: str, number: int) -> dict[str, Any]:
    payload = adjust(fixture(name), issue=number, sender="alice")
    payload["pull_request"]["head"]["ref"] = "repomind/issue-1"
    payload["pull_request"]["base"]["ref"] = "main"
    return payload


def _check_run_payload(gh: StandInGitHub, check_run_id: int, pr: int) -> dict[str, Any]:
    """A ``check_run`` ``completed`` delivery as GitHub sends it: the check run as the REST API shapes
    it (GitHub's example, over the stand-in's state) with the PR it belongs to, and the repository,
    sender and installation of a delivery."""
    base = adjust(fixture("pull_request_review.submitted"), sender="octo-ci")
    run = gh.state.check_run_json(check_run_id)
    run["pull_requests"] = [{"number": pr, "id": pr, "url": f"{gh.url}/repos/{REPO}/pulls/{pr}"}]
    run["check_suite"] = {
        **run["check_suite"],
        "head_sha": run["head_sha"],
        "pull_requests": run["pull_requests"],
    }
    return {
        "action": "completed",
        "check_run": run,
        "repository": base["repository"],
        "sender": base["sender"],
        "installation": base["installation"],
    }


def _suite_payload(check_run: dict[str, Any]) -> dict[str, Any]:
    suite = {
        "id": check_run["check_run"]["check_suite"]["id"],
        "head_sha": check_run["check_run"]["head_sha"],
        "head_branch": "repomind/issue-1",
        "status": "completed",
        "conclusion": "failure",
        "app": check_run["check_run"]["app"],
        "pull_requests": check_run["check_run"]["pull_requests"],
    }
    return {**{k: v for k, v in check_run.items() if k != "check_run"}, "check_suite": suite}


def _dispatched(server: Server, delivery: str) -> bool:
    found = server.ledger.delivery(delivery)
    return found is not None and found.dispatched_at is not None


def _deliver(server: Server, event: str, payload: dict[str, Any]) -> None:
    delivery = str(uuid.uuid4())
    assert server.deliver(event, payload, delivery=delivery).status_code == 202
    wait_for(lambda: _dispatched(server, delivery), what=f"the {event} delivery handled")


def _with_pr(github: StandInGitHub, tmp_path: Path, pipeline: FakePipeline) -> tuple[Server, int]:
    server = serve(settings_for(github, tmp_path / "data"), pipeline=pipeline)
    server.deliver("issues", adjust(fixture("issues.labeled"), issue=1, sender="alice", label="repomind"))
    wait_for(lambda: github.state.pulls(REPO), what="the PR")
    wait_for(lambda: server.ledger.all_jobs()[0].state is JobState.SUCCEEDED)
    return server, github.state.pulls(REPO)[0].number


def _repomind_runs(github: StandInGitHub, sha: str | None = None) -> list[dict[str, Any]]:
    return [
        r for r in github.state.check_runs(REPO) if r["name"] == "Repomind" and sha in (None, r["head_sha"])
    ]


def test_the_pr_head_gets_a_repomind_check_in_progress_then_the_verdict_with_lint_annotations(
    github: StandInGitHub, tmp_path: Path
) -> None:
    lint = (
        LintProblem("calc.py", 2, "undefined-name", "undefined name 'b2'"),  # an added line
        LintProblem("calc.py", 1, "undefined-name", "undefined name 'zz'"),  # not changed: no annotation
    )
    pipeline = FakePipeline(edits={"calc.py": FIXED}, lint=lint)
    server, pr = _with_pr(github, tmp_path, pipeline)
    try:
        first_head = github.state.get_pull(REPO, pr).head_sha
        [run] = _repomind_runs(github)
        assert run["head_sha"] == first_head and run["external_id"] == "1"
        assert run["history"] == [("in_progress", None)]  # in progress first, then completed
        assert (run["status"], run["conclusion"]) == ("completed", "success")
        assert run["output"]["title"].startswith("Verified: 1 test(s)")
        assert "| `tests/test_calc.py::test_add` | ❌ failed | ✅ passes |" in run["output"]["text"]
        assert [
            (a["path"], a["start_line"], a["annotation_level"], a["message"]) for a in run["annotations"]
        ] == [("calc.py", 2, "failure", "undefined name 'b2'")]
        assert "### Test evidence" in github.state.pulls(REPO)[0].body  # the PR body keeps its table

        # a review asks for changes: while the revision runs, the PR's check says so
        release = threading.Event()
        pipeline.gate, pipeline.lint = release.is_set, ()
        pipeline.edits = {"calc.py": 'def add(a, b):\n    """Sum."""\n    return a + b\n'}
        payload = _pr_payload("pull_request_review.submitted", pr)
        payload["review"].update(id=555, state="changes_requested", body="Add a docstring.")
        server.deliver("pull_request_review", payload)
        running = wait_for(
            lambda: [r for r in _repomind_runs(github, first_head) if r["status"] == "in_progress"],
            what="the check in progress during the revision",
        )
        assert running[0]["external_id"] == "2"
        release.set()
        wait_for(lambda: server.ledger.all_jobs()[1].state is JobState.SUCCEEDED, what="the revision")
    finally:
        server.stop()
    new_head = github.state.get_pull(REPO, pr).head_sha
    assert new_head != first_head
    old = {r["external_id"]: r for r in _repomind_runs(github, first_head)}
    assert (old["2"]["status"], old["2"]["conclusion"]) == ("completed", "neutral")  # superseded by the push
    [latest] = _repomind_runs(github, new_head)
    assert latest["history"] == [("in_progress", None)] and latest["conclusion"] == "success"
    assert latest["annotations"] == []


CONFIG = ".github/repomind.yml"


@pytest.fixture
def following(tmp_path: Path) -> Iterator[StandInGitHub]:
    """acme/calc with ``follow_ci: true``."""
    with StandInGitHub(tmp_path / "github-ci") as gh:
        gh.add_repo(REPO, make_git_repo(tmp_path / "src-ci", {**CALC, CONFIG: "follow_ci: true\n"}))
        gh.state.open_issue(REPO, "add() subtracts", "calc.add(2, 3) returns -1.", user="alice")
        gh.state.set_permission(REPO, "alice", "maintain")
        yield gh


def _ci_failure(
    gh: StandInGitHub, sha: str, *, name: str = "ci / tests", slug: str = "github-actions"
) -> int:
    output = CheckOutput(
        "1 test failed",
        "pytest: 1 failed, 2 passed",
        f"tests/test_calc.py::test_add FAILED\n{LOG}",
        (CheckAnnotation("calc.py", 2, 2, "failure", "add() returns a - b"),),
    )
    return gh.state.add_check_run(REPO, sha, name=name, conclusion="failure", output=output, app_slug=slug).id


def test_a_failing_ci_check_starts_exactly_one_revision_with_its_log(
    following: StandInGitHub, tmp_path: Path
) -> None:
    github = following
    pipeline = FakePipeline(edits={"calc.py": FIXED})
    server, pr = _with_pr(github, tmp_path, pipeline)
    try:
        head = github.state.get_pull(REPO, pr).head_sha
        # the bot's own check failing is never a reason to revise
        own = github.state.create_check_run(
            REPO,
            name="Repomind",
            head_sha=head,
            status="completed",
            conclusion="failure",
            output=CheckOutput("x", "y"),
        )
        _deliver(server, "check_run", _check_run_payload(github, own.id, pr))
        assert len(server.ledger.all_jobs()) == 1

        pipeline.edits = {"calc.py": "def add(a, b):\n    return b + a\n"}
        failing = _check_run_payload(github, _ci_failure(github, head), pr)
        _deliver(server, "check_run", failing)
        _deliver(server, "check_run", failing)  # GitHub redelivers (a new delivery id)
        _deliver(server, "check_suite", _suite_payload(failing))  # and the suite fails too
        wait_for(lambda: server.ledger.all_jobs()[-1].state is JobState.SUCCEEDED, what="the revision")
        assert len(server.ledger.all_jobs()) == 2

        # a failure reported for the old head after the revision pushed a new one is stale
        _deliver(server, "check_run", failing)
    finally:
        server.stop()
    jobs = server.ledger.all_jobs()
    assert len(jobs) == 2
    revision = jobs[1]
    assert (revision.trigger, revision.command, revision.requested_by) == ("ci", "revise", "alice")
    assert revision.args["head_sha"] == head and revision.args["checks"] == ["ci / tests"]
    feedback = pipeline.calls[-1]["hints"].feedback  # type: ignore[attr-defined]
    assert LOG in feedback and "`calc.py` line 2 (failure): add() returns a - b" in feedback
    assert 'Check "ci / tests": failure' in feedback and "1 test failed" in feedback
    assert github.state.get_pull(REPO, pr).head_sha != head


def test_ci_revisions_of_one_pr_are_capped(
    following: StandInGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A revision whose new head fails CI again starts the next only up to the cap (here 1)."""
    monkeypatch.setattr("repomind.bot.ci.MAX_CI_REVISIONS", 1)
    github = following
    pipeline = FakePipeline(edits={"calc.py": FIXED})
    server, pr = _with_pr(github, tmp_path, pipeline)
    try:
        head = github.state.get_pull(REPO, pr).head_sha
        pipeline.edits = {"calc.py": "def add(a, b):\n    return b + a\n"}
        _deliver(server, "check_run", _check_run_payload(github, _ci_failure(github, head), pr))
        wait_for(lambda: server.ledger.all_jobs()[-1].state is JobState.SUCCEEDED, what="the revision")
        new_head = github.state.get_pull(REPO, pr).head_sha
        assert new_head != head
        _deliver(server, "check_run", _check_run_payload(github, _ci_failure(github, new_head), pr))
    finally:
        server.stop()
    assert [j.trigger for j in server.ledger.all_jobs()] == ["label", "ci"]


def test_follow_ci_is_off_by_default(github: StandInGitHub, tmp_path: Path) -> None:
    server, pr = _with_pr(github, tmp_path, FakePipeline(edits={"calc.py": FIXED}))
    try:
        head = github.state.get_pull(REPO, pr).head_sha
        _deliver(server, "check_run", _check_run_payload(github, _ci_failure(github, head), pr))
    finally:
        server.stop()
    assert len(server.ledger.all_jobs()) == 1


def test_a_failing_check_on_a_pr_the_bot_did_not_open_is_ignored(
    following: StandInGitHub, tmp_path: Path
) -> None:
    github = following
    server = serve(settings_for(github, tmp_path / "data"), pipeline=FakePipeline(edits={"calc.py": FIXED}))
    try:
        from tests.bot.helpers import bot_pull

        bot_pull(github)  # the branch exists
        theirs = github.state.open_pull(REPO, head="repomind/issue-1", user="mallory")
        head = github.state.get_pull(REPO, theirs).head_sha
        _deliver(server, "check_run", _check_run_payload(github, _ci_failure(github, head), theirs))
    finally:
        server.stop()
    assert server.ledger.all_jobs() == []


def test_added_lines_and_the_verdict() -> None:
    diff = (
        "diff --git a/calc.py b/calc.py\n--- a/calc.py\n+++ b/calc.py\n@@ -1,3 +1,4 @@\n"
        " def add(a, b):\n-    return a - b\n+    return a + b\n+    # done\n \n"
        "--- /dev/null\n+++ b/new.py\n@@ -0,0 +1,2 @@\n+x = 1\n+y = 2\n"
    )
    assert added_lines(diff) == {"calc.py": {2, 3}, "new.py": {1, 2}}
    notes = lint_annotations(
        (LintProblem("new.py", 2, "syntax", "bad"), LintProblem("calc.py", 1, "syntax", "old")), diff
    )
    assert [(a.path, a.start_line) for a in notes] == [("new.py", 2)]
    verified = PipelineOutcome(OutcomeStatus.SUCCESS, evidence=TestEvidence(fixed=("t",), verified=True))
    assert conclusion("pr-ready", verified) == "success"
    assert conclusion("pr-ready", PipelineOutcome(OutcomeStatus.SUCCESS)) == "neutral"
    assert conclusion("no-patch", PipelineOutcome(OutcomeStatus.FAILED)) == "failure"
    assert conclusion("error", None) == "failure"
    assert conclusion("cancelled", None) == "neutral"
