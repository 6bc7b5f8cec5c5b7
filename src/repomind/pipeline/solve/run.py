"""``solve``: localise, then up to N attempts of patch, test and reflect, with every artifact on disk.

:func:`run_strategy` is what every strategy shares (work trees, the run's files and events, then
:func:`~repomind.pipeline.solve.prepare.prepare`); :func:`solve` is the pipeline's own part on it."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable

from repomind.errors import UsageError
from repomind.pipeline.llm import BudgetExceeded, LanguageModel, LLMError
from repomind.pipeline.localise.result import Localiser
from repomind.pipeline.solve import prompts
from repomind.pipeline.solve.artifacts import RunArtifacts, new_run_id
from repomind.pipeline.solve.attempt import ask, run_attempt
from repomind.pipeline.solve.events import BudgetSpent, Reflected, RunEvents
from repomind.pipeline.solve.outcome import Stopped
from repomind.pipeline.solve.prepare import Body, Prepared, prepare
from repomind.pipeline.solve.recorder import RunRecorder
from repomind.pipeline.solve.request import SolveReport, SolveRequest
from repomind.pipeline.solve.workspace import Workspace
from repomind.pipeline.toolchain.protocol import Toolchain
from repomind.sandbox.protocol import Sandbox


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
    return run_strategy(
        _attempts,
        "pipeline",
        request,
        model=model,
        sandbox=sandbox,
        localiser=localiser,
        events=events,
        should_cancel=should_cancel,
        toolchain=toolchain,
    )


def run_strategy(
    body: Body,
    name: str,
    request: SolveRequest,
    *,
    model: LanguageModel,
    sandbox: Sandbox,
    localiser: Localiser | None = None,
    events: RunEvents | None = None,
    should_cancel: Callable[[], bool] = lambda: False,
    toolchain: Toolchain | None = None,
) -> SolveReport:
    """What every strategy shares: the work trees, the run's files and events, localisation and the
    environment (:func:`prepare`), then ``body`` (the strategy ``name``'s own way to a patch)."""
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
        prepared = prepare(
            request,
            run_id,
            stream,
            workspace,
            model,
            sandbox,
            localiser,
            should_cancel,
            started,
            toolchain,
            strategy=name,
        )
        return body(prepared) if isinstance(prepared, Prepared) else prepared
    finally:
        if not request.keep_work_trees:
            workspace.cleanup()


def _attempts(p: Prepared) -> SolveReport:
    """The pipeline: up to ``max_attempts`` of one reply each, patched, tested and reflected on."""
    ctx, run, report = p.ctx, p.run, p.run.report
    timings, events, budget, tools = run.timings, ctx.events, ctx.budget, ctx.toolchain
    timings["attempts"] = 0.0
    for number in range(1, p.max_attempts + 1):
        if number > 1 and p.should_cancel():
            return run.stop(Stopped.CANCELLED, f"cancelled before attempt {number}")
        t = time.monotonic()
        messages = prompts.patch_messages(
            p.issue,
            p.views,
            facts=tools.facts,
            instructions=p.guidance,
            others=p.others,
            attempts=report.attempts,
            hint=p.hint,
            feedback=p.feedback,
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
    return run.stop(Stopped.ATTEMPTS_EXHAUSTED, f"no attempt passed in {p.max_attempts}")
