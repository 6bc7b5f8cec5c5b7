"""Only ``passed`` is a pass: verdicts on skips, xfails, xpasses and vanished tests, and how the PR body
and the attempts table show them."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from repomind.bot.render import render
from repomind.bot.solving.outcome import attempt_of, evidence_of
from repomind.bot.solving.pipeline_port import Attempt, PipelineOutcome, TestEvidence
from repomind.pipeline.solve import Category, SolveReport, SolveRequest, solve, verify
from repomind.pipeline.solve.outcome import OutcomeStatus
from repomind.pipeline.solve.reflect import AttemptRecord
from repomind.pipeline.toolchain.python import PythonToolchain
from repomind.testing import FakeSandbox, ScriptedModel, make_git_repo
from tests.pipeline import solve_fixtures as fx

ISSUE = "tests/t.py::test_issue"
compare = functools.partial(verify.compare, toolchain=PythonToolchain())
PLAN = verify.TestPlan(("pytest",), (), False, (ISSUE,), "")


def run(results: dict[str, str], code: int = 1) -> verify.TestRun:
    return verify.TestRun(("pytest",), code, "failed" if code else "ok", results, 0.1, "", "junit")


MUL_ID = "tests/test_ops.py::test_mul"


def _solve_on_host(repo: Path, run: Path, reply: str) -> SolveReport:
    """One attempt with a scripted reply, its tests run on the host through the FakeSandbox."""
    return solve(
        SolveRequest(str(repo), fx.ISSUE, run, max_attempts=1),
        model=ScriptedModel([reply]),
        sandbox=FakeSandbox(script=fx.run_on_host, read_back=fx.read_back_on_host),
    )


@pytest.mark.parametrize("after", ["skipped", "xfailed", "xpassed", "failed", "error", "missing"])
def test_a_test_that_passed_before_and_does_not_pass_after_is_a_regression(after: str) -> None:
    before = run({ISSUE: "failed", "tests/t.py::test_old": "passed"})
    now = {ISSUE: "passed"} | ({} if after == "missing" else {"tests/t.py::test_old": after})
    verdict = compare(before, run(now), PLAN)
    assert not verdict.passed and verdict.category == "regression"
    assert verdict.regressions == ["tests/t.py::test_old"]
    assert "tests/t.py::test_old" not in verdict.pass_to_pass
    if after != "failed":
        assert f"({after})" in verdict.summary


@pytest.mark.parametrize("after", ["skipped", "xfailed", "xpassed", "error"])
def test_the_issue_test_must_pass_after_not_skip_or_xfail(after: str) -> None:
    verdict = compare(run({ISSUE: "failed"}), run({ISSUE: after}), PLAN)
    assert not verdict.passed and not verdict.verified
    assert verdict.category == "test-failure" and verdict.fail_to_pass == []
    assert verdict.issue_failing == [ISSUE] and f"{ISSUE} ({after})" in verdict.summary


def test_skips_as_before_are_shown_not_counted() -> None:
    plan = verify.TestPlan(("pytest",), (), False, ("tests/t.py",), "")
    before = run({ISSUE: "failed", "tests/t.py::test_win": "skipped", "tests/u.py::test_x": "xfailed"})
    after = run({ISSUE: "passed", "tests/t.py::test_win": "skipped", "tests/u.py::test_x": "xfailed"})
    verdict = compare(before, after, plan)
    assert verdict.passed and verdict.fail_to_pass == [ISSUE]
    assert verdict.not_run == ["tests/t.py::test_win", "tests/u.py::test_x"]
    assert verdict.pass_to_pass == [] and verdict.issue_failing == []


def test_the_pr_body_and_the_attempts_show_skips_and_xfails_as_such() -> None:
    skips = {"tests/t.py::test_win": "skipped", "tests/u.py::test_x": "xfailed"}
    tests = {
        "before": {"results": {ISSUE: "failed", **skips}},
        "after": {"results": {ISSUE: "passed", **skips}},
        "verdict": {"fail_to_pass": [ISSUE], "not_run": list(skips)},
    }
    record = AttemptRecord(1, Category.PASSED, "ok", tests=tests, verified=True)
    evidence = evidence_of(record)
    assert evidence.not_run == (
        ("tests/t.py::test_win", "skipped", "skipped"),
        ("tests/u.py::test_x", "xfailed", "xfailed"),
    )
    attempt = attempt_of(record)
    assert (attempt.tests_passed, attempt.tests_failed, attempt.tests_skipped) == (1, 0, 2)
    body = render(
        "pr_body",
        marker="",
        job_id=1,
        issue_number=1,
        summary="s",
        evidence=evidence,
        attempts=(attempt,),
        model="m",
        tokens=1,
        cost_usd=None,
        localisation=None,
        run_url="",
        other_changes=[],
        account=None,  # a pipeline run: no agent account
    )
    assert f"| `{ISSUE}` | ❌ failed | ✅ passes |" in body
    assert "| `tests/t.py::test_win` | ⏭️ skipped | ⏭️ skipped (not counted as passing) |" in body
    assert "| `tests/u.py::test_x` | ⚠️ xfailed (expected to fail) | ⚠️ xfailed" in body
    assert "| 1 / 0 (2 skipped or xfailed, not counted as passing) |" in body
    unverified = render(
        "pr_body",
        marker="",
        job_id=1,
        issue_number=1,
        summary="s",
        evidence=TestEvidence(not_run=(("tests/t.py::test_win", "skipped", "skipped"),)),
        attempts=(Attempt(1, Category.PASSED),),
        model="m",
        tokens=1,
        cost_usd=None,
        localisation=None,
        run_url="",
        other_changes=[],
        account=None,  # a pipeline run: no agent account
    )
    assert "Not counted as passing: `tests/t.py::test_win` (⏭️ skipped)" in unverified
    # the evidence survives the job's stored result
    stored = PipelineOutcome(OutcomeStatus.SUCCESS, evidence=evidence).to_json()
    assert PipelineOutcome.from_json(stored).evidence == evidence


def test_a_patch_that_makes_the_issue_test_xfail_fails_with_the_report_read_back(tmp_path: Path) -> None:
    """The fast path (tests on the host, the report read back through the FakeSandbox)."""
    repo = make_git_repo(tmp_path / "repo", fx.FILES)
    report = _solve_on_host(repo, tmp_path / "run", fx.XFAIL_ADD)
    assert not report.success and not report.verified
    [attempt] = report.attempts
    assert attempt.category is Category.TEST_FAILURE
    assert attempt.tests["after"]["results"]["tests/test_ops.py::test_add"] == "xfailed"
    assert attempt.tests["verdict"]["fail_to_pass"] == []


OTHER = "tests/u.py::test_other"  # an existing test the issue does not name


def test_a_test_the_issue_does_not_name_that_fails_before_and_passes_after_verifies() -> None:
    untied = verify.TestPlan(("pytest",), (), False, (), "")
    legacy = "tests/u.py::test_legacy"
    verdict = compare(
        run({OTHER: "failed", legacy: "failed"}), run({OTHER: "passed", legacy: "failed"}), untied
    )
    assert verdict.passed and verdict.verified and verdict.category is None
    assert verdict.fail_to_pass == verdict.unnamed == [OTHER] and verdict.issue_named == []
    assert verdict.still_failing == [legacy] and verdict.regressions == []  # not blamed
    assert verdict.summary == (
        "1 test(s) failed before and pass after (none named in the issue); "
        "1 failing test(s) failed before too (not blamed)"
    )
    both = compare(run({ISSUE: "failed", OTHER: "failed"}), run({ISSUE: "passed", OTHER: "passed"}), PLAN)
    assert both.passed and both.fail_to_pass == [ISSUE, OTHER]
    assert (both.issue_named, both.unnamed) == ([ISSUE], [OTHER])
    assert "(1 tied to the issue, 1 not)" in both.summary
    assert both.to_json()["unnamed"] == [OTHER]


def test_unnamed_evidence_does_not_excuse_the_issues_own_test_or_a_regression() -> None:
    still = compare(run({ISSUE: "failed", OTHER: "failed"}), run({ISSUE: "failed", OTHER: "passed"}), PLAN)
    assert not still.passed and still.category == "test-failure" and still.issue_failing == [ISSUE]
    old = "tests/u.py::test_old"
    broke = compare(run({OTHER: "failed", old: "passed"}), run({OTHER: "passed", old: "failed"}), PLAN)
    assert not broke.passed and broke.category == "regression" and broke.regressions == [old]
    # a test that did not run before (new, or skipped) is no evidence unless the issue ties it
    new = compare(run({old: "passed"}), run({old: "passed", OTHER: "passed"}), PLAN)
    skipped = compare(run({OTHER: "skipped"}), run({OTHER: "passed"}), PLAN)
    assert new.category == skipped.category == "unverified"


def test_the_flaky_recheck_on_the_unpatched_code_covers_unnamed_evidence(tmp_path: Path) -> None:
    """test_add (not named in the issue) passes on the unpatched code when rerun: flaky, no evidence."""
    calls: list[tuple[str, ...]] = []

    def script(argv: tuple[str, ...], tree: Path) -> tuple[int, str, str]:
        calls.append(argv)
        code, out, err = fx.run_on_host(argv, tree)
        if len(calls) == 3:  # the rerun of the evidence on the unpatched code
            out = out.replace("FAILED tests/test_ops.py::test_add", "PASSED tests/test_ops.py::test_add")
            (tree.parent / f"{tree.name}.junit.xml").unlink(missing_ok=True)
        return code, out, err

    repo = make_git_repo(tmp_path / "repo", fx.FILES)
    box = FakeSandbox(script=script)
    request = SolveRequest(str(repo), "add() subtracts.", tmp_path / "run", max_attempts=1)
    report = solve(request, model=ScriptedModel([fx.FIX]), sandbox=box)
    [attempt] = report.attempts
    assert calls[2][-1:] == ("tests/test_ops.py::test_add",)
    assert attempt.category is Category.UNVERIFIED and not report.success
    verdict = attempt.tests["verdict"]
    assert verdict["fail_to_pass"] == verdict["unnamed"] == [] and verdict["flaky"] == [
        "tests/test_ops.py::test_add"
    ]


def _pr_body(evidence: TestEvidence) -> str:
    return render(
        "pr_body",
        marker="",
        job_id=1,
        issue_number=1,
        summary="s",
        evidence=evidence,
        attempts=(Attempt(1, Category.PASSED),),
        model="m",
        tokens=1,
        cost_usd=None,
        localisation=None,
        run_url="",
        other_changes=[],
        account=None,  # a pipeline run: no agent account
    )


def test_the_pr_body_says_which_evidence_tests_the_issue_named_and_which_it_did_not() -> None:
    repro = "tests/test_repro.py::test_sum"
    tests = {
        "before": {"results": {ISSUE: "failed", OTHER: "failed", repro: "failed"}},
        "after": {"results": {ISSUE: "passed", OTHER: "passed", repro: "passed"}},
        "verdict": {"fail_to_pass": [ISSUE, OTHER, repro], "issue_named": [ISSUE, repro], "unnamed": [OTHER]},
    }
    changed = ["calc/ops.py", "tests/test_repro.py"]
    record = AttemptRecord(1, Category.PASSED, "ok", changed=changed, tests=tests, verified=True)
    evidence = evidence_of(record)
    assert (evidence.unnamed, evidence.written) == ((OTHER,), (repro,))
    body = _pr_body(evidence)
    assert f"| `{OTHER}` | ❌ failed | ✅ passes |" in body  # every evidence test is in the table
    assert f"- named in the issue: `{ISSUE}`\n" in body
    assert f"- added by this change: `{repro}`\n" in body
    assert (
        f"- not named in the issue (an existing test that failed on the unpatched code): `{OTHER}`\n" in body
    )
    stored = PipelineOutcome(OutcomeStatus.SUCCESS, evidence=evidence).to_json()
    assert PipelineOutcome.from_json(stored).evidence == evidence
    # an outcome stored before the split reads as all named
    assert TestEvidence(fixed=(ISSUE,), verified=True).groups() == [("named in the issue", (ISSUE,))]
    assert "not named in the issue" not in _pr_body(TestEvidence(fixed=(ISSUE,), verified=True))


def test_a_conftest_hook_that_drops_a_passing_test_is_a_regression(tmp_path: Path) -> None:
    """The attempt's conftest.py is not part of the "before" tree: a hook there that deselects test_mul
    would otherwise hide it from both runs (pytest.ini, the other way, is a protected path)."""
    repo = make_git_repo(tmp_path / "repo", fx.FILES)
    report = _solve_on_host(repo, tmp_path / "run", fx.FIX_DESELECT_MUL)
    assert not report.success
    [attempt] = report.attempts
    assert attempt.category is Category.REGRESSION
    assert attempt.tests["before"]["results"][MUL_ID] == "passed"
    assert attempt.tests["verdict"]["regressions"] == [MUL_ID]


def test_a_test_removed_from_an_existing_module_is_a_regression(tmp_path: Path) -> None:
    """The changed module is in the "before" tree too, so the removed test is in neither run; the module
    as it was at the starting revision is run once more, and its passing test_mul is missed after."""
    repo = make_git_repo(tmp_path / "repo", fx.FILES)
    report = _solve_on_host(repo, tmp_path / "run", fx.FIX_REMOVE_MUL_TEST)
    assert not report.success
    [attempt] = report.attempts
    assert attempt.category is Category.REGRESSION
    assert attempt.tests["start"]["results"][MUL_ID] == "passed"
    assert attempt.tests["verdict"]["regressions"] == [MUL_ID]
    # a fix that adds a test to the module keeps the module's tests: it passes, the extra run beside it
    adds = fx.FIX + fx.block(
        "tests/test_ops.py",
        "def test_mul():\n",
        "def test_add_zero():\n    assert add(0, 3) == 3\n\n\ndef test_mul():\n",
    )
    ok = _solve_on_host(repo, tmp_path / "run-ok", adds)
    assert ok.success, ok.attempts[0].summary
    assert set(ok.attempts[0].tests["start"]["results"]) == {"tests/test_ops.py::test_add", MUL_ID}
    # a fix that touches no test module runs nothing more
    plain = _solve_on_host(repo, tmp_path / "run-plain", fx.FIX)
    assert plain.success and "start" not in plain.attempts[0].tests
