"""One run in full, for its page and for ``GET /api/runs/{id}``: the calibrated set with scores, each
attempt's diff and test outcome, the agent's steps with the reviewer's verdicts, the evidence and cost.

The job's ``result`` (the pipeline's outcome) says what the run found; each attempt's own diff
(``attempt-N/patch.diff``) and the agent's steps (``trajectory.jsonl``) are read from the run's files in
the shared artifacts store (:mod:`repomind.store.artifacts`), which the worker that ran it filled from
any host (the trajectory after every step). Every text is redacted here; pages escape it too.
"""

from __future__ import annotations

from typing import Any

from repomind.pipeline.solve.account import parse_lines, steps_of_lines
from repomind.redact import redact
from repomind.server.dashboard.listing import job_columns, summary
from repomind.server.dashboard.schemas import AttemptOut, RankedFileOut, RunDetail, StepOut
from repomind.store import Job, Ledger
from repomind.store.artifacts import Artifacts, text_of, valid_run_id
from repomind.store.joblog import first_event

#: Characters of one attempt's diff kept (a diff is shown whole up to this).
DIFF_CHARS = 200_000
#: Ranked files shown besides the set.
FILES_SHOWN = 20


def run_id_of(ledger: Ledger, job: Job) -> str:
    """The run's id: named by the job's result once it ended, by its first ``run`` log line while it
    goes; "" when there is none (yet)."""
    run_id = str((job.result or {}).get("run_id") or "")
    if not run_id:
        started = first_event(ledger, job.id, "run")
        run_id = started.message if started is not None else ""
    return run_id if valid_run_id(run_id) else ""


def _read(artifacts: Artifacts | None, run_id: str, name: str) -> str:
    """A stored run file's text, cut to :data:`DIFF_CHARS`; "" when absent."""
    if artifacts is None or not run_id:
        return ""
    return (text_of(artifacts, run_id, name) or "")[:DIFF_CHARS]


def detail(ledger: Ledger, job: Job, artifacts: Artifacts | None) -> RunDetail:
    result: dict[str, Any] = job.result or {}
    run_id = run_id_of(ledger, job)
    loc: dict[str, Any] = result.get("localisation") or {}
    chosen = loc.get("set")
    in_set = set(chosen or ())
    files = [
        RankedFileOut(
            path=redact(str(f.get("path"))),
            score=float(f.get("score") or 0.0),
            in_set=f.get("path") in in_set,
        )
        for f in (loc.get("files") or [])[: max(FILES_SHOWN, len(in_set))]
    ]
    attempts = [
        AttemptOut(
            number=int(a.get("number") or 0),
            outcome=str(a.get("outcome") or ""),
            summary=redact(str(a.get("summary") or "")),
            tests_passed=int(a.get("tests_passed") or 0),
            tests_failed=int(a.get("tests_failed") or 0),
            tests_skipped=int(a.get("tests_skipped") or 0),
            tokens=int(a.get("tokens") or 0),
            cost_usd=a.get("cost_usd"),
            diff=redact(_read(artifacts, run_id, f"attempt-{int(a.get('number') or 0)}/patch.diff")),
        )
        for a in result.get("attempts") or []
    ]
    steps: list[StepOut] = []
    if artifacts is not None and run_id:
        _start, taken = steps_of_lines(parse_lines(text_of(artifacts, run_id, "trajectory.jsonl") or ""))
        for step in taken:
            review = step.review or {}
            verdict = "" if step.review is None else "on track" if review.get("right_track") else "off track"
            steps.append(
                StepOut(
                    step=step.step,
                    tool=redact(step.tool),
                    outcome=redact(step.outcome),
                    verdict=verdict,
                    feedback=redact(str(review.get("feedback") or "")),
                )
            )
    base = summary(job_columns(job))
    if steps and not base.attempts:
        base = base.model_copy(update={"attempts": len(steps)})
    return RunDetail(
        **base.model_dump(),
        branch=job.branch,
        error=redact(job.error) if job.error else None,
        confidence=loc.get("confidence"),
        calibration=dict(loc.get("calibration") or {}),
        files=files,
        set=[redact(p) for p in chosen] if chosen is not None else None,
        attempts_detail=attempts,
        steps=steps,
        diff=redact(job.bot_diff or str(result.get("diff") or "")),
        evidence=dict(result.get("evidence") or {}),
        summary=redact(str(result.get("summary") or "")),
    )
