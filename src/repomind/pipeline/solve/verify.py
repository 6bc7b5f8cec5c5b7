"""The test stage: choose the tests, run them before and after the patch in the sandbox, compare.

An attempt passes when no test that passed before fails after (a failure is rerun once, so a flaky test
is not blamed), no test tied to the issue (named in it, or written or changed by the attempt as a
reproduction) still fails, and there is evidence: a test that failed before and passes after (SWE-bench's
FAIL_TO_PASS). Evidence counts whether or not the issue names the test; the verdict says which were tied
to it (``issue_named``) and which were not (``unnamed``: an existing test among those run that failed on
the unpatched code). A failing test not tied to the issue that still fails is not blamed
(``still_failing``). The "before" tree is the starting revision plus the attempt's new and changed test
modules only, so a reproduction test is seen failing there; the attempt's test support files
(``conftest.py``) and deletions are not in it, so a test they drop is missing after and is a regression.

Only ``passed`` is a pass. A test that passed before and is skipped, xfailed, xpassed, failing, in
error or missing after is a regression; a test tied to the issue that is skipped or xfailed after is
not fixed. What is language-specific (which files are tests, the runner's command, reading its
outcomes, load errors, failure sections) is asked of the repository's toolchain
(:class:`repomind.pipeline.toolchain.Toolchain`): for Python, the JUnit XML report pytest writes in the
sandbox, with pytest's short summary as the fallback.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from repomind.pipeline.issue import Mentions
from repomind.pipeline.solve.context import tracked_files
from repomind.pipeline.solve.outcome import Category
from repomind.pipeline.toolchain.protocol import GOOD, NOT_RUN, TestCommand, Toolchain, trim
from repomind.sandbox.protocol import Sandbox
from repomind.sandbox.types import Environment, ExecResult, Outcome

LOG_CHARS = 6000


@dataclass(frozen=True)
class TestPlan:
    """What to run: a configured command, or the test runner on ``files`` (the whole suite when empty)."""

    argv: tuple[str, ...]
    files: tuple[str, ...]
    configured: bool
    issue_tests: tuple[str, ...]  # node ids, file paths or bare test names tied to the issue
    reason: str
    #: Files the run leaves in the sandbox to read back (the runner's report).
    collect: tuple[str, ...] = ()

    @property
    def command(self) -> TestCommand:
        return TestCommand(self.argv, self.collect)


def plan_tests(
    work_tree: Path,
    changed: list[str],
    found: Mentions,
    test_command: str | None,
    *,
    toolchain: Toolchain,
) -> TestPlan:
    """The tests for this change: the configured command, or the tests related to the change and issue."""
    existing = set(tracked_files(work_tree, untracked=True))
    test_files = sorted(f for f in existing if toolchain.is_runnable_test(f))
    changed_tests = [c for c in changed if c in existing and toolchain.is_runnable_test(c)]
    named = [p.split("::")[0] for p in found.test_ids] + [p for p in found.paths if toolchain.is_test_file(p)]
    named_files = [f for f in test_files if any(f == n or f.endswith("/" + n) for n in named)]
    sources = [c for c in changed if not toolchain.is_test_file(c)]
    related = toolchain.related_tests(work_tree, test_files, sources, found.test_names)
    issue_tests = tuple(dict.fromkeys([*found.test_ids, *changed_tests, *found.test_names]))
    if test_command:
        run = toolchain.configured_command(test_command)
        return TestPlan(run.argv, (), True, issue_tests, "configured test_command", run.collect)
    files = tuple(dict.fromkeys([*changed_tests, *named_files, *related]))
    reason = "tests related to the change and the issue" if files else "no related tests found: whole suite"
    run = toolchain.test_command(files)
    return TestPlan(run.argv, files, False, issue_tests, reason, run.collect)


@dataclass(frozen=True)
class TestRun:
    """One run of a test command in the sandbox, with per-test outcomes when the toolchain could read them."""

    argv: tuple[str, ...]
    exit_code: int
    outcome: str
    results: dict[str, str]
    seconds: float
    log: str
    #: Where ``results`` came from, as the toolchain says (Python: ``junit``, the report, or ``summary``).
    source: str = "summary"

    @property
    def timed_out(self) -> bool:
        return self.outcome == Outcome.TIMEOUT.value

    def failed_ids(self) -> list[str]:
        return [n for n, o in self.results.items() if o not in GOOD]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def run_tests(
    sandbox: Sandbox, env: Environment, tree: Path, command: TestCommand, *, toolchain: Toolchain
) -> TestRun:
    result: ExecResult = sandbox.run(
        env, tree, list(command.argv), network=False, capture_diff=False, collect=command.collect
    )
    output = result.output + "".join(f"\nrepomind: {n}" for n in result.notes)
    read = toolchain.read_results(output, result.collected)
    if read.note:
        output += f"\nrepomind: {read.note}"
    return TestRun(
        argv=command.argv,
        exit_code=result.exit_code,
        outcome=result.outcome.value,
        results=read.outcomes,
        seconds=round(result.duration_s, 3),
        log=output,
        source=read.source,
    )


@dataclass
class Verdict:
    """The comparison of the runs before and after the patch."""

    passed: bool
    verified: bool
    category: Category | None  # None when passed
    #: The evidence: tests that failed before and pass after, tied to the issue or not.
    fail_to_pass: list[str] = field(default_factory=list)
    pass_to_pass: list[str] = field(default_factory=list)
    regressions: list[str] = field(default_factory=list)
    still_failing: list[str] = field(default_factory=list)  # failed before and after, not tied to the issue
    issue_failing: list[str] = field(default_factory=list)  # tied to the issue and not passing after
    flaky: list[str] = field(default_factory=list)
    not_run: list[str] = field(default_factory=list)  # skipped or xfailed after, as before (or not tied)
    summary: str = ""
    evidence: str = ""
    #: ``fail_to_pass`` split: tied to the issue (named in it, or the attempt's reproduction test) ...
    issue_named: list[str] = field(default_factory=list)
    #: ... and not (an existing test that failed on the unpatched code and passes after).
    unnamed: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def without(self, flaky: list[str]) -> Verdict:
        """This verdict with ``flaky`` moved out of the evidence (they pass on the unpatched code too)."""
        gone = set(flaky)
        verdict = replace(
            self,
            fail_to_pass=[t for t in self.fail_to_pass if t not in gone],
            issue_named=[t for t in self.issue_named if t not in gone],
            unnamed=[t for t in self.unnamed if t not in gone],
            flaky=[*self.flaky, *flaky],
        )
        if verdict.passed and verdict.fail_to_pass:
            verdict.summary = evidence_summary(verdict.issue_named, verdict.unnamed) + _still(
                verdict.still_failing
            )
        return verdict


def _tied(node: str, issue_tests: tuple[str, ...], toolchain: Toolchain) -> bool:
    for ref in issue_tests:
        is_file = toolchain.is_test_file(ref)
        if "::" in ref and (node == ref or node.startswith(ref + "[") or node.endswith("/" + ref)):
            return True
        if is_file and (node.split("::")[0] == ref or node.split("::")[0].endswith("/" + ref)):
            return True
        if "::" not in ref and not is_file:
            name = node.split("::")[-1].split("[")[0]
            if name == ref:
                return True
    return False


def compare(
    before: TestRun,
    after: TestRun,
    plan: TestPlan,
    rerun_after: TestRun | None = None,
    *,
    toolchain: Toolchain,
) -> Verdict:
    """Judge the attempt from the two runs (and a rerun of the tests that failed after, if one was made)."""
    if after.timed_out:
        return Verdict(
            False, False, Category.TIMEOUT, summary="the tests timed out", evidence=_tail(after.log)
        )
    if toolchain.could_not_run(after.exit_code) and not after.results:
        runner = toolchain.facts.test_framework
        return Verdict(
            False, False, Category.TEST_FAILURE, summary=f"{runner} could not run", evidence=_tail(after.log)
        )
    if not after.results and not before.results:
        return _whole_command(before, after)
    rerun = rerun_after.results if rerun_after else {}
    good = GOOD
    regressions, flaky, f2p, p2p, still, issue_failing, not_run = [], [], [], [], [], [], []
    named: list[str] = []
    for node, was in before.results.items():
        now = after.results.get(node, "missing")
        if was in good and now not in good:
            if rerun.get(node) in good:
                flaky.append(node)
            else:
                regressions.append(node)
    for node, now in after.results.items():
        was = before.results.get(node, "missing")
        tied = _tied(node, plan.issue_tests, toolchain)
        if now in good:
            if was in good:
                p2p.append(node)
            elif tied:
                f2p.append(node)
                named.append(node)
            elif node in before.results and was not in NOT_RUN:
                f2p.append(node)  # an existing test that failed on the unpatched code: evidence too
        elif now in NOT_RUN and was not in good and (now == was or not tied):
            not_run.append(node)  # a skip as before, or a test the issue does not need
        elif rerun.get(node) in good and node not in before.results:
            flaky.append(node)
        elif tied:
            issue_failing.append(node)
        elif was not in good:
            still.append(node)
    unnamed = [t for t in f2p if t not in named]
    verdict = Verdict(
        False,
        False,
        None,
        f2p,
        p2p,
        regressions,
        still,
        issue_failing,
        flaky,
        not_run,
        issue_named=named,
        unnamed=unnamed,
    )
    import_problem = _import_problem(after, before, toolchain)
    if import_problem:
        verdict.category = Category.IMPORT_ERROR
        verdict.summary = "the patched code cannot be imported"
        verdict.evidence = import_problem
    elif regressions:
        verdict.category = Category.REGRESSION
        verdict.summary = (
            f"{len(regressions)} test(s) that passed before fail after: {_named(regressions, after)}"
        )
        verdict.evidence = toolchain.failure_sections(after.log, regressions, limit=LOG_CHARS)
    elif issue_failing:
        verdict.category = Category.TEST_FAILURE
        verdict.summary = f"the issue's test(s) still fail: {_named(issue_failing, after)}"
        verdict.evidence = toolchain.failure_sections(after.log, issue_failing, limit=LOG_CHARS)
    elif not f2p:
        verdict.category = Category.UNVERIFIED
        verdict.summary = "not verified against the issue: no test failed before and passes after"
    else:
        verdict.passed = verdict.verified = True
        verdict.summary = evidence_summary(named, unnamed)
    verdict.summary += _still(still)
    return verdict


def _still(still: list[str]) -> str:
    return f"; {len(still)} failing test(s) failed before too (not blamed)" if still else ""


def evidence_summary(named: list[str], unnamed: list[str]) -> str:
    """How many tests failed before and pass after, and how many of them the issue named."""
    total = len(named) + len(unnamed)
    if not unnamed:
        return f"{total} test(s) tied to the issue failed before and pass after"
    if not named:
        return f"{total} test(s) failed before and pass after (none named in the issue)"
    return (
        f"{total} test(s) failed before and pass after ({len(named)} tied to the issue, {len(unnamed)} not)"
    )


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
            False, False, Category.TEST_FAILURE, summary="the test command fails", evidence=_tail(after.log)
        )
    if before.exit_code != 0:
        return Verdict(True, True, None, summary="the test command failed before and passes after")
    return Verdict(
        False,
        False,
        Category.UNVERIFIED,
        summary="not verified against the issue: the test command passed before too",
    )


def _import_problem(after: TestRun, before: TestRun, toolchain: Toolchain) -> str:
    """The log around the first load error (import, compile) that the run before did not have."""
    new = toolchain.load_errors(after.log)
    old = set(toolchain.load_errors(before.log))
    fresh = [line for line in dict.fromkeys(new) if line not in old]
    if not fresh:
        return ""
    idx = after.log.find(fresh[0])
    return trim(after.log[max(0, idx - 2500) : idx + 500], LOG_CHARS)


def _tail(log: str) -> str:
    return trim(log, LOG_CHARS)
