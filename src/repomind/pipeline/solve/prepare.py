"""What every strategy's run shares before its own part: the run in progress (:class:`SolveRun`, with
its one way to stop), and :func:`prepare` (start, localise, pins, the set-size check, the environment)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from repomind import repoconfig
from repomind.pipeline.edits.guard import PathGuard
from repomind.pipeline.issue import mentions, strip_hidden
from repomind.pipeline.llm import Budget, LanguageModel
from repomind.pipeline.localise.pins import apply_pins
from repomind.pipeline.localise.result import Localisation, Localiser
from repomind.pipeline.solve import context
from repomind.pipeline.solve.attempt import AttemptContext
from repomind.pipeline.solve.events import (
    EnvironmentFailed,
    EnvironmentPreparing,
    EnvironmentReady,
    Localised,
    RunEvents,
    RunFinished,
    RunStarted,
)
from repomind.pipeline.solve.outcome import Category, Stopped
from repomind.pipeline.solve.reflect import best
from repomind.pipeline.solve.request import SolveReport, SolveRequest
from repomind.pipeline.solve.workspace import Workspace, is_url
from repomind.pipeline.toolchain.protocol import Toolchain
from repomind.pipeline.toolchain.select import toolchain_for
from repomind.sandbox import repofs
from repomind.sandbox.errors import EnvironmentSetupError
from repomind.sandbox.protocol import Sandbox
from repomind.sandbox.worktree import repo_name

#: Candidate files shown in the first prompt; more are listed by name only.
MAX_FILES_SHOWN = 5
#: Characters of file views in one prompt.
MAX_CONTEXT_CHARS = 60_000


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
        self.events.emit(RunFinished(report, report.patch))
        return report


@dataclass
class Prepared:
    """A run ready for its strategy: localised, its environment ready, its limits and words set."""

    request: SolveRequest
    run: SolveRun
    ctx: AttemptContext
    config: repoconfig.RepoConfig
    issue: str
    localisation: Localisation
    views: list[context.FileView]
    others: list[str]
    guidance: str
    hint: str
    feedback: str
    max_attempts: int
    should_cancel: Callable[[], bool]


#: A strategy's own part of a run (after :func:`prepare`).
Body = Callable[[Prepared], SolveReport]


def prepare(
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
    *,
    strategy: str,
) -> Prepared | SolveReport:
    """Start the run, localise, and prepare the environment; the report when the run stops before
    its strategy starts (cancelled, a set too wide, an environment that cannot be set up)."""
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
    report.strategy = strategy
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
        model,
        sandbox,
        env,
        workspace,
        events,
        budget,
        found,
        config.test_command,
        tools,
        guard=guard,
        format_command=config.format_command,
    )
    return Prepared(
        request=request,
        run=run,
        ctx=ctx,
        config=config,
        issue=issue,
        localisation=found_loc,
        views=views,
        others=others,
        guidance=guidance,
        hint=strip_hidden(request.hint or "").strip(),
        feedback=strip_hidden(request.feedback or "").strip(),
        max_attempts=max_attempts,
        should_cancel=should_cancel,
    )


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
        "calibration": loc.calibration,
        "signals": loc.signals,
        "note": loc.note,
    }


def _repo_name(repo: str) -> str:
    if is_url(repo):
        tail = repo.rstrip("/").removesuffix(".git").replace(":", "/").split("/")
        return "/".join(tail[-2:])
    return repo_name(Path(repo))
