"""One attempt: ask the model, apply its edits in a fresh work tree, lint, test, and categorise."""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from repomind.pipeline.edits import (
    Edit,
    EditApplyError,
    NoEditsError,
    apply_edits,
    parse_edits,
)
from repomind.pipeline.edits.guard import HOW_TO_ALLOW, PathGuard, refusal_text
from repomind.pipeline.issue import Mentions
from repomind.pipeline.llm import Budget, LanguageModel, Message, estimate_tokens
from repomind.pipeline.solve import verify
from repomind.pipeline.solve.events import (
    AttemptStarted,
    EditFailed,
    EditsRead,
    Linted,
    PatchApplied,
    Replied,
    RunEvents,
    TestsJudged,
    TestsPlanned,
    TestsRan,
    run_json,
)
from repomind.pipeline.solve.format import format_changed
from repomind.pipeline.solve.outcome import Category
from repomind.pipeline.solve.reflect import AttemptRecord
from repomind.pipeline.solve.workspace import Workspace, changed_paths, diff, run_git
from repomind.pipeline.toolchain.protocol import GOOD, TestCommand, Toolchain, trim
from repomind.sandbox import repofs
from repomind.sandbox.protocol import Sandbox
from repomind.sandbox.types import Environment


@dataclass
class AttemptContext:
    """What every attempt of one run shares."""

    model: LanguageModel
    sandbox: Sandbox
    env: Environment
    workspace: Workspace
    events: RunEvents
    budget: Budget
    found: Mentions
    test_command: str | None
    #: The repository's language tools: tests, their runner and its output, lint.
    toolchain: Toolchain
    #: The paths a patch may not change (protected and ignored); deny by default.
    guard: PathGuard = field(default_factory=PathGuard)
    baselines: dict[str, verify.TestRun] = field(default_factory=dict)
    #: The repository's formatter, run on the changed files before the tests (:mod:`.format`).
    format_command: str | None = None


def ask(ctx: AttemptContext, number: int, messages: list[Message]) -> tuple[str, int, float | None, float]:
    """Send the prompt (after checking the budget); returns (reply, tokens, cost, seconds)."""
    ctx.budget.check(estimate_tokens(messages))
    ctx.events.emit(AttemptStarted(number, ctx.model.name, messages))
    reply = ctx.model.complete(messages)
    ctx.budget.charge(reply)
    ctx.events.emit(
        Replied(
            number,
            text=reply.text,
            model=reply.model,
            prompt_tokens=reply.prompt_tokens,
            completion_tokens=reply.completion_tokens,
            cost_usd=reply.cost_usd,
            seconds=round(reply.seconds, 3),
        )
    )
    return reply.text, reply.tokens, reply.cost_usd, reply.seconds


def run_attempt(ctx: AttemptContext, number: int, reply: str) -> AttemptRecord:
    """Everything after the reply: parse, apply, lint, test, and the attempt's category and evidence
    (the caller emits it as :class:`~repomind.pipeline.solve.events.Reflected` with its tokens)."""
    start = time.monotonic()
    record = _edit_and_test(ctx, number, reply)
    record.seconds = round(time.monotonic() - start, 3)
    return record


def _edit_and_test(ctx: AttemptContext, n: int, reply: str) -> AttemptRecord:
    emit = ctx.events.emit
    try:
        edits = parse_edits(reply)
    except NoEditsError as exc:
        emit(EditsRead(n, [], error=str(exc)))
        return AttemptRecord(n, Category.NO_EDITS, f"no edit could be read from the reply: {exc}")
    edits_text = format_edits(edits)
    emit(EditsRead(n, [asdict(e) for e in edits]))
    tree = ctx.workspace.work_tree(f"attempt-{n}")
    try:
        applied = apply_edits(tree, edits)
    except EditApplyError as exc:
        emit(EditFailed(n, exc.reason, exc.edit.path, exc.index))
        evidence = f"{exc}\n\nThe SEARCH text that was not matched:\n{exc.edit.search}"
        return AttemptRecord(n, Category.EDIT_NOT_APPLIED, str(exc), evidence, edits_text)
    return judge_tree(ctx, n, tree, edits_text=edits_text, created=applied.created, notes=applied.notes)


