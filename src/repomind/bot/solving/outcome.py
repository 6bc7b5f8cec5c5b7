"""``repomind solve``'s report in the bot's terms: the seam's :class:`PipelineOutcome` and attempts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from repomind.bot.render import text
from repomind.bot.solving.pipeline_port import Attempt, PipelineOutcome, TestEvidence
from repomind.pipeline.edits.guard import HOW_TO_ALLOW
from repomind.pipeline.localise.result import Localisation
from repomind.pipeline.solve.outcome import OutcomeStatus, Stopped
from repomind.pipeline.solve.reflect import AttemptRecord
from repomind.pipeline.solve.request import SolveReport
from repomind.pipeline.toolchain.protocol import GOOD, NOT_RUN
from repomind.repoconfig import CONFIG_PATH


def attempt_of(record: AttemptRecord) -> Attempt:
    """One attempt as the status comment and the PR show it, with the test counts after the patch."""
    results: dict[str, str] = (record.tests.get("after") or {}).get("results") or {}
    passed = sum(1 for outcome in results.values() if outcome in GOOD)
    skipped = sum(1 for outcome in results.values() if outcome in NOT_RUN)
    return Attempt(
        number=record.number,
        outcome=record.category,
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
    fixed = tuple(verdict.get("fail_to_pass") or ())
    written = set(record.changed)
    return TestEvidence(
        fixed=fixed,
        still_passing=tuple(verdict.get("pass_to_pass") or ()),
        not_run=tuple(
            (node, before.get(node, "missing"), after.get(node, "missing"))
            for node in verdict.get("not_run") or ()
        ),
        verified=record.verified,
        unnamed=tuple(verdict.get("unnamed") or ()),
        written=tuple(t for t in fixed if t.split("::")[0] in written),
    )


def explain(report: SolveReport) -> str:
    """A plain explanation of a run that made no passing patch (``templates/explanation.md.j2``)."""
    return text("explanation", report=report, how_to_allow=HOW_TO_ALLOW, config_path=CONFIG_PATH)


def summary_of(record: AttemptRecord, report: SolveReport) -> str:
    files = ", ".join(f"`{p}`" for p in record.changed) or "no file"
    if report.strategy == "agent":
        which = f"verification {record.number}, after {report.steps} step(s) of the agent"
    else:
        which = f"attempt {record.number} of at most {report.max_attempts}"
    return f"Changes {files} ({which}). {record.summary[:1].upper()}{record.summary[1:]}."


def outcome_of(report: SolveReport, localisation: Localisation | None) -> PipelineOutcome:
    attempts = tuple(attempt_of(r) for r in report.attempts)
    common: dict[str, Any] = {
        "attempts": attempts,
        "tokens": report.budget.tokens,
        "cost_usd": report.budget.cost_usd,
        "model": report.model,
        "strategy": report.strategy,
        "localisation": localisation,
        "run_id": report.run_id,
        "run_dir": str(report.out_dir) if report.out_dir != Path() else "",
    }
    if report.stopped in (Stopped.CANCELLED, Stopped.NEEDS_HINT):
        return PipelineOutcome(report.stopped.status, explanation=report.message, **common)
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
