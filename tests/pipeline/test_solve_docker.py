"""`solve` end to end: the real Docker sandbox, litellm pointed at the stand-in server on loopback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from repomind.pipeline.llm import LiteLLMModel
from repomind.pipeline.solve import Category, SolveReport, SolveRequest, solve
from repomind.sandbox import DockerSandbox
from repomind.testing import StandInGitHub, StandInLLMServer, git, make_git_repo
from tests.pipeline import solve_fixtures as fx

pytestmark = pytest.mark.docker
REPOMIND = shutil.which("repomind", path=str(Path(sys.executable).parent)) or "repomind"


def run(
    docker_client: Any,
    tmp_path: Path,
    server: StandInLLMServer,
    *,
    files: dict[str, str] | None = None,
    **request: Any,
) -> tuple[SolveReport, Path]:
    repo = make_git_repo(tmp_path / "repo", files or fx.FILES)
    model = LiteLLMModel("openai/stand-in", api_base=server.url, timeout_s=30)
    out = tmp_path / "run"
    report = solve(
        SolveRequest(str(repo), fx.ISSUE, out, **request), model=model, sandbox=DockerSandbox(docker_client)
    )
    return report, out


def test_success_on_the_first_attempt(docker_client: Any, tmp_path: Path) -> None:
    with StandInLLMServer([fx.FIX]) as server:
        report, out = run(docker_client, tmp_path, server)
    assert report.success and report.verified and len(report.attempts) == 1
    data = json.loads((out / "report.json").read_text())
    assert data["success"] is True and data["attempts"] == 1
    assert data["tokens"] > 0 and data["cost_usd"] is None  # the stand-in model has no price
    assert data["tests"]["fail_to_pass"] == ["tests/test_ops.py::test_add"]
    assert "IGNORE ALL PREVIOUS INSTRUCTIONS" not in server.prompts()[0]
    subprocess.run(
        ["git", "-C", str(tmp_path / "repo"), "apply", "--check", str(out / "patch.diff")], check=True
    )


def test_a_failed_attempt_informs_the_second(docker_client: Any, tmp_path: Path) -> None:
    with StandInLLMServer([fx.WRONG, fx.FIX]) as server:
        report, _out = run(docker_client, tmp_path, server)
    assert [a.category for a in report.attempts] == [Category.TEST_FAILURE, Category.PASSED]
    assert report.success
    second = server.prompts()[1]
    assert "Attempt 1: test-failure" in second
    assert "assert 6 == 5" in second  # the failing test's output from the sandbox


def test_a_reply_with_no_valid_edit(docker_client: Any, tmp_path: Path) -> None:
    with StandInLLMServer([fx.NO_EDIT]) as server:
        report, out = run(docker_client, tmp_path, server, max_attempts=1)
    assert not report.success and report.attempts[0].category is Category.NO_EDITS
    assert json.loads((out / "report.json").read_text())["categories"] == ["no-edits"]
    assert (out / "patch.diff").read_text() == ""


def test_an_ambiguous_edit_is_refused(docker_client: Any, tmp_path: Path) -> None:
    with StandInLLMServer([fx.AMBIGUOUS, fx.FIX]) as server:
        report, _out = run(docker_client, tmp_path, server)
    assert [a.category for a in report.attempts] == [Category.EDIT_NOT_APPLIED, Category.PASSED]
    assert "ambiguous" in report.attempts[0].summary.lower()
    assert "edit-not-applied" in server.prompts()[1]


def test_a_budget_that_runs_out(docker_client: Any, tmp_path: Path) -> None:
    with StandInLLMServer([fx.WRONG, fx.FIX]) as server:
        report, out = run(docker_client, tmp_path, server, budget_tokens=1000)
    assert report.stopped == "budget" and not report.success
    assert len(server.requests) == 1 and report.budget.tokens <= 1000
    data = json.loads((out / "report.json").read_text())
    assert data["success"] is False and data["stopped"] == "budget" and data["attempts"] == 1


def test_a_pre_existing_failure_is_not_blamed(docker_client: Any, tmp_path: Path) -> None:
    with StandInLLMServer([fx.FIX]) as server:
        report, _out = run(docker_client, tmp_path, server, files={**fx.FILES, **fx.BROKEN})
    assert report.success
    verdict = report.attempts[0].tests["verdict"]
    assert verdict["still_failing"] == ["tests/test_legacy.py::test_times_legacy"]
    assert verdict["regressions"] == []


def test_cli_end_to_end(docker_client: Any, tmp_path: Path) -> None:
    repo = make_git_repo(tmp_path / "repo", fx.FILES)
    issue = tmp_path / "issue.md"
    issue.write_text(fx.ISSUE)
    out = tmp_path / "out"
    # the scripted replies are the pipeline's (the agent's CLI run is tests/pipeline/agent/)
    env = {**os.environ, "REPOMIND_DATA_DIR": str(tmp_path / "data"), "REPOMIND_STRATEGY": "pipeline"}
    with StandInLLMServer([fx.WRONG, fx.FIX]) as server:
        args = [
            "solve",
            "--repo",
            str(repo),
            "--issue-file",
            str(issue),
            "--model",
            "openai/stand-in",
            "--api-base",
            server.url,
            "--out",
            str(out),
            "--max-attempts",
            "2",
        ]
        res = subprocess.run(
            [REPOMIND, *args], capture_output=True, text=True, env=env, timeout=300, check=False
        )
    assert res.returncode == 0, res.stderr
    assert "passed after 2 attempt(s)" in res.stderr
    data = json.loads((out / "report.json").read_text())
    assert (data["success"], data["attempts"], data["verified"]) == (True, 2, True)
    assert data["categories"] == ["test-failure", "passed"] and data["model"] == "openai/stand-in"
    assert isinstance(data["tokens"], int) and data["cost_usd"] is None
    subprocess.run(["git", "-C", str(repo), "apply", str(out / "patch.diff")], check=True)
    assert "return a + b" in (repo / "calc/ops.py").read_text()
    git(repo, "checkout", "--", ".")

    # Ran, but no patch passed: exit status 1, and the report says so.
    with StandInLLMServer([fx.NO_EDIT]) as server:
        args = [
            "solve",
            "--repo",
            str(repo),
            "--issue-text",
            fx.ISSUE,
            "--model",
            "openai/stand-in",
            "--api-base",
            server.url,
            "--out",
            str(tmp_path / "out2"),
            "--max-attempts",
            "1",
        ]
        res = subprocess.run(
            [REPOMIND, *args], capture_output=True, text=True, env=env, timeout=300, check=False
        )
    assert res.returncode == 1 and "no patch passed" in res.stderr
    assert json.loads((tmp_path / "out2" / "report.json").read_text())["success"] is False

    # --issue URL: the issue is read through the REST API (the stand-in GitHub) with GITHUB_TOKEN.
    with StandInGitHub(tmp_path / "github") as gh, StandInLLMServer([fx.NO_EDIT]) as server:
        gh.add_repo("acme/calc", repo)
        number = gh.state.open_issue("acme/calc", "add() subtracts", fx.ISSUE)
        token = gh.state.issue_token(1).token
        env3 = {**env, "REPOMIND_GITHUB_API_URL": gh.url, "GITHUB_TOKEN": token}

        def solve_issue(number: int, out: str) -> subprocess.CompletedProcess[str]:
            url = f"https://github.com/acme/calc/issues/{number}"
            args = ["solve", "--repo", str(repo), "--issue", url, "--model", "openai/stand-in"]
            args += ["--api-base", server.url, "--out", str(tmp_path / out), "--max-attempts", "1"]
            return subprocess.run(
                [REPOMIND, *args], capture_output=True, text=True, env=env3, timeout=300, check=False
            )

        res = solve_issue(number, "out3")
        assert res.returncode == 1, res.stderr
        assert "add() subtracts" in server.prompts()[0] and "add(2, 3)" in server.prompts()[0]
        assert token not in (tmp_path / "out3" / "trajectory.jsonl").read_text()
        res = solve_issue(99, "out4")
        assert res.returncode != 0 and "GitHub answered 404 for issue acme/calc#99" in res.stderr