def judge_tree(
    ctx: AttemptContext,
    n: int,
    tree: Path,
    *,
    edits_text: str = "",
    created: list[str] | None = None,
    notes: list[str] | None = None,
) -> AttemptRecord:
    """Verification number ``n`` of ``tree`` as it stands (the pipeline's applied edits, or the agent's
    work tree at a ``submit``): protected paths, the diff, lint, then the tests before and after."""
    emit = ctx.events.emit
    changed = changed_paths(tree)
    created = created if created is not None else []
    notes = notes if notes is not None else []
    refused = ctx.guard.refusals(changed)
    if refused:  # nothing of it is tested, kept or shown as a diff
        emit(PatchApplied(n, changed, created, notes, refused))
        summary = refusal_text(refused)
        return AttemptRecord(n, Category.PROTECTED_PATH, summary, f"{summary}.\n{HOW_TO_ALLOW}", edits_text)
    patch = diff(tree)
    emit(PatchApplied(n, changed, created, notes, refused, diff=patch))
    record = AttemptRecord(n, Category.EMPTY_PATCH, "", "", edits_text, changed, patch)
    if not changed:
        record.summary = "the edits changed nothing"
        return record
    originals = _originals(ctx.workspace, changed)
    problems = ctx.toolchain.lint(tree, changed, before=originals)
    if problems:
        emit(Linted(n, [asdict(p) for p in problems]))
        kinds = {p.kind for p in problems}
        record.category = Category.SYNTAX_ERROR if "syntax" in kinds else Category.UNDEFINED_NAME
        lines = [f"{p.path}:{p.line}: {p.kind}: {p.message}" for p in problems]
        record.summary = f"{len(problems)} problem(s) in the new code: {lines[0]}"
        record.evidence = "\n".join(lines)
        return record
    note = format_changed(ctx, tree, changed)
    formatted = diff(tree) if note else patch
    emit(Linted(n, [], formatted=note, diff=formatted if formatted != patch else ""))
    if formatted != patch:
        record.diff, record.changed = formatted, changed_paths(tree)
        if not record.changed:
            record.summary = "the edits changed nothing once formatted"
            return record
    return _test(ctx, n, tree, record)


def _test(ctx: AttemptContext, n: int, tree: Path, record: AttemptRecord) -> AttemptRecord:
    plan = verify.plan_tests(tree, record.changed, ctx.found, ctx.test_command, toolchain=ctx.toolchain)
    ctx.events.emit(TestsPlanned(n, plan.reason))
    before = _baseline(ctx, n, tree, plan, record.changed)
    before, start = _with_removed_tests(ctx, n, plan, record.changed, before)
    after = _run_tests(ctx, tree, plan.command)
    ctx.events.emit(TestsRan(n, "after", after))
    tests: dict[str, Any] = {"plan": asdict(plan), "before": _summary(before), "after": _summary(after)}
    if start is not None:
        tests["start"] = _summary(start)
    if before.timed_out or (ctx.toolchain.could_not_run(before.exit_code) and not before.results):
        record.category = Category.ENVIRONMENT_ERROR
        record.summary = "the tests cannot run on the unpatched code"
        record.evidence = trim(before.log, verify.LOG_CHARS)
        record.tests = tests
        _write_tests(ctx, n, tests, before, after)
        return record
    rerun = _rerun(ctx, n, tree, before, after, plan)
    verdict = verify.compare(before, after, plan, rerun, toolchain=ctx.toolchain)
    if verdict.fail_to_pass:
        verdict = _confirm_baseline(ctx, n, tree, plan, record.changed, verdict)
    tests["verdict"] = verdict.to_json()
    if rerun is not None:
        tests["rerun"] = _summary(rerun)
    record.category = Category.PASSED if verdict.passed else (verdict.category or Category.TEST_FAILURE)
    record.summary, record.evidence, record.verified = verdict.summary, verdict.evidence, verdict.verified
    record.tests = tests
    _write_tests(ctx, n, tests, before, after)
    return record


def _baseline(
    ctx: AttemptContext, n: int, tree: Path, plan: verify.TestPlan, changed: list[str]
) -> verify.TestRun:
    """The plan run on the starting revision plus this attempt's new and changed test modules (cached by
    both; :func:`_before_overlay`)."""
    overlay = _before_overlay(ctx, tree, changed)
    digest = hashlib.sha256(repr(plan.argv).encode())
    for rel, data in overlay.items():
        digest.update(rel.encode() + b"\0" + data + b"\0")
    key = digest.hexdigest()
    if key in ctx.baselines:
        return ctx.baselines[key]
    base = _overlay_tree(ctx, n, overlay)
    before = _run_tests(ctx, base, plan.command)
    ctx.events.emit(TestsRan(n, "before", before, overlay=tuple(overlay)))
    ctx.baselines[key] = before
    return before


def _before_overlay(ctx: AttemptContext, tree: Path, changed: list[str]) -> dict[str, bytes]:
    """What the "before" tree takes of the attempt: its new and changed test modules (path → bytes, in
    order). Not its test support files (``conftest.py``: a hook there could drop tests from both runs) and
    not its deletions: a test that passed on the starting revision and is gone after is a regression."""
    overlay: dict[str, bytes] = {}
    for rel in sorted(c for c in changed if ctx.toolchain.is_runnable_test(c)):
        data = _file_bytes(tree, rel)
        if data is not None:
            overlay[rel] = data
    return overlay


