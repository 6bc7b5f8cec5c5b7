"""The training queue's source of truth: jobs keyed by dataset hash, leases, retries, the adapter registry.

A queue message only says "look at training job N"; whether there is anything to do is decided
here, so a duplicated message is harmless. A job is idempotent by its dataset hash: enqueueing the same
dataset again returns the existing job, whatever its state. Claims, leases and retries are the store's
leased-job engine (:mod:`repomind.store.jobs`): a failure records its reason and the job goes back to the
queue after a backoff until it has been tried ``max_attempts`` times, then stays failed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from repomind.store.jobs import JobTable, LeasedJobs, Renewal
from repomind.store.ledger import Ledger
from repomind.store.training import Adapter, ScopeMode, TrainingJob, TrainingState, served_adapter

Clock = Callable[[], float]
#: Training jobs on the leased-job engine: bounded attempts, every failure kept, a backoff between tries.
TRAINING_JOBS = JobTable(
    TrainingJob,
    TrainingState.QUEUED,
    TrainingState.RUNNING,
    TrainingState.FAILED,
    attempts="attempts",
    max_attempts="max_attempts",
    failures="failures",
    retry_at="retry_at",
)


@dataclass(frozen=True)
class JobSpec:
    dataset_hash: str
    dataset_path: str
    base_model: str
    reason: str = "demand"
    max_attempts: int = 3
    #: Whose data the dataset holds (repomind.training.scope): its adapter serves only that scope.
    scope: str = "shared"


class TrainingLedger:
    """Training jobs and adapters in the shared store (the bot's :class:`Ledger` gives the sessions)."""

    def __init__(self, ledger: Ledger, *, clock: Clock = time.time) -> None:
        self.store = ledger
        self.leases = LeasedJobs(ledger, TRAINING_JOBS, clock=clock)

    # -- jobs -------------------------------------------------------------------------------------
    def enqueue(self, spec: JobSpec) -> tuple[TrainingJob, bool]:
        """The job for this dataset hash, or a new queued one; ``created`` says which."""

        def existing(s: Session) -> TrainingJob | None:
            return s.scalars(select(TrainingJob).where(TrainingJob.dataset_hash == spec.dataset_hash)).first()

        def new() -> TrainingJob:
            return TrainingJob(
                dataset_hash=spec.dataset_hash,
                dataset_path=spec.dataset_path,
                base_model=spec.base_model,
                scope=spec.scope,
                reason=spec.reason,
                max_attempts=spec.max_attempts,
                state=TrainingState.QUEUED,
                attempts=0,
                failures=[],
            )

        return self.leases.open(existing, new)

    def job(self, job_id: int) -> TrainingJob:
        with self.store.reading() as s:
            job = s.get(TrainingJob, job_id)
            if job is None:
                raise KeyError(f"no training job {job_id}")
            return job

    def jobs(self) -> list[TrainingJob]:
        with self.store.reading() as s:
            return list(s.scalars(select(TrainingJob).order_by(TrainingJob.id)))

    def claim(self, job_id: int, owner: str, lease_s: float) -> TrainingJob | None:
        """Take a queued job (past its backoff) or a running one whose lease expired for ``owner``, while
        it has attempts left; None otherwise."""
        return self.leases.claim(job_id, owner, lease_s)

    def renew(self, job_id: int, owner: str, lease_s: float) -> bool:
        return self.leases.renew(job_id, owner, lease_s) is not Renewal.LOST

    def complete(self, job_id: int, *, metrics: dict[str, Any], adapter_id: int | None) -> None:
        self.leases.finish(
            job_id, TrainingState.SUCCEEDED, metrics=metrics, adapter_id=adapter_id, error=None
        )

    def fail(self, job_id: int, error: str, *, backoff_s: float = 0.0) -> TrainingJob:
        """Record the failure; the job is queued again (``backoff_s``, doubling with each attempt, from now)
        while it has attempts left, else it stays failed."""
        return self.leases.fail(job_id, error, backoff_s=backoff_s)

    def retry(self, job_id: int, *, extra_attempts: int = 1) -> TrainingJob:
        """A person's ``train run --retry``: give a failed job more attempts and queue it again."""
        return self.leases.retry(job_id, extra_attempts=extra_attempts)

    def runnable(self) -> list[int]:
        """Queued jobs due now, and running ones whose worker stopped renewing its lease, oldest first."""
        return self.leases.recoverable()

    # -- adapters ---------------------------------------------------------------------------------
    def register_adapter(
        self,
        *,
        job_id: int | None,
        dataset_hash: str,
        base_model: str,
        path: str,
        metrics: dict[str, Any],
        scope: str = "shared",
    ) -> Adapter:
        with self.store.session() as s:
            version = (s.scalar(select(func.max(Adapter.version))) or 0) + 1
            adapter = Adapter(
                version=version,
                job_id=job_id,
                dataset_hash=dataset_hash,
                base_model=base_model,
                scope=scope,
                path=path,
                metrics=metrics,
                promoted=False,
            )
            s.add(adapter)
            s.flush()
            return adapter

    def adapters(self) -> list[Adapter]:
        with self.store.reading() as s:
            return list(s.scalars(select(Adapter).order_by(Adapter.version)))

    def promoted(self, base_model: str | None = None, *, scope: str = "shared") -> Adapter | None:
        """The adapter being served to ``scope`` (for ``base_model`` when given); adapters of another
        scope are never returned."""
        with self.store.reading() as s:
            query = select(Adapter).where(Adapter.promoted.is_(True), Adapter.scope == scope)
            if base_model is not None:
                query = query.where(Adapter.base_model == base_model)
            return s.scalars(query.order_by(Adapter.version.desc())).first()

    def served(self, mode: ScopeMode, installation_id: int, base_model: str | None = None) -> Adapter | None:
        """The adapter that may serve this installation's runs: its own (or, when the operator shares,
        the shared one); None when it has none."""
        return served_adapter(self.store, mode, installation_id, base_model)

    def decide(self, adapter_id: int, *, promote: bool, decision: str) -> None:
        """Record the promotion decision; promoting one adapter retires the others of its base model
        in its scope (another installation's served adapter is not touched)."""
        with self.store.session() as s:
            adapter = s.get(Adapter, adapter_id)
            if adapter is None:
                raise KeyError(f"no adapter {adapter_id}")
            adapter.decision = decision
            if promote:
                s.execute(
                    update(Adapter)
                    .where(
                        Adapter.base_model == adapter.base_model,
                        Adapter.scope == adapter.scope,
                        Adapter.id != adapter.id,
                    )
                    .values(promoted=False)
                )
                adapter.promoted = True
                adapter.promoted_at = datetime.now(UTC)
