"""Forgetting: what an installation (or a repository removed from it) leaves behind, and expired runs.

On ``installation.deleted`` the worker deletes the installation's jobs (with their live logs, pins and
artefacts), webhook deliveries, feedback, training jobs, datasets and adapters, its localisation indexes,
calibrations, run directories and sandbox environments. On ``installation_repositories.removed`` it does
the same for the removed repositories; the installation's datasets and adapters, which may hold their
examples, are deleted too and its remaining feedback is offered to training again.
``REPOMIND_RETENTION_DAYS`` bounds how long a finished run (ledger rows, live log, artifacts) is kept.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from repomind.store.artifacts import Artifacts, LedgerArtifacts, valid_run_id
from repomind.store.ledger import Ledger
from repomind.store.models import Artifact, Delivery, Feedback, Job, JobEvent, JobState, Pin
from repomind.store.training import Adapter, TrainingJob

#: Removes a repository's cached sandbox environments; the number removed.
RemoveEnvironments = Callable[[str], int]
FINISHED = (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


def repo_slug(repo: str) -> str:
    """``owner/name`` as a file name (``owner__name``), as calibrations and indexes are stored."""
    return repo.replace("/", "__")


@dataclass
class Purger:
    ledger: Ledger
    data_dir: Path
    runs_dir: Path
    training_root: Path
    retention_days: float | None = None
    remove_environments: RemoveEnvironments | None = None
    log: Any = None
    #: The run-artifacts store when it is not the ledger's own table (a bucket): its files go too.
    artifacts: Artifacts | None = None
    _counts: dict[str, int] = field(default_factory=dict)

    # -- installation and repositories -------------------------------------------------------------
    def installation(self, installation_id: int) -> dict[str, int]:
        """Delete everything the installation left; counts of what was deleted."""
        self._counts = {}
        with self.ledger.session() as s:
            repos = set(s.scalars(select(Job.repo).where(Job.installation_id == installation_id)))
            repos |= set(s.scalars(select(Feedback.repo).where(Feedback.installation_id == installation_id)))
            self._jobs(s, select(Job).where(Job.installation_id == installation_id))
            self._feedback(s, Feedback.installation_id == installation_id)
            self._deliveries(s, lambda p: _installation_of(p) == installation_id)
            self._training(s, installation_id)
        repos |= self._indexed_repos(installation_id)
        for repo in repos:
            self._repo_files(repo)
        self._remove(self.data_dir / "index" / f"installation-{installation_id}", "index_dirs")
        return dict(self._counts)

    def repositories(self, installation_id: int, repos: Collection[str]) -> dict[str, int]:
        """Delete what these repositories of the installation left; counts of what was deleted."""
        self._counts = {}
        if not repos:
            return {}
        with self.ledger.session() as s:
            self._jobs(s, select(Job).where(Job.installation_id == installation_id, Job.repo.in_(repos)))
            self._feedback(s, Feedback.repo.in_(repos))
            self._deliveries(
                s,
                lambda p: (
                    _installation_of(p) == installation_id
                    and ((p.get("repository") or {}).get("full_name") in repos)
                ),
            )
            # Its datasets and adapters may hold the repositories' examples: delete them and offer the
            # installation's remaining feedback to training again.
            if self._training(s, installation_id):
                s.execute(
                    update(Feedback).where(Feedback.installation_id == installation_id).values(consumed=False)
                )
        for repo in repos:
            self._repo_files(repo)
            self._remove(
                self.data_dir / "index" / f"installation-{installation_id}" / repo_slug(repo), "index_dirs"
            )
        return dict(self._counts)

    # -- retention ---------------------------------------------------------------------------------
    def expired(self, now: datetime | None = None) -> dict[str, int]:
        """Delete finished runs (and webhook deliveries) older than ``retention_days``; counts."""
        self._counts = {}
        if self.retention_days is None:
            return {}
        cutoff = (now or datetime.now(UTC)) - timedelta(days=self.retention_days)
        with self.ledger.session() as s:
            self._jobs(s, select(Job).where(Job.state.in_(FINISHED), Job.updated_at < cutoff))
            gone = s.execute(
                delete(Delivery).where(Delivery.dispatched_at.is_not(None), Delivery.received_at < cutoff)
            )
            self._add("deliveries", int(gone.rowcount))  # type: ignore[attr-defined]
        return dict(self._counts)

    # -- parts -------------------------------------------------------------------------------------
    def _add(self, what: str, n: int) -> None:
        if n:
            self._counts[what] = self._counts.get(what, 0) + n

    def _jobs(self, s: Session, query: Any) -> None:
        jobs = list(s.scalars(query))
        ids = [j.id for j in jobs]
        if not ids:
            return
        run_ids: set[str] = set()
        for job in jobs:
            for run_dir in self._run_dirs(job):
                self._remove(run_dir, "run_dirs")
                run_ids.add(run_dir.name)
        # the runs' files in the ledger's artifacts table, and in the bucket when they are kept in one
        stored = s.execute(delete(Artifact).where(Artifact.run_id.in_(sorted(run_ids))))
        self._add("artifacts", int(stored.rowcount))  # type: ignore[attr-defined]
        if self.artifacts is not None and not isinstance(self.artifacts, LedgerArtifacts):
            for run_id in sorted(run_ids):
                if valid_run_id(run_id):
                    self._add("artifacts", self.artifacts.delete_run(run_id))
        keys = {(j.repo, j.issue_number) for j in jobs}
        s.execute(delete(JobEvent).where(JobEvent.job_id.in_(ids)))
        s.execute(delete(Job).where(Job.id.in_(ids)))
        for repo, issue in keys:  # pins of issues that have no job left
            if s.scalars(select(Job.id).where(Job.repo == repo, Job.issue_number == issue)).first() is None:
                s.execute(delete(Pin).where(Pin.repo == repo, Pin.issue_number == issue))
        self._add("jobs", len(ids))

    def _run_dirs(self, job: Job) -> Iterable[Path]:
        result = job.result or {}
        if result.get("run_dir"):
            yield Path(str(result["run_dir"]))
        if result.get("run_id"):
            yield self.runs_dir / str(result["run_id"])
        yield self.runs_dir / f"job-{job.id}"

    def _feedback(self, s: Session, where: Any) -> None:
        gone = s.execute(delete(Feedback).where(where))
        self._add("feedback", int(gone.rowcount))  # type: ignore[attr-defined]

    def _deliveries(self, s: Session, matches: Callable[[dict[str, Any]], bool]) -> None:
        ids = [
            d.id for d in s.scalars(select(Delivery)) if isinstance(d.payload, dict) and matches(d.payload)
        ]
        if ids:
            s.execute(delete(Delivery).where(Delivery.id.in_(ids)))
        self._add("deliveries", len(ids))

    def _training(self, s: Session, installation_id: int) -> bool:
        scope = f"installation:{installation_id}"
        jobs = list(s.scalars(select(TrainingJob).where(TrainingJob.scope == scope)))
        adapters = list(
            s.scalars(
                select(Adapter).where(
                    or_(Adapter.scope == scope, Adapter.job_id.in_([j.id for j in jobs] or [-1]))
                )
            )
        )
        for job in jobs:
            self._remove(Path(job.dataset_path), "datasets")
            self._remove(self.training_root / "jobs" / str(job.id), "training_dirs")
        for adapter in adapters:
            self._remove(Path(adapter.path), "adapters")
        s.execute(delete(Adapter).where(Adapter.id.in_([a.id for a in adapters] or [-1])))
        s.execute(delete(TrainingJob).where(TrainingJob.id.in_([j.id for j in jobs] or [-1])))
        self._add("training_jobs", len(jobs))
        return bool(jobs or adapters)

    def _indexed_repos(self, installation_id: int) -> set[str]:
        root = self.data_dir / "index" / f"installation-{installation_id}"
        if not root.is_dir():
            return set()
        return {p.name.replace("__", "/", 1) for p in root.iterdir() if p.is_dir()}

    def _repo_files(self, repo: str) -> None:
        self._remove(self.data_dir / "calibrations" / f"{repo_slug(repo)}.json", "calibrations")
        if self.remove_environments is not None:
            self._add("environments", self.remove_environments(repo))

    def _remove(self, path: Path, what: str) -> None:
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)
        else:
            return
        self._add(what, 1)


def _installation_of(payload: dict[str, Any]) -> int | None:
    ident = (payload.get("installation") or {}).get("id")
    return int(ident) if isinstance(ident, int) else None
