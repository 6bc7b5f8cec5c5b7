"""The test stage: choose the tests, run them before and after the patch in the sandbox, compare.

An attempt passes when no test that passed before fails after (a failure is rerun once, so a flaky test
is not blamed) and the issue's evidence passes: tests tied to the issue (named in it, or written or
changed by the attempt as a reproduction) that failed before and pass after. The "before" tree is the
starting revision plus the attempt's test files only, so a reproduction test is seen failing there.

Only ``passed`` is a pass. A test that passed before and is skipped, xfailed, xpassed, failing, in
error or missing after is a regression; a test tied to the issue that is skipped or xfailed after is
not fixed. Per-test outcomes come from the JUnit XML report pytest writes in the sandbox (it names every
test, skipped ones included); pytest's short summary is the fallback when there is no usable report.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from repomind.pipeline.solve import junit, pytest_output
from repomind.pipeline.solve.context import tracked_files
from repomind.pipeline.solve.issue import Mentions
from repomind.sandbox import repofs
from repomind.sandbox.protocol import Sandbox
from repomind.sandbox.types import Environment, ExecResult, Outcome

LOG_CHARS = 6000


def is_test_file(path: str) -> bool:
    p = PurePosixPath(path)
    if p.suffix != ".py":
        return False
    return (
        p.name.startswith("test_")
        or p.name.endswith("_test.py")
        or p.name == "conftest.py"
        or any(part in ("tests", "test", "testing") for part in p.parts[:-1])
    )


@dataclass(frozen=True)
class TestPlan:
    """What to run: a configured command, or pytest on ``files`` (the whole suite when empty)."""

    argv: tuple[str, ...]
    files: tuple[str, ...]
    configured: bool
    issue_tests: tuple[str, ...]  # node ids, file paths or bare test names tied to the issue
    reason: str


def plan_tests(
    work_tree: Path,
    changed: list[str],
    found: Mentions,
    test_command: str | None,
) -> TestPlan:
    """The tests for this change: the configured command, or the tests related to the change and issue."""
    existing = {p for p in tracked_files(work_tree, untracked=True) if p.endswith(".py")}
    test_files = sorted(f for f in existing if is_test_file(f) and PurePosixPath(f).name != "conftest.py")
    changed_tests = [
        c for c in changed if is_test_file(c) and c in existing and not c.endswith("conftest.py")
    ]
    named = [p.split("::")[0] for p in found.test_ids] + [p for p in found.paths if is_test_file(p)]
    named_files = [f for f in test_files if any(f == n or f.endswith("/" + n) for n in named)]
    by_name = [f for f in test_files if _defines_any(work_tree, f, found.test_names)]
    related = [
        f for f in test_files if _tests_module(work_tree, f, [c for c in changed if not is_test_file(c)])
    ]
    issue_tests = tuple(dict.fromkeys([*found.test_ids, *changed_tests, *found.test_names]))
    if test_command:
        return TestPlan(
            tuple(pytest_output.configured_argv(test_command)),
            (),
            True,
            issue_tests,
            "configured test_command",
        )
    files = tuple(dict.fromkeys([*changed_tests, *named_files, *by_name, *related]))
    reason = "tests related to the change and the issue" if files else "no related tests found: whole suite"
    return TestPlan(tuple(pytest_output.pytest_argv(files)), files, False, issue_tests, reason)


def _read(work_tree: Path, rel: str) -> str:
    """A file's text through :mod:`repomind.sandbox.repofs` ('' for a symlink or a missing file)."""
    return repofs.read_text_or_none(work_tree, rel) or ""


def _defines_any(work_tree: Path, rel: str, names: list[str]) -> bool:
    if not names:
        return False
    text = _read(work_tree, rel)
    return any(re.search(rf"^\s*(?:async\s+)?def {re.escape(n)}\b", text, re.M) for n in names)


def _tests_module(work_tree: Path, rel: str, sources: list[str]) -> bool:
    if not sources:
        return False
    text = _read(work_tree, rel)
    name = PurePosixPath(rel).stem
    for src in sources:
        p = PurePosixPath(src)
        if p.suffix != ".py":
            continue
        module = p.parent.name if p.stem == "__init__" else p.stem
        if name in (f"test_{module}", f"{module}_test"):
            return True
        if re.search(rf"^\s*(?:from|import)\s+[\w.]*\b{re.escape(module)}\b", text, re.M):
            return True
        if re.search(rf"^\s*from\s+[\w.]+\s+import\s+[^\n]*\b{re.escape(module)}\b", text, re.M):
            return True
    return False


@dataclass(frozen=True)
class TestRun:
    """One run of the plan's command in the sandbox, with per-test outcomes when pytest printed them."""

    argv: tuple[str, ...]
    exit_code: int
    outcome: str
    results: dict[str, str]
    seconds: float
    log: str
    #: Where ``results`` came from: ``junit`` (the report) or ``summary`` (the fallback).
    source: str = "summary"

    @property
    def timed_out(self) -> bool:
        return self.outcome == Outcome.TIMEOUT.value

    def failed_ids(self) -> list[str]:
        return [n for n, o in self.results.items() if o not in pytest_output.GOOD]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def run_tests(sandbox: Sandbox, env: Environment, tree: Path, argv: tuple[str, ...] | list[str]) -> TestRun:
    result: ExecResult = sandbox.run(
        env, tree, list(argv), network=False, capture_diff=False, collect=(junit.REPORT_PATH,)
    )
    output = result.output + "".join(f"\nrepomind: {n}" for n in result.notes)
    results, source, note = pytest_output.read_results(output, result.collected.get(junit.REPORT_PATH))
    if note:
        output += f"\nrepomind: {note}"
    return TestRun(
        argv=tuple(argv),
        exit_code=result.exit_code,
        outcome=result.outcome.value,
        results=results,
        seconds=round(result.duration_s, 3),
        log=output,
        source=source,
    )


