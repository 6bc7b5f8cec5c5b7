"""The fake of the pipeline seam (:class:`repomind.bot.solving.pipeline_port.Pipeline`): edits the work
tree as scripted and reports a scripted outcome; :func:`scripted_pipeline` builds one in a worker
subprocess."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from repomind.bot.solving.outcome import attempt_of
from repomind.bot.solving.pipeline_port import PipelineJob, PipelineOutcome, ShouldCancel, TestEvidence
from repomind.pipeline.llm import Message
from repomind.pipeline.localise.result import Localisation, RankedFile
from repomind.pipeline.solve import events as ev
from repomind.pipeline.solve.artifacts import RunArtifacts
from repomind.pipeline.solve.outcome import Category, OutcomeStatus, Stopped
from repomind.pipeline.solve.recorder import RunRecorder
from repomind.pipeline.solve.reflect import AttemptRecord
from repomind.pipeline.solve.request import SolveReport
from repomind.pipeline.solve.verify import TestRun
from repomind.pipeline.toolchain.protocol import LintProblem
from repomind.testing.git import git

MODEL = "scripted/fake"
#: The scripted tests: the issue's test and two others; a failing run fails the issue's test.
TESTS = ("tests/test_calc.py::test_add", "tests/test_calc.py::test_sub", "tests/test_calc.py::test_mul")


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
    #: Agent steps to emit before the attempt (the run then reports strategy ``agent``).
    agent_steps: list[ev.StepTaken] = field(default_factory=list)
    #: Where to keep the run's files as the real pipeline does (``runs/<run id>/``); None: none kept.
    runs_dir: Path | None = None
    calls: list[dict[str, object]] = field(default_factory=list)
    #: New lint problems the outcome reports (the real pipeline's passing patch has none).
    lint: tuple[LintProblem, ...] = ()
    #: What a cancelled run had spent by then (the real one's budget so far).
    cancel_cost_usd: float | None = None

    def run(self, job: PipelineJob, *, events: ev.RunEvents, should_cancel: ShouldCancel) -> PipelineOutcome:
        work_tree, hints, issue_title = job.work_tree, job.hints, job.issue_title
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
        run = _Story(events, git(work_tree, "rev-parse", "HEAD").strip())
        run_dir = ""
        if self.runs_dir is not None:
            run_dir = str(self.runs_dir / run.report.run_id)
            run.report.out_dir = Path(run_dir)
            recorder = RunRecorder(RunArtifacts(Path(run_dir), run.report.run_id))
            run.events = events = ev.RunEvents(recorder, events.emit)
        events.emit(ev.RunStarted(run.report.run_id, job.repo, run.report.commit, MODEL, issue_title, 1, {}))
        loc = self.localisation or scripted_localisation(sorted(self.edits) or ["README.md"])
        events.emit(ev.Localised(loc))
        if self.status is OutcomeStatus.NEEDS_HINT and not hints.anyway:
            run.stop(Stopped.NEEDS_HINT, "the calibrated set is too wide")
            return PipelineOutcome(OutcomeStatus.NEEDS_HINT, localisation=loc, model="scripted")
        if self.agent_steps:  # before the gate: a test sees them while the run waits
            run.agent(self.agent_steps)
        while self.gate is not None and not self.gate():
            if should_cancel():
                run.stop(Stopped.CANCELLED, "cancelled after localisation")
                return PipelineOutcome(
                    OutcomeStatus.CANCELLED, localisation=loc, cost_usd=self.cancel_cost_usd
                )
            time.sleep(0.05)
        if should_cancel():
            run.stop(Stopped.CANCELLED, "cancelled after localisation")
            return PipelineOutcome(OutcomeStatus.CANCELLED, localisation=loc, cost_usd=self.cancel_cost_usd)
        events.emit(ev.EnvironmentPreparing())
        events.emit(ev.EnvironmentReady("scripted", True, 0.0))
        for rel, text in self.edits.items():
            (work_tree / rel).parent.mkdir(parents=True, exist_ok=True)
            (work_tree / rel).write_text(text)
        passed = self.status in (OutcomeStatus.SUCCESS, OutcomeStatus.NEEDS_HINT)
        git(work_tree, "add", "--all")  # new files too, as the real pipeline's diff holds them
        diff = git(work_tree, "diff", "--cached", "HEAD")
        record = run.attempt(sorted(self.edits), diff, passed)
        if not passed:
            git(work_tree, "reset", "-q")
            diff = ""
        run.stop(Stopped.PASSED if passed else Stopped.ATTEMPTS_EXHAUSTED, record.summary)
        return PipelineOutcome(
            status=self.status if self.status is not OutcomeStatus.NEEDS_HINT else OutcomeStatus.SUCCESS,
            diff=diff,
            summary=f"Scripted change to {', '.join(sorted(self.edits))}.",
            explanation="" if passed else self.explanation,
            attempts=(attempt_of(record),),
            tokens=1200,
            cost_usd=0.0021,
            model=MODEL,
            localisation=loc,
            evidence=self.evidence if passed else TestEvidence(),
            run_id=run.report.run_id if run_dir else "",
            run_dir=run_dir,
            lint=self.lint if passed else (),
            strategy="agent" if self.agent_steps else "",
        )


class _Story:
    """The events the real pipeline emits for one attempt, with scripted contents."""

    def __init__(self, events: ev.RunEvents, commit: str) -> None:
        self.events = events
        self.report = SolveReport(
            f"fake-{time.time_ns():x}", False, False, Stopped.CANCELLED, "", MODEL, commit
        )
        self.report.max_attempts = 1

    def agent(self, steps: list[ev.StepTaken]) -> None:
        """The agent's start and ``steps``, as the ``agent`` strategy emits them."""
        self.report.strategy, self.report.steps = "agent", len(steps)
        prompt: list[Message] = [{"role": "user", "content": "scripted agent prompt"}]
        self.events.emit(ev.AgentStarted(prompt, [], "native", 40, 32_000))
        for step in steps:
            self.events.emit(step)

    def attempt(self, changed: list[str], diff: str, passed: bool) -> AttemptRecord:
        emit = self.events.emit
        emit(ev.AttemptStarted(1, MODEL, [{"role": "user", "content": "scripted prompt"}]))
        emit(ev.Replied(1, "scripted edit", MODEL, 1000, 200, 0.0021, 0.0))
        emit(ev.EditsRead(1, [{"path": p} for p in changed]))
        emit(ev.PatchApplied(1, changed, [], [], diff=diff))
        emit(ev.Linted(1, []))
        emit(ev.TestsPlanned(1, "the scripted tests"))
        before = _tests({TESTS[0]: "failed", TESTS[1]: "passed", TESTS[2]: "passed"})
        after = _tests({TESTS[0]: "passed" if passed else "failed", TESTS[1]: "passed", TESTS[2]: "passed"})
        emit(ev.TestsRan(1, "before", before, overlay=()))
        emit(ev.TestsRan(1, "after", after))
        tests = {"before": ev.run_json(before), "after": ev.run_json(after)}
        emit(ev.TestsJudged(1, tests, before.log, after.log))
        category = Category.PASSED if passed else Category.TEST_FAILURE
        record = AttemptRecord(1, category, "scripted edit", changed=changed, diff=diff if passed else "")
        record.tokens, record.cost_usd, record.verified, record.tests = 1200, 0.0021, passed, tests
        self.report.attempts.append(record)
        emit(ev.Reflected(record))
        return record

    def stop(self, stopped: Stopped, message: str) -> None:
        self.report.stopped, self.report.message = stopped, message
        self.report.success = self.report.verified = stopped is Stopped.PASSED
        self.report.patch_attempt = 1 if self.report.success else None
        kept = self.report.attempts[0].diff if self.report.success else ""
        self.events.emit(ev.RunFinished(self.report, kept))


