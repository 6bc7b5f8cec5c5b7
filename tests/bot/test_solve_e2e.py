"""End to end with the real pipeline: GitHub's ``issues.labeled`` payload, signed, into the real app on
loopback; the GitHub stand-in (REST + git smart HTTP) holding a fixture repository with a failing test;
litellm against the scripted OpenAI-compatible stand-in; real localisation (no embedder, a calibration in
the data dir); and the real Docker sandbox running the tests before and after each patch."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from repomind.bot.github import gitops
from repomind.store import JobState
from repomind.testing import StandInGitHub, StandInLLMServer, make_git_repo
from repomind.testing.github.state import CommentState
from tests.bot.helpers import OPERATOR, REPO, Server, adjust, fixture, serve, settings_for, wait_for
from tests.bot.test_solve_pipeline import NARROW, WIDE
from tests.pipeline import solve_fixtures as fx

TITLE, _, BODY = fx.ISSUE.partition("\n\n")
BRANCH = "repomind/issue-1"


def start(
    tmp_path: Path, llm: StandInLLMServer, *, config: str | None = None, wide: bool = False
) -> tuple[StandInGitHub, Server]:
    """The GitHub stand-in with acme/calc (fx.FILES: test_add fails), issue #1 by maintainer alice, and
    Repomind with the default pipeline (``repomind.bot.solving.solve:make_pipeline``) pointed at ``llm``."""
    files = {**fx.FILES, **({".github/repomind.yml": config} if config else {})}
    github = StandInGitHub(tmp_path / "github").start()
    github.add_repo(REPO, make_git_repo(tmp_path / "src-calc", files))
    github.state.open_issue(REPO, TITLE, BODY, user="alice")
    github.state.set_permission(REPO, "alice", "maintain")
    data = tmp_path / "data"
    settings = settings_for(
        github,
        data,
        model="openai/stand-in",
        llm_api_base=llm.url,
        embedding_model="none",
        job_lease_s=20.0,
    )
    (WIDE if wide else NARROW).save(settings.calibration_file)
    server = serve(settings, pipeline=None)
    server.github_state = github.state
    return github, server


@pytest.fixture
def stop() -> Iterator[list[Any]]:
    running: list[Any] = []
    yield running
    for one in reversed(running):
        one.stop()


def label(server: Server) -> None:
    payload = adjust(fixture("issues.labeled"), issue=1, sender="alice", label="repomind")
    payload["issue"].update(title=TITLE, body=BODY)  # the issue as GitHub sends it with the event
    resp = server.deliver("issues", payload)
    assert resp.status_code == 202, resp.text


def status_comment(github: StandInGitHub) -> CommentState:
    [status] = [c for c in github.state.comments_on(REPO, 1) if "repomind:job:1" in c.body]
    return status


def job_state(server: Server) -> JobState | None:
    jobs = server.ledger.all_jobs()
    return jobs[0].state if jobs else None


def pytest_in(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_ops.py"],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.docker
def test_label_to_a_draft_pr_whose_branch_passes_the_failing_test(
    docker_client: Any, tmp_path: Path, stop: list[Any]
) -> None:
    llm = StandInLLMServer([fx.FIX]).__enter__()
    stop.append(llm)
    github, server = start(tmp_path, llm)
    stop.extend([github, server])
    label(server)
    wait_for(lambda: job_state(server) in (JobState.SUCCEEDED, JobState.FAILED), timeout=300, what="job")
    assert job_state(server) is JobState.SUCCEEDED, status_comment(github).body
    state = github.state
    assert any(r["content"] == "eyes" and r["issue_number"] == 1 for r in state.reactions)

    # one status comment, edited in place: the calibrated set, the attempt and its test outcome
    [only] = state.comments_on(REPO, 1)
    body = only.body
    assert "draft PR ready" in body and "With 90% confidence the change is in" in body
    assert "| `calc/ops.py` |" in body
    assert "| 1 | ✅ passed: 1 test(s) tied to the issue failed before and pass after | 2 / 0 |" in body
    assert "model: `openai/stand-in`" in body
    # ... edited as the run advanced: the set was shown while the patch was being written and tested
    assert any(
        "Writing and testing a patch" in old and "calc/ops.py" in old and "#### Attempts" not in old
        for old in only.history
    )

    # the model saw the issue (hidden HTML stripped) and the calibrated file
    [prompt] = llm.prompts()
    assert TITLE in prompt and "IGNORE ALL PREVIOUS" not in prompt and "## calc/ops.py" in prompt

    # a draft PR from repomind/issue-1 with the evidence
    [pr] = state.pulls(REPO)
    assert pr.pull is not None and pr.pull.draft and pr.pull.head == BRANCH
    assert "| `tests/test_ops.py::test_add` | ❌ failed | ✅ passes |" in pr.body
    assert "| `tests/test_ops.py::test_mul` | ✅ passed | ✅ passes |" in pr.body
    assert "Changes `calc/ops.py`" in pr.body and "Fixes #1" in pr.body

    # the branch, cloned from the stand-in remote with a token, makes the failing test pass
    token = state.issue_token(77).token
    url = state.clone_url(REPO)
    fixed = Path(gitops.clone(url, tmp_path / "check-branch", token=token, branch=BRANCH).working_dir)
    main = Path(gitops.clone(url, tmp_path / "check-main", token=token).working_dir)
    assert pytest_in(main).returncode == 1
    result = pytest_in(fixed)
    assert result.returncode == 0, result.stdout
    assert "2 passed" in result.stdout
    # the run page holds the live log: the set, then the attempt's test outcome
    page = httpx.get(f"{server.url}/runs/1", headers=OPERATOR).text
    assert "with 90% confidence the change is in: calc/ops.py" in page
    assert "attempt 1: passed: 1 test(s) tied to the issue failed before and pass after" in page
    # the run's artifacts are in the data dir
    [run] = (server.settings.runs_dir).iterdir()
    assert (run / "report.json").is_file() and (run / "attempt-1" / "tests.json").is_file()
    # ... and the job's result names them, so that feedback on the PR joins the run's trajectory
    [job] = server.ledger.all_jobs()
    assert job.result is not None
    assert job.result["run_dir"] == str(run) and job.result["run_id"] == run.name


@pytest.mark.docker
def test_a_failing_reply_makes_no_pr_and_says_why(
    docker_client: Any, tmp_path: Path, stop: list[Any]
) -> None:
    llm = StandInLLMServer([fx.WRONG]).__enter__()
    stop.append(llm)
    github, server = start(tmp_path, llm, config="max_attempts: 1\n")
    stop.extend([github, server])
    label(server)
    wait_for(lambda: job_state(server) in (JobState.SUCCEEDED, JobState.FAILED), timeout=300, what="job")
    assert job_state(server) is JobState.FAILED
    body = status_comment(github).body
    assert "no passing patch" in body
    assert "None of the 1 attempt passed the tests." in body
    assert "Attempt 1: the issue's tests still fail" in body
    assert "| 1 | ❌ test-failure: the issue's test(s) still fail" in body and "| 1 / 1 |" in body
    assert "Nothing was pushed" in body
    assert github.state.pulls(REPO) == [] and BRANCH not in github.state.branches(REPO)
    assert len(llm.requests) == 1


class GatedLLM(StandInLLMServer):
    """Holds each reply until ``release`` is set, so that a test can act while a request is in flight."""

    def __init__(self, replies: list[str]) -> None:
        super().__init__(replies)
        self.asked = threading.Event()
        self.release = threading.Event()

    def answer(self, path: str, body: dict[str, Any], authorization: str | None) -> tuple[int, Any]:
        self.asked.set()
        self.release.wait(120)
        return super().answer(path, body, authorization)


@pytest.mark.docker
def test_cancel_during_a_real_run_stops_at_the_next_stage_boundary(
    docker_client: Any, tmp_path: Path, stop: list[Any]
) -> None:
    llm = GatedLLM([fx.WRONG, fx.FIX]).__enter__()
    stop.append(llm)
    github, server = start(tmp_path, llm)
    stop.extend([github, server])
    label(server)
    assert llm.asked.wait(240), "the run never asked the model"
    comment(server, "/repomind cancel")
    wait_for(lambda: server.ledger.all_jobs()[0].cancel_requested, what="the cancel to be recorded")
    llm.release.set()  # attempt 1 goes on (its tests run), then the run stops before attempt 2
    wait_for(lambda: job_state(server) is JobState.CANCELLED, timeout=240, what="cancelled")
    body = status_comment(github).body
    assert "cancelled" in body and "| 1 | ❌ test-failure" in body
    assert len(llm.requests) == 1 and llm.remaining == 1  # the passing reply was never asked for
    assert github.state.pulls(REPO) == [] and BRANCH not in github.state.branches(REPO)


@pytest.mark.docker
def test_a_wide_set_asks_for_a_hint_and_an_include_pin_answers_it(
    docker_client: Any, tmp_path: Path, stop: list[Any]
) -> None:
    llm = StandInLLMServer([fx.FIX]).__enter__()
    stop.append(llm)
    github, server = start(tmp_path, llm, config="max_set_size: 2\n", wide=True)
    stop.extend([github, server])
    label(server)
    wait_for(lambda: job_state(server) is JobState.FAILED, timeout=120, what="the job to stop")
    body = status_comment(github).body
    assert "needs a hint" in body and "more than `max_set_size` (2)" in body
    assert "/repomind include PATH" in body and "--anyway" in body
    assert "| `calc/ops.py` |" in body and "With 90% confidence" in body
    assert llm.requests == [] and github.state.pulls(REPO) == []

    # the maintainer pins the file and asks again: the run goes on with calc/ops.py first
    comment(server, "/repomind include calc/ops.py")
    wait_for(lambda: server.ledger.pins(REPO, 1) == (["calc/ops.py"], []), what="the pin")
    comment(server, "/repomind fix")
    wait_for(lambda: github.state.pulls(REPO), timeout=300, what="a draft PR")
    [prompt] = llm.prompts()
    assert prompt.index("## calc/ops.py") < prompt.index("## tests/test_ops.py")
    [pr] = github.state.pulls(REPO)
    table = pr.body[pr.body.index("### Calibrated file set") :]
    assert table.index("| `calc/ops.py` |") < table.index("| `tests/test_ops.py` |")
    assert "Signals: bm25, path, identifier, pins." in table


def comment(server: Server, text: str) -> None:
    """alice comments ``text`` on issue #1, and GitHub delivers issue_comment.created."""
    cid = server.github_state.comment_as(REPO, 1, text, user="alice")
    payload = adjust(
        fixture("issue_comment.created.with-installation"), issue=1, sender="alice", comment=text
    )
    payload["comment"]["id"] = cid
    payload["issue"].pop("pull_request", None)
    payload["issue"].update(title=TITLE, body=BODY)
    assert server.deliver("issue_comment", payload).status_code == 202
