"""One run in full, for its page and for ``GET /api/runs/{id}``: the calibrated set with scores, each
attempt's diff and test outcome, the agent's steps with the reviewer's verdicts, the evidence and cost.

The job's ``result`` (the pipeline's outcome) says what the run found; each attempt's own diff is read
from the run's directory (``runs/<run_id>/attempt-N/patch.diff``) when this process can see it. Every
text is redacted here; pages escape it too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from repomind.pipeline.solve.account import read_steps
from repomind.redact import redact
from repomind.server.dashboard.listing import job_columns, summary
from repomind.server.dashboard.schemas import AttemptOut, RankedFileOut, RunDetail, StepOut
from repomind.server.run_steps import run_dir
from repomind.store import Job, Ledger
from repomind.store.joblog import first_event

#: Characters of one attempt's diff kept (a diff is shown whole up to this).
DIFF_CHARS = 200_000
#: Ranked files shown besides the set.
FILES_SHOWN = 20


def directory_of(ledger: Ledger, job: Job, runs_dir: Path | None) -> Path | None:
    """The run's directory: named by the job's result once it ended, by its first ``run`` log line while
    it goes; None when there is none (yet) or this process has no runs folder."""
    if runs_dir is None:
        return None
    run_id = str((job.result or {}).get("run_id") or "")
    if not run_id:
        started = first_event(ledger, job.id, "run")
        run_id = started.message if started is not None else ""
    directory = run_dir(runs_dir, run_id) if run_id else None
    return directory if directory is not None and directory.is_dir() else None


def _read(path: Path) -> str:
    """A run file's text (no symlink followed, cut to :data:`DIFF_CHARS`); "" when absent."""
    if path.is_symlink() or not path.is_file():
        return ""
    with path.open("rb") as handle:
        return handle.read(DIFF_CHARS).decode(errors="replace")


def detail(ledger: Ledger, job: Job, runs_dir: Path | None) -> RunDetail:
    result: dict[str, Any] = job.result or {}
    directory = directory_of(ledger, job, runs_dir)
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
            diff=redact(_read(directory / f"attempt-{int(a.get('number') or 0)}" / "patch.diff"))
            if directory is not None
            else "",
        )
        for a in result.get("attempts") or []
    ]
    steps: list[StepOut] = []
    if directory is not None:
        _start, taken = read_steps(directory)
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
