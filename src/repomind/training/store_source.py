"""Examples from the store: each feedback row joined with its run, and unreviewed runs.

A run's files are read from the shared artifacts store (:mod:`repomind.store.artifacts`) where the worker
that ran the job uploaded them, whichever host that was; a run directory on this host (``runs_dir``, or
the job's ``run_dir``) is read where the store has none (runs of ``repomind solve``, runs from before the
store kept them)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from sqlalchemy import update

from repomind.store.artifacts import Artifacts, valid_run_id
from repomind.store.feedback import all_feedback
from repomind.store.ledger import Ledger
from repomind.store.models import Feedback
from repomind.training.examples import Example
from repomind.training.from_runs import (
    DirFiles,
    FeedbackView,
    RunFiles,
    RunView,
    StoredFiles,
    examples_from_feedback_only,
    examples_from_run,
    read_run,
)
from repomind.training.scope import ScopeMode, feedback_installations, run_ids_of, run_keys_of, scope_key

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


def locate_run(
    store: Ledger, runs_dir: Path, feedback: FeedbackView, artifacts: Artifacts | None = None
) -> RunFiles | None:
    """The files of the run of the job that made the PR: the job's result names it (``run_id``, or
    ``run_dir``), else ``job-<id>`` by convention; stored ones first; None when there is none."""
    if feedback.job_id is None:
        return None
    try:
        result = store.job(feedback.job_id).result or {}
    except KeyError:
        result = {}
    run_ids = [str(result.get("run_id") or ""), Path(str(result.get("run_dir") or "")).name]
    run_ids.append(f"job-{feedback.job_id}")
    if artifacts is not None:
        for run_id in run_ids:
            if valid_run_id(run_id) and artifacts.get(run_id, "trajectory.jsonl") is not None:
                return StoredFiles(artifacts, run_id)
    candidates: list[Path] = []
    if result.get("run_dir"):
        candidates.append(Path(str(result["run_dir"])))
    if result.get("run_id"):
        candidates.append(runs_dir / str(result["run_id"]))
    candidates.append(runs_dir / f"job-{feedback.job_id}")
    found = next((c for c in candidates if (c / "trajectory.jsonl").is_file()), None)
    return DirFiles(found) if found is not None else None


def _runs(store: Ledger, runs_dir: Path, artifacts: Artifacts | None) -> Iterator[RunFiles]:
    """Every run: the jobs' stored runs, then the run directories on this host."""
    if artifacts is not None:
        for run_id in run_ids_of(store):
            if artifacts.get(run_id, "trajectory.jsonl") is not None:
                yield StoredFiles(artifacts, run_id)
    if runs_dir.is_dir():
        found = sorted(p for p in runs_dir.iterdir() if (p / "trajectory.jsonl").is_file())
        yield from (DirFiles(p) for p in found)


def store_examples(
    store: Ledger,
    runs_dir: Path,
    *,
    include_unreviewed: bool = False,
    progress: Progress | None = None,
    installation_id: int | None = None,
    artifacts: Artifacts | None = None,
) -> tuple[list[Example], dict[str, int]]:
    """Every example the store's feedback (and, if asked, unreviewed runs) gives; and counts of what was
    read (``feedback``, ``with_run``, ``issue_only``, ``unreviewed_runs``, ``unreadable_runs``).

    With ``installation_id``, only that installation's feedback and runs: another installation's rows,
    rows that cannot be attributed, and run directories of no job of its own are left out."""
    feedback = all_feedback(store)
    own_runs: set[str] | None = None
    if installation_id is not None:
        owners = feedback_installations(store, feedback)
        feedback = [r for r in feedback if owners.get(r.id) == installation_id]
        own_runs = run_keys_of(store, runs_dir, installation_id)
    rows = [view(r) for r in feedback]
    examples: list[Example] = []
    counts = {
        "feedback": len(rows),
        "with_run": 0,
        "issue_only": 0,
        "unreviewed_runs": 0,
        "unreadable_runs": 0,
    }
    used: set[str] = set()
    for n, fb in enumerate(rows, start=1):
        if progress:
            progress(n, len(rows), fb.issue_key)
        files = locate_run(store, runs_dir, fb, artifacts)
        if files is not None and own_runs is not None and files.key not in own_runs:
            files = None
        run: RunView | None = None
        if files is not None:
            try:
                run = read_run(files)
            except ValueError:
                counts["unreadable_runs"] += 1
        if run is not None and files is not None:
            used.add(files.key)
            found = examples_from_run(run, fb)
            if found:
                counts["with_run"] += 1
                examples += found
                continue
        counts["issue_only"] += 1
        examples += examples_from_feedback_only(fb)
    if include_unreviewed:
        for files in _runs(store, runs_dir, artifacts):
            if files.key in used or (own_runs is not None and files.key not in own_runs):
                continue
            used.add(files.key)
            try:
                found = examples_from_run(read_run(files), None, include_unreviewed=True)
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
