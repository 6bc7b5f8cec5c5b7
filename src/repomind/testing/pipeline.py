"""The fake of the pipeline seam (:class:`repomind.bot.solving.pipeline_port.Pipeline`): edits the work
tree as scripted and reports a scripted outcome; :func:`scripted_pipeline` builds one in a worker
subprocess."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from repomind.bot.solving.pipeline_port import (
    Attempt,
    OnEvent,
    OutcomeStatus,
    PipelineEvent,
    PipelineJob,
    PipelineOutcome,
    ShouldCancel,
    TestEvidence,
)
from repomind.pipeline.localise.result import Localisation, RankedFile
from repomind.testing.git import git


def scripted_localisation(paths: list[str], *, confidence: float = 0.9) -> Localisation:
    files = [RankedFile(p, round(0.9 / (i + 1), 3)) for i, p in enumerate(paths)]
    return Localisation(files=files, set=list(paths), confidence=confidence, signals=["bm25", "paths"])


@dataclass
class FakePipeline:
    """A pipeline that writes ``edits`` (path → new text) into the work tree and reports ``status``.

    ``gate`` (when set) is polled before the edits: the run waits until it answers True, stopping early
    when ``should_cancel`` does; tests use it to cancel or kill a worker mid-job. Every call is recorded.
    """

    edits: dict[str, str] = field(default_factory=dict)
    status: OutcomeStatus = OutcomeStatus.SUCCESS
    localisation: Localisation | None = None
    evidence: TestEvidence = field(
        default_factory=lambda: TestEvidence(
            fixed=("tests/test_calc.py::test_add",), still_passing=(), verified=True
        )
    )
    gate: Callable[[], bool] | None = None
    on_start: Callable[[Path], None] | None = None
    explanation: str = "No attempt passed: the tests still fail."
    calls: list[dict[str, object]] = field(default_factory=list)

    def run(self, job: PipelineJob, *, on_event: OnEvent, should_cancel: ShouldCancel) -> PipelineOutcome:
        work_tree, hints = job.work_tree, job.hints
        self.calls.append(
            {
                "work_tree": work_tree,
                "title": job.issue_title,
                "body": job.issue_body,
                "hints": hints,
                "config": job.config.repo,
                "run_config": job.config,
                "repo": job.repo,
                "installation_id": job.installation_id,
            }
        )
        if self.on_start is not None:
            self.on_start(work_tree)
        loc = self.localisation or scripted_localisation(sorted(self.edits) or ["README.md"])
        on_event(PipelineEvent("localised", localisation=loc))
        if self.status is OutcomeStatus.NEEDS_HINT and not hints.anyway:
            return PipelineOutcome(OutcomeStatus.NEEDS_HINT, localisation=loc, model="scripted")
        while self.gate is not None and not self.gate():
            if should_cancel():
                return PipelineOutcome(OutcomeStatus.CANCELLED, localisation=loc)
            time.sleep(0.05)
        if should_cancel():
            return PipelineOutcome(OutcomeStatus.CANCELLED, localisation=loc)
        for rel, text in self.edits.items():
            (work_tree / rel).parent.mkdir(parents=True, exist_ok=True)
            (work_tree / rel).write_text(text)
        passed = self.status in (OutcomeStatus.SUCCESS, OutcomeStatus.NEEDS_HINT)
        attempt = Attempt(
            1,
            "passed" if passed else "assertion",
            "scripted edit",
            3 if passed else 2,
            0 if passed else 1,
            tokens=1200,
            cost_usd=0.0021,
        )
        on_event(PipelineEvent("attempt", attempt=attempt))
        if passed:  # new files too, as the real pipeline's diff holds them
            git(work_tree, "add", "--all")
        diff = git(work_tree, "diff", "--cached", "HEAD") if passed else ""
        return PipelineOutcome(
            status=self.status if self.status is not OutcomeStatus.NEEDS_HINT else OutcomeStatus.SUCCESS,
            diff=diff,
            summary=f"Scripted change to {', '.join(sorted(self.edits))}.",
            explanation="" if passed else self.explanation,
            attempts=(attempt,),
            tokens=1200,
            cost_usd=0.0021,
            model="scripted/fake",
            localisation=loc,
            evidence=self.evidence if passed else TestEvidence(),
        )


def scripted_pipeline(settings: object) -> FakePipeline:
    """``REPOMIND_PIPELINE=repomind.testing.pipeline:scripted_pipeline`` for worker subprocesses in tests: the
    script is the JSON file named by ``REPOMIND_FAKE_PIPELINE`` (``edits``, ``status``, and optional
    ``started_file`` touched at start and ``release_file`` waited for before editing)."""
    import json
    import os

    script = json.loads(Path(os.environ["REPOMIND_FAKE_PIPELINE"]).read_text())
    started = script.get("started_file")
    release = script.get("release_file")
    return FakePipeline(
        edits=dict(script.get("edits", {})),
        status=OutcomeStatus(script.get("status", "success")),
        on_start=(lambda _tree: Path(started).touch()) if started else None,
        gate=(lambda: Path(release).exists()) if release else None,
    )