@dataclass
class Verdict:
    """The comparison of the runs before and after the patch."""

    passed: bool
    verified: bool
    category: str | None  # None when passed; else one of reflect.Category's values
    fail_to_pass: list[str] = field(default_factory=list)
    pass_to_pass: list[str] = field(default_factory=list)
    regressions: list[str] = field(default_factory=list)
    still_failing: list[str] = field(default_factory=list)  # failed before and after, not tied to the issue
    issue_failing: list[str] = field(default_factory=list)  # tied to the issue and not passing after
    flaky: list[str] = field(default_factory=list)
    not_run: list[str] = field(default_factory=list)  # skipped or xfailed after, as before (or not tied)
    summary: str = ""
    evidence: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _tied(node: str, issue_tests: tuple[str, ...]) -> bool:
    for ref in issue_tests:
        if "::" in ref and (node == ref or node.startswith(ref + "[") or node.endswith("/" + ref)):
            return True
        if ref.endswith(".py") and (node.split("::")[0] == ref or node.split("::")[0].endswith("/" + ref)):
            return True
        if "::" not in ref and not ref.endswith(".py"):
            name = node.split("::")[-1].split("[")[0]
            if name == ref:
                return True
    return False


def compare(before: TestRun, after: TestRun, plan: TestPlan, rerun_after: TestRun | None = None) -> Verdict:
    """Judge the attempt from the two runs (and a rerun of the tests that failed after, if one was made)."""
    if after.timed_out:
        return Verdict(False, False, "timeout", summary="the tests timed out", evidence=_tail(after.log))
    if after.exit_code in pytest_output.PYTEST_BROKEN and not after.results:
        return Verdict(
            False, False, "test-failure", summary="pytest could not run", evidence=_tail(after.log)
        )
    if not after.results and not before.results:
        return _whole_command(before, after)
    rerun = rerun_after.results if rerun_after else {}
    good = pytest_output.GOOD
    regressions, flaky, f2p, p2p, still, issue_failing, not_run = [], [], [], [], [], [], []
    for node, was in before.results.items():
        now = after.results.get(node, "missing")
        if was in good and now not in good:
            if rerun.get(node) in good:
                flaky.append(node)
            else:
                regressions.append(node)
    for node, now in after.results.items():
        was = before.results.get(node, "missing")
        tied = _tied(node, plan.issue_tests)
        if now in good:
            if was in good:
                p2p.append(node)
            elif tied:
                f2p.append(node)
        elif now in pytest_output.NOT_RUN and was not in good and (now == was or not tied):
            not_run.append(node)  # a skip as before, or a test the issue does not need
        elif rerun.get(node) in good and node not in before.results:
            flaky.append(node)
        elif tied:
            issue_failing.append(node)
        elif was not in good:
            still.append(node)
    verdict = Verdict(False, False, None, f2p, p2p, regressions, still, issue_failing, flaky, not_run)
    import_problem = _import_problem(after, before)
    if import_problem:
        verdict.category = "import-error"
        verdict.summary = "the patched code cannot be imported"
        verdict.evidence = import_problem
    elif regressions:
        verdict.category = "regression"
        verdict.summary = (
            f"{len(regressions)} test(s) that passed before fail after: {_named(regressions, after)}"
        )
        verdict.evidence = pytest_output.failure_sections(after.log, regressions, limit=LOG_CHARS)
    elif issue_failing:
        verdict.category = "test-failure"
        verdict.summary = f"the issue's test(s) still fail: {_named(issue_failing, after)}"
        verdict.evidence = pytest_output.failure_sections(after.log, issue_failing, limit=LOG_CHARS)
    elif not f2p:
        verdict.category = "unverified"
        verdict.summary = (
            "not verified against the issue: no test tied to the issue failed before and passes after"
        )
    else:
        verdict.passed = verdict.verified = True
        verdict.summary = f"{len(f2p)} test(s) tied to the issue failed before and pass after"
    if still:
        verdict.summary += f"; {len(still)} failing test(s) failed before too (not blamed)"
    return verdict


def _named(nodes: list[str], after: TestRun) -> str:
    """Up to five node ids, each with its outcome after when that is not a plain failure."""
    shown = []
    for node in nodes[:5]:
        now = after.results.get(node, "missing")
        shown.append(node if now == "failed" else f"{node} ({now})")
    return ", ".join(shown)


def _whole_command(before: TestRun, after: TestRun) -> Verdict:
    """No per-test results: judge by the command's exit status alone."""
    if after.exit_code != 0:
        return Verdict(
            False, False, "test-failure", summary="the test command fails", evidence=_tail(after.log)
        )
    if before.exit_code != 0:
        return Verdict(True, True, None, summary="the test command failed before and passes after")
    return Verdict(
        False,
        False,
        "unverified",
        summary="not verified against the issue: the test command passed before too",
    )


_IMPORT = re.compile(r"^E?\s*(ModuleNotFoundError|ImportError): .*$", re.M)


def _import_problem(after: TestRun, before: TestRun) -> str:
    new = [m.group(0).strip() for m in _IMPORT.finditer(after.log)]
    old = {m.group(0).strip() for m in _IMPORT.finditer(before.log)}
    fresh = [line for line in dict.fromkeys(new) if line not in old]
    if not fresh:
        return ""
    idx = after.log.find(fresh[0])
    return pytest_output.trim(after.log[max(0, idx - 2500) : idx + 500], LOG_CHARS)


def _tail(log: str) -> str:
    return pytest_output.trim(log, LOG_CHARS)
