"""Examples from the store: each feedback row joined with its run directory, and unreviewed runs."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from sqlalchemy import update

from repomind.store.feedback import all_feedback
from repomind.store.ledger import Ledger
from repomind.store.models import Feedback
from repomind.training.examples import Example
from repomind.training.from_runs import (
    FeedbackView,
    RunView,
    examples_from_feedback_only,
    examples_from_run,
    read_run,
)
from repomind.training.scope import ScopeMode, feedback_installations, run_dirs_of, scope_key

Progress = Callable[[int, int, str], None]


def view(row: Feedback) -> FeedbackView:
    return FeedbackView(
        repo=row.repo,
        pr_number=row.pr_number,
        merged=row.merged,
        issue_number=row.issue_number,
        issue_title=row.issue_title,
        issue_body=row.issue_body,
        bot_diff=row.bot_diff,
        merged_diff=row.merged_diff,
        job_id=row.job_id,
    )


def locate_run(store: Ledger, runs_dir: Path, feedback: FeedbackView) -> Path | None:
    """The run directory of the job that made the PR: the job's result names it (``run_dir`` or
    ``run_id``), else ``runs/job-<id>`` by convention; None when there is none."""
    candidates: list[Path] = []
    if feedback.job_id is not None:
        try:
            result = store.job(feedback.job_id).result or {}
        except KeyError:
            result = {}
        if result.get("run_dir"):
            candidates.append(Path(str(result["run_dir"])))
        if result.get("run_id"):
            candidates.append(runs_dir / str(result["run_id"]))
        candidates.append(runs_dir / f"job-{feedback.job_id}")
    return next((c for c in candidates if (c / "trajectory.jsonl").is_file()), None)


def _runs(runs_dir: Path) -> Iterator[Path]:
    if runs_dir.is_dir():
        yield from sorted(p for p in runs_dir.iterdir() if (p / "trajectory.jsonl").is_file())


def store_examples(
    store: Ledger,
    runs_dir: Path,
    *,
    include_unreviewed: bool = False,
    progress: Progress | None = None,
    installation_id: int | None = None,
) -> tuple[list[Example], dict[str, int]]:
    """Every example the store's feedback (and, if asked, unreviewed runs) gives; and counts of what was
    read (``feedback``, ``with_run``, ``issue_only``, ``unreviewed_runs``, ``unreadable_runs``).

    With ``installation_id``, only that installation's feedback and runs: another installation's rows,
    rows that cannot be attributed, and run directories of no job of its own are left out."""
    feedback = all_feedback(store)
    own_runs: set[Path] | None = None
    if installation_id is not None:
        owners = feedback_installations(store, feedback)
        feedback = [r for r in feedback if owners.get(r.id) == installation_id]
        own_runs = run_dirs_of(store, runs_dir, installation_id)
    rows = [view(r) for r in feedback]
    examples: list[Example] = []
    counts = {
        "feedback": len(rows),
        "with_run": 0,
        "issue_only": 0,
        "unreviewed_runs": 0,
        "unreadable_runs": 0,
    }
    used: set[Path] = set()
    for n, fb in enumerate(rows, start=1):
        if progress:
            progress(n, len(rows), fb.issue_key)
        run_dir = locate_run(store, runs_dir, fb)
        if run_dir is not None and own_runs is not None and run_dir.resolve() not in own_runs:
            run_dir = None
        run: RunView | None = None
        if run_dir is not None:
            try:
                run = read_run(run_dir)
            except ValueError:
                counts["unreadable_runs"] += 1
        if run is not None and run_dir is not None:
            used.add(run_dir.resolve())
            found = examples_from_run(run, fb)
            if found:
                counts["with_run"] += 1
                examples += found
                continue
        counts["issue_only"] += 1
        examples += examples_from_feedback_only(fb)
    if include_unreviewed:
        for run_dir in _runs(runs_dir):
            if run_dir.resolve() in used or (own_runs is not None and run_dir.resolve() not in own_runs):
                continue
            try:
                found = examples_from_run(read_run(run_dir), None, include_unreviewed=True)
            except ValueError:
                counts["unreadable_runs"] += 1
                continue
            counts["unreviewed_runs"] += bool(found)
            examples += found
    return examples, counts


def unconsumed_count(store: Ledger) -> int:
    from sqlalchemy import func, select

    with store.reading() as s:
        return int(s.scalar(select(func.count(Feedback.id)).where(Feedback.consumed.is_(False))) or 0)


def unconsumed_by_scope(store: Ledger, mode: ScopeMode) -> dict[str, list[int]]:
    """Unconsumed feedback ids grouped by scope; rows that no installation owns are left out."""
    from repomind.store.feedback import unconsumed

    rows = unconsumed(store)
    owners = feedback_installations(store, rows)
    groups: dict[str, list[int]] = {}
    for row in rows:
        key = scope_key(mode, owners.get(row.id))
        if key is not None:
            groups.setdefault(key, []).append(row.id)
    return groups


def mark_consumed(store: Ledger, up_to_id: int | None = None, *, ids: Iterable[int] | None = None) -> int:
    """Mark feedback as used by a dataset (all of it, rows up to ``up_to_id``, or just ``ids``); the
    number marked."""
    with store.session() as s:
        query = update(Feedback).where(Feedback.consumed.is_(False))
        if up_to_id is not None:
            query = query.where(Feedback.id <= up_to_id)
        if ids is not None:
            query = query.where(Feedback.id.in_(list(ids)))
        return int(s.execute(query.values(consumed=True)).rowcount)  # type: ignore[attr-defined]
