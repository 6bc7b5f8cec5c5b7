"""The solve loop with the fakes: ScriptedModel for the LLM, FakeSandbox running the tests on the host."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from repomind.pipeline.solve import Category, SolveReport, SolveRequest, read_trajectory, solve
from repomind.testing import FakeSandbox, ScriptedModel, git, make_git_repo
from tests.pipeline import solve_fixtures as fx


def run(
    tmp_path: Path,
    replies: list[str],
    *,
    files: dict[str, str] | None = None,
    issue: str = fx.ISSUE,
    script: Any = fx.run_on_host,
    **request: Any,
) -> tuple[SolveReport, ScriptedModel, FakeSandbox, Path]:
    repo = tmp_path / "repo"
    if not repo.exists():
        make_git_repo(repo, files or fx.FILES)
    model = ScriptedModel(list(replies), cost_per_token=1e-6)
    box = FakeSandbox(script=script)
    out = tmp_path / "run"
    report = solve(SolveRequest(str(repo), issue, out, **request), model=model, sandbox=box)
    return report, model, box, out


def test_first_attempt_passes_and_writes_every_artifact(tmp_path: Path) -> None:
    report, _model, box, out = run(tmp_path, [fx.FIX])
    assert (report.success, report.verified, report.stopped) == (True, True, "passed")
    data = json.loads((out / "report.json").read_text())
    assert data["success"] is True and data["attempts"] == 1 and data["categories"] == ["passed"]
    assert data["tokens"] == report.budget.tokens > 0
    assert data["cost_usd"] == pytest.approx(data["tokens"] * 1e-6)
    assert data["tests"]["fail_to_pass"] == ["tests/test_ops.py::test_add"]
    assert "tests/test_ops.py::test_mul" in data["tests"]["pass_to_pass"]
    for rel in (
        "localise.json",
        "attempt-1/prompt.json",
        "attempt-1/reply.md",
        "attempt-1/edits.json",
        "attempt-1/tests.json",
        "patch.diff",
        "trajectory.jsonl",
    ):
        assert (out / rel).is_file(), rel
    # The diff applies with git apply at the starting revision, and the user's repository is untouched.
    repo = tmp_path / "repo"
    assert git(repo, "status", "--porcelain") == ""
    subprocess.run(["git", "-C", str(repo), "apply", "--check", str(out / "patch.diff")], check=True)
    assert "+    return a + b" in (out / "patch.diff").read_text()
    # Baseline and after runs went through the sandbox, on the selected test file.
    assert all(any(a.startswith("tests/test_ops.py") for a in argv) for argv in box.commands)
    assert len(box.commands) == 3  # before, after, and the fixed test rerun on the unpatched code
    assert not (out / "scratch").exists()
    types = [e["type"] for e in read_trajectory(out / "trajectory.jsonl")]
    assert types[0] == "run-start" and types[-1] == "run-end"
    assert {
        "localise",
        "environment",
        "prompt",
        "reply",
        "edits",
        "apply",
        "lint",
        "tests",
        "attempt-end",
    } <= set(types)


def test_hidden_html_never_reaches_the_model(tmp_path: Path) -> None:
    _report, model, _box, _out = run(tmp_path, [fx.FIX])
    prompt = model.prompts()[0]
    assert "IGNORE ALL PREVIOUS INSTRUCTIONS" not in prompt
    assert "`add(2, 3)` gives -1 instead of 5" in prompt
    assert "def add(a, b):\n    return a - b" in prompt  # the candidate file, found from the issue


def test_second_attempt_carries_the_first_failure(tmp_path: Path) -> None:
    report, model, _box, out = run(tmp_path, [fx.WRONG, fx.FIX])
    assert report.success and [a.category for a in report.attempts] == [
        Category.TEST_FAILURE,
        Category.PASSED,
    ]
    second = model.prompts()[1]
    assert "Attempt 1: test-failure" in second
    assert "return a * b" in second  # its edits
    assert "assert 6 == 5" in second  # its evidence: the failing test's output
    first = model.prompts()[0]
    assert "Earlier attempts" not in first
    # Each attempt started from the starting revision: the final diff holds only the second edit.
    diff = (out / "patch.diff").read_text()
    assert "+    return a + b" in diff and "a * b\n+" not in diff


@pytest.mark.parametrize(
    ("reply", "category", "evidence"),
    [
        (fx.NO_EDIT, Category.NO_EDITS, ""),
        (fx.AMBIGUOUS, Category.EDIT_NOT_APPLIED, "return a * b"),
        (fx.UNDEFINED, Category.UNDEFINED_NAME, "plus"),
        (fx.SYNTAX, Category.SYNTAX_ERROR, "calc/ops.py"),
        (fx.BREAKS_MUL, Category.REGRESSION, "test_mul"),
        (fx.block("calc/ops.py", "    return a - b\n", "    return a - b\n"), Category.EMPTY_PATCH, ""),
    ],
)
def test_failed_attempts_are_categorised(
    tmp_path: Path, reply: str, category: Category, evidence: str
) -> None:
    report, _model, box, out = run(tmp_path, [reply], max_attempts=1)
    assert not report.success
    assert report.attempts[0].category is category
    assert evidence in report.attempts[0].evidence + report.attempts[0].summary
    data = json.loads((out / "report.json").read_text())
    assert data["categories"] == [category.value] and data["success"] is False
    if category in (
        Category.NO_EDITS,
        Category.EDIT_NOT_APPLIED,
        Category.SYNTAX_ERROR,
        Category.UNDEFINED_NAME,
        Category.EMPTY_PATCH,
    ):
        assert box.commands == []  # nothing ran in the sandbox for an attempt that never got to tests


def test_a_pre_existing_failure_is_not_blamed(tmp_path: Path) -> None:
    report, _model, _box, _out = run(tmp_path, [fx.FIX], files={**fx.FILES, **fx.BROKEN})
    assert report.success
    verdict = report.attempts[0].tests["verdict"]
    assert verdict["still_failing"] == ["tests/test_legacy.py::test_times_legacy"]
    assert verdict["regressions"] == []
    assert "not blamed" in verdict["summary"]


def test_unverified_is_not_a_pass(tmp_path: Path) -> None:
    issue = "add() subtracts instead of adding."  # names no test, and no test of add() exists
    report, model, _box, out = run(
        tmp_path, [fx.FIX, fx.FIX], files=fx.UNTESTED_ADD, issue=issue, max_attempts=2
    )
    assert (report.success, report.verified) == (False, False)
    assert [a.category for a in report.attempts] == [Category.UNVERIFIED, Category.UNVERIFIED]
    assert "add a test that fails on the current code" in model.prompts()[1]
    data = json.loads((out / "report.json").read_text())
    assert data["patch_category"] == "unverified" and data["verified"] is False
    assert "+    return a + b" in (out / "patch.diff").read_text()  # the best attempt is still kept


def test_a_reproduction_test_written_by_the_model_verifies_the_fix(tmp_path: Path) -> None:
    issue = "add() subtracts instead of adding."
    new_test = fx.block(
        "tests/test_issue.py",
        "",
        "from calc.ops import add\n\n\ndef test_sum():\n    assert add(1, 1) == 2\n",
    )
    report, _model, _box, _out = run(tmp_path, [fx.FIX + new_test], files=fx.UNTESTED_ADD, issue=issue)
    assert report.success and report.verified
    verdict = report.attempts[0].tests["verdict"]
    assert verdict["fail_to_pass"] == verdict["issue_named"] == ["tests/test_issue.py::test_sum"]
    assert verdict["unnamed"] == []


def test_an_existing_test_the_issue_does_not_name_that_turns_to_passing_verifies(tmp_path: Path) -> None:
    """SWE-bench's FAIL_TO_PASS: the failing test that shows the issue is evidence though unnamed; a
    failing test that no patch touches is still not blamed."""
    issue = "add() subtracts instead of adding."  # names no test
    files = {**fx.FILES, **fx.BROKEN}
    report, _model, _box, out = run(tmp_path, [fx.FIX], files=files, issue=issue)
    assert (report.success, report.verified, report.stopped) == (True, True, "passed")
    verdict = report.attempts[0].tests["verdict"]
    assert verdict["fail_to_pass"] == verdict["unnamed"] == ["tests/test_ops.py::test_add"]
    assert verdict["issue_named"] == [] and verdict["regressions"] == []
    assert verdict["still_failing"] == ["tests/test_legacy.py::test_times_legacy"]
    assert "none named in the issue" in verdict["summary"] and "not blamed" in verdict["summary"]
    assert json.loads((out / "report.json").read_text())["tests"]["unnamed"] == verdict["unnamed"]


def test_budget_stops_the_run_with_a_report(tmp_path: Path) -> None:
    first, _model, _box, _out = run(tmp_path / "probe", [fx.WRONG], max_attempts=1)
    budget = first.budget.tokens + 10  # enough for one attempt, not for the second, longer prompt
    report, model, _box, out = run(tmp_path, [fx.WRONG, fx.FIX], budget_tokens=budget)
    assert report.stopped == "budget" and not report.success
    assert len(model.conversations) == 1 and len(report.attempts) == 1
    data = json.loads((out / "report.json").read_text())
    assert data["stopped"] == "budget" and "token budget" in data["message"]
    assert any(e["type"] == "budget-exceeded" for e in read_trajectory(out / "trajectory.jsonl"))


def test_flaky_regression_is_rerun_and_not_blamed(tmp_path: Path) -> None:
    calls: list[tuple[str, ...]] = []

    def flaky(argv: tuple[str, ...], tree: Path) -> tuple[int, str, str]:
        calls.append(argv)
        code, out, err = fx.run_on_host(argv, tree)
        if len(calls) == 2:  # the run after the patch: test_mul fails once
            out = out.replace(
                "PASSED tests/test_ops.py::test_mul", "FAILED tests/test_ops.py::test_mul - boom"
            )
        return code, out, err

    report, _model, _box, _out = run(tmp_path, [fx.FIX], script=flaky)
    assert report.success
    assert report.attempts[0].tests["verdict"]["flaky"] == ["tests/test_ops.py::test_mul"]
    assert any("tests/test_ops.py::test_mul" in argv for argv in calls[2:])


def test_a_timeout_is_categorised(tmp_path: Path) -> None:
    def slow(argv: tuple[str, ...], tree: Path) -> tuple[int, str, str]:
        return (
            (124, "", "killed")
            if "return a + b" in (tree / "calc/ops.py").read_text()
            else fx.run_on_host(argv, tree)
        )

    report, *_ = run(tmp_path, [fx.FIX], script=slow, max_attempts=1)
    assert report.attempts[0].category is Category.TIMEOUT


def test_tests_that_cannot_run_are_an_environment_error(tmp_path: Path) -> None:
    report, *_ = run(tmp_path, [fx.FIX], script=lambda _a, _t: (4, "", "ERROR: usage"), max_attempts=1)
    assert report.attempts[0].category is Category.ENVIRONMENT_ERROR


def test_configured_test_command_and_instructions(tmp_path: Path) -> None:
    files = {
        **fx.FILES,
        ".github/repomind.yml": "test_command: python -m pytest tests\nmax_attempts: 1\n",
        "AGENTS.md": "Always keep functions pure.\n",
    }
    report, model, box, _out = run(tmp_path, [fx.FIX], files=files)
    assert report.success and report.max_attempts == 1
    assert box.commands[0][-1] == "python -m pytest tests"
    assert "Always keep functions pure." in model.prompts()[0]


def test_bad_repository_and_revision_are_usage_errors(tmp_path: Path) -> None:
    from repomind.errors import UsageError

    with pytest.raises(UsageError, match="is not a directory"):
        solve(
            SolveRequest(str(tmp_path / "nope"), "x", tmp_path / "o"),
            model=ScriptedModel([]),
            sandbox=FakeSandbox(),
        )
    make_git_repo(tmp_path / "r", fx.FILES)
    with pytest.raises(UsageError, match="--rev nosuch is not a commit"):
        solve(
            SolveRequest(str(tmp_path / "r"), "x", tmp_path / "o2", rev="nosuch"),
            model=ScriptedModel([]),
            sandbox=FakeSandbox(),
        )


def test_a_model_error_ends_the_run_with_a_report(tmp_path: Path) -> None:
    report, _model, _box, out = run(tmp_path, [fx.WRONG])  # the second call finds no reply left
    assert report.stopped == "llm-error" and "no reply left" in report.message
    data = json.loads((out / "report.json").read_text())
    assert data["attempts"] == 1 and data["success"] is False and data["patch_category"] == "test-failure"


def test_a_repository_url_is_cloned_and_a_revision_honoured(tmp_path: Path) -> None:
    repo = make_git_repo(tmp_path / "origin", fx.FILES)
    start = git(repo, "rev-parse", "HEAD").strip()
    (repo / "calc/ops.py").write_text(fx.OPS.replace("return a - b", "return a - b - 0"))
    git(repo, "commit", "-qam", "a later commit the run must not see")
    model = ScriptedModel([fx.FIX])
    out = tmp_path / "run"
    report = solve(
        SolveRequest(f"file://{repo}", fx.ISSUE, out, rev=start),
        model=model,
        sandbox=FakeSandbox(script=fx.run_on_host),
    )
    assert report.success and report.commit == start
    assert "return a - b - 0" not in model.prompts()[0]
