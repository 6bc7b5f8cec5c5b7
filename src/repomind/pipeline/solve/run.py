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
from repomind.pipeline.solve.hooks import SolveHooks
from repomind.pipeline.solve.reflect import Category, best
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
    log: Callable[[str], None] = lambda _line: None,
    hooks: SolveHooks | None = None,
    toolchain: Toolchain | None = None,
) -> SolveReport:
    """Run the pipeline; write ``patch.diff``, ``report.json`` and ``trajectory.jsonl`` to the out dir.

    ``hooks`` (optional) receive the localisation and each attempt as they happen, and may cancel the
    run at a stage boundary. ``toolchain`` is the repository's language tools; by default the one
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
    art = RunArtifacts(request.out_dir, run_id, redact=request.redact)
    try:
        report = _solve(
            request,
            run_id,
            art,
            workspace,
            model,
            sandbox,
            localiser,
            log,
            hooks or SolveHooks(),
            started,
            toolchain,
        )
    finally:
        if not request.keep_work_trees:
            workspace.cleanup()
    return report


def _solve(
    request: SolveRequest,
    run_id: str,
    art: RunArtifacts,
    workspace: Workspace,
    model: LanguageModel,
    sandbox: Sandbox,
    localiser: Localiser | None,
    log: Callable[[str], None],
    hooks: SolveHooks,
    started: float,
    toolchain: Toolchain | None,
) -> SolveReport:
    timings: dict[str, float] = {}
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
    report = SolveReport(run_id, False, False, "attempts-exhausted", "", model.name, workspace.commit)
    report.max_attempts, report.budget, report.out_dir = max_attempts, budget, request.out_dir
    art.event(
        "run-start",
        repo=request.repo,
        commit=workspace.commit,
        model=model.name,
        issue=issue,
        max_attempts=max_attempts,
        budget=budget.to_json(),
        toolchain=tools.name,
    )

    t = time.monotonic()
    log("localising")
    found_loc = (
        localiser.localise(base, issue) if localiser else context.fallback_localisation(base, issue, found)
    )
    found_loc = apply_pins(
        found_loc, context.tracked_files(base), include=request.include, exclude=request.exclude
    )
    timings["localise"] = time.monotonic() - t
    report.localisation = _localisation_json(found_loc)
    art.write_json("localise.json", found_loc.to_json())
    art.event("localise", **found_loc.to_json())
    hooks.on_localised(found_loc)
    if hooks.should_cancel():
        return _finish(report, art, "cancelled", "cancelled after localisation", timings, started)
    wide = _too_wide(found_loc, request)
    if wide:
        return _finish(report, art, "needs-hint", wide, timings, started)
    views, others = _views(base, found_loc, found)
    guidance = context.instructions(base, config.instructions)

    t = time.monotonic()
    log("preparing the sandbox environment")
    name = _repo_name(request.repo)
    spec = tools.environment(name, config)
    try:
        env = sandbox.prepare(base, spec)
    except EnvironmentSetupError as exc:
        timings["environment"] = time.monotonic() - t
        art.event("environment", error=str(exc), output=exc.output[-4000:] if exc.output else "")
        return _finish(
            report, art, "environment-error", f"the environment could not be set up: {exc}", timings, started
        )
    timings["environment"] = time.monotonic() - t
    art.event("environment", image=env.image, cached=env.cached, seconds=round(env.setup_seconds, 3))
    if hooks.should_cancel():
        return _finish(report, art, "cancelled", "cancelled before the first attempt", timings, started)

    guard = PathGuard.of(config.protected_paths, config.ignore_paths)
    ctx = AttemptContext(
        model, sandbox, env, workspace, art, budget, found, config.test_command, tools, log, guard=guard
    )
    timings["attempts"] = 0.0
    hint = strip_hidden(request.hint or "").strip()
    feedback = strip_hidden(request.feedback or "").strip()
    for number in range(1, max_attempts + 1):
        if number > 1 and hooks.should_cancel():
            return _finish(report, art, "cancelled", f"cancelled before attempt {number}", timings, started)
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
            art.event("budget-exceeded", number, message=str(exc), budget=budget.to_json())
            return _finish(report, art, "budget", str(exc), timings, started)
        except LLMError as exc:
            return _finish(report, art, "llm-error", str(exc), timings, started)
        record = run_attempt(ctx, number, reply)
        record.tokens, record.cost_usd = tokens, cost
        report.attempts.append(record)
        timings["attempts"] += time.monotonic() - t
        hooks.on_attempt(record)
        if record.passed:
            return _finish(report, art, "passed", record.summary, timings, started)
    return _finish(
        report, art, "attempts-exhausted", f"no attempt passed in {max_attempts}", timings, started
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


def _finish(
    report: SolveReport,
    art: RunArtifacts,
    stopped: str,
    message: str,
    timings: dict[str, float],
    started: float,
) -> SolveReport:
    chosen = best(report.attempts)
    report.stopped, report.message = stopped, message
    report.success = bool(chosen and chosen.category is Category.PASSED)
    report.verified = bool(chosen and chosen.verified)
    report.patch_attempt = chosen.number if chosen else None
    if not report.success and report.attempts and stopped == "attempts-exhausted":
        last = report.attempts[-1]
        report.message = f"{message}; the last attempt ended with {last.category.value}: {last.summary}"
    timings["total"] = time.monotonic() - started
    report.timings = timings
    art.write_text("patch.diff", chosen.diff if chosen else "")
    data = report.to_json()
    art.write_json("report.json", data)
    art.event(
        "run-end",
        **{
            k: data[k]
            for k in (
                "success",
                "verified",
                "stopped",
                "message",
                "attempts",
                "tokens",
                "cost_usd",
                "patch_attempt",
                "categories",
            )
        },
    )
    return report


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
