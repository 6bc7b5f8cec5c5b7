"""``repomind solve``'s report in the bot's terms: the seam's :class:`PipelineOutcome` and attempts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from repomind.bot.solving.pipeline_port import Attempt, OutcomeStatus, PipelineOutcome, TestEvidence
from repomind.pipeline.edits.guard import HOW_TO_ALLOW
from repomind.pipeline.localise.result import Localisation
from repomind.pipeline.solve.reflect import AttemptRecord, Category
from repomind.pipeline.solve.request import SolveReport
from repomind.pipeline.toolchain.protocol import GOOD, NOT_RUN

#: How each attempt category reads in a sentence to maintainers.
IN_WORDS: dict[str, str] = {
    Category.PASSED: "passed",
    Category.NO_EDITS: "the model's reply held no edit Repomind could read",
    Category.EDIT_NOT_APPLIED: "its edits did not match the files",
    Category.EMPTY_PATCH: "its edits changed nothing",
    Category.SYNTAX_ERROR: "the patched code has a syntax error",
    Category.UNDEFINED_NAME: "the patched code uses an undefined name",
    Category.IMPORT_ERROR: "the patched code cannot be imported",
    Category.TEST_FAILURE: "the issue's tests still fail",
    Category.REGRESSION: "it broke tests that passed before",
    Category.TIMEOUT: "the tests timed out",
    Category.ENVIRONMENT_ERROR: "the tests cannot run on the unpatched code",
    Category.UNVERIFIED: "no test tied to the issue went from failing to passing",
    Category.PROTECTED_PATH: "its edits changed a protected path, so they were refused",
}

STOPPED: dict[str, str] = {
    "budget": "The budget ran out before a patch passed",
    "llm-error": "The model could not answer",
    "environment-error": (
        "The repository's test environment could not be set up in the sandbox (check `setup_command`, "
        "`python` and `image` in `.github/repomind.yml`)"
    ),
}


def attempt_of(record: AttemptRecord) -> Attempt:
    """One attempt as the status comment and the PR show it, with the test counts after the patch."""
    results: dict[str, str] = (record.tests.get("after") or {}).get("results") or {}
    passed = sum(1 for outcome in results.values() if outcome in GOOD)
    skipped = sum(1 for outcome in results.values() if outcome in NOT_RUN)
    return Attempt(
        number=record.number,
        outcome=record.category.value,
        summary=record.summary,
        tests_passed=passed,
        tests_failed=len(results) - passed - skipped,
        tests_skipped=skipped,
        tokens=record.tokens,
        cost_usd=record.cost_usd,
    )


def evidence_of(record: AttemptRecord) -> TestEvidence:
    verdict: dict[str, Any] = record.tests.get("verdict") or {}
    before: dict[str, str] = (record.tests.get("before") or {}).get("results") or {}
    after: dict[str, str] = (record.tests.get("after") or {}).get("results") or {}
    return TestEvidence(
        fixed=tuple(verdict.get("fail_to_pass") or ()),
        still_passing=tuple(verdict.get("pass_to_pass") or ()),
        not_run=tuple(
            (node, before.get(node, "missing"), after.get(node, "missing"))
            for node in verdict.get("not_run") or ()
        ),
        verified=record.verified,
    )


def explain(report: SolveReport) -> str:
    """A plain explanation of a run that made no passing patch."""
    lines = []
    if report.stopped in STOPPED:
        lines.append(f"{STOPPED[report.stopped]}: {report.message}.")
    elif report.attempts:
        n = len(report.attempts)
        lines.append(f"None of the {n} attempt{'s' if n != 1 else ''} passed the tests.")
    else:
        lines.append(f"No patch was made: {report.message}.")
    for record in report.attempts:
        words = IN_WORDS.get(record.category, record.category.value)
        lines.append(f"- Attempt {record.number}: {words} ({record.summary})")
    if any(r.category is Category.PROTECTED_PATH for r in report.attempts):
        lines.append(f"\n{HOW_TO_ALLOW}")
    if any(r.category is Category.UNVERIFIED for r in report.attempts):
        lines.append(
            "\nA patch that breaks nothing is not enough: a test tied to the issue must fail before and "
            "pass after. Name the failing test in the issue, or set `test_command` in "
            "`.github/repomind.yml`."
        )
    return "\n".join(lines)


def summary_of(record: AttemptRecord, report: SolveReport) -> str:
    files = ", ".join(f"`{p}`" for p in record.changed) or "no file"
    return (
        f"Changes {files} (attempt {record.number} of at most {report.max_attempts}). "
        f"{record.summary[:1].upper()}{record.summary[1:]}."
    )


def outcome_of(report: SolveReport, localisation: Localisation | None) -> PipelineOutcome:
    attempts = tuple(attempt_of(r) for r in report.attempts)
    common: dict[str, Any] = {
        "attempts": attempts,
        "tokens": report.budget.tokens,
        "cost_usd": report.budget.cost_usd,
        "model": report.model,
        "localisation": localisation,
        "run_id": report.run_id,
        "run_dir": str(report.out_dir) if report.out_dir != Path() else "",
    }
    if report.stopped == "cancelled":
        return PipelineOutcome(OutcomeStatus.CANCELLED, explanation=report.message, **common)
    if report.stopped == "needs-hint":
        return PipelineOutcome(OutcomeStatus.NEEDS_HINT, explanation=report.message, **common)
    chosen = next((r for r in report.attempts if r.number == report.patch_attempt), None)
    if report.success and chosen is not None:
        return PipelineOutcome(
            OutcomeStatus.SUCCESS,
            diff=chosen.diff,
            summary=summary_of(chosen, report),
            evidence=evidence_of(chosen),
            **common,
        )
    return PipelineOutcome(OutcomeStatus.FAILED, explanation=explain(report), **common)
