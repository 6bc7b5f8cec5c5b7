"""A patch that hides the bug is not a fix: `solve` end to end with the real Docker sandbox, per-test
outcomes read from pytest's JUnit report in the container."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from repomind.pipeline.llm import LiteLLMModel
from repomind.pipeline.solve import Category, SolveReport, SolveRequest, solve
from repomind.sandbox import DockerSandbox
from repomind.testing import StandInLLMServer, make_git_repo
from tests.pipeline import solve_fixtures as fx

pytestmark = pytest.mark.docker
ADD, MUL = "tests/test_ops.py::test_add", "tests/test_ops.py::test_mul"


def solve_once(docker_client: Any, tmp_path: Path, reply: str) -> SolveReport:
    repo = make_git_repo(tmp_path / "repo", fx.FILES)
    with StandInLLMServer([reply]) as server:
        model = LiteLLMModel("openai/stand-in", api_base=server.url, timeout_s=30)
        request = SolveRequest(str(repo), fx.ISSUE, tmp_path / "run", max_attempts=1)
        return solve(request, model=model, sandbox=DockerSandbox(docker_client))


@pytest.mark.parametrize(("reply", "outcome"), [(fx.XFAIL_ADD, "xfailed"), (fx.SKIP_ADD, "skipped")])
def test_making_the_issue_test_xfail_or_skip_is_not_a_fix(
    docker_client: Any, tmp_path: Path, reply: str, outcome: str
) -> None:
    report = solve_once(docker_client, tmp_path, reply)
    assert not report.success and not report.verified
    [attempt] = report.attempts
    assert attempt.category is Category.TEST_FAILURE
    tests = attempt.tests
    assert tests["before"]["results"][ADD] == "failed"
    assert tests["after"]["results"][ADD] == outcome
    assert tests["after"]["source"] == "junit"
    assert tests["verdict"]["fail_to_pass"] == [] and tests["verdict"]["issue_failing"] == [ADD]
    assert f"{ADD} ({outcome})" in attempt.summary


def test_a_passing_test_that_xfails_after_is_a_regression(docker_client: Any, tmp_path: Path) -> None:
    report = solve_once(docker_client, tmp_path, fx.FIX_XFAIL_MUL)
    assert not report.success
    [attempt] = report.attempts
    assert attempt.category is Category.REGRESSION
    assert attempt.tests["after"]["results"] == {ADD: "passed", MUL: "xfailed"}
    assert attempt.tests["verdict"]["regressions"] == [MUL]


def test_a_passing_test_that_vanishes_after_is_a_regression(docker_client: Any, tmp_path: Path) -> None:
    report = solve_once(docker_client, tmp_path, fx.FIX_DESELECT_MUL)
    assert not report.success
    [attempt] = report.attempts
    assert attempt.category is Category.REGRESSION
    assert attempt.tests["after"]["results"] == {ADD: "passed"}
    assert attempt.tests["verdict"]["regressions"] == [MUL]
    assert f"{MUL} (missing)" in attempt.summary


def test_the_real_fix_is_verified_from_the_report(docker_client: Any, tmp_path: Path) -> None:
    report = solve_once(docker_client, tmp_path, fx.FIX)
    assert report.success and report.verified
    [attempt] = report.attempts
    assert attempt.tests["after"]["source"] == "junit"
    assert attempt.tests["verdict"]["fail_to_pass"] == [ADD]
    assert "repomind-junit" not in (tmp_path / "run" / "patch.diff").read_text()