def _with_removed_tests(
    ctx: AttemptContext, n: int, plan: verify.TestPlan, changed: list[str], before: verify.TestRun
) -> tuple[verify.TestRun, verify.TestRun | None]:
    """``before`` with the tests the attempt removed from existing test modules: those modules are run as
    they were at the starting revision (once per job and set of modules), and a test that passed there
    and is not in ``before`` counts as passed before, so it is a regression when it is gone after. Not
    for a configured test command (it cannot be narrowed to those modules). Also the run on them."""
    if plan.configured:
        return before, None
    existing = sorted(_originals(ctx.workspace, [c for c in changed if ctx.toolchain.is_runnable_test(c)]))
    if not existing:
        return before, None
    command = ctx.toolchain.test_command(tuple(existing))
    key = "start\0" + repr(command.argv)
    start = ctx.baselines.get(key)
    if start is None:
        start = _run_tests(ctx, ctx.workspace.work_tree(f"attempt-{n}-start"), command)
        ctx.baselines[key] = start
    removed = {t: o for t, o in start.results.items() if o in GOOD and t not in before.results}
    if not removed:
        return before, start
    return replace(before, results={**before.results, **removed}), start


def _overlay_tree(ctx: AttemptContext, n: int, overlay: dict[str, bytes]) -> Path:
    base = ctx.workspace.work_tree(f"attempt-{n}-before")
    for rel, data in overlay.items():
        dst = base / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if dst.is_symlink():
            dst.unlink()
        dst.write_bytes(data)
    return base


def _file_bytes(tree: Path, rel: str) -> bytes | None:
    """A regular file's bytes, read without following a symlink; None when missing or not one."""
    try:
        return repofs.read_bytes(tree, rel)
    except (OSError, repofs.UnsafePathError):
        return None


def _rerun(
    ctx: AttemptContext,
    n: int,
    tree: Path,
    before: verify.TestRun,
    after: verify.TestRun,
    plan: verify.TestPlan,
) -> verify.TestRun | None:
    """Rerun once the tests that fail after the patch but passed before (or are new): flaky or real?"""
    suspects = [
        node
        for node in after.failed_ids()
        if ctx.toolchain.names_one_test(node)
        and (before.results.get(node, "missing") in GOOD or node not in before.results)
    ]
    if not suspects:
        return None
    rerun = _run_tests(ctx, tree, ctx.toolchain.test_command(suspects))
    ctx.events.emit(TestsRan(n, "rerun-after", rerun))
    return rerun


def _confirm_baseline(
    ctx: AttemptContext,
    n: int,
    tree: Path,
    plan: verify.TestPlan,
    changed: list[str],
    verdict: verify.Verdict,
) -> verify.Verdict:
    """Rerun on the unpatched code the tests that turned from failing to passing (named in the issue or
    not): a pass there is flaky, and is no evidence."""
    base = ctx.workspace.root / f"attempt-{n}-before"
    if not base.exists():
        base = _overlay_tree(ctx, n, _before_overlay(ctx, tree, changed))
    ids = [i for i in verdict.fail_to_pass if ctx.toolchain.names_one_test(i)]
    if not ids:
        return verdict
    again = _run_tests(ctx, base, ctx.toolchain.test_command(ids))
    ctx.events.emit(TestsRan(n, "rerun-before", again))
    flaky = [i for i in ids if again.results.get(i) in GOOD]
    if not flaky:
        return verdict
    verdict = verdict.without(flaky)
    if not verdict.fail_to_pass and verdict.passed:
        verdict = replace(
            verdict,
            passed=False,
            verified=False,
            category=Category.UNVERIFIED,
            summary="not verified against the issue: the tests that failed before also pass on the "
            f"unpatched code when rerun (flaky): {', '.join(flaky[:5])}",
        )
    return verdict


def _run_tests(ctx: AttemptContext, tree: Path, command: TestCommand) -> verify.TestRun:
    return verify.run_tests(ctx.sandbox, ctx.env, tree, command, toolchain=ctx.toolchain)


def _originals(workspace: Workspace, changed: list[str]) -> dict[str, str]:
    originals: dict[str, str] = {}
    for rel in changed:
        text = run_git(workspace.clone, "show", f"{workspace.commit}:{rel}", check=False)
        if text:
            originals[rel] = text
    return originals


def _summary(run: verify.TestRun) -> dict[str, Any]:
    return run_json(run, verify.LOG_CHARS)


def _write_tests(
    ctx: AttemptContext, n: int, tests: dict[str, Any], before: verify.TestRun, after: verify.TestRun
) -> None:
    ctx.events.emit(TestsJudged(n, tests, before.log, after.log))


def format_edits(edits: list[Edit]) -> str:
    """The edits as SEARCH/REPLACE blocks, to show the model what an earlier attempt did."""

    def lines(text: str) -> str:
        return text if not text or text.endswith("\n") else text + "\n"

    blocks = []
    for e in edits:
        if e.delete:
            blocks.append(f"{e.path}: deleted")
            continue
        blocks.append(
            f"{e.path}\n<<<<<<< SEARCH\n{lines(e.search)}=======\n{lines(e.replace)}>>>>>>> REPLACE"
        )
    return "\n\n".join(blocks)