def _tests(results: dict[str, str]) -> TestRun:
    failed = sum(1 for o in results.values() if o != "passed")
    return TestRun(TESTS, 1 if failed else 0, "failed" if failed else "ok", results, 0.0, "scripted", "junit")


def scripted_pipeline(settings: object) -> FakePipeline:
    """``REPOMIND_PIPELINE=repomind.testing.pipeline:scripted_pipeline`` for worker subprocesses in tests: the
    script is the JSON file named by ``REPOMIND_FAKE_PIPELINE`` (``edits``, ``status``, and optional
    ``started_file`` touched at start and ``release_file`` waited for before editing). The run's files
    are kept under the settings' ``runs_dir`` as the real pipeline keeps them.

    ``edits`` may hold ``{issue}`` in paths and texts: the issue's number, so that each issue of a burst
    gets its own change. ``delay_s`` slows each run down; with ``hold_after`` N, this process's runs after
    its N-th touch ``held_file`` and wait (for ``release_file``, or forever): a test kills the worker then."""
    import json
    import os

    from repomind.settings import Settings

    script = json.loads(Path(os.environ["REPOMIND_FAKE_PIPELINE"]).read_text())
    started = script.get("started_file")
    release = script.get("release_file")
    return _PerIssue(
        edits=dict(script.get("edits", {})),
        status=OutcomeStatus(script.get("status", "success")),
        on_start=(lambda _tree: Path(started).touch()) if started else None,
        gate=(lambda: Path(release).exists()) if release else None,
        runs_dir=settings.runs_dir if isinstance(settings, Settings) else None,
        delay_s=float(script.get("delay_s", 0.0)),
        hold_after=script.get("hold_after"),
        held_file=script.get("held_file"),
        release_file=release,
    )


@dataclass
class _PerIssue(FakePipeline):
    """A :class:`FakePipeline` whose ``{issue}`` in edits (paths and texts) is the job's issue number,
    read from its title (``... #N``, as the scripted tests title issues) or else left as is; see
    :func:`scripted_pipeline` for the rest."""

    delay_s: float = 0.0
    hold_after: int | None = None
    held_file: str | None = None
    release_file: str | None = None
    runs: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, job: PipelineJob, *, events: ev.RunEvents, should_cancel: ShouldCancel) -> PipelineOutcome:
        number = job.issue_title.rsplit("#", 1)[-1] if "#" in job.issue_title else "{issue}"
        edits = {k.replace("{issue}", number): v.replace("{issue}", number) for k, v in self.edits.items()}
        with self.lock:
            self.runs.append(len(self.runs) + 1)
            nth = self.runs[-1]
        gate = self.gate
        if self.hold_after is not None and nth > self.hold_after:
            release, held = self.release_file, self.held_file
            gate = (lambda: Path(release).exists()) if release else (lambda: False)
            if held:
                Path(held).touch()
        time.sleep(self.delay_s)
        # a copy per run: a worker runs several jobs at once in threads
        run = replace(self, edits=edits, gate=gate)
        return FakePipeline.run(run, job, events=events, should_cancel=should_cancel)
