"""Whose data a dataset, a training job and an adapter hold: tenants stay apart unless the operator shares.

``REPOMIND_TRAINING_SCOPE=installation`` (the default) keeps each GitHub App installation's feedback and
runs in its own datasets, and serves an installation's runs only with an adapter trained on its own data:
code from one installation's private repositories never trains a model served to another. ``shared``
(an operator's explicit choice, for one organisation's installations) pools everything into one scope.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import select

from repomind.store.ledger import Ledger
from repomind.store.models import Feedback, Job
from repomind.store.training import INSTALLATION, SHARED, ScopeMode, scope_key

__all__ = ["INSTALLATION", "SHARED", "ScopeMode", "scope_key"]


def installation_of(scope: str) -> int | None:
    """The installation a scope key belongs to (None for ``shared``)."""
    kind, _, ident = scope.partition(":")
    return int(ident) if kind == INSTALLATION and ident.isdigit() else None


def slug(scope: str) -> str:
    """A name-safe form of the scope (``installation-12``), for served model names and directories."""
    return scope.replace(":", "-")


def feedback_installations(store: Ledger, rows: Iterable[Feedback]) -> dict[int, int | None]:
    """Feedback id → installation id, from the row or, for rows recorded before it was kept, its job."""
    rows = list(rows)
    missing = {r.job_id for r in rows if r.installation_id is None and r.job_id is not None}
    by_job: dict[int, int] = {}
    if missing:
        with store.reading() as s:
            query = select(Job.id, Job.installation_id).where(Job.id.in_(missing))
            by_job = {job_id: inst for job_id, inst in s.execute(query)}
    return {
        r.id: r.installation_id if r.installation_id is not None else by_job.get(r.job_id or -1) for r in rows
    }


def run_dirs_of(store: Ledger, runs_dir: Path, installation_id: int) -> set[Path]:
    """The run directories of one installation's jobs (as :func:`locate_run` finds them), resolved."""
    with store.reading() as s:
        jobs = list(s.execute(select(Job.id, Job.result).where(Job.installation_id == installation_id)))
    found: set[Path] = set()
    for job_id, result in jobs:
        result = result or {}
        if result.get("run_dir"):
            found.add(Path(str(result["run_dir"])).resolve())
        if result.get("run_id"):
            found.add((runs_dir / str(result["run_id"])).resolve())
        found.add((runs_dir / f"job-{job_id}").resolve())
    return found


def run_keys_of(store: Ledger, runs_dir: Path, installation_id: int) -> set[str]:
    """The runs of one installation's jobs as :class:`repomind.training.from_runs.RunFiles` keys: their
    directories on this host (``dir:…``) and their stored runs (``run:…``)."""
    keys = {f"dir:{p}" for p in run_dirs_of(store, runs_dir, installation_id)}
    return keys | {f"run:{r}" for r in run_ids_of(store, installation_id)}


def run_ids_of(store: Ledger, installation_id: int | None = None) -> list[str]:
    """The run ids of the jobs (of one installation), as the jobs' results name them, oldest first."""
    query = select(Job.id, Job.result).order_by(Job.id)
    if installation_id is not None:
        query = query.where(Job.installation_id == installation_id)
    with store.reading() as s:
        jobs = list(s.execute(query))
    ids: list[str] = []
    for job_id, result in jobs:
        result = result or {}
        for run_id in (str(result.get("run_id") or ""), Path(str(result.get("run_dir") or "")).name):
            if run_id and run_id not in ids:
                ids.append(run_id)
        ids.append(f"job-{job_id}")
    return ids
