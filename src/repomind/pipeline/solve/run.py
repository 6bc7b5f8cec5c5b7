"""``solve``: localise, then up to N attempts of patch, test and reflect, with every artifact on disk."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from repomind import repoconfig
from repomind.errors import UsageError
from repomind.pipeline.edits.guard import PathGuard
from repomind.pipeline.issue import mentions, strip_hidden
from repomind.pipeline.llm import Budget, BudgetExceeded, LanguageModel, LLMError
from repomind.pipeline.localise.pins import apply_pins
from repomind.pipeline.localise.result import Localisation, Localiser
from repomind.pipeline.solve import context, prompts
from repomind.pipeline.solve.artifacts import RunArtifacts, new_run_id
from repomind.pipeline.solve.attempt import AttemptContext, ask, run_attempt
from repomind.pipeline.solve.events import (
    BudgetSpent,
    EnvironmentFailed,
    EnvironmentPreparing,
    EnvironmentReady,
    Localised,
    Reflected,
    RunEvents,
    RunFinished,
    RunStarted,
)
from repomind.pipeline.solve.outcome import Category, Stopped
from repomind.pipeline.solve.recorder import RunRecorder
from repomind.pipeline.solve.reflect import best
from repomind.pipeline.solve.request import SolveReport, SolveRequest
from repomind.pipeline.solve.workspace import Workspace, is_url
from repomind.pipeline.toolchain.protocol import Toolchain
from repomind.pipeline.toolchain.select import toolchain_for
from repomind.sandbox import repofs
from repomind.sandbox.errors import EnvironmentSetupError
from repomind.sandbox.protocol import Sandbox
from repomind.sandbox.worktree import repo_name

#: Candidate files shown in the prompt; more are listed by name only.
MAX_FILES_SHOWN = 5
#: Characters of file views in one prompt.
MAX_CONTEXT_CHARS = 60_000


def solve(
    request: SolveRequest,
    *,
    model: LanguageModel,
    sandbox: Sandbox,
    localiser: Localiser | None = None,
    events: RunEvents | None = None,
    should_cancel: Callable[[], bool] = lambda: False,
    toolchain: Toolchain | None = None,
) -> SolveReport:
    """Run the pipeline; its story goes to ``events`` (after the run's own files under the out dir:
    ``patch.diff``, ``report.json``, ``trajectory.jsonl``, ...).

    ``should_cancel`` is polled at each stage boundary (after localisation, after the environment is
    ready, before each later attempt); True stops the run there (:attr:`Stopped.CANCELLED`). ``toolchain``
    is the repository's language tools; by default the one
    :func:`~repomind.pipeline.toolchain.select.toolchain_for` chooses from its files and configuration.

    Raises :class:`~repomind.errors.UsageError` for a repository or revision that cannot be used
    (:class:`~repomind.errors.UnsupportedRepository` when no toolchain fits it); every other way a run
    can end (budget, model errors, an environment that cannot be set up) is a report.
    """
    started = time.monotonic()
    run_id = request.run_id or new_run_id()
    fresh = not request.out_dir.exists()
    try:
        workspace = Workspace.create(request.repo, request.rev, request.out_dir / "scratch")
    except UsageError:
        if fresh:  # a repository or revision that cannot be used leaves nothing behind
            shutil.rmtree(request.out_dir, ignore_errors=True)
        raise
    stream = RunEvents(RunRecorder(RunArtifacts(request.out_dir, run_id, redact=request.redact)))
    if events is not None:
        stream.subscribe(events.emit)
    try:
        report = _solve(
            request, run_id, stream, workspace, model, sandbox, localiser, should_cancel, started, toolchain
        )
    finally:
        if not request.keep_work_trees:
            workspace.cleanup()
    return report


class SolveRun:
    """One run in progress: its report so far, its timings, and the one way it stops (:meth:`stop`)."""

    def __init__(self, report: SolveReport, events: RunEvents, started: float) -> None:
        self.report, self.events, self.started = report, events, started
        self.timings: dict[str, float] = {}

    def stop(self, stopped: Stopped, message: str) -> SolveReport:
        """Finish the report (the kept attempt, success, timings) and emit :class:`RunFinished`."""
        report = self.report
        chosen = best(report.attempts)
        report.stopped, report.message = stopped, message
        report.success = bool(chosen and chosen.category is Category.PASSED)
        report.verified = bool(chosen and chosen.verified)
        report.patch_attempt = chosen.number if chosen else None
        if not report.success and report.attempts and stopped is Stopped.ATTEMPTS_EXHAUSTED:
            last = report.attempts[-1]
            report.message = f"{message}; the last attempt ended with {last.category.value}: {last.summary}"
        self.timings["total"] = time.monotonic() - self.started
        report.timings = self.timings
        self.events.emit(RunFinished(report, chosen.diff if chosen else ""))
        return report


def _solve(
    request: SolveRequest,
    run_id: str,
    events: RunEvents,
    workspace: Workspace,
    model: LanguageModel,
    sandbox: Sandbox,
    localiser: Localiser | None,
    should_cancel: Callable[[], bool],
    started: float,
    toolchain: Toolchain | None,
) -> SolveReport:
    base = workspace.work_tree("base")
    config = request.config or repoconfig.load(base)
    tools = toolchain or toolchain_for(base, config)
    issue = strip_hidden(request.issue_text)
    found = mentions(issue)
    budget = Budget(
        max_tokens=request.budget_tokens or config.budget_tokens,
        max_usd=request.budget_usd or config.budget_usd,
    )
    max_attempts = request.max_attempts or config.max_attempts
    report = SolveReport(run_id, False, False, Stopped.ATTEMPTS_EXHAUSTED, "", model.name, workspace.commit)
    report.max_attempts, report.budget, report.out_dir = max_attempts, budget, request.out_dir
    run = SolveRun(report, events, started)
    timings = run.timings
    events.emit(
        RunStarted(
            run_id,
            request.repo,
            workspace.commit,
            model.name,
            issue,
            max_attempts,
            budget.to_json(),
            tools.name,
        )
    )

    t = time.monotonic()
    found_loc = (
        localiser.localise(base, issue) if localiser else context.fallback_localisation(base, issue, found)
    )
    found_loc = apply_pins(
        found_loc, context.tracked_files(base), include=request.include, exclude=request.exclude
    )
    timings["localise"] = time.monotonic() - t
    report.localisation = _localisation_json(found_loc)
    events.emit(Localised(found_loc))
    if should_cancel():
        return run.stop(Stopped.CANCELLED, "cancelled after localisation")
    wide = _too_wide(found_loc, request)
    if wide:
        return run.stop(Stopped.NEEDS_HINT, wide)
    views, others = _views(base, found_loc, found)
    guidance = context.instructions(base, config.instructions)

    t = time.monotonic()
    events.emit(EnvironmentPreparing())
    name = _repo_name(request.repo)
    spec = tools.environment(name, config)
    try:
        env = sandbox.prepare(base, spec)
    except EnvironmentSetupError as exc:
        timings["environment"] = time.monotonic() - t
        events.emit(EnvironmentFailed(str(exc), exc.output[-4000:] if exc.output else ""))
        return run.stop(Stopped.ENVIRONMENT_ERROR, f"the environment could not be set up: {exc}")
    timings["environment"] = time.monotonic() - t
    events.emit(EnvironmentReady(env.image, env.cached, round(env.setup_seconds, 3)))
    if should_cancel():
        return run.stop(Stopped.CANCELLED, "cancelled before the first attempt")

    guard = PathGuard.of(config.protected_paths, config.ignore_paths)
    ctx = AttemptContext(
        model, sandbox, env, workspace, events, budget, found, config.test_command, tools, guard=guard
    )
    timings["attempts"] = 0.0
    hint = strip_hidden(request.hint or "").strip()
    feedback = strip_hidden(request.feedback or "").strip()
    for number in range(1, max_attempts + 1):
        if number > 1 and should_cancel():
            return run.stop(Stopped.CANCELLED, f"cancelled before attempt {number}")
        t = time.monotonic()
        messages = prompts.patch_messages(
            issue,
            views,
            facts=tools.facts,
            instructions=guidance,
            others=others,
            attempts=report.attempts,
            hint=hint,
            feedback=feedback,
        )
        try:
            reply, tokens, cost, _seconds = ask(ctx, number, messages)
        except BudgetExceeded as exc:
            events.emit(BudgetSpent(number, str(exc), budget.to_json()))
            return run.stop(Stopped.BUDGET, str(exc))
        except LLMError as exc:
            return run.stop(Stopped.LLM_ERROR, str(exc))
        record = run_attempt(ctx, number, reply)
        record.tokens, record.cost_usd = tokens, cost
        report.attempts.append(record)
        timings["attempts"] += time.monotonic() - t
        events.emit(Reflected(record))
        if record.passed:
            return run.stop(Stopped.PASSED, record.summary)
    return run.stop(Stopped.ATTEMPTS_EXHAUSTED, f"no attempt passed in {max_attempts}")


def _too_wide(loc: Localisation, request: SolveRequest) -> str:
    """Why the run must ask for a hint before patching ('' when it may go on)."""
    if request.max_set_size is None or loc.set is None or request.include:
        return ""
    if len(loc.set) <= request.max_set_size:
        return ""
    return (
        f"the calibrated set has {len(loc.set)} files, more than max_set_size ({request.max_set_size}): "
        "a hint (an included path) is needed before spending the budget"
    )


def _views(base: Path, loc: Localisation, found: Any) -> tuple[list[context.FileView], list[str]]:
    candidates = [p for p in loc.candidates(MAX_FILES_SHOWN * 2) if repofs.is_regular_file(base, p)]
    identifiers = [*found.identifiers, *(d.rsplit(".", 1)[-1] for d in found.dotted)]
    views: list[context.FileView] = []
    used = 0
    for path in candidates[:MAX_FILES_SHOWN]:
        view = context.file_view(base, path, identifiers)
        if used + len(view.text) > MAX_CONTEXT_CHARS and views:
            break
        views.append(view)
        used += len(view.text)
    shown = {v.path for v in views}
    return views, [p for p in candidates if p not in shown]


def _localisation_json(loc: Localisation) -> dict[str, Any]:
    return {
        "candidates": loc.candidates(MAX_FILES_SHOWN),
        "set": loc.set,
        "confidence": loc.confidence,
        "signals": loc.signals,
        "note": loc.note,
    }


def _repo_name(repo: str) -> str:
    if is_url(repo):
        tail = repo.rstrip("/").removesuffix(".git").replace(":", "/").split("/")
        return "/".join(tail[-2:])
    return repo_name(Path(repo))
